import Testing
@testable import AugurForecast

@Suite("Seasonal naive, EWMA and damped Holt on closed-form series")
struct SimpleModelTests {
    @Test func seasonalNaiveRepeatsTheLastSeason() {
        var model = SeasonalNaive(period: 4)
        let season = [3.0, 1, 4, 1]
        for t in 0..<10 { model.observe(season[t % 4] + Double(t / 4) * 10) }
        // The last season seen is t = 6, 7, 8, 9 → 14, 11, 23, 21; t = 10 repeats t = 6.
        #expect(model.isWarm)
        #expect(model.oneStepForecast() == 14)
        #expect(path(model, steps: 6) == [14, 11, 23, 21, 14, 11])
    }

    @Test func seasonalNaiveIsColdUntilOneSeasonSeen() {
        var model = SeasonalNaive(period: 3)
        model.observe(1)
        model.observe(2)
        #expect(!model.isWarm)
        model.observe(3)
        #expect(model.isWarm)
    }

    @Test func ewmaMatchesTheClosedForm() {
        var model = EWMA(alpha: 0.5)
        for y in [0.0, 1, 1, 1] { model.observe(y) }
        // level: 0 → 0.5 → 0.75 → 0.875
        #expect(model.oneStepForecast() == 0.875)
        #expect(path(model, steps: 3) == [0.875, 0.875, 0.875])
    }

    @Test func ewmaOnAConstantIsTheConstant() {
        var model = EWMA(alpha: 0.3)
        for _ in 0..<50 { model.observe(42) }
        #expect(model.oneStepForecast() == 42)
    }

    @Test func undampedHoltExtrapolatesALinearTrendExactly() {
        var model = DampedHolt(alpha: 0.4, beta: 0.3, damping: 1)
        for t in 0..<30 { model.observe(3 + 2 * Double(t)) }
        let forecast = path(model, steps: 5)
        for (i, f) in forecast.enumerated() {
            let expected = 3 + 2 * Double(29 + i + 1)
            #expect(isClose(f, expected, tolerance: 1e-12), "step \(i + 1): \(f) vs \(expected)")
        }
    }

    @Test func dampedHoltFollowsTheDampedSum() {
        // On a constant series the trend decays to zero; on a fresh ramp of two points the forecast
        // is level + (φ + … + φʰ)·trend.
        var model = DampedHolt(alpha: 0.5, beta: 0.1, damping: 0.8)
        model.observe(10)
        model.observe(12)        // level 12, trend 2
        let forecast = path(model, steps: 3)
        #expect(isClose(forecast[0], 12 + 0.8 * 2, tolerance: 1e-12))
        #expect(isClose(forecast[1], 12 + (0.8 + 0.64) * 2, tolerance: 1e-12))
        #expect(isClose(forecast[2], 12 + (0.8 + 0.64 + 0.512) * 2, tolerance: 1e-12))
    }

    @Test func dampedHoltOnAConstantIsTheConstant() {
        var model = DampedHolt(alpha: 0.3, beta: 0.1, damping: 0.9)
        for _ in 0..<200 { model.observe(7) }
        for f in path(model, steps: 4) { #expect(isClose(f, 7, tolerance: 1e-9)) }
    }
}
