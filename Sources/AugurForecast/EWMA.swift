/// Exponentially weighted moving average (simple exponential smoothing).
///
/// level ← level + α·(y − level); every step's forecast is the level. Warm after one
/// observation.
///
/// Why: the cheapest model that tracks a slowly moving level; in the ensemble it covers
/// series with no seasonality or trend, where heavier models only add variance.
///
/// Thread-safety: a value type; one series per instance, confine mutation to one thread.
struct EWMA: OnlineForecastModel, Sendable {
    /// Smoothing weight of the newest observation, in (0, 1].
    let alpha: Double
    private var level = 0.0
    private var seen = false

    init(alpha: Double) { self.alpha = alpha }

    var isWarm: Bool { seen }

    @inline(__always)
    func oneStepForecast() -> Double { level }

    @inline(__always)
    mutating func observe(_ value: Double) {
        if seen { level += alpha * (value - level) } else { level = value; seen = true }
    }

    func forecast(into out: UnsafeMutableBufferPointer<Double>) {
        for i in 0..<out.count { out[i] = level }
    }
}
