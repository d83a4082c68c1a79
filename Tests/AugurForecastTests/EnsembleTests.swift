import Foundation
import Testing
@testable import AugurForecast

@Suite("Forecast ensemble: intervals, coverage, alert, determinism")
struct EnsembleTests {
    static func options(periods: [Int] = [24, 168], horizon: Int = 3) -> ForecastOptions {
        var options = ForecastOptions()
        options.horizon = horizon
        options.seasonalPeriods = periods
        options.intervals.residualWindow = 400
        return options
    }

    @Test func intervalsCoverGaussianNoiseAtTheirNominalRates() throws {
        let seed: UInt64 = 2024
        let y = doubleSeasonal(count: 168 * 30, p1: 24, p2: 168, noise: 2, seed: seed)
        let ensemble = try ForecastEnsemble(options: Self.options())
        // Warm up (models, residual windows) before counting coverage.
        try ensemble.observe(contentsOf: y[..<(168 * 6)])
        let before = ensemble.coverage
        try ensemble.observe(contentsOf: y[(168 * 6)...])
        for (after, start) in zip(ensemble.coverage, before) {
            let total = after.total - start.total
            let rate = Double(after.hits - start.hits) / Double(total)
            #expect(total > 3000, "seed \(seed)")
            let tolerance = after.level == 0.8 ? 0.04 : 0.025
            #expect(abs(rate - after.level) < tolerance,
                    "seed \(seed): step \(after.step) level \(after.level) covered \(rate)")
        }
        #expect(!ensemble.alert.isRaised, "seed \(seed): \(ensemble.alert)")
    }

    @Test func alertRisesWhenTheNoiseJumps() throws {
        let seed: UInt64 = 99
        var rng = SeededRandom(seed: seed)
        let base = doubleSeasonal(count: 168 * 16, p1: 24, p2: 168, noise: 0)
        let ensemble = try ForecastEnsemble(options: Self.options())
        for (t, v) in base.enumerated() {
            let scale = t < 168 * 14 ? 1.0 : 6.0          // variance jumps for the last two days
            try ensemble.observe(v + scale * rng.gaussian())
            if t == 168 * 14 - 1 { #expect(!ensemble.alert.isRaised, "seed \(seed): before the jump") }
        }
        let alert = ensemble.alert
        #expect(alert.isRaised, "seed \(seed)")
        #expect(alert.breaches.contains { $0.level == 0.8 }, "seed \(seed): \(alert)")
    }

    @Test func sameInputGivesTheSameOutput() throws {
        let y = doubleSeasonal(count: 2000, p1: 24, p2: 168, noise: 3, seed: 5)
        func run() throws -> ([LoadForecast], [IntervalCoverage]) {
            let ensemble = try ForecastEnsemble(options: Self.options())
            var forecasts: [LoadForecast] = []
            for (t, v) in y.enumerated() {
                try ensemble.observe(v)
                if t % 97 == 0 { forecasts.append(try ensemble.forecast()); forecasts += ensemble.memberForecasts() }
            }
            return (forecasts, ensemble.coverage)
        }
        let first = try run()
        let second = try run()
        #expect(first.0 == second.0)
        #expect(first.1 == second.1)
    }

    @Test func ensembleLeansOnItsBestMember() throws {
        // Strong double seasonality: the seasonal members must dominate the flat ones, so the
        // ensemble's step-1 error stays close to the best member's (and far below the worst).
        let y = doubleSeasonal(count: 168 * 12, p1: 24, p2: 168, noise: 1, seed: 8)
        let ensemble = try ForecastEnsemble(options: Self.options(horizon: 1))
        var errors: [String: Double] = [:]
        for (t, v) in y.enumerated() {
            if t >= 168 * 8 {
                errors["ensemble", default: 0] += abs(v - (try ensemble.forecast().steps[0].point))
                for f in ensemble.memberForecasts() { errors[f.model, default: 0] += abs(v - f.steps[0].point) }
            }
            try ensemble.observe(v)
        }
        let members = errors.filter { $0.key != "ensemble" }
        let best = members.values.min()!
        let worst = members.values.max()!
        #expect(Set(members.keys) == Set(ForecastEnsemble.memberNames))
        #expect(errors["ensemble"]! < 1.1 * best, "\(errors)")
        #expect(errors["ensemble"]! < 0.5 * worst, "\(errors)")
    }

    @Test(arguments: [1, 4, 24])
    func weightsRefreshedEveryFewObservationsStillLeanOnTheBest(refreshInterval: Int) throws {
        // The weights are recomputed every `refreshInterval` observations: the forecasts move
        // with the interval (the same weights held for longer), but the ensemble stays close
        // to its best member at every interval the option allows.
        let y = doubleSeasonal(count: 168 * 10, p1: 24, p2: 168, noise: 1, seed: 11)
        var options = Self.options(horizon: 3)
        options.weighting.refreshInterval = refreshInterval
        let ensemble = try ForecastEnsemble(options: options)
        var reference = Self.options(horizon: 3)
        reference.weighting.refreshInterval = 1
        let everyObservation = try ForecastEnsemble(options: reference)
        var error = 0.0, referenceError = 0.0, differing = 0
        for (t, v) in y.enumerated() {
            if t >= 168 * 8 {
                let point = try ensemble.forecast().steps[0].point
                let referencePoint = try everyObservation.forecast().steps[0].point
                error += abs(v - point)
                referenceError += abs(v - referencePoint)
                if point != referencePoint { differing += 1 }
            }
            try ensemble.observe(v)
            try everyObservation.observe(v)
        }
        if refreshInterval == 1 {
            #expect(differing == 0)
        } else {
            #expect(differing > 0, "refreshInterval \(refreshInterval) gave the every-observation forecasts")
            #expect(error < 1.05 * referenceError, "MAE \(error) against \(referenceError) refreshed every observation")
        }
    }

    @Test func forecastShapeAndIntervalOrder() throws {
        let y = doubleSeasonal(count: 1500, p1: 24, p2: 168, noise: 2, seed: 4)
        let ensemble = try ForecastEnsemble(options: Self.options(horizon: 5))
        try ensemble.observe(contentsOf: y)
        let forecast = try ensemble.forecast()
        #expect(forecast.model == "ensemble")
        #expect(forecast.observationCount == 1500)
        #expect(forecast.steps.map(\.step) == [1, 2, 3, 4, 5])
        for step in forecast.steps {
            let i80 = try #require(step.interval80)
            let i95 = try #require(step.interval95)
            #expect(i95.lower <= i80.lower && i80.lower <= step.point + 1e-9)
            #expect(step.point - 1e-9 <= i80.upper && i80.upper <= i95.upper)
        }
    }

    @Test func worksOnAShortSeriesAndWithoutSeasons() throws {
        var options = ForecastOptions()
        options.seasonalPeriods = [7]
        let ensemble = try ForecastEnsemble(options: options)
        try ensemble.observe(5)
        let first = try ensemble.forecast()
        #expect(first.steps.allSatisfy { $0.point == 5 && $0.interval80 == nil })
        for t in 0..<100 { try ensemble.observe(Double(t % 7)) }
        #expect(try ensemble.forecast().steps.allSatisfy { $0.point.isFinite })
    }

    /// One range's load, per 5-s step, as a moving hotspot left it, came back and entered it
    /// (from the simulator's replay of `make compare`'s predictive run). Before the AR member's
    /// stability check, its AR(3) fit tripled the load each step (113 k … 25 M ops/s) and
    /// carried the ensemble to 818 k ops/s six steps out.
    @Test func aGeometricRampIsNotExtrapolatedGeometrically() throws {
        let y: [Double] = [36, 9, 11, 15, 19, 25, 32, 38, 81, 418, 777, 1658, 3216, 6202, 6586, 5993, 5506, 4715,
                           3633, 1705, 261, 81, 62, 50, 47, 50, 62, 81, 111, 135, 167, 294, 2392, 5544, 12229, 37407]
        var options = ForecastOptions()
        options.horizon = 6
        let ensemble = try ForecastEnsemble(options: options)
        try ensemble.observe(contentsOf: y)
        let f = try ensemble.forecast()
        for s in f.steps { #expect(s.point.isFinite && s.point < 2 * y.last!, "step \(s.step): \(s.point)") }
        #expect(!ensemble.memberForecasts().contains { $0.model == "autoregressive" })
    }

    /// `grids.holtWintersSmoothTrendMembers`: with a first period of 24 or more the trend members
    /// learn a smooth season (the Holt-Winters members' forecasts change when it is turned off);
    /// below 24 none does (they do not).
    @Test func trendMembersLearnASmoothSeasonOnlyFromAPeriodOf24() throws {
        func holtWinters(periods: [Int], smooth: Bool) throws -> [LoadForecast] {
            var options = Self.options(periods: periods, horizon: 4)
            options.grids.holtWintersSmoothTrendMembers = smooth
            let ensemble = try ForecastEnsemble(options: options)
            var rng = SeededRandom(seed: 53)
            for t in 0..<(periods[0] * 30) {
                let phase = Double(t % periods[0]) / Double(periods[0])
                try ensemble.observe(100 + 0.05 * Double(t) + 20 * sin(2 * Double.pi * phase) + 4 * rng.gaussian())
            }
            return ensemble.memberForecasts().filter { $0.model.hasSuffix("holt_winters") }
        }
        let long = try holtWinters(periods: [52], smooth: true)
        #expect(long.count == 2)
        #expect(long != (try holtWinters(periods: [52], smooth: false)))
        let short = try holtWinters(periods: [12], smooth: true)
        #expect(short.count == 2)
        #expect(short == (try holtWinters(periods: [12], smooth: false)))
    }
}
