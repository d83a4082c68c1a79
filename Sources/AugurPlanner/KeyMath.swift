/// Interpolation between byte-string keys, for splitting a range by position when no
/// histogram (or data-size profile) says otherwise.
///
/// Positions use the common prefix of the bounds and the next 16 bytes as a 128-bit
/// fraction (like `AugurStats.KeyPositionMap`); an open upper bound is an infinite run of
/// `0xFF`.
///
/// Thread-safety: stateless.
public enum KeyMath {
    private static func prefixLength(_ range: KeyRange) -> Int {
        var n = 0
        if let hi = range.upper {
            while n < range.lower.count, n < hi.count, range.lower[n] == hi[n] { n += 1 }
        } else {
            while n < range.lower.count, range.lower[n] == 0xFF { n += 1 }
        }
        return n
    }

    private static func window128(_ key: [UInt8], from offset: Int) -> UInt128 {
        var v: UInt128 = 0
        for i in 0..<16 {
            let b = offset + i < key.count ? key[offset + i] : 0
            v = v << 8 | UInt128(b)
        }
        return v
    }

    private static func bounds(_ range: KeyRange) -> (prefix: Int, low: UInt128, high: UInt128) {
        let p = prefixLength(range)
        let low = window128(range.lower, from: p)
        let high = range.upper.map { window128($0, from: p) } ?? UInt128.max
        return (p, low, high)
    }

    /// Position of `key` inside `range` as a fraction in `[0, 1]` (clamped).
    public static func position(of key: [UInt8], in range: KeyRange) -> Double {
        if !range.lower.lexicographicallyPrecedes(key) { return 0 }
        if !KeyOrder.less(key, range.upper) { return 1 }
        let (p, low, high) = bounds(range)
        guard high > low else { return 0 }
        let v = window128(key, from: p)
        guard v > low else { return 0 }
        return min(1, Double(v - low) / Double(high - low))
    }

    /// A key at `fraction` of `range` (by position), or nil if no key strictly inside the
    /// range is found there (e.g. the range is too narrow).
    public static func key(atFraction fraction: Double, in range: KeyRange) -> [UInt8]? {
        let (p, low, high) = bounds(range)
        guard high > low else { return nil }
        let f = min(1, max(0, fraction))
        let span = Double(high - low)
        let offsetDouble = (span * f).rounded(.down)
        let offset = offsetDouble >= span ? high - low : UInt128(offsetDouble)
        let v = low + offset
        var bytes = (0..<16).map { UInt8(truncatingIfNeeded: v >> UInt128(120 - 8 * $0)) }
        while let last = bytes.last, last == 0 { bytes.removeLast() }
        let key = Array(range.lower.prefix(p)) + bytes
        return range.containsStrictly(key) ? key : nil
    }
}
