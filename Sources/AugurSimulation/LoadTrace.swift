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
    /// The largest row. Rows are divided by it before they are scaled to the peak: a tiny
    /// maximum (a subnormal 5e-324) made `peak / maximum` infinite and every rate NaN.
    private let maximum: Double

    /// Creates a profile from rows `problem(rows:)` accepts (a programmer's error otherwise).
    public init(rows: [Double], secondsPerRow: Double, peakOpsPerSecond: Double) {
        precondition(Self.problem(rows: rows) == nil, "invalid profile rows: \(Self.problem(rows: rows) ?? "")")
        self.rows = rows
        self.secondsPerRow = secondsPerRow
        self.peakOpsPerSecond = peakOpsPerSecond
        maximum = rows.max()!
    }

    /// Why `rows` cannot be a load profile, or nil: it needs at least one row, every row finite
    /// and ≥ 0 (a load), and a largest row above zero. The message names the first bad row
    /// (1-based).
    public static func problem(rows: [Double]) -> String? {
        if rows.isEmpty { return "no rows" }
        if let i = rows.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
            return "row \(i + 1) is \(rows[i]); every row must be a finite load ≥ 0"
        }
        if !(rows.max()! > 0) { return "no row is above 0 (\(rows.count) rows)" }
        return nil
    }

    /// Simulated duration of the whole profile. Unit: s.
    public var durationSeconds: Double { Double(rows.count) * secondsPerRow }

    /// Total load at simulated time `t` seconds. Unit: ops/s.
    public func opsPerSecond(at t: Double) -> Double {
        let x = max(0, t / secondsPerRow)
        let i = Int(x)
        if i >= rows.count - 1 { return rows[rows.count - 1] / maximum * peakOpsPerSecond }
        let f = x - Double(i)
        return (rows[i] / maximum * (1 - f) + rows[i + 1] / maximum * f) * peakOpsPerSecond
    }
}
