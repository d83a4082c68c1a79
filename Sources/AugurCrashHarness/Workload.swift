// The workload every crash mode runs: puts, deletes and atomic batches over two tables, plus
// flushes and reshards (split, N-way split, merge, boundary move) chosen against the current
// partition map, and now and then a rebuild (drop + create) of the secondary index that table
// "a" always has. Operations have a one-line text form so a child process can log them.
@_spi(Testing) import Augur
import AugurSys
import AugurStats

/// One entry of a batch: a put (value non-nil) or a delete.
public struct BatchEntry: Sendable, Equatable {
    public var table: String
    public var key: [UInt8]
    public var value: [UInt8]?
    public init(table: String, key: [UInt8], value: [UInt8]?) {
        self.table = table
        self.key = key
        self.value = value
    }
}

/// A workload operation.
public enum Op: Sendable, Equatable, CustomStringConvertible {
    case put(table: String, key: [UInt8], value: [UInt8])
    case delete(table: String, key: [UInt8])
    /// Applied atomically with `Engine.write(_:)`.
    case batch([BatchEntry])
    case flush
    case reshard(table: String, plan: ReshardPlan)
    /// Drops the table's secondary index and creates it again (an online build).
    case rebuildIndex(table: String)

    /// Data operations change the contents; the others must not.
    public var isDataOp: Bool {
        switch self {
        case .put, .delete, .batch: true
        case .flush, .reshard, .rebuildIndex: false
        }
    }

    /// Short name for summaries.
    public var kind: String {
        switch self {
        case .put: "put"
        case .delete: "delete"
        case .batch: "batch"
        case .flush: "flush"
        case .rebuildIndex: "reindex"
        case .reshard(_, let plan):
            switch plan {
            case .split: "split"
            case .splitMany: "split-many"
            case .merge: "merge"
            case .moveBoundary: "move"
            case .reshape: "reshape"
            }
        }
    }

    public var description: String {
        switch self {
        case .put(let t, let k, let v): "put \(t) \(formatKey(k)) (\(v.count) bytes)"
        case .delete(let t, let k): "delete \(t) \(formatKey(k))"
        case .batch(let es): "batch of \(es.count)"
        case .flush: "flush"
        case .reshard(let t, let plan): "\(t): \(plan)"
        case .rebuildIndex(let t): "rebuild the index of \(t)"
        }
    }

    // MARK: text form (one line, space separated; byte strings as "x" + hex, never empty)

    public var encoded: String {
        switch self {
        case .put(let t, let k, let v): "put \(t) \(hex(k)) \(encodeValue(v))"
        case .delete(let t, let k): "del \(t) \(hex(k))"
        case .batch(let es):
            "batch \(es.count)" + es.map { e in " \(e.table) " + (e.value.map { "p \(hex(e.key)) \(encodeValue($0))" } ?? "d \(hex(e.key))") }.joined()
        case .flush: "flush"
        case .rebuildIndex(let t): "reindex \(t)"
        case .reshard(let t, let plan):
            switch plan {
            case .split(let k): "split \(t) \(hex(k))"
            case .splitMany(let ks): "splitmany \(t) \(ks.count) " + ks.map(hex).joined(separator: " ")
            case .merge(let b): "merge \(t) \(hex(b))"
            case .moveBoundary(let f, let to): "move \(t) \(hex(f)) \(hex(to))"
            case .reshape(let first, let count, let bs):
                "reshape \(t) \(first.isEmpty ? "-" : hex(first)) \(count) \(bs.count) " + bs.map(hex).joined(separator: " ")
            }
        }
    }

    public init?(encoded line: Substring) {
        var words = line.split(separator: " ", omittingEmptySubsequences: true)[...]
        func word() -> Substring? { words.popFirst() }
        func bytes() -> [UInt8]? { word().flatMap(unhex) }
        func value() -> [UInt8]? { word().flatMap(decodeValue) }
        guard let verb = word() else { return nil }
        switch verb {
        case "put":
            guard let t = word(), let k = bytes(), let v = value() else { return nil }
            self = .put(table: String(t), key: k, value: v)
        case "del":
            guard let t = word(), let k = bytes() else { return nil }
            self = .delete(table: String(t), key: k)
        case "batch":
            guard let n = word().flatMap({ Int($0) }), n >= 0 else { return nil }
            var es: [BatchEntry] = []
            for _ in 0..<n {
                guard let t = word(), let kind = word(), let k = bytes() else { return nil }
                if kind == "p" {
                    guard let v = value() else { return nil }
                    es.append(BatchEntry(table: String(t), key: k, value: v))
                } else if kind == "d" {
                    es.append(BatchEntry(table: String(t), key: k, value: nil))
                } else {
                    return nil
                }
            }
            self = .batch(es)
        case "flush":
            self = .flush
        case "reindex":
            guard let t = word() else { return nil }
            self = .rebuildIndex(table: String(t))
        case "split":
            guard let t = word(), let k = bytes() else { return nil }
            self = .reshard(table: String(t), plan: .split(at: k))
        case "splitmany":
            guard let t = word(), let n = word().flatMap({ Int($0) }), n >= 1 else { return nil }
            var ks: [[UInt8]] = []
            for _ in 0..<n {
                guard let k = bytes() else { return nil }
                ks.append(k)
            }
            self = .reshard(table: String(t), plan: .splitMany(at: ks))
        case "reshape":
            guard let t = word(), let f = word(), let c = word().flatMap({ Int($0) }), let n = word().flatMap({ Int($0) }) else { return nil }
            let first: [UInt8]
            if f == "-" { first = [] } else {
                guard let decoded = unhex(f) else { return nil }
                first = decoded
            }
            var bs: [[UInt8]] = []
            for _ in 0..<n {
                guard let b = bytes() else { return nil }
                bs.append(b)
            }
            self = .reshard(table: String(t), plan: .reshape(first: first, count: c, boundaries: bs))
        case "merge":
            guard let t = word(), let b = bytes() else { return nil }
            self = .reshard(table: String(t), plan: .merge(boundary: b))
        case "move":
            guard let t = word(), let f = bytes(), let to = bytes() else { return nil }
            self = .reshard(table: String(t), plan: .moveBoundary(from: f, to: to))
        default:
            return nil
        }
        if !words.isEmpty { return nil }
    }
}

private let hexDigits = Array("0123456789abcdef".utf8)

/// The generator's values: "#<op>." followed by filler bytes up to `length` (at least the prefix).
public func patternValue(op: UInt64, length: Int) -> [UInt8] {
    var v = Array("#\(op).".utf8)
    let seed = UInt8(truncatingIfNeeded: op &* 31)
    var i = 0
    v.reserveCapacity(max(length, v.count))
    while v.count < length {
        v.append(seed &+ UInt8(truncatingIfNeeded: i))
        i += 1
    }
    return v
}

/// Text form of a value: "g<op>.<length>" for a generator pattern (keeps the child's log small),
/// else hex.
func encodeValue(_ v: [UInt8]) -> String {
    if v.first == UInt8(ascii: "#"), let dot = v.firstIndex(of: UInt8(ascii: ".")),
       let op = UInt64(String(decoding: v[1..<dot], as: UTF8.self)), patternValue(op: op, length: v.count) == v {
        return "g\(op).\(v.count)"
    }
    return hex(v)
}

func decodeValue(_ s: Substring) -> [UInt8]? {
    if s.first == "g" {
        let parts = s.dropFirst().split(separator: ".")
        guard parts.count == 2, let op = UInt64(parts[0]), let n = Int(parts[1]), n >= 0 else { return nil }
        let v = patternValue(op: op, length: n)
        return v.count == n ? v : nil
    }
    return unhex(s)
}

func hex(_ bytes: [UInt8]) -> String {
    var out: [UInt8] = [UInt8(ascii: "x")]
    out.reserveCapacity(1 + bytes.count * 2)
    for b in bytes {
        out.append(hexDigits[Int(b >> 4)])
        out.append(hexDigits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

func unhex(_ s: Substring) -> [UInt8]? {
    let u = Array(s.utf8)
    guard u.first == UInt8(ascii: "x"), u.count % 2 == 1 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
    var out: [UInt8] = []
    out.reserveCapacity(u.count / 2)
    var i = 1
    while i < u.count {
        guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
        out.append(hi << 4 | lo)
        i += 2
    }
    return out
}

/// A table's partitions as `(lower, upper)` bounds, in key order.
public typealias PartitionBounds = [(lower: [UInt8], upper: [UInt8]?)]

public func partitionBounds(_ table: Table) throws(AugurError) -> PartitionBounds {
    try table.partitionStats().map { ($0.lowerBound, $0.upperBound) }
}

/// Seeded generator of workload operations.
public struct WorkloadGenerator: Sendable {
    public static let tables = ["a", "b"]
    /// Table "b" is partitioned by hash (issue 18): every crash, power-loss and corruption
    /// check covers a hashed table beside the range-partitioned, indexed "a".
    public static let hashedTable = "b"
    static let hashedStrategy = PartitioningStrategy.hash(buckets: 4)
    public var rng: SplitMix64
    /// Numbered so values say which operation wrote them.
    public private(set) var opNumber: UInt64
    /// Reshards are not generated beyond this many partitions per table (merges are).
    public var maxPartitions = 10
    /// Weights (out of the total) of put, delete, batch, big batch, flush, split, split-many, merge,
    /// move, index rebuild.
    public var weights: [Int] = [44, 14, 14, 3, 5, 6, 2, 5, 7, 1]
    /// Distinct structured keys ("k0000"…).
    public var keySpace = 1200

    public init(seed: UInt64, firstOpNumber: UInt64 = 0) {
        rng = SplitMix64(seed: seed)
        opNumber = firstOpNumber
    }

    public mutating func int(_ r: Range<Int>) -> Int { Int.random(in: r, using: &rng) }
    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }

    /// Mostly structured keys, sometimes awkward bytes (0x00, 0xFF, shared prefixes).
    public mutating func key() -> [UInt8] {
        if chance(0.88) {
            let n = int(0..<keySpace)
            var digits = Array(String(n).utf8)
            while digits.count < 4 { digits.insert(UInt8(ascii: "0"), at: 0) }
            return [UInt8(ascii: "k")] + digits
        }
        let alphabet: [UInt8] = [0x00, 0x01, 0x41, 0x6B, 0x7F, 0x80, 0xFF]
        var k: [UInt8] = [alphabet[int(0..<alphabet.count)]]
        for _ in 0..<int(0..<4) { k.append(alphabet[int(0..<alphabet.count)]) }
        return k
    }

    /// A value that names the operation that wrote it ("#<op>.<filler>"); sometimes empty.
    public mutating func value(big: Bool = false) -> [UInt8] {
        if !big && chance(0.03) { return [] }
        let size: Int
        if big { size = int(1000..<3000) } else if chance(0.8) { size = int(0..<48) } else if chance(0.75) { size = int(48..<400) } else { size = int(1000..<3000) }
        return patternValue(op: opNumber, length: size)
    }

    private mutating func table() -> String { Self.tables[int(0..<Self.tables.count)] }

    /// A key to cut table `t`'s partitions at: a partition key — in the hashed table a bucket,
    /// then a key.
    private mutating func cutKey(_ t: String) -> [UInt8] {
        let k = key()
        return t == Self.hashedTable ? PartitioningStrategy.bucketBytes(int(0..<Self.hashedStrategy.buckets)) + k : k
    }

    private func contains(_ b: (lower: [UInt8], upper: [UInt8]?), _ k: [UInt8]) -> Bool {
        if k.lexicographicallyPrecedes(b.lower) { return false }
        if let u = b.upper, !k.lexicographicallyPrecedes(u) { return false }
        return true
    }

    /// The next operation, given the current partitions of each table.
    public mutating func next(partitions: [String: PartitionBounds]) -> Op {
        opNumber += 1
        let total = weights.reduce(0, +)
        var roll = int(0..<total)
        var choice = 0
        while roll >= weights[choice] {
            roll -= weights[choice]
            choice += 1
        }
        let t = table()
        let bounds = partitions[t] ?? [([], nil)]

        switch choice {
        case 0: return .put(table: t, key: key(), value: value())
        case 1: return .delete(table: t, key: key())
        case 2, 3:
            let big = choice == 3
            var es: [BatchEntry] = []
            for _ in 0..<(big ? int(8..<17) : int(2..<7)) {
                let tt = table()
                es.append(BatchEntry(table: tt, key: key(), value: big || chance(0.75) ? value(big: big) : nil))
            }
            return .batch(es)
        case 4: return .flush
        case 9: return .rebuildIndex(table: Self.indexedTable)
        case 5, 6:
            if bounds.count >= maxPartitions { return mergeOrMove(t, bounds) ?? .flush }
            let first = cutKey(t)
            guard let p = bounds.first(where: { contains($0, first) }) else { return .flush }
            var keys: [[UInt8]] = first == p.lower ? [] : [first]
            if choice == 6 {
                for _ in 0..<12 where keys.count < 4 {
                    let k = cutKey(t)
                    if contains(p, k) && k != p.lower && !keys.contains(k) { keys.append(k) }
                }
                if keys.count >= 2 { return .reshard(table: t, plan: .splitMany(at: keys)) }
            }
            guard let k = keys.first else { return .flush }
            return .reshard(table: t, plan: .split(at: k))
        default:
            return mergeOrMove(t, bounds, move: choice == 8) ?? .flush
        }
    }

    private mutating func mergeOrMove(_ t: String, _ bounds: PartitionBounds, move: Bool = false) -> Op? {
        guard bounds.count >= 2 else { return nil }
        let i = int(1..<bounds.count)
        let boundary = bounds[i].lower
        if !move { return .reshard(table: t, plan: .merge(boundary: boundary)) }
        let union = (lower: bounds[i - 1].lower, upper: bounds[i].upper)
        for _ in 0..<12 {
            let k = cutKey(t)
            if contains(union, k) && k != union.lower && k != boundary {
                return .reshard(table: t, plan: .moveBoundary(from: boundary, to: k))
            }
        }
        return .reshard(table: t, plan: .merge(boundary: boundary))
    }
}

extension WorkloadGenerator {
    /// The table with a secondary index, its name, and its key: a pure function of the value
    /// with collisions and 0x00 bytes (so escaping and equal index keys are exercised); empty
    /// and one-byte values have no entry.
    public static let indexedTable = "a"
    public static let indexName = "digest"
    public static let indexKey: IndexKeyExtractor = { value in
        value.count < 2 ? nil : [UInt8(value.count % 7), value[value.count / 2] & 0x0F]
    }
}

/// Runs workload operations against one engine, keeping table handles.
/// Thread-safety: `handles` is unguarded; one thread at a time drives an executor (ChildWorkload,
/// PowerLossRunner).
public final class WorkloadExecutor: @unchecked Sendable {
    public let engine: Engine
    private var handles: [String: Table] = [:]

    public init(engine: Engine) { self.engine = engine }

    /// Opens (or creates) the workload's tables, and attaches (or creates) the secondary index
    /// of the indexed table — a crash between a rebuild's drop and its create leaves none.
    public func prepareTables() throws(AugurError) {
        for name in WorkloadGenerator.tables {
            if let t = try? engine.table(named: name) {
                handles[name] = t
            } else if name == WorkloadGenerator.hashedTable {
                handles[name] = try engine.createTable(name, strategy: WorkloadGenerator.hashedStrategy, partitions: 2)
            } else {
                handles[name] = try engine.createTable(name)
            }
        }
        let t = try table(WorkloadGenerator.indexedTable)
        if t.secondaryIndexNames.contains(WorkloadGenerator.indexName) {
            try t.attachSecondaryIndex(name: WorkloadGenerator.indexName, key: WorkloadGenerator.indexKey)
        } else {
            try t.createSecondaryIndex(name: WorkloadGenerator.indexName, key: WorkloadGenerator.indexKey)
        }
    }

    public func table(_ name: String) throws(AugurError) -> Table {
        if let t = handles[name] { return t }
        let t = try engine.table(named: name)
        handles[name] = t
        return t
    }

    public func partitions() throws(AugurError) -> [String: PartitionBounds] {
        var out: [String: PartitionBounds] = [:]
        for name in WorkloadGenerator.tables { out[name] = try partitionBounds(table(name)) }
        return out
    }

    public func execute(_ op: Op) throws(AugurError) {
        switch op {
        case .put(let t, let k, let v): try table(t).put(k, v)
        case .delete(let t, let k): try table(t).delete(k)
        case .batch(let es):
            var b = WriteBatch()
            for e in es {
                let t = try table(e.table)
                if let v = e.value { b.put(e.key, v, in: t) } else { b.delete(e.key, in: t) }
            }
            try engine.write(b)
        case .flush: try engine.flush()
        case .reshard(let t, let plan): _ = try table(t).requestResharding(plan).wait()
        case .rebuildIndex(let t):
            let table = try table(t)
            try table.dropSecondaryIndex(name: WorkloadGenerator.indexName)
            try table.createSecondaryIndex(name: WorkloadGenerator.indexName, key: WorkloadGenerator.indexKey)
        }
    }
}

extension AugurError {
    /// A reshard plan that no longer fits the map (harmless in a random workload).
    public var isPlanRejection: Bool {
        switch self {
        case .invalidSplitKey, .invalidReshardPlan: true
        default: false
        }
    }
}
