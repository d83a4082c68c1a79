/// Total table load over time, from a series of rows (e.g. a CSV column), scaled so the
/// largest row equals `peakOpsPerSecond`; linearly interpolated between rows, each row lasting
/// `secondsPerRow`, and held at the last row after the end. (Not AugurWorkload's
/// `RateProfile`, the shapes of a benchmark's target rate; its `ReplayCurve` is the nearest
/// kin but wraps around at the end and may map the minimum to a low rate.)
///
/// Thread-safety: immutable value type, `Sendable`.
public struct LoadTrace: Sendable {
    /// The raw rows.
    public let rows: [Double]
    /// Simulated seconds per row. Unit: s.
    public let secondsPerRow: Double
    /// Load at the largest row. Unit: ops/s.
    public let peakOpsPerSecond: Double
    private let scale: Double

    /// Creates a profile; `rows` must be non-empty with a positive maximum.
    public init(rows: [Double], secondsPerRow: Double, peakOpsPerSecond: Double) {
        precondition(!rows.isEmpty, "profile needs rows")
        let m = rows.max()!
        precondition(m > 0, "profile maximum must be positive")
        self.rows = rows
        self.secondsPerRow = secondsPerRow
        self.peakOpsPerSecond = peakOpsPerSecond
        scale = peakOpsPerSecond / m
    }

    /// Simulated duration of the whole profile. Unit: s.
    public var durationSeconds: Double { Double(rows.count) * secondsPerRow }

    /// Total load at simulated time `t` seconds. Unit: ops/s.
    public func opsPerSecond(at t: Double) -> Double {
        let x = max(0, t / secondsPerRow)
        let i = Int(x)
        if i >= rows.count - 1 { return rows[rows.count - 1] * scale }
        let f = x - Double(i)
        return (rows[i] * (1 - f) + rows[i + 1] * f) * scale
    }
}
