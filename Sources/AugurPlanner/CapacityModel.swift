/// What one partition can sustain, and the planner's global limits. Every field is a named
/// option with its unit and default; time is in nanoseconds of the engine clock.
///
/// Utilization of a partition is `max(ops / opsPerSecond, writeBytes / writeBytesPerSecond)`
/// (dimensionless; `1` = at capacity). A partition is *overloaded* when its utilization
/// exceeds `1`.
///
/// Thread-safety: value type, `Sendable`.
public struct CapacityModel: Sendable, Hashable {
    /// Operations per second one partition sustains. Unit: ops/s. Default `1000`.
    public var opsPerSecond: Double
    /// Written bytes per second one partition sustains. Unit: bytes/s. Default `4 MiB/s`.
    public var writeBytesPerSecond: Double
    /// Largest partition size before it must split. Unit: bytes. Default `8 GiB`.
    public var maxPartitionBytes: UInt64
    /// Smallest useful partition: partitions below it are merge candidates (if load allows)
    /// and splits never create children predicted to be smaller. Unit: bytes. Default `64 MiB`.
    public var minPartitionBytes: UInt64
    /// Utilization above which a partition needs relief (split or boundary move).
    /// Dimensionless fraction of capacity. Default `0.8`.
    public var highWatermark: Double
    /// Utilization below which two neighbours' combined load must stay before they may merge.
    /// Dimensionless fraction of capacity. Default `0.3`. Must be below `highWatermark`
    /// (the gap is the hysteresis band).
    public var lowWatermark: Double
    /// How far ahead the predictive policy looks. Unit: ns. Default `120 s`.
    public var horizonNanos: UInt64
    /// Anti-thrash cooldown: no merge of a partition that a split, merge or boundary move
    /// created or touched within this time, and no boundary move of a boundary moved within
    /// it. Unit: ns. Default `600 s`.
    public var cooldownNanos: UInt64
    /// Most reshards in flight at once (already running plus newly planned). Unit: actions.
    /// Default `4`.
    public var maxConcurrentReshards: Int

    /// Creates a capacity model; every parameter has the documented default.
    public init(opsPerSecond: Double = 1000,
                writeBytesPerSecond: Double = 4 * 1024 * 1024,
                maxPartitionBytes: UInt64 = 8 << 30,
                minPartitionBytes: UInt64 = 64 << 20,
                highWatermark: Double = 0.8,
                lowWatermark: Double = 0.3,
                horizonNanos: UInt64 = 120 * 1_000_000_000,
                cooldownNanos: UInt64 = 600 * 1_000_000_000,
                maxConcurrentReshards: Int = 4) {
        self.opsPerSecond = opsPerSecond
        self.writeBytesPerSecond = writeBytesPerSecond
        self.maxPartitionBytes = maxPartitionBytes
        self.minPartitionBytes = minPartitionBytes
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
        self.horizonNanos = horizonNanos
        self.cooldownNanos = cooldownNanos
        self.maxConcurrentReshards = maxConcurrentReshards
    }

    /// Utilization of a load sample (see the type's documentation).
    @inlinable
    public func utilization(_ load: LoadSample) -> Double {
        max(load.opsPerSecond / opsPerSecond, load.writeBytesPerSecond / writeBytesPerSecond)
    }

    /// Problems with the options, empty when valid.
    public func validationErrors() -> [String] {
        var errors: [String] = []
        if !(opsPerSecond > 0) { errors.append("opsPerSecond must be > 0 (got \(opsPerSecond))") }
        if !(writeBytesPerSecond > 0) { errors.append("writeBytesPerSecond must be > 0 (got \(writeBytesPerSecond))") }
        if maxPartitionBytes == 0 { errors.append("maxPartitionBytes must be > 0") }
        if minPartitionBytes >= maxPartitionBytes { errors.append("minPartitionBytes must be < maxPartitionBytes") }
        if !(highWatermark > 0 && highWatermark <= 1) { errors.append("highWatermark must be in (0, 1] (got \(highWatermark))") }
        if !(lowWatermark > 0 && lowWatermark < highWatermark) {
            errors.append("lowWatermark must be in (0, highWatermark) (got \(lowWatermark))")
        }
        if maxConcurrentReshards < 1 { errors.append("maxConcurrentReshards must be ≥ 1 (got \(maxConcurrentReshards))") }
        return errors
    }
}
