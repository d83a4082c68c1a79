// The partitioning controller: every tick of the engine clock it snapshots telemetry, feeds
// each partition's load into its forecaster, asks the planner for a plan and hands the
// actions to the reshard executor — or, in shadow mode, only logs them. Ingestion never waits
// for it: it reads relaxed counters and immutable snapshots, and reshards run on their own queue.
import AugurForecast
import AugurPlanner
import AugurStats
import AugurSys
import Dispatch
import FoundationEssentials
import Synchronization

/// How (and whether) the engine reshapes partitions on its own.
public struct PartitioningOptions: Sendable {
    /// `.static` never reshapes (default); `.reactive(ReactiveOptions())` is the CockroachDB
    /// way; `.predictive(PredictiveOptions())` acts on forecasts before overload.
    public var policy: PlannerPolicy = .static
    /// Per-partition capacity, watermarks, horizon, cooldown, concurrency (see `CapacityModel`).
    public var capacity = CapacityModel()
    /// Controller period on the engine clock. Default 1 s.
    public var tick: Duration = .seconds(1)
    /// Forecast step: load is averaged over this long before it is fed to the forecaster.
    /// Default 20 s (the horizon, 120 s by default, is then 6 steps).
    public var forecastStep: Duration = .seconds(20)
    /// Log every decision and execute nothing. Default false.
    public var shadow = false
    /// Append every decision as a JSON line to `<dir>/decisions.jsonl`. Default true.
    public var logDecisions = true
    /// Run ticks on a real-time timer. Set false with a `ManualClock` and call
    /// `Engine.controllerTick()` yourself.
    public var runsOnTimer = true

    public init() {}
}

/// One decision as written to decisions.jsonl.
public struct PartitioningDecision: Sendable, Codable, Equatable {
    /// Engine-clock nanoseconds.
    public var time: UInt64
    public var table: String
    public var policy: String
    public var action: String
    public var kind: String
    public var partitions: [UInt64]
    public var reason: String
    public var reasonCode: String
    public var score: Double
    /// Predicted utilization of each resulting partition, and bytes the action moves.
    public var predictedUtilization: [Double]
    public var bytesToMove: UInt64
    /// False in shadow mode (or when the executor refused the plan: see `error`).
    public var executed: Bool
    public var error: String?
}

/// Controller state. Thread-safety: `tick` runs on one queue at a time (the controller queue,
/// or the caller of `Engine.controllerTick()`); all state is behind `lock`.
final class PartitionController: @unchecked Sendable {
    struct Series {
        var lastTotals = HistogramTotals()
        var lastTime: UInt64
        var createdAt: UInt64
        var recent: [LoadSample] = []
        var forecaster: ForecastEnsemble?
        var stepSum = 0.0
        var stepCount = 0
        var lastForecast: PartitionForecast?
    }
    struct Running {
        let job: ReshardJob
        let action: ReshardAction
        let table: String
        let startedAt: UInt64
    }

    private(set) var options: PartitioningOptions
    private(set) var planner: Planner
    let lock = PThreadMutex()
    /// Partition-seconds above capacity, summed over ticks (caller holds lock).
    private(set) var overloadSeconds = 0.0
    /// Mean absolute percentage error of one-step forecasts against what followed.
    private var forecastErrorSum = 0.0
    private var forecastErrorCount = 0
    /// Table-level one-step forecast (sum over partitions) and the actual that followed.
    private(set) var tableForecasts: [String: (point: Double, lower: Double, upper: Double)] = [:]
    var forecastError: Double? { forecastErrorCount > 0 ? forecastErrorSum / Double(forecastErrorCount) : nil }
    private var series: [UInt64: Series] = [:]
    private var running: [Running] = []
    private var history: [String: [CompletedReshard]] = [:]
    private(set) var lastPlans: [String: Plan] = [:]
    /// Samples kept per partition (30 minutes of 1 s ticks).
    let keptSamples = 1800

    init(options: PartitioningOptions) {
        self.options = options
        planner = Planner(policy: options.policy)
    }

    /// Switches policy (and capacity) at run time. Caller holds lock.
    func setPolicy(_ policy: PlannerPolicy, capacity: CapacityModel?) {
        options.policy = policy
        if let capacity { options.capacity = capacity }
        planner = Planner(policy: policy)
    }

    var isActive: Bool { options.policy != .static || options.shadow }

    var tickNanos: UInt64 { UInt64(nanoseconds(options.tick)) }
    var stepNanos: UInt64 { UInt64(nanoseconds(options.forecastStep)) }

    func makeForecaster() -> ForecastEnsemble? {
        guard case .predictive = options.policy else { return nil }
        var fo = ForecastOptions()
        fo.horizon = max(1, Int((options.capacity.horizonNanos + stepNanos - 1) / stepNanos))
        return try? ForecastEnsemble(options: fo)
    }

    /// Updates each partition's series from its histogram totals and returns the table snapshot.
    func snapshot(table: Table, telemetry: Telemetry, now: UInt64) -> TableSnapshot {
        var partitions: [PartitionSnapshot] = []
        for p in table.map.partitions {
            let totals = p.histogram.totals()
            var s = series[p.id] ?? Series(lastTotals: totals, lastTime: now, createdAt: now, forecaster: makeForecaster())
            if now > s.lastTime {
                let seconds = Double(now - s.lastTime) / 1e9
                let ops = Double(totals.operations &- s.lastTotals.operations) / seconds
                let writeBytes = Double(totals.writeBytes &- s.lastTotals.writeBytes) / seconds
                s.recent.append(LoadSample(opsPerSecond: max(0, ops), writeBytesPerSecond: max(0, writeBytes)))
                if s.recent.count > keptSamples { s.recent.removeFirst(s.recent.count - keptSamples) }
                s.stepSum += max(0, ops) * seconds
                s.stepCount += Int(now - s.lastTime)
                if UInt64(s.stepCount) >= stepNanos, let f = s.forecaster {
                    let actual = s.stepSum / (Double(s.stepCount) / 1e9)
                    if let previous = s.lastForecast?.ops.first, actual > 0 {
                        forecastErrorSum += abs(previous.point - actual) / actual
                        forecastErrorCount += 1
                    }
                    try? f.observe(actual)
                    s.stepSum = 0
                    s.stepCount = 0
                    if let forecast = try? f.forecast() {
                        s.lastForecast = PartitionForecast(issuedAt: now, stepNanos: stepNanos, ops: forecast)
                    }
                }
                s.lastTotals = totals
                s.lastTime = now
            }
            series[p.id] = s
            if let last = s.recent.last, options.capacity.utilization(last) > 1 {
                overloadSeconds += Double(tickNanos) / 1e9
            }
            let v = p.view
            let size = UInt64(v.runs.reduce(0) { $0 + $1.fileSize } + v.memtable.approximateBytes
                              + v.frozen.reduce(0) { $0 + $1.memtable.approximateBytes })
            var peaks: [WindowPeak] = []
            for window in [60, 300, 1800] {
                let n = Int(UInt64(window) * 1_000_000_000 / max(1, tickNanos))
                let tail = s.recent.suffix(n)
                if let peak = tail.max(by: { $0.opsPerSecond < $1.opsPerSecond }) {
                    peaks.append(WindowPeak(windowNanos: UInt64(window) * 1_000_000_000, peak: peak,
                                            coveredNanos: UInt64(tail.count) * tickNanos))
                }
            }
            var hot: HotKeyObservation? = nil
            if let report = telemetry.collector.heavyHitters(partition: p.id, now: now, top: 1),
               report.totalWeight >= telemetry.options.minimumOperationsForHotKeys, let h = report.hotKey {
                var prefix = (0..<8).map { UInt8(truncatingIfNeeded: h.keyPrefix >> (56 - 8 * UInt64($0))) }
                while prefix.last == 0 { prefix.removeLast() }
                hot = HotKeyObservation(key: prefix, loadFraction: h.loadFraction)
            }
            partitions.append(PartitionSnapshot(
                id: PartitionID(p.id), range: AugurPlanner.KeyRange(lower: p.lowerBound, upper: p.upperBound),
                sizeBytes: size, createdAt: s.createdAt, recent: Array(s.recent.suffix(300)), windowPeaks: peaks,
                histogram: p.histogram.snapshot(), forecast: s.lastForecast, hotKey: hot))
        }
        var point = 0.0, lower = 0.0, upper = 0.0, any = false
        for p in partitions {
            if let first = p.forecast?.ops.first {
                point += first.point
                upper += first.upper95 ?? first.point
                lower += max(0, 2 * first.point - (first.upper95 ?? first.point))
                any = true
            } else {
                point += p.current.opsPerSecond; lower += p.current.opsPerSecond; upper += p.current.opsPerSecond
            }
        }
        if any { tableForecasts[table.name] = (point, lower, upper) }
        return TableSnapshot(partitions: partitions, sampleIntervalNanos: tickNanos,
                             inFlight: running.filter { $0.table == table.name }.map {
                                 InFlightReshard(action: $0.action, startedAt: $0.startedAt)
                             },
                             history: history[table.name] ?? [])
    }

    /// Forgets the series of partitions that no longer exist.
    func prune(live: Set<UInt64>) {
        for id in Array(series.keys) where !live.contains(id) { series[id] = nil }
    }

    /// Moves finished jobs to the history the planner uses for cooldowns and reversals.
    func reap(now: UInt64) {
        running.removeAll { r in
            let s = r.job.current
            guard s.state == .committed || s.state == .aborted else { return false }
            if s.state == .committed {
                history[r.table, default: []].append(CompletedReshard(
                    kind: r.action.kind, issuedAt: r.startedAt, completedAt: s.finishedAt ?? now,
                    sources: s.sources.map(PartitionID.init), results: s.targets.map(PartitionID.init)))
                // Children inherit the parent's series start so cooldown and history stay meaningful.
                for t in s.targets where series[t] == nil {
                    series[t] = Series(lastTime: now, createdAt: s.finishedAt ?? now, forecaster: makeForecaster())
                }
            }
            return true
        }
        // Keep history for twice the longest interval the policies look back over.
        let keep = max(options.capacity.cooldownNanos, 3_600_000_000_000) * 2
        for (t, h) in history { history[t] = h.filter { now &- $0.completedAt <= keep } }
    }

    func track(_ job: ReshardJob, _ action: ReshardAction, table: String, now: UInt64) {
        running.append(Running(job: job, action: action, table: table, startedAt: now))
    }
}

extension Engine {
    /// One controller tick (run by the timer, or by tests and simulations with a `ManualClock`):
    /// snapshot → forecast → plan → execute (or log, in shadow mode). Returns the decisions.
    @discardableResult
    public func controllerTick() -> [PartitioningDecision] {
        guard let controller, let telemetry, !isClosed else { return [] }
        return controller.lock.withLock {
            guard controller.isActive else { return [] }
            let now = telemetry.collect(partitions: allTables().flatMap { $0.map.partitions })
            controller.reap(now: now)
            var decisions: [PartitioningDecision] = []
            for table in allTables().sorted(by: { $0.name < $1.name }) {
                let snapshot = controller.snapshot(table: table, telemetry: telemetry, now: now)
                let plan = controller.planner.plan(snapshot, capacity: controller.options.capacity, now: now)
                controller.setLastPlan(plan, for: table.name)
                for planned in plan.actions {
                    var decision = PartitioningDecision(
                        time: now, table: table.name, policy: controller.options.policy.description,
                        action: PlanRendering.line(planned), kind: planned.action.kind.rawValue,
                        partitions: planned.action.partitions.map(\.rawValue), reason: planned.reason.message,
                        reasonCode: planned.reason.code.rawValue, score: planned.score,
                        predictedUtilization: planned.effect.resulting.map(\.predictedUtilization),
                        bytesToMove: planned.effect.bytesToMove, executed: false, error: nil)
                    if !controller.options.shadow, let plan = reshardPlan(for: planned.action, in: table) {
                        do throws(AugurError) {
                            let job = try requestResharding(table, plan)
                            controller.track(job, planned.action, table: table.name, now: now)
                            decision.executed = true
                        } catch {
                            decision.error = error.description
                        }
                    }
                    decisions.append(decision)
                }
            }
            controller.prune(live: Set(allTables().flatMap { $0.map.partitions.map(\.id) }))
            writePlanFile(now: now)
            if controller.options.logDecisions && !decisions.isEmpty { appendDecisions(decisions) }
            return decisions
        }
    }

    /// The engine's reshard plan for a planner action (nil for actions with nothing to do here:
    /// `activate` — every partition accepts writes as soon as it exists).
    func reshardPlan(for action: ReshardAction, in table: Table) -> ReshardPlan? {
        let byID = Dictionary(uniqueKeysWithValues: table.map.partitions.map { ($0.id, $0) })
        switch action {
        case .split(_, let keys), .precreate(_, let keys):
            return keys.count == 1 ? .split(at: keys[0]) : .splitMany(at: keys)
        case .merge(_, let right):
            return byID[right.rawValue].map { .merge(boundary: $0.lowerBound) }
        case .moveBoundary(_, let right, let to):
            return byID[right.rawValue].map { .moveBoundary(from: $0.lowerBound, to: to) }
        case .activate:
            return nil
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

    private func appendDecisions(_ decisions: [PartitioningDecision]) {
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

/// What the controller has done to a table since open, for load reports and operators.
public struct PartitioningCounters: Sendable, Equatable {
    public var policy: String
    public var partitions: Int
    public var splits: Int
    public var merges: Int
    public var moves: Int
    /// Segment bytes copied by committed reshards.
    public var bytesMoved: Int
    public var reshardsInFlight: Int
    /// Partition-seconds spent above capacity (controller ticks where a partition's load
    /// exceeded `CapacityModel`), over all tables.
    public var overloadSeconds: Double
    /// Mean absolute percentage error of one-step forecasts so far (nil before any).
    public var forecastError: Double?
    /// The latest table-level forecast for the next step (ops/s) with a 95% band, if any.
    public var forecast: (point: Double, lower: Double, upper: Double)?

    public static func == (a: Self, b: Self) -> Bool {
        a.policy == b.policy && a.partitions == b.partitions && a.splits == b.splits && a.merges == b.merges
            && a.moves == b.moves && a.bytesMoved == b.bytesMoved && a.reshardsInFlight == b.reshardsInFlight
    }
}

extension Engine {
    /// Switches the partitioning policy (and optionally the capacity model) while running.
    public func setPartitioningPolicy(_ policy: PlannerPolicy, capacity: CapacityModel? = nil) throws(AugurError) {
        try checkOpen()
        // The same limits as `EngineOptions.partitioning` at open: a bad number is an error here,
        // not a trap in the controller's next tick.
        try policy.validate(name: "policy")
        try capacity?.validate(name: "capacity")
        guard let controller else {
            throw .invalidOption(name: "telemetry.enabled", value: "false", reason: "the partitioning controller needs telemetry")
        }
        controller.lock.withLock { controller.setPolicy(policy, capacity: capacity) }
    }

    /// Reshards, overload and forecast error of `table` since open.
    public func partitioningCounters(table name: String) throws(AugurError) -> PartitioningCounters {
        let t = try table(named: name)
        let jobs = try reshardingStatus(table: name)
        let done = jobs.filter { $0.state == .committed }
        func count(_ match: (ReshardPlan) -> Bool) -> Int { done.filter { match($0.plan) }.count }
        let (overload, error, forecast, policy): (Double, Double?, (point: Double, lower: Double, upper: Double)?, String) =
            controller.map { c in c.lock.withLock { (c.overloadSeconds, c.forecastError, c.tableForecasts[name], c.options.policy.description) } }
            ?? (0, nil, nil, "static")
        return PartitioningCounters(
            policy: policy, partitions: t.map.partitions.count,
            splits: count { if case .split = $0 { true } else if case .splitMany = $0 { true } else { false } },
            merges: count { if case .merge = $0 { true } else { false } },
            moves: count { if case .moveBoundary = $0 { true } else { false } },
            bytesMoved: done.reduce(0) { $0 + $1.bytesCopied },
            reshardsInFlight: jobs.filter { $0.state != .committed && $0.state != .aborted }.count,
            overloadSeconds: overload, forecastError: error, forecast: forecast)
    }
}
