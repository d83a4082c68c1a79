// The partitioning controller: every tick of the engine clock it snapshots telemetry, feeds
// each partition's load into its forecaster, asks the planner for a plan and hands the
// actions to the reshard executor — or, in shadow mode, only logs them. Ingestion never waits
// for it: it reads relaxed counters and immutable snapshots, and reshards run on their own queue.
//
// Files: the controller's state, series and snapshots here; its forecast steps and bookkeeping
// in ControllerSteps.swift; the engine's tick, plans and files in ControllerTick.swift; the
// options and decision record in PartitioningOptions.swift; what users read and switch in
// PartitioningAPI.swift.
import AugurForecast
import AugurPlanner
import AugurStats
import AugurSys
import Dispatch
import FoundationEssentials
import Synchronization


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
    var forecastErrorSum = 0.0
    var forecastErrorCount = 0
    /// Table-level forecast for the step in progress (sum over partitions) with a 95% band.
    var tableForecasts: [String: (point: Double, lower: Double, upper: Double)] = [:]
    var forecastError: Double? { forecastErrorCount > 0 ? forecastErrorSum / Double(forecastErrorCount) : nil }
    var series: [UInt64: Series] = [:]
    var running: [Running] = []
    var history: [String: [CompletedReshard]] = [:]
    var lastPlans: [String: Plan] = [:]
    /// Refused actions by table and rendered action, with the engine time they were last logged.
    var refusals: [String: UInt64] = [:]
    /// Engine time the forecast step in progress started (nil before the first tick).
    var stepStartedAt: UInt64?
    /// Saved histories not yet handed to a partition, by table (from LOADHISTORY at open).
    var restored: [String: [RangeLoadHistory]] = [:]
    /// Why LOADHISTORY was not used, if it was not.
    private(set) var historyNote: String?
    /// Ranges whose history came from LOADHISTORY.
    private(set) var restoredRanges = 0
    var lastHistorySave: UInt64 = 0
    /// Cost and operations summed over the last minute of ticks, per table: the measured cost
    /// per operation behind `measuredCapacity`.
    var costWindow: [String: [(cost: Double, ops: Double)]] = [:]
    /// Per table (predictive only): load by key position step by step, and where it is going.
    var keyLoads: [String: TableKeyLoad] = [:]
    /// Steps since each table's key grid was built (its focus is checked every minute).
    var keyLoadAge: [String: Int] = [:]
    /// Times a range entered the reactive fallback since open.
    var fallbackEntries = 0

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

    /// The forecasts' horizon in whole forecast steps (rounded up, at least 1): how far the
    /// load and key-share forecasters look ahead, and what `checkForecastHorizon` bounds.
    static func horizonSteps(_ horizonNanos: UInt64, step: UInt64) -> Int {
        let step = max(1, step)
        return max(1, Int((horizonNanos + step - 1) / step))
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
        fo.horizon = Self.horizonSteps(options.capacity.horizonNanos, step: stepNanos)
        fo.seasonalPeriods = options.seasonalPeriods.map { Self.steps(of: $0, step: stepNanos) }
        // The binomial test needs a few misses to mean anything: never fewer than 10 steps.
        fo.alert.window = max(10, Self.steps(of: options.forecastAlertWindow, step: stepNanos))
        // Seeded with the range's history: a split's child forecasts from its first step.
        return try? ForecastEnsemble(options: fo, history: steps)
    }

    /// The series a new partition starts with: the history of the range it covers, taken from
    /// the partitions that just left the map (a reshard's sources) or, at open, from the saved
    /// histories; its counters start at their current values (inherited counts are not load).
    func born(_ p: Partition, sources: [(series: Series, share: Double)], saved: [RangeLoadHistory], now: UInt64, real: UInt64) -> Series {
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
                return Double(v.runs.reduce(0) { $0 + $1.recordCount } + v.memtableRecords)
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
            let size = UInt64(v.runs.reduce(0) { $0 + $1.storedBytes } + v.memtableBytes)
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
}
