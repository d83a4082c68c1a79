// The controller's forecast steps and bookkeeping (PartitionController, Controller.swift):
// closing a step (history, forecasters, the table's forecast error, fallbacks when intervals
// stop covering, the key-share forecast), the measured capacity, what load history to save,
// and the reshards it tracks. Thread-safety: as the class — every call under `lock`.
import AugurForecast
import AugurPlanner
import AugurStats
import AugurSys
import Dispatch
import FoundationEssentials
import Synchronization

extension PartitionController {
    /// Closes the forecast step when it is due: each partition's mean load over the step joins
    /// its history and its forecaster; the table's one-step forecast is scored against the sum.
    /// Returns the decisions it made: ranges whose forecast stopped or started being trusted.
    func closeStepIfDue(tables: [Table], now: UInt64) -> [PartitioningDecision] {
        guard let started = stepStartedAt else { stepStartedAt = now; return [] }
        guard now &- started >= stepNanos else { return [] }
        var decisions: [PartitioningDecision] = []
        let seconds = Double(now &- started) / 1e9
        for table in tables {
            var actual = 0.0
            var point = 0.0, lower = 0.0, upper = 0.0, forecasts = 0
            for p in table.map.partitions {
                guard var s = series[p.id] else { continue }
                let mean = s.stepOps / seconds
                actual += mean
                s.history.append(step: mean)
                s.stepOps = 0
                if s.forecaster == nil, case .predictive = options.policy {
                    s.forecaster = makeForecaster(history: Array(s.history.steps.dropLast()))
                }
                if let f = s.forecaster {
                    try? f.observe(mean)
                    if let next = try? f.forecast() {
                        s.lastForecast = PartitionForecast(issuedAt: now, stepNanos: stepNanos, ops: next)
                    }
                    if let d = updateFallback(&s, alert: f.alert, table: table.name, now: now) { decisions.append(d) }
                }
                if let first = s.lastForecast?.ops.first {
                    point += first.point
                    upper += first.upper95 ?? first.point
                    lower += max(0, 2 * first.point - (first.upper95 ?? first.point))
                    forecasts += 1
                } else {
                    point += mean; lower += mean; upper += mean
                }
                series[p.id] = s
            }
            // Score the forecast made for this step (a table's total is what users see; a
            // partition's share moves with every reshard).
            if let previous = tableForecasts[table.name], actual > 1 {
                forecastErrorSum += abs(previous.point - actual) / actual
                forecastErrorCount += 1
            }
            if forecasts > 0 { tableForecasts[table.name] = (point, lower, upper) } else { tableForecasts[table.name] = nil }
            if case .predictive = options.policy { closeKeyLoadStep(table) }
        }
        stepStartedAt = now
        return decisions
    }

    /// Enters or leaves the reactive fallback for one range from its forecaster's alert, and
    /// says so in a decision (nil when nothing changed).
    private func updateFallback(_ s: inout Series, alert: ForecastAlert, table: String, now: UInt64) -> PartitioningDecision? {
        let raised = alert.isRaised
        guard raised != (s.fallback != nil) else { return nil }
        func decision(_ action: String, _ code: String, _ reason: String) -> PartitioningDecision {
            PartitioningDecision(time: now, table: table, policy: options.policy.description, action: action, kind: code,
                                 partitions: [s.id], reason: reason, reasonCode: code, score: 0, predictedUtilization: [],
                                 bytesToMove: 0, executed: true, error: nil)
        }
        if raised {
            let misses = alert.breaches.map {
                "step \($0.step) \(Int(($0.level * 100).rounded()))%: \($0.misses) of the last \($0.window) outside (critical \($0.criticalMisses))"
            }
            let reason = "forecast intervals miss too often (" + misses.joined(separator: "; ") + ")"
            s.fallback = ForecastFallback(table: table, partition: s.id, since: now, reason: reason)
            fallbackEntries += 1
            return decision("p\(s.id): forecast withheld, reactive rules", "forecast-fallback", reason + "; planned by the reactive rules until they cover again")
        }
        let since = s.fallback!.since
        s.fallback = nil
        return decision("p\(s.id): forecast trusted again", "forecast-restored",
                        "forecast intervals cover at their nominal rates again after \(Int((Double(now &- since) / 1e9).rounded())) s of reactive rules")
    }

    /// The ranges planned by reactive rules right now because their forecasts are not trusted.
    func fallbacks(table: String? = nil) -> [ForecastFallback] {
        series.values.compactMap(\.fallback).filter { table == nil || $0.table == table }.sorted { ($0.table, $0.partition) < ($1.table, $1.partition) }
    }

    /// The table's key-load step: the partitions' histogram deltas go onto the table's key grid
    /// and into its key-share forecaster; while the forecast says the load is moving, each
    /// range learns the load it is forecast to receive (`Series.moving`). The grid is built at
    /// the first step with stored keys and rebuilt when the keys outgrow it (checked once a
    /// minute).
    private func closeKeyLoadStep(_ table: Table) {
        let live = table.map.partitions
        guard let first = live.first else { return }
        let horizon = PartitionController.horizonSteps(options.capacity.horizonNanos, step: stepNanos)
        let span = Engine.keySpan(of: live.flatMap { $0.view.runs })
        let age = keyLoadAge[table.name, default: 0]
        if keyLoads[table.name] == nil || (age >= 12 && span.map { keyLoads[table.name]!.isOutgrown(by: $0) } == true) {
            guard span != nil, let fresh = TableKeyLoad(tableLower: first.lowerBound, focus: span, horizon: horizon) else { return }
            for p in live { fresh.born(p.id, histogram: p.histogram.snapshot()) }
            keyLoads[table.name] = fresh
            keyLoadAge[table.name] = 0
            for p in live { series[p.id]?.moving = nil }
            return
        }
        let keyLoad = keyLoads[table.name]!
        keyLoadAge[table.name] = age + 1
        keyLoad.closeStep(live.map { ($0.id, $0.histogram.snapshot()) })
        guard keyLoad.isMoving else {
            for p in live { series[p.id]?.moving = nil }
            return
        }
        // The table's total per step: the ranges' own forecasts summed (the total is what the
        // seasonal models forecast well), or the last step's total when some range has none.
        // Its band adds the ranges' margins in quadrature: summing upper bounds would assume
        // every range misses high at once, and a fresh child's honest band is wide.
        var total = [(point: Double, upper: Double)](repeating: (0, 0), count: horizon)
        var margins = [Double](repeating: 0, count: horizon)
        var complete = true
        for p in live {
            guard let f = series[p.id]?.lastForecast, f.ops.count >= horizon else { complete = false; break }
            for h in 0..<horizon {
                total[h].point += f.ops[h].point
                let margin = max(0, (f.ops[h].upper95 ?? f.ops[h].point) - f.ops[h].point)
                margins[h] += margin * margin
            }
        }
        for h in 0..<horizon { total[h].upper = total[h].point + margins[h].squareRoot() }
        if !complete {
            let last = live.reduce(0.0) { $0 + (series[$1.id]?.history.steps.last ?? 0) }
            total = [(point: Double, upper: Double)](repeating: (last, last), count: horizon)
        }
        let sharesByStep = (1...horizon).map { keyLoad.shares(steps: $0) }
        for p in live {
            guard series[p.id] != nil else { continue }
            let map = p.histogram.snapshot().map
            var ops: [ForecastPoint] = []
            var atHorizon: [Double] = []
            for h in 0..<horizon {
                guard let shares = sharesByStep[h] else { break }
                let share = keyLoad.share(of: shares, in: map)
                ops.append(ForecastPoint(step: h + 1, point: share.total * total[h].point, upper80: nil,
                                         upper95: share.total * total[h].upper))
                if h == horizon - 1 { atHorizon = share.perBucket }
            }
            series[p.id]!.moving = ops.count == horizon ? (ops, atHorizon) : nil
        }
    }

    /// A range's forecast and histogram while the load moves through the key space: each step's
    /// forecast is the larger of the range's own and what the key-share forecast sends it (a
    /// range the hotspot is heading for is planned for before its own history shows it), and
    /// the histogram the planner cuts by adds the load expected at the horizon to the recent
    /// counts (so cuts fall where the load is and is going, not only where it was).
    static func ahead(of moving: (ops: [ForecastPoint], shares: [Double]), forecast: PartitionForecast?,
                      histogram: HistogramSnapshot, now: UInt64, stepNanos: UInt64) -> (PartitionForecast?, HistogramSnapshot) {
        var merged = forecast ?? PartitionForecast(issuedAt: now, stepNanos: stepNanos, ops: moving.ops)
        // Arriving: the key-share forecast expects more here than the range's own forecast.
        merged.arriving = zip(moving.ops, forecast?.ops ?? []).contains { $0.point > $1.point } || forecast == nil
        if forecast != nil {
            merged.ops = merged.ops.enumerated().map { h, own in
                guard h < moving.ops.count else { return own }
                let key = moving.ops[h]
                return ForecastPoint(step: own.step, point: max(own.point, key.point),
                                     upper80: own.upper80.map { max($0, key.point) },
                                     upper95: (own.upper95 ?? own.point) < (key.upper95 ?? key.point) ? key.upper95 : own.upper95)
            }
        }
        // Expected counts at the horizon, scaled to the recent window's operations and split
        // between reads and writes in the recent ratio.
        let totals = histogram.totals
        let recentOps = Double(totals.operations)
        let shareSum = moving.shares.reduce(0, +)
        guard recentOps > 0, shareSum > 0, moving.shares.count == histogram.bucketCount else { return (merged, histogram) }
        let readFraction = Double(totals.reads) / recentOps
        var reads = histogram.reads, writes = histogram.writes
        for i in 0..<histogram.bucketCount {
            let expected = recentOps * moving.shares[i] / shareSum
            reads[i] &+= UInt64((expected * readFraction).rounded())
            writes[i] &+= UInt64((expected * (1 - readFraction)).rounded())
        }
        let ahead = HistogramSnapshot(map: histogram.map, reads: reads, writes: writes,
                                      readBytes: histogram.readBytes, writeBytes: histogram.writeBytes)
        return (merged, ahead)
    }

    /// The capacity of one partition in operations per second implied by the measured cost per
    /// operation over the last minute (nil without a cost budget or without operations).
    func measuredCapacity(table: String) -> Double? {
        guard let budget = options.capacity.costBudget, let window = costWindow[table] else { return nil }
        let cost = window.reduce(0) { $0 + $1.cost }, ops = window.reduce(0) { $0 + $1.ops }
        guard ops > 0, cost > 0 else { return nil }
        return budget / (cost / ops)
    }

    /// The histories to save, by table name (caller holds lock).
    func historiesToSave(tables: [Table]) -> [String: [RangeLoadHistory]] {
        var out: [String: [RangeLoadHistory]] = [:]
        for t in tables {
            out[t.name] = t.map.partitions.compactMap { series[$0.id]?.history }
        }
        return out
    }

    /// Whether LOADHISTORY is due at `now` (and notes that it is being written).
    func historySaveDue(now: UInt64, force: Bool) -> Bool {
        guard options.persistHistory else { return false }
        if force || now &- lastHistorySave >= UInt64(nanoseconds(options.historySaveInterval)) {
            lastHistorySave = now
            return true
        }
        return false
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
            }
            return true
        }
        // Keep history for twice the longest interval the policies look back over.
        let keep = max(options.capacity.cooldownNanos, 3_600_000_000_000) * 2
        for (t, h) in history { history[t] = h.filter { now &- $0.completedAt <= keep } }
        refusals = refusals.filter { now &- $0.value < 300_000_000_000 }
    }

    func track(_ job: ReshardJob, _ action: ReshardAction, table: String, now: UInt64) {
        running.append(Running(job: job, action: action, table: table, startedAt: now))
    }
}
