/// Every way bad input can be rejected by ``KeyShareForecaster``.
///
/// Each case names the offending value and the limit it broke, so `description` can be shown
/// to a user as is. The forecaster never traps on bad input and a rejected call changes nothing.
///
/// Thread-safety: a plain value; `Sendable`.
public enum KeyShareError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bucket count is outside `minimum...maximum` (the histogram limit, 1...4096).
    case invalidBucketCount(count: Int, minimum: Int, maximum: Int)
    /// The horizon is outside `minimum...maximum` steps.
    case invalidHorizon(horizon: Int, minimum: Int, maximum: Int)
    /// A count vector has `count` entries where the forecaster has `expected` buckets.
    case countMismatch(count: Int, expected: Int)
    /// A bucket's count is NaN, infinite or negative. `bucket` is its 0-based index.
    case invalidCount(bucket: Int, value: Double)
    /// A tuning option is out of range. `limit` says what is allowed, in words.
    case invalidOption(name: String, value: Double, limit: String)

    public var description: String {
        switch self {
        case let .invalidBucketCount(count, minimum, maximum):
            return "bucket count \(count) is invalid: it must be between \(minimum) and \(maximum)"
        case let .invalidHorizon(horizon, minimum, maximum):
            return "horizon \(horizon) is invalid: it must be between \(minimum) and \(maximum) steps"
        case let .countMismatch(count, expected):
            return "\(count) bucket counts given; the forecaster has \(expected) buckets"
        case let .invalidCount(bucket, value):
            return "count of bucket \(bucket) (0-based) is \(value); counts must be finite and ≥ 0"
        case let .invalidOption(name, value, limit):
            return "option \(name) = \(value) is invalid: \(limit)"
        }
    }
}

/// Everything a ``KeyShareForecaster`` can be tuned with. One configuration serves every
/// workload: the forecaster adapts its smoothing, drift and candidate weights online, and these
/// only bound how fast it may do so. Units are forecast steps unless a field says otherwise.
///
/// Thread-safety: a plain value; `Sendable`.
public struct KeyShareOptions: Sendable, Equatable {
    /// Largest bucket count accepted (the key histogram's limit).
    public static let maximumBucketCount = 4096
    /// Largest horizon accepted, in steps (bounds memory: one stored forecast per candidate and
    /// step of the horizon, `candidates × horizon × buckets` doubles).
    public static let maximumHorizon = 256
    /// Largest number of smoothing rates in ``smoothingRates``.
    public static let maximumSmoothingRates = 8

    /// The bank of smoothing rates (weight of the newest step, each in (0, 1]) raced online:
    /// every rate drives one drift-compensated smoother per key-space topology (ring and line),
    /// and the race keeps the rate whose forecasts have been right. Default `[1, 0.5, 0.25]`:
    /// the newest step alone, and memories of about two and four steps.
    public var smoothingRates: [Double] = [1, 0.5, 0.25]
    /// Weight of the newest step in the long-run mean share (a candidate: the right answer for
    /// a stationary distribution whose per-step counts are noisy). In (0, 1]. Default 0.02
    /// (a memory of about 50 steps).
    public var longRunRate = 0.02
    /// Weight of the newest drift measurement in the drift estimate, scaled by the
    /// measurement's confidence. In (0, 1]. Default 0.3.
    public var driftSmoothing = 0.3
    /// Largest drift searched for between two steps, as a fraction of the buckets. In
    /// (0, 0.5) — a shift of half the ring is ambiguous. Default 0.4.
    public var maximumDriftFraction = 0.4
    /// Weight of the newest scored forecast in each candidate's running error. In (0, 1].
    /// Default 0.1 (about ten scored forecasts).
    public var errorSmoothing = 0.1
    /// Candidates are blended with weights ∝ error^−`weightExponent`: large picks the best
    /// candidate, small averages them. In (0, 64]. Default 4 (a candidate with twice the error
    /// gets a sixteenth of the weight).
    public var weightExponent = 4.0

    public init() {}

    /// Throws the first invalid option found.
    public func validate() throws(KeyShareError) {
        guard !smoothingRates.isEmpty && smoothingRates.count <= Self.maximumSmoothingRates else {
            throw .invalidOption(name: "smoothingRates.count", value: Double(smoothingRates.count),
                                 limit: "between 1 and \(Self.maximumSmoothingRates) rates")
        }
        for rate in smoothingRates where !(rate > 0 && rate <= 1) {
            throw .invalidOption(name: "smoothingRates", value: rate, limit: "each rate must be in (0, 1]")
        }
        func unit(_ name: String, _ v: Double) throws(KeyShareError) {
            guard v > 0 && v <= 1 else { throw .invalidOption(name: name, value: v, limit: "must be in (0, 1]") }
        }
        try unit("longRunRate", longRunRate)
        try unit("driftSmoothing", driftSmoothing)
        try unit("errorSmoothing", errorSmoothing)
        guard maximumDriftFraction > 0 && maximumDriftFraction < 0.5 else {
            throw .invalidOption(name: "maximumDriftFraction", value: maximumDriftFraction, limit: "must be in (0, 0.5)")
        }
        guard weightExponent > 0 && weightExponent <= 64 else {
            throw .invalidOption(name: "weightExponent", value: weightExponent, limit: "must be in (0, 64]")
        }
    }
}
