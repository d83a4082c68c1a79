import Testing
@testable import AugurForecast

@Suite("Sliding quantiles and residual windows against brute force")
struct QuantileWindowTests {
    static func bruteQuantile(_ values: [Double], _ p: Double) -> Double {
        sortedQuantile(ContiguousArray(values.sorted()), p)
    }

    /// Type 6: the value at 1-based position p·(n + 1), interpolated, clamped to the extremes.
    static func bruteConformalQuantile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        let position = min(max(p * Double(sorted.count + 1), 1), Double(sorted.count))
        let below = Int(position.rounded(.down))
        guard below < sorted.count else { return sorted[sorted.count - 1] }
        return sorted[below - 1] + (position - Double(below)) * (sorted[below] - sorted[below - 1])
    }

    @Test(arguments: [(capacity: 64, seed: UInt64(1)), (capacity: 100, seed: 2), (capacity: 7, seed: 3)])
    func batchedWindowMatchesASortedCopy(capacity: Int, seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let windows = SlidingQuantiles(windows: 2, capacity: capacity)
        var pushed: [Double] = []
        for i in 0..<(capacity * 9 + 5) {
            // Rounded values force duplicates, which the eviction must still match exactly.
            let v = (rng.gaussian() * 4).rounded() / 4 + (i.isMultiple(of: 97) ? -0.0 : 0)
            pushed.append(v)
            windows.push(0, v)
            windows.push(1, -v)
            // The sorted part holds the last `fullBatches` complete batches.
            let complete = pushed.count - pushed.count % windows.batchSize
            let kept = min(complete, windows.windowSize)
            #expect(windows.count(0) == kept, "seed \(seed)")
            guard kept > 0 else { continue }
            let expected = Array(pushed[(complete - kept)..<complete])
            for p in [0.0, 0.025, 0.1, 0.5, 0.9, 0.975, 1.0] {
                #expect(windows.quantile(0, p) == Self.bruteQuantile(expected, p), "seed \(seed) p \(p) i \(i)")
                #expect(windows.quantile(1, p) == Self.bruteQuantile(expected.map { -$0 }, p), "seed \(seed)")
            }
        }
    }

    @Test(arguments: [(capacity: 64, seed: UInt64(4)), (capacity: 100, seed: 5), (capacity: 7, seed: 6)])
    func growingWindowHoldsTheNewestHalfOfTheBatches(capacity: Int, seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let windows = SlidingQuantiles(windows: 1, capacity: capacity, growing: true)
        let b = windows.batchSize
        var pushed: [Double] = []
        for _ in 0..<(capacity * 5) {
            let v = (rng.gaussian() * 4).rounded() / 4
            pushed.append(v)
            windows.push(0, v)
            let complete = pushed.count / b
            let expected: [Double]
            if complete == 0 {
                expected = pushed.sorted()          // the first batch, readable while it fills
            } else {
                let kept = min(windows.batchCount, (min(complete, 2 * windows.batchCount) + 1) / 2)
                expected = pushed[((complete - kept) * b)..<(complete * b)].sorted()
            }
            #expect(Array(windows.sample(0)) == expected, "seed \(seed) after \(pushed.count)")
        }
    }

    @Test func residualWindowMeanSquaredErrorIsExactOverTheWeightWindow() {
        let seed: UInt64 = 17
        var rng = SeededRandom(seed: seed)
        let windows = ResidualWindows(rows: 3, capacity: 50, weightWindow: 20)
        var history: [Double] = []
        for _ in 0..<237 {
            let r = rng.gaussian() * 1e6 + 3e6     // large offset: drift would show
            history.append(r)
            windows.push(row: 1, residual: r)
            let recent = history.suffix(20)
            let mse = recent.map { $0 * $0 }.reduce(0, +) / Double(recent.count)
            #expect(isClose(windows.meanSquaredError(row: 1), mse, tolerance: 1e-9), "seed \(seed)")
            #expect(windows.weightSamples(row: 1) == recent.count)
        }
        #expect(windows.weightSamples(row: 0) == 0)
        var scratch = ContiguousArray<Double>()
        // 50 residuals: the empirical (type-6, conformal) quantiles alone.
        let estimator = IntervalEstimator()
        let bounds = windows.bounds(row: 1, minimum: 10, estimator: estimator, floorScale: 0, scratch: &scratch)!
        let recent = Array(history.suffix(50))
        #expect(bounds.lower80 == Self.bruteConformalQuantile(recent, 0.1))
        #expect(bounds.upper95 == Self.bruteConformalQuantile(recent, 0.975))
        #expect(windows.bounds(row: 2, minimum: 10, estimator: estimator, floorScale: 0, scratch: &scratch) == nil)
    }

    @Test func binomialCriticalCountMatchesExactTail() {
        // n = 10, p = 0.5: P(X ≥ 9) = 11/1024 ≈ 0.0107 ≤ 0.05 < P(X ≥ 8) = 56/1024.
        #expect(binomialCriticalCount(trials: 10, probability: 0.5, significance: 0.05) == 9)
        // P(X ≥ 10) = 1/1024 ≈ 0.00098 ≤ 0.001 < P(X ≥ 9).
        #expect(binomialCriticalCount(trials: 10, probability: 0.5, significance: 0.001) == 10)
        // Nothing is that unlikely: P(X ≥ 10) > 0.0001, so the alert can never fire.
        #expect(binomialCriticalCount(trials: 10, probability: 0.5, significance: 0.0001) == 11)
        // Large windows must not underflow: 95% intervals over 192 forecasts expect 9.6 misses.
        let critical = binomialCriticalCount(trials: 192, probability: 0.05, significance: 0.001)
        #expect(critical > 15 && critical < 30, "\(critical)")
    }
}
