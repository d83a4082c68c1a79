/// Every way bad input can be rejected by AugurForecast's models and backtest (the CSV
/// reader, `CSVSeries`, throws `CSVError`).
///
/// Each case names the offending value and the limit it broke, so a caller can print
/// `description` to a user as is. The library never traps on bad input: it throws one
/// of these instead.
///
/// Thread-safety: a plain value; `Sendable`.
public enum ForecastError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The series has no observations (or none yet, when a forecast is asked for).
    case emptySeries
    /// An observation is NaN or infinite. `index` is its 0-based position in the series.
    case nonFinite(index: Int, value: Double)
    /// A seasonal period needs more observations than the series has. `count` is the number
    /// of observations available for the purpose that needed the period.
    case periodTooLong(period: Int, count: Int)
    /// A seasonal period is shorter than `minimum` observations.
    case periodTooShort(period: Int, minimum: Int)
    /// A model name that is neither a member nor `ensemble` (`Backtest.run(…model:)`).
    case unknownModel(name: String, available: [String])
    /// The forecast horizon is outside `minimum...maximum` steps.
    case invalidHorizon(horizon: Int, minimum: Int, maximum: Int)
    /// The number of forecast origins is outside `minimum...maximum`.
    case invalidOriginCount(count: Int, minimum: Int, maximum: Int)
    /// A tuning option is out of range. `limit` says what is allowed, in words.
    case invalidOption(name: String, value: Double, limit: String)
    /// A forecast was asked for before there was enough history. `count` is the number of
    /// observations seen, `required` the number needed. (`ForecastEnsemble` no longer throws
    /// it: it forecasts from the first observation while periods are detected.)
    case insufficientHistory(count: Int, required: Int)

    public var description: String {
        switch self {
        case .emptySeries:
            return "the series is empty: at least one observation is needed"
        case let .nonFinite(index, value):
            return "observation at index \(index) (0-based) is \(value); only finite numbers can be forecast"
        case let .periodTooLong(period, count):
            return "seasonal period \(period) is too long: only \(count) observations are available"
        case let .periodTooShort(period, minimum):
            return "seasonal period \(period) is too short: the minimum is \(minimum)"
        case let .unknownModel(name, available):
            return "unknown model '\(name)'; available models: \(available.joined(separator: ", "))"
        case let .invalidHorizon(horizon, minimum, maximum):
            return "horizon \(horizon) is invalid: it must be between \(minimum) and \(maximum) steps"
        case let .invalidOriginCount(count, minimum, maximum):
            return "origin count \(count) is invalid: it must be between \(minimum) and \(maximum)"
        case let .invalidOption(name, value, limit):
            return "option \(name) = \(value) is invalid: \(limit)"
        case let .insufficientHistory(count, required):
            return "only \(count) observations seen; \(required) are needed before forecasting"
        }
    }
}
