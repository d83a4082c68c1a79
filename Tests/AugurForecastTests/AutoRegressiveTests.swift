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
}
