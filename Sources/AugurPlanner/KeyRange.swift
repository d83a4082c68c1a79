/// Identifier of a partition, assigned by the engine (never reused while referenced by
/// history).
///
/// Thread-safety: immutable value type, `Sendable`.
public struct PartitionID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The raw identifier.
    public let rawValue: UInt64

    /// Wraps a raw identifier.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    public static func < (a: PartitionID, b: PartitionID) -> Bool { a.rawValue < b.rawValue }

    public var description: String { "p\(rawValue)" }
}

/// A half-open key range `[lower, upper)` over byte-string keys ordered as unsigned bytes.
/// An empty `lower` is minus infinity; a `nil` `upper` is plus infinity.
///
/// The one key range of Augur: the planner's partitions and histories, and the engine's
/// `Table.scan(range:)` (module `Augur` re-exports it under the same name). The engine's users
/// write it as `KeyRange(from:to:)`, `lowerBound`, `upperBound` and `prefix(_:)`, where a nil
/// lower bound means the same as an empty one (the empty key is the smallest).
///
/// Thread-safety: immutable value type, `Sendable`.
public struct KeyRange: Sendable, Hashable, CustomStringConvertible {
    /// Inclusive lower bound; empty means minus infinity.
    public var lower: [UInt8]
    /// Exclusive upper bound; nil means plus infinity.
    public var upper: [UInt8]?

    /// Creates `[lower, upper)`.
    public init(lower: [UInt8], upper: [UInt8]?) {
        self.lower = lower
        self.upper = upper
    }

    /// Creates `[lowerBound, upperBound)`; a nil bound is open.
    public init(from lowerBound: [UInt8]? = nil, to upperBound: [UInt8]? = nil) {
        self.init(lower: lowerBound ?? [], upper: upperBound)
    }

    /// `lower` as an optional: nil when the range is open below (`lower` is empty).
    public var lowerBound: [UInt8]? {
        get { lower.isEmpty ? nil : lower }
        set { lower = newValue ?? [] }
    }

    /// `upper` under the name the engine's scan API uses; nil when open above.
    public var upperBound: [UInt8]? {
        get { upper }
        set { upper = newValue }
    }

    /// The whole key space `[−∞, +∞)`.
    public static let all = KeyRange(lower: [], upper: nil)

    /// The keys that start with `prefix`.
    public static func prefix(_ prefix: [UInt8]) -> KeyRange {
        var upper = prefix
        while let last = upper.last, last == 0xFF { upper.removeLast() }
        if upper.isEmpty { return KeyRange(from: prefix, to: nil) }
        upper[upper.count - 1] += 1
        return KeyRange(from: prefix, to: upper)
    }

    /// Whether the range holds at least one key (`lower < upper`).
    public var isNonEmpty: Bool { KeyOrder.less(lower, upper) }

    /// Whether `key` lies in the range.
    public func contains(_ key: [UInt8]) -> Bool {
        !key.lexicographicallyPrecedes(lower) && KeyOrder.less(key, upper)
    }

    /// Whether `key` lies strictly inside the range (a valid split key: both sides non-empty).
    public func containsStrictly(_ key: [UInt8]) -> Bool {
        lower.lexicographicallyPrecedes(key) && KeyOrder.less(key, upper)
    }

    /// Whether `other` starts exactly where this range ends.
    public func isLeftNeighbour(of other: KeyRange) -> Bool {
        guard let u = upper else { return false }
        return u == other.lower
    }

    public var description: String { "[\(KeyFormat.lower(lower)), \(KeyFormat.upper(upper)))" }
}

/// Key comparisons that treat a `nil` upper bound as plus infinity.
///
/// Thread-safety: stateless.
public enum KeyOrder {
    /// `a < b` where `b == nil` is plus infinity.
    @inlinable
    public static func less(_ a: [UInt8], _ b: [UInt8]?) -> Bool {
        guard let b else { return true }
        return a.lexicographicallyPrecedes(b)
    }

    /// `a < b` for two upper bounds (nil = plus infinity).
    @inlinable
    public static func lessUpper(_ a: [UInt8]?, _ b: [UInt8]?) -> Bool {
        switch (a, b) {
        case (nil, _): return false
        case (_?, nil): return true
        case let (x?, y?): return x.lexicographicallyPrecedes(y)
        }
    }

    /// The smallest key greater than `key` (`key + [0]`).
    public static func successor(_ key: [UInt8]) -> [UInt8] { key + [0] }
}

/// Renders keys as lowercase hex (`-inf`/`+inf` for open bounds). Used by plan rendering and
/// the test-data format.
///
/// Thread-safety: stateless.
public enum KeyFormat {
    /// Hex of a key, two digits per byte (`""` → `-`).
    public static func hex(_ key: [UInt8]) -> String {
        if key.isEmpty { return "-" }
        let digits = Array("0123456789abcdef")
        var s = ""
        s.reserveCapacity(key.count * 2)
        for b in key {
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 0xF)])
        }
        return s
    }

    /// A lower bound: `-inf` when empty.
    public static func lower(_ key: [UInt8]) -> String { key.isEmpty ? "-inf" : hex(key) }

    /// An upper bound: `+inf` when nil.
    public static func upper(_ key: [UInt8]?) -> String { key.map(hex) ?? "+inf" }

    /// Parses hex (`-` = empty key); nil when malformed.
    public static func parse(_ text: String) -> [UInt8]? {
        if text == "-" || text == "-inf" { return [] }
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var i = 0
        while i < chars.count {
            guard let h = nibble(chars[i]), let l = nibble(chars[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}
