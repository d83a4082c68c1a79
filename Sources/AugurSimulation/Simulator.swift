import AugurPlanner
import AugurStats

/// A deterministic simulation of one table under one planner policy.
///
/// Each simulated second (the injected engine clock, `t × 10⁹` ns):
/// 1. reshards whose copy time has elapsed take effect (children get apportioned telemetry
///    history and re-seeded forecasters);
/// 2. every partition serves `rate(t) × share(range, t)` ops/s with seeded sampling noise;
///    the capacity model decides overload, which is counted;
/// 3. every `forecastStepSeconds` each partition's mean load is fed to its forecaster (only
///    the past is observed); every `histogramRefreshSeconds` its histogram is rebuilt from the
///    last interval's load (or, with `histogramWindow = .engineMarks`, every second from the
///    load since the oldest kept mark, as the engine's controller does);
/// 4. the planner gets a snapshot and returns a plan; the executor starts its actions, each
///    taking the time `capacity.reshardCost` (``ReshardCostModel``) predicts before it takes
///    effect (one after another with `serialReshards`), copying the bytes it predicts.
///
/// Thread-safety: not thread-safe; one run per instance on one thread. Instances share
/// nothing, so different policies may run on different threads.
public final class Simulator {
    public let options: SimulationOptions
    public let policy: PlannerPolicy
    let profile: LoadTrace
    let load: KeySpaceLoad
    let planner: Planner
    let validator: PlanValidator
    /// The engine's planner while the prelude loads records (static, size splits only).
    let preludePlanner: Planner
    let preludeValidator: PlanValidator
    /// Seconds of prelude before the profile (``SimulationOptions/prelude``).
    let preludeSeconds: Int
    let withForecasts: Bool
    let durationSeconds: Int

    var partitions: [SimPartition] = []
    var nextID: UInt64 = 1
    var inFlight: [RunningReshard] = []
    var history: [CompletedReshard] = []
    var splitProducedAt: [PartitionID: Int] = [:]
    var hotKeyReported = Set<PartitionID>()
    var metrics: SimulationMetrics
    var leads: LeadTimeTracker
    var actionCounter = 0
    var partitionSecondsSum = 0.0
    /// When the serial reshard queue is next free (``SimulationOptions/serialReshards``). Unit: s.
    var queueFreeAt = 0.0
    /// One line per started action when `options.recordActions` is set.
    public internal(set) var actionLog: [String] = []

    /// An action the executor is performing.
    struct RunningReshard {
        var planned: PlannedAction
        var issuedAt: Int
        var completesAt: Int
        var key: Int
        /// Bytes the action copies (counted in `bytesCommitted` when it completes).
        var bytes: UInt64
    }

    /// Prepares a run over `rows` (the rate profile's raw values).
    public init(rows: [Double], options: SimulationOptions, policy: PlannerPolicy) {
        precondition(options.validationErrors().isEmpty, "invalid options: \(options.validationErrors())")
        self.options = options
        self.policy = policy
        let used = options.rows.map { Array(rows.prefix($0)) } ?? rows
        profile = LoadTrace(rows: used, secondsPerRow: options.secondsPerRow,
                              peakOpsPerSecond: options.peakMultiple * options.capacity.opsPerSecond)
        load = KeySpaceLoad(options: options)
        planner = Planner(policy: policy, splitsBySize: options.splitsBySize)
        validator = PlanValidator(policy: policy, capacity: options.capacity)
        preludePlanner = Planner(policy: .static, splitsBySize: options.splitsBySize)
        preludeValidator = PlanValidator(policy: .static, capacity: options.capacity)
        preludeSeconds = options.prelude?.seconds ?? 0
        if case .predictive = policy { withForecasts = true } else { withForecasts = options.forecastsForAllPolicies }
        durationSeconds = Int(profile.durationSeconds.rounded(.down))
        metrics = SimulationMetrics(policy: policy.name)
        leads = LeadTimeTracker(watchSeconds: options.leadWatchSeconds)
        let n = options.initialPartitions
        for i in 0..<n {
            let lower = i == 0 ? [] : SimKey.key(Double(i) / Double(n))
            let upper: [UInt8]? = i == n - 1 ? nil : SimKey.key(Double(i + 1) / Double(n))
            let p = makePartition(KeyRange(lower: lower, upper: upper), createdAt: 0, state: .active)
            p.resolvesKeys = options.initialHistogramResolvesKeys
            if withForecasts { p.startForecaster(options: options) }
            partitions.append(p)
        }
    }

    func makePartition(_ range: KeyRange, createdAt: UInt64, state: PartitionState) -> SimPartition {
        let p = SimPartition(id: PartitionID(nextID), range: range, createdAt: createdAt, state: state,
                             totalDataBytes: options.totalDataBytes, options: options)
        nextID += 1
        return p
    }

    static func nanos(_ t: Int) -> UInt64 { UInt64(t) * 1_000_000_000 }

    // MARK: - Load at an engine second (the prelude, then the profile)

    /// Total load at engine second `t`. Unit: ops/s.
    func tableRate(_ t: Int) -> Double {
        t < preludeSeconds ? options.prelude!.opsPerSecond : profile.opsPerSecond(at: Double(t - preludeSeconds))
    }

    /// Share of the table's load on key positions `[lo, hi)` at engine second `t`.
    func share(_ lo: Double, _ hi: Double, _ t: Int) -> Double {
        t < preludeSeconds ? max(0, hi - lo) : load.mass(from: lo, to: hi, at: Double(t - preludeSeconds))
    }

    /// Shares of the intervals between sorted `edges` at engine second `t`.
    func shares(edges: [Double], _ t: Int) -> [Double] {
        t < preludeSeconds ? (1..<edges.count).map { max(0, edges[$0] - edges[$0 - 1]) }
            : load.masses(edges: edges, at: Double(t - preludeSeconds))
    }

    /// Fraction of operations that write at engine second `t` (the prelude only writes).
    func writeFraction(_ t: Int) -> Double { t < preludeSeconds ? 1 : options.writeFraction }

    /// Expected (noise-free) utilization of key positions `[lo, hi)` at second `t`.
    func expectedUtilization(_ lo: Double, _ hi: Double, _ t: Int) -> Double {
        let ops = tableRate(t) * share(lo, hi, t)
        return options.capacity.utilization(LoadSample(opsPerSecond: ops, writeBytesPerSecond: ops * writeFraction(t) * options.valueBytes))
    }

    /// Runs the prelude (if any) and the whole profile, and returns the metrics of the profile.
    public func run() -> SimulationMetrics {
        let cap = options.capacity
        let seed = options.seed
        let stepNanos = UInt64(options.forecastStepSeconds) * 1_000_000_000
        var marks: (seconds: Int, kept: Int)? = nil
        if case let .engineMarks(markSeconds, marksKept) = options.histogramWindow { marks = (markSeconds, marksKept) }
        for t in 0..<(preludeSeconds + durationSeconds) {
            let now = Self.nanos(t)
            if t == preludeSeconds && t > 0 {
                // The profile starts: metrics count from here (in-flight reshards count when they commit).
                metrics = SimulationMetrics(policy: policy.name)
                partitionSecondsSum = 0
                leads = LeadTimeTracker(watchSeconds: options.leadWatchSeconds)
            }
            completeDue(t)

            // Load this second.
            let global = 1 + options.globalNoise * SplitMix64.normal(SplitMix64.mix(seed &+ UInt64(t) &* 0x9E37), SplitMix64.mix(seed ^ 0xA5A5 &+ UInt64(t)))
            let rate = tableRate(t) * max(0, global)
            let wf = writeFraction(t)
            let wbPerOp = wf * options.valueBytes
            let centre = load.centre(at: Double(t - preludeSeconds))
            for p in partitions {
                let expected = rate * (t < preludeSeconds ? p.hi - p.lo : load.mass(from: p.lo, to: p.hi, centre: centre))
                let h = SplitMix64.mix(seed ^ UInt64(t) &* 0x2545_F491_4F6C_DD1D ^ p.lo.bitPattern)
                let noisy = expected * max(0, 1 + options.sampleNoise * SplitMix64.normal(h, SplitMix64.mix(h)))
                let sample = LoadSample(opsPerSecond: noisy, writeBytesPerSecond: noisy * wbPerOp)
                p.record(sample)
                if let marks {
                    p.count(ops: noisy, bucketLoad: shares(edges: p.bucketEdges, t), writeFraction: wf)
                    p.histogram = p.markedHistogram(at: t, markSeconds: marks.seconds, marksKept: marks.kept, valueBytes: options.valueBytes)
                    observeHotKey(p, bucketMasses: nil, t: t)
                }
                metrics.totalOps += noisy
                let u = cap.utilization(sample)
                if u > 1 {
                    metrics.overloadPartitionSeconds += 1
                    metrics.opsOnOverloadedPartitions += noisy
                    metrics.excessOps += noisy * (1 - 1 / u)
                }
            }
            partitionSecondsSum += Double(partitions.count)
            metrics.maxPartitions = max(metrics.maxPartitions, partitions.count)
            leads.tick(t, utilization: expectedUtilization)

            // Telemetry refresh.
            if (t + 1) % options.forecastStepSeconds == 0 {
                for p in partitions {
                    p.closeStep(now: now, stepNanos: stepNanos, windowsSeconds: options.peakWindowsSeconds,
                                stepSeconds: options.forecastStepSeconds)
                }
            }
            if marks == nil, t % options.histogramRefreshSeconds == 0 {
                for p in partitions { refreshHistogram(p, t: t, rate: rate) }
            }

            // Plan and execute.
            let snapshot = makeSnapshot(t)
            let inPrelude = t < preludeSeconds
            let plan = (inPrelude ? preludePlanner : planner).plan(snapshot, capacity: cap, now: now)
            if !plan.actions.isEmpty {
                metrics.planViolations += (inPrelude ? preludeValidator : validator).validate(plan, snapshot: snapshot, now: now).count
            }
            for f in plan.findings where f.code == .hotKey {
                for id in f.partitions where hotKeyReported.insert(id).inserted { metrics.hotKeyReports += 1 }
            }
            for a in plan.actions { start(a, at: t) }
        }
        metrics.simulatedSeconds = durationSeconds
        metrics.finalPartitions = partitions.count
        metrics.meanPartitions = durationSeconds > 0 ? partitionSecondsSum / Double(durationSeconds) : 0
        metrics.leadTimes = leads.leads
        metrics.leadNoOverload = leads.noOverload
        return metrics
    }

    /// Rebuilds `p`'s histogram from the load of the last refresh interval (expected counts).
    func refreshHistogram(_ p: SimPartition, t: Int, rate: Double) {
        let masses = shares(edges: p.bucketEdges, t)
        let window = Double(options.histogramRefreshSeconds)
        let n = masses.count
        var reads = [UInt64](repeating: 0, count: n), writes = reads, readBytes = reads, writeBytes = reads
        for b in 0..<n {
            let ops = rate * masses[b] * window
            let w = ops * writeFraction(t)
            let r = ops - w
            reads[b] = UInt64(r.rounded())
            writes[b] = UInt64(w.rounded())
            readBytes[b] = UInt64((r * options.valueBytes).rounded())
            writeBytes[b] = UInt64((w * options.valueBytes).rounded())
        }
        p.histogram = HistogramSnapshot(map: p.map, reads: reads, writes: writes, readBytes: readBytes, writeBytes: writeBytes)
        observeHotKey(p, bucketMasses: masses, t: t)
    }

    /// The hot key, when it lies in `p` and stands out (≥ 10% of its load at second `t`).
    func observeHotKey(_ p: SimPartition, bucketMasses: [Double]?, t: Int) {
        p.hotKey = nil
        if options.hotKeyShare > 0, p.lo <= options.hotKeyPosition, options.hotKeyPosition < p.hi {
            let total = bucketMasses.map { $0.reduce(0, +) } ?? share(p.lo, p.hi, t)
            let share = options.hotKeyShare / max(total, 1e-300)
            if share >= 0.1 { p.hotKey = HotKeyObservation(key: SimKey.key(options.hotKeyPosition), loadFraction: min(1, share)) }
        }
    }

    func makeSnapshot(_ t: Int) -> TableSnapshot {
        let retention = UInt64(options.historyRetentionSeconds) * 1_000_000_000
        let now = Self.nanos(t)
        if let first = history.first, first.completedAt &+ retention < now {
            history.removeAll { $0.completedAt &+ retention < now }
        }
        return TableSnapshot(partitions: partitions.map { $0.snapshot() }, sampleIntervalNanos: 1_000_000_000,
                             inFlight: inFlight.map { InFlightReshard(action: $0.planned.action, startedAt: Self.nanos($0.issuedAt),
                                                                       expectedCompletionAt: Self.nanos($0.completesAt)) },
                             history: history)
    }
}
