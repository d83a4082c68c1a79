import AugurForecast
import AugurStats

/// A table's load by key position on one fixed grid, one vector per forecast step, and the
/// key-share forecast made from it (issue 16): which keys will carry the load `horizon` steps
/// ahead — where a moving hotspot is going, not where it was.
///
/// Why a table-level grid: partition histograms come and go with every reshard, and the
/// forecaster needs bucket i to mean the same keys step after step. The grid is a
/// `KeyPositionMap` over the table's whole range focused on its stored keys when built; it is
/// rebuilt (and the forecaster restarted) only when the stored keys outgrow it.
///
/// Each partition's histogram delta over the step is spread onto the grid bucket by bucket: a
/// partition bucket's count goes evenly to the grid buckets its key interval overlaps. A
/// partition retired during the step hands in its delta at retirement, so a reshard loses no
/// load; a partition born during the step counts from its birth (its inherited counts are not
/// load).
///
/// Thread-safety: not thread-safe; owned by the `PartitionController`, used under its lock.
final class TableKeyLoad {
    static let bucketCount = 64

    let grid: KeyPositionMap
    let forecaster: KeyShareForecaster
    /// Per live partition: its histogram at the start of the step (or at birth).
    private var marks: [UInt64: HistogramSnapshot] = [:]
    /// Counts on the grid of the step in progress from partitions already retired.
    private var retired: [Double]

    /// nil when the grid or the forecaster cannot be built (an option out of range).
    init?(tableLower: [UInt8], focus: (low: [UInt8], high: [UInt8])?, horizon: Int) {
        grid = KeyPositionMap(lowerBound: tableLower, upperBound: nil, bucketCount: Self.bucketCount, focus: focus)
        self.focus = focus
        guard let f = try? KeyShareForecaster(bucketCount: Self.bucketCount, horizon: max(1, horizon)) else { return nil }
        forecaster = f
        retired = [Double](repeating: 0, count: Self.bucketCount)
    }

    /// The stored-key span the grid was focused on (nil: the whole range).
    let focus: (low: [UInt8], high: [UInt8])?

    /// Whether the table's stored keys now (`span`) have left the grid's focus: keys below or
    /// above it all land in the first or last bucket, so the grid no longer resolves them.
    func isOutgrown(by span: (low: [UInt8], high: [UInt8])) -> Bool {
        guard let focus else { return true }
        return compareKeys(span.low, focus.low) < 0 || compareKeys(span.high, focus.high) > 0
    }

    /// A partition the controller saw for the first time: counts from now on.
    func born(_ id: UInt64, histogram: HistogramSnapshot) {
        marks[id] = histogram
    }

    /// A partition left the map during the step: its load since the mark joins this step.
    func retire(_ id: UInt64, histogram: HistogramSnapshot) {
        guard let mark = marks.removeValue(forKey: id), let delta = histogram.since(mark) else { return }
        spread(delta, into: &retired)
    }

    /// Ends the step: the grid counts of every partition's delta (plus the retired ones') go to
    /// the forecaster, and the marks move to now.
    func closeStep(_ partitions: [(id: UInt64, histogram: HistogramSnapshot)]) {
        var counts = retired
        for (id, h) in partitions {
            if let mark = marks[id], let delta = h.since(mark) { spread(delta, into: &counts) }
            marks[id] = h
        }
        retired = [Double](repeating: 0, count: Self.bucketCount)
        try? forecaster.observe(counts: counts)
    }

    /// Spreads each bucket of `h` evenly over the grid buckets its key interval overlaps.
    private func spread(_ h: HistogramSnapshot, into counts: inout [Double]) {
        let load = h.load(.operations)
        for (i, c) in load.enumerated() where c > 0 {
            let (first, last) = gridBuckets(of: h.map, bucket: i)
            let share = c / Double(last - first + 1)
            for g in first...last { counts[g] += share }
        }
    }

    /// The grid buckets (inclusive) that bucket `i` of `map` overlaps.
    private func gridBuckets(of map: KeyPositionMap, bucket i: Int) -> (Int, Int) {
        let lower = map.lowerBoundKey(ofBucket: i) ?? map.lowerBound
        let first = grid.bucket(for: lower)
        guard let upper = map.lowerBoundKey(ofBucket: i + 1) else { return (first, Self.bucketCount - 1) }
        var last = grid.bucket(for: upper)
        // `upper` is exclusive: when it opens grid bucket `last`, the interval ends before it.
        if last > first, grid.lowerBoundKey(ofBucket: last) == upper { last -= 1 }
        return (first, max(first, last))
    }

    /// Whether the forecast says the load is moving through the key space: a drift of at least
    /// a quarter bucket per step, measured with confidence. A stationary distribution is left
    /// to each range's own forecast (the key-share forecast adds nothing there).
    var isMoving: Bool {
        let d = forecaster.drift
        return forecaster.loadedStepCount >= 3 && d.confidence >= 0.5 && abs(d.bucketsPerStep) >= 0.25
    }

    /// Forecast shares of each grid bucket `steps` ahead (nil before the first loaded step).
    func shares(steps: Int) -> [Double]? {
        guard forecaster.loadedStepCount > 0 else { return nil }
        return try? forecaster.forecast(steps: steps)
    }

    /// The share of the table's load `shares` puts in `[lower, upper)`: each grid bucket's share
    /// split evenly across the key intervals of `map`'s buckets (the partition's own bucketing).
    func share(of shares: [Double], in map: KeyPositionMap) -> (total: Double, perBucket: [Double]) {
        var perBucket = [Double](repeating: 0, count: map.bucketCount)
        // Spread each grid bucket's share over the partition buckets it overlaps, in proportion
        // to how many of them it overlaps: the inverse of `spread`, at the same resolution.
        var owners: [[Int]] = Array(repeating: [], count: Self.bucketCount)
        for i in 0..<map.bucketCount {
            let (first, last) = gridBuckets(of: map, bucket: i)
            for g in first...last { owners[g].append(i) }
        }
        var total = 0.0
        for g in 0..<Self.bucketCount where !owners[g].isEmpty && shares[g] > 0 {
            // Grid bucket g straddles the partition's edge when its key interval reaches past
            // [map.lowerBound, map.upperBound): count only the part inside, by bucket overlap.
            let inside = insideFraction(gridBucket: g, of: map)
            guard inside > 0 else { continue }
            let each = shares[g] * inside / Double(owners[g].count)
            for i in owners[g] { perBucket[i] += each }
            total += shares[g] * inside
        }
        return (total, perBucket)
    }

    /// Fraction of grid bucket `g`'s key interval inside `map`'s range, by key position within
    /// the grid bucket (1 when it lies wholly inside).
    private func insideFraction(gridBucket g: Int, of map: KeyPositionMap) -> Double {
        let lo = grid.lowerBoundKey(ofBucket: g) ?? grid.lowerBound
        let hi = grid.lowerBoundKey(ofBucket: g + 1)
        // Entirely outside?
        if let upper = map.upperBound, compareKeys(lo, upper) >= 0 { return 0 }
        if let hi, compareKeys(map.lowerBound, hi) >= 0 { return 0 }
        let startsInside = compareKeys(lo, map.lowerBound) >= 0
        let endsInside = map.upperBound == nil || (hi.map { compareKeys(map.upperBound!, $0) >= 0 } ?? false)
        if startsInside && endsInside { return 1 }
        // Straddles an edge: estimate by the positions of the edges inside the grid bucket.
        let bucketMap = KeyPositionMap(lowerBound: lo, upperBound: hi, bucketCount: 1)
        let from = startsInside ? 0 : bucketMap.position(of: map.lowerBound)
        let to = endsInside ? 1 : map.upperBound.map { bucketMap.position(of: $0) } ?? 1
        return max(0, min(1, to - from))
    }
}
