import Foundation
import Histogram
import Synchronization

/// Open loop: operations start on a schedule whatever the engine does, and latency runs from
/// the *intended* start (coordinated-omission correction). Closed loop: latency runs from the
/// actual start; unthrottled, each thread issues its next operation when the previous one
/// returns; with a rate profile the thread follows the same schedule (catching up after a
/// stall, like YCSB's `-target`) but the time an operation waited for its predecessor is not
/// counted — the coordinated omission the open loop corrects.
public enum LoopMode: String, Sendable, Codable, CaseIterable { case open, closed }

/// When the measured part of a run ends.
public enum StopCondition: Sendable, Equatable {
    /// Seconds after the warm-up.
    case duration(seconds: Double)
    /// Measured operations (all threads together) after the warm-up.
    case operations(Int)
}

public struct RunConfiguration: Sendable {
    public var threads = 1
    public var loop: LoopMode = .closed
    public var profile: RateProfile = .unthrottled
    public var warmupSeconds = 0.0
    public var stop: StopCondition = .duration(seconds: 10)
    /// Width of the time-series buckets (throughput, p99, partitions), seconds.
    public var sampleInterval = 1.0
    public var seed: UInt64 = 1
    /// Hard limit on wall time for `.operations` runs, seconds.
    public var maxSeconds = 3600.0

    public init() {}

    public func validate() throws(WorkloadError) {
        if threads < 1 || threads > 1024 { throw .invalidOption(name: "threads", value: String(threads), reason: "must be in 1...1024") }
        if !(warmupSeconds >= 0 && warmupSeconds <= WorkloadLimits.maxSeconds) {
            throw .invalidOption(name: "warmup", value: formatNumber(warmupSeconds),
                                 reason: "must be in 0...\(formatNumber(WorkloadLimits.maxSeconds)) seconds")
        }
        try WorkloadLimits.checkSpan("sample-interval", sampleInterval)
        let runSeconds: Double
        switch stop {
        case .duration(let s):
            try WorkloadLimits.checkSpan("duration", s)
            runSeconds = warmupSeconds + s
        case .operations(let n):
            if n < 1 { throw .invalidOption(name: "operations", value: String(n), reason: "must be at least 1") }
            runSeconds = warmupSeconds + maxSeconds
        }
        // One sample (with its latency histogram) is kept per interval for the whole run.
        if runSeconds / sampleInterval > Double(WorkloadLimits.maxSamples) {
            throw .invalidOption(name: "sample-interval", value: formatNumber(sampleInterval),
                                 reason: "gives \(formatNumber((runSeconds / sampleInterval).rounded(.up))) samples over \(formatNumber(runSeconds)) s; at most \(WorkloadLimits.maxSamples) are kept (use at least \(formatNumber(runSeconds / Double(WorkloadLimits.maxSamples))) s)")
        }
        try profile.validate()
        if loop == .open && !profile.isThrottled {
            throw .invalidOption(name: "loop", value: "open", reason: "an open loop needs a rate profile (--profile constant|ramp|spike|diurnal|replay with --rate)")
        }
    }
}

/// Live numbers for a progress line.
public struct ProgressSnapshot: Sendable {
    public var seconds: Double
    public var totalOperations: Int
    /// Throughput and p99 of the last complete interval.
    public var opsPerSecond: Double
    public var p99Microseconds: Double?
    public var targetRate: Double?
    public var metrics: PartitionMetrics
    public var inWarmup: Bool
}

/// Latency histograms in nanoseconds.
typealias LatencyHistogram = Histogram<UInt64>

func makeHistogram(precise: Bool) -> LatencyHistogram {
    LatencyHistogram(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000,
                     numberOfSignificantValueDigits: precise ? .three : .two)
}

extension LatencyHistogram {
    mutating func recordClamped(_ ns: UInt64) {
        _ = record(Swift.min(Swift.max(ns, 1), highestTrackableValue))
    }
}

/// Per-interval data from all threads.
struct IntervalAccumulator {
    var counts: [OperationKind: Int] = [:]
    var errors = 0
    var histogram = makeHistogram(precise: false)
}

/// Collects intervals flushed by the threads and engine metrics sampled once per interval.
/// Thread-safety: the private `var`s are read and written only under `lock`; the rest is immutable
/// after init (`total` is an atomic counter).
final class SeriesCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var intervals: [Int: IntervalAccumulator] = [:]
    private var metrics: [Int: PartitionMetrics] = [:]
    private var events: [ReshardEvent] = []
    private var sampledUpTo = -1
    let interval: Double
    let store: any KeyValueStore
    let profile: RateProfile
    let warmup: Double
    let total = Counter()
    let progress: (@Sendable (ProgressSnapshot) -> Void)?

    init(interval: Double, store: any KeyValueStore, profile: RateProfile, warmup: Double,
         progress: (@Sendable (ProgressSnapshot) -> Void)?) {
        self.interval = interval
        self.store = store
        self.profile = profile
        self.warmup = warmup
        self.progress = progress
    }

    func add(index: Int, counts: [OperationKind: Int], errors: Int, histogram: LatencyHistogram) {
        lock.lock()
        var acc = intervals[index] ?? IntervalAccumulator()
        for (k, n) in counts { acc.counts[k, default: 0] += n }
        acc.errors += errors
        acc.histogram.add(histogram)
        intervals[index] = acc
        lock.unlock()
        sample(upTo: index)
    }

    /// Samples engine metrics for interval `index` (once, by whichever thread gets there first).
    func sample(upTo index: Int) {
        lock.lock()
        if sampledUpTo >= index { lock.unlock(); return }
        sampledUpTo = index
        lock.unlock()
        let m = store.partitionMetrics()
        let t = Double(index + 1) * interval
        lock.lock()
        metrics[index] = m
        for var e in m.events {
            e.seconds = t
            events.append(e)
        }
        let previous = intervals[index - 1]
        lock.unlock()
        if let progress, index > 0 {
            let ops = previous.map { Double($0.counts.values.reduce(0, +)) / interval } ?? 0
            let p99 = previous.flatMap { $0.histogram.totalCount > 0 ? Double($0.histogram.valueAtPercentile(99)) / 1000 : nil }
            progress(ProgressSnapshot(seconds: Double(index) * interval, totalOperations: total.value, opsPerSecond: ops,
                                      p99Microseconds: p99, targetRate: profile.rate(atSeconds: (Double(index) - 0.5) * interval), metrics: m,
                                      inWarmup: Double(index) * interval <= warmup + 1e-9))
        }
    }

    func series(lastSeconds: Double, scheduledEnd: Double?) -> (samples: [IntervalSample], events: [ReshardEvent]) {
        lock.lock()
        defer { lock.unlock() }
        var last = Swift.max(intervals.keys.max() ?? -1, metrics.keys.max() ?? -1)
        // Completions after a duration run's scheduled end (the open loop's backlog) count in
        // the totals but do not get a partial interval of their own.
        if let scheduledEnd {
            let lastFull = Int((scheduledEnd / interval).rounded(.up)) - 1
            last = Swift.min(last, Swift.max(lastFull, 0))
        }
        var out: [IntervalSample] = []
        var carried: PartitionMetrics? = nil
        if last >= 0 {
            for k in 0...last {
                let start = Double(k) * interval
                let end = Double(k + 1) * interval
                let width = scheduledEnd != nil ? Swift.min(end, scheduledEnd!) - start
                    : Swift.max(1e-9, Swift.min(end, Swift.max(lastSeconds, start + 1e-9)) - start)
                let acc = intervals[k]
                if let m = metrics[k] { carried = m }
                let n = acc.map { $0.counts.values.reduce(0, +) } ?? 0
                var perKind: [String: Double] = [:]
                for (kind, c) in acc?.counts ?? [:] { perKind[kind.rawValue] = Double(c) / width }
                let hist = acc?.histogram
                let has = (hist?.totalCount ?? 0) > 0
                out.append(IntervalSample(
                    seconds: end, opsPerSecond: Double(n) / width, perOperation: perKind,
                    p50Microseconds: has ? Double(hist!.valueAtPercentile(50)) / 1000 : nil,
                    p99Microseconds: has ? Double(hist!.valueAtPercentile(99)) / 1000 : nil,
                    targetRate: profile.rate(atSeconds: start + interval / 2),
                    errors: acc?.errors ?? 0,
                    partitions: metrics[k]?.partitions ?? carried?.partitions,
                    reshardsInFlight: metrics[k]?.reshardsInFlight,
                    forecast: metrics[k]?.forecast,
                    warmup: end <= warmup + 1e-9))
            }
        }
        return (out, events)
    }

    var latestMetrics: PartitionMetrics? {
        lock.lock()
        defer { lock.unlock() }
        return metrics.keys.max().map { metrics[$0]! }
    }
}

/// One thread's measurements.
/// Thread-safety: unguarded; written only by its runner thread, read by `run()` after
/// `runThreads` has waited for every thread (the DispatchGroup wait orders the accesses).
final class ThreadRecorder: @unchecked Sendable {
    var histograms: [OperationKind: LatencyHistogram] = [:]
    var errors: [OperationKind: Int] = [:]
    var firstError: String?
    var measured = 0
    var firstMeasuredNs: UInt64 = .max
    var lastCompletionNs: UInt64 = 0
    /// Bytes of keys and values this thread's successful puts carried (warm-up included).
    var bytesPut: UInt64 = 0
    // Current interval.
    var intervalIndex = 0
    var intervalCounts: [OperationKind: Int] = [:]
    var intervalErrors = 0
    var intervalHistogram = makeHistogram(precise: false)
    var intervalHasData = false
    let collector: SeriesCollector

    init(collector: SeriesCollector) { self.collector = collector }

    func record(kind: OperationKind, latencyNs: UInt64, failed: Bool, error: (any Error)?, measured isMeasured: Bool, interval: Int) {
        if interval != intervalIndex { flushInterval(next: interval) }
        intervalHasData = true
        intervalCounts[kind, default: 0] += 1
        intervalHistogram.recordClamped(latencyNs)
        if failed {
            intervalErrors += 1
            if isMeasured { errors[kind, default: 0] += 1 }
            if firstError == nil, let error { firstError = "\(kind.rawValue): \(error)" }
        }
        if isMeasured {
            measured += 1
            histograms[kind, default: makeHistogram(precise: true)].recordClamped(latencyNs)
        }
    }

    func flushInterval(next: Int) {
        if intervalHasData {
            collector.add(index: intervalIndex, counts: intervalCounts, errors: intervalErrors, histogram: intervalHistogram)
            intervalCounts.removeAll(keepingCapacity: true)
            intervalErrors = 0
            intervalHistogram.reset()
            intervalHasData = false
        }
        intervalIndex = next
    }
}

/// Runs a workload against a store: loads it, then drives N threads open- or closed-loop and
/// records latencies per operation type, a time series and the engine's partition counters.
/// Thread-safety: `progress` and `collector` are unguarded: set `progress` before `run()`, and
/// call `load()`/`run()` from one thread at a time. `requestStop()` and `bytesPut` are atomic.
public final class WorkloadRunner: @unchecked Sendable {
    public let store: any KeyValueStore
    public let spec: WorkloadSpec
    public let config: RunConfiguration
    public let clock: any WorkloadClock
    /// Called about once per sample interval from a runner thread (keep it quick).
    public var progress: (@Sendable (ProgressSnapshot) -> Void)?
    private let stopRequested = Flag()
    private var collector: SeriesCollector?
    private let putBytes = Atomic<UInt64>(0)

    /// Bytes of keys and values put by `load()` and `run()` so far (successful puts and
    /// batches, warm-up included): the user bytes of a write-amplification figure.
    public var bytesPut: UInt64 { putBytes.load(ordering: .acquiring) }

    public init(store: any KeyValueStore, spec: WorkloadSpec, config: RunConfiguration, clock: any WorkloadClock = SystemWorkloadClock()) {
        self.store = store
        self.spec = spec
        self.config = config
        self.clock = clock
    }

    /// Asks a running `run()` to stop after the operations in flight (e.g. on SIGINT).
    public func requestStop() { stopRequested.set(true) }

    /// Inserts key numbers `0..<spec.recordCount` in batches of `batchSize`, split across the
    /// configured threads, then flushes.
    public func load(batchSize: Int = 1000) throws -> LoadPhaseSummary {
        let n = spec.recordCount
        guard n > 0 else { return LoadPhaseSummary(records: 0, seconds: 0, recordsPerSecond: 0) }
        let started = clock.nanoseconds()
        let threads = Swift.min(config.threads, Int(Swift.max(1, n / UInt64(batchSize))))
        let failure = Mutex<String?>(nil)
        let spec = self.spec, store = self.store, seed = config.seed, stop = stopRequested
        runThreads(threads) { t in
            var rng = WorkloadRandom(seed: seed ^ 0x10AD, stream: UInt64(t))
            let lo = n * UInt64(t) / UInt64(threads), hi = n * UInt64(t + 1) / UInt64(threads)
            var k = lo
            while k < hi && !stop.isSet {          // Ctrl-C during a long load stops it too
                let end = Swift.min(hi, k + UInt64(batchSize))
                var ops: [BatchOperation] = []
                ops.reserveCapacity(Int(end - k))
                for i in k..<end {
                    let value = (0..<spec.valueSize).map { _ in UInt8(truncatingIfNeeded: rng.next() % 95 + 32) }
                    ops.append(.put(key: spec.key(i), value: value))
                }
                do { try store.write(ops) } catch {
                    failure.withLock { if $0 == nil { $0 = "\(error)" } }
                    return
                }
                self.putBytes.add((end - k) * UInt64(spec.keySize + spec.valueSize), ordering: .relaxed)
                k = end
            }
        }
        if let f = failure.withLock({ $0 }) { throw WorkloadRunError.loadFailed(f) }
        if stop.isSet { throw WorkloadRunError.interrupted }
        try store.flush()
        let seconds = Double(clock.nanoseconds() - started) / 1e9
        return LoadPhaseSummary(records: Int(n), seconds: seconds, recordsPerSecond: seconds > 0 ? Double(n) / seconds : 0)
    }

    /// Runs the measured workload (after `load()` when the workload needs preloaded records).
    public func run() throws -> RunResult {
        try config.validate()
        try spec.validate()
        let config = self.config, spec = self.spec, store = self.store, clock = self.clock
        let collector = SeriesCollector(interval: config.sampleInterval, store: store, profile: config.profile,
                                        warmup: config.warmupSeconds, progress: progress)
        self.collector = collector
        let shared = WorkloadSharedState(spec: spec)
        let warmup = config.warmupSeconds
        let endSeconds: Double
        let opLimit: Int
        switch config.stop {
        case .duration(let s): endSeconds = warmup + s; opLimit = .max
        case .operations(let n): endSeconds = config.maxSeconds; opLimit = n
        }
        let measuredIssued = Counter()
        let stop = stopRequested
        stop.set(false)
        let throttled = config.profile.isThrottled
        let open = config.loop == .open
        let interval = config.sampleInterval
        let recorders = (0..<config.threads).map { _ in ThreadRecorder(collector: collector) }
        // Metrics at t = 0 (initial partition count).
        let initial = store.partitionMetrics()
        let startNs = clock.nanoseconds()

        runThreads(config.threads) { t in
            let rec = recorders[t]
            var gen = RequestGenerator(spec: spec, shared: shared, seed: config.seed, threadIndex: t)
            var schedule = OpenLoopSchedule(profile: config.profile, threads: config.threads, index: t)
            while !stop.isSet {
                var intendedNs: UInt64
                let intendedSeconds: Double
                if throttled {
                    guard let s = schedule.next(before: endSeconds) else { break }
                    intendedSeconds = s
                    intendedNs = startNs &+ UInt64(s * 1e9)
                    clock.sleep(untilNanoseconds: intendedNs)
                } else {
                    intendedNs = clock.nanoseconds()
                    intendedSeconds = Double(intendedNs &- startNs) / 1e9
                    if intendedSeconds >= endSeconds { break }
                }
                let isMeasured = intendedSeconds >= warmup
                if isMeasured && opLimit != .max {
                    if measuredIssued.next() >= opLimit {
                        stop.set(true)
                        break
                    }
                }
                let request = gen.next(atSeconds: intendedSeconds)
                let actualStart = clock.nanoseconds()
                var failed = false
                var failure: (any Error)? = nil
                do {
                    switch request.kind {
                    case .read: _ = try store.get(request.key)
                    case .update:
                        try store.put(request.key, request.value)
                        rec.bytesPut &+= UInt64(request.key.count + request.value.count)
                    case .insert:
                        try store.put(request.key, request.value)
                        rec.bytesPut &+= UInt64(request.key.count + request.value.count)
                        gen.acknowledgeInsert(request.keynum)
                    case .scan: _ = try store.scan(from: request.key, limit: request.scanLength)
                    case .readModifyWrite:
                        _ = try store.get(request.key)
                        try store.put(request.key, request.value)
                        rec.bytesPut &+= UInt64(request.key.count + request.value.count)
                    case .delete: try store.delete(request.key)
                    case .batch:
                        try store.write(request.batch)
                        for case let .put(k, v) in request.batch { rec.bytesPut &+= UInt64(k.count + v.count) }
                    }
                } catch {
                    failed = true
                    failure = error
                }
                let end = clock.nanoseconds()
                if !open { intendedNs = actualStart }
                let latency = end >= intendedNs ? end - intendedNs : 0
                let elapsed = end &- startNs
                rec.record(kind: request.kind, latencyNs: latency, failed: failed, error: failure, measured: isMeasured,
                           interval: Int(Double(elapsed) / 1e9 / interval))
                if isMeasured {
                    if rec.firstMeasuredNs == .max { rec.firstMeasuredNs = intendedNs }
                    rec.lastCompletionNs = end
                }
                collector.total.next()
            }
            rec.flushInterval(next: .max)
            self.putBytes.add(rec.bytesPut, ordering: .relaxed)
        }
        let finishedNs = clock.nanoseconds()
        let runSeconds = Double(finishedNs - startNs) / 1e9
        // Final engine sample at the end of the run.
        let lastIndex = Swift.max(0, Int((runSeconds / interval).rounded(.up)) - 1)
        collector.sample(upTo: lastIndex)
        let final = collector.latestMetrics ?? store.partitionMetrics()

        // Measured window: from the end of warm-up to the last completion (duration runs: to
        // the scheduled end when the run went the distance).
        let measuredOps = recorders.reduce(0) { $0 + $1.measured }
        let lastCompletion = recorders.map(\.lastCompletionNs).max() ?? startNs
        var measuredSeconds = Double(Swift.max(lastCompletion, startNs) - startNs) / 1e9 - warmup
        if case .duration(let d) = config.stop, !stop.isSet { measuredSeconds = Swift.max(measuredSeconds, d) }
        if measuredSeconds <= 0 { measuredSeconds = Swift.max(1e-9, runSeconds - warmup) }

        var perKind: [OperationKind: LatencyHistogram] = [:]
        var errors: [OperationKind: Int] = [:]
        for r in recorders {
            for (k, h) in r.histograms { perKind[k, default: makeHistogram(precise: true)].add(h) }
            for (k, e) in r.errors { errors[k, default: 0] += e }
        }
        var all = makeHistogram(precise: true)
        var summaries: [OperationSummary] = []
        for k in perKind.keys.sorted() {
            let h = perKind[k]!
            all.add(h)
            summaries.append(OperationSummary(kind: k.rawValue, histogram: h, errors: errors[k] ?? 0, seconds: measuredSeconds))
        }
        var scheduledEnd: Double? = nil
        if case .duration = config.stop, !stop.isSet { scheduledEnd = endSeconds }
        let (samples, events) = collector.series(lastSeconds: runSeconds, scheduledEnd: scheduledEnd)
        var forecastError = final.forecastError
        if forecastError == nil {
            let pairs = samples.filter { !$0.warmup && $0.forecast != nil && $0.opsPerSecond > 0 }
            if !pairs.isEmpty {
                forecastError = pairs.reduce(0) { $0 + abs($1.forecast!.predicted - $1.opsPerSecond) / $1.opsPerSecond } / Double(pairs.count)
            }
        }
        func delta<T: Numeric>(_ a: T?, _ b: T?) -> T? { if let a, let b { return b - a }; return nil }
        let counts = samples.compactMap(\.partitions)
        var partitions = PartitionSummary(
            atStart: initial.partitions, atEnd: final.partitions,
            maximum: counts.max() ?? final.partitions,
            mean: counts.isEmpty ? final.partitions.map(Double.init) : Double(counts.reduce(0, +)) / Double(counts.count),
            splits: delta(initial.splits, final.splits), merges: delta(initial.merges, final.merges),
            moves: delta(initial.moves, final.moves), bytesMoved: delta(initial.bytesMoved, final.bytesMoved),
            overloadSeconds: delta(initial.overloadSeconds, final.overloadSeconds), forecastError: forecastError)
        partitions.bytesShared = delta(initial.bytesShared, final.bytesShared)
        partitions.measuredCapacity = final.measuredCapacity
        partitions.copyBytesPerSecond = final.copyBytesPerSecond
        partitions.forecastFallbacks = delta(initial.forecastFallbacks, final.forecastFallbacks)
        partitions.writeStalls = delta(initial.writeStalls, final.writeStalls)
        partitions.writeStallSeconds = delta(initial.writeStallSeconds, final.writeStallSeconds)
        let firstError = recorders.compactMap(\.firstError).first
        return RunResult(
            engine: store.engineName, workload: spec.name, workloadSummary: spec.summary,
            mix: spec.mix.summary, distribution: spec.distributionSummary,
            keySize: spec.keySize, valueSize: spec.valueSize, keyOrder: spec.keyOrder.rawValue,
            records: Int(spec.recordCount), threads: config.threads, loop: config.loop.rawValue,
            profile: config.profile.description, seed: config.seed, warmupSeconds: warmup,
            measuredSeconds: measuredSeconds, runSeconds: runSeconds,
            operations: measuredOps, errors: errors.values.reduce(0, +), firstError: firstError,
            throughput: Double(measuredOps) / measuredSeconds,
            all: OperationSummary(kind: "all", histogram: all, errors: errors.values.reduce(0, +), seconds: measuredSeconds),
            perOperation: summaries, partitions: partitions, series: samples, events: events, load: nil)
    }
}

public enum WorkloadRunError: Error, CustomStringConvertible {
    case loadFailed(String)
    /// A stop was requested (SIGINT, SIGTERM) before loading finished.
    case interrupted
    public var description: String {
        switch self {
        case .loadFailed(let m): "loading records failed: \(m)"
        case .interrupted: "interrupted while loading records"
        }
    }
}

/// Runs `body(i)` for i in 0..<n on n threads and waits for all of them.
func runThreads(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
    if n == 1 { body(0); return }
    let group = DispatchGroup()
    for i in 0..<n {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
}

/// A shared flag.
final class Flag: Sendable {
    private let v = Atomic<Bool>(false)
    var isSet: Bool { v.load(ordering: .relaxed) }
    func set(_ value: Bool) { v.store(value, ordering: .relaxed) }
}

/// A shared counter.
final class Counter: Sendable {
    private let v = Atomic<Int>(0)
    /// Increments and returns the previous value.
    @discardableResult
    func next() -> Int { v.wrappingAdd(1, ordering: .relaxed).oldValue }
    var value: Int { v.load(ordering: .relaxed) }
}
