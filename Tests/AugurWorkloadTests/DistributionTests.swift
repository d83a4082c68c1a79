@testable import AugurWorkload
import Foundation
import Testing
import AugurTestSupport

/// The exact distribution of YCSB's (Gray et al.'s) zipfian algorithm over `n` items, derived
/// independently of the generator: rank 0 for u·ζn < 1, rank 1 for u·ζn < 1 + 0.5^θ, else
/// ⌊n·(η·u − η + 1)^α⌋ (clamped to n − 1), integrated over u ∈ [0, 1).
func grayZipfPMF(n: Int, theta: Double) -> [Double] {
    let zetan = (0..<n).reduce(0.0) { $0 + 1 / pow(Double($1 + 1), theta) }
    let zeta2 = 1 + pow(0.5, theta)
    let eta = (1 - pow(2 / Double(n), 1 - theta)) / (1 - zeta2 / zetan)
    let u1 = (1 + pow(0.5, theta)) / zetan
    func ginv(_ y: Double) -> Double { (pow(y / Double(n), 1 - theta) - 1) / eta + 1 }
    var p = [Double](repeating: 0, count: n)
    p[0] = 1 / zetan
    p[1] = pow(0.5, theta) / zetan
    for k in 0..<n {
        let a = Swift.max(ginv(Double(k)), u1)
        let b = k == n - 1 ? 1 : Swift.min(ginv(Double(k + 1)), 1)
        if b > a { p[k] += b - a }
    }
    return p
}

@Suite("Key distributions")
struct DistributionTests {
    @Test("FNV hash matches YCSB's Utils.fnvhash64")
    func fnvMatchesYCSB() {
        // Reference values from a transcription of YCSB's Java (signed 64-bit, Math.abs).
        #expect(fnvHash64(0) == 6_284_781_860_667_377_211)
        #expect(fnvHash64(1) == 8_517_097_267_634_966_620)
        #expect(fnvHash64(12345) == 1_792_800_413_050_876_852)
        #expect(fnvHash64(10_000_000_000) == 1_201_321_332_300_452_516)
    }

    @Test("zeta: exact head plus Euler–Maclaurin tail reproduces YCSB's ζ(10^10, 0.99)")
    func zetaMatchesYCSBConstant() {
        let z = zeta(ScrambledZipfianGenerator.itemCount, theta: 0.99)
        #expect(abs(z - ScrambledZipfianGenerator.zetan) < 1e-6, "got \(z)")
        // The exact sum for a small n.
        #expect(abs(zeta(3, theta: 0.5) - (1 + 1 / 2.0.squareRoot() + 1 / 3.0.squareRoot())) < 1e-12)
    }

    @Test("uniform: χ² over 100 cells")
    func uniform() {
        var rng = WorkloadRandom(seed: testSeed(11))
        var counts = [Int](repeating: 0, count: 100)
        for _ in 0..<200_000 { counts[Int(rng.nextInt(below: 100))] += 1 }
        let (stat, df) = chiSquare(observed: counts, expected: [Double](repeating: 0.01, count: 100))
        #expect(stat < chiSquareCritical(df: df), "χ²=\(stat) df=\(df)")
        // And the request generator's uniform distribution over the key space.
        var spec = WorkloadSpec(name: "u", summary: "", mix: .init(read: 1), distribution: .uniform, recordCount: 50)
        spec.keyOrder = .ordered
        var gen = RequestGenerator(spec: spec, shared: WorkloadSharedState(spec: spec), seed: 11, threadIndex: 0)
        var c2 = [Int](repeating: 0, count: 50)
        for _ in 0..<100_000 { c2[Int(gen.nextKeynum(atSeconds: 0))] += 1 }
        let (s2, df2) = chiSquare(observed: c2, expected: [Double](repeating: 0.02, count: 50))
        #expect(s2 < chiSquareCritical(df: df2), "χ²=\(s2) df=\(df2)")
    }

    @Test("zipfian ranks: χ² against the algorithm's exact distribution; head matches Zipf(0.99)")
    func zipfianRanks() {
        let n = 100
        var rng = WorkloadRandom(seed: testSeed(12))
        var gen = ZipfianGenerator(count: UInt64(n), theta: 0.99)
        var counts = [Int](repeating: 0, count: n)
        let samples = 300_000
        for _ in 0..<samples { counts[Int(gen.next(using: &rng))] += 1 }
        let pmf = grayZipfPMF(n: n, theta: 0.99)
        #expect(abs(pmf.reduce(0, +) - 1) < 1e-9)
        let (stat, df) = chiSquare(observed: counts, expected: pmf)
        #expect(stat < chiSquareCritical(df: df), "χ²=\(stat) df=\(df)")
        // Ranks 0 and 1 are exactly Zipf's: 1/ζ(n) and 2^-θ/ζ(n).
        let zn = zeta(UInt64(n), theta: 0.99)
        #expect(withinBinomial(counts[0], of: samples, p: 1 / zn))
        #expect(withinBinomial(counts[1], of: samples, p: pow(0.5, 0.99) / zn))
        // Frequencies fall with rank like a power law with exponent ≈ θ (fit on ranks 5...50).
        let xs = (5...50).map { log(Double($0 + 1)) }
        let ys = (5...50).map { log(Double(counts[$0]) / Double(samples)) }
        let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
        let slope = zip(xs, ys).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) } / xs.reduce(0) { $0 + ($1 - mx) * ($1 - mx) }
        #expect(abs(-slope - 0.99) < 0.1, "fitted exponent \(-slope)")
    }

    @Test("scrambled zipfian: hot items sit where FNV puts ranks 0 and 1")
    func scrambledZipfian() {
        let n: UInt64 = 1000
        var rng = WorkloadRandom(seed: testSeed(13))
        var gen = ScrambledZipfianGenerator(count: n)
        var counts = [Int](repeating: 0, count: Int(n))
        let samples = 200_000
        for _ in 0..<samples { counts[Int(gen.next(using: &rng))] += 1 }
        let hot0 = Int(fnvHash64(0) % n), hot1 = Int(fnvHash64(1) % n)
        let p0 = 1 / ScrambledZipfianGenerator.zetan
        let p1 = pow(0.5, 0.99) / ScrambledZipfianGenerator.zetan
        // Each gets its rank's mass plus its share of the scattered tail (≥ the rank's mass).
        #expect(Double(counts[hot0]) / Double(samples) >= p0 * 0.97)
        #expect(Double(counts[hot1]) / Double(samples) >= p1 * 0.97)
        let sorted = counts.sorted(by: >)
        #expect(sorted[0] == counts[hot0], "the most popular item is fnv(0) % n")
        // Same stream, same sequence: the scramble is exactly fnv(rank) % n.
        var r1 = WorkloadRandom(seed: 99), r2 = WorkloadRandom(seed: 99)
        var z = ZipfianGenerator(min: 0, max: ScrambledZipfianGenerator.itemCount, theta: 0.99, zetan: ScrambledZipfianGenerator.zetan)
        var s = ScrambledZipfianGenerator(count: n)
        for _ in 0..<1000 { #expect(s.next(using: &r1) == fnvHash64(z.next(using: &r2)) % n) }
    }

    @Test("latest: offsets from the newest key follow the zipfian rank distribution")
    func latest() {
        let n: UInt64 = 101
        var rng = WorkloadRandom(seed: testSeed(14))
        var gen = SkewedLatestGenerator(initialCount: n)
        var counts = [Int](repeating: 0, count: Int(n - 1))
        for _ in 0..<200_000 {
            let v = gen.next(count: n, using: &rng)
            counts[Int(n - 1 - v)] += 1
        }
        let (stat, df) = chiSquare(observed: counts, expected: grayZipfPMF(n: Int(n - 1), theta: 0.99))
        #expect(stat < chiSquareCritical(df: df), "χ²=\(stat) df=\(df)")
        // Through the request generator: inserts move "latest" forward.
        let spec = try! WorkloadSpec.preset("d", recordCount: 1000)
        let shared = WorkloadSharedState(spec: spec)
        var rg = RequestGenerator(spec: spec, shared: shared, seed: 14, threadIndex: 0)
        shared.acknowledge(1999)
        var recent = 0
        for _ in 0..<10_000 where rg.nextKeynum(atSeconds: 0) >= 1900 { recent += 1 }
        #expect(recent > 5_000, "most reads hit the newest 5% of keys (\(recent)/10000)")
    }

    @Test("hotspot: the requested fraction of operations lands on the requested fraction of keys")
    func hotspot() {
        var rng = WorkloadRandom(seed: testSeed(15))
        let gen = HotspotGenerator(count: 1000, hotKeys: 0.2, hotOps: 0.8)
        var hot = 0
        var hotCounts = [Int](repeating: 0, count: 200)
        var coldCounts = [Int](repeating: 0, count: 800)
        let samples = 200_000
        for _ in 0..<samples {
            let v = Int(gen.next(using: &rng))
            if v < 200 { hot += 1; hotCounts[v] += 1 } else { coldCounts[v - 200] += 1 }
        }
        #expect(withinBinomial(hot, of: samples, p: 0.8), "hot fraction \(Double(hot) / Double(samples))")
        let (s1, d1) = chiSquare(observed: hotCounts, expected: [Double](repeating: 1.0 / 200, count: 200))
        #expect(s1 < chiSquareCritical(df: d1), "hot set not uniform: χ²=\(s1)")
        let (s2, d2) = chiSquare(observed: coldCounts, expected: [Double](repeating: 1.0 / 800, count: 800))
        #expect(s2 < chiSquareCritical(df: d2), "cold set not uniform: χ²=\(s2)")
    }

    @Test("moving hotspot: the hot window drifts at the set speed and keeps its share")
    func movingHotspot() {
        var rng = WorkloadRandom(seed: testSeed(16))
        let n: UInt64 = 10_000
        let gen = MovingHotspotGenerator(count: n, hotKeys: 0.05, hotOps: 0.9, speed: 0.02)
        for t in [0.0, 10, 25.5, 49, 60] {
            let start = gen.hotStart(atSeconds: t)
            let expectedStart = UInt64((0.02 * t).truncatingRemainder(dividingBy: 1) * Double(n))
            #expect(start == expectedStart, "t=\(t)")
            var inWindow = 0
            let samples = 50_000
            for _ in 0..<samples {
                let v = gen.next(atSeconds: t, using: &rng)
                let off = (v + n - start) % n
                if off < 500 { inWindow += 1 }
            }
            #expect(withinBinomial(inWindow, of: samples, p: 0.9), "t=\(t): \(inWindow)/\(samples) in the hot window")
        }
        // The window at t = 0 is cold by t = 25 s (it moved half the key space).
        var stale = 0
        for _ in 0..<50_000 where gen.next(atSeconds: 25, using: &rng) < 500 { stale += 1 }
        #expect(withinBinomial(stale, of: 50_000, p: 0.1 * 500 / 9500), "old window still hot: \(stale)")
    }

    @Test("operation mix of every YCSB workload matches its definition (χ²)")
    func ycsbMixes() throws {
        let seed = testSeed(17)
        let expected: [String: [OperationKind: Double]] = [
            "a": [.read: 0.5, .update: 0.5], "b": [.read: 0.95, .update: 0.05], "c": [.read: 1],
            "d": [.read: 0.95, .insert: 0.05], "e": [.scan: 0.95, .insert: 0.05], "f": [.read: 0.5, .readModifyWrite: 0.5],
        ]
        for (name, mix) in expected.sorted(by: { $0.key < $1.key }) {
            let spec = try WorkloadSpec.preset(name, recordCount: 1000)
            var gen = RequestGenerator(spec: spec, shared: WorkloadSharedState(spec: spec), seed: seed, threadIndex: 0)
            var counts: [OperationKind: Int] = [:]
            var scanLengths = [Int](repeating: 0, count: 101)
            for _ in 0..<50_000 {
                let r = gen.next(atSeconds: 0)
                counts[r.kind, default: 0] += 1
                if r.kind == .scan { scanLengths[r.scanLength] += 1 }
            }
            #expect(Set(counts.keys) == Set(mix.keys), "workload \(name): \(counts)")
            let kinds = mix.keys.sorted()
            if kinds.count > 1 {
                let (s, df) = chiSquare(observed: kinds.map { counts[$0] ?? 0 }, expected: kinds.map { mix[$0]! })
                #expect(s < chiSquareCritical(df: df), "workload \(name): χ²=\(s) \(counts)")
            }
            if name == "e" {
                // Scan lengths uniform in 1...100.
                #expect(scanLengths[0] == 0)
                let (s, df) = chiSquare(observed: Array(scanLengths[1...]), expected: [Double](repeating: 0.01, count: 100))
                #expect(s < chiSquareCritical(df: df), "scan lengths χ²=\(s)")
            }
        }
    }

    /// The generator rewrites one key and one value buffer in place (the harness's time is in
    /// every engine's latency); a caller that keeps requests must still see each one's own
    /// bytes. Planted: writing the buffers through a pointer without the uniqueness check.
    @Test("requests a caller keeps are not rewritten by the ones after them")
    func keptRequestsKeepTheirBytes() throws {
        let seed = testSeed(23)
        for name in ["a", "fillrandom", "e", "timeseries"] {
            var spec = try WorkloadSpec.preset(name, recordCount: 5000)
            spec.valueSize = 40
            var kept = RequestGenerator(spec: spec, shared: WorkloadSharedState(spec: spec), seed: seed, threadIndex: 0)
            var twin = RequestGenerator(spec: spec, shared: WorkloadSharedState(spec: spec), seed: seed, threadIndex: 0)
            var requests: [Request] = []
            var copies: [(key: [UInt8], value: [UInt8])] = []
            for i in 0..<2000 {
                let t = Double(i) * 0.01
                requests.append(kept.next(atSeconds: t))
                let r = twin.next(atSeconds: t)
                copies.append((r.key.map { $0 }, r.value.map { $0 }))
            }
            var wrongKeys = 0, wrongValues = 0, wrongKeynums = 0
            for (r, c) in zip(requests, copies) {
                if r.key != c.key || r.key.count != spec.keySize { wrongKeys += 1 }
                if r.value != c.value || (!r.value.isEmpty && r.value.count != spec.valueSize) { wrongValues += 1 }
                if name != "timeseries" && r.key != spec.key(r.keynum) { wrongKeynums += 1 }
            }
            let distinct = Set(requests.map(\.key)).count
            #expect(wrongKeys == 0 && wrongValues == 0 && wrongKeynums == 0,
                    "\(name), seed \(seed): \(wrongKeys) keys, \(wrongValues) values, \(wrongKeynums) keys not their keynum's")
            #expect(distinct > 100, "\(name): only \(distinct) distinct keys among kept requests")
        }
    }

    @Test("keys: fixed size, ordered keys keep numeric order, split keys divide the space")
    func keys() throws {
        var spec = try WorkloadSpec.preset("hotspot", recordCount: 1000)
        #expect(spec.keyOrder == .ordered)
        spec.keySize = 24
        let k1 = spec.key(5), k2 = spec.key(300)
        #expect(k1.count == 24 && k2.count == 24)
        #expect(k1.lexicographicallyPrecedes(k2))
        let splits = spec.splitKeys(partitions: 4)
        #expect(splits.count == 3)
        #expect(splits[0] == spec.key(250) && splits[2] == spec.key(750))
        let a = try WorkloadSpec.preset("a")
        #expect(a.keyOrder == .hashed)
        #expect(a.key(7) == a.encodeKey(fnvHash64(7), series: nil))
    }
}
