import AugurSys
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
    /// Reads ask for the value's length in place (`KeyValueStore.readLength`) instead of a copy.
    public var zeroCopyReads = false

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

/// Runs a workload against a store: loads it, then drives N threads open- or closed-loop and
/// records latencies per operation type, a time series and the engine's partition counters.
/// Thread-safety: `progress`, `stolenSeconds` and `collector` are unguarded: set the first two before `run()`, and
/// call `load()`/`run()` from one thread at a time. `requestStop()` and `bytesPut` are atomic.
public final class WorkloadRunner: @unchecked Sendable {
    public let store: any KeyValueStore
    public let spec: WorkloadSpec
    public let config: RunConfiguration
    public let clock: any WorkloadClock
    /// Called about once per sample interval from a runner thread (keep it quick).
    public var progress: (@Sendable (ProgressSnapshot) -> Void)?
    /// The host's cumulative stolen CPU seconds (HostSteal.swift), read at the start and once
    /// per sample interval from a runner thread; nil (the default): steal is not measured.
    public var stolenSeconds: (@Sendable () -> Double?)?
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
    /// configured threads, then flushes. With `ingest`, the same records (values drawn the
    /// same way) are sorted by key and handed to the store's bulk ingest in one call; the sort
    /// is timed with it.
    public func load(batchSize: Int = 1000, ingest: Bool = false) throws -> LoadPhaseSummary {
        let n = spec.recordCount
        guard n > 0 else { return LoadPhaseSummary(records: 0, seconds: 0, recordsPerSecond: 0) }
        let started = clock.nanoseconds()
        if ingest { try loadThroughIngest(n) } else { try loadInBatches(n, batchSize: batchSize) }
        try store.flush()
        let seconds = Double(clock.nanoseconds() - started) / 1e9
        return LoadPhaseSummary(records: Int(n), seconds: seconds, recordsPerSecond: seconds > 0 ? Double(n) / seconds : 0)
    }

    /// A loaded record's value: `size` printable bytes.
    private static func loadValue(_ rng: inout WorkloadRandom, size: Int) -> [UInt8] {
        (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next() % 95 + 32) }
    }

    private func loadThroughIngest(_ n: UInt64) throws {
        var rng = WorkloadRandom(seed: config.seed ^ 0x10AD, stream: 0)
        var records: [(key: [UInt8], value: [UInt8])] = []
        records.reserveCapacity(Int(n))
        for i in 0..<n { records.append((spec.key(i), Self.loadValue(&rng, size: spec.valueSize))) }
        records.sort { $0.key.lexicographicallyPrecedes($1.key) }
        do { try store.ingest(records) } catch { throw WorkloadRunError.loadFailed("\(error)") }
        putBytes.add(n * UInt64(spec.keySize + spec.valueSize), ordering: .relaxed)
    }

    private func loadInBatches(_ n: UInt64, batchSize: Int) throws {
        let threads = Swift.min(config.threads, Int(Swift.max(1, n / UInt64(batchSize))))
        let failure = Mutex<String?>(nil)
        let spec = self.spec, store = self.store, seed = config.seed, stop = stopRequested
        runOnThreads(threads) { t in
            var rng = WorkloadRandom(seed: seed ^ 0x10AD, stream: UInt64(t))
            let lo = n * UInt64(t) / UInt64(threads), hi = n * UInt64(t + 1) / UInt64(threads)
            var k = lo
            while k < hi && !stop.isSet {          // Ctrl-C during a long load stops it too
                let end = Swift.min(hi, k + UInt64(batchSize))
                var ops: [BatchOperation] = []
                ops.reserveCapacity(Int(end - k))
                for i in k..<end { ops.append(.put(key: spec.key(i), value: Self.loadValue(&rng, size: spec.valueSize))) }
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
    }

    /// Runs the measured workload (after `load()` when the workload needs preloaded records).
    public func run() throws -> RunResult {
        try config.validate()
        try spec.validate()
        let config = self.config, spec = self.spec, store = self.store, clock = self.clock
        let collector = SeriesCollector(interval: config.sampleInterval, store: store, profile: config.profile,
                                        warmup: config.warmupSeconds, progress: progress, stolenSeconds: stolenSeconds)
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

        runOnThreads(config.threads) { t in
            let rec = recorders[t]
            var gen = RequestGenerator(spec: spec, shared: shared, seed: config.seed, threadIndex: t)
            var schedule = OpenLoopSchedule(profile: config.profile, threads: config.threads, index: t)
            // Unthrottled closed loop: an operation is due when the previous one ended, so that
            // end serves as its intended start (one clock read per operation fewer: the
            // harness's own time is in every engine's latency).
            var previousEnd = clock.nanoseconds()
            while !stop.isSet {
                var intendedNs: UInt64
                let intendedSeconds: Double
                if throttled {
                    guard let s = schedule.next(before: endSeconds) else { break }
                    intendedSeconds = s
                    intendedNs = startNs &+ UInt64(s * 1e9)
                    clock.sleep(untilNanoseconds: intendedNs)
                } else {
                    intendedNs = open ? clock.nanoseconds() : previousEnd
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
                    case .read:
                        if config.zeroCopyReads { _ = try store.readLength(request.key) } else { _ = try store.get(request.key) }
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
                previousEnd = end
                if !open { intendedNs = actualStart }
                let latency = end >= intendedNs ? end - intendedNs : 0
                let elapsed = end &- startNs
                rec.record(kind: request.kind, latencyNs: latency, failed: failed, error: failure, measured: isMeasured,
                           interval: Int(Double(elapsed) / 1e9 / interval))
                if isMeasured {
                    if rec.firstMeasuredNs == .max { rec.firstMeasuredNs = intendedNs }
                    rec.lastCompletionNs = end
                }
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
        if (partitions.writeStalls ?? 0) > 0 { partitions.lastWriteStallReason = final.lastWriteStallReason }
        partitions.writeSlowdowns = delta(initial.writeSlowdowns, final.writeSlowdowns)
        partitions.writeSlowdownSeconds = delta(initial.writeSlowdownSeconds, final.writeSlowdownSeconds)
        let firstError = recorders.compactMap(\.firstError).first
        var result = RunResult(
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
        result.hostSteal = HostStealSummary(series: samples)
        return result
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
