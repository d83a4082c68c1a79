import Testing
@testable import AugurForecast

@Suite("Seasonal period detection")
struct PeriodDetectionTests {
    @Test(arguments: [UInt64(1), 2, 3])
    func findsDailyAndWeeklyPeriods(seed: UInt64) {
        let y = doubleSeasonal(count: 1024, p1: 24, p2: 168, noise: 1.5, seed: seed)
        #expect(PeriodDetection.detect(y) == [24, 168], "seed \(seed)")
    }

    @Test func findsHalfHourlyDailyAndWeeklyPeriods() {
        let seed: UInt64 = 5
        let y = doubleSeasonal(count: 1024, p1: 48, p2: 336, noise: 1, seed: seed)
        #expect(PeriodDetection.detect(y) == [48, 336], "seed \(seed)")
    }

    @Test func findsASingleSeason() {
        let seed: UInt64 = 9
        var rng = SeededRandom(seed: seed)
        let season = [0.0, 3, 7, 9, 7, 3, 0, -3, -7, -9, -7, -3]
        let y = (0..<600).map { season[$0 % 12] + 0.5 * rng.gaussian() }
        #expect(PeriodDetection.detect(y) == [12], "seed \(seed)")
    }

    @Test func whiteNoiseHasNoSeason() {
        let seed: UInt64 = 13
        var rng = SeededRandom(seed: seed)
        let y = (0..<2000).map { _ in rng.gaussian() }
        #expect(PeriodDetection.detect(y) == [], "seed \(seed)")
    }

    @Test func constantOrTinySeriesHasNoSeason() {
        #expect(PeriodDetection.detect(Array(repeating: 4.0, count: 500)) == [])
        #expect(PeriodDetection.detect([1.0, 2, 3]) == [])
        #expect(PeriodDetection.detect([Double]()) == [])
    }

    @Test func ensembleDetectsPeriodsWhenNoneAreConfigured() throws {
        var options = ForecastOptions()
        options.periodDetection.history = 1024
        let ensemble = try ForecastEnsemble(options: options)
        let y = doubleSeasonal(count: 1100, p1: 24, p2: 168, noise: 1, seed: 21)
        try ensemble.observe(contentsOf: y[..<1023])
        #expect(ensemble.seasonalPeriods == nil)
        #expect(throws: ForecastError.insufficientHistory(count: 1023, required: 1024)) { try ensemble.forecast() }
        try ensemble.observe(contentsOf: y[1023...])
        #expect(ensemble.seasonalPeriods == [24, 168])
        #expect(ensemble.observationCount == 1100)
        let forecast = try ensemble.forecast()
        #expect(forecast.steps.count == options.horizon)
        #expect(abs(forecast.steps[0].point - doubleSeasonal(count: 1101, p1: 24, p2: 168)[1100]) < 10)
    }
}
