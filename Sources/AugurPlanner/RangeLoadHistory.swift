import AugurStats

/// The load history of one key range at three resolutions — the design's rolling windows:
/// controller samples (5 minutes at the default 1 s tick), forecast steps (1 hour at the
/// default 5 s step) and minutes (1 day). History belongs to the *range*, not to a partition
/// object: when a reshard replaces partitions, each new partition starts with the history of
/// the range it covers (``inherited(from:by:)``, ``combined(_:)``), and a reopened store
/// starts from the history it saved (``LoadHistoryFile``).
///
/// Pure: times are sample counts; the caller decides when a sample, step or minute ends.
///
/// Thread-safety: value type, `Sendable`.
public struct RangeLoadHistory: Sendable, Hashable {
    /// Samples kept: the 5-minute window at 1 s samples.
    public static let samplesKept = 300
    /// Forecast steps kept: the 1-hour window at 5 s steps.
    public static let stepsKept = 720
    /// Minutes kept: the 1-day window.
    public static let minutesKept = 1440

    /// The range.
    public var range: KeyRange
    /// Controller samples, oldest first.
    public var samples: [LoadSample] = []
    /// Mean operations per second of each forecast step, oldest first (what the forecaster sees).
    public var steps: [Double] = []
    /// Mean load of each minute, oldest first.
    public var minutes: [LoadSample] = []
    /// The minute in progress: summed samples and how many.
    public var minuteSum = LoadSample.zero
    public var minuteSamples = 0

    /// Creates an empty history of `range`.
    public init(range: KeyRange) {
        self.range = range
    }

    /// Appends one controller sample; every `samplesPerMinute` samples close a minute.
    public mutating func append(sample: LoadSample, samplesPerMinute: Int) {
        samples.append(sample)
        if samples.count > Self.samplesKept { samples.removeFirst(samples.count - Self.samplesKept) }
        minuteSum = minuteSum + sample
        minuteSamples += 1
        if minuteSamples >= max(1, samplesPerMinute) {
            minutes.append(minuteSum * (1 / Double(minuteSamples)))
            if minutes.count > Self.minutesKept { minutes.removeFirst(minutes.count - Self.minutesKept) }
            minuteSum = .zero
            minuteSamples = 0
        }
    }

    /// Appends the mean operations per second of a finished forecast step.
    public mutating func append(step opsPerSecond: Double) {
        steps.append(opsPerSecond)
        if steps.count > Self.stepsKept { steps.removeFirst(steps.count - Self.stepsKept) }
    }

    /// This history scaled by `share` (the part of the load that falls in `range`).
    public func inherited(by range: KeyRange, share: Double) -> RangeLoadHistory {
        let s = share.isFinite ? min(1, max(0, share)) : 0
        var h = RangeLoadHistory(range: range)
        h.samples = samples.map { $0 * s }
        h.steps = steps.map { $0 * s }
        h.minutes = minutes.map { $0 * s }
        h.minuteSum = minuteSum * s
        h.minuteSamples = minuteSamples
        return h
    }

    /// The sum of several ranges' histories (a merge, or a range covered by several saved
    /// ranges), aligned at the newest entry; the result covers `range`. A shorter history adds
    /// nothing where it has no entries.
    public static func combined(_ parts: [RangeLoadHistory], range: KeyRange) -> RangeLoadHistory {
        var h = RangeLoadHistory(range: range)
        func sum<T>(_ arrays: [[T]], zero: T, _ add: (T, T) -> T) -> [T] {
            let n = arrays.map(\.count).max() ?? 0
            var out = [T](repeating: zero, count: n)
            for a in arrays {
                for (i, v) in a.enumerated() { out[n - a.count + i] = add(out[n - a.count + i], v) }
            }
            return out
        }
        h.samples = sum(parts.map(\.samples), zero: LoadSample.zero, +)
        h.steps = sum(parts.map(\.steps), zero: 0.0, +)
        h.minutes = sum(parts.map(\.minutes), zero: LoadSample.zero, +)
        h.minuteSum = parts.reduce(LoadSample.zero) { $0 + $1.minuteSum }
        h.minuteSamples = parts.map(\.minuteSamples).max() ?? 0
        return h
    }

    /// The peak sample over the newest `count` samples, or nil without samples.
    public func peak(lastSamples count: Int) -> LoadSample? {
        samples.suffix(max(0, count)).max { $0.opsPerSecond < $1.opsPerSecond }
    }

    /// The share of a source range's load that falls in `target`: from the source's key
    /// histogram when it carries load, else by key position (uniform). `0...1`.
    public static func share(of source: KeyRange, histogram: HistogramSnapshot?, in target: KeyRange) -> Double {
        // Clip the target to the source.
        let lower = source.lower.lexicographicallyPrecedes(target.lower) ? target.lower : source.lower
        let upper: [UInt8]? = KeyOrder.lessUpper(target.upper, source.upper) ? target.upper : source.upper
        guard KeyOrder.less(lower, upper) else { return 0 }
        if lower == source.lower && upper == source.upper { return 1 }
        if let histogram, histogram.totals.operations > 0 {
            let profile = LoadProfile(PartitionSnapshot(id: PartitionID(0), range: source, sizeBytes: 0, histogram: histogram))
            let hi = upper.flatMap { profile.loadFraction(below: $0) } ?? 1
            let lo = lower.isEmpty ? 0 : (profile.loadFraction(below: lower) ?? 0)
            return min(1, max(0, hi - lo))
        }
        let map = KeyPositionMap(lowerBound: source.lower, upperBound: source.upper, bucketCount: 1)
        let hi = upper.map { map.position(of: $0) } ?? 1
        let lo = lower.isEmpty ? 0 : map.position(of: lower)
        return min(1, max(0, hi - lo))
    }
}
