/// Which planning policy runs, with its own options.
///
/// Thread-safety: value type, `Sendable`.
public enum PlannerPolicy: Sendable, Hashable, CustomStringConvertible {
    /// Never reshapes (baseline). Scores are still reported.
    case `static`
    /// The CockroachDB way: act on observed load only.
    case reactive(ReactiveOptions)
    /// Act on forecasts (upper interval bound over the horizon) and histograms.
    case predictive(PredictiveOptions)

    /// The three policies with default options, in report order.
    public static let all: [PlannerPolicy] = [.static, .reactive(ReactiveOptions()), .predictive(PredictiveOptions())]

    /// `static`, `reactive` or `predictive`.
    public var name: String {
        switch self {
        case .static: return "static"
        case .reactive: return "reactive"
        case .predictive: return "predictive"
        }
    }

    /// The policy with default options for a name, or nil.
    public static func named(_ name: String) -> PlannerPolicy? {
        all.first { $0.name == name }
    }

    public var description: String { name }
}

/// Options of the reactive (CockroachDB-style) policy.
///
/// Split: a partition whose utilization, averaged over `smoothingNanos`, stayed above
/// `highWatermark` for `sustainNanos` splits 2-way at the load median of its histogram,
/// at most once per `splitIntervalNanos` per range. Merge: two neighbours merge when the sum of
/// their peaks over `mergeWindowNanos` is below `mergeFraction × highWatermark` and both have
/// existed for the whole window.
///
/// Thread-safety: value type, `Sendable`.
public struct ReactiveOptions: Sendable, Hashable {
    /// How long load must stay over the threshold before a split. Unit: ns. Default `10 s`.
    public var sustainNanos: UInt64
    /// Load is judged by its moving mean over this window: every such mean within the last
    /// `sustainNanos` must be over the threshold (so a steady load is judged as before). Measured cost comes in bursts (a flush
    /// or a merge of runs doubles one second and not the next; per-second utilization of a
    /// partition saturated for a minute alternated 0.84 / 0.40 / 0.82 / 0.41 here), so a rule
    /// on single seconds never fired; CockroachDB's per-second QPS is smoother than cost.
    /// Unit: ns. Default `5 s`; `0` judges every sample on its own. At most 60 s.
    public var smoothingNanos: UInt64
    /// Minimum time between two splits of the same range (children inherit it). Unit: ns.
    /// Default `60 s`.
    public var splitIntervalNanos: UInt64
    /// Window over which the combined peak must stay low before a merge. Unit: ns.
    /// Default `300 s`.
    public var mergeWindowNanos: UInt64
    /// Merge threshold as a fraction of the split threshold. Dimensionless. Default `0.5`.
    public var mergeFraction: Double

    /// Creates reactive options; every parameter has the documented default.
    public init(sustainNanos: UInt64 = 10_000_000_000,
                splitIntervalNanos: UInt64 = 60_000_000_000,
                mergeWindowNanos: UInt64 = 300_000_000_000,
                mergeFraction: Double = 0.5,
                smoothingNanos: UInt64 = 5_000_000_000) {
        self.sustainNanos = sustainNanos
        self.smoothingNanos = smoothingNanos
        self.splitIntervalNanos = splitIntervalNanos
        self.mergeWindowNanos = mergeWindowNanos
        self.mergeFraction = mergeFraction
    }
}

/// Options of the predictive policy.
///
/// Thread-safety: value type, `Sendable`.
public struct PredictiveOptions: Sendable, Hashable {
    /// Which forecast bound is compared with capacity: `0.95` uses the 95% interval's upper
    /// bound, `0.8` the 80% one (falling back to the other, then to the point forecast times
    /// `1 + noIntervalMargin`). Dimensionless. Default `0.95`.
    public var intervalLevel: Double
    /// Margin added to a point forecast that has no interval yet. Dimensionless. Default `0.25`.
    public var noIntervalMargin: Double
    /// Recent samples (newest) whose mean stands for "current load"; the predicted peak is
    /// never below it, so a surge nobody forecast is still handled. Unit: samples. Default `3`.
    public var currentSamples: Int
    /// Utilization each child of a split (and each side of a boundary move) is planned to,
    /// at the predicted peak; also the most two neighbours may carry together, over their
    /// recent window and their forecast, to merge. Dimensionless. Default `0.6` (under the
    /// high watermark, so a fresh child does not split again, and a child merges back only
    /// once it and its neighbour together fit one child's plan).
    public var targetFill: Double
    /// Most children one split may create. Unit: partitions. Default `4` (a measured cost
    /// inflated by queueing at saturation overstates how many ways a split needs; a child still
    /// over capacity splits again).
    public var maxSplitWays: Int
    /// Window over which a merge candidate's combined peak must have stayed under the low
    /// watermark (from `PartitionSnapshot.windowPeaks`, the shortest window at least this
    /// long; inherited history counts). With the forecast over the horizon, this decides a
    /// merge in a trough. Unit: ns. Default `30 s`.
    public var mergeWindowNanos: UInt64
    /// A merge runs only at a forecast trough: the pair's current combined load may exceed the
    /// lowest point forecast over the horizon by at most this fraction, or by at most this
    /// fraction of `targetFill` in absolute utilization (whichever allows more); otherwise it
    /// is deferred. The absolute floor matters near zero: a cold pair at 0.04 forecast to
    /// dip to 0.035 was kept apart for whole troughs, though waiting gains nothing there.
    /// Dimensionless. Default `0.1`.
    public var troughTolerance: Double
    /// A single key whose share of a partition's load is at least this large, and whose load
    /// alone exceeds `targetFill`, is reported as a hot key instead of being split around.
    /// Dimensionless. Default `0.5`.
    public var hotKeyFraction: Double
    /// Pre-create empty partitions when at least this fraction of a partition's writes land
    /// in the top histogram bucket of the last (open-ended) partition, i.e. keys grow
    /// monotonically. Dimensionless. Default `0.9`.
    public var appendFraction: Double
    /// How many empty partitions to pre-create ahead of an append workload. Unit: partitions.
    /// Default `2`.
    public var precreateCount: Int
    /// Without any forecast (not even a point forecast), relief waits until every sample of this window is
    /// over the high watermark (the anchors' sustained-overload rule, shorter than reactive's:
    /// a transient such as a flush right after a bulk load is not a trend). Unit: ns.
    /// Default `5 s`; `0` acts on the current load at once.
    public var sustainWithoutForecastNanos: UInt64
    /// Minimum time between two splits of the same range (children inherit their parent's
    /// split time), unless the point forecast itself exceeds capacity. Unit: ns. Default `15 s`.
    public var splitIntervalNanos: UInt64
    /// With a forecast that has intervals, relief is decided when the probability that the load
    /// exceeds the high watermark within the horizon — read from the point forecast and its
    /// interval as a normal distribution (``LoadOutlook/score``) — is at least this. `0.5` acts
    /// when the expected load crosses the watermark (risk-neutral: a split that was not needed
    /// costs a partition as much as an overload it prevents costs a partition-second); lower
    /// values act on the interval's tail. A merge needs the merged pair's probability under half
    /// of it. Dimensionless, in `(0, 1]`. Default `0.5`.
    public var splitProbability: Double

    /// Creates predictive options; every parameter has the documented default.
    public init(intervalLevel: Double = 0.95,
                noIntervalMargin: Double = 0.25,
                currentSamples: Int = 3,
                targetFill: Double = 0.6,
                maxSplitWays: Int = 4,
                mergeWindowNanos: UInt64 = 30_000_000_000,
                troughTolerance: Double = 0.1,
                hotKeyFraction: Double = 0.5,
                appendFraction: Double = 0.9,
                precreateCount: Int = 2,
                splitIntervalNanos: UInt64 = 15_000_000_000,
                sustainWithoutForecastNanos: UInt64 = 5_000_000_000,
                splitProbability: Double = 0.5) {
        self.intervalLevel = intervalLevel
        self.noIntervalMargin = noIntervalMargin
        self.currentSamples = currentSamples
        self.targetFill = targetFill
        self.maxSplitWays = maxSplitWays
        self.mergeWindowNanos = mergeWindowNanos
        self.troughTolerance = troughTolerance
        self.hotKeyFraction = hotKeyFraction
        self.appendFraction = appendFraction
        self.precreateCount = precreateCount
        self.splitIntervalNanos = splitIntervalNanos
        self.sustainWithoutForecastNanos = sustainWithoutForecastNanos
        self.splitProbability = splitProbability
    }
}
