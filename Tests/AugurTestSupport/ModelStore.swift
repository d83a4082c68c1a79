import Augur
import AugurPlanner

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

/// Acknowledged writes plus the writes whose outcome is unknown (the call failed, but the
/// record may have reached the log): after a fault or a crash, an uncertain key may hold its
/// acknowledged value or any of the uncertain ones (nil = deleted).
public struct UncertainModel: Sendable {
    public var acknowledged: [[UInt8]: [UInt8]] = [:]
    public var uncertain: [[UInt8]: [[UInt8]?]] = [:]

    public init() {}

    public mutating func acknowledge(_ key: [UInt8], _ value: [UInt8]?) {
        acknowledged[key] = value
        uncertain[key] = nil
    }

    public mutating func attempted(_ key: [UInt8], _ value: [UInt8]?) {
        uncertain[key, default: []].append(value)
    }

    /// nil when `actual` is a state the model allows, else a short description of the first differences.
    public func mismatch(_ actual: [[UInt8]: [UInt8]]) -> String? {
        var problems: [String] = []
        for key in Set(acknowledged.keys).union(actual.keys).union(uncertain.keys) {
            let got = actual[key]
            if got == acknowledged[key] { continue }
            if let options = uncertain[key], options.contains(where: { $0 == got }) { continue }
            problems.append("\(formatKey(key)): expected \(describe(acknowledged[key])), found \(describe(got))")
        }
        if problems.isEmpty { return nil }
        return "\(problems.count) keys differ, e.g. " + problems.sorted().prefix(3).joined(separator: "; ")
    }

    private func describe(_ v: [UInt8]?) -> String { v.map { "\($0.count) bytes" } ?? "absent" }
}

/// A short description of how two stores differ (nil when equal), for failure messages.
public func difference(_ expected: ModelStore, _ actual: ModelStore) -> String? {
    var problems: [String] = []
    for table in Set(expected.tables.keys).union(actual.tables.keys).sorted() {
        let e = expected.tables[table] ?? [:], a = actual.tables[table] ?? [:]
        for key in Set(e.keys).union(a.keys) where e[key] != a[key] {
            problems.append("\(table)/\(formatKey(key)): expected \(e[key].map { "\($0.count) bytes" } ?? "absent"), found \(a[key].map { "\($0.count) bytes" } ?? "absent")")
        }
    }
    if problems.isEmpty { return nil }
    return "\(problems.count) differences, e.g. " + problems.sorted().prefix(3).joined(separator: "; ")
}
