/// Maps simulated key positions in `[0, 1)` to byte-string keys and back: a position is the
/// key's first 16 bytes read as a big-endian binary fraction (the empty key is position 0;
/// the open upper bound is position 1).
///
/// Thread-safety: stateless.
public enum SimKey {
    /// The 8-byte key of `position` (trailing zero bytes trimmed; position 0 is the empty key).
    public static func key(_ position: Double) -> [UInt8] {
        let p = min(max(position, 0), 1)
        let v: UInt64 = p >= 1 ? .max : UInt64(p * 18446744073709551616.0)
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: v >> UInt64(56 - 8 * $0)) }
        while let last = bytes.last, last == 0 { bytes.removeLast() }
        return bytes
    }

    /// Position of a lower bound or key.
    public static func position(_ key: [UInt8]) -> Double {
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<8 { hi = hi << 8 | UInt64(i < key.count ? key[i] : 0) }
        for i in 8..<16 { lo = lo << 8 | UInt64(i < key.count ? key[i] : 0) }
        return Double(hi) * 0x1p-64 + Double(lo) * 0x1p-128
    }

    /// Position of an upper bound (nil = 1).
    public static func position(upper key: [UInt8]?) -> Double {
        key.map { position($0) } ?? 1
    }
}
