import Testing
@testable import AugurStats

@Suite("Load statistics")
struct QuantileTests {
    static let lo = Array("acct/0".utf8)
    static let hi = Array("acct/z".utf8)

    /// A key in [lo, hi) derived from 64 random bits: "acct/" + [0x30 + r % 74] + 9 more bytes.
    static func key(from bits: UInt64) -> [UInt8] {
        var k = Array("acct/".utf8)
        k.append(0x30 + UInt8(bits % 74))
        var x = bits
        for _ in 0..<9 {
            x = KeyHash.mix(x &+ 0x9E37)
            k.append(UInt8(truncatingIfNeeded: x))
        }
        return k
    }

    /// Records the ops and checks every quantile against the exact computation.
    func checkQuantiles(ops: [([UInt8], UInt64)], seed: UInt64, label: String) {
        let h = KeyHistogram(lowerBound: Self.lo, upperBound: Self.hi)
        for (k, bytes) in ops { h.record(.read, key: k, bytes: bytes, slot: .unregistered) }
        let snap = h.snapshot()
        for metric in [LoadMetric.operations, .bytes] {
            let pairs: [([UInt8], Double)] = ops.map { ($0.0, metric == .operations ? 1 : Double($0.1)) }
            let sorted = aggregate(pairs)
            let total = sorted.reduce(0) { $0 + $1.load }
            for f in [0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999] {
                guard let q = snap.quantile(f, metric: metric) else {
                    Issue.record("\(label) seed \(seed): no quantile")
                    return
                }
                let exact = exactQuantile(sorted, fraction: f)
                // 1. The exact quantile lies in the stated interval.
                #expect(q.interval.contains(exact),
                        "\(label) seed \(seed) \(metric) f=\(f): exact \(hex(exact)) outside \(q.interval)")
                // 2. The stated load fractions are the exact loads of the interval.
                let inside = sorted.filter { q.interval.contains($0.key) }.reduce(0) { $0 + $1.load }
                let below = sorted.filter { $0.key.lexicographicallyPrecedes(q.interval.lower) }.reduce(0) { $0 + $1.load }
                #expect(abs(inside / total - q.loadInInterval) < 1e-12, "\(label) seed \(seed) f=\(f): interval load")
                #expect(abs(below / total - q.loadBelow) < 1e-12, "\(label) seed \(seed) f=\(f): load below")
                // 3. The point estimate is inside the interval and misses the target by at most the bound.
                #expect(q.interval.contains(q.estimate), "\(label) seed \(seed) f=\(f): estimate outside")
                let belowEstimate = sorted.filter { $0.key.lexicographicallyPrecedes(q.estimate) }.reduce(0) { $0 + $1.load }
                #expect(abs(belowEstimate - f * total) <= q.loadInInterval * total + 1e-9,
                        "\(label) seed \(seed) f=\(f): estimate error \(abs(belowEstimate - f * total)) > bound \(q.loadInInterval * total)")
            }
            // f = 1 lands in the bucket of the largest loaded key.
            let q1 = snap.quantile(1, metric: metric)!
            #expect(q1.interval.contains(sorted.last!.key), "\(label) seed \(seed): f=1")
        }
    }

    @Test("quantiles on uniform keys are within the stated bound, and the bound is tight")
    func uniform() {
        let seed = testSeed(0x5EED_0001)
        var rng = SeededRandom(seed: seed)
        let ops = (0..<50_000).map { _ in (Self.key(from: rng.next()), UInt64.random(in: 1...1000, using: &rng)) }
        checkQuantiles(ops: ops, seed: seed, label: "uniform")
        let h = KeyHistogram(lowerBound: Self.lo, upperBound: Self.hi)
        for (k, b) in ops { h.record(.write, key: k, bytes: b, slot: .unregistered) }
        let snap = h.snapshot()
        // Uniform load: each bucket holds ≈ 1/64, so the bound is ≈ 1.6 % of the load.
        let median = snap.quantile(0.5)!
        #expect(median.loadInInterval < 0.03, "seed \(seed): uniform bound \(median.loadInInterval)")
        #expect(snap.skew() < 1.3, "seed \(seed): uniform skew \(snap.skew())")
        #expect(snap.entropy().normalized > 0.99, "seed \(seed): uniform entropy \(snap.entropy())")
        #expect(snap.hotRanges().isEmpty, "seed \(seed)")
    }

    @Test("quantiles on Zipfian(0.99) keys are within the stated bound")
    func zipf() {
        let seed = testSeed(0x5EED_0002)
        var rng = SeededRandom(seed: seed)
        let zipf = ZipfGenerator(n: 20_000, theta: 0.99)
        let ops = (0..<50_000).map { _ -> ([UInt8], UInt64) in
            let r = zipf.next(using: &rng)
            return (Self.key(from: KeyHash.mix(UInt64(r) &+ seed)), UInt64(r % 500 + 1))
        }
        checkQuantiles(ops: ops, seed: seed, label: "zipf")
    }

    @Test("hot range, skew and entropy on a concentrated workload")
    func hotRange() {
        let seed = testSeed(0x5EED_0003)
        var rng = SeededRandom(seed: seed)
        let h = KeyHistogram(lowerBound: [], upperBound: nil)
        // Background: uniform over the byte space. Hot: first byte 0x40–0x47 (buckets 16–17).
        for _ in 0..<64_000 { h.record(.read, key: rng.bytes(8), bytes: 1, slot: .unregistered) }
        for _ in 0..<64_000 { h.record(.read, key: [UInt8.random(in: 0x40...0x47, using: &rng)] + rng.bytes(7), bytes: 1, slot: .unregistered) }
        let snap = h.snapshot()
        let hot = snap.hotRanges()
        #expect(hot.count == 1, "seed \(seed): \(hot)")
        #expect(hot.first?.buckets == 16..<18, "seed \(seed): \(hot)")
        #expect(hot.first?.interval == KeyInterval(lower: [0x40], upper: [0x48]), "seed \(seed)")
        #expect(abs((hot.first?.loadFraction ?? 0) - (64_000.0 + 2_000) / 128_000) < 0.01, "seed \(seed)")
        #expect(snap.skew() > 15 && snap.skew() < 18, "seed \(seed): skew \(snap.skew())")
        #expect(snap.entropy().normalized < 0.8, "seed \(seed)")
        let single = KeyHistogram(lowerBound: [], upperBound: nil)
        single.record(.read, key: [9], bytes: 1, slot: .unregistered)
        #expect(single.snapshot().entropy().bits == 0)
        #expect(single.snapshot().skew() == 64)
        #expect(KeyHistogram(lowerBound: [], upperBound: nil).snapshot().quantile(0.5) == nil)
    }

    @Test("pure log2 matches known values")
    func log2() {
        #expect(abs(PureMath.log2(1) - 0) < 1e-15)
        #expect(abs(PureMath.log2(2) - 1) < 1e-15)
        #expect(abs(PureMath.log2(64) - 6) < 1e-15)
        #expect(abs(PureMath.log2(10) - 3.321928094887362) < 1e-14)
        #expect(abs(PureMath.log2(0.001) - -9.965784284662087) < 1e-13)
        #expect(abs(PureMath.ln(2.718281828459045) - 1) < 1e-14)
    }
}
