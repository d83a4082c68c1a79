import Augur
import AugurPlanner
import Foundation
import Histogram
import Synchronization

/// `augur-bench --workload reshard [--reshard-mib M]`: foreground latency while a large
/// partition splits, against the same load without a reshard, plus the cutover pause over
/// many reshards.
///
/// 1. fill one partition with M MiB (16-byte keys, 100-byte values) and flush it;
/// 2. one putter and one getter thread run closed-loop: `warmupSeconds` first, then latencies
///    are recorded for a 5-s baseline window, then while the split flushes, shares or copies the
///    partition's runs and cuts over. Why the warm-up: the first seconds after the load's flush
///    have no flush or merge under way, and the foreground's own writes then build a backlog the
///    lanes work through for as long as it runs (on two cores, beside two foreground threads,
///    the partition's memtable passes the write-slowdown mark within ~10 s, and some seconds'
///    p99.9 is a slowdown's 1 ms sleep with no reshard at all). A baseline taken in those first
///    seconds compared the split with a state the load had left, whatever the split did; their
///    p99.9 is still printed ("right after the start");
/// 3. `cycles` alternating merges and splits of the two halves give the cutover pause distribution
///    (writers are gated only for the cutover).
enum ReshardLatency {
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var samples: [UInt64] = []
        func add(_ ns: UInt64) { lock.lock(); samples.append(ns); lock.unlock() }
        func take() -> [UInt64] { lock.lock(); defer { samples.removeAll(keepingCapacity: true); lock.unlock() }; return samples }
    }

    /// Quantile `p` (0...1) of nanosecond samples, in µs, through an HDR histogram (3 significant
    /// digits) like every latency augur-load reports.
    static func percentile(_ xs: [UInt64], _ p: Double) -> Double {
        guard !xs.isEmpty else { return 0 }
        var h = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
        for x in xs { _ = h.record(min(max(x, 1), h.highestTrackableValue)) }
        return Double(h.valueAtPercentile(p * 100)) / 1000
    }

    /// Tells load threads to end.
    final class StopFlag: Sendable {
        private let flag = Atomic<Bool>(false)
        func stop() { flag.store(true, ordering: .relaxed) }
        var isStopped: Bool { flag.load(ordering: .relaxed) }
    }

    /// Two threads closed-loop over `records` keys until `stop`: by default a putter (thread 0)
    /// and a getter (thread 1); with `readsPer20` (YCSB-B: 19), each thread does that many gets
    /// in every 20 operations and puts the rest. Every latency to `recorder`, puts over 1 ms also
    /// to `slowPuts`. Not started.
    static func closedLoop(table: Table, records: Int, recorder: Recorder, slowPuts: Recorder? = nil,
                           readsPer20: Int? = nil, stop: StopFlag) -> [Thread] {
        [0, 1].map { role in
            Thread {
                var i = role
                while !stop.isStopped {
                    let k = key((i &* 7919) % records)
                    let put = readsPer20.map { (i / 2) % 20 >= $0 } ?? (role == 0)
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    if put { try! table.put(k, value) } else { _ = try! table.get(k) }
                    let ns = DispatchTime.now().uptimeNanoseconds - t0
                    recorder.add(ns)
                    if put && ns > 1_000_000 { slowPuts?.add(ns) }
                    i += 2
                }
            }
        }
    }

    /// Runs `body` while two threads load `table` (keys `0..<records`; see `closedLoop`), after a
    /// `baselineSeconds` window without it; returns both windows' latencies and the body's result.
    static func besideForeground<T>(table: Table, records: Int, baselineSeconds: Double = 3, readsPer20: Int? = nil,
                                    _ body: () throws -> T) throws -> (baseline: [UInt64], during: [UInt64], result: T) {
        let recorder = Recorder()
        let stop = StopFlag()
        for t in closedLoop(table: table, records: records, recorder: recorder, readsPer20: readsPer20, stop: stop) { t.start() }
        defer {
            stop.stop()
            Thread.sleep(forTimeInterval: 0.2)
        }
        Thread.sleep(forTimeInterval: baselineSeconds)
        let baseline = recorder.take()
        let result = try body()
        return (baseline, recorder.take(), result)
    }

    static func run(dir: String, mebibytes: Int, cycles: Int = 20, walSegmentMiB: Int = 64,
                    directWrites: Bool? = nil, data: ReshardDataMode = .shareFiles, backgroundNice: Int? = nil,
                    writeSlowdownMiB: Int? = nil, automaticBackground: Bool = false, warmupSeconds: Double = 10) throws {
        var o = EngineOptions()
        if automaticBackground { o.backgroundCPUs = .automatic }
        if let writeSlowdownMiB { o.writeSlowdownMemtableBytes = writeSlowdownMiB << 20 }
        if let backgroundNice { o.backgroundNice = backgroundNice }
        o.reshardData = data
        if let directWrites { o.rangeCopy.directWrites = directWrites }
        o.durability = .none
        o.walSegmentSize = walSegmentMiB << 20
        // The bench splits one partition of M MiB itself: size splits (256 MiB by default) would
        // split it first, the split measured would be of a quarter of it, and the controller's
        // reshards would run beside the cycles.
        o.partitioning.splitsBySize = false
        let engine = try Engine.open(at: dir + "/reshard", options: o)
        let table = try engine.createTable("bench")
        let records = mebibytes * (1 << 20) / 130
        let order = shuffled(records, seed: 5)
        var start = ContinuousClock.now
        for i in order { try table.put(key(i), value) }
        try engine.flush()
        print(String(format: "reshard: loaded %d records (%.0f MiB of segments) in %.1f s", records,
                     Double(try table.partitionStats().reduce(0) { $0 + $1.bytes }) / 1048576, seconds(ContinuousClock.now - start)))
        let recorder = Recorder()
        let slowPuts = Recorder()      // puts over 1 ms (a WAL roll, a descheduled thread, ...)
        let stop = StopFlag()
        let threads = closedLoop(table: table, records: records, recorder: recorder, slowPuts: slowPuts, stop: stop)
        for t in threads { t.start() }
        Thread.sleep(forTimeInterval: min(warmupSeconds, 5))
        let firstSeconds = recorder.take()
        Thread.sleep(forTimeInterval: max(0, warmupSeconds - 5))
        _ = recorder.take()
        // The baseline as five 1-s windows: the p99.9 of each and of each two in a row (a split
        // takes about two) say how much a short window's p99.9 moves without a split.
        var baseline: [UInt64] = []
        var windows: [[UInt64]] = []
        let slowdownsBefore = engine.writeStalls
        for _ in 0..<5 {
            Thread.sleep(forTimeInterval: 1)
            windows.append(recorder.take())
            baseline += windows.last!
        }
        let windowP999 = windows.map { percentile($0, 0.999) }
        let pairP999 = zip(windows, windows.dropFirst()).map { percentile($0 + $1, 0.999) }
        let slowdownsAtSplit = engine.writeStalls
        start = ContinuousClock.now
        let split = try table.requestResharding(.split(at: key(records / 2))).wait()
        let during = recorder.take()
        let splitTime = seconds(ContinuousClock.now - start)
        let slowdownsAfterSplit = engine.writeStalls
        // The first seconds on the new partitions: their files were just written, by the page
        // cache or around it (direct writes), and reads fault their pages in.
        Thread.sleep(forTimeInterval: 3)
        let after = recorder.take()
        var pauses: [UInt64] = [split.cutoverPauseNanos]
        var waits: [UInt64] = [split.cutoverGateWaitNanos]
        var cycleNanos: [UInt64] = []
        _ = slowPuts.take()
        _ = recorder.take()
        let stallsBefore = engine.writeStalls
        for round in 0..<cycles {
            let c0 = DispatchTime.now().uptimeNanoseconds
            let s = round % 2 == 0 ? try table.requestResharding(.merge(boundary: key(records / 2))).wait()
                                   : try table.requestResharding(.split(at: key(records / 2))).wait()
            pauses.append(s.cutoverPauseNanos)
            waits.append(s.cutoverGateWaitNanos)
            cycleNanos.append(DispatchTime.now().uptimeNanoseconds - c0)
        }
        let slow = slowPuts.take()
        let opsInCycles = recorder.take().count
        let stalls = engine.writeStalls
        let mostRuns = try table.partitionStats().map(\.segmentCount).max() ?? 0
        stop.stop()
        Thread.sleep(forTimeInterval: 0.2)
        if data == .shareFiles {
            print(String(format: "reshard: split of %.0f MiB took %.3f s (shared files: %.0f MiB copied)", Double(split.bytesShared) / 1048576,
                         splitTime, Double(split.bytesCopied) / 1048576))
        } else {
            print(String(format: "reshard: split of %.0f MiB took %.2f s (%@, %.0f MiB/s copy)", Double(split.bytesTotal) / 1048576,
                         splitTime, split.copyBackend, split.throughput / 1048576))
        }
        print(String(format: "reshard: foreground p50/p99/p99.9 µs  baseline %.1f / %.1f / %.1f  (%d ops)   during split %.1f / %.1f / %.1f  (%d ops)   p99 ratio %.2f",
                     percentile(baseline, 0.5), percentile(baseline, 0.99), percentile(baseline, 0.999), baseline.count,
                     percentile(during, 0.5), percentile(during, 0.99), percentile(during, 0.999), during.count,
                     percentile(during, 0.99) / max(percentile(baseline, 0.99), 0.001)))
        print(String(format: "reshard:   p99.9 ratio %.2f; the baseline's 1-s windows: p99.9 %.1f-%.1f µs, its 2-s windows %@ µs; right after the start (first %.0f s): p99.9 %.1f µs (%d ops)",
                     percentile(during, 0.999) / max(percentile(baseline, 0.999), 0.001), windowP999.min() ?? 0, windowP999.max() ?? 0,
                     pairP999.map { String(format: "%.1f", $0) }.joined(separator: " / "),
                     min(warmupSeconds, 5), percentile(firstSeconds, 0.999), firstSeconds.count))
        print(String(format: "reshard:   write slowdowns in the baseline: %d (%.1f ms slept); during the split: %d (%.1f ms slept)",
                     slowdownsAtSplit.slowdowns - slowdownsBefore.slowdowns, Double(slowdownsAtSplit.slowedNanos &- slowdownsBefore.slowedNanos) / 1e6,
                     slowdownsAfterSplit.slowdowns - slowdownsAtSplit.slowdowns, Double(slowdownsAfterSplit.slowedNanos &- slowdownsAtSplit.slowedNanos) / 1e6))
        print(String(format: "reshard: foreground p50/p99/p99.9 µs  in the 3 s after the split %.1f / %.1f / %.1f  (%d ops)   p99 ratio %.2f   (copy: %@ writes)",
                     percentile(after, 0.5), percentile(after, 0.99), percentile(after, 0.999), after.count,
                     percentile(after, 0.99) / max(percentile(baseline, 0.99), 0.001),
                     o.rangeCopy.directWrites ? "direct" : "buffered"))
        print(String(format: "reshard: cutover pause over %d reshards: p50 %.1f µs, p99 %.1f µs, max %.1f µs",
                     pauses.count, percentile(pauses, 0.5), percentile(pauses, 0.99), Double(pauses.max() ?? 0) / 1000))
        print(String(format: "reshard:   before it, trying for the gates while writers ran on (not part of the pause): p50 %.1f µs, p99 %.1f µs, max %.1f µs",
                     percentile(waits, 0.5), percentile(waits, 0.99), Double(waits.max() ?? 0) / 1000))
        print(String(format: "reshard:   pauses over 1 ms: %d; puts over 1 ms during the cycles: %d (max %.1f ms); WAL segment %d MiB",
                     pauses.filter { $0 > 1_000_000 }.count, slow.count, Double(slow.max() ?? 0) / 1e6, walSegmentMiB))
        let cycleSeconds = Double(cycleNanos.reduce(0, +)) / 1e9
        print(String(format: "reshard:   the cycles took %.1f s (longest %.2f s), %.0f foreground ops/s, most runs in a partition after them %d",
                     cycleSeconds, Double(cycleNanos.max() ?? 0) / 1e9, Double(opsInCycles) / max(cycleSeconds, 1e-9), mostRuns))
        print(String(format: "reshard:   write stalls in the cycles: %d, %.1f ms in all%@",
                     stalls.stalls - stallsBefore.stalls, Double(stalls.stalledNanos &- stallsBefore.stalledNanos) / 1e6,
                     stalls.stalls > stallsBefore.stalls ? " (last: \(stalls.lastReason ?? ""))" : ""))
        print(String(format: "reshard:   write slowdowns in the cycles: %d, %.1f ms slept in all",
                     stalls.slowdowns - stallsBefore.slowdowns, Double(stalls.slowedNanos &- stallsBefore.slowedNanos) / 1e6))
        try engine.close()
    }
}
