extension HistogramSnapshot {
    /// Re-buckets adjacent source histograms into new adjacent ranges: the one
    /// primitive behind split, merge and boundary moves.
    ///
    /// The sources must cover one contiguous range `[L, H)` in order
    /// (`sources[k].upperBound == sources[k + 1].lowerBound`). The targets are
    /// `[L, b₀), [b₀, b₁), …, [bₙ, H)` for the given strictly increasing
    /// `boundaries`, each with `bucketCount` buckets.
    ///
    /// Every source bucket's four counters are apportioned to the target
    /// buckets it overlaps, proportionally to the length of the overlap
    /// measured in the *source's* coordinates (prefix + 16 bytes, see
    /// ``KeyPositionMap``), i.e. assuming load is uniform inside a bucket.
    /// Integer shares use cumulative rounding (see `apportion`), so every
    /// counter's total is conserved exactly and each target range receives its
    /// proportional share of a source bucket ±1. Overlaps are found by exact lexicographic
    /// comparison of bucket bounds, so a target bucket that lies outside a
    /// source bucket never receives any of its counts.
    ///
    /// - split: `rebucket([p], boundaries: [k])`
    /// - merge: `rebucket([a, b], boundaries: [])`
    /// - boundary move: `rebucket([a, b], boundaries: [k])`
    public static func rebucket(_ sources: [HistogramSnapshot], boundaries: [[UInt8]], bucketCount: Int,
                                focus: [(low: [UInt8], high: [UInt8])?]? = nil) -> [HistogramSnapshot] {
        precondition(!sources.isEmpty, "need at least one source")
        for k in 0..<(sources.count - 1) {
            precondition(sources[k].map.upperBound == sources[k + 1].map.lowerBound, "sources must be adjacent and ordered")
        }
        let lo = sources.first!.map.lowerBound
        let hi = sources.last!.map.upperBound
        var bounds: [[UInt8]] = [lo]
        for b in boundaries {
            precondition(bounds.last!.lexicographicallyPrecedes(b) && keyLess(b, hi), "boundaries must be increasing and inside the range")
            bounds.append(b)
        }
        var targetMaps: [KeyPositionMap] = []
        for t in 0..<bounds.count {
            let upper: [UInt8]? = t + 1 < bounds.count ? bounds[t + 1] : hi
            let f = focus.flatMap { t < $0.count ? $0[t] : nil }
            targetMaps.append(KeyPositionMap(lowerBound: bounds[t], upperBound: upper, bucketCount: bucketCount, focus: f))
        }

        // Flattened target buckets in key order.
        struct TargetBucket { var target: Int; var bucket: Int; var interval: KeyInterval }
        var flat: [TargetBucket] = []
        for (t, m) in targetMaps.enumerated() {
            for b in 0..<bucketCount { flat.append(TargetBucket(target: t, bucket: b, interval: m.interval(ofBucket: b))) }
        }
        var out = targetMaps.map { _ in (reads: [UInt64](repeating: 0, count: bucketCount), writes: [UInt64](repeating: 0, count: bucketCount),
                                    readBytes: [UInt64](repeating: 0, count: bucketCount), writeBytes: [UInt64](repeating: 0, count: bucketCount)) }

        var start = 0
        var overlapIndex: [Int] = []
        var weights: [Double] = []
        for source in sources {
            let m = source.map
            for i in 0..<m.bucketCount {
                let counts = [source.reads[i], source.writes[i], source.readBytes[i], source.writeBytes[i]]
                if counts.allSatisfy({ $0 == 0 }) { continue }
                let iv = m.interval(ofBucket: i)
                // Skip targets that end at or before the source bucket's start.
                while start < flat.count, let u = flat[start].interval.upper, !iv.lower.lexicographicallyPrecedes(u) { start += 1 }
                overlapIndex.removeAll(keepingCapacity: true)
                weights.removeAll(keepingCapacity: true)
                var t = start
                while t < flat.count, keyLess(flat[t].interval.lower, iv.upper) {
                    let ovLower = iv.lower.lexicographicallyPrecedes(flat[t].interval.lower) ? flat[t].interval.lower : iv.lower
                    let ovUpper: [UInt8]?
                    switch (iv.upper, flat[t].interval.upper) {
                    case (nil, nil): ovUpper = nil
                    case let (a?, nil): ovUpper = a
                    case let (nil, b?): ovUpper = b
                    case let (a?, b?): ovUpper = a.lexicographicallyPrecedes(b) ? a : b
                    }
                    let pl = m.finePosition(of: ovLower)
                    let pu = m.finePosition(of: ovUpper)
                    overlapIndex.append(t)
                    weights.append(pu > pl ? Double(pu - pl) : 0)
                    t += 1
                }
                precondition(!overlapIndex.isEmpty, "source bucket outside the target ranges")
                if weights.allSatisfy({ $0 == 0 }) {
                    // Zero-length bucket in fine coordinates: give everything to the
                    // target bucket holding the source bucket's lower bound.
                    for k in weights.indices { weights[k] = 0 }
                    weights[0] = 1
                }
                for (c, value) in counts.enumerated() where value > 0 {
                    let shares = apportion(value, weights: weights)
                    for (k, share) in shares.enumerated() where share > 0 {
                        let tb = flat[overlapIndex[k]]
                        switch c {
                        case 0: out[tb.target].reads[tb.bucket] &+= share
                        case 1: out[tb.target].writes[tb.bucket] &+= share
                        case 2: out[tb.target].readBytes[tb.bucket] &+= share
                        default: out[tb.target].writeBytes[tb.bucket] &+= share
                        }
                    }
                }
            }
        }
        return targetMaps.enumerated().map { t, m in
            HistogramSnapshot(map: m, reads: out[t].reads, writes: out[t].writes, readBytes: out[t].readBytes, writeBytes: out[t].writeBytes)
        }
    }
}

/// Splits `value` into integer shares proportional to `weights` by
/// cumulative rounding: share `k` is `round(value·W≤k/W) − round(value·W<k/W)`.
/// The shares sum to `value` exactly, each is within 1 of its exact
/// proportional value, and any prefix of shares is within 1/2 of its exact
/// value, so any contiguous run of target buckets (a child's range) gets its
/// proportional share ±1.
func apportion(_ value: UInt64, weights: [Double]) -> [UInt64] {
    let total = weights.reduce(0, +)
    precondition(total > 0 && weights.allSatisfy { $0 >= 0 })
    var shares = [UInt64](repeating: 0, count: weights.count)
    var cumulativeWeight = 0.0
    var previous: UInt64 = 0
    let v = Double(value)
    for (k, w) in weights.enumerated() {
        cumulativeWeight += w
        var r: UInt64
        if k == weights.count - 1 {
            r = value
        } else {
            let x = (v * (cumulativeWeight / total)).rounded()
            r = x >= v ? value : UInt64(max(0, x))
        }
        r = max(previous, min(value, r))
        shares[k] = r - previous
        previous = r
    }
    return shares
}
