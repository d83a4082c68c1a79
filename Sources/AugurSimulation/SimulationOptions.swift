import AugurPlanner

/// Every knob of the simulator, with its unit and default.
///
/// Time compression: one row of the rate profile lasts `secondsPerRow` simulated seconds
/// (default 60), so the 48 half-hourly rows of a day of the Taylor demand series become a
/// 48-minute simulated day and the full 4,032-row series 67.2 simulated hours. The engine
/// clock ticks once per simulated second.
///
/// Thread-safety: value type, `Sendable`.
public struct SimulationOptions: Sendable {
    /// Simulated seconds per profile row. Unit: s. Default `60`.
    public var secondsPerRow: Double = 60
    /// Rows of the profile to simulate (from the first); nil = all. Unit: rows. Default nil.
    public var rows: Int? = nil
    /// Rows per daily cycle of the profile (used for the forecasters' seasonal period).
    /// Unit: rows. Default `48` (half-hourly data).
    public var rowsPerDay: Int = 48
    /// Peak total load as a multiple of one partition's ops capacity: the profile is scaled so
    /// its maximum equals `peakMultiple × capacity.opsPerSecond`. Dimensionless. Default `6`.
    public var peakMultiple: Double = 6

    /// Share of the load that follows the moving hotspot (the rest is uniform over the key
    /// space). Dimensionless. Default `0.3`.
    public var hotspotShare: Double = 0.3
    /// Standard deviation of the hotspot's Gaussian load bump, as a fraction of the key space.
    /// Default `0.02`.
    public var hotspotWidth: Double = 0.02
    /// Speed of the hotspot's centre, in key-space fractions per simulated hour (wrapping
    /// from the top of the key space to the bottom). Default `0.5`.
    public var hotspotSpeed: Double = 0.5
    /// Shape of the hotspot: a Gaussian bump of standard deviation `hotspotWidth`, or YCSB's
    /// hot window of width `hotspotWidth`. Default `.gaussian`.
    public var hotspotShape: HotspotShape = .gaussian
    /// Position of the hotspot at time 0 (the Gaussian's centre, the window's first key),
    /// `0..<1`; nil draws it from `seed`. Default nil.
    public var hotspotStart: Double? = nil
    /// Share of the load on one single key (a hot key the planner cannot split). Dimensionless.
    /// Default `0` (off).
    public var hotKeyShare: Double = 0
    /// Position of that key in the key space, `0..<1`. Default `0.5`.
    public var hotKeyPosition: Double = 0.5

    /// Fraction of operations that are writes. Dimensionless. Default `0.25`.
    public var writeFraction: Double = 0.25
    /// Bytes written per write operation. Unit: bytes. Default `1024`.
    public var valueBytes: Double = 1024
    /// Relative standard deviation of each partition's per-second load around its expected
    /// value (sampling noise). Dimensionless. Default `0.05`.
    public var sampleNoise: Double = 0.05
    /// Relative standard deviation of a table-wide per-second load factor. Dimensionless.
    /// Default `0.02`.
    public var globalNoise: Double = 0.02

    /// Data stored in the table, spread uniformly over the key space. Unit: bytes.
    /// Default `24 GiB`.
    public var totalDataBytes: UInt64 = 24 << 30
    /// Equal-width partitions at the start. Unit: partitions. Default `8`.
    public var initialPartitions: Int = 8
    /// Whether the initial partitions' histograms place keys finely enough to cut at load
    /// quantiles. The engine's first partition spans the whole byte key space, so when the
    /// records occupy a sliver of it (augur-load's ordered keys are small big-endian numbers)
    /// they all land in one bucket, no planned cut has records on both sides, and the engine's
    /// executor splits at the data median instead. `false` models that: a split of an initial
    /// partition becomes a 2-way split at its data median (children's histograms are focused
    /// on their keys, as the engine's are). Default `true`.
    public var initialHistogramResolvesKeys: Bool = true

    /// Load before the profile starts: the records being loaded into the table.
    ///
    /// Thread-safety: value type, `Sendable`.
    public struct Prelude: Sendable, Hashable {
        /// Length. Unit: s.
        public var seconds: Int
        /// Writes per second, spread uniformly over the key space. Unit: ops/s.
        public var opsPerSecond: Double

        public init(seconds: Int, opsPerSecond: Double) {
            self.seconds = seconds
            self.opsPerSecond = opsPerSecond
        }
    }
    /// Load simulated before the profile (its samples are in every partition's telemetry when
    /// the profile starts), planned by the static policy with `splitsBySize` — what the engine
    /// runs while augur-load loads its records — and left out of every metric. Default nil.
    public var prelude: Prelude? = nil

    /// Whether reshards run one at a time, in the order they were issued (the engine's executor
    /// has one serial reshard queue; a queued action waits, its partitions locked). Default
    /// `false`: every started action copies at once, each at the copy rate of
    /// `capacity.reshardCost` — the one copy-cost model (``ReshardCostModel``) the simulated planner
    /// predicts with and the simulated executor charges: the bytes it says, in the time it says.
    public var serialReshards: Bool = false
    /// Whether `.static` still splits partitions above `capacity.maxPartitionBytes` (the
    /// engine's `PartitioningOptions.splitsBySize`; the other policies always do). Default
    /// `false`.
    public var splitsBySize: Bool = false

    /// Capacity model given to the planner and used to decide overload.
    public var capacity = CapacityModel()

    /// Length of one forecast step (the forecasters' sampling interval). Unit: s. Default `20`.
    public var forecastStepSeconds: Int = 20
    /// Forecast horizon. Unit: steps. Default `6` (2 minutes at 20 s steps, matching
    /// `CapacityModel.horizonNanos`).
    public var forecastHorizonSteps: Int = 6
    /// Forecast history kept per partition for seeding children after a reshard. Unit: days
    /// of the profile. Default `2`.
    public var seedHistoryDays: Int = 2
    /// Whether the forecasters detect the load's seasonal period from their history (the
    /// engine's default, `PartitioningOptions.seasonalPeriods` empty) instead of being given
    /// `rowsPerDay × secondsPerRow`. Children are then seeded with up to
    /// `RangeLoadHistory.stepsKept` steps. Default `false`.
    public var detectsSeasonality: Bool = false
    /// Whether non-predictive policies also run forecasters (only for reporting; they do not
    /// use them). Default `false` (saves time).
    public var forecastsForAllPolicies: Bool = false

    /// Buckets of each partition's key histogram. Unit: buckets. Default `64`.
    public var histogramBuckets: Int = 64
    /// How often histograms are refreshed (each covers the last interval's load). Unit: s.
    /// Default `10`. Not used with `histogramWindow = .engineMarks`.
    public var histogramRefreshSeconds: Int = 10
    /// Which load a partition's histogram shows the planner. Default `.lastRefresh`.
    public var histogramWindow: HistogramWindow = .lastRefresh
    /// Per-second samples in `PartitionSnapshot.recent`. Unit: samples. Default `15`.
    public var recentSamples: Int = 15
    /// Trailing windows whose peaks are reported. Unit: s. Default `[300, 1800]`.
    public var peakWindowsSeconds: [Int] = [300, 1800]
    /// How long after an action's completion the lead-time tracker keeps watching the
    /// action's original range for an overload. Unit: s. Default `600`.
    public var leadWatchSeconds: Int = 600
    /// Completed reshards kept in the snapshot's history (must cover the cooldown and the
    /// policies' split intervals and merge windows). Unit: s. Default `900`.
    public var historyRetentionSeconds: Int = 900

    /// Record a line per started action in ``Simulator/actionLog`` (for debugging and
    /// `augur simulate --trace`). Default `false`.
    public var recordActions: Bool = false

    /// Seed of every random choice (hotspot start, noise). Default `1`.
    public var seed: UInt64 = 1

    /// Creates default options.
    public init() {}

    /// Which load the histogram a partition shows the planner covers.
    ///
    /// Thread-safety: value type, `Sendable`.
    public enum HistogramWindow: Sendable, Hashable {
        /// Rebuilt every `histogramRefreshSeconds` from the expected load of that interval.
        case lastRefresh
        /// The engine's controller: a cumulative histogram with a mark taken every
        /// `markSeconds` from the partition's birth, of which the newest `marksKept` are kept;
        /// the planner sees the counts since the oldest kept mark (so between
        /// `(marksKept − 1) × markSeconds` and `marksKept × markSeconds` of load), refreshed
        /// every second from the sampled load.
        case engineMarks(markSeconds: Int, marksKept: Int)
    }

    /// Problems with the options, empty when valid.
    public func validationErrors() -> [String] {
        var e = capacity.validationErrors()
        // A byte rate may be unlimited (+infinity, as in `CapacityModel.measured()`); the ops
        // rate scales the profile, so it must be finite.
        if !capacity.opsPerSecond.isFinite || capacity.writeBytesPerSecond.isNaN {
            e.append("capacity.opsPerSecond must be finite and capacity.writeBytesPerSecond finite or infinity (got \(capacity.opsPerSecond), \(capacity.writeBytesPerSecond))")
        }
        // Every number is finite and bounded: the simulator turns loads, positions and times
        // into integers (UInt64 operation counts, Int seconds), which trap on inf, nan or overflow.
        if !(secondsPerRow >= 1 && secondsPerRow <= Self.maxSecondsPerRow) {
            e.append("secondsPerRow must be in 1...\(Int(Self.maxSecondsPerRow)) (got \(secondsPerRow))")
        }
        if let rows, rows < 1 { e.append("rows must be ≥ 1 (got \(rows))") }
        if rowsPerDay < 2 { e.append("rowsPerDay must be ≥ 2") }
        if !(peakMultiple > 0 && peakMultiple <= Self.maxPeakMultiple) {
            e.append("peakMultiple must be in (0, \(Int(Self.maxPeakMultiple))] (got \(peakMultiple))")
        } else if !(peakMultiple * capacity.opsPerSecond <= Self.maxPeakOpsPerSecond) {
            e.append("peakMultiple × capacity.opsPerSecond must be at most \(Self.maxPeakOpsPerSecond) ops/s (got \(peakMultiple * capacity.opsPerSecond))")
        }
        if !(abs(hotspotSpeed) <= Self.maxHotspotSpeed) {
            e.append("hotspotSpeed must be a finite number in -\(Int(Self.maxHotspotSpeed))...\(Int(Self.maxHotspotSpeed)) key spaces per hour (got \(hotspotSpeed))")
        }
        if !(hotspotShare >= 0 && hotKeyShare >= 0 && hotspotShare + hotKeyShare <= 1) {
            e.append("hotspotShare and hotKeyShare must be ≥ 0 with a sum in [0, 1] (got \(hotspotShare) + \(hotKeyShare))")
        }
        if !(writeFraction >= 0 && writeFraction <= 1) { e.append("writeFraction must be in [0, 1] (got \(writeFraction))") }
        if !(valueBytes >= 0 && valueBytes <= Double(1 << 30)) { e.append("valueBytes must be in 0...\(1 << 30) (got \(valueBytes))") }
        if !(sampleNoise >= 0 && sampleNoise <= 1) { e.append("sampleNoise must be in [0, 1] (got \(sampleNoise))") }
        if !(globalNoise >= 0 && globalNoise <= 1) { e.append("globalNoise must be in [0, 1] (got \(globalNoise))") }
        let overhead = capacity.reshardCost.overheadSeconds
        if !(overhead <= 86400) { e.append("capacity.reshardCost.overheadSeconds must be in 0...86400 (got \(overhead))") }
        switch hotspotShape {
        case .gaussian: if !(hotspotWidth > 0 && hotspotWidth < 0.5) { e.append("hotspotWidth must be in (0, 0.5) (got \(hotspotWidth))") }
        case .window: if !(hotspotWidth > 0 && hotspotWidth <= 1) { e.append("hotspotWidth must be in (0, 1] for a window hotspot (got \(hotspotWidth))") }
        }
        if let hotspotStart, !(hotspotStart >= 0 && hotspotStart < 1) { e.append("hotspotStart must be in [0, 1) (got \(hotspotStart))") }
        if !(hotKeyPosition >= 0 && hotKeyPosition < 1) { e.append("hotKeyPosition must be in [0, 1)") }
        if initialPartitions < 1 { e.append("initialPartitions must be ≥ 1") }
        if let prelude, !(prelude.seconds >= 0 && prelude.seconds <= 86_400
                          && prelude.opsPerSecond >= 0 && prelude.opsPerSecond <= Self.maxPeakOpsPerSecond) {
            e.append("prelude must last 0...86400 s at a finite 0...\(Self.maxPeakOpsPerSecond) ops/s (got \(prelude.seconds) s at \(prelude.opsPerSecond) ops/s)")
        }
        let copyBytesPerSecond = capacity.reshardCost.copyBytesPerSecond
        if !Self.copyBytesPerSecondRange.contains(copyBytesPerSecond) {
            e.append("capacity.reshardCost.copyBytesPerSecond must be in \(Int(Self.copyBytesPerSecondRange.lowerBound))...\(Int(Self.copyBytesPerSecondRange.upperBound)) (got \(copyBytesPerSecond))")
        }
        if forecastStepSeconds < 1 { e.append("forecastStepSeconds must be ≥ 1") }
        if forecastHorizonSteps < 1 { e.append("forecastHorizonSteps must be ≥ 1") }
        if histogramBuckets < 1 || histogramBuckets > 4096 { e.append("histogramBuckets must be in 1...4096") }
        if recentSamples < 1 { e.append("recentSamples must be ≥ 1") }
        if histogramRefreshSeconds < 1 { e.append("histogramRefreshSeconds must be ≥ 1") }
        if case let .engineMarks(markSeconds, marksKept) = histogramWindow, !(markSeconds >= 1 && marksKept >= 1) {
            e.append("histogramWindow marks must be ≥ 1 s apart and ≥ 1 kept (got \(markSeconds) s, \(marksKept))")
        }
        let periodSteps = Double(rowsPerDay) * secondsPerRow / Double(forecastStepSeconds)
        if !detectsSeasonality && (periodSteps < 2 || periodSteps > Double(Self.maxSeasonalPeriodSteps) || periodSteps != periodSteps.rounded()) {
            e.append("rowsPerDay × secondsPerRow / forecastStepSeconds must be a whole number of steps in 2...\(Self.maxSeasonalPeriodSteps) (got \(periodSteps))")
        }
        return e
    }

    /// Longest daily cycle the forecasters are given, `rowsPerDay × secondsPerRow /
    /// forecastStepSeconds`. Unit: forecast steps.
    public static let maxSeasonalPeriodSteps = 65_536
    /// Longest simulated row: one day. Unit: s.
    public static let maxSecondsPerRow = 86_400.0
    /// Largest `peakMultiple` (a million partitions' worth of load).
    public static let maxPeakMultiple = 1_000_000.0
    /// Largest peak load, so a day of per-second operation counts fits in UInt64. Unit: ops/s.
    public static let maxPeakOpsPerSecond = 1e12
    /// Fastest hotspot: one lap of the key space per simulated second. Unit: key spaces per hour.
    public static let maxHotspotSpeed = 3600.0
    /// Slowest and fastest reshard copy (1 KiB/s, 1 PiB/s): a reshard's duration in whole
    /// seconds must fit in an Int. Unit: bytes/s.
    public static let copyBytesPerSecondRange = 1024.0...Double(1 << 50)

    /// The forecasters' seasonal period. Unit: forecast steps.
    public var periodSteps: Int { Int((Double(rowsPerDay) * secondsPerRow / Double(forecastStepSeconds)).rounded()) }

    /// Forecast steps of history a partition keeps to seed its children's forecasters.
    var seedHistorySteps: Int {
        detectsSeasonality ? RangeLoadHistory.stepsKept : max(1, seedHistoryDays * periodSteps)
    }
}
