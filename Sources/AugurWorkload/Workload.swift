import Foundation
import Synchronization

/// The operation types the runner measures separately.
public enum OperationKind: String, CaseIterable, Codable, Sendable, Comparable {
    case read, update, insert, scan
    case readModifyWrite = "read-modify-write"
    case delete
    /// A batch of puts (bulk load); its latency is per batch.
    case batch

    public static func < (a: Self, b: Self) -> Bool { a.ordinal < b.ordinal }

    /// Position in `allCases` (a switch: the runner indexes its per-kind counts with it on
    /// every operation).
    var ordinal: Int {
        switch self {
        case .read: 0
        case .update: 1
        case .insert: 2
        case .scan: 3
        case .readModifyWrite: 4
        case .delete: 5
        case .batch: 6
        }
    }
}

/// Operation proportions (they need not sum to 1; they are normalized).
public struct OperationMix: Sendable, Equatable, Codable {
    public var read = 0.0, update = 0.0, insert = 0.0, scan = 0.0, readModifyWrite = 0.0, delete = 0.0

    public init(read: Double = 0, update: Double = 0, insert: Double = 0, scan: Double = 0,
                readModifyWrite: Double = 0, delete: Double = 0) {
        self.read = read; self.update = update; self.insert = insert; self.scan = scan
        self.readModifyWrite = readModifyWrite; self.delete = delete
    }

    var weights: [(OperationKind, Double)] {
        [(.read, read), (.update, update), (.insert, insert), (.scan, scan), (.readModifyWrite, readModifyWrite), (.delete, delete)]
    }

    public var total: Double { weights.reduce(0) { $0 + $1.1 } }

    /// The normalized proportion of `kind`.
    public func fraction(_ kind: OperationKind) -> Double {
        let t = total
        return t > 0 ? (weights.first { $0.0 == kind }?.1 ?? 0) / t : 0
    }

    public var summary: String {
        weights.filter { $0.1 > 0 }.map { "\($0.0.rawValue) \(formatNumber(($0.1 / total * 1000).rounded() / 10))%" }
            .joined(separator: ", ")
    }
}

/// How request keys are chosen.
public enum KeyDistribution: Sendable, Equatable {
    case uniform
    /// YCSB's scrambled zipfian with constant `theta` (0.99 in YCSB).
    case zipfian(theta: Double)
    /// YCSB's skewed-latest: recently inserted keys are the most popular.
    case latest(theta: Double)
    /// `hotOps` of the operations go to `hotKeys` of the key space (both fractions in (0, 1]).
    case hotspot(hotKeys: Double, hotOps: Double)
    /// A hotspot whose hot range drifts by `speed` key-space fractions per second.
    case movingHotspot(hotKeys: Double, hotOps: Double, speed: Double)
    /// Key numbers in order, wrapping around the key space.
    case sequential

    public static let names = ["uniform", "zipfian", "latest", "hotspot", "moving-hotspot", "sequential"]

    public var name: String {
        switch self {
        case .uniform: "uniform"
        case .zipfian: "zipfian"
        case .latest: "latest"
        case .hotspot: "hotspot"
        case .movingHotspot: "moving-hotspot"
        case .sequential: "sequential"
        }
    }

    public var summary: String {
        switch self {
        case .uniform: "uniform"
        case .zipfian(let t): "zipfian θ=\(formatNumber(t)) (scrambled)"
        case .latest(let t): "latest θ=\(formatNumber(t))"
        case .hotspot(let k, let o): "hotspot \(formatNumber(o * 100))% of ops on \(formatNumber(k * 100))% of keys"
        case .movingHotspot(let k, let o, let s):
            "moving hotspot \(formatNumber(o * 100))% of ops on \(formatNumber(k * 100))% of keys, drifting \(formatNumber(s * 100))% of the key space per second"
        case .sequential: "sequential"
        }
    }

    /// Whether keys should keep their numeric order (a hot *range* means nothing once hashed).
    var wantsOrderedKeys: Bool {
        switch self {
        case .hotspot, .movingHotspot, .sequential: true
        default: false
        }
    }
}

/// How key numbers are laid out over the key space (`--key-order`, JSON `keyOrder`): hashed
/// keys scatter consecutive key numbers across it (YCSB's default `insertorder=hashed`);
/// ordered keys keep them adjacent. (Not AugurPlanner's `KeyOrder`, which compares keys.)
public enum KeyLayout: String, Sendable, Codable, CaseIterable {
    case hashed, ordered
}

/// The shape of a workload's requests.
public enum WorkloadKind: Sendable, Equatable {
    /// Single-key operations drawn from `mix` with keys from `distribution`.
    case mixed
    /// Keys `series ‖ timestamp`: inserts append to `series` streams, scans read recent points.
    case timeSeries(series: Int)
    /// Batches of `batchSize` puts of sequential keys.
    case bulkLoad(batchSize: Int)
}

/// A complete workload definition.
public struct WorkloadSpec: Sendable, Equatable {
    public var name: String
    public var summary: String
    public var kind: WorkloadKind
    public var mix: OperationMix
    public var distribution: KeyDistribution
    /// Records loaded before the run.
    public var recordCount: UInt64
    /// Key numbers that requests choose from (YCSB: the record count).
    public var keySpace: UInt64
    public var keySize = 16
    public var valueSize = 100
    public var keyOrder: KeyLayout = .hashed
    /// Scan lengths are uniform in 1...maxScanLength (YCSB E: 100).
    public var maxScanLength = 100

    public init(name: String, summary: String, kind: WorkloadKind = .mixed, mix: OperationMix,
                distribution: KeyDistribution, recordCount: UInt64, keySpace: UInt64? = nil) {
        self.name = name
        self.summary = summary
        self.kind = kind
        self.mix = mix
        self.distribution = distribution
        self.recordCount = recordCount
        self.keySpace = keySpace ?? recordCount
        keyOrder = distribution.wantsOrderedKeys ? .ordered : .hashed
    }

    public static let names = ["a", "b", "c", "d", "e", "f", "fillseq", "fillrandom", "readrandom",
                               "hotspot", "moving-hotspot", "timeseries", "bulkload"]

    /// A named workload. YCSB's core workloads keep YCSB's definitions (zipfian 0.99 scrambled,
    /// latest for D, uniform scan lengths up to 100 for E).
    public static func preset(_ rawName: String, recordCount: UInt64 = 100_000) throws(WorkloadError) -> WorkloadSpec {
        let name = rawName.lowercased().replacingOccurrences(of: "ycsb-", with: "").replacingOccurrences(of: "workload", with: "")
        let z = KeyDistribution.zipfian(theta: ZipfianGenerator.ycsbConstant)
        switch name {
        case "a": return WorkloadSpec(name: "ycsb-a", summary: "YCSB A: update heavy", mix: .init(read: 0.5, update: 0.5), distribution: z, recordCount: recordCount)
        case "b": return WorkloadSpec(name: "ycsb-b", summary: "YCSB B: read mostly", mix: .init(read: 0.95, update: 0.05), distribution: z, recordCount: recordCount)
        case "c": return WorkloadSpec(name: "ycsb-c", summary: "YCSB C: read only", mix: .init(read: 1), distribution: z, recordCount: recordCount)
        case "d": return WorkloadSpec(name: "ycsb-d", summary: "YCSB D: read latest", mix: .init(read: 0.95, insert: 0.05),
                                      distribution: .latest(theta: ZipfianGenerator.ycsbConstant), recordCount: recordCount)
        case "e": return WorkloadSpec(name: "ycsb-e", summary: "YCSB E: short ranges", mix: .init(insert: 0.05, scan: 0.95), distribution: z, recordCount: recordCount)
        case "f": return WorkloadSpec(name: "ycsb-f", summary: "YCSB F: read-modify-write", mix: .init(read: 0.5, readModifyWrite: 0.5), distribution: z, recordCount: recordCount)
        case "fillseq":
            var s = WorkloadSpec(name: "fillseq", summary: "puts of sequential keys into an empty store", mix: .init(insert: 1),
                                 distribution: .sequential, recordCount: 0, keySpace: recordCount)
            s.keyOrder = .ordered
            return s
        case "fillrandom":
            return WorkloadSpec(name: "fillrandom", summary: "puts of uniformly random keys into an empty store", mix: .init(update: 1),
                                distribution: .uniform, recordCount: 0, keySpace: recordCount)
        case "readrandom":
            return WorkloadSpec(name: "readrandom", summary: "gets of uniformly random loaded keys", mix: .init(read: 1),
                                distribution: .uniform, recordCount: recordCount)
        case "hotspot":
            return WorkloadSpec(name: "hotspot", summary: "50/50 read/update on a fixed hot range", mix: .init(read: 0.5, update: 0.5),
                                distribution: .hotspot(hotKeys: 0.1, hotOps: 0.9), recordCount: recordCount)
        case "moving-hotspot":
            return WorkloadSpec(name: "moving-hotspot", summary: "50/50 read/update on a drifting hot range", mix: .init(read: 0.5, update: 0.5),
                                distribution: .movingHotspot(hotKeys: 0.1, hotOps: 0.9, speed: 0.01), recordCount: recordCount)
        case "timeseries":
            var s = WorkloadSpec(name: "timeseries", summary: "appends to 100 series keyed series‖timestamp, scans of recent points",
                                 kind: .timeSeries(series: 100), mix: .init(insert: 0.95, scan: 0.05), distribution: .uniform,
                                 recordCount: 0, keySpace: recordCount)
            s.keyOrder = .ordered
            return s
        case "bulkload":
            var s = WorkloadSpec(name: "bulkload", summary: "batches of 1000 sequential puts", kind: .bulkLoad(batchSize: 1000),
                                 mix: .init(insert: 1), distribution: .sequential, recordCount: 0, keySpace: recordCount)
            s.keyOrder = .ordered
            return s
        default:
            throw .unknownWorkload(rawName, valid: names)
        }
    }

    public func validate() throws(WorkloadError) {
        func bad(_ n: String, _ v: String, _ r: String) -> WorkloadError { .invalidOption(name: n, value: v, reason: r) }
        if keySize < 8 || keySize > 4096 { throw bad("key-size", String(keySize), "must be in 8...4096 bytes (keys hold a 64-bit key number)") }
        if case .timeSeries = kind, keySize < 12 { throw bad("key-size", String(keySize), "time-series keys need at least 12 bytes (series ‖ timestamp)") }
        if valueSize < 0 || valueSize > 16 << 20 { throw bad("value-size", String(valueSize), "must be in 0...16777216 bytes") }
        if keySpace == 0 { throw bad("records", "0", "the key space must hold at least one key") }
        if Swift.max(keySpace, recordCount) > UInt64(WorkloadLimits.maxRecords) { throw bad("records", String(Swift.max(keySpace, recordCount)), "must be in 1...\(WorkloadLimits.maxRecords)") }
        if maxScanLength < 1 || maxScanLength > WorkloadLimits.maxScanLength {
            throw bad("max-scan-length", String(maxScanLength), "must be in 1...\(WorkloadLimits.maxScanLength)")
        }
        if mix.total <= 0 || mix.weights.contains(where: { $0.1 < 0 || !$0.1.isFinite }) {
            throw bad("mix", mix.summary, "proportions must be non-negative with a positive sum")
        }
        switch distribution {
        case .zipfian(let t), .latest(let t):
            if !(t > 0 && t < 1) { throw bad("zipfian-constant", formatNumber(t), "must be in (0, 1)") }
        case .hotspot(let k, let o), .movingHotspot(let k, let o, _):
            if !(k > 0 && k <= 1) { throw bad("hot-keys", formatNumber(k), "must be a fraction in (0, 1]") }
            if !(o >= 0 && o <= 1) { throw bad("hot-ops", formatNumber(o), "must be a fraction in [0, 1]") }
            if case .movingHotspot(_, _, let s) = distribution, !(s >= 0 && s <= WorkloadLimits.maxHotSpeed) {
                throw bad("hot-speed", formatNumber(s), "must be in 0...\(formatNumber(WorkloadLimits.maxHotSpeed)) key-space fractions per second")
            }
        default: break
        }
        if case .bulkLoad(let b) = kind, b < 1 || b > WorkloadLimits.maxBatchSize {
            throw bad("batch-size", String(b), "must be in 1...\(WorkloadLimits.maxBatchSize)")
        }
        if case .timeSeries(let s) = kind, s < 1 || s > WorkloadLimits.maxSeries {
            throw bad("series", String(s), "must be in 1...\(WorkloadLimits.maxSeries)")
        }
    }

    public var distributionSummary: String {
        if case .timeSeries(let s) = kind { return "\(s) series, uniform" }
        return distribution.summary
    }

    /// The key for key number `keynum`: 8 bytes big-endian (of the FNV hash for hashed keys),
    /// zero-padded to `keySize`.
    @inline(__always)
    public func key(_ keynum: UInt64) -> [UInt8] {
        encodeKey(keyValue(keynum), series: nil)
    }

    @inline(__always)
    func keyValue(_ keynum: UInt64) -> UInt64 { keyOrder == .hashed ? fnvHash64(keynum) : keynum }

    @inline(__always)
    func encodeKey(_ v: UInt64, series: UInt32?) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: keySize) { buf, n in
            Self.write(v, series: series, size: keySize, into: buf)
            n = keySize
        }
    }

    /// `encodeKey` into `key`, reusing its storage when nothing else holds it (copy on write
    /// otherwise: a caller that kept an earlier key keeps its bytes).
    @inline(__always)
    func encodeKey(_ v: UInt64, series: UInt32?, into key: inout [UInt8]) {
        if key.count != keySize { key = [UInt8](repeating: 0, count: keySize) }
        let size = keySize
        key.withUnsafeMutableBufferPointer { Self.write(v, series: series, size: size, into: $0) }
    }

    @inline(__always)
    private static func write(_ v: UInt64, series: UInt32?, size: Int, into buf: UnsafeMutableBufferPointer<UInt8>) {
        var i = 0
        if let series {
            for s in stride(from: 24, through: 0, by: -8) { buf[i] = UInt8(truncatingIfNeeded: series >> UInt32(s)); i += 1 }
        }
        for s in stride(from: 56, through: 0, by: -8) { buf[i] = UInt8(truncatingIfNeeded: v >> UInt64(s)); i += 1 }
        while i < size { buf[i] = 0; i += 1 }
    }

    /// Keys that divide this workload's key space into `partitions` equal ranges (for a static
    /// pre-split).
    public func splitKeys(partitions: Int) -> [[UInt8]] {
        guard partitions > 1 else { return [] }
        return (1..<partitions).map { i in
            switch kind {
            case .timeSeries(let series):
                return encodeKey(0, series: UInt32(series * i / partitions))
            default:
                if keyOrder == .hashed {
                    // fnvHash64 values lie in 0...2^63.
                    return encodeKey((UInt64(1) << 63) / UInt64(partitions) * UInt64(i), series: nil)
                }
                let span = Swift.max(keySpace, recordCount)
                return encodeKey(span * UInt64(i) / UInt64(partitions), series: nil)
            }
        }
    }
}

/// State shared by all runner threads of one run: insert key numbers and the latest
/// acknowledged insert (YCSB's acknowledged counter, approximated by the highest key number
/// whose insert completed).
public final class WorkloadSharedState: Sendable {
    let nextInsert: Atomic<UInt64>
    let insertedCount: Atomic<UInt64>
    let sequentialCursor = Atomic<UInt64>(0)

    public init(spec: WorkloadSpec) {
        nextInsert = Atomic(spec.recordCount)
        insertedCount = Atomic(spec.recordCount)
    }

    /// Records present now (loaded plus acknowledged inserts).
    public var recordsPresent: UInt64 { insertedCount.load(ordering: .relaxed) }

    func acknowledge(_ keynum: UInt64) {
        var current = insertedCount.load(ordering: .relaxed)
        while keynum + 1 > current {
            let (exchanged, original) = insertedCount.compareExchange(expected: current, desired: keynum + 1, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

/// One operation to perform.
public struct Request: Sendable {
    public var kind: OperationKind
    public var key: [UInt8]
    /// The key number (insert acknowledgement, tests); 0 for time-series keys.
    public var keynum: UInt64
    public var value: [UInt8]
    public var scanLength: Int
    public var batch: [BatchOperation]
}

/// Produces one thread's requests. Not thread-safe: each runner thread owns one.
public struct RequestGenerator: Sendable {
    public let spec: WorkloadSpec
    let shared: WorkloadSharedState
    public var rng: WorkloadRandom
    let threadIndex: Int
    private var cumulative: [(OperationKind, Double)] = []
    private var scrambled: ScrambledZipfianGenerator?
    private var latest: SkewedLatestGenerator?
    private var hotspot: HotspotGenerator?
    private var moving: MovingHotspotGenerator?
    private let valuePool: [UInt8]
    /// The storage of the last request's key and value, rewritten in place by the next one when
    /// the caller has let that request go (the runner has; a caller that keeps requests gets
    /// fresh arrays by copy on write). Every engine's latency includes the harness's time, so a
    /// malloc and free of two arrays per operation compressed the ratios between engines.
    private var keyScratch: [UInt8] = []
    private var valueScratch: [UInt8] = []

    public init(spec: WorkloadSpec, shared: WorkloadSharedState, seed: UInt64, threadIndex: Int) {
        self.spec = spec
        self.shared = shared
        self.threadIndex = threadIndex
        rng = WorkloadRandom(seed: seed, stream: UInt64(threadIndex) + 1)
        var acc = 0.0
        let total = spec.mix.total
        for (k, w) in spec.mix.weights where w > 0 {
            acc += w / total
            cumulative.append((k, acc))
        }
        switch spec.distribution {
        case .zipfian(let t): scrambled = ScrambledZipfianGenerator(count: spec.keySpace, theta: t)
        case .latest(let t): latest = SkewedLatestGenerator(initialCount: spec.recordCount, theta: t)
        case .hotspot(let k, let o): hotspot = HotspotGenerator(count: spec.keySpace, hotKeys: k, hotOps: o)
        case .movingHotspot(let k, let o, let s): moving = MovingHotspotGenerator(count: spec.keySpace, hotKeys: k, hotOps: o, speed: s)
        case .uniform, .sequential: break
        }
        var poolRNG = WorkloadRandom(seed: seed ^ 0x5EED, stream: UInt64(threadIndex) + 1000)
        valuePool = (0..<(64 << 10) + spec.valueSize).map { _ in UInt8(truncatingIfNeeded: poolRNG.next() % 95 + 32) }
    }

    /// The next operation type from the mix.
    @inline(__always)
    public mutating func nextKind() -> OperationKind {
        let u = rng.nextDouble()
        for (k, c) in cumulative where u < c { return k }
        return cumulative.last!.0
    }

    /// A key number for a read/update/scan start, per the request distribution.
    @inline(__always)
    public mutating func nextKeynum(atSeconds seconds: Double) -> UInt64 {
        switch spec.distribution {
        case .uniform: return rng.nextInt(below: spec.keySpace)
        case .zipfian: return scrambled!.next(using: &rng)
        case .latest: return latest!.next(count: shared.recordsPresent, using: &rng)
        case .hotspot: return hotspot!.next(using: &rng)
        case .movingHotspot: return moving!.next(atSeconds: seconds, using: &rng)
        case .sequential: return shared.sequentialCursor.wrappingAdd(1, ordering: .relaxed).oldValue % spec.keySpace
        }
    }

    /// Where the next value starts in the pool (one draw of the generator per value).
    @inline(__always)
    private mutating func nextValueOffset() -> Int {
        Int(rng.nextInt(below: UInt64(valuePool.count - spec.valueSize + 1)))
    }

    @inline(__always)
    mutating func value() -> [UInt8] {
        let off = nextValueOffset()
        return Array(valuePool[off..<off + spec.valueSize])
    }

    /// `value()` in the reused value storage.
    @inline(__always)
    private mutating func scratchValue() -> [UInt8] {
        let size = spec.valueSize
        let off = nextValueOffset()
        if valueScratch.count != size { valueScratch = [UInt8](repeating: 0, count: size) }
        valuePool.withUnsafeBytes { pool in
            valueScratch.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: pool[off..<off + size])) }
        }
        return valueScratch
    }

    /// `spec.key(keynum)` in the reused key storage.
    @inline(__always)
    private mutating func scratchKey(_ keynum: UInt64) -> [UInt8] {
        spec.encodeKey(spec.keyValue(keynum), series: nil, into: &keyScratch)
        return keyScratch
    }

    @inline(__always)
    private mutating func scratchKey(_ v: UInt64, series: UInt32) -> [UInt8] {
        spec.encodeKey(v, series: series, into: &keyScratch)
        return keyScratch
    }

    /// The next request; `seconds` is the intended start time from the start of the run
    /// (moving hotspots and time-series timestamps depend on it).
    public mutating func next(atSeconds seconds: Double) -> Request {
        switch spec.kind {
        case .bulkLoad(let size):
            let first = shared.nextInsert.wrappingAdd(UInt64(size), ordering: .relaxed).oldValue
            let ops = (0..<UInt64(size)).map { i in BatchOperation.put(key: spec.key(first + i), value: value()) }
            return Request(kind: .batch, key: spec.key(first), keynum: first, value: [], scanLength: 0, batch: ops)
        case .timeSeries(let series):
            let kind = nextKind()
            let s = UInt32(rng.nextInt(below: UInt64(series)))
            let ns = UInt64(Swift.max(0, seconds) * 1e9)
            if kind == .scan {
                let from = ns > 1_000_000_000 ? ns - 1_000_000_000 : 0
                return Request(kind: .scan, key: scratchKey(from << 4, series: s), keynum: 0, value: [],
                               scanLength: Int(rng.nextInt(below: UInt64(spec.maxScanLength))) + 1, batch: [])
            }
            let ts = ns << 4 | UInt64(threadIndex & 15)
            return Request(kind: kind == .read ? .read : .insert, key: scratchKey(ts, series: s), keynum: 0,
                           value: kind == .read ? [] : scratchValue(), scanLength: 0, batch: [])
        case .mixed:
            let kind = nextKind()
            switch kind {
            case .insert:
                let k = shared.nextInsert.wrappingAdd(1, ordering: .relaxed).oldValue
                return Request(kind: .insert, key: scratchKey(k), keynum: k, value: scratchValue(), scanLength: 0, batch: [])
            case .scan:
                let k = nextKeynum(atSeconds: seconds)
                return Request(kind: .scan, key: scratchKey(k), keynum: k, value: [],
                               scanLength: Int(rng.nextInt(below: UInt64(spec.maxScanLength))) + 1, batch: [])
            case .read, .delete:
                let k = nextKeynum(atSeconds: seconds)
                return Request(kind: kind, key: scratchKey(k), keynum: k, value: [], scanLength: 0, batch: [])
            case .update, .readModifyWrite, .batch:
                let k = nextKeynum(atSeconds: seconds)
                return Request(kind: kind, key: scratchKey(k), keynum: k, value: scratchValue(), scanLength: 0, batch: [])
            }
        }
    }

    /// Marks an insert as done (the "latest" distribution reads up to the newest one).
    public func acknowledgeInsert(_ keynum: UInt64) { shared.acknowledge(keynum) }
}
