import AugurSys
import Testing
@testable import AugurStats

@Suite("KeyHistogram counters")
struct KeyHistogramTests {
    @Test("N threads hammering one histogram: per-bucket and total counts are exact")
    func hammer() {
        let seed = testSeed(0xC0FFEE)
        // stripeCount 3: slots 0–2 own private stripes, slot 3 and the
        // unregistered threads fall back to the shared RMW stripe.
        let h = KeyHistogram(lowerBound: [], upperBound: nil, options: HistogramOptions(bucketCount: 64, stripeCount: 3))
        let registry = StatsSlotRegistry(options: ThreadSlotOptions(maxSlots: 4))
        let threadCount = 6
        let opsPerThread = 40_000
        // Pre-generate each thread's keys so the expected counts can be replayed.
        var plans: [[([UInt8], HistogramAccess, UInt64)]] = []
        for t in 0..<threadCount {
            var rng = SeededRandom(seed: seed &+ UInt64(t))
            plans.append((0..<opsPerThread).map { _ in
                (rng.bytes(Int.random(in: 0...12, using: &rng)), Bool.random(using: &rng) ? .read : .write,
                 UInt64.random(in: 0...4096, using: &rng))
            })
        }
        let slots = (0..<threadCount).map { t in t < 4 ? registry.acquire()! : StatsSlot.unregistered }
        #expect(registry.acquire() == nil)
        runOnThreads((0..<threadCount).map { t in
            { [plans] in
                for (k, a, b) in plans[t] { h.record(a, key: k, bytes: b, slot: slots[t]) }
            }
        })
        var reads = [UInt64](repeating: 0, count: 64), writes = reads, rb = reads, wb = reads
        for plan in plans {
            for (k, a, b) in plan {
                let i = h.map.bucket(for: k)
                if a == .read { reads[i] += 1; rb[i] += b } else { writes[i] += 1; wb[i] += b }
            }
        }
        let s = h.snapshot()
        #expect(s.reads == reads, "seed \(seed)")
        #expect(s.writes == writes, "seed \(seed)")
        #expect(s.readBytes == rb, "seed \(seed)")
        #expect(s.writeBytes == wb, "seed \(seed)")
        #expect(h.totals().operations == UInt64(threadCount * opsPerThread), "seed \(seed)")
        #expect(h.totals() == s.totals)
    }

    @Test("all threads on the shared stripe (no slots): totals exact")
    func hammerShared() {
        let h = KeyHistogram(lowerBound: [], upperBound: nil, options: HistogramOptions(bucketCount: 16, stripeCount: 0))
        let n = 4, perThread = 50_000
        runOnThreads((0..<n).map { t in
            {
                let key: [UInt8] = [UInt8(t * 60)]
                for _ in 0..<perThread { h.record(.write, key: key, bytes: 3, slot: .unregistered) }
            }
        })
        let tot = h.totals()
        #expect(tot.writes == UInt64(n * perThread))
        #expect(tot.writeBytes == UInt64(3 * n * perThread))
    }

    @Test("a slot handed over through the registry keeps counting exactly")
    func slotHandover() {
        let h = KeyHistogram(lowerBound: [], upperBound: nil)
        let registry = StatsSlotRegistry(options: ThreadSlotOptions(maxSlots: 1))
        for _ in 0..<4 {
            runOnThreads([{
                let s = registry.acquire()!
                for _ in 0..<10_000 { h.record(.read, key: [1, 2, 3], bytes: 1, slot: s) }
                registry.release(s)
            }])
        }
        #expect(h.totals().reads == 40_000)
        #expect(registry.claimedCount == 0)
    }

    @Test("the inlined loop-free bucketing agrees with KeyPositionMap for every prefix and key length")
    func bucketingMatchesTheMap() {
        let seed = testSeed(0xB0C4E7)
        var rng = SeededRandom(seed: seed)
        var checked = 0
        var mismatches: [String] = []
        for trial in 0..<400 {
            // A common prefix of 0...12 bytes (0xFF runs with an open upper bound, too).
            let p = Int.random(in: 0...12, using: &rng)
            let open = trial % 4 == 0
            var prefix = open ? [UInt8](repeating: 0xFF, count: p) : rng.bytes(p)
            if !open && p > 0 && Bool.random(using: &rng) { prefix[p - 1] = 0xFF }  // 0xFF inside a bounded prefix
            let a = UInt8.random(in: 0...0xFD, using: &rng)
            let lo = prefix + [a] + rng.bytes(Int.random(in: 0...9, using: &rng))
            let hi: [UInt8]? = open ? nil
                : prefix + [UInt8.random(in: (a + 1)...0xFF, using: &rng)] + rng.bytes(Int.random(in: 0...9, using: &rng))
            let h = KeyHistogram(lowerBound: open ? prefix + [a] : lo, upperBound: hi,
                                 options: HistogramOptions(bucketCount: [1, 7, 64, 256][trial % 4], stripeCount: 1))
            var counts = [UInt64](repeating: 0, count: h.map.bucketCount)
            for _ in 0..<200 {
                var key: [UInt8]
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: key = rng.bytes(Int.random(in: 0...24, using: &rng))
                case 1: key = Array(prefix.prefix(Int.random(in: 0...p, using: &rng)))
                        + rng.bytes(Int.random(in: 0...16, using: &rng))
                default:
                    key = prefix + rng.bytes(Int.random(in: 0...14, using: &rng))
                    if p > 0 && Bool.random(using: &rng) {              // just below or above the prefix
                        let i = Int.random(in: 0..<p, using: &rng)
                        key[i] = key[i] &+ (Bool.random(using: &rng) ? 1 : 255)
                    }
                }
                let expected = h.map.bucket(for: key)
                if h.bucket(for: key) != expected {   // one #expect per key is slow in debug builds
                    mismatches.append("lo \(lo) hi \(String(describing: hi)) key \(key)")
                }
                key.withUnsafeBytes { h.record(.write, key: $0, bytes: 1, slot: StatsSlot(index: 0)) }
                counts[expected] += 1
                checked += 1
            }
            #expect(h.snapshot().writes == counts, "seed \(seed): record counts in the map's bucket")
        }
        #expect(mismatches.isEmpty, "seed \(seed): \(mismatches.prefix(5))")
        #expect(checked == 80_000)
    }
}
