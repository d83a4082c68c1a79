import Foundation
import Testing
@testable import AugurForecast

/// Counts per bucket from `ops` draws of the distribution `p` (inverse CDF by binary search).
private func sample(_ p: [Double], ops: Int, using rng: inout SeededRandom) -> [Double] {
    var cdf = [Double](repeating: 0, count: p.count)
    var acc = 0.0
    for i in p.indices { acc += p[i]; cdf[i] = acc }
    var counts = [Double](repeating: 0, count: p.count)
    for _ in 0..<ops {
        let u = rng.uniform() * acc
        var lo = 0, hi = p.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cdf[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        counts[lo] += 1
    }
    return counts
}

/// A box of `width` buckets carrying `hot` of the load starting at `start` (fractional,
/// wrapping), the rest uniform.
private func bump(buckets n: Int, start: Double, width: Double, hot: Double) -> [Double] {
    var p = [Double](repeating: (1 - hot) / Double(n), count: n)
    var start = start.truncatingRemainder(dividingBy: Double(n))
    if start < 0 { start += Double(n) }
    // Integrate the box over each bucket (exact overlap, wrapping).
    for b in 0..<n {
        var overlap = 0.0
        for k in -1...1 {
            let lo = start + Double(k * n), hi = lo + width
            overlap += max(0, min(Double(b + 1), hi) - max(Double(b), lo))
        }
        p[b] += hot * overlap / width
    }
    return p
}

private func l1(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + abs($1.0 - $1.1) } }

private func normalized(_ c: [Double]) -> [Double] {
    let t = c.reduce(0, +)
    return c.map { $0 / t }
}

@Suite("Key-share forecast (issue 16)")
struct KeyShareForecasterTests {
    @Test(arguments: [(UInt64(1), 2.5), (2, -1.7), (3, 0.4), (4, 9.0)])
    func driftRecoveredOnMovingBump(seed: UInt64, velocity: Double) throws {
        var rng = SeededRandom(seed: seed)
        let n = 64
        let f = try KeyShareForecaster(bucketCount: n, horizon: 6)
        let start = rng.uniform(0, Double(n))
        for t in 0..<40 {
            let p = bump(buckets: n, start: start + velocity * Double(t), width: 6, hot: 0.8)
            try f.observe(counts: sample(p, ops: 5_000, using: &rng))
        }
        let drift = f.drift
        #expect(abs(drift.bucketsPerStep - velocity) < 0.25, "seed \(seed): drift \(drift.bucketsPerStep), true \(velocity)")
        #expect(drift.bucketsPerStep.sign == velocity.sign, "seed \(seed)")
        #expect(drift.confidence > 0.8, "seed \(seed): confidence \(drift.confidence)")
        #expect(abs(drift.rangeFractionPerStep - drift.bucketsPerStep / 64) < 1e-12)
    }

    @Test func wrapAroundIsForecastOnTheRing() throws {
        let seed: UInt64 = 11
        var rng = SeededRandom(seed: seed)
        let n = 64, h = 6
        let velocity = 3.0
        let f = try KeyShareForecaster(bucketCount: n, horizon: h)
        var errors = (forecast: 0.0, persistence: 0.0)
        var pending: [(forecast: [Double], persistence: [Double])] = []
        for t in 0..<60 {
            let p = bump(buckets: n, start: 20 + velocity * Double(t), width: 6, hot: 0.9)
            let x = sample(p, ops: 8_000, using: &rng)
            try f.observe(counts: x)
            if t >= h + 12 {
                let issued = pending[t - h]
                errors.forecast += l1(issued.forecast, p)
                errors.persistence += l1(issued.persistence, p)
            }
            pending.append((try f.forecast(), normalized(x)))
        }
        #expect(errors.forecast < 0.2 * errors.persistence, "seed \(seed): \(errors)")
        // A box that starts at bucket 44 at the newest step is, 6 steps on, at 62: it then
        // covers 62, 63, 0, 1, 2, 3 — the forecast hot range must wrap.
        let g = try KeyShareForecaster(bucketCount: n, horizon: h)
        for t in 0..<30 {
            let p = bump(buckets: n, start: 44 - velocity * Double(29 - t), width: 6, hot: 0.9)
            try g.observe(counts: sample(p, ops: 8_000, using: &rng))
        }
        let range = try g.hotRange(holding: 0.8)
        let covered = Set(range.buckets(of: n))
        #expect(range.firstBucket + range.bucketCount > n, "seed \(seed): range \(range) does not wrap")
        #expect(covered.contains(63) && covered.contains(0), "seed \(seed): range \(range)")
        #expect(range.bucketCount <= 8, "seed \(seed): range \(range)")
        // Without wrapping the smallest run must stay inside the buckets.
        let line = try g.hotRange(holding: 0.8, wrapping: false)
        #expect(line.firstBucket + line.bucketCount <= n, "seed \(seed): \(line)")
    }

    @Test(arguments: [UInt64(21), 22, 23])
    func stationaryZipfianNotWorseThanPersistence(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        let n = 64, h = 6
        // Zipfian item popularity hashed over the buckets: a fixed, spiky distribution.
        var p = [Double](repeating: 0, count: n)
        for rank in 0..<5_000 { p[Int((UInt64(rank) &* 0x9E37_79B9_7F4A_7C15) >> 58)] += 1 / pow(Double(rank + 1), 0.99) }
        p = normalized(p)
        let f = try KeyShareForecaster(bucketCount: n, horizon: h)
        var forecastError = 0.0, persistenceError = 0.0
        var pending: [(forecast: [Double], persistence: [Double])] = []
        for t in 0..<80 {
            let x = sample(p, ops: 2_000 + Int(rng.uniform() * 8_000), using: &rng)
            try f.observe(counts: x)
            if t >= 2 * h + h {
                let truth = normalized(x)
                forecastError += l1(pending[t - h].forecast, truth)
                persistenceError += l1(pending[t - h].persistence, truth)
            }
            pending.append((try f.forecast(), normalized(x)))
        }
        #expect(forecastError <= persistenceError, "seed \(seed): forecast \(forecastError) persistence \(persistenceError)")
        #expect(abs(f.drift.bucketsPerStep) < 0.5, "seed \(seed): drift \(f.drift)")
    }

    @Test(arguments: [UInt64(31), 32, 33, 34])
    func sharesAreNonNegativeAndSumToOne(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        let n = [1, 2, 3, 17, 64, 300][Int(seed % 6)]
        let h = 1 + Int(seed % 7)
        let f = try KeyShareForecaster(bucketCount: n, horizon: h)
        // Before any load: uniform.
        let first = try f.forecast()
        #expect(first.allSatisfy { abs($0 - 1 / Double(n)) < 1e-12 }, "seed \(seed)")
        for t in 0..<50 {
            var counts = [Double](repeating: 0, count: n)
            switch t % 5 {
            case 0: break                                   // a step without load
            case 1: counts[Int(rng.uniform() * Double(n))] = 1e9  // all load in one bucket
            default: for b in 0..<n where rng.uniform() < 0.3 { counts[b] = (rng.uniform() * 1000).rounded() }
            }
            try f.observe(counts: counts)
            for steps in [1, h, h + 3] {
                let s = try f.forecast(steps: steps)
                #expect(s.count == n)
                #expect(s.allSatisfy { $0 >= 0 && $0.isFinite }, "seed \(seed) t \(t)")
                #expect(abs(s.reduce(0, +) - 1) < 1e-9, "seed \(seed) t \(t): sum \(s.reduce(0, +))")
            }
            let range = try f.hotRange(holding: 0.5)
            #expect(range.bucketCount >= 1 && range.bucketCount <= n && range.share >= 0.5 - 1e-9, "seed \(seed): \(range)")
        }
        #expect(f.stepCount == 50)
        if let e = f.recentError { #expect(e >= 0 && e <= 2 + 1e-9, "seed \(seed)") }
    }

    @Test func integerCountsMatchDoubles() throws {
        let a = try KeyShareForecaster(bucketCount: 8, horizon: 2)
        let b = try KeyShareForecaster(bucketCount: 8, horizon: 2)
        for t in 0..<12 {
            let c = (0..<8).map { UInt64(($0 * 7 + t * 3) % 11) }
            try a.observe(histogramDelta: c)
            try b.observe(counts: c.map { Double($0) })
        }
        #expect(try a.forecast() == b.forecast())
    }

    @Test func extremeTotalsStillGiveShares() throws {
        // Subnormal counts (1/total is infinite) and counts whose sum overflows.
        let f = try KeyShareForecaster(bucketCount: 4, horizon: 1)
        try f.observe(counts: [4.9e-324, 0, 4.9e-324, 0])
        #expect(try f.forecast() == [0.5, 0, 0.5, 0])
        try f.observe(counts: [.greatestFiniteMagnitude, .greatestFiniteMagnitude, 0, 0])
        #expect(f.latestShares == [0.5, 0.5, 0, 0])
        let s = try f.forecast()
        #expect(s.allSatisfy { $0 >= 0 && $0.isFinite } && abs(s.reduce(0, +) - 1) < 1e-12)
    }

    @Test func hotRangeIsTheSmallestRun() throws {
        let f = try KeyShareForecaster(bucketCount: 8, horizon: 1)
        try f.observe(counts: [5, 0, 0, 0, 0, 0, 1, 4])
        // Persistence only before the first score: shares [.5, 0, 0, 0, 0, 0, .1, .4].
        let ring = try f.hotRange(holding: 0.9)
        #expect(ring.firstBucket == 7 && ring.bucketCount == 2 && abs(ring.share - 0.9) < 1e-9, "\(ring)")
        #expect(ring.buckets(of: 8) == [7, 0])
        let line = try f.hotRange(holding: 0.9, wrapping: false)
        #expect(line.firstBucket == 0 && line.bucketCount == 8)
        #expect(try f.hotRange(holding: 1).bucketCount == 3)
    }

    @Test func badInputGivesTypedErrors() throws {
        #expect(throws: KeyShareError.invalidBucketCount(count: 0, minimum: 1, maximum: 4096)) {
            try KeyShareForecaster(bucketCount: 0, horizon: 6)
        }
        #expect(throws: KeyShareError.invalidBucketCount(count: 4097, minimum: 1, maximum: 4096)) {
            try KeyShareForecaster(bucketCount: 4097, horizon: 6)
        }
        #expect(throws: KeyShareError.invalidHorizon(horizon: 0, minimum: 1, maximum: KeyShareOptions.maximumHorizon)) {
            try KeyShareForecaster(bucketCount: 64, horizon: 0)
        }
        #expect(throws: KeyShareError.invalidHorizon(horizon: 257, minimum: 1, maximum: 256)) {
            try KeyShareForecaster(bucketCount: 64, horizon: 257)
        }
        var options = KeyShareOptions()
        options.smoothingRates = [0.5, 1.5]
        #expect(throws: KeyShareError.invalidOption(name: "smoothingRates", value: 1.5, limit: "each rate must be in (0, 1]")) {
            try KeyShareForecaster(bucketCount: 64, horizon: 6, options: options)
        }
        options = KeyShareOptions()
        options.maximumDriftFraction = 0.5
        #expect(throws: KeyShareError.invalidOption(name: "maximumDriftFraction", value: 0.5, limit: "must be in (0, 0.5)")) {
            try KeyShareForecaster(bucketCount: 64, horizon: 6, options: options)
        }
        options = KeyShareOptions()
        options.longRunRate = .nan
        #expect(throws: (any Error).self) { try KeyShareForecaster(bucketCount: 64, horizon: 6, options: options) }

        let f = try KeyShareForecaster(bucketCount: 4, horizon: 2)
        try f.observe(counts: [1, 2, 3, 4])
        let before = try f.forecast()
        #expect(throws: KeyShareError.countMismatch(count: 3, expected: 4)) { try f.observe(counts: [1, 2, 3]) }
        #expect(throws: KeyShareError.countMismatch(count: 5, expected: 4)) { try f.observe(histogramDelta: [UInt64](repeating: 1, count: 5)) }
        #expect(throws: KeyShareError.invalidCount(bucket: 2, value: -1)) { try f.observe(counts: [1, 2, -1, 4]) }
        #expect(throws: KeyShareError.invalidCount(bucket: 1, value: .infinity)) { try f.observe(counts: [1, .infinity, 1, 4]) }
        do {
            try f.observe(counts: [1, 2, 3, .nan])
            Issue.record("NaN accepted")
        } catch {
            guard case let .invalidCount(bucket, value) = error else { Issue.record("wrong error \(error)"); return }
            #expect(bucket == 3 && value.isNaN)
        }
        // Rejected steps changed nothing.
        #expect(f.stepCount == 1)
        #expect(try f.forecast() == before)
        #expect(throws: KeyShareError.invalidHorizon(horizon: 0, minimum: 1, maximum: 256)) { try f.forecast(steps: 0) }
        #expect(throws: KeyShareError.invalidOption(name: "fraction", value: 0, limit: "must be in (0, 1]")) {
            try f.hotRange(holding: 0)
        }
        var out = [Double](repeating: 0, count: 3)
        #expect(throws: KeyShareError.countMismatch(count: 3, expected: 4)) {
            try out.withUnsafeMutableBufferPointer { (b) throws(KeyShareError) in try f.forecast(into: b) }
        }
        #expect(KeyShareError.invalidCount(bucket: 2, value: -1).description.contains("bucket 2"))
    }
}
