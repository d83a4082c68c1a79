import Augur

/// The in-memory model the randomized tests compare the engine against: a sorted map per table.
public struct ModelStore: Sendable, Equatable {
    public var tables: [String: [[UInt8]: [UInt8]]] = [:]

    public init() {}

    public mutating func put(_ table: String, _ key: [UInt8], _ value: [UInt8]) { tables[table, default: [:]][key] = value }
    public mutating func delete(_ table: String, _ key: [UInt8]) { tables[table]?[key] = nil }

    /// Records of `table` in `range`, in key order (descending when `reverse`), at most `limit`.
    public func scan(_ table: String, range: KeyRange = .all, limit: Int? = nil, reverse: Bool = false) -> [KeyValue] {
        let rows = (tables[table] ?? [:]).filter { k, _ in
            if let lo = range.lowerBound, lexicographicallyPrecedes(k, lo) { return false }
            if let hi = range.upperBound, !lexicographicallyPrecedes(k, hi) { return false }
            return true
        }.map { KeyValue(key: $0.key, value: $0.value) }
        var sorted = rows.sorted { lexicographicallyPrecedes($0.key, $1.key) }
        if reverse { sorted.reverse() }
        if let limit { return Array(sorted.prefix(limit)) }
        return sorted
    }
}

/// Unsigned-byte order, shorter first on a common prefix.
public func lexicographicallyPrecedes(_ a: [UInt8], _ b: [UInt8]) -> Bool { a.lexicographicallyPrecedes(b) }
