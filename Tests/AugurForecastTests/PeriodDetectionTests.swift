import Foundation
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

    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func findsAPeriodInThreeCycles(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let season = [0.0, 3, 7, 9, 7, 3, 0, -3, -7, -9, -7, -3]
        let y = (0..<36).map { season[$0 % 12] + 1.5 * rng.gaussian() }
        #expect(PeriodDetection.detect(y) == [12], "seed \(seed)")
        // Not from two: lags beyond n / minimumCycles are not searched.
        #expect(PeriodDetection.detect(y[..<24]) == [], "seed \(seed)")
    }

    @Test func shortNoiseHasNoSeason() {
        // The √n threshold keeps the chance peaks of short histories out (0.3 alone would not).
        var found = 0
        var tried = 0
        for seed in UInt64(1)...40 {
            var rng = SeededRandom(seed: seed)
            let y = (0..<200).map { _ in rng.gaussian() }
            for n in [16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 200] {
                tried += 1
                if !PeriodDetection.detect(y[..<n]).isEmpty { found += 1 }
            }
        }
        print("seeds 1…40: \(found) of \(tried) short white-noise histories reported a period")
        #expect(found <= tried / 50, "seeds 1…40: \(found) of \(tried) short noise histories reported a period")
    }

    @Test func aShortHistoryDoesNotShiftThePeriod() {
        // Over ~6 cycles with this much noise the ACF's peak is blurred (it shrinks by
        // (n − k)/n and a partial last cycle adds an edge term), so its top is 47 or 49 about a
        // quarter of the time; the refinement by squared differences at the multiples restores 48.
        let options = PeriodDetectionOptions()
        var refined = 0
        var peakOnly = 0
        for seed in UInt64(1)...100 {
            var rng = SeededRandom(seed: seed)
            let y = ContiguousArray((0..<300).map { 10 * Foundation.sin(2 * Double.pi * Double($0) / 48) + 2 * rng.gaussian() })
            if PeriodDetection.detect(y, options: options) == [48] { refined += 1 }
            let limit = Int(Double(y.count) / options.minimumCycles)
            let acf = PeriodDetection.autocorrelation(PeriodDetection.centred(y), maximumLag: limit + 1)
            let threshold = max(options.minimumCorrelation, options.noiseThreshold / Double(y.count).squareRoot())
            if PeriodDetection.periods(fromAutocorrelation: acf, limit: limit, threshold: threshold,
                                       options: options) == [48] { peakOnly += 1 }
        }
        #expect(refined >= 95, "seeds 1…100: \(refined) found 48 (ACF peak alone: \(peakOnly))")
        #expect(peakOnly <= 85, "seeds 1…100: the ACF peak alone found 48 \(peakOnly) times: the test lost its point")
    }

    @Test func ensembleDetectsPeriodsWhenNoneAreConfigured() throws {
        var options = ForecastOptions()
        options.periodDetection.history = 1024
        let ensemble = try ForecastEnsemble(options: options)
        let y = doubleSeasonal(count: 1100, p1: 24, p2: 168, noise: 1, seed: 21)
        try ensemble.observe(contentsOf: y[..<1023])
        // Still detecting, but forecasting all along (no longer waiting for the history).
        #expect(ensemble.isDetectingPeriods)
        #expect(try ensemble.forecast().observationCount == 1023)
        try ensemble.observe(contentsOf: y[1023...])
        #expect(!ensemble.isDetectingPeriods)
        #expect(ensemble.seasonalPeriods == [24, 168])
        #expect(ensemble.observationCount == 1100)
        let forecast = try ensemble.forecast()
        #expect(forecast.steps.count == options.horizon)
        #expect(abs(forecast.steps[0].point - doubleSeasonal(count: 1101, p1: 24, p2: 168)[1100]) < 10)
    }
}
