/// Holt's linear method with a damped trend (Gardner & McKenzie).
///
///     level  ← α·y + (1−α)·(level + φ·trend)
///     trend  ← β·(level − level₋₁) + (1−β)·φ·trend
///     ŷ(t+h) = level + (φ + φ² + … + φʰ)·trend
///
/// Warm after two observations (level = y₁, trend = y₁ − y₀).
///
/// Why damped: an undamped trend extrapolated over the horizon overshoots badly after a
/// ramp ends; damping makes long steps flatten out, which is what load usually does.
///
/// Thread-safety: a value type; one series per instance, confine mutation to one thread.
struct DampedHolt: OnlineForecastModel, Sendable {
    /// Level smoothing α in (0, 1].
    let alpha: Double
    /// Trend smoothing β in [0, 1].
    let beta: Double
    /// Trend damping φ in (0, 1].
    let damping: Double
    private var level = 0.0
    private var trend = 0.0
    private var seen = 0

    init(alpha: Double, beta: Double, damping: Double) {
        self.alpha = alpha
        self.beta = beta
        self.damping = damping
    }

    var isWarm: Bool { seen >= 2 }

    @inline(__always)
    func oneStepForecast() -> Double { level + damping * trend }

    @inline(__always)
    mutating func observe(_ value: Double) {
        switch seen {
        case 0:
            level = value
        case 1:
            trend = value - level
            level = value
        default:
            let previous = level
            level = alpha * value + (1 - alpha) * (level + damping * trend)
            trend = beta * (level - previous) + (1 - beta) * damping * trend
        }
        if seen < 2 { seen += 1 }
    }

    func forecast(into out: UnsafeMutableBufferPointer<Double>) {
        var cumulativeDamping = 0.0
        var power = 1.0
        for i in 0..<out.count {
            power *= damping
            cumulativeDamping += power
            out[i] = level + cumulativeDamping * trend
        }
    }
}
