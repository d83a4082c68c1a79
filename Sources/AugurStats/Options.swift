// Every user-visible knob of AugurStats, with its unit and default.
//
// All option types are plain `Sendable` value types: safe to copy and share
// between threads; they are read once when the component that takes them is
// created.

/// Options of a ``KeyHistogram``.
///
/// Thread-safety: value type, `Sendable`; immutable once handed to a histogram.
public struct HistogramOptions: Sendable, Hashable {
    /// Number of fixed buckets over the partition's key range `[lo, hi)`.
    ///
    /// Unit: buckets. Default: `64`. Valid range: `1...4096`. Memory per
    /// histogram is `bucketCount × 32 bytes × (stripeCount + 1)` (rounded up
    /// to 128-byte stripes); with the defaults that is 34 KiB.
    public var bucketCount: Int

    /// Number of private counter stripes, one per thread slot index
    /// `0..<stripeCount`. A slot whose index is inside this range owns its
    /// stripe and updates it without read-modify-write instructions; any other
    /// slot (and ``StatsSlot/unregistered``) shares one extra stripe updated with
    /// atomic read-modify-write.
    ///
    /// Unit: stripes. Default: `16` (match ``ThreadSlotOptions/maxSlots``).
    /// Valid range: `0...64`.
    public var stripeCount: Int

    /// Creates histogram options.
    public init(bucketCount: Int = 64, stripeCount: Int = 16) {
        self.bucketCount = bucketCount
        self.stripeCount = stripeCount
    }
}

/// Options of a ``StatsSlotRegistry``.
///
/// Thread-safety: value type, `Sendable`.
public struct ThreadSlotOptions: Sendable, Hashable {
    /// Maximum number of threads that can hold a slot at the same time.
    ///
    /// Unit: slots (threads). Default: `16`. Valid range: `1...64`. Threads
    /// beyond this run unslotted: their histogram updates go to the shared
    /// (atomic RMW) stripe and their workload vectors are dropped and counted.
    public var maxSlots: Int

    /// Creates slot options.
    public init(maxSlots: Int = 16) {
        self.maxSlots = maxSlots
    }
}

/// Options of a ``WorkloadRecorder`` (sampling and per-thread rings).
///
/// Thread-safety: value type, `Sendable`.
public struct SamplingOptions: Sendable, Hashable {
    /// Mean sampling period: on average one operation in `samplingPeriod` is
    /// turned into a ``WorkloadVector``. Each slot draws the gap to its next
    /// sample uniformly from `1...(2 × samplingPeriod − 1)` with a per-slot
    /// xorshift generator (so periodic workloads do not alias), and every
    /// sample carries `weight = samplingPeriod`.
    ///
    /// Unit: operations per sample. Default: `64`. `1` samples every operation.
    /// Valid range: `1...(1 << 30)`.
    public var samplingPeriod: UInt32

    /// Capacity of each per-slot single-producer/single-consumer ring. Rounded
    /// up to a power of two. A full ring drops the new vector and counts the drop.
    ///
    /// Unit: vectors (56 bytes each). Default: `4096` (224 KiB per slot).
    /// Valid range: `2...(1 << 24)`.
    public var ringCapacity: Int

    /// Seed of the per-slot sampling generators (slot `i` uses a value derived
    /// from `seed` and `i`). Unit: none. Default: `0x5EED`.
    public var seed: UInt64

    /// Creates sampling options.
    public init(samplingPeriod: UInt32 = 64, ringCapacity: Int = 4096, seed: UInt64 = 0x5EED) {
        self.samplingPeriod = samplingPeriod
        self.ringCapacity = ringCapacity
        self.seed = seed
    }
}

/// One tier of rolling-window buckets: `bucketCount` buckets of `bucketNanos`
/// each, covering the last `bucketNanos × bucketCount` nanoseconds.
///
/// Thread-safety: value type, `Sendable`.
public struct WindowTier: Sendable, Hashable {
    /// Width of one bucket. Unit: nanoseconds of the engine clock.
    public var bucketNanos: UInt64
    /// Number of buckets kept. Unit: buckets.
    public var bucketCount: Int

    /// Creates a tier.
    public init(bucketNanos: UInt64, bucketCount: Int) {
        self.bucketNanos = bucketNanos
        self.bucketCount = bucketCount
    }

    /// Length of the window. Unit: nanoseconds.
    public var windowNanos: UInt64 { bucketNanos &* UInt64(bucketCount) }

    /// 1 s × 300: the last 5 minutes.
    public static let fiveMinutes = WindowTier(bucketNanos: 1_000_000_000, bucketCount: 300)
    /// 1 min × 60: the last hour.
    public static let hour = WindowTier(bucketNanos: 60_000_000_000, bucketCount: 60)
    /// 15 min × 96: the last day.
    public static let day = WindowTier(bucketNanos: 900_000_000_000, bucketCount: 96)
}

/// Options of a ``WorkloadCollector``.
///
/// Thread-safety: value type, `Sendable`.
public struct CollectorOptions: Sendable, Hashable {
    /// The rolling-window tiers kept per partition, finest first.
    ///
    /// Unit: see ``WindowTier``. Default: `[.fiveMinutes, .hour, .day]`
    /// (1 s × 300, 1 min × 60, 15 min × 96).
    public var tiers: [WindowTier]

    /// HyperLogLog precision `p` of the per-bucket distinct-client sketch:
    /// `2^p` one-byte registers per bucket, relative standard error
    /// `1.04 / sqrt(2^p)`.
    ///
    /// Unit: bits. Default: `6` (64 registers, ≈ 13 % standard error,
    /// 64 bytes per bucket, 29 KiB per partition with the default tiers).
    /// Valid range: `4...12`.
    public var distinctClientPrecision: Int

    /// Number of counters of each partition's Space-Saving heavy-hitter summary.
    /// Any key carrying more than `1 / heavyHitterCapacity` of a summary's
    /// (sampled) load is guaranteed to be in it, and every reported count
    /// overestimates by at most the summary's smallest counter.
    ///
    /// Unit: counters (keys). Default: `256`. Valid range: `1...65536`.
    public var heavyHitterCapacity: Int

    /// Length of one heavy-hitter epoch. Each partition keeps the summary of
    /// the current and of the previous epoch, so reports cover between one
    /// and two epochs of traffic.
    ///
    /// Unit: nanoseconds. Default: `60_000_000_000` (60 s).
    public var heavyHitterEpochNanos: UInt64

    /// A single key whose *guaranteed* share of its partition's load exceeds
    /// this fraction is flagged as a hot key that no split can fix (with a
    /// share above 1/2, no split point balances the two halves).
    ///
    /// Unit: fraction of the partition's load, `0...1`. Default: `0.5`.
    public var singleKeyHotFraction: Double

    /// Creates collector options.
    public init(
        tiers: [WindowTier] = [.fiveMinutes, .hour, .day],
        distinctClientPrecision: Int = 6,
        heavyHitterCapacity: Int = 256,
        heavyHitterEpochNanos: UInt64 = 60_000_000_000,
        singleKeyHotFraction: Double = 0.5
    ) {
        self.tiers = tiers
        self.distinctClientPrecision = distinctClientPrecision
        self.heavyHitterCapacity = heavyHitterCapacity
        self.heavyHitterEpochNanos = heavyHitterEpochNanos
        self.singleKeyHotFraction = singleKeyHotFraction
    }
}

/// Options of the load statistics computed from a ``HistogramSnapshot``.
///
/// Thread-safety: value type, `Sendable`.
public struct LoadStatisticsOptions: Sendable, Hashable {
    /// A bucket is hot when its load exceeds `hotFactor × mean bucket load`;
    /// contiguous hot buckets form one ``HotRange``.
    ///
    /// Unit: multiple of the mean bucket load. Default: `2.0`. Valid range: `> 1`.
    public var hotFactor: Double

    /// Creates statistics options.
    public init(hotFactor: Double = 2.0) {
        self.hotFactor = hotFactor
    }
}
