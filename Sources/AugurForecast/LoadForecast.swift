/// A two-sided prediction interval for one forecast step.
///
/// Thread-safety: a plain value; `Sendable`.
public struct PredictionInterval: Sendable, Equatable {
    /// Nominal coverage, e.g. 0.8 or 0.95.
    public let level: Double
    /// Lower bound, in the series' own unit (e.g. ops/s).
    public let lower: Double
    /// Upper bound, in the series' own unit.
    public let upper: Double

    public init(level: Double, lower: Double, upper: Double) {
        self.level = level
        self.lower = lower
        self.upper = upper
    }

    /// Whether `value` lies inside the closed interval.
    public func contains(_ value: Double) -> Bool { lower <= value && value <= upper }
}

/// The forecast for one step ahead.
///
/// Thread-safety: a plain value; `Sendable`.
public struct ForecastStep: Sendable, Equatable {
    /// Steps ahead, 1...horizon (1 = the next observation).
    public let step: Int
    /// Point forecast, in the series' unit.
    public let point: Double
    /// 80% interval; nil until step 1 has `IntervalOptions.minimumResiduals` residuals (a step
    /// with fewer of its own borrows a shorter step's, widened).
    public let interval80: PredictionInterval?
    /// 95% interval; nil under the same condition as `interval80`.
    public let interval95: PredictionInterval?
}

/// An H-step forecast of one series by one model (or by the ensemble).
///
/// Thread-safety: a plain value; `Sendable`.
public struct LoadForecast: Sendable, Equatable {
    /// Model name: `ensemble`, or one of `ForecastEnsemble.memberNames`.
    public let model: String
    /// Number of observations the forecast is conditioned on: step h forecasts observation
    /// `observationCount + h − 1` (0-based).
    public let observationCount: Int
    /// Steps 1...horizon, in order.
    public let steps: [ForecastStep]
}
