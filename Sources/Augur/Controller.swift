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
    /// `.static` reshapes nothing for load (default; size splits still run, see
    /// `splitsBySize`); `.reactive(ReactiveOptions())` is the CockroachDB way;
    /// `.predictive(PredictiveOptions())` acts on forecasts before overload.
    public var policy: PlannerPolicy = .static
    /// What a partition can take. Default `CapacityModel.measured()`: a partition is at capacity
    /// when the work measured inside it (operations with their lock waits, flushes and merges)
    /// reaches 0.5 s per second; horizon and cooldown 30 s; size limit 512 MiB. A fixed
    /// `opsPerSecond` is an override.
    public var capacity = CapacityModel.measured()
    /// Controller period on the engine clock (one load sample per partition). Default 1 s.
    public var tick: Duration = .seconds(1)
    /// Forecast step: load is averaged over this long before it is fed to the forecaster.
    /// Default 5 s (the 30 s horizon is then 6 steps). Choose it near a twelfth of the load's
    /// shortest cycle.
    public var forecastStep: Duration = .seconds(5)
    /// Seasonal periods of the load (at most two, each at least two forecast steps), e.g.
    /// `[.seconds(86_400)]`. Default empty: the forecaster detects them from the history.
    public var seasonalPeriods: [Duration] = []
    /// Split a partition above `capacity.maxPartitionBytes` at its data median under every
    /// policy, `.static` included (every peer splits by size by default). Default true.
    public var splitsBySize = true
    /// Keep the load history by key range in `<dir>/LOADHISTORY` (written every
    /// `historySaveInterval` and at close), so a reopened store forecasts from the history it
    /// saw. Default true.
    public var persistHistory = true
    /// How often LOADHISTORY is rewritten. Default 30 s.
    public var historySaveInterval: Duration = .seconds(30)
    /// How far back the forecast-error alert looks. When a range's forecast intervals miss
    /// significantly more often than their nominal rate over this window (a one-sided binomial
    /// test at 0.001 per step and level, `ForecastEnsemble.alert`), the controller stops
    /// trusting that range's forecast: the planner gets none for it, so the predictive policy
    /// plans it by the reactive rules (current load plus margin, sustained overload), and a
    /// `forecast-fallback` decision says why. When the misses fall back under the critical
    /// count the forecast is used again (`forecast-restored`). Default 240 s (48 steps of 5 s);
    /// a window shorter than 10 forecast steps counts as 10; at most 10,000 steps (each step of the
    /// window costs a few bytes per range).
    public var forecastAlertWindow: Duration = .seconds(240)
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
///
/// Load is measured per partition every tick (operations, written bytes and *cost*: seconds of
/// work inside the partition per second, from its `CostMeter`) and kept as the history of the
/// partition's key range (`RangeLoadHistory`). When a reshard replaces partitions, the new ones
/// start with the history of the range they cover, scaled by their share of the old ranges'
/// load (from the old histograms); the counts a new partition's histogram inherits are never
/// taken for new load.
final class PartitionController: @unchecked Sendable {
    struct Series {
        /// The partition's identity and histogram — not the `Partition`: a retired partition
        /// must not stay referenced (its segments are deleted when the last reference goes).
        let id: UInt64
        let tableID: UInt32
        let histogram: KeyHistogram
        var history: RangeLoadHistory
        var lastTotals: HistogramTotals
        var lastCost: UInt64
        var lastReal: UInt64
        var lastTime: UInt64
        var createdAt: UInt64
        /// Samples this partition measured itself (its history's newest; the older ones were
        /// inherited at birth).
        var measured = 0
        /// Operations counted in the forecast step in progress.
        var stepOps = 0.0
        var forecaster: ForecastEnsemble?
        var lastForecast: PartitionForecast?
        /// Histogram snapshots taken every `markNanos` (oldest first, at most `marksKept`): the
        /// planner sees the counts added since the oldest — the last half minute's load by key,
        /// not the histogram's whole life (a bulk load, or a hotspot that has moved on).
        var marks: [(time: UInt64, snapshot: HistogramSnapshot)] = []
        /// While the table's key-share forecast says the load is moving (set at each step's
        /// close, predictive only): the load this range is forecast to receive per step as the
        /// load moves (the table's forecast total × the range's forecast share), and the share
        /// per histogram bucket at the horizon. See `TableKeyLoad`.
        var moving: (ops: [ForecastPoint], shares: [Double])?
        /// Set while the range's forecast is not trusted (its coverage alert is raised): since
        /// when (engine time) and why. The planner then plans the range by reactive rules.
        var fallback: ForecastFallback?
    }
    static let markNanos: UInt64 = 10_000_000_000
    static let marksKept = 3
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
    /// Mean absolute percentage error of each table's one-step forecast against what followed.
    private var forecastErrorSum = 0.0
    private var forecastErrorCount = 0
    /// Table-level forecast for the step in progress (sum over partitions) with a 95% band.
    private(set) var tableForecasts: [String: (point: Double, lower: Double, upper: Double)] = [:]
    var forecastError: Double? { forecastErrorCount > 0 ? forecastErrorSum / Double(forecastErrorCount) : nil }
    private var series: [UInt64: Series] = [:]
    private var running: [Running] = []
    private var history: [String: [CompletedReshard]] = [:]
    private(set) var lastPlans: [String: Plan] = [:]
    /// Refused actions by table and rendered action, with the engine time they were last logged.
    var refusals: [String: UInt64] = [:]
    /// Engine time the forecast step in progress started (nil before the first tick).
    private var stepStartedAt: UInt64?
    /// Saved histories not yet handed to a partition, by table (from LOADHISTORY at open).
    private var restored: [String: [RangeLoadHistory]] = [:]
    /// Why LOADHISTORY was not used, if it was not.
    private(set) var historyNote: String?
    /// Ranges whose history came from LOADHISTORY.
    private(set) var restoredRanges = 0
    private var lastHistorySave: UInt64 = 0
    /// Cost and operations summed over the last minute of ticks, per table: the measured cost
    /// per operation behind `measuredCapacity`.
    private var costWindow: [String: [(cost: Double, ops: Double)]] = [:]
    /// Per table (predictive only): load by key position step by step, and where it is going.
    private var keyLoads: [String: TableKeyLoad] = [:]
    /// Steps since each table's key grid was built (its focus is checked every minute).
    private var keyLoadAge: [String: Int] = [:]
    /// Times a range entered the reactive fallback since open.
    private(set) var fallbackEntries = 0

    /// The counters `Engine.partitioningCounters` reports, as of the end of the last tick (or
    /// policy change, or open), under their own short lock. A tick holds `lock` through
    /// forecasting, planning, starting reshards and writing PLAN.txt, LOADHISTORY and
    /// decisions.jsonl: a reader that took `lock` waited 7-24 ms (perf sched_switch stacks of
    /// augur-load's workers, which sample the counters between operations — and in an open
    /// loop every operation scheduled meanwhile counted the wait as latency).
    struct Published: Sendable {
        var overloadSeconds = 0.0
        var forecastError: Double? = nil
        var tableForecasts: [String: (point: Double, lower: Double, upper: Double)] = [:]
        var policy = "static"
        var measuredCapacity: [String: Double] = [:]
        var historyNote: String? = nil
        var fallbacks: [ForecastFallback] = []
        var fallbackEntries = 0
    }
    let published = Mutex<Published>(Published())

    /// Copies the counters into `published` (caller holds lock).
    func publish(tables: [String]) {
        var capacities: [String: Double] = [:]
        for t in tables { capacities[t] = measuredCapacity(table: t) }
        let p = Published(overloadSeconds: overloadSeconds, forecastError: forecastError, tableForecasts: tableForecasts,
                          policy: options.policy.description, measuredCapacity: capacities, historyNote: historyNote,
                          fallbacks: fallbacks(), fallbackEntries: fallbackEntries)
        published.withLock { $0 = p }
    }

    init(options: PartitioningOptions) {
        self.options = options
        planner = Planner(policy: options.policy, splitsBySize: options.splitsBySize)
    }

    /// Switches policy (and capacity) at run time. Caller holds lock.
    func setPolicy(_ policy: PlannerPolicy, capacity: CapacityModel?) {
        options.policy = policy
        if let capacity { options.capacity = capacity }
        planner = Planner(policy: policy, splitsBySize: options.splitsBySize)
        // A new policy judges key load from what happens under it (not, say, a bulk load that
        // ran just before it was switched on).
        for id in series.keys { series[id]?.marks = []; series[id]?.moving = nil }
        // The key grid starts again too: a bulk load's keys say nothing about where load moves.
        keyLoads = [:]
        keyLoadAge = [:]
        if case .predictive = policy {} else {
            for id in series.keys { series[id]?.forecaster = nil; series[id]?.lastForecast = nil; series[id]?.fallback = nil }
        }
    }

    /// Whether ticks plan anything (they always measure).
    var plans: Bool { options.policy != .static || options.shadow || options.splitsBySize }

    var tickNanos: UInt64 { UInt64(nanoseconds(options.tick)) }
    var stepNanos: UInt64 { UInt64(nanoseconds(options.forecastStep)) }

    /// Hands the histories saved in LOADHISTORY to the partitions that will cover their ranges.
    func restore(_ file: Result<LoadHistoryFile, LoadHistoryError>?) {
        guard let file else { return }
        switch file.flatMap({ $0.histories() }) {
        case .success(let h): restored = h
        case .failure(let e): historyNote = e.description
        }
    }

    /// A period in whole forecast steps (rounded).
    static func steps(of period: Duration, step: UInt64) -> Int {
        let ns = Double(nanoseconds(period))
        return Int((ns / Double(max(1, step))).rounded())
    }

    /// A forecaster for a range with `steps` of history (predictive policy only).
    func makeForecaster(history steps: [Double]) -> ForecastEnsemble? {
        guard case .predictive = options.policy else { return nil }
        var fo = ForecastOptions()
        fo.horizon = max(1, Int((options.capacity.horizonNanos + stepNanos - 1) / stepNanos))
        fo.seasonalPeriods = options.seasonalPeriods.map { Self.steps(of: $0, step: stepNanos) }
        // The binomial test needs a few misses to mean anything: never fewer than 10 steps.
        fo.alert.window = max(10, Self.steps(of: options.forecastAlertWindow, step: stepNanos))
        // Seeded with the range's history: a split's child forecasts from its first step.
        return try? ForecastEnsemble(options: fo, history: steps)
    }

    /// The series a new partition starts with: the history of the range it covers, taken from
    /// the partitions that just left the map (a reshard's sources) or, at open, from the saved
    /// histories; its counters start at their current values (inherited counts are not load).
    private func born(_ p: Partition, sources: [(series: Series, share: Double)], saved: [RangeLoadHistory], now: UInt64, real: UInt64) -> Series {
        let range = KeyRange(lower: p.lowerBound, upper: p.upperBound)
        var parts: [RangeLoadHistory] = []
        var stepOps = 0.0
        var forecast: PartitionForecast?
        var fallback: ForecastFallback?
        for (s, share) in sources {
            guard share > 0 else { continue }
            // A range cut from one whose forecast was not trusted is not trusted either until
            // its own forecaster's alert has cleared (checked at the next step).
            if var f = s.fallback {
                f.partition = p.id
                fallback = f
            }
            parts.append(s.history.inherited(by: range, share: share))
            stepOps += s.stepOps * share
            if let f = s.lastForecast {
                let scaled = f.ops.map { ForecastPoint(step: $0.step, point: $0.point * share, upper80: $0.upper80.map { $0 * share },
                                                       upper95: $0.upper95.map { $0 * share }) }
                if let previous = forecast, previous.ops.count == scaled.count {
                    forecast?.ops = zip(previous.ops, scaled).map { a, b in
                        ForecastPoint(step: a.step, point: a.point + b.point,
                                      upper80: a.upper80.flatMap { x in b.upper80.map { x + $0 } },
                                      upper95: a.upper95.flatMap { x in b.upper95.map { x + $0 } })
                    }
                } else if forecast == nil {
                    forecast = PartitionForecast(issuedAt: f.issuedAt, stepNanos: f.stepNanos, ops: scaled)
                }
            }
        }
        for h in saved {
            let share = RangeLoadHistory.share(of: h.range, histogram: nil, in: range)
            if share > 0 { parts.append(h.inherited(by: range, share: share)) }
        }
        let history = parts.count == 1 ? parts[0] : RangeLoadHistory.combined(parts, range: range)
        let f = makeForecaster(history: history.steps)
        if f != nil, let issued = try? f?.forecast(), forecast == nil || !saved.isEmpty {
            forecast = PartitionForecast(issuedAt: stepStartedAt ?? now, stepNanos: stepNanos, ops: issued)
        }
        let cost = p.cost.totals()
        return Series(id: p.id, tableID: p.tableID, histogram: p.histogram, history: history, lastTotals: p.histogram.totals(), lastCost: cost.foreground &+ cost.maintenance,
                      lastReal: real, lastTime: now, createdAt: now, stepOps: stepOps, forecaster: f, lastForecast: forecast,
                      fallback: fallback)
    }

    /// Updates each partition's series from its counters and returns the table snapshot.
    func snapshot(table: Table, telemetry: Telemetry, now: UInt64) -> TableSnapshot {
        let real = MonotonicClock.nanos()
        let live = table.map.partitions
        let liveIDs = Set(live.map(\.id))
        let gone = series.values.filter { $0.tableID == table.id && !liveIDs.contains($0.id) }
        let saved = restored.removeValue(forKey: table.name) ?? []
        restoredRanges += saved.count
        let newcomers = live.filter { series[$0.id] == nil }
        func overlaps(_ a: KeyRange, _ p: Partition) -> Bool {
            KeyOrder.less(a.lower, p.upperBound) && KeyOrder.less(p.lowerBound, a.upper)
        }
        // Each source's load is shared among the newcomers covering it: by its histogram when
        // the histogram resolves where the load was (at least four buckets carry it), else by
        // the records each newcomer holds (a histogram with every key in one bucket can only
        // guess by key position, and used to hand one child nearly all of its parent's load).
        var shares: [UInt64: [(series: Series, share: Double)]] = [:]
        for s in gone {
            let heirs = newcomers.filter { overlaps(s.history.range, $0) }
            guard !heirs.isEmpty else { continue }
            // Where its load fell since its oldest mark — what it measured itself; the whole
            // histogram also holds the counts it inherited, smeared over its buckets by key
            // position, which put 97 % of a parent's load into a child holding 10 % of its keys.
            var snapshot = s.histogram.snapshot()
            if let base = s.marks.first, let measured = snapshot.since(base.snapshot), measured.totals.operations > 0 {
                snapshot = measured
            }
            let loaded = snapshot.reads.indices.filter { snapshot.reads[$0] &+ snapshot.writes[$0] > 0 }.count
            let records = heirs.map { h -> Double in
                let v = h.view
                return Double(v.runs.reduce(0) { $0 + $1.recordCount } + v.memtable.count + v.frozen.reduce(0) { $0 + $1.memtable.count })
            }
            let totalRecords = records.reduce(0, +)
            for (k, h) in heirs.enumerated() {
                let range = KeyRange(lower: h.lowerBound, upper: h.upperBound)
                let share = loaded >= 4 || totalRecords == 0
                    ? RangeLoadHistory.share(of: s.history.range, histogram: snapshot, in: range)
                    : RangeLoadHistory.share(of: s.history.range, histogram: nil, in: range) > 0 ? records[k] / totalRecords : 0
                shares[h.id, default: []].append((s, share))
            }
        }
        for p in newcomers {
            series[p.id] = born(p, sources: shares[p.id] ?? [], saved: saved, now: now, real: real)
        }
        if let keyLoad = keyLoads[table.name] {
            for s in gone { keyLoad.retire(s.id, histogram: s.histogram.snapshot()) }
            for p in newcomers { keyLoad.born(p.id, histogram: p.histogram.snapshot()) }
        }
        for s in gone { series[s.id] = nil }

        var tableCost = 0.0, tableOps = 0.0
        var partitions: [PartitionSnapshot] = []
        for p in live {
            guard var s = series[p.id] else { continue }
            if now > s.lastTime {
                let seconds = Double(now - s.lastTime) / 1e9
                let realSeconds = max(1e-6, Double(real &- s.lastReal) / 1e9)
                let totals = p.histogram.totals()
                let c = p.cost.totals()
                let cost = c.foreground &+ c.maintenance
                let ops = Double(totals.operations &- s.lastTotals.operations)
                let sample = LoadSample(opsPerSecond: max(0, ops / seconds),
                                        writeBytesPerSecond: max(0, Double(totals.writeBytes &- s.lastTotals.writeBytes) / seconds),
                                        costPerSecond: max(0, Double(cost &- s.lastCost) / 1e9 / realSeconds))
                s.history.append(sample: sample, samplesPerMinute: Int(60_000_000_000 / max(1, tickNanos)))
                s.stepOps += max(0, ops)
                s.measured += 1
                tableCost += sample.costPerSecond
                tableOps += sample.opsPerSecond
                if options.capacity.utilization(sample) > 1 { overloadSeconds += seconds }
                s.lastTotals = totals
                s.lastCost = cost
                s.lastReal = real
                s.lastTime = now
                series[p.id] = s
            }
        }
        var window = costWindow[table.name] ?? []
        window.append((tableCost, tableOps))
        if window.count > 60 { window.removeFirst(window.count - 60) }
        costWindow[table.name] = window

        for p in live {
            guard let s = series[p.id] else { continue }
            let v = p.view
            let size = UInt64(v.runs.reduce(0) { $0 + $1.storedBytes } + v.memtable.approximateBytes
                              + v.frozen.reduce(0) { $0 + $1.memtable.approximateBytes })
            var peaks: [WindowPeak] = []
            for window in [30, 60, 300] {
                let n = Int(UInt64(window) * 1_000_000_000 / max(1, tickNanos))
                if let peak = s.history.peak(lastSamples: n) {
                    peaks.append(WindowPeak(windowNanos: UInt64(window) * 1_000_000_000, peak: peak,
                                            coveredNanos: UInt64(min(n, s.history.samples.count)) * tickNanos))
                }
            }
            // Longer windows from minute means (a mean, so a lower bound on the true peak).
            for minutes in [30, 60] {
                if let peak = s.history.minutes.suffix(minutes).max(by: { $0.opsPerSecond < $1.opsPerSecond }) {
                    peaks.append(WindowPeak(windowNanos: UInt64(minutes) * 60_000_000_000, peak: peak,
                                            coveredNanos: UInt64(min(minutes, s.history.minutes.count)) * 60_000_000_000))
                }
            }
            let histogram = p.histogram.snapshot()
            // Counts since the oldest mark; a partition seen for the first time has only its
            // inherited counts, which say where its parent's load was.
            var recent = histogram
            if let base = s.marks.first, let d = histogram.since(base.snapshot) { recent = d }
            if s.marks.last.map({ now &- $0.time >= Self.markNanos }) ?? true {
                series[p.id]?.marks.append((now, histogram))
                if series[p.id]!.marks.count > Self.marksKept { series[p.id]!.marks.removeFirst() }
            }
            var hot: HotKeyObservation? = nil
            if let report = telemetry.collector.heavyHitters(partition: p.id, now: now, top: 1),
               report.totalWeight >= telemetry.options.minimumOperationsForHotKeys, let h = report.hotKey {
                var prefix = (0..<8).map { UInt8(truncatingIfNeeded: h.keyPrefix >> (56 - 8 * UInt64($0))) }
                while prefix.last == 0 { prefix.removeLast() }
                hot = HotKeyObservation(key: prefix, loadFraction: h.loadFraction)
            }
            var forecast = s.lastForecast
            if let moving = s.moving {
                (forecast, recent) = Self.ahead(of: moving, forecast: forecast, histogram: recent, now: now, stepNanos: stepNanos)
            }
            // An untrusted forecast is withheld whole (the key-share part too: it is scaled by
            // the ranges' own forecasts): the planner falls back to the current load.
            if s.fallback != nil { forecast = nil }
            var snapshot = PartitionSnapshot(
                id: PartitionID(p.id), range: s.history.range,
                sizeBytes: size, createdAt: s.createdAt, recent: s.history.samples, windowPeaks: peaks,
                histogram: recent, forecast: forecast, hotKey: hot)
            snapshot.forecastWithheld = s.fallback?.reason
            snapshot.measuredSamples = s.measured
            partitions.append(snapshot)
        }
        return TableSnapshot(partitions: partitions, sampleIntervalNanos: tickNanos,
                             inFlight: running.filter { $0.table == table.name }.map {
                                 InFlightReshard(action: $0.action, startedAt: $0.startedAt)
                             },
                             history: history[table.name] ?? [])
    }

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
        let horizon = max(1, Int((options.capacity.horizonNanos + stepNanos - 1) / stepNanos))
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
                        let step = reshardPlan(for: planned.action, in: table)
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
                                let job = try requestResharding(table, plan)
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
        let file = LoadHistoryFile(sampleNanos: controller.tickNanos, stepNanos: controller.stepNanos,
                                   histories: controller.historiesToSave(tables: tables))
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

    /// The middle key of the view's largest run, from its sparse index (nil without a run of
    /// more than one index entry).
    static func runMedianKey(_ view: PartitionView) -> [UInt8]? {
        guard let run = view.runs.max(by: { $0.dataLength < $1.dataLength }), run.indexCount > 1 else { return nil }
        return Array(run.record(at: run.indexEntry(run.indexCount / 2)).key)
    }

    /// The middle key of the partition's data: from the largest run's sparse index, or, while
    /// the data is all in memtables, by walking them (bounded).
    func dataMedianKey(_ p: Partition) -> [UInt8]? {
        let view = p.view
        if let median = Self.runMedianKey(view) { return median }
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
        guard let median = Self.runMedianKey(view) else { return "no stored run to compare the recent writes with" }
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
    func reshardPlan(for action: ReshardAction, in table: Table) -> ControllerStep {
        let byID = Dictionary(uniqueKeysWithValues: table.map.partitions.map { ($0.id, $0) })
        switch action {
        case .split(let id, let keys):
            guard let p = byID[id.rawValue] else { return .refused("\(id) is gone") }
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

/// A range whose forecast the controller does not trust right now: its intervals miss more
/// often than their nominal rate (the forecaster's coverage alert), so it is planned by the
/// reactive rules until they cover again.
///
/// Thread-safety: a plain value; `Sendable`.
public struct ForecastFallback: Sendable, Codable, Equatable {
    public var table: String
    public var partition: UInt64
    /// Engine time the fallback began, ns.
    public var since: UInt64
    /// The alert's breaches, in words.
    public var reason: String
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
    /// Segment bytes committed reshards handed to their targets by sharing the sources' files
    /// instead of copying them (`ReshardDataMode.shareFiles`).
    public var bytesShared = 0
    public var reshardsInFlight: Int
    /// Partition-seconds spent above capacity (controller ticks where a partition's load
    /// exceeded `CapacityModel`), over all tables.
    public var overloadSeconds: Double
    /// Mean absolute percentage error of one-step forecasts so far (nil before any).
    public var forecastError: Double?
    /// The latest table-level forecast for the next step (ops/s) with a 95% band, if any.
    public var forecast: (point: Double, lower: Double, upper: Double)?
    /// Operations per second one partition takes before its measured cost reaches the
    /// capacity model's `costBudget`, from the cost per operation measured over the last
    /// minute on this machine (nil with a fixed capacity or before any operation).
    public var measuredCapacity: Double?
    /// Why `<dir>/LOADHISTORY` was not used at open, if it was not.
    public var historyNote: String?
    /// Mean copy rate of the committed reshards that copied bytes (bytes/s), nil before any.
    public var copyBytesPerSecond: Double?
    /// The table's ranges whose forecast is not trusted right now (their coverage alert is
    /// raised), planned by the reactive rules; see `PartitioningOptions.forecastAlertWindow`.
    public var forecastFallbacks: [ForecastFallback] = []
    /// Times a range entered the reactive fallback since open, over all tables.
    public var fallbackEntries = 0

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
        let names = allTables().map(\.name)
        controller.lock.withLock {
            controller.setPolicy(policy, capacity: capacity)
            controller.publish(tables: names)
        }
    }

    /// Reshards, overload and forecast error of `table` since open. The controller's figures
    /// are those of its last tick (a second old at most with the default tick), read without
    /// waiting for a tick in progress.
    public func partitioningCounters(table name: String) throws(AugurError) -> PartitioningCounters {
        let t = try table(named: name)
        let jobs = try reshardingStatus(table: name)
        let done = jobs.filter { $0.state == .committed }
        func count(_ match: (ReshardPlan) -> Bool) -> Int { done.filter { match($0.plan) }.count }
        typealias Band = (point: Double, lower: Double, upper: Double)
        typealias Fallbacks = (current: [ForecastFallback], entries: Int)
        let (overload, error, forecast, policy, capacity, note, fallbacks): (Double, Double?, Band?, String, Double?, String?, Fallbacks) =
            controller.map { c in
                let p = c.published.withLock { $0 }
                return (p.overloadSeconds, p.forecastError, p.tableForecasts[name], p.policy, p.measuredCapacity[name], p.historyNote,
                        (current: p.fallbacks.filter { $0.table == name }, entries: p.fallbackEntries))
            } ?? (0, nil, nil, "static", nil, nil, (current: [], entries: 0))
        var counters = PartitioningCounters(
            policy: policy, partitions: t.map.partitions.count,
            splits: count { if case .split = $0 { true } else if case .splitMany = $0 { true } else { false } },
            merges: count { if case .merge = $0 { true } else { false } },
            moves: count { if case .moveBoundary = $0 { true } else { false } },
            bytesMoved: done.reduce(0) { $0 + $1.bytesCopied },
            reshardsInFlight: jobs.filter { $0.state != .committed && $0.state != .aborted }.count,
            overloadSeconds: overload, forecastError: error, forecast: forecast, measuredCapacity: capacity, historyNote: note,
            copyBytesPerSecond: { () -> Double? in
                let rates = done.filter { $0.bytesCopied > 0 && $0.throughput > 0 }.map(\.throughput)
                return rates.isEmpty ? nil : rates.reduce(0, +) / Double(rates.count)
            }())
        counters.bytesShared = done.reduce(0) { $0 + $1.bytesShared }
        counters.forecastFallbacks = fallbacks.current
        counters.fallbackEntries = fallbacks.entries
        return counters
    }
}
