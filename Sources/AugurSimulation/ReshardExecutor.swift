import AugurPlanner

/// The simulated reshard executor: starts planned actions (refusing any that break the
/// concurrency limit or touch a locked partition), charges their data movement (bytes and time
/// per `capacity.reshardCost`, the one ``ReshardCostModel``), and applies them when their copy time has elapsed — at
/// once, or one after another with ``SimulationOptions/serialReshards``. Split children, merge results and moved neighbours
/// inherit their parents' telemetry history apportioned by the parents' histogram load shares
/// and get forecasters re-seeded from that history.
///
/// Thread-safety: part of ``Simulator``; not thread-safe.
extension Simulator {
    func index(of id: PartitionID) -> Int? { partitions.firstIndex { $0.id == id } }

    func log(_ line: String) { actionLog.append(line) }

    /// Load shares of `p`'s pieces when cut at `cuts` (histogram; key width without load).
    func loadShares(_ p: SimPartition, cuts: [[UInt8]]) -> [Double] {
        let snap = PartitionSnapshot(id: p.id, range: p.range, sizeBytes: p.sizeBytes, histogram: p.histogram)
        if let shares = LoadProfile(snap).loadShares(cuts: cuts) { return shares }
        let edges = [p.lo] + cuts.map(SimKey.position) + [p.hi]
        let width = max(p.hi - p.lo, 1e-300)
        return (0..<(edges.count - 1)).map { (edges[$0 + 1] - edges[$0]) / width }
    }

    func bytes(from lo: Double, to hi: Double) -> UInt64 {
        UInt64((Double(options.totalDataBytes) * max(0, hi - lo)).rounded())
    }

    /// Starts `planned` at second `t`, or refuses it.
    func start(_ planned: PlannedAction, at t: Int) {
        var planned = planned
        if case let .split(pid, keys) = planned.action, let i = index(of: pid), !partitions[i].resolvesKeys {
            // The engine's executor: no planned cut has records on both sides (the histogram
            // cannot place keys), so it splits at the data median instead.
            let part = partitions[i]
            let median = SimKey.key((part.lo + part.hi) / 2)
            if keys != [median] {
                planned.action = .split(pid, at: [median])
                planned.reason.message += "; no planned cut has records on both sides: split at the data median"
            }
        }
        let action = planned.action
        let locked = Set(inFlight.flatMap { $0.planned.action.partitions })
        let ids = action.partitions
        guard ids.allSatisfy({ index(of: $0) != nil && !locked.contains($0) }) else {
            metrics.rejectedActions += 1
            return
        }
        let running = inFlight.filter { $0.planned.action.countsTowardConcurrency }.count
        if action.countsTowardConcurrency && running >= options.capacity.maxConcurrentReshards {
            metrics.rejectedActions += 1
            return
        }
        let cost = options.capacity.reshardCost
        var sources: [UInt64] = []
        switch action {
        case let .split(p, keys), let .precreate(p, keys):
            let part = partitions[index(of: p)!]
            sources = [bytes(from: part.lo, to: part.hi)]
            if case .split = action {
                metrics.splits += 1
                metrics.splitChildren += keys.count + 1
            } else {
                metrics.precreates += 1
            }
        case let .merge(l, r):
            let a = partitions[index(of: l)!], b = partitions[index(of: r)!]
            sources = [a.sizeBytes, b.sizeBytes]
            metrics.merges += 1
            let splitTimes = [l, r].compactMap { splitProducedAt[$0] }
            if let latest = splitTimes.max() {
                metrics.reversals += 1
                if Self.nanos(t) < Self.nanos(latest) &+ options.capacity.cooldownNanos { metrics.reversalsWithinCooldown += 1 }
            }
        case let .moveBoundary(l, r, _):
            let a = partitions[index(of: l)!], b = partitions[index(of: r)!]
            sources = [a.sizeBytes, b.sizeBytes]
            metrics.moves += 1
        case .activate:
            metrics.activations += 1
        }
        if action.countsTowardConcurrency { metrics.reshards += 1 }
        let predicted = cost.predict(sourceBytes: sources)
        let moved = predicted.copiedBytes
        metrics.bytesMoved += moved
        let seconds = action.kind == .activate ? 0 : predicted.seconds
        var completesAt = t + max(action.kind == .activate ? 0 : 1, Int(seconds.rounded(.up)))
        if options.serialReshards && action.kind != .activate {
            // One queue: the action starts when the previous one has finished, and takes effect
            // at the first tick after it finishes.
            let begins = max(Double(t), queueFreeAt)
            queueFreeAt = begins + seconds
            completesAt = max(t + 1, Int(queueFreeAt.rounded(.up)))
        }
        actionCounter += 1
        let key = actionCounter
        switch planned.reason.code {
        case .predictedOverload, .sustainedOverload, .neighbourHeadroom:
            // Watch the original range of the relieved partition.
            let source = ids.map { partitions[index(of: $0)!] }
                .max { ($0.recentOrdered.last?.opsPerSecond ?? 0) < ($1.recentOrdered.last?.opsPerSecond ?? 0) }!
            leads.start(lo: source.lo, hi: source.hi, issuedAt: t, key: key, utilization: expectedUtilization)
        default:
            break
        }
        if options.recordActions {
            let parts = ids.map { id in partitions[index(of: id)!] }
                .map { "\($0.id)[\(SimulationReport.fixed($0.lo, 4)),\(SimulationReport.fixed($0.hi, 4))) u=\(SimulationReport.fixed(options.capacity.utilization($0.recentOrdered.last ?? .zero), 2))" }
            log("t=\(t - preludeSeconds) \(PlanRendering.line(planned)) done@\(completesAt - preludeSeconds) | \(parts.joined(separator: " ")) | \(planned.reason.message)")
        }
        inFlight.append(RunningReshard(planned: planned, issuedAt: t, completesAt: completesAt, key: key, bytes: moved))
        if completesAt <= t { completeDue(t) }
    }

    /// Applies every running reshard due at or before `t`.
    func completeDue(_ t: Int) {
        guard inFlight.contains(where: { $0.completesAt <= t }) else { return }
        let due = inFlight.filter { $0.completesAt <= t }
        inFlight.removeAll { $0.completesAt <= t }
        for r in due { apply(r, at: t) }
    }

    private func apply(_ r: RunningReshard, at t: Int) {
        let now = Self.nanos(t)
        let stepNanos = UInt64(options.forecastStepSeconds) * 1_000_000_000
        let rate = tableRate(t)
        var results: [SimPartition] = []
        var sources: [PartitionID] = []
        switch r.planned.action {
        case let .split(pid, keys), let .precreate(pid, keys):
            let i = index(of: pid)!
            let parent = partitions[i]
            let shares = loadShares(parent, cuts: keys)
            let bounds: [[UInt8]?] = [parent.range.lower] + keys.map { Optional($0) } + [parent.range.upper]
            let isPrecreate = r.planned.action.kind == .precreate
            for k in 0..<(keys.count + 1) {
                let child = makePartition(KeyRange(lower: bounds[k]!, upper: bounds[k + 1]), createdAt: now,
                                          state: isPrecreate && k > 0 ? .preCreated : .active)
                child.inherit(from: [(parent, shares[k])], options: options, withForecaster: withForecasts)
                if !isPrecreate { splitProducedAt[child.id] = t }
                results.append(child)
            }
            sources = [pid]
            partitions.replaceSubrange(i...i, with: results)
        case let .merge(l, rr):
            let i = index(of: l)!
            let a = partitions[i], b = partitions[i + 1]
            precondition(b.id == rr, "merge of non-neighbours reached the executor")
            let m = makePartition(KeyRange(lower: a.range.lower, upper: b.range.upper), createdAt: now, state: .active)
            m.inherit(from: [(a, 1), (b, 1)], options: options, withForecaster: withForecasts)
            results = [m]
            sources = [l, rr]
            partitions.replaceSubrange(i...(i + 1), with: results)
        case let .moveBoundary(l, rr, key):
            let i = index(of: l)!
            let a = partitions[i], b = partitions[i + 1]
            precondition(b.id == rr, "move between non-neighbours reached the executor")
            let newLeft = SimPartition(id: a.id, range: KeyRange(lower: a.range.lower, upper: key), createdAt: a.createdAt,
                                       state: .active, totalDataBytes: options.totalDataBytes, options: options)
            let newRight = SimPartition(id: b.id, range: KeyRange(lower: key, upper: b.range.upper), createdAt: b.createdAt,
                                        state: .active, totalDataBytes: options.totalDataBytes, options: options)
            if SimKey.position(key) < a.hi {
                let keep = loadShares(a, cuts: [key])[0]
                newLeft.inherit(from: [(a, keep)], options: options, withForecaster: withForecasts)
                newRight.inherit(from: [(a, 1 - keep), (b, 1)], options: options, withForecaster: withForecasts)
            } else {
                let take = loadShares(b, cuts: [key])[0]
                newLeft.inherit(from: [(a, 1), (b, take)], options: options, withForecaster: withForecasts)
                newRight.inherit(from: [(b, 1 - take)], options: options, withForecaster: withForecasts)
            }
            results = [newLeft, newRight]
            sources = [l, rr]
            partitions.replaceSubrange(i...(i + 1), with: results)
        case let .activate(pid):
            if let i = index(of: pid) { partitions[i].state = .active }
            sources = [pid]
        }
        metrics.bytesCommitted += r.bytes
        for p in results {
            // With engine marks, a new partition's histogram is counted from its first second.
            if options.histogramWindow == .lastRefresh { refreshHistogram(p, t: t, rate: rate) }
            if withForecasts { p.refreshForecast(now: now, stepNanos: stepNanos) }
        }
        history.append(CompletedReshard(kind: r.planned.action.kind, issuedAt: Self.nanos(r.issuedAt), completedAt: now,
                                        sources: sources, results: results.isEmpty ? sources : results.map(\.id)))
        leads.completed(key: r.key, at: t)
        if let predicted = r.planned.effect.predictedOverloadAt {
            metrics.predictedLeadTimes.append(Int(predicted / 1_000_000_000) - t)
        }
    }
}
