/// The stated upper limits of every workload number. Each one keeps a run bounded in time,
/// memory and disk, and keeps arithmetic on it finite: a rate of 1e300 ops/s makes the open
/// loop's next start equal to this one (it never advances), a row of 1e-300 s turns the replay
/// index into inf, 1e-9-second samples allocate a histogram per nanosecond.
public enum WorkloadLimits {
    /// Highest target rate, operations per second (all threads together).
    public static let maxRate = 1e9
    /// Lowest non-zero target rate (one operation in about 17 minutes), operations per second.
    public static let minRate = 0.001
    /// Longest run phase (warm-up, duration, ramp, spike, period), seconds: one week.
    public static let maxSeconds = 604_800.0
    /// Shortest time span a profile or sample may have, seconds.
    public static let minSeconds = 0.001
    /// Most time-series samples one run keeps (each holds a latency histogram, ~20 KB).
    public static let maxSamples = 100_000
    /// Most records (the key space): a billion 100-byte records is already ~100 GB on disk.
    public static let maxRecords = 1_000_000_000
    /// Most puts in one batch, series in the time-series workload, keys in one scan.
    public static let maxBatchSize = 1_000_000
    public static let maxSeries = 1_000_000
    public static let maxScanLength = 1_000_000
    /// Fastest moving hotspot, key-space fractions per second.
    public static let maxHotSpeed = 1000.0

    /// Throws unless `v` is finite and in `[minSeconds, maxSeconds]`.
    static func checkSpan(_ name: String, _ v: Double) throws(WorkloadError) {
        if !(v >= minSeconds && v <= maxSeconds) {
            throw .invalidOption(name: name, value: formatNumber(v),
                                 reason: "must be a finite number of seconds in \(formatNumber(minSeconds))...\(formatNumber(maxSeconds))")
        }
    }
}
