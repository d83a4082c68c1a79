import Testing
@testable import AugurStats

@Suite("Inheritance across split, merge and boundary move")
struct RebucketTests {
    static func fill(_ h: KeyHistogram, seed: UInt64, count: Int, lo: [UInt8] = [], span: ClosedRange<UInt8> = 0...255) {
        var rng = SeededRandom(seed: seed)
        for _ in 0..<count {
            let k = lo + [UInt8.random(in: span, using: &rng)] + rng.bytes(Int.random(in: 0...9, using: &rng))
            h.record(Bool.random(using: &rng) ? .read : .write, key: k, bytes: UInt64.random(in: 0...999, using: &rng), slot: .unregistered)
        }
    }

    static func add(_ a: HistogramTotals, _ b: HistogramTotals) -> HistogramTotals {
        HistogramTotals(reads: a.reads + b.reads, writes: a.writes + b.writes, readBytes: a.readBytes + b.readBytes, writeBytes: a.writeBytes + b.writeBytes)
    }

    @Test("split in the middle of a bucket apportions it by overlap (500/500)")
    func splitHalves() {
        let h = KeyHistogram(lowerBound: [], upperBound: nil)
        for i in 0..<1000 { h.record(.write, key: [UInt8(i % 4), UInt8(i % 251)], bytes: 10, slot: .unregistered) }
        #expect(h.snapshot().writes[0] == 1000)
        let (l, r) = h.split(at: [0x02])
        #expect(l.map.upperBound == [0x02] && r.map.lowerBound == [0x02])
        #expect(l.totals().writes == 500)
        #expect(r.totals().writes == 500)
        #expect(l.totals().writeBytes == 5000 && r.totals().writeBytes == 5000)
        // Uniform inside the parent bucket → spread evenly over the left child's 64 buckets.
        let lw = l.snapshot().writes
        #expect(lw.max()! - lw.min()! <= 1, "\(lw)")
    }

    @Test("split at random keys conserves totals and gives each child its overlap share")
    func splitRandom() {
        let seed = testSeed(0x5971_7000)
        var rng = SeededRandom(seed: seed)
        for round in 0..<20 {
            let h = KeyHistogram(lowerBound: [0x10], upperBound: [0xF0, 0x01])
            Self.fill(h, seed: seed &+ UInt64(round), count: 5000, lo: [], span: 0x10...0xF0)
            let cut = [UInt8.random(in: 0x11...0xEF, using: &rng)] + rng.bytes(Int.random(in: 0...3, using: &rng))
            let parent = h.snapshot()
            let (l, r) = h.split(at: cut)
            let (ls, rs) = (l.snapshot(), r.snapshot())
            #expect(Self.add(ls.totals, rs.totals) == parent.totals, "seed \(seed) round \(round) cut \(hex(cut))")
            // Expected left share: buckets wholly below the cut, plus the overlap fraction of the straddling bucket.
            var expected = 0.0
            for i in 0..<parent.bucketCount {
                let iv = parent.interval(ofBucket: i)
                if let u = iv.upper, !cut.lexicographicallyPrecedes(u) {
                    expected += Double(parent.reads[i])
                } else if iv.lower.lexicographicallyPrecedes(cut) {
                    let a = parent.map.finePosition(of: iv.lower), b = parent.map.finePosition(of: iv.upper)
                    let c = parent.map.finePosition(of: cut)
                    expected += Double(parent.reads[i]) * Double(c - a) / Double(b - a)
                }
            }
            #expect(abs(Double(ls.totals.reads) - expected) <= 1.0, "seed \(seed) round \(round): left reads \(ls.totals.reads) expected \(expected)")
            // No count lands outside a child's range: every child bucket's interval lies inside its range.
            #expect(ls.map.upperBound == cut && rs.map.lowerBound == cut)
        }
    }

    @Test("merge of two children aligned to the parent's bucket edges restores exact per-bucket sums")
    func mergeAligned() {
        let seed = testSeed(0x3E26_E000)
        let left = KeyHistogram(lowerBound: [], upperBound: [0x80])
        let right = KeyHistogram(lowerBound: [0x80], upperBound: nil)
        Self.fill(left, seed: seed, count: 20_000, span: 0x00...0x7F)
        Self.fill(right, seed: seed &+ 1, count: 20_000, span: 0x80...0xFF)
        let m = left.merged(with: right)
        #expect(m.map.lowerBound == [] && m.map.upperBound == nil)
        let (ls, rs, ms) = (left.snapshot(), right.snapshot(), m.snapshot())
        #expect(ms.totals == Self.add(ls.totals, rs.totals), "seed \(seed)")
        // Each child bucket covers 2 first-byte values, each merged bucket 4: merged[i] = child[2i] + child[2i+1].
        for i in 0..<32 {
            #expect(ms.reads[i] == ls.reads[2 * i] + ls.reads[2 * i + 1], "seed \(seed) bucket \(i)")
            #expect(ms.writeBytes[32 + i] == rs.writeBytes[2 * i] + rs.writeBytes[2 * i + 1], "seed \(seed) bucket \(32 + i)")
        }
    }

    @Test("boundary move re-buckets both neighbours; totals conserved, moved range exact")
    func moveBoundary() {
        let seed = testSeed(0x30FE_0000)
        let left = KeyHistogram(lowerBound: [], upperBound: [0x40])
        let right = KeyHistogram(lowerBound: [0x40], upperBound: nil)
        Self.fill(left, seed: seed, count: 30_000, span: 0x00...0x3F)
        Self.fill(right, seed: seed &+ 1, count: 30_000, span: 0x40...0xFF)
        let (ls, rs) = (left.snapshot(), right.snapshot())
        // Left's buckets are one first-byte value each, so 0x30 is a bucket edge.
        let movedReads = (0x30..<0x40).reduce(UInt64(0)) { $0 + ls.reads[$1] }
        let (l2, r2) = KeyHistogram.movingBoundary(left: left, right: right, to: [0x30])
        let (l2s, r2s) = (l2.snapshot(), r2.snapshot())
        #expect(l2.map.upperBound == [0x30] && r2.map.lowerBound == [0x30])
        #expect(Self.add(l2s.totals, r2s.totals) == Self.add(ls.totals, rs.totals), "seed \(seed)")
        #expect(l2s.totals.reads == ls.totals.reads - movedReads, "seed \(seed)")
        #expect(r2s.totals.reads == rs.totals.reads + movedReads, "seed \(seed)")
        // Moving the other way (into the right neighbour) also conserves.
        let (l3, r3) = KeyHistogram.movingBoundary(left: left, right: right, to: [0x90, 0x12])
        #expect(Self.add(l3.totals(), r3.totals()) == Self.add(ls.totals, rs.totals), "seed \(seed)")
        #expect(l3.totals().reads > ls.totals.reads && r3.totals().reads < rs.totals.reads, "seed \(seed)")
    }

    @Test("apportion is exact and proportional")
    func apportionExact() {
        #expect(apportion(10, weights: [1, 1, 1]).reduce(0, +) == 10)
        #expect(apportion(10, weights: [1, 1, 1]) == [3, 4, 3])
        // Any prefix is within 1/2 of its exact share.
        let shares = apportion(1001, weights: [3, 1, 4, 1, 5, 9, 2, 6])
        var cum = 0.0, got: UInt64 = 0
        for (k, w) in [3.0, 1, 4, 1, 5, 9, 2, 6].enumerated() {
            cum += w
            got += shares[k]
            #expect(abs(Double(got) - 1001 * cum / 31) <= 0.5)
        }
        #expect(apportion(7, weights: [0, 1, 0]) == [0, 7, 0])
        #expect(apportion(1000, weights: [0.25, 0.75]) == [250, 750])
        #expect(apportion(UInt64(1) << 60, weights: [1, 2]).reduce(0, +) == UInt64(1) << 60)
    }
}
