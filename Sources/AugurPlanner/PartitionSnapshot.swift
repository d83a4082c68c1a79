import AugurForecast
import AugurStats

/// One forecast step in the planner's terms: point forecast and the upper bounds of the 80%
/// and 95% prediction intervals (nil until the forecaster has enough residuals).
///
/// Thread-safety: value type, `Sendable`.
public struct ForecastPoint: Sendable, Hashable {
    /// Steps ahead, 1…H.
    public var step: Int
    /// Point forecast, in the series' unit.
    public var point: Double
    /// Upper bound of the 80% interval.
    public var upper80: Double?
    /// Upper bound of the 95% interval.
    public var upper95: Double?

    /// Creates a forecast point.
    public init(step: Int, point: Double, upper80: Double? = nil, upper95: Double? = nil) {
        self.step = step
        self.point = point
        self.upper80 = upper80
        self.upper95 = upper95
    }

    /// The steps of an `AugurForecast.LoadForecast`.
    public static func steps(of forecast: LoadForecast) -> [ForecastPoint] {
        forecast.steps.map { ForecastPoint(step: $0.step, point: $0.point, upper80: $0.interval80?.upper, upper95: $0.interval95?.upper) }
    }
}

/// The forecast of one partition's load, as issued by its `ForecastEnsemble`.
///
/// Step `h` forecasts the mean over `(issuedAt + (h−1)·stepNanos, issuedAt + h·stepNanos]`.
///
/// Thread-safety: value type, `Sendable`.
public struct PartitionForecast: Sendable, Hashable {
    /// Engine time of the last observation the forecast is conditioned on. Unit: ns.
    public var issuedAt: UInt64
    /// Length of one forecast step (the series' sampling interval). Unit: ns.
    public var stepNanos: UInt64
    /// Forecast of operations per second (ops/s), steps 1…H in order.
    public var ops: [ForecastPoint]
    /// Forecast of written bytes per second (bytes/s); when nil the planner scales `ops` by the
    /// partition's current write-bytes-per-operation ratio.
    public var writeBytes: [ForecastPoint]?
    /// Whether the forecast includes load the table's key-share forecast says is moving into
    /// this range (a hotspot heading for it): the load is expected although the range is cold
    /// now, so the predictive policy may act on it without current load.
    public var arriving = false

    /// Creates a partition forecast from planner-level steps.
    public init(issuedAt: UInt64, stepNanos: UInt64, ops: [ForecastPoint], writeBytes: [ForecastPoint]? = nil) {
        self.issuedAt = issuedAt
        self.stepNanos = stepNanos
        self.ops = ops
        self.writeBytes = writeBytes
    }

    /// Creates a partition forecast from `ForecastEnsemble.forecast()` results.
    public init(issuedAt: UInt64, stepNanos: UInt64, ops: LoadForecast, writeBytes: LoadForecast? = nil) {
        self.init(issuedAt: issuedAt, stepNanos: stepNanos, ops: ForecastPoint.steps(of: ops),
                  writeBytes: writeBytes.map(ForecastPoint.steps(of:)))
    }
}

/// A single key carrying a large share of a partition's load (from the Space-Saving heavy
/// hitters of `WorkloadCollector`).
///
/// Thread-safety: value type, `Sendable`.
public struct HotKeyObservation: Sendable, Hashable {
    /// The key (or its known prefix).
    public var key: [UInt8]
    /// Share of the partition's load on this key. Dimensionless, `0...1`.
    public var loadFraction: Double

    /// Creates a hot key observation.
    public init(key: [UInt8], loadFraction: Double) {
        self.key = key
        self.loadFraction = loadFraction
    }
}

/// Lifecycle state of a partition.
///
/// Thread-safety: `Sendable` enum.
public enum PartitionState: Sendable, Hashable {
    /// Serving (the normal state).
    case active
    /// Pre-created empty partition ahead of an append workload; activated when data arrives.
    case preCreated
}

/// What the planner knows about one partition at planning time.
///
/// Thread-safety: value type, `Sendable`.
public struct PartitionSnapshot: Sendable {
    /// The partition.
    public var id: PartitionID
    /// Its key range.
    public var range: KeyRange
    /// Stored data. Unit: bytes.
    public var sizeBytes: UInt64
    /// Engine time the partition came into existence (its creating reshard completed).
    /// Unit: ns.
    public var createdAt: UInt64
    /// Lifecycle state.
    public var state: PartitionState
    /// Recent load samples, oldest first, `TableSnapshot.sampleIntervalNanos` apart; the last
    /// one is the current load. May be empty for a brand-new partition.
    public var recent: [LoadSample]
    /// How many of the newest `recent` samples the partition measured itself; the older ones
    /// were inherited from the ranges it was cut from (or saved before a reopen), in shares
    /// estimated from a histogram, and are priors, not measurements. Nil: all are measured
    /// (snapshots built outside the engine). See `LoadOutlook.current`.
    public var measuredSamples: Int?
    /// Peaks over trailing windows (any set of windows; the policies pick the shortest one at
    /// least as long as they need).
    public var windowPeaks: [WindowPeak]
    /// Key histogram over (ideally) `range`; nil when not collected.
    public var histogram: HistogramSnapshot?
    /// Data bytes per histogram bucket (same buckets as `histogram`), when the storage layer
    /// knows them; otherwise bytes are assumed spread evenly over key positions.
    public var sizeByBucket: [UInt64]?
    /// Load forecast; nil while the forecaster is warming up, or while it is withheld.
    public var forecast: PartitionForecast?
    /// Why the range's forecast is withheld (its intervals miss too often), when it is: the
    /// predictive policy then plans the range by the reactive rules and says so.
    public var forecastWithheld: String?
    /// The hottest single key, if one stands out.
    public var hotKey: HotKeyObservation?

    /// Creates a partition snapshot.
    public init(id: PartitionID, range: KeyRange, sizeBytes: UInt64, createdAt: UInt64 = 0,
                state: PartitionState = .active, recent: [LoadSample] = [], windowPeaks: [WindowPeak] = [],
                histogram: HistogramSnapshot? = nil, sizeByBucket: [UInt64]? = nil,
                forecast: PartitionForecast? = nil, hotKey: HotKeyObservation? = nil) {
        self.id = id
        self.range = range
        self.sizeBytes = sizeBytes
        self.createdAt = createdAt
        self.state = state
        self.recent = recent
        self.windowPeaks = windowPeaks
        self.histogram = histogram
        self.sizeByBucket = sizeByBucket
        self.forecast = forecast
        self.hotKey = hotKey
    }

    /// The latest sample (zero when there is none).
    public var current: LoadSample { recent.last ?? .zero }

    /// The peak of the shortest window that is at least `nanos` long and fully covered, or nil.
    public func peak(overAtLeast nanos: UInt64) -> LoadSample? {
        windowPeaks.filter { $0.windowNanos >= nanos && $0.coveredNanos >= nanos }
            .min { $0.windowNanos < $1.windowNanos }?.peak
    }
}
