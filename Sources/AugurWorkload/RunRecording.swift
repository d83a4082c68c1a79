// What the runner's threads record while a workload runs: per-thread latency histograms and
// error counts (`ThreadRecorder`, one per thread, unguarded), and the time series all threads
// flush their intervals into, sampled with the engine's partition metrics once per interval
// (`SeriesCollector`, locked). Split from Runner.swift, which drives the threads.
import Foundation
import Histogram

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
/// after init.
final class SeriesCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var intervals: [Int: IntervalAccumulator] = [:]
    private var metrics: [Int: PartitionMetrics] = [:]
    /// Cumulative stolen seconds at the end of each sampled interval (see `stolenSeconds`).
    private var stolen: [Int: Double] = [:]
    /// The host's cumulative stolen CPU seconds (HostSteal.swift), or nil where not measured.
    let stolenSeconds: (@Sendable () -> Double?)?
    /// What `stolenSeconds` said when the run started.
    private let stolenAtStart: Double?
    private var events: [ReshardEvent] = []
    private var sampledUpTo = -1
    let interval: Double
    let store: any KeyValueStore
    let profile: RateProfile
    let warmup: Double
    /// Operations in the intervals the threads flushed so far (under `lock`; the progress
    /// line's total, behind by at most an interval per thread). Not a shared counter bumped per
    /// operation: with two threads its cache line moved between cores on every operation.
    private var flushedOperations = 0
    let progress: (@Sendable (ProgressSnapshot) -> Void)?

    init(interval: Double, store: any KeyValueStore, profile: RateProfile, warmup: Double,
         progress: (@Sendable (ProgressSnapshot) -> Void)?, stolenSeconds: (@Sendable () -> Double?)? = nil) {
        self.interval = interval
        self.store = store
        self.profile = profile
        self.warmup = warmup
        self.progress = progress
        self.stolenSeconds = stolenSeconds
        stolenAtStart = stolenSeconds?()
    }

    func add(index: Int, counts: [OperationKind: Int], errors: Int, histogram: LatencyHistogram) {
        lock.lock()
        var acc = intervals[index] ?? IntervalAccumulator()
        for (k, n) in counts {
            acc.counts[k, default: 0] += n
            flushedOperations += n
        }
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
        let steal = stolenSeconds?()
        let t = Double(index + 1) * interval
        lock.lock()
        metrics[index] = m
        if let steal { stolen[index] = steal }
        for var e in m.events {
            e.seconds = t
            events.append(e)
        }
        let previous = intervals[index - 1]
        let total = flushedOperations
        lock.unlock()
        if let progress, index > 0 {
            let ops = previous.map { Double($0.counts.values.reduce(0, +)) / interval } ?? 0
            let p99 = previous.flatMap { $0.histogram.totalCount > 0 ? Double($0.histogram.valueAtPercentile(99)) / 1000 : nil }
            progress(ProgressSnapshot(seconds: Double(index) * interval, totalOperations: total, opsPerSecond: ops,
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
        var stolenBefore = stolenAtStart
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
                if has { out[out.count - 1].maxMicroseconds = Double(hist!.max) / 1000 }
                // Steal during interval k: the counter at its end less the counter at the end
                // of the last interval sampled before it (or at the start). An interval no
                // thread sampled (none ended in it) has none; the next sampled one takes its
                // share, so the total stays whole.
                if let end = stolen[k] {
                    // To the microsecond: the difference of two tick counts in seconds is not exact.
                    if let start = stolenBefore {
                        out[out.count - 1].stolenMilliseconds = (Swift.max(0, end - start) * 1e6).rounded() / 1000
                    }
                    stolenBefore = end
                }
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
/// For the same reason its per-operation fields skip the runtime's exclusivity check
/// (`@exclusivity(unchecked)`): no access to them overlaps another, and the check cost three
/// calls per operation.
///
/// Per operation it indexes arrays by the kind's `ordinal` and records into two histograms:
/// no dictionary, no hashing of the kind's raw string. The harness's own cost per operation
/// is in every engine's latency and compresses the ratios between engines toward 1: with
/// dictionaries it was ~1,500 instructions of a put's ~5,600 (callgrind, fillrandom).
final class ThreadRecorder: @unchecked Sendable {
    @exclusivity(unchecked) private var histogramsByKind: [LatencyHistogram?] = Array(repeating: nil, count: OperationKind.allCases.count)
    @exclusivity(unchecked) private var errorsByKind = [Int](repeating: 0, count: OperationKind.allCases.count)
    var firstError: String?
    @exclusivity(unchecked) var measured = 0
    @exclusivity(unchecked) var firstMeasuredNs: UInt64 = .max
    @exclusivity(unchecked) var lastCompletionNs: UInt64 = 0
    /// Bytes of keys and values this thread's successful puts carried (warm-up included).
    @exclusivity(unchecked) var bytesPut: UInt64 = 0
    // Current interval.
    @exclusivity(unchecked) var intervalIndex = 0
    @exclusivity(unchecked) private var intervalCountsByKind = [Int](repeating: 0, count: OperationKind.allCases.count)
    @exclusivity(unchecked) var intervalErrors = 0
    @exclusivity(unchecked) var intervalHistogram = makeHistogram(precise: false)
    @exclusivity(unchecked) var intervalHasData = false
    let collector: SeriesCollector

    init(collector: SeriesCollector) { self.collector = collector }

    /// Measured latencies by kind (kinds this thread measured only).
    var histograms: [OperationKind: LatencyHistogram] {
        var out: [OperationKind: LatencyHistogram] = [:]
        for k in OperationKind.allCases { if let h = histogramsByKind[k.ordinal] { out[k] = h } }
        return out
    }

    /// Measured errors by kind (kinds with errors only).
    var errors: [OperationKind: Int] {
        var out: [OperationKind: Int] = [:]
        for k in OperationKind.allCases where errorsByKind[k.ordinal] > 0 { out[k] = errorsByKind[k.ordinal] }
        return out
    }

    func record(kind: OperationKind, latencyNs: UInt64, failed: Bool, error: (any Error)?, measured isMeasured: Bool, interval: Int) {
        if interval != intervalIndex { flushInterval(next: interval) }
        let k = kind.ordinal
        intervalHasData = true
        intervalCountsByKind[k] += 1
        intervalHistogram.recordClamped(latencyNs)
        if failed {
            intervalErrors += 1
            if isMeasured { errorsByKind[k] += 1 }
            if firstError == nil, let error { firstError = "\(kind.rawValue): \(error)" }
        }
        if isMeasured {
            measured += 1
            if histogramsByKind[k] == nil { histogramsByKind[k] = makeHistogram(precise: true) }
            histogramsByKind[k]!.recordClamped(latencyNs)
        }
    }

    func flushInterval(next: Int) {
        if intervalHasData {
            var counts: [OperationKind: Int] = [:]
            for k in OperationKind.allCases where intervalCountsByKind[k.ordinal] > 0 { counts[k] = intervalCountsByKind[k.ordinal] }
            collector.add(index: intervalIndex, counts: counts, errors: intervalErrors, histogram: intervalHistogram)
            for i in intervalCountsByKind.indices { intervalCountsByKind[i] = 0 }
            intervalErrors = 0
            intervalHistogram.reset()
            intervalHasData = false
        }
        intervalIndex = next
    }
}
