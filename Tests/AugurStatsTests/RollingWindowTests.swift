import Testing
@testable import AugurStats

private let second: UInt64 = 1_000_000_000

@Suite("Rolling windows with a manual clock")
struct RollingWindowTests {
    @Test("exact deltas: 5-minute, hour and day rates; expiry as the clock moves on")
    func rolloverAndExpiry() {
        let c = WorkloadCollector()
        // One delta per second at t = k s + 0.5 s, k = 0..<400: 10 reads, 5 writes, 1500 bytes.
        for k in 0..<400 as Range<UInt64> {
            c.recordExactDelta(partition: 1, timestamp: k * second + second / 2, reads: 10, writes: 5, bytes: 1500)
        }
        var w = c.workload(partition: 1, now: 400 * second)!
        let five = w.window(.fiveMinutes)!
        // Window = epochs 101...400 → covered 299 s, data in epochs 101...399.
        #expect(five.coveredNanos == 299 * second)
        #expect(abs(five.readsPerSecond - 10) < 1e-9, "\(five.readsPerSecond)")
        #expect(abs(five.writesPerSecond - 5) < 1e-9)
        #expect(abs(five.bytesPerSecond - 1500) < 1e-6)
        #expect(abs(five.readFraction! - 2.0 / 3) < 1e-12)
        #expect(five.countsAreExact)
        let hour = w.window(.hour)!
        // Epochs 0...6 of 60 s, partition first seen at 0.5 s → covered 399.5 s, 4000 reads.
        #expect(hour.coveredNanos == 400 * second - second / 2)
        #expect(abs(hour.readsPerSecond - 4000 / 399.5) < 1e-9)
        #expect(hour.operations == 6000)

        // 5 minutes of silence: the 5-minute window is empty, the hour still remembers.
        w = c.workload(partition: 1, now: 700 * second)!
        #expect(w.window(.fiveMinutes)!.operations == 0)
        #expect(w.window(.fiveMinutes)!.readsPerSecond == 0)
        #expect(w.window(.hour)!.operations == 6000)
        // An hour later the hour window expired (epochs 0...6 < 7), the day remembers.
        w = c.workload(partition: 1, now: 4000 * second)!
        #expect(w.window(.hour)!.operations == 0)
        #expect(w.window(.day)!.operations == 6000)
        // A day later everything expired.
        w = c.workload(partition: 1, now: 90_000 * second)!
        #expect(w.window(.day)!.operations == 0)
    }

    @Test("rollover reuses buckets: a second phase replaces the first; late data is dropped and counted")
    func rolloverReplaces() {
        let c = WorkloadCollector()
        for k in 0..<300 as Range<UInt64> { c.recordExactDelta(partition: 2, timestamp: k * second, reads: 100, writes: 0, bytes: 0) }
        for k in 300..<600 as Range<UInt64> { c.recordExactDelta(partition: 2, timestamp: k * second, reads: 7, writes: 0, bytes: 0) }
        let five = c.workload(partition: 2, now: 600 * second)!.window(.fiveMinutes)!
        // Epochs 301...600: 299 buckets of 7 reads over 299 s.
        #expect(abs(five.readsPerSecond - 7) < 1e-9, "\(five.readsPerSecond)")
        let before = c.statistics().lateFolds
        c.recordExactDelta(partition: 2, timestamp: 10 * second, reads: 1_000_000, writes: 0, bytes: 0)  // older than the 5-min ring
        #expect(c.statistics().lateFolds == before + 1)  // dropped by the 1 s tier only
        #expect(abs(c.workload(partition: 2, now: 600 * second)!.window(.fiveMinutes)!.readsPerSecond - 7) < 1e-9)
        let series = c.series(partition: 2, tierIndex: 0, now: 600 * second)!
        #expect(series.count == 300)
        #expect(series.first!.start == 301 * second && series.last!.start == 600 * second)
        #expect(series.dropLast().allSatisfy { $0.reads == 7 } && series.last!.reads == 0)
    }

    @Test("sampled vectors: weighted per-type rates, read mix and distinct clients")
    func sampledRates() {
        let seed = testSeed(0x7111_0001)
        var rng = SeededRandom(seed: seed)
        let c = WorkloadCollector()
        // 60 s of traffic; each vector stands for 4 ops. Types: 3 retrieve : 1 scan : 2 store : 1 delete (per 7).
        let pattern: [OperationType] = [.retrieve, .retrieve, .retrieve, .scan, .store, .store, .delete]
        let clients = (0..<20).map { _ in rng.next() }
        for i in 0..<(7 * 600) {
            let t = UInt64(i) * (60 * second) / UInt64(7 * 600)
            c.ingest(WorkloadVector(type: pattern[i % 7], partition: 5, keyHash: rng.next(), keyPrefix: 0, timestamp: t,
                                    clientID: clients[i % 20], bytes: 100, weight: 4))
        }
        let five = c.workload(partition: 5, now: 60 * second)!.window(.fiveMinutes)!
        #expect(!five.countsAreExact)
        #expect(five.sampledVectors == 4200)
        #expect(five.operations == 4 * 4200)
        // Covered 60 s (first seen at 0).
        #expect(abs(five.operationsPerSecond.retrieve - 3 * 600 * 4 / 60.0) < 1e-9)
        #expect(abs(five.operationsPerSecond.scan - 600 * 4 / 60.0) < 1e-9)
        #expect(abs(five.operationsPerSecond.store - 2 * 600 * 4 / 60.0) < 1e-9)
        #expect(five.operationsPerSecond.modify == 0)
        #expect(abs(five.readFraction! - 4.0 / 7) < 1e-12)
        #expect(abs(five.bytesPerSecond - 4200 * 4 * 100 / 60.0) < 1e-6)
        #expect(abs(five.distinctClients - 20) <= 6, "seed \(seed): distinct \(five.distinctClients)")

        // Many clients: HLL within 3 standard errors.
        let c2 = WorkloadCollector()
        for i in 0..<20_000 {
            c2.ingest(WorkloadVector(type: .retrieve, partition: 1, keyHash: 0, keyPrefix: 0, timestamp: UInt64(i) * 1000,
                                     clientID: UInt64(i % 2000) &* 0x9E37_79B9 &+ seed, bytes: 1))
        }
        let d = c2.workload(partition: 1, now: 1 * second)!.window(.fiveMinutes)!
        #expect(abs(d.distinctClients - 2000) / 2000 < 3 * d.distinctClientsRelativeError,
                "seed \(seed): \(d.distinctClients) vs 2000 (rse \(d.distinctClientsRelativeError))")
    }

    @Test("exact totals rescale the sampled type mix; first cumulative observation is only a baseline")
    func exactPlusSampled() {
        let c = WorkloadCollector()
        let h = KeyHistogram(lowerBound: [], upperBound: nil)
        // Histogram already holds inherited counts: they must not show up as traffic.
        for _ in 0..<5000 { h.record(.read, key: [1], bytes: 1, slot: .unregistered) }
        c.observeCumulativeTotals(partition: 4, totals: h.totals(), timestamp: 10 * second)
        for s in 10..<20 as Range<UInt64> {
            // Per second: 120 reads (90 retrieve + 30 scan), 40 writes; sampled 1 in 10.
            for _ in 0..<120 { h.record(.read, key: [2], bytes: 10, slot: .unregistered) }
            for _ in 0..<40 { h.record(.write, key: [3], bytes: 20, slot: .unregistered) }
            for i in 0..<16 {
                let type: OperationType = i < 9 ? .retrieve : (i < 12 ? .scan : .store)
                c.ingest(WorkloadVector(type: type, partition: 4, keyHash: UInt64(i), keyPrefix: 0, timestamp: s * second + 1,
                                        clientID: 1, bytes: 10, weight: 10))
            }
            c.observeCumulativeTotals(partition: 4, totals: h.totals(), timestamp: s * second + second - 1)
        }
        let five = c.workload(partition: 4, now: 20 * second)!.window(.fiveMinutes)!
        #expect(five.countsAreExact)
        #expect(five.coveredNanos == 10 * second)  // from the baseline at 10 s
        #expect(abs(five.readsPerSecond - 120) < 1e-9, "\(five.readsPerSecond)")
        #expect(abs(five.writesPerSecond - 40) < 1e-9)
        #expect(abs(five.bytesPerSecond - (1200 + 800)) < 1e-9)
        #expect(abs(five.operationsPerSecond.retrieve - 90) < 1e-9, "\(five.operationsPerSecond)")
        #expect(abs(five.operationsPerSecond.scan - 30) < 1e-9)
        #expect(abs(five.operationsPerSecond.store - 40) < 1e-9)
    }

    @Test("inheritance: a split child takes its share of the parent's history; a merge sums")
    func inheritance() {
        let c = WorkloadCollector()
        for k in 0..<100 as Range<UInt64> {
            c.recordExactDelta(partition: 10, timestamp: k * second, reads: 40, writes: 0, bytes: 400)
            c.recordExactDelta(partition: 11, timestamp: k * second, reads: 8, writes: 8, bytes: 0)
        }
        c.inherit(child: 20, from: [PartitionShare(partition: 10, share: 0.25)], now: 100 * second)
        c.inherit(child: 21, from: [PartitionShare(partition: 10, share: 0.75)], now: 100 * second)
        c.inherit(child: 30, from: [PartitionShare(partition: 10, share: 1), PartitionShare(partition: 11, share: 1)], now: 100 * second)
        let parent = c.workload(partition: 10, now: 100 * second)!.window(.fiveMinutes)!
        let a = c.workload(partition: 20, now: 100 * second)!.window(.fiveMinutes)!
        let b = c.workload(partition: 21, now: 100 * second)!.window(.fiveMinutes)!
        let m = c.workload(partition: 30, now: 100 * second)!.window(.fiveMinutes)!
        #expect(abs(a.readsPerSecond - 0.25 * parent.readsPerSecond) < 1e-9)
        #expect(abs(b.readsPerSecond - 0.75 * parent.readsPerSecond) < 1e-9)
        #expect(a.operations + b.operations == parent.operations)
        #expect(abs(m.readsPerSecond - 48) < 1e-9 && abs(m.writesPerSecond - 8) < 1e-9, "\(m.readsPerSecond)")
        #expect(m.countsAreExact)
        c.removePartition(10)
        #expect(c.workload(partition: 10, now: 100 * second) == nil)
        #expect(c.partitionIDs == [11, 20, 21, 30])
    }

    @Test("HyperLogLog: small counts near-exact, unions exact as sketches")
    func hyperLogLog() {
        var a = HyperLogLog(precision: 6), b = HyperLogLog(precision: 6), u = HyperLogLog(precision: 6)
        for i in 0..<5 as Range<UInt64> { a.insert(i) }
        #expect(abs(a.estimate - 5) < 0.6, "\(a.estimate)")
        for i in 0..<3000 as Range<UInt64> { a.insert(i); u.insert(i) }
        for i in 2000..<6000 as Range<UInt64> { b.insert(i); u.insert(i) }
        a.formUnion(b)
        #expect(a == u)
        #expect(abs(u.estimate - 6000) / 6000 < 3 * u.relativeStandardError, "\(u.estimate)")
    }
}
