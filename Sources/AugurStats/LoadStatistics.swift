/// A load-weighted quantile of a partition: the key that splits its load into
/// `fraction` below and `1 − fraction` above, with its error bound.
///
/// Bound: let `T` be the total load and `q` the exact quantile, the smallest
/// key `k` such that the load on keys `≤ k` exceeds `fraction × T`. Then `q` lies
/// in ``interval`` (exactly, not probabilistically: bucket counts are exact per
/// key interval), and the load on keys below ``estimate`` differs from
/// `fraction × T` by at most ``loadInInterval`` `× T`.
///
/// Thread-safety: value type, `Sendable`.
public struct LoadQuantile: Sendable, Hashable {
    /// The requested fraction, `0...1`.
    public var fraction: Double
    /// Point estimate, linearly interpolated inside the bucket (uniform-load
    /// assumption); always inside ``interval``.
    public var estimate: [UInt8]
    /// The bucket holding the quantile.
    public var bucket: Int
    /// The key interval that certainly contains the exact quantile.
    public var interval: KeyInterval
    /// Fraction of the total load on keys below `interval.lower`.
    public var loadBelow: Double
    /// Fraction of the total load inside ``interval``: the error bound in load terms.
    public var loadInInterval: Double
}

/// Shannon entropy of the per-bucket load distribution.
///
/// Thread-safety: value type, `Sendable`.
public struct LoadEntropy: Sendable, Hashable {
    /// Entropy in bits; `log2(bucketCount)` for perfectly uniform load.
    public var bits: Double
    /// `bits / log2(bucketCount)`: `1` = uniform, `0` = all load in one bucket
    /// (`1` when there is a single bucket).
    public var normalized: Double
}

/// A run of contiguous buckets whose load each exceeds `hotFactor × mean`.
///
/// Thread-safety: value type, `Sendable`.
public struct HotRange: Sendable, Hashable {
    /// The buckets of the run.
    public var buckets: Range<Int>
    /// The key interval the run covers.
    public var interval: KeyInterval
    /// Fraction of the partition's load in the run.
    public var loadFraction: Double
    /// Largest bucket load in the run divided by the mean bucket load.
    public var peakToMean: Double
}

/// Summary statistics of one histogram snapshot under one metric.
///
/// Thread-safety: value type, `Sendable`.
public struct LoadSummary: Sendable, Hashable {
    /// Total load.
    public var total: Double
    /// Entropy of the bucket distribution.
    public var entropy: LoadEntropy
    /// Largest bucket load divided by the mean bucket load (`1` = flat; `0` when idle).
    public var skew: Double
    /// Hot ranges, in key order.
    public var hotRanges: [HotRange]
    /// The load median (nil when idle).
    public var median: LoadQuantile?
}

extension HistogramSnapshot {
    /// The load-weighted quantile at `fraction` (`0...1`), or nil when the
    /// partition has no load. See ``LoadQuantile`` for the bound.
    public func quantile(_ fraction: Double, metric: LoadMetric = .operations) -> LoadQuantile? {
        let loads = load(metric)
        let total = loads.reduce(0, +)
        guard total > 0 else { return nil }
        let f = min(1, max(0, fraction))
        let target = f * total
        var cum = 0.0
        var chosen = -1
        var below = 0.0
        for (i, l) in loads.enumerated() {
            if l > 0, cum + l > target {
                chosen = i
                below = cum
                break
            }
            cum += l
        }
        if chosen < 0 {
            // fraction == 1 (or rounding): the last loaded bucket.
            chosen = loads.lastIndex(where: { $0 > 0 })!
            below = total - loads[chosen]
        }
        let iv = map.interval(ofBucket: chosen)
        let within = min(1, max(0, (target - below) / loads[chosen]))
        let pl = map.finePosition(of: iv.lower)
        let pu = map.finePosition(of: iv.upper)
        var estimate = iv.lower
        if pu > pl {
            let step = UInt128(min(Double(pu - pl) * within, Double(pu - pl)).rounded(.down))
            let candidate = map.key(atFinePosition: pl + min(step, pu - pl))
            if !candidate.lexicographicallyPrecedes(iv.lower), keyLess(candidate, iv.upper) { estimate = candidate }
        }
        return LoadQuantile(fraction: f, estimate: estimate, bucket: chosen, interval: iv,
                            loadBelow: below / total, loadInInterval: loads[chosen] / total)
    }

    /// Entropy of the bucket load distribution.
    public func entropy(metric: LoadMetric = .operations) -> LoadEntropy {
        let loads = load(metric)
        let total = loads.reduce(0, +)
        guard total > 0 else { return LoadEntropy(bits: 0, normalized: 0) }
        var h = 0.0
        for l in loads where l > 0 {
            let p = l / total
            h -= p * PureMath.log2(p)
        }
        let maxBits = bucketCount > 1 ? PureMath.log2(Double(bucketCount)) : 0
        return LoadEntropy(bits: h, normalized: maxBits > 0 ? h / maxBits : 1)
    }

    /// Largest bucket load divided by the mean bucket load (`0` when idle).
    public func skew(metric: LoadMetric = .operations) -> Double {
        let loads = load(metric)
        let total = loads.reduce(0, +)
        guard total > 0 else { return 0 }
        return loads.max()! / (total / Double(bucketCount))
    }

    /// Runs of contiguous buckets whose load exceeds `options.hotFactor × mean`.
    public func hotRanges(metric: LoadMetric = .operations, options: LoadStatisticsOptions = LoadStatisticsOptions()) -> [HotRange] {
        let loads = load(metric)
        let total = loads.reduce(0, +)
        guard total > 0 else { return [] }
        let mean = total / Double(bucketCount)
        let threshold = options.hotFactor * mean
        var result: [HotRange] = []
        var i = 0
        while i < bucketCount {
            guard loads[i] > threshold else { i += 1; continue }
            var j = i
            var sum = 0.0
            var peak = 0.0
            while j < bucketCount, loads[j] > threshold {
                sum += loads[j]
                peak = max(peak, loads[j])
                j += 1
            }
            let iv = KeyInterval(lower: map.lowerBoundKey(ofBucket: i)!, upper: map.lowerBoundKey(ofBucket: j))
            result.append(HotRange(buckets: i..<j, interval: iv, loadFraction: sum / total, peakToMean: peak / mean))
            i = j
        }
        return result
    }

    /// Entropy, skew, hot ranges and median in one value.
    public func summary(metric: LoadMetric = .operations, options: LoadStatisticsOptions = LoadStatisticsOptions()) -> LoadSummary {
        LoadSummary(total: load(metric).reduce(0, +), entropy: entropy(metric: metric), skew: skew(metric: metric),
                    hotRanges: hotRanges(metric: metric, options: options), median: quantile(0.5, metric: metric))
    }
}

/// Logarithms without Foundation or libm (the module is pure Swift stdlib).
enum PureMath {
    static let ln2 = 0.693147180559945309417232121458

    /// Base-2 logarithm, `x > 0`; absolute error below 1e-15 on normal inputs.
    static func log2(_ x: Double) -> Double {
        precondition(x > 0 && x.isFinite, "log2 of a non-positive or non-finite value")
        let e = Double(x.exponent)
        let s = x.significand  // [1, 2)
        // ln(s) = 2·atanh(z), z = (s − 1)/(s + 1) ∈ [0, 1/3)
        let z = (s - 1) / (s + 1)
        let z2 = z * z
        var term = z
        var sum = 0.0
        var k = 1.0
        while term > 1e-20 {
            sum += term / k
            term *= z2
            k += 2
        }
        return e + 2 * sum / ln2
    }

    /// Natural logarithm, `x > 0`.
    static func ln(_ x: Double) -> Double { log2(x) * ln2 }
}
