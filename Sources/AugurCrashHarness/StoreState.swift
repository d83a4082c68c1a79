// The contents of a store as the harness sees it: table → key → value, with helpers to dump
// an open engine, digest a state (the child reports the digest of what it recovered) and
// describe differences.
@_spi(Testing) import Augur
import AugurSys

/// A byte string with cheap hashing and comparison (one `Hasher.combine(bytes:)` and one
/// `compareMemory`): the harness keeps thousands of keys per state and compares states often.
public struct ByteString: Hashable, Sendable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public func hash(into h: inout Hasher) {
        h.combine(bytes.count)
        bytes.withUnsafeBytes { h.combine(bytes: $0) }
    }
    public static func == (a: ByteString, b: ByteString) -> Bool { sameBytes(a.bytes, b.bytes) }
}

@inline(__always)
func sameBytes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return a.withUnsafeBytes { x in b.withUnsafeBytes { y in compareMemory(x.baseAddress!, y.baseAddress!, count: a.count) == 0 } }
}

@inline(__always)
func sameBytes(_ a: [UInt8]?, _ b: [UInt8]?) -> Bool {
    switch (a, b) {
    case (nil, nil): true
    case (let x?, let y?): sameBytes(x, y)
    default: false
    }
}

/// Contents of a store. Empty tables are dropped (a table whose creation did not survive a
/// crash holds exactly what an empty one holds), so equal contents compare equal.
public struct StoreState: Sendable, Equatable, CustomStringConvertible {
    /// table → key → value.
    public private(set) var rows: [String: [ByteString: ByteString]] = [:]

    public init() {}

    /// Builds a state from plain dictionaries.
    public init(tables: [String: [[UInt8]: [UInt8]]]) {
        for (t, r) in tables {
            for (k, v) in r { put(t, k, v) }
        }
    }

    /// Kept for readability at call sites: states are always normalized.
    public var normalized: StoreState { self }

    public var tableNames: [String] { rows.keys.sorted() }

    /// The records of `table` (empty when the table is empty or absent).
    public func records(_ table: String) -> [ByteString: ByteString] { rows[table] ?? [:] }

    public var recordCount: Int { rows.values.reduce(0) { $0 + $1.count } }

    public func value(_ table: String, _ key: [UInt8]) -> [UInt8]? { rows[table]?[ByteString(key)]?.bytes }

    public mutating func put(_ table: String, _ key: [UInt8], _ value: [UInt8]) { rows[table, default: [:]][ByteString(key)] = ByteString(value) }
    public mutating func delete(_ table: String, _ key: [UInt8]) {
        guard rows[table]?.removeValue(forKey: ByteString(key)) != nil else { return }
        if rows[table]!.isEmpty { rows[table] = nil }
    }

    /// Applies a data operation (maintenance operations do not change the contents).
    public mutating func apply(_ op: Op) {
        switch op {
        case .put(let t, let k, let v): put(t, k, v)
        case .delete(let t, let k): delete(t, k)
        case .batch(let entries):
            for e in entries {
                if let v = e.value { put(e.table, e.key, v) } else { delete(e.table, e.key) }
            }
        case .flush, .reshard, .rebuildIndex: break
        }
    }

    public func applying(_ op: Op) -> StoreState {
        var s = self
        s.apply(op)
        return s
    }

    /// Order-independent 64-bit digest (FNV-1a over the sorted records of non-empty tables).
    public var digest: UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ bytes: [UInt8]) {
            for b in withUnsafeBytes(of: UInt32(bytes.count).littleEndian, Array.init) + bytes {
                h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3
            }
        }
        for name in rows.keys.sorted() {
            guard let r = rows[name], !r.isEmpty else { continue }
            mix(Array(name.utf8))
            for key in r.keys.sorted(by: { $0.bytes.lexicographicallyPrecedes($1.bytes) }) {
                mix(key.bytes)
                mix(r[key]!.bytes)
            }
        }
        return h
    }

    public var description: String {
        let parts = rows.keys.sorted().map { "\($0): \(rows[$0]!.count) records" }
        return "[" + parts.joined(separator: ", ") + "]"
    }

    /// Keys (of all tables) whose values differ between `self` (expected) and `actual`.
    public func differences(from actual: StoreState) -> (missingOrChanged: [(String, [UInt8])], unexpected: [(String, [UInt8])]) {
        var lost: [(String, [UInt8])] = []
        var extra: [(String, [UInt8])] = []
        for name in Set(rows.keys).union(actual.rows.keys).sorted() {
            let e = rows[name] ?? [:], a = actual.rows[name] ?? [:]
            for (k, v) in e where a[k] != v { lost.append((name, k.bytes)) }
            for k in a.keys where e[k] == nil { extra.append((name, k.bytes)) }
        }
        return (lost, extra)
    }
}

/// Reads every record of every table (forward scans).
public func dumpState(_ engine: Engine) throws(AugurError) -> StoreState {
    var state = StoreState()
    for name in try engine.tableNames() {
        for kv in try engine.table(named: name).scan() { state.put(name, kv.key, kv.value) }
    }
    return state
}

/// Printable form of a value: its length and the op that wrote it (values start with "#<op>.").
func describeValue(_ v: [UInt8]?) -> String {
    guard let v else { return "absent" }
    let prefix = v.prefix(while: { $0 != UInt8(ascii: ".") }).prefix(24)
    if prefix.first == UInt8(ascii: "#"), prefix.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) {
        return "\(v.count) bytes written by op \(String(decoding: prefix.dropFirst(), as: UTF8.self))"
    }
    return "\(v.count) bytes"
}
