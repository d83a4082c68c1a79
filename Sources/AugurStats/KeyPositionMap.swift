/// Maps keys of a partition's range `[lowerBound, upperBound)` to fixed buckets
/// by interpolating the key's position inside the range.
///
/// Keys are byte strings ordered as unsigned bytes; an empty `lowerBound` is
/// minus infinity and a `nil` `upperBound` is plus infinity. The position of a
/// key is computed as follows:
///
/// 1. `prefix` is the common prefix of `lowerBound` and `upperBound` (an open
///    upper bound is treated as an infinite run of `0xFF`, so the prefix is
///    `lowerBound`'s leading `0xFF` bytes). Every key in range starts with it.
/// 2. The next 8 bytes after the prefix, zero-padded when the key is shorter,
///    read as a big-endian `UInt64`, give the key's *window value* `v`.
///    `lowValue`/`highValue` are the window values of the bounds (an open
///    upper bound has `highValue = UInt64.max`).
/// 3. The offset `x = v − lowValue` lies in `0..<width`, where `width` is
///    `highValue − lowValue`, plus one when keys with window value `highValue`
///    can exist below the upper bound (open bound, or bound longer than
///    prefix + 8 bytes). `bucket = ⌊x · m / 2⁶⁴⌋` with the precomputed
///    multiplier `m = ⌊bucketCount · 2⁶⁴ / width⌋`: one 64×64→128 multiply,
///    no division on the hot path.
///
/// Because the bucket function is monotone, bucket `i` holds *exactly* the keys
/// `k` with `lowerBoundKey(i) ≤ k < lowerBoundKey(i + 1)` (lexicographic order;
/// the last bucket ends at `upperBound`). Statistics use this to state exact
/// error bounds as key intervals.
///
/// Resolution: keys that agree on prefix + 8 bytes fall into the same bucket. If
/// the range is narrower than `bucketCount` window units, the top buckets are
/// empty. Out-of-range keys are clamped to the first or last bucket.
///
/// Thread-safety: immutable value type, `Sendable`.
public struct KeyPositionMap: Sendable, Hashable {
    /// Inclusive lower bound of the range; empty means minus infinity.
    public let lowerBound: [UInt8]
    /// Exclusive upper bound of the range; `nil` means plus infinity.
    public let upperBound: [UInt8]?
    /// Number of buckets.
    public let bucketCount: Int
    /// Common prefix of the two bounds, stripped before interpolation.
    public let prefix: [UInt8]
    /// Big-endian value of the 8 bytes of `lowerBound` after `prefix`.
    public let lowValue: UInt64
    /// Big-endian value of the 8 bytes of `upperBound` after `prefix` (`UInt64.max` when open).
    public let highValue: UInt64

    /// Number of distinct offsets `x` (`1...2⁶⁴`).
    let width: UInt128
    /// Largest valid offset, `width − 1`.
    let maxOffset: UInt64
    /// `⌊bucketCount · 2⁶⁴ / width⌋`, saturated to `UInt64.max`.
    let multiplier: UInt64
    /// `edges[i]` = smallest offset in bucket `i` (clamped to `width`); `edges[bucketCount] = width`.
    let edges: [UInt128]

    /// Creates the map of `[lowerBound, upperBound)` with `bucketCount` buckets.
    ///
    /// `focus` (the range's smallest and largest stored key, when known) spreads the buckets
    /// over `[focus.low, focus.high]` instead of the whole range: the first bucket also holds
    /// every key below `focus.low` and the last every key above `focus.high`. Without it a range
    /// such as `[−∞, +∞)` over keys that start with zero bytes puts every key in bucket 0, and
    /// no statistic can say where inside the data the load is. Ignored unless
    /// `lowerBound ≤ focus.low < focus.high < upperBound`.
    ///
    /// - Precondition: `lowerBound < upperBound` (when `upperBound` is not nil)
    ///   and `1 <= bucketCount <= 4096`.
    public init(lowerBound: [UInt8], upperBound: [UInt8]?, bucketCount: Int, focus: (low: [UInt8], high: [UInt8])? = nil) {
        precondition(bucketCount >= 1 && bucketCount <= 4096, "bucketCount must be in 1...4096")
        if let hi = upperBound {
            precondition(lowerBound.lexicographicallyPrecedes(hi), "lowerBound must be < upperBound")
        }
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        self.bucketCount = bucketCount

        var focus = focus
        if let f = focus, !(f.low.lexicographicallyPrecedes(f.high) && !f.low.lexicographicallyPrecedes(lowerBound)
                             && (upperBound.map { f.high.lexicographicallyPrecedes($0) } ?? true)) {
            focus = nil
        }
        // The interpolated span: the focus (both ends inclusive), or the bounds.
        let spanLow = focus?.low ?? lowerBound
        let spanHigh: [UInt8]? = focus?.high ?? upperBound
        var prefixLength = 0
        if let hi = spanHigh {
            while prefixLength < spanLow.count, prefixLength < hi.count,
                  spanLow[prefixLength] == hi[prefixLength] { prefixLength += 1 }
        } else {
            while prefixLength < spanLow.count, spanLow[prefixLength] == 0xFF { prefixLength += 1 }
        }
        self.prefix = Array(spanLow[0..<prefixLength])
        let lo = KeyPositionMap.window(spanLow, from: prefixLength)
        self.lowValue = lo
        let extra: UInt128
        if let f = focus {
            // focus.high is a stored key: its window value must have an offset of its own.
            self.highValue = KeyPositionMap.window(f.high, from: prefixLength)
            extra = 1
        } else if let hi = upperBound {
            self.highValue = KeyPositionMap.window(hi, from: prefixLength)
            extra = hi.count > prefixLength + 8 ? 1 : 0
        } else {
            self.highValue = .max
            extra = 1
        }
        let w = max(1, UInt128(highValue) - UInt128(lo) + extra)
        self.width = w
        self.maxOffset = UInt64(w - 1)
        let q = (UInt128(bucketCount) << 64) / w
        let m = UInt64(min(q, UInt128(UInt64.max)))
        self.multiplier = m
        var edges = [UInt128](repeating: 0, count: bucketCount + 1)
        for i in stride(from: 1, to: bucketCount, by: 1) {
            let num = UInt128(i) << 64
            let e = (num + UInt128(m) - 1) / UInt128(m)
            edges[i] = min(e, w)
        }
        edges[bucketCount] = w
        self.edges = edges
    }

    // MARK: - Bucketing

    /// Window value of `key` after skipping `offset` bytes: the next 8 bytes as a
    /// big-endian integer, zero-padded. Order-preserving for the lexicographic (memcmp,
    /// shorter-first) key order at `offset` 0: a smaller window means a smaller key, a larger
    /// one a larger key; equal windows decide nothing (`"ab"` and `"ab\0"` share one) — what
    /// a segment's index search by key prefix relies on.
    @inlinable @inline(__always)
    public static func window(_ key: UnsafeRawBufferPointer, from offset: Int) -> UInt64 {
        let n = key.count &- offset
        if n >= 8 {
            return UInt64(bigEndian: key.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        var v: UInt64 = 0
        var i = 0
        while i < n {
            v |= UInt64(key[offset &+ i]) &<< UInt64(56 &- 8 &* i)
            i &+= 1
        }
        return v
    }

    static func window(_ key: [UInt8], from offset: Int) -> UInt64 {
        key.withUnsafeBytes { window($0, from: offset) }
    }

    /// The bucket of `key`, `0..<bucketCount`.
    public func bucket(for key: [UInt8]) -> Int {
        key.withUnsafeBytes { bucket(for: $0) }
    }

    /// The bucket of `key`, `0..<bucketCount`.
    public func bucket(for key: UnsafeRawBufferPointer) -> Int {
        bucket(forOffset: offset(of: key))
    }

    /// The offset of `key`'s window value from `lowValue`, clamped to `0...maxOffset`.
    func offset(of key: UnsafeRawBufferPointer) -> UInt64 {
        switch comparePrefix(key) {
        case .less: return 0
        case .greater: return maxOffset
        case .equal:
            let v = KeyPositionMap.window(key, from: prefix.count)
            return v <= lowValue ? 0 : min(v &- lowValue, maxOffset)
        }
    }

    func bucket(forOffset x: UInt64) -> Int {
        min(bucketCount - 1, Int(truncatingIfNeeded: x.multipliedFullWidth(by: multiplier).high))
    }

    private enum Order { case less, equal, greater }

    private func comparePrefix(_ key: UnsafeRawBufferPointer) -> Order {
        let n = min(key.count, prefix.count)
        for i in 0..<n where key[i] != prefix[i] {
            return key[i] < prefix[i] ? .less : .greater
        }
        return key.count < prefix.count ? .less : .equal
    }

    // MARK: - Bucket bounds

    /// The smallest key of bucket `i` (`i` in `0...bucketCount`); for
    /// `i == bucketCount` this is `upperBound` (nil = plus infinity). Bucket `i`
    /// holds exactly the keys in `[lowerBoundKey(i), lowerBoundKey(i + 1))`.
    public func lowerBoundKey(ofBucket i: Int) -> [UInt8]? {
        precondition(i >= 0 && i <= bucketCount)
        if i == 0 { return lowerBound }
        if i == bucketCount { return upperBound }
        let e = edges[i]
        if e >= width { return upperBound ?? (prefix + [UInt8](repeating: 0xFF, count: 9)) }
        let v = lowValue &+ UInt64(e)
        return prefix + KeyPositionMap.trimmedBigEndian(v)
    }

    /// The key interval that bucket `i` covers.
    public func interval(ofBucket i: Int) -> KeyInterval {
        KeyInterval(lower: lowerBoundKey(ofBucket: i)!, upper: lowerBoundKey(ofBucket: i + 1))
    }

    /// 8 bytes big-endian with trailing zero bytes removed. For keys starting
    /// with the prefix, `window(k) >= v ⇔ k >= prefix + trimmedBigEndian(v)`.
    static func trimmedBigEndian(_ v: UInt64) -> [UInt8] {
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: v >> UInt64(56 - 8 * $0)) }
        while let last = bytes.last, last == 0 { bytes.removeLast() }
        return bytes
    }

    // MARK: - Fine positions (off the hot path)

    /// The key's position in this map's coordinates with 64 extra fraction
    /// bits: `(window value, next 8 bytes) − (lowValue, 0)` as a 128-bit
    /// integer. Monotone in the key; `nil` (plus infinity) maps to `UInt128.max`.
    func finePosition(of key: [UInt8]?) -> UInt128 {
        guard let key else { return .max }
        return key.withUnsafeBytes { raw -> UInt128 in
            switch comparePrefix(raw) {
            case .less: return 0
            case .greater: return .max
            case .equal:
                let hiPart = KeyPositionMap.window(raw, from: prefix.count)
                let loPart = KeyPositionMap.window(raw, from: prefix.count + 8)
                let v = (UInt128(hiPart) << 64) | UInt128(loPart)
                let base = UInt128(lowValue) << 64
                return v <= base ? 0 : v - base
            }
        }
    }

    /// The key at a fine position (inverse of ``finePosition(of:)`` up to
    /// trailing zero bytes).
    func key(atFinePosition p: UInt128) -> [UInt8] {
        let base = UInt128(lowValue) << 64
        let (v, overflow) = base.addingReportingOverflow(p)
        if overflow { return prefix + [UInt8](repeating: 0xFF, count: 16) }
        var bytes = (0..<16).map { UInt8(truncatingIfNeeded: v >> UInt128(120 - 8 * $0)) }
        while let last = bytes.last, last == 0 { bytes.removeLast() }
        return prefix + bytes
    }

    /// The key's position inside the range as a fraction in `[0, 1]`
    /// (`0` at `lowerBound`, `1` at `upperBound`), computed from the prefix and
    /// the next 16 bytes.
    public func position(of key: [UInt8]) -> Double {
        let p = finePosition(of: key)
        if p == .max { return 1 }
        let total = Double(width) * 18446744073709551616.0
        return min(1, Double(p) / total)
    }
}

/// A half-open key interval `[lower, upper)`; `upper == nil` is plus infinity.
///
/// Thread-safety: immutable value type, `Sendable`.
public struct KeyInterval: Sendable, Hashable, CustomStringConvertible {
    /// Inclusive lower bound.
    public var lower: [UInt8]
    /// Exclusive upper bound; nil means plus infinity.
    public var upper: [UInt8]?

    /// Creates an interval.
    public init(lower: [UInt8], upper: [UInt8]?) {
        self.lower = lower
        self.upper = upper
    }

    /// Whether `key` lies in `[lower, upper)`.
    public func contains(_ key: [UInt8]) -> Bool {
        !key.lexicographicallyPrecedes(lower) && (upper.map { key.lexicographicallyPrecedes($0) } ?? true)
    }

    public var description: String {
        func hex(_ b: [UInt8]) -> String { b.isEmpty ? "-inf" : b.map { String($0, radix: 16) }.joined(separator: ".") }
        return "[\(hex(lower)), \(upper.map(hex) ?? "+inf"))"
    }
}

/// Lexicographic comparison of optional upper bounds (nil = plus infinity).
@inline(__always)
func keyLess(_ a: [UInt8], _ b: [UInt8]?) -> Bool {
    guard let b else { return true }
    return a.lexicographicallyPrecedes(b)
}
