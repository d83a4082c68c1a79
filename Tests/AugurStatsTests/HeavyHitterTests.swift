import Testing
@testable import AugurStats

@Suite("Heavy hitters")
struct HeavyHitterTests {
    static func zipfStream(seed: UInt64, n: Int, count: Int) -> [UInt64] {
        var rng = SeededRandom(seed: seed)
        let z = ZipfGenerator(n: n, theta: 0.99)
        // Scatter ranks over the hash space so the hot keys are not adjacent.
        return (0..<count).map { _ in KeyHash.mix(UInt64(z.next(using: &rng)) &+ 1) }
    }

    static func exactTop(_ stream: [UInt64], _ k: Int) -> (top: [UInt64], counts: [UInt64: UInt64]) {
        var counts: [UInt64: UInt64] = [:]
        for x in stream { counts[x, default: 0] += 1 }
        let top = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(k).map(\.key)
        return (top, counts)
    }

    @Test("Space-Saving on Zipf(0.99): the true top 10 are the reported top 10, bounds hold")
    func recallZipf() {
        let seed = testSeed(0x4EA7_0001)
        let stream = Self.zipfStream(seed: seed, n: 100_000, count: 200_000)
        let (top, counts) = Self.exactTop(stream, 10)
        var ss = SpaceSavingSummary(capacity: 256)
        for x in stream { ss.add(keyHash: x, keyPrefix: x >> 8) }
        let reported = Set(ss.top(10).map(\.keyHash))
        #expect(Set(top).isSubset(of: reported), "seed \(seed): missed \(Set(top).subtracting(reported).count) of the top 10")
        #expect(ss.totalWeight == 200_000)
        #expect(ss.minimumCount <= ss.totalWeight / 256, "seed \(seed)")
        for e in ss.entries {
            let truth = counts[e.keyHash] ?? 0
            #expect(truth <= e.count && truth >= e.count - e.error, "seed \(seed): key \(e.keyHash) true \(truth) not in [\(e.count - e.error), \(e.count)]")
        }
        let monitored = Set(ss.entries.map(\.keyHash))
        let worstUnmonitored = counts.filter { !monitored.contains($0.key) }.map(\.value).max() ?? 0
        #expect(worstUnmonitored <= ss.minimumCount, "seed \(seed): unmonitored key with \(worstUnmonitored) > min \(ss.minimumCount)")
    }

    @Test("collector heavy hitters on Zipf(0.99): top 10 found with valid bounds; no hot key flagged")
    func collectorRecall() {
        let seed = testSeed(0x4EA7_0002)
        let stream = Self.zipfStream(seed: seed, n: 50_000, count: 100_000)
        let (top, counts) = Self.exactTop(stream, 10)
        let c = WorkloadCollector()
        c.ingest(stream.enumerated().map { i, h in
            WorkloadVector(type: .retrieve, partition: 3, keyHash: h, keyPrefix: h >> 8,
                           timestamp: 1_000_000_000 + UInt64(i) * 100_000, clientID: 1, bytes: 10)
        })
        // All inside one 60 s epoch (100k × 0.1 ms = 10 s).
        let report = c.heavyHitters(partition: 3, now: 12_000_000_000, top: 10)!
        #expect(report.epochsCovered == 1)
        #expect(report.totalWeight == 100_000)
        #expect(Set(report.hitters.map(\.keyHash)) == Set(top), "seed \(seed)")
        for hh in report.hitters {
            let truth = counts[hh.keyHash]!
            #expect(truth <= hh.estimatedCount && truth >= hh.guaranteedCount, "seed \(seed)")
        }
        #expect(report.hotKey == nil, "seed \(seed): Zipf top key share is ~8 %, not > 50 %")
    }

    @Test("one key with 60 % of a partition's load is flagged as a hot key no split can fix")
    func singleHotKey() {
        let seed = testSeed(0x4EA7_0003)
        var rng = SeededRandom(seed: seed)
        let hot = KeyHash.hash(Array("celebrity".utf8))
        let c = WorkloadCollector()
        for i in 0..<50_000 {
            let h = Double.random(in: 0..<1, using: &rng) < 0.6 ? hot : rng.next()
            c.ingest(WorkloadVector(type: .modify, partition: 9, keyHash: h, keyPrefix: 0, timestamp: UInt64(i) * 1_000_000,
                                    clientID: 0, bytes: 1, weight: 8))
        }
        let report = c.heavyHitters(partition: 9, now: 50_000_000_000, top: 5)!
        #expect(report.hotKey?.keyHash == hot, "seed \(seed)")
        #expect((report.hotKey?.guaranteedLoadFraction ?? 0) > 0.55, "seed \(seed)")
        #expect(report.totalWeight == 400_000)
        #expect(report.hitters.first?.isHotKey == true)
    }

    @Test("heavy-hitter epochs: current + previous are reported, older ones expire")
    func epochs() {
        let c = WorkloadCollector(options: CollectorOptions(heavyHitterEpochNanos: 10_000_000_000))
        func push(_ key: UInt64, at t: UInt64, _ n: Int) {
            for _ in 0..<n { c.ingest(WorkloadVector(type: .store, partition: 1, keyHash: key, keyPrefix: 0, timestamp: t, clientID: 0, bytes: 1)) }
        }
        push(1, at: 1_000_000_000, 100)    // epoch 0
        push(2, at: 11_000_000_000, 50)    // epoch 1
        var r = c.heavyHitters(partition: 1, now: 12_000_000_000)!
        #expect(r.epochsCovered == 2 && r.totalWeight == 150)
        #expect(r.hitters.map(\.keyHash) == [1, 2])
        push(3, at: 21_000_000_000, 10)    // epoch 2: epoch 0 expires
        r = c.heavyHitters(partition: 1, now: 21_000_000_000)!
        #expect(r.totalWeight == 60)
        #expect(r.hitters.map(\.keyHash) == [2, 3])
        r = c.heavyHitters(partition: 1, now: 45_000_000_000)!
        #expect(r.totalWeight == 0 && r.hitters.isEmpty)
    }
}
