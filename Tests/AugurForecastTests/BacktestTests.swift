import Foundation
import Testing
@testable import AugurForecast

@Suite("Backtest protocol and CSV column reading")
struct BacktestTests {
    @Test func originsFollowTheProtocol() throws {
        let origins = try Backtest.origins(count: 4032, horizon: 4, originCount: 30)
        #expect(origins.count == 30)
        #expect(origins.first == 3225 && origins.last == 4028)
        #expect(origins == origins.sorted() && Set(origins).count == 30)
        #expect(origins[1] == 3225 + 803 / 29)
        #expect(try Backtest.origins(count: 100, horizon: 1, originCount: 1) == [80])
    }

    @Test func seasonalNaiveScaleIsTheInSampleMAE() throws {
        let y = [1.0, 2, 4, 7, 11, 16]
        // period 2, training 5: |4−1| + |7−2| + |11−4| = 15 over 3.
        #expect(try Backtest.seasonalNaiveScale(y, period: 2, trainingCount: 5) == 5)
    }

    /// Found from outside: a pure sine of the period has a scale of rounding noise (5e-14 on
    /// values near 100), and MASEs of 4e14 were printed as scores, exit 0. It is 0 now, which
    /// `augur forecast` reports as an undefined MASE; a small real variation keeps its scale.
    @Test func aScaleOfRoundingNoiseIsZero() throws {
        let sine = (0..<200).map { 100 + 50 * sin(2 * Double.pi * Double($0) / 24) }
        #expect(try Backtest.seasonalNaiveScale(sine, period: 24, trainingCount: 160) == 0)
        let varied = sine.enumerated().map { $0.element + ($0.offset % 7 == 0 ? 1e-6 : 0) }
        #expect(try Backtest.seasonalNaiveScale(varied, period: 24, trainingCount: 160) > 0)
        // Values near 1e306: their sum overflows, their mean does not (review).
        let huge = (0..<200).map { 1e306 * (1.5 + 0.2 * sin(2 * Double.pi * Double($0) / 24) + 0.01 * Double($0 % 7)) }
        #expect(try Backtest.seasonalNaiveScale(huge, period: 24, trainingCount: 160) > 1e300)
    }

    @Test func rowsCoverEveryModelStepAndOrigin() throws {
        var options = ForecastOptions()
        options.seasonalPeriods = [24, 168]
        options.horizon = 3
        let y = doubleSeasonal(count: 168 * 8, p1: 24, p2: 168, noise: 1, seed: 3)
        let report = try Backtest.run(series: y, options: options, originCount: 5)
        #expect(report.origins.count == 5)
        #expect(report.scores.map(\.model) == ForecastEnsemble.memberNames + ["ensemble"])
        #expect(report.rows.count == 5 * (ForecastEnsemble.memberNames.count + 1) * 3)
        for row in report.rows { #expect(row.actual == y[row.origin + row.step - 1]) }
        // 15 forecasts are too few to rank close models; the flat models must lose clearly.
        let mase = Dictionary(uniqueKeysWithValues: report.scores.map { ($0.model, $0.mase) })
        #expect(mase["ensemble"]! < 0.5 * min(mase["ewma"]!, mase["damped_holt"]!), "\(report.scores)")
        // Same input, same report.
        #expect(try Backtest.run(series: y, options: options, originCount: 5) == report)
    }

    @Test func oneModelKeepsExactlyItsRowsAndScore() throws {
        var options = ForecastOptions()
        options.seasonalPeriods = [24]
        options.horizon = 2
        let y = doubleSeasonal(count: 24 * 30, p1: 24, p2: 168, noise: 1, seed: 9)
        let all = try Backtest.run(series: y, options: options, originCount: 4)
        for name in Backtest.modelNames {
            let one = try Backtest.run(series: y, options: options, originCount: 4, model: name)
            #expect(one.rows == all.rows.filter { $0.model == name }, "\(name)")
            #expect(one.scores == all.scores.filter { $0.model == name }, "\(name)")
            #expect(one.scale == all.scale && one.origins == all.origins)
        }
        #expect(throws: ForecastError.unknownModel(name: "prophet", available: Backtest.modelNames)) {
            try Backtest.run(series: y, options: options, originCount: 4, model: "prophet")
        }
    }

    @Test func noLookAhead() throws {
        // Changing values after the last origin's targets must not change any forecast.
        var options = ForecastOptions()
        options.seasonalPeriods = [24]
        options.horizon = 2
        let y = doubleSeasonal(count: 1000, p1: 24, p2: 168, noise: 1, seed: 6)
        let a = try Backtest.run(series: y, options: options, originCount: 3)
        // Origins for n = 1000, H = 2: 800, 899, 998 — the last target is y[999]. Perturb the
        // target of the first origin: forecasts at that origin must not move.
        var z = y
        z[800] += 1000
        let b = try Backtest.run(series: z, options: options, originCount: 3)
        let first = { (r: BacktestReport) in r.rows.filter { $0.origin == 800 }.map(\.forecast) }
        #expect(first(a) == first(b))
        #expect(a.rows.filter { $0.origin == 899 }.map(\.forecast) != b.rows.filter { $0.origin == 899 }.map(\.forecast))
    }

    @Test func csvColumnIsReadWithQuotesSpacesAndCRLF() throws {
        let text = "time, \"ops\" ,other\r\n1, 10.5 ,x\r\n2,\"11\",y\r\n\r\n3,-2e3,z\r\n"
        #expect(try CSVSeries.column(named: "ops", in: text, file: "t.csv") == [10.5, 11, -2000])
        let oldMac = "time, \"ops\" ,other\r1, 10.5 ,x\r2,\"11\",y\r\r3,-2e3,z\r"
        #expect(try CSVSeries.column(named: "ops", in: oldMac, file: "t.csv") == [10.5, 11, -2000])
    }
}
