// AugurStats micro-benchmarks. Build and run in release:
//   swift run -j 1 -c release AugurStatsBench
// Prints ns per operation (median of 5 runs) for:
//   - histogram update, 1 thread (private stripe, and shared RMW stripe)
//   - histogram update, 2 threads: striped (private stripes) vs naive shared
//     RMW counters vs per-thread counters packed into the same cache lines
//   - workload sampler record/push, with a consumer thread draining
//   - collector fold per vector
import AugurSys
import AugurStats
import Synchronization

// MARK: - Helpers

nonisolated let clock = ContinuousClock()

func nanos(_ d: Duration) -> Double {
    let c = d.components
    return Double(c.seconds) * 1e9 + Double(c.attoseconds) / 1e9
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }


/// 4096 random 16-byte keys in one flat buffer (never freed: lives for the run).
nonisolated let keyCount = 4096
nonisolated let keyLength = 16
nonisolated(unsafe) let keyBuffer: UnsafeMutableRawBufferPointer = {
    let b = UnsafeMutableRawBufferPointer.allocate(byteCount: keyCount * keyLength, alignment: 16)
    var x: UInt64 = 0x9E37_79B9_7F4A_7C15
    for i in 0..<(keyCount * keyLength) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        b[i] = UInt8(truncatingIfNeeded: x)
    }
    return b
}()

@inline(__always)
func key(_ i: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: keyBuffer[(i & (keyCount - 1)) * keyLength ..< ((i & (keyCount - 1)) + 1) * keyLength])
}

nonisolated let ops = 20_000_000
nonisolated let runs = 5

// MARK: - Naive false-sharing variant: per-thread counters interleaved

/// Per-thread counters with no padding: counter `c` of thread `t` sits at
/// `c * threads + t`, so both threads' counters for a bucket share a cache line.
/// Each thread is its counters' only writer (load + store, as the striped
/// histogram does) — the only difference from the striped layout is the packing.
final class PackedPerThreadCounters: @unchecked Sendable {
    let base: UnsafeMutablePointer<Atomic<UInt64>>
    let threads: Int
    let histogram: KeyHistogram  // for the identical bucket computation
    init(threads: Int, histogram: KeyHistogram) {
        self.threads = threads
        self.histogram = histogram
        let n = histogram.map.bucketCount * 4 * threads
        let raw = UnsafeMutableRawPointer.allocate(byteCount: n * 8, alignment: 128)
        base = raw.bindMemory(to: Atomic<UInt64>.self, capacity: n)
        for i in 0..<n { (base + i).initialize(to: Atomic(0)) }
    }
    @inline(__always)
    func record(key: UnsafeRawBufferPointer, bytes: UInt64, thread t: Int) {
        let b = histogram.bucket(for: key)
        let i = (b * 4) * threads + t
        let j = (b * 4 + 2) * threads + t
        base[i].store(base[i].load(ordering: .relaxed) &+ 1, ordering: .relaxed)
        base[j].store(base[j].load(ordering: .relaxed) &+ bytes, ordering: .relaxed)
    }
}

// MARK: - Benchmarks

/// Loop + key selection + bucket computation only (no counter update), to
/// separate the counter cost from the rest.
func bucketOnly() -> Double {
    let h = KeyHistogram(lowerBound: [], upperBound: nil)
    var samples: [Double] = []
    var sink = 0
    for _ in 0..<runs {
        let start = clock.now
        for i in 0..<ops { sink &+= h.bucket(for: key(i)) }
        samples.append(nanos(start.duration(to: clock.now)) / Double(ops))
    }
    precondition(sink != 42)
    return median(samples)
}

func histogramSingle(slot: StatsSlot) -> Double {
    let h = KeyHistogram(lowerBound: [], upperBound: nil)
    var samples: [Double] = []
    for _ in 0..<runs {
        let start = clock.now
        for i in 0..<ops { h.record(.write, key: key(i), bytes: 100, slot: slot) }
        samples.append(nanos(start.duration(to: clock.now)) / Double(ops))
    }
    precondition(h.totals().writes == UInt64(ops * runs))
    return median(samples)
}

/// Two threads updating one histogram; returns wall ns per update per thread.
func histogramTwoThreads(slots: [StatsSlot]) -> Double {
    let h = KeyHistogram(lowerBound: [], upperBound: nil)
    var samples: [Double] = []
    for _ in 0..<runs {
        let start = clock.now
        runOnThreads(slots.enumerated().map { t, slot in
            { for i in 0..<ops { h.record(.write, key: key(i &+ t &* 977), bytes: 100, slot: slot) } }
        })
        samples.append(nanos(start.duration(to: clock.now)) / Double(ops))
    }
    precondition(h.totals().writes == UInt64(ops * runs * slots.count))
    return median(samples)
}

func packedTwoThreads() -> Double {
    let c = PackedPerThreadCounters(threads: 2, histogram: KeyHistogram(lowerBound: [], upperBound: nil))
    var samples: [Double] = []
    for _ in 0..<runs {
        let start = clock.now
        runOnThreads((0..<2).map { t in
            { for i in 0..<ops { c.record(key: key(i &+ t &* 977), bytes: 100, thread: t) } }
        })
        samples.append(nanos(start.duration(to: clock.now)) / Double(ops))
    }
    return median(samples)
}

/// Sampler cost per `record` call with a consumer thread draining concurrently.
func samplerRecord(period: UInt32) -> (ns: Double, stats: RecorderStatistics) {
    let registry = StatsSlotRegistry()
    let rec = WorkloadRecorder(slots: registry, options: SamplingOptions(samplingPeriod: period, ringCapacity: 4096))
    let slot = registry.acquire()!
    var samples: [Double] = []
    for _ in 0..<runs {
        let done = Atomic<Bool>(false)
        let drained = Atomic<UInt64>(0)
        var elapsed = 0.0
        runOnThreads([
            {
                let start = clock.now
                for i in 0..<ops {
                    rec.record(.retrieve, partition: 7, key: key(i), timestamp: UInt64(i), clientID: UInt64(i & 63), bytes: 100, slot: slot)
                }
                elapsed = nanos(start.duration(to: clock.now))
                done.store(true, ordering: .releasing)
            },
            {
                var n: UInt64 = 0
                var sum: UInt64 = 0
                while !done.load(ordering: .acquiring) {
                    let got = rec.drainAll { sum &+= $0.keyHash }
                    n &+= UInt64(got)
                    if got == 0 { ThreadPause.yield() }
                }
                n &+= UInt64(rec.drainAll { sum &+= $0.keyHash })
                drained.store(n &+ (sum & 0), ordering: .relaxed)
            },
        ])
        samples.append(elapsed / Double(ops))
    }
    return (median(samples), rec.statistics())
}

/// Sampler cost per `record` call on one thread, no consumer thread: timed
/// chunks of 2048 × period calls (≈ 2048 samples, never a full ring),
/// with the ring drained between chunks outside the timed region.
func samplerRecordSingleThread(period: UInt32) -> (ns: Double, stats: RecorderStatistics) {
    let registry = StatsSlotRegistry()
    let rec = WorkloadRecorder(slots: registry, options: SamplingOptions(samplingPeriod: period, ringCapacity: 4096))
    let slot = registry.acquire()!
    let chunk = 2048 * Int(period)
    var samples: [Double] = []
    var sink: UInt64 = 0
    for _ in 0..<runs {
        var t = 0.0
        var done = 0
        while done < ops {
            let start = clock.now
            for i in done..<(done + chunk) {
                rec.record(.retrieve, partition: 7, key: key(i), timestamp: UInt64(i), clientID: UInt64(i & 63), bytes: 100, slot: slot)
            }
            t += nanos(start.duration(to: clock.now))
            done += chunk
            rec.drainAll { sink &+= $0.keyHash }
        }
        samples.append(t / Double(done))
    }
    precondition(sink != 42)
    return (median(samples), rec.statistics())
}

/// Cost of a push into a full ring (the drop path) and of a push that succeeds
/// (single thread: push `capacity` vectors, drain them, repeat).
func pushPaths() -> (success: Double, drop: Double) {
    let registry = StatsSlotRegistry()
    let rec = WorkloadRecorder(slots: registry, options: SamplingOptions(samplingPeriod: 1, ringCapacity: 4096))
    let slot = registry.acquire()!
    let v = WorkloadVector(type: .store, partition: 1, keyHash: 2, keyPrefix: 3, timestamp: 4, clientID: 5, bytes: 6)
    var ok: [Double] = []
    var full: [Double] = []
    var sink: UInt64 = 0
    for _ in 0..<runs {
        var pushTime = 0.0
        var pushed = 0
        while pushed < ops / 4 {
            let start = clock.now
            for _ in 0..<4096 { rec.push(v, slot: slot) }
            pushTime += nanos(start.duration(to: clock.now))
            pushed += 4096
            rec.drainAll { sink &+= $0.bytes }
        }
        ok.append(pushTime / Double(pushed))
        for _ in 0..<4096 { rec.push(v, slot: slot) }
        let start = clock.now
        for _ in 0..<(ops / 4) { rec.push(v, slot: slot) }
        full.append(nanos(start.duration(to: clock.now)) / Double(ops / 4))
        rec.drainAll { sink &+= $0.bytes }
    }
    precondition(sink > 0)
    return (median(ok), median(full))
}

func collectorFold() -> Double {
    let collector = WorkloadCollector()
    var vectors: [WorkloadVector] = []
    var x: UInt64 = 42
    for i in 0..<200_000 {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17
        vectors.append(WorkloadVector(type: OperationType(rawValue: UInt8(x % 5))!, partition: x % 16, keyHash: x % 10_000,
                                      keyPrefix: x, timestamp: UInt64(i) * 10_000_000, clientID: x % 1000, bytes: 100, weight: 64))
    }
    var samples: [Double] = []
    for _ in 0..<runs {
        let start = clock.now
        collector.ingest(vectors)
        samples.append(nanos(start.duration(to: clock.now)) / Double(vectors.count))
    }
    return median(samples)
}

func snapshotCost() -> Double {
    let h = KeyHistogram(lowerBound: [], upperBound: nil)
    var samples: [Double] = []
    var sink: UInt64 = 0
    for _ in 0..<runs {
        let start = clock.now
        for _ in 0..<10_000 { sink &+= h.snapshot().reads[0] }
        samples.append(nanos(start.duration(to: clock.now)) / 10_000)
    }
    precondition(sink == 0)
    return median(samples)
}

// MARK: - Main

func fmt(_ x: Double) -> String {
    let r = (x * 100).rounded() / 100
    return "\(r)"
}

print("AugurStats benchmark: \(ops) ops per run, median of \(runs) runs, 16-byte random keys, 64 buckets, 16 stripes")
let registry = StatsSlotRegistry()
let s0 = registry.acquire()!, s1 = registry.acquire()!
print("baseline: loop + key selection + bucket(for:) only:          \(fmt(bucketOnly())) ns/op")
print("histogram update, 1 thread, private stripe (load+store):      \(fmt(histogramSingle(slot: s0))) ns/op")
print("histogram update, 1 thread, shared stripe (atomic RMW):       \(fmt(histogramSingle(slot: .unregistered))) ns/op")
print("histogram update, 2 threads, striped (own 128B-padded stripes): \(fmt(histogramTwoThreads(slots: [s0, s1]))) ns/op per thread (wall)")
print("histogram update, 2 threads, naive shared counters (RMW):     \(fmt(histogramTwoThreads(slots: [.unregistered, .unregistered]))) ns/op per thread (wall)")
print("histogram update, 2 threads, per-thread counters packed in shared lines: \(fmt(packedTwoThreads())) ns/op per thread (wall)")
let st64 = samplerRecordSingleThread(period: 64)
print("sampler record, period 64, 1 thread, ring drained between chunks: \(fmt(st64.ns)) ns/op (pushed \(st64.stats.pushed), dropped \(st64.stats.droppedFull))")
let st1 = samplerRecordSingleThread(period: 1)
print("sampler record, period 1 (hash + push every op), 1 thread:  \(fmt(st1.ns)) ns/op (pushed \(st1.stats.pushed), dropped \(st1.stats.droppedFull))")
let p64 = samplerRecord(period: 64)
print("sampler record, period 64, consumer draining:                \(fmt(p64.ns)) ns/op (pushed \(p64.stats.pushed), dropped \(p64.stats.droppedFull))")
let p1 = samplerRecord(period: 1)
print("sampler record, period 1 (hash + push every op), consumer draining: \(fmt(p1.ns)) ns/op (pushed \(p1.stats.pushed), dropped \(p1.stats.droppedFull))")
let paths = pushPaths()
print("vector push (pre-built vector), ring has room:               \(fmt(paths.success)) ns/push")
print("vector push, ring full (drop + count):                       \(fmt(paths.drop)) ns/push")
print("collector fold (ingest), per vector:                         \(fmt(collectorFold())) ns/vector")
print("histogram snapshot (64 buckets x 17 stripes):                \(fmt(snapshotCost())) ns/snapshot")
