import Foundation
import Testing
@testable import AugurForecast

@Suite("Warm-up: forecasts and intervals from the first observations")
struct WarmUpTests {
    /// Level 200 plus a spiky daily-like shape of period `period` (not a sinusoid, so a
    /// low-order AR on levels cannot mimic it) plus Gaussian noise.
    static func spiky(count: Int, period: Int = 12, noise: Double = 1, seed: UInt64) -> [Double] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { t in
            let phase = Double(t % period) / Double(period)
            let shape = phase < 0.25 ? 0.0 : phase < 0.4 ? 40 * (phase - 0.25) / 0.15 : phase < 0.55 ? 40 : -10
            return 200 + shape + noise * rng.gaussian()
        }
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func forecastsFromTheFirstObservationWithoutPeriods(seed: UInt64) throws {
        let y = Self.spiky(count: 40, noise: 3, seed: seed)
        let ensemble = try ForecastEnsemble(options: ForecastOptions())
        #expect(throws: ForecastError.emptySeries) { try ensemble.forecast() }
        try ensemble.observe(y[0])
        // EWMA and naive are warm after one value; everything else waits.
        #expect(try ensemble.forecast().steps.allSatisfy { $0.point == y[0] }, "seed \(seed)")
        for t in 1..<40 {
            try ensemble.observe(y[t])
            let forecast = try ensemble.forecast()
            #expect(forecast.observationCount == t + 1)
            #expect(forecast.steps.allSatisfy { $0.point.isFinite }, "seed \(seed) t \(t)")
            // Step 1 has t residuals after t + 1 observations; intervals from 8 (default).
            let expectIntervals = t + 1 >= 9
            #expect(ensemble.hasIntervals == expectIntervals, "seed \(seed) t \(t)")
            #expect(forecast.steps.allSatisfy { ($0.interval80 != nil) == expectIntervals }, "seed \(seed) t \(t)")
        }
        #expect(ensemble.isDetectingPeriods)
    }

    @Test func longerStepsBorrowTheShortestStepsIntervals() throws {
        // Horizon 6: step 6 has only 3 residuals of its own at the 9th observation, so it
        // borrows step 1's, widened by √6; by the 14th it has 8 of its own.
        var options = ForecastOptions()
        options.horizon = 6
        let seed: UInt64 = 4
        var rng = SeededRandom(seed: seed)
        let ensemble = try ForecastEnsemble(options: options)
        for _ in 0..<9 { try ensemble.observe(100 + 5 * rng.gaussian()) }
        let forecast = try ensemble.forecast()
        let width = { (s: ForecastStep) -> Double in s.interval95!.upper - s.interval95!.lower }
        for step in forecast.steps {
            let i80 = try #require(step.interval80, "seed \(seed) step \(step.step)")
            let i95 = try #require(step.interval95, "seed \(seed) step \(step.step)")
            #expect(i95.lower <= i80.lower && i80.upper <= i95.upper && i80.lower < i80.upper)
        }
        #expect(isClose(width(forecast.steps[5]), 6.0.squareRoot() * width(forecast.steps[0]), tolerance: 1e-9),
                "seed \(seed)")
    }

    @Test func aSeriesThatHasNotMovedStillGetsAnInterval() throws {
        let ensemble = try ForecastEnsemble(options: ForecastOptions())
        for _ in 0..<20 { try ensemble.observe(5000) }
        let step = try ensemble.forecast().steps[0]
        let i80 = try #require(step.interval80)
        let i95 = try #require(step.interval95)
        // Zero residuals: the floor (0.1% of the level per z) sets the width, not the residuals.
        #expect(i80.lower < 5000 && 5000 < i80.upper && i95.lower < i80.lower && i80.upper < i95.upper)
        #expect(i95.upper - i95.lower < 50, "\(i95)")
        // Identically zero is the one case left at zero width (documented).
        let idle = try ForecastEnsemble(options: ForecastOptions())
        for _ in 0..<20 { try idle.observe(0) }
        #expect(try idle.forecast().steps[0].interval95 == PredictionInterval(level: 0.95, lower: 0, upper: 0))
    }

    @Test(arguments: [UInt64(5), 6, 7])
    func configuredPeriodsForecastFromTheFirstPeriod(seed: UInt64) throws {
        let period = 12
        let y = Self.spiky(count: 60, period: period, seed: seed)
        var options = ForecastOptions()
        options.seasonalPeriods = [period]
        let configured = try ForecastEnsemble(options: options)
        let detecting = try ForecastEnsemble(options: ForecastOptions())
        var configuredError = 0.0
        var detectingError = 0.0
        for (t, v) in y.enumerated() {
            if (24..<36).contains(t) {
                configuredError += abs(v - (try configured.forecast().steps[0].point))
                detectingError += abs(v - (try detecting.forecast().steps[0].point))
            }
            try configured.observe(v)
            try detecting.observe(v)
            let seasonalMembers = configured.memberForecasts().map(\.model)
                .filter { $0 == "seasonal_naive" || $0 == "holt_winters" }
            // Seasonal naive and Holt-Winters forecast once one period has been seen.
            #expect(seasonalMembers.count == (t + 1 >= period ? 2 : 0), "seed \(seed) t \(t)")
        }
        print("seed \(seed): step-1 error over observations 24…35, configured \(configuredError), detecting \(detectingError)")
        #expect(!configured.isDetectingPeriods && configured.seasonalPeriods == [period])
        // Before any detection could happen, the configured season already pays off.
        #expect(configuredError < 0.5 * detectingError, "seed \(seed): \(configuredError) vs \(detectingError)")
    }

    @Test(arguments: [UInt64(8), 9, 10, 11])
    func aDetectedPeriodJoinsAfterAboutThreeCycles(seed: UInt64) throws {
        let period = 12
        let y = Self.spiky(count: 120, period: period, seed: seed)
        let ensemble = try ForecastEnsemble(options: ForecastOptions())
        var blind = ForecastOptions()
        blind.periodDetection.minimumCorrelation = 1     // never detects
        let withoutDetection = try ForecastEnsemble(options: blind)
        var adoptedAt: Int?
        var error = 0.0
        var blindError = 0.0
        for (t, v) in y.enumerated() {
            if let adoptedAt, t >= adoptedAt + period {
                error += abs(v - (try ensemble.forecast().steps[0].point))
                blindError += abs(v - (try withoutDetection.forecast().steps[0].point))
            }
            try ensemble.observe(v)
            try withoutDetection.observe(v)
            if adoptedAt == nil && !ensemble.seasonalPeriods.isEmpty { adoptedAt = t + 1 }
        }
        let at = try #require(adoptedAt, "seed \(seed): no period adopted")
        print("seed \(seed): period adopted after \(at) observations; error after it \(error), without detection \(blindError)")
        #expect(ensemble.seasonalPeriods == [period], "seed \(seed)")
        // Found at 2.5–3 cycles, confirmed at the next checkpoint (12.5% more history).
        #expect(at <= 4 * period, "seed \(seed): adopted after \(at) observations")
        #expect(ensemble.isDetectingPeriods, "seed \(seed): history is still below 1024")
        #expect(error < 0.6 * blindError, "seed \(seed): \(error) vs \(blindError) without detection")
    }

    @Test func seedingEqualsObservingOneByOne() throws {
        let y = doubleSeasonal(count: 700, p1: 24, p2: 168, noise: 2, seed: 12)
        let seeded = try ForecastEnsemble(options: ForecastOptions(), history: y)
        let fed = try ForecastEnsemble(options: ForecastOptions())
        for v in y { try fed.observe(v) }
        #expect(seeded.observationCount == 700)
        #expect(seeded.seasonalPeriods == fed.seasonalPeriods && seeded.seasonalPeriods == [24, 168])
        #expect(try seeded.forecast() == (try fed.forecast()))
        #expect(seeded.memberForecasts() == fed.memberForecasts())
        #expect(seeded.coverage == fed.coverage)
        // It keeps going like any other ensemble.
        try seeded.observe(y[0])
        try fed.observe(y[0])
        #expect(try seeded.forecast() == (try fed.forecast()))
    }

    @Test func seedingAThousandValuesPrintsItsCost() throws {
        let y = doubleSeasonal(count: 1000, p1: 24, p2: 168, noise: 2, seed: 13)
        let clock = ContinuousClock()
        var ensemble: ForecastEnsemble?
        let elapsed = try clock.measure { ensemble = try ForecastEnsemble(options: ForecastOptions(), history: y) }
        print("seeding 1000 values (detection checkpoints and replays included): \(elapsed)")
        // The time is printed, not asserted (shared machines; the forecaster benchmark measures
        // speed): a debug build takes about 30 ms.
        #expect(ensemble?.observationCount == 1000)
    }

    @Test func seedHistoryWithANonFiniteValueNamesIt() {
        do {
            _ = try ForecastEnsemble(options: ForecastOptions(), history: [1.0, 2, .nan, 4])
            Issue.record("NaN accepted")
        } catch {
            guard case let .nonFinite(index, value) = error else { Issue.record("wrong error \(error)"); return }
            #expect(index == 2 && value.isNaN)
        }
    }
}
