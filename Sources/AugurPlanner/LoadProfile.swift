import AugurStats

/// How load and data are spread over one partition's keys, read from its histogram: load
/// fractions below a key, load-balanced split keys, data fractions.
///
/// Load is the histogram's operations (reads + writes); inside a bucket it is assumed uniform
/// over key positions, as `HistogramSnapshot.quantile` assumes.
///
/// Thread-safety: value type, `Sendable`.
public struct LoadProfile: Sendable {
    /// The partition's range.
    public let range: KeyRange
    /// The histogram, if any.
    public let histogram: HistogramSnapshot?
    private let loads: [Double]
    private let cumulative: [Double]
    private let bytes: [Double]?
    private let bytesCumulative: [Double]

    /// Reads `partition`'s histogram and size profile.
    public init(_ partition: PartitionSnapshot) {
        range = partition.range
        if let h = partition.histogram, h.totals.operations > 0 {
            histogram = h
            loads = h.load(.operations)
        } else {
            histogram = partition.histogram
            loads = []
        }
        var c = [0.0]
        for l in loads { c.append(c.last! + l) }
        cumulative = c
        if let s = partition.sizeByBucket, let h = partition.histogram, s.count == h.bucketCount, s.reduce(0, +) > 0 {
            let b = s.map(Double.init)
            bytes = b
            var bc = [0.0]
            for x in b { bc.append(bc.last! + x) }
            bytesCumulative = bc
        } else {
            bytes = nil
            bytesCumulative = []
        }
    }

    /// Whether the histogram carries load (needed for load-balanced keys).
    public var hasLoad: Bool { !loads.isEmpty && cumulative.last! > 0 }

    private func withinBucket(_ key: [UInt8], _ map: KeyPositionMap) -> (bucket: Int, fraction: Double) {
        let b = map.bucket(for: key)
        let iv = map.interval(ofBucket: b)
        let pl = map.position(of: iv.lower)
        let pu = iv.upper.map { map.position(of: $0) } ?? 1
        let pk = map.position(of: key)
        let w = pu > pl ? min(1, max(0, (pk - pl) / (pu - pl))) : 0
        return (b, w)
    }

    /// Fraction of the partition's load on keys below `key` (`0...1`); nil without load data.
    public func loadFraction(below key: [UInt8]) -> Double? {
        guard hasLoad, let map = histogram?.map else { return nil }
        if !range.lower.lexicographicallyPrecedes(key) { return 0 }
        if !KeyOrder.less(key, range.upper) { return 1 }
        let (b, w) = withinBucket(key, map)
        let total = cumulative.last!
        return min(1, max(0, (cumulative[b] + loads[b] * w) / total))
    }

    /// Fraction of the partition's data on keys below `key`: from `sizeByBucket` when given,
    /// else by key position.
    public func byteFraction(below key: [UInt8]) -> Double {
        if !range.lower.lexicographicallyPrecedes(key) { return 0 }
        if !KeyOrder.less(key, range.upper) { return 1 }
        if let bytes, let map = histogram?.map {
            let (b, w) = withinBucket(key, map)
            return min(1, max(0, (bytesCumulative[b] + bytes[b] * w) / bytesCumulative.last!))
        }
        return KeyMath.position(of: key, in: range)
    }

    /// The load-weighted quantile key at `fraction` if it lies strictly inside the range.
    public func loadQuantileKey(_ fraction: Double) -> [UInt8]? {
        guard hasLoad, let q = histogram?.quantile(fraction, metric: .operations) else { return nil }
        return range.containsStrictly(q.estimate) ? q.estimate : nil
    }

    /// A key splitting the data at `fraction` (by `sizeByBucket` or position), strictly inside.
    public func dataQuantileKey(_ fraction: Double) -> [UInt8]? {
        if let bytes, let map = histogram?.map {
            let total = bytesCumulative.last!
            let target = fraction * total
            for b in 0..<bytes.count where bytesCumulative[b + 1] > target && bytes[b] > 0 {
                let iv = map.interval(ofBucket: b)
                let w = (target - bytesCumulative[b]) / bytes[b]
                let sub = KeyRange(lower: iv.lower, upper: iv.upper)
                let key = (w <= 0 ? iv.lower : KeyMath.key(atFraction: w, in: sub)) ?? iv.lower
                return range.containsStrictly(key) ? key : nil
            }
            return nil
        }
        return KeyMath.key(atFraction: fraction, in: range)
    }

    /// Load fractions of the pieces `[lo, k₁), …, [kₙ, hi)`.
    public func loadShares(cuts: [[UInt8]]) -> [Double]? {
        var below: [Double] = [0]
        for k in cuts {
            guard let f = loadFraction(below: k) else { return nil }
            below.append(f)
        }
        below.append(1)
        return (0..<(below.count - 1)).map { max(0, below[$0 + 1] - below[$0]) }
    }

    /// Data fractions of the pieces `[lo, k₁), …, [kₙ, hi)`.
    public func byteShares(cuts: [[UInt8]]) -> [Double] {
        var below: [Double] = [0]
        for k in cuts { below.append(byteFraction(below: k)) }
        below.append(1)
        return (0..<(below.count - 1)).map { max(0, below[$0 + 1] - below[$0]) }
    }

    /// Write-append detection: the share of writes in the `span` buckets ending at the highest
    /// bucket with writes, that bucket's index, and the bucket count. Nil without writes.
    public func appendProfile(span: Int) -> (share: Double, topBucket: Int, bucketCount: Int)? {
        guard let h = histogram else { return nil }
        let writes = h.writes.map(Double.init)
        let total = writes.reduce(0, +)
        guard total > 0, let top = writes.lastIndex(where: { $0 > 0 }) else { return nil }
        let from = max(0, top - span + 1)
        let share = writes[from...top].reduce(0, +) / total
        return (share, top, h.bucketCount)
    }
}
