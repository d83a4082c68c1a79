/// What one partition can sustain, and the planner's global limits. Every field is a named
/// option with its unit and default; time is in nanoseconds of the engine clock.
///
/// Utilization of a partition is `max(ops / opsPerSecond, writeBytes / writeBytesPerSecond,
/// cost / costBudget)` (dimensionless; `1` = at capacity). A partition is *overloaded* when its
/// utilization exceeds `1`.
///
/// Two ways to say what a partition can take: fixed rates (`opsPerSecond`,
/// `writeBytesPerSecond`: the simulator and tests, or an operator who knows), or *measured*
/// cost (`costBudget`: seconds of work inside the partition per second, which the engine
/// measures — see ``measured(costBudget:)``, the engine's default). Either may be `.infinity`
/// (no limit of that kind); both may be combined.
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
    /// Measured work one partition may do per second before it counts as saturated: seconds of
    /// foreground operations (with their lock waits) and maintenance inside the partition per
    /// second. Unit: s/s. Default nil (not used: fixed rates only).
    public var costBudget: Double? = nil
    /// What a reshard copies and how long it takes: the bytes every planned action reports
    /// (`PredictedEffect.bytesToMove`) and the move-or-split choice come from it. Default
    /// ``ReshardCostModel/init(dataMode:)`` with `.shareFiles`, the engine's default; the engine
    /// hands the controller its own, refined from the reshards it measured.
    public var reshardCost = ReshardCostModel()

    /// The engine's default capacity: no fixed ops or bytes limit; a partition is at capacity
    /// when its measured work reaches `costBudget` seconds per second. The default, 0.5 s/s, is
    /// CockroachDB's load-based split threshold (500 ms of CPU per second per range). In this
    /// mode the controller also reports what that means in ops/s for the machine it runs on
    /// (`costBudget ÷ measured cost per operation`).
    public static func measured(costBudget: Double = 0.5) -> CapacityModel {
        // 256 MiB: TiKV's default region size since v8.4 (CockroachDB's range limit is 512 MiB).
        // Below CockroachDB's because a partition merges its runs by itself: how often each byte
        // is rewritten grows with the partition's data over its flush size, and halving it took
        // 10 M random puts from 4.7-5.1 to 3.6-4.0 bytes written per byte put (docs/PERFORMANCE.md,
        // issue 19). Horizon and cooldown of 30 s suit a controller that samples every second and
        // forecasts 5 s steps.
        var c = CapacityModel(opsPerSecond: .infinity, writeBytesPerSecond: .infinity, maxPartitionBytes: 256 << 20,
                              minPartitionBytes: 1 << 20, horizonNanos: 30_000_000_000, cooldownNanos: 30_000_000_000)
        c.costBudget = costBudget
        return c
    }

    /// Whether capacity comes from measured cost (no fixed ops and bytes limits).
    public var isMeasured: Bool { costBudget != nil && opsPerSecond == .infinity && writeBytesPerSecond == .infinity }

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
        let rates = max(load.opsPerSecond / opsPerSecond, load.writeBytesPerSecond / writeBytesPerSecond)
        guard let costBudget else { return rates }
        return max(rates, load.costPerSecond / costBudget)
    }

    /// Problems with the options, empty when valid.
    public func validationErrors() -> [String] {
        var errors: [String] = []
        if !(opsPerSecond > 0) { errors.append("opsPerSecond must be > 0 or infinity (got \(opsPerSecond))") }
        if !(writeBytesPerSecond > 0) { errors.append("writeBytesPerSecond must be > 0 or infinity (got \(writeBytesPerSecond))") }
        if let costBudget, !(costBudget > 0 && costBudget <= 64) {
            errors.append("costBudget must be in (0, 64] seconds per second (got \(costBudget))")
        }
        if opsPerSecond == .infinity && writeBytesPerSecond == .infinity && costBudget == nil {
            errors.append("no capacity limit: give opsPerSecond, writeBytesPerSecond or costBudget")
        }
        if !(horizonNanos > 0) { errors.append("horizonNanos must be > 0") }
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
