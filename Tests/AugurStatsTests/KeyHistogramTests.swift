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
        runThreads((0..<threadCount).map { t in
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
        runThreads((0..<n).map { t in
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
            runThreads([{
                let s = registry.acquire()!
                for _ in 0..<10_000 { h.record(.read, key: [1, 2, 3], bytes: 1, slot: s) }
                registry.release(s)
            }])
        }
        #expect(h.totals().reads == 40_000)
        #expect(registry.claimedCount == 0)
    }
}
