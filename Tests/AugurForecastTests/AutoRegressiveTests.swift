import Testing
@testable import AugurForecast

@Suite("AR(p) by recursive least squares")
struct AutoRegressiveTests {
    @Test func estimatesAnAR1Coefficient() {
        let seed: UInt64 = 3
        var rng = SeededRandom(seed: seed)
        var model = AutoRegressive(order: 1, differencingLag: 0, forgetting: 1, settleObservations: 10)
        var z = 0.0
        for _ in 0..<5000 {
            z = 2 + 0.7 * z + rng.gaussian()
            model.observe(z)
        }
        let (intercept, coefficients) = model.fittedCoefficients
        #expect(abs(coefficients[0] - 0.7) < 0.03, "seed \(seed): a₁ = \(coefficients[0])")
        // Mean 2/(1−0.7) ≈ 6.67: the intercept in data units is c = mean·(1−a).
        #expect(abs(intercept - 2) < 0.2, "seed \(seed): c = \(intercept)")
        // Multi-step forecasts follow the fitted recursion: f₁ = c + a·z, f₂ = c + a·f₁.
        let f = path(model, steps: 2)
        #expect(isClose(f[0], intercept + coefficients[0] * z, tolerance: 1e-9))
        #expect(isClose(f[1], intercept + coefficients[0] * f[0], tolerance: 1e-9))
    }

    @Test func firstDifferencesExtrapolateALinearTrend() {
        var model = AutoRegressive(order: 2, differencingLag: 1, forgetting: 0.999, settleObservations: 5)
        for t in 0..<200 { model.observe(5 + 3 * Double(t)) }
        #expect(model.isWarm)
        let f = path(model, steps: 4)
        for h in 1...4 {
            #expect(isClose(f[h - 1], 5 + 3 * Double(199 + h), tolerance: 1e-6), "step \(h): \(f[h - 1])")
        }
    }

    @Test func seasonalDifferencesRepeatAPureSeason() {
        var model = AutoRegressive(order: 3, differencingLag: 5, forgetting: 0.999, settleObservations: 5)
        let season = [4.0, 8, 15, 16, 23]
        for t in 0..<100 { model.observe(season[t % 5]) }
        let f = path(model, steps: 7)
        for h in 1...7 {
            #expect(isClose(f[h - 1], season[(100 + h - 1) % 5], tolerance: 1e-6), "step \(h)")
        }
    }

    @Test func constantSeriesStaysFiniteForever() {
        // No excitation: the covariance guard must stop P from growing without bound.
        var model = AutoRegressive(order: 2, differencingLag: 0, forgetting: 0.99, settleObservations: 5)
        for _ in 0..<100_000 { model.observe(3) }
        let f = path(model, steps: 3)
        for value in f { #expect(value.isFinite && isClose(value, 3, tolerance: 1e-6), "\(f)") }
    }

    @Test func explosiveRecursionsAreToldFromTrendsAndDecay() {
        func explosive(_ a: [Double]) -> Bool { a.withUnsafeBufferPointer { AutoRegressive.isExplosive($0) } }
        // Stationary, unit roots and repeated unit roots (level, linear and quadratic trends).
        for a in [[0.7], [-0.9], [1.0], [2.0, -1.0], [3.0, -3.0, 1.0], [0.5, 0.3, 0.1]] {
            #expect(!explosive(a), "\(a)")
        }
        // A complex pair of modulus 0.95 (a damped cycle) and of modulus 1.1 (a growing one).
        let cosTheta = 0.5403023058681398            // cos 1 rad: a cycle of about 6.3 steps
        #expect(!explosive([2 * 0.95 * cosTheta, -0.95 * 0.95]))
        #expect(explosive([2 * 1.1 * cosTheta, -1.1 * 1.1]))
        // Geometric growth, alternating growth, growth every second step, non-finite.
        for a in [[1.1], [3.0], [-1.2], [0, 1.21], [.infinity], [.nan, 0.1]] { #expect(explosive(a), "\(a)") }
        // The line is a root's modulus of `stabilityRadius` (1.067), as a pair of real roots too.
        #expect(!explosive([1.06]) && explosive([1.075]))
        #expect(!explosive([1.06 + 0.5, -1.06 * 0.5]) && explosive([1.075 + 0.5, -1.075 * 0.5]))
    }

    @Test func anExplosiveFitIsLeftOutUntilItSettles() {
        let seed: UInt64 = 11
        var rng = SeededRandom(seed: seed)
        var model = AutoRegressive(order: 1, differencingLag: 0, forgetting: 0.9, settleObservations: 5)
        // A geometric ramp: the fit learns y(t) ≈ 1.5·y(t−1).
        var y = 1.0
        for _ in 0..<30 { y *= 1.5; model.observe(y) }
        #expect(!model.isWarm, "a₁ = \(model.fittedCoefficients.coefficients)")
        // Then a stationary AR(1): with forgetting the fit returns under the unit circle.
        var z = 0.0
        for _ in 0..<400 { z = 2 + 0.5 * z + rng.gaussian(); model.observe(z) }
        #expect(model.isWarm, "seed \(seed): a₁ = \(model.fittedCoefficients.coefficients)")
    }
}
