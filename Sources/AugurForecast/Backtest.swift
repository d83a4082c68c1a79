/// One emitted forecast of a rolling-origin backtest.
///
/// Thread-safety: a plain value; `Sendable`.
public struct BacktestRow: Sendable, Equatable {
    /// Observations the models had seen (they saw y[0..<origin]).
    public let origin: Int
    /// Steps ahead, 1...horizon; the row forecasts y[origin + step − 1].
    public let step: Int
    public let actual: Double
    /// Member name or `ensemble`.
    public let model: String
    public let forecast: Double
    /// nil when the model had too few residuals for intervals at that origin.
    public let interval80: PredictionInterval?
    public let interval95: PredictionInterval?
}

/// Accuracy of one model over all emitted forecasts.
///
/// Thread-safety: a plain value; `Sendable`.
public struct BacktestScore: Sendable, Equatable {
    public let model: String
    /// Forecasts scored.
    public let count: Int
    /// Mean absolute error divided by the in-sample seasonal-naive MAE.
    public let mase: Double
    /// Share of actuals inside the 80% / 95% interval, over rows that had one (nil: none had).
    public let coverage80: Double?
    public let coverage95: Double?
}

/// Result of `Backtest.run`.
///
/// Thread-safety: a plain value; `Sendable`.
public struct BacktestReport: Sendable, Equatable {
    /// The forecast origins, ascending.
    public let origins: [Int]
    /// MASE denominator: mean |y[t] − y[t−M]| over t in M..<floor(0.8 n).
    public let scale: Double
    /// Rows ordered by origin, then model (members in `ForecastEnsemble.memberNames` order,
    /// ensemble last), then step.
    public let rows: [BacktestRow]
    /// One score per model that emitted forecasts, in row order.
    public let scores: [BacktestScore]
    /// The ensemble's own coverage tracking (every observation's intervals, not only the
    /// origins'), as of the last origin.
    public let trackedCoverage: [IntervalCoverage]
    /// The forecast-error alert as of the last origin.
    public let alert: ForecastAlert
}

/// Rolling-origin evaluation used by `augur forecast`: the series is fed in order once, and at
/// each origin every model's H-step forecast is recorded before the models see y[origin].
///
/// Origins: K evenly spaced from a = floor(0.8 n) to b = n − H inclusive,
/// originᵢ = a + ⌊i·(b − a)/(K − 1)⌋ (a alone when K = 1). MASE is scaled by the in-sample
/// seasonal-naive MAE of the first 80% at period M (the first seasonal period given).
///
/// No look-ahead: the ensemble is causal, and the scale uses only the first 80%, which every
/// origin has already seen.
///
/// Thread-safety: stateless; safe from any thread.
public enum Backtest {
    /// The K origins for a series of `count` observations.
    public static func origins(count n: Int, horizon: Int, originCount k: Int) throws(ForecastError) -> [Int] {
        guard n > 0 else { throw .emptySeries }
        let a = (8 * n) / 10
        guard horizon >= 1 && n - horizon >= a else {
            throw .invalidHorizon(horizon: horizon, minimum: 1, maximum: max(n - a, 0))
        }
        let b = n - horizon
        guard k >= 1 && k <= b - a + 1 else {
            throw .invalidOriginCount(count: k, minimum: 1, maximum: b - a + 1)
        }
        if k == 1 { return [a] }
        return (0..<k).map { a + ($0 * (b - a)) / (k - 1) }
    }

    /// In-sample seasonal-naive MAE of y[0..<trainingCount] at `period`; 0 when it is under
    /// 10⁻¹² of the mean |y| there (rounding noise, which would make every MASE enormous).
    public static func seasonalNaiveScale(_ y: [Double], period: Int, trainingCount: Int) throws(ForecastError) -> Double {
        guard period >= 1 else { throw .periodTooShort(period: period, minimum: 1) }
        guard period < trainingCount else { throw .periodTooLong(period: period, count: trainingCount) }
        var sum = 0.0, level = 0.0
        for t in period..<trainingCount { sum += abs(y[t] - y[t - period]) }
        // A mean built as it goes: a plain sum of values near 1e306 overflowed to ∞, and every
        // real scale then read as noise (review).
        for t in 0..<trainingCount { level += abs(y[t]) / Double(trainingCount) }
        let scale = sum / Double(trainingCount - period)
        // Rounding noise is no scale: 100 + 50·sin(2πt/24) repeats every 24 steps up to the
        // last bits of a Double, its scale came out 5e-14, and MASEs of 4e14 were printed as
        // scores (found from outside). Below a 10⁻¹² share of the series' mean magnitude it is 0.
        return scale <= 1e-12 * level ? 0 : scale
    }

    /// Runs the protocol. `options.seasonalPeriods` must be non-empty: its first entry is the
    /// MASE period. Throws for an empty series, a non-finite value, a period longer than the
    /// data, or an invalid horizon or origin count.
    ///
    /// `model` scores one model alone (a member name or `ensemble`): the ensemble still runs
    /// whole — a member's forecast does not depend on the others — but only that model's rows
    /// and score are kept. An unknown name throws `.unknownModel` before any work.
    public static func run(series y: [Double], options: ForecastOptions, originCount: Int,
                           model: String? = nil) throws(ForecastError) -> BacktestReport {
        if let model, !modelNames.contains(model) { throw .unknownModel(name: model, available: modelNames) }
        guard !y.isEmpty else { throw .emptySeries }
        if let bad = y.firstIndex(where: { !$0.isFinite }) { throw .nonFinite(index: bad, value: y[bad]) }
        for period in options.seasonalPeriods where period >= y.count {
            throw .periodTooLong(period: period, count: y.count)
        }
        guard let masePeriod = options.seasonalPeriods.first else {
            throw .invalidOption(name: "seasonalPeriods", value: 0, limit: "the backtest needs the MASE period")
        }
        try options.validate()
        let origins = try origins(count: y.count, horizon: options.horizon, originCount: originCount)
        let scale = try seasonalNaiveScale(y, period: masePeriod, trainingCount: (8 * y.count) / 10)

        let ensemble = try ForecastEnsemble(options: options)
        var rows: [BacktestRow] = []
        var fed = 0
        for origin in origins {
            while fed < origin {
                try ensemble.observe(y[fed])
                fed += 1
            }
            var forecasts = ensemble.memberForecasts()
            if let combined = try? ensemble.forecast() { forecasts.append(combined) }
            for forecast in forecasts where model == nil || forecast.model == model {
                for step in forecast.steps {
                    rows.append(BacktestRow(origin: origin, step: step.step, actual: y[origin + step.step - 1],
                                            model: forecast.model, forecast: step.point,
                                            interval80: step.interval80, interval95: step.interval95))
                }
            }
        }
        return BacktestReport(origins: origins, scale: scale, rows: rows, scores: scores(rows, scale: scale),
                              trackedCoverage: ensemble.coverage, alert: ensemble.alert)
    }

    /// Every name `run(…model:)` accepts: the members in order, then `ensemble`.
    public static var modelNames: [String] { ForecastEnsemble.memberNames + [ForecastEnsemble.ensembleName] }

    static func scores(_ rows: [BacktestRow], scale: Double) -> [BacktestScore] {
        var order: [String] = []
        var absolute: [String: Double] = [:]
        var counts: [String: Int] = [:]
        var inside: [String: (hits80: Int, n80: Int, hits95: Int, n95: Int)] = [:]
        for row in rows {
            if counts[row.model] == nil { order.append(row.model) }
            counts[row.model, default: 0] += 1
            absolute[row.model, default: 0] += abs(row.actual - row.forecast)
            var c = inside[row.model] ?? (0, 0, 0, 0)
            if let i = row.interval80 { c.n80 += 1; if i.contains(row.actual) { c.hits80 += 1 } }
            if let i = row.interval95 { c.n95 += 1; if i.contains(row.actual) { c.hits95 += 1 } }
            inside[row.model] = c
        }
        return order.map { model in
            let n = counts[model]!
            let c = inside[model]!
            return BacktestScore(model: model, count: n, mase: absolute[model]! / Double(n) / scale,
                                 coverage80: c.n80 == 0 ? nil : Double(c.hits80) / Double(c.n80),
                                 coverage95: c.n95 == 0 ? nil : Double(c.hits95) / Double(c.n95))
        }
    }
}
