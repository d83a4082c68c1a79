// The engine's side of the controller: the tick (measure → forecast → plan → execute or
// log), turning planned actions into reshard plans (cuts only where data is, never into a
// range being appended to), and the files it writes (PLAN.txt, decisions.jsonl, LOADHISTORY).
import AugurForecast
import AugurPlanner
import AugurStats
import AugurSys
import Dispatch
import FoundationEssentials
import Synchronization

extension Engine {
    /// One controller tick (run by the timer, or by tests and simulations with a `ManualClock`):
    /// measure → (at a step boundary) forecast → plan → execute (or log, in shadow mode).
    /// Returns the decisions. Every tick measures, whatever the policy, so overload is counted
    /// for `.static` too.
    @discardableResult
    public func controllerTick() -> [PartitioningDecision] {
        guard let controller, let telemetry, !isClosed else { return [] }
        return controller.lock.withLock {
            let tables = allTables().sorted(by: { $0.name < $1.name })
            let now = telemetry.collect(partitions: tables.flatMap { $0.map.partitions })
            controller.reap(now: now)
            var decisions: [PartitioningDecision] = []
            // The planner predicts bytes and time with the executor's own model, as refined so far.
            var capacity = controller.options.capacity
            capacity.reshardCost = reshardCostModel
            for table in tables {
                let snapshot = controller.snapshot(table: table, telemetry: telemetry, now: now)
                guard controller.plans else { continue }
                let plan = controller.planner.plan(snapshot, capacity: capacity, now: now)
                controller.setLastPlan(plan, for: table.name)
                for planned in plan.actions {
                    var decision = PartitioningDecision(
                        time: now, table: table.name, policy: controller.options.policy.description,
                        action: PlanRendering.line(planned), kind: planned.action.kind.rawValue,
                        partitions: planned.action.partitions.map(\.rawValue), reason: planned.reason.message,
                        reasonCode: planned.reason.code.rawValue, score: planned.score,
                        predictedUtilization: planned.effect.resulting.map(\.predictedUtilization),
                        bytesToMove: planned.effect.bytesToMove, executed: false, error: nil)
                    if !controller.options.shadow {
                        let step = reshardPlan(for: planned.action, reason: planned.reason.code, in: table)
                        switch step {
                        case .refused(let why):
                            decision.error = why
                            // The planner proposes the same refused action every tick until the
                            // load changes: log it once a minute, not once a second. Keyed by kind
                            // and partitions: the rendered action carries predicted utilizations
                            // (and cut keys from a moving histogram) that differ every tick.
                            let key = "\(table.name) \(decision.kind) \(decision.partitions)"
                            if let last = controller.refusals[key], now &- last < 60_000_000_000 { continue }
                            controller.refusals[key] = now
                        case .nothing:
                            break
                        case .run(let plan), .adjusted(let plan, _):
                            if case .adjusted(_, let note) = step { decision.reason += "; " + note }
                            do throws(AugurError) {
                                let job = try reshards.requestResharding(table, plan)
                                controller.track(job, planned.action, table: table.name, now: now)
                                decision.executed = true
                            } catch {
                                decision.error = error.description
                            }
                        }
                    }
                    decisions.append(decision)
                }
            }
            decisions += controller.closeStepIfDue(tables: tables, now: now)
            if controller.historySaveDue(now: now, force: false) { saveLoadHistory(controller, tables: tables) }
            if controller.plans { writePlanFile(now: now) }
            if controller.options.logDecisions && !decisions.isEmpty { appendDecisions(decisions) }
            controller.publish(tables: tables.map(\.name))
            return decisions
        }
    }

    /// What the executor does for a planner action.
    enum ControllerStep {
        case run(ReshardPlan)
        /// Nothing to do here (`activate`: every partition accepts writes as soon as it exists).
        case nothing
        /// The action cannot run as planned (the reason goes to the decision log).
        case refused(String)
        /// Run, with a note for the decision log on how the plan was adjusted.
        case adjusted(ReshardPlan, String)
    }

    /// Writes LOADHISTORY (caller holds controller.lock). Advisory: a failed write keeps the
    /// previous file and is not an engine error.
    func saveLoadHistory(_ controller: PartitionController, tables: [Table]) {
        guard !options.readOnly else { return }
        let workloads = Dictionary(tables.map { ($0.name, strategyWorkload($0).saved) }, uniquingKeysWith: { a, _ in a })
        let file = LoadHistoryFile(sampleNanos: controller.tickNanos, stepNanos: controller.stepNanos,
                                   histories: controller.historiesToSave(tables: tables), workloads: workloads)
        try? fileSystem.replaceFile(at: joinPath(path, LoadHistoryFile.name), with: file.encoded(),
                                    temporary: joinPath(path, LoadHistoryFile.name + ".tmp"))
    }

    /// Reads LOADHISTORY at open (nil when there is none).
    func readLoadHistory() -> Result<LoadHistoryFile, LoadHistoryError>? {
        let p = joinPath(path, LoadHistoryFile.name)
        do throws(FileSystemError) {
            let size = try fileSystem.fileSize(p)
            guard size <= 256 << 20 else { return .failure(.unusable("\(size) bytes, more than 256 MiB")) }
            return LoadHistoryFile.decode(try fileSystem.readFile(p))
        } catch {
            if error.errno == .noSuchFileOrDirectory { return nil }
            return .failure(.unusable("cannot read: \(error)"))
        }
    }

    /// Split keys moved to where the data is: each cut becomes the first live key at or after
    /// it, and a cut that would leave a side without a record is dropped (a split never makes
    /// an empty partition; pre-creation is the one labelled exception).
    func cutsWithData(_ p: Partition, _ cuts: [[UInt8]]) -> [[UInt8]] {
        var cursor = MergedCursor(view: p.view)
        func firstLive(atLeast key: [UInt8]?) -> [UInt8]? {
            cursor.position(start: key ?? (p.lowerBound.isEmpty ? nil : p.lowerBound), end: nil)
            var skipped = 0
            while cursor.isValid, cursor.kind == .delete, skipped < 100_000 { cursor.advance(); skipped += 1 }
            guard cursor.isValid, cursor.kind != .delete else { return nil }
            let k = Array(cursor.key)
            if let hi = p.upperBound, compareKeys(k, hi) >= 0 { return nil }
            return k
        }
        guard var previous = firstLive(atLeast: nil) else { return [] }
        var out: [[UInt8]] = []
        for cut in cuts.sorted(by: { compareKeys($0, $1) < 0 }) {
            guard let k = firstLive(atLeast: cut), compareKeys(k, previous) > 0 else { continue }
            out.append(k)
            previous = k
        }
        return out
    }

    /// The middle key of the partition's data: halving its runs' bytes (`DataCuts.swift`), or,
    /// while the data is all in memtables, by walking them (bounded).
    func dataMedianKey(_ p: Partition) -> [UInt8]? {
        let view = p.view
        if let median = view.dataMedianKey(lower: p.lowerBound, upper: p.upperBound) { return median }
        let limit = 1 << 20
        var cursor = MergedCursor(view: view)
        cursor.position(start: p.lowerBound.isEmpty ? nil : p.lowerBound, end: nil)
        var count = 0
        while cursor.isValid, count < limit { count += 1; cursor.advance() }
        guard count >= 2 else { return nil }
        cursor.position(start: p.lowerBound.isEmpty ? nil : p.lowerBound, end: nil)
        for _ in 0..<(count / 2) { cursor.advance() }
        return cursor.isValid ? Array(cursor.key) : nil
    }

    /// Why `p`'s recent writes are not appends above its data (nil when they are): the active
    /// memtable — the writes since the last flush — must start above the middle of the stored
    /// runs. A histogram that cannot resolve the keys (every key in one bucket) looks like an
    /// append workload to the planner; the data says otherwise.
    func notAppending(_ p: Partition) -> String? {
        let view = p.view
        guard let median = view.dataMedianKey(lower: p.lowerBound, upper: p.upperBound) else {
            return "no stored run to compare the recent writes with"
        }
        var c = Memtable.Cursor(view.memtable)
        c.seekToFirst()
        guard c.isValid else { return "no recent writes" }
        let first = Array(c.current.key)
        if compareKeys(first, median) <= 0 {
            return "recent writes start at \(KeyFormat.hex(first)), below the data median \(KeyFormat.hex(median))"
        }
        return nil
    }

    /// The engine's reshard plan for a planner action.
    func reshardPlan(for action: ReshardAction, reason: ReasonCode? = nil, in table: Table) -> ControllerStep {
        let byID = Dictionary(uniqueKeysWithValues: table.map.partitions.map { ($0.id, $0) })
        switch action {
        case .split(let id, let keys):
            guard let p = byID[id.rawValue] else { return .refused("\(id) is gone") }
            // A size split halves the data, and only the storage layer knows where that is: the
            // planner's key comes from the histogram's buckets, which interpolate by key position
            // (data near one end of a range would split 90/10).
            if reason == .oversize, keys.count == 1, let median = dataMedianKey(p),
               let cut = cutsWithData(p, [median]).first {
                return cut == keys[0] ? .run(.split(at: cut)) : .adjusted(.split(at: cut), "split at the data median")
            }
            let cuts = cutsWithData(p, keys)
            if cuts.isEmpty {
                // The histogram could not resolve where the keys are (all in one bucket): split
                // at the data median instead, whose children get histograms focused on their keys.
                if let median = dataMedianKey(p), let cut = cutsWithData(p, [median]).first {
                    return .adjusted(.split(at: cut), "no planned cut has records on both sides: split at the data median")
                }
                return .refused("refused: no split key of \(id) has records on both sides")
            }
            return .run(cuts.count == 1 ? .split(at: cuts[0]) : .splitMany(at: cuts))
        case .precreate(let id, let keys):
            guard let p = byID[id.rawValue] else { return .refused("\(id) is gone") }
            if let why = notAppending(p) { return .refused("refused pre-creation: " + why) }
            return .run(keys.count == 1 ? .split(at: keys[0]) : .splitMany(at: keys))
        case .merge(_, let right):
            return byID[right.rawValue].map { .run(.merge(boundary: $0.lowerBound)) } ?? .refused("\(right) is gone")
        case .moveBoundary(_, let right, let to):
            return byID[right.rawValue].map { .run(.moveBoundary(from: $0.lowerBound, to: to)) } ?? .refused("\(right) is gone")
        case .activate:
            return .nothing
        }
    }

    /// The last plan the controller made for `table`, rendered (reasons, scores, findings).
    public func currentPlan(table name: String) throws(AugurError) -> [String] {
        _ = try table(named: name)
        guard let controller else { return ["partitioning controller is off (telemetry disabled)"] }
        return controller.lock.withLock {
            guard let plan = controller.lastPlans[name] else { return ["no plan yet (the controller has not ticked)"] }
            let actions = plan.actions.map { PlanRendering.line($0) + " — " + $0.reason.message }
            return (actions.isEmpty ? ["no action: every partition fits its capacity"] : actions)
                + plan.findings.map { PlanRendering.line($0) + " — " + $0.message }
                + plan.scores.map { PlanRendering.line($0) }
        }
    }

    /// `<dir>/PLAN.txt`: the latest plan of every table, for `augur plan` (caller holds controller.lock).
    private func writePlanFile(now: UInt64) {
        guard let controller else { return }
        var text = "plan at engine time \(now) ns, policy \(controller.options.policy)\(controller.options.shadow ? " (shadow: nothing executed)" : "")\n"
        for (name, plan) in controller.lastPlans.sorted(by: { $0.key < $1.key }) {
            text += "\ntable \(name)\n"
            let actions = plan.actions.map { "  " + PlanRendering.line($0) + " — " + $0.reason.message }
            text += (actions.isEmpty ? ["  no action: every partition fits its capacity"] : actions).joined(separator: "\n") + "\n"
            for f in plan.findings { text += "  " + PlanRendering.line(f) + " — " + f.message + "\n" }
            for s in plan.scores { text += "  " + PlanRendering.line(s) + "\n" }
        }
        // Advisory, like TELEMETRY.json: a failed write keeps the previous plan.
        try? fileSystem.replaceFile(at: joinPath(path, "PLAN.txt"), with: Array(text.utf8), temporary: joinPath(path, "PLAN.txt.tmp"))
    }

    func appendDecisions(_ decisions: [PartitioningDecision]) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var bytes: [UInt8] = []
        for d in decisions {
            if let data = try? encoder.encode(d) { bytes += Array(data) + [UInt8(ascii: "\n")] }
        }
        let path = joinPath(self.path, "decisions.jsonl")
        do throws(FileSystemError) {
            let h = try fileSystem.open(path, mode: .create)
            defer { h.close() }
            try h.write(at: try h.size(), bytes)
        } catch {
            recordBackgroundError(AugurError(error))
        }
    }
}

extension PartitionController {
    func setLastPlan(_ plan: Plan, for table: String) { lastPlans[table] = plan }
}
