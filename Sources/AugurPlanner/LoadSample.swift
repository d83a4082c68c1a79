/// Load of one partition over one sampling interval (or a peak of such samples).
///
/// Thread-safety: value type, `Sendable`.
public struct LoadSample: Sendable, Hashable {
    /// Operations per second (reads + writes). Unit: ops/s.
    public var opsPerSecond: Double
    /// Written bytes per second. Unit: bytes/s.
    public var writeBytesPerSecond: Double
    /// Measured cost: seconds of work inside the partition (its operations, their lock waits,
    /// its flushes and merges) per second of wall time. Unit: s/s. Zero when not measured.
    public var costPerSecond: Double

    /// Creates a sample.
    public init(opsPerSecond: Double, writeBytesPerSecond: Double = 0, costPerSecond: Double = 0) {
        self.opsPerSecond = opsPerSecond
        self.writeBytesPerSecond = writeBytesPerSecond
        self.costPerSecond = costPerSecond
    }

    /// No load.
    public static let zero = LoadSample(opsPerSecond: 0, writeBytesPerSecond: 0)

    /// Component-wise sum (used for the conservative "sum of peaks" of a merge pair).
    public static func + (a: LoadSample, b: LoadSample) -> LoadSample {
        LoadSample(opsPerSecond: a.opsPerSecond + b.opsPerSecond,
                   writeBytesPerSecond: a.writeBytesPerSecond + b.writeBytesPerSecond,
                   costPerSecond: a.costPerSecond + b.costPerSecond)
    }

    /// Scales both components.
    public static func * (a: LoadSample, s: Double) -> LoadSample {
        LoadSample(opsPerSecond: a.opsPerSecond * s, writeBytesPerSecond: a.writeBytesPerSecond * s,
                   costPerSecond: a.costPerSecond * s)
    }
}

/// The peak load of a partition over a trailing window.
///
/// Thread-safety: value type, `Sendable`.
public struct WindowPeak: Sendable, Hashable {
    /// Length of the window. Unit: ns.
    public var windowNanos: UInt64
    /// Largest sample seen in the window, per component.
    public var peak: LoadSample
    /// How much of the window the partition (or the history it inherited) actually covers.
    /// Unit: ns. A peak is only trusted for a window it fully covers.
    public var coveredNanos: UInt64

    /// Creates a window peak.
    public init(windowNanos: UInt64, peak: LoadSample, coveredNanos: UInt64) {
        self.windowNanos = windowNanos
        self.peak = peak
        self.coveredNanos = coveredNanos
    }
}
