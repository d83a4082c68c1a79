import AugurPlanner
import AugurSys
import Synchronization

/// A key/value pair returned by scans.
public struct KeyValue: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    public init(key: [UInt8], value: [UInt8]) {
        self.key = key
        self.value = value
    }
}

/// One partition as the engine reports it.
public struct PartitionStats: Sendable, Equatable {
    public var id: UInt64
    /// Inclusive lower bound (empty = start of the key space).
    public var lowerBound: [UInt8]
    /// Exclusive upper bound (nil = end of the key space).
    public var upperBound: [UInt8]?
    /// Bytes of its runs plus memtable arena bytes (of a segment file shared with other
    /// partitions after a reshard, only this partition's slice of it counts).
    public var bytes: Int
    /// Records in segments plus keys in memtables (a key overwritten across runs counts once per run).
    public var records: Int
    /// Runs (sorted segment views) the partition reads.
    public var segmentCount: Int
    /// Names of the segment files it reads, its secondary indexes' parts included (several
    /// runs may view one file; a file may be shared with other partitions).
    public var segmentFiles: [String] = []
    public var memtableBytes: Int
    /// Segment files of the secondary indexes' local parts, and their bytes (not in `bytes`).
    public var indexSegmentCount: Int = 0
    public var indexBytes: Int = 0
    /// Bytes of record data its runs view (data regions only; of a shared file, the slice it
    /// views): what a reshard of it copies or shares once its memtables are flushed, the
    /// `ReshardSource.viewedBytes` of `ReshardCostModel`.
    public var viewedBytes: Int = 0
}

/// A named table: an ordered map from byte-string keys to byte-string values, split into
/// key-range partitions.
///
/// Thread-safety: `Sendable`; every method may be called from many threads at once. A handle
/// stays usable until its table is dropped or the engine closes (then calls throw).
public final class Table: Sendable {
    public let name: String
    let id: UInt32
    let engine: Engine
    private let _map: Mutex<PartitionMap>
    /// `_map` for point reads (read inside a `ReadEpochs` section); replaced under `_map`'s lock.
    let readMap: PublishedReference<PartitionMap>
    let dropped = Atomic<Bool>(false)
    /// Secondary indexes (see SecondaryIndex.swift). Writers read `hasIndexes` under their
    /// partition gates: an index becomes visible before its build freezes any partition.
    let indexDescriptors = Mutex<[IndexDescriptor]>([])
    let hasIndexes = Atomic<Bool>(false)
    /// Writes to an indexed table read the old value before writing the new one; writers of the
    /// same key are serialised by these stripes (by key hash) so the index never keeps the
    /// entry of a value that was overwritten concurrently.
    let indexWriteStripes: [PThreadMutex] = (0..<64).map { _ in PThreadMutex() }

    /// Key samples and scan lengths for the strategy advisor (TableWorkloadSampler.swift).
    let sampler = TableWorkloadSampler()
    /// Held by a strategy change and by a bulk ingest from start to end: each encodes keys in
    /// the table's layout long before they are visible, so the two must not overlap.
    let rewriteLock = PThreadMutex()
    /// How long each write to the table waits before it commits (nanoseconds; 0 almost always):
    /// set by a strategy change whose catch-up is not gaining on the writers, so that it ends
    /// with a short pause instead of never (StrategyChange.swift).
    let writeDelayNanos = Atomic<Int>(0)

    /// How user keys become the partition keys the engine stores (KeyLayout.swift): the current
    /// map's. An operation that encodes a key reads it from the map it then routes through.
    var layout: KeyLayout { map.layout }

    /// How the table places its keys on partitions: chosen at `createTable`, changed by
    /// `changeStrategy(to:)`.
    public var strategy: PartitioningStrategy { layout.strategy }

    init(name: String, id: UInt32, engine: Engine, map: PartitionMap) {
        self.name = name
        self.id = id
        self.engine = engine
        _map = Mutex(map)
        readMap = PublishedReference(map)
    }

    /// Writes one key: encoded in the current map's layout, committed through that map, and
    /// encoded again should a strategy change commit in between. A dropped table or closed
    /// engine is reported before anything about the key, as in a `.range` table.
    @inline(__always)
    func writeOne(_ kind: RecordKind, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(AugurError) {
        let delay = writeDelayNanos.load(ordering: .relaxed)
        if delay > 0 { ThreadPause.sleep(nanoseconds: delay) }
        while true {
            let m = map
            if m.layout.isIdentity {
                if try engine.writeOne(self, kind, key, value, map: m) { return }
                continue
            }
            try checkUsable()
            if try m.layout.withPartitionKey(key, maxKeySize: engine.maxKeySize, { pk throws(AugurError) in
                try engine.writeOne(self, kind, pk, value, map: m)
            }) { return }
        }
    }

    /// The current partition map (an immutable snapshot).
    var map: PartitionMap { _map.withLock { $0 } }

    func swapMap(_ body: (PartitionMap) -> PartitionMap) {
        _map.withLock {
            $0 = body($0)
            readMap.replace(with: $0)
        }
    }

    @inline(__always)
    func checkUsable() throws(AugurError) {
        if engine.isClosed { throw .engineClosed }
        if dropped.load(ordering: .acquiring) { throw .tableNotFound(name) }
    }

    /// Stores `value` under `key`, replacing any previous value.
    public func put(_ key: [UInt8], _ value: [UInt8]) throws(AugurError) {
        try key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                Result { () throws(AugurError) in
                    try writeOne(.put, k, v)
                    sampler.sampleWrite(k)
                }
            }
        }.get()
    }

    /// Removes `key` (a no-op when absent).
    public func delete(_ key: [UInt8]) throws(AugurError) {
        try key.withUnsafeBytes { k in
            Result { () throws(AugurError) in
                try writeOne(.delete, k, UnsafeRawBufferPointer(start: nil, count: 0))
                sampler.sampleWrite(k)
            }
        }.get()
    }

    /// The value stored under `key`, or nil.
    public func get(_ key: [UInt8]) throws(AugurError) -> [UInt8]? {
        try key.withUnsafeBytes { k in
            Result { () throws(AugurError) in try engine.read(self, k) }
        }.get()
    }

    /// Calls `body` with the value stored under `key` (nil when there is none) without copying
    /// it: the bytes are the engine's own — in a memtable or a mapped segment — and are valid
    /// only until `body` returns (copy what must outlive it). Reclamation of replaced memtables
    /// and segments waits while any such body runs, so keep it short and never call back into
    /// a write from it.
    @inlinable
    public func withValue<R>(_ key: [UInt8], _ body: (UnsafeRawBufferPointer?) -> R) throws(AugurError) -> R {
        // Generic only here, inlined into the caller: the engine's side is one non-generic
        // call (a generic one, unspecialised across the module boundary, measured slower than
        // `get`'s copy).
        var result: R? = nil
        try withValueInPlace(key) { result = body($0) }
        return result!
    }

    @usableFromInline
    func withValueInPlace(_ key: [UInt8], _ body: (UnsafeRawBufferPointer?) -> Void) throws(AugurError) {
        try key.withUnsafeBytes { k in
            Result { () throws(AugurError) in try engine.withValue(self, k, body) }
        }.get()
    }

    /// Records in `range` in key order (descending when `reverse`), at most `limit` of them.
    public func scan(range: KeyRange = .all, limit: Int? = nil, reverse: Bool = false) throws(AugurError) -> [KeyValue] {
        // One map for the whole scan: its partitions hold keys in its layout.
        let m = map
        let rows = m.layout.isIdentity ? try engine.scan(self, m, range: range, limit: limit, reverse: reverse)
                                       : try engine.bucketScan(self, m, range: range, limit: limit, reverse: reverse)
        sampler.sampleScan(rows)
        return rows
    }

    /// Records whose partition keys lie in `range`, in partition-key order, keys as stored: for
    /// checks that compare records with partition bounds (the crash harness).
    @_spi(Testing)
    public func scanPartitionKeys(range: KeyRange) throws(AugurError) -> [KeyValue] {
        try engine.scan(self, map, range: range, limit: nil, reverse: false)
    }

    /// The key the engine stores `key` under, routes it by and cuts partitions at: `key` itself
    /// in a `.range` table; with the bucket in a `.hash` or `.composite` one (KeyLayout.swift).
    /// `PartitionStats` bounds, `splitPartition(at:)` and `ReshardPlan` keys are partition keys.
    public func partitionKey(for key: [UInt8]) throws(AugurError) -> [UInt8] {
        try layout.partitionKey(key, maxKeySize: engine.maxKeySize)
    }

    /// Splits the partition holding `key` into `[lo, key)` and `[key, hi)` and waits for it.
    /// `key` is a partition key (`partitionKey(for:)`; the same as the user key in a `.range`
    /// table).
    /// Reads and writes continue during the copy; writers to that partition pause only for
    /// the cutover.
    public func splitPartition(at key: [UInt8]) throws(AugurError) {
        try engine.reshards.requestResharding(self, .split(at: key)).wait()
    }

    /// Starts a reshard (split, N-way split, merge, boundary move) and returns its job; the
    /// plan is checked against the current partitions before it is queued.
    public func requestResharding(_ plan: ReshardPlan) throws(AugurError) -> ReshardJob {
        try engine.reshards.requestResharding(self, plan)
    }

    /// Per-partition statistics in key order.
    public func partitionStats() throws(AugurError) -> [PartitionStats] {
        try checkUsable()
        return map.partitions.map { p in
            let v = p.view
            let memBytes = v.memtableBytes, memRecords = v.memtableRecords
            var stats = PartitionStats(id: p.id, lowerBound: p.lowerBound, upperBound: p.upperBound,
                                  bytes: v.runs.reduce(0) { $0 + $1.storedBytes } + memBytes,
                                  records: v.runs.reduce(0) { $0 + $1.recordCount } + memRecords,
                                  segmentCount: v.runs.count,
                                  segmentFiles: v.runs.map(\.name) + v.indexRuns.values.flatMap { $0.map(\.name) },
                                  memtableBytes: memBytes,
                                  indexSegmentCount: v.indexRuns.values.reduce(0) { $0 + $1.count },
                                  indexBytes: v.indexRuns.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.fileSize } })
            stats.viewedBytes = v.runs.reduce(0) { $0 + $1.dataLength }
            return stats
        }
    }
}

extension Table {
    public func put(_ key: String, _ value: String) throws(AugurError) { try put(Array(key.utf8), Array(value.utf8)) }
    public func get(_ key: String) throws(AugurError) -> String? {
        try get(Array(key.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }
    public func delete(_ key: String) throws(AugurError) { try delete(Array(key.utf8)) }
}

/// Operations applied atomically across tables and partitions by `Engine.write(_:)`: after a
/// crash either all of them are present or none.
public struct WriteBatch: Sendable {
    struct Op: Sendable {
        let table: Table
        let kind: RecordKind
        /// The user key; the partition key once `Engine.write` has encoded it in `layout`.
        var key: [UInt8]
        let value: [UInt8]
        /// The layout `key` is encoded in (set by `Engine.write` from the table's map).
        var layout: KeyLayout = .range
    }
    var ops: [Op] = []

    public init() {}

    public var count: Int { ops.count }
    public var isEmpty: Bool { ops.isEmpty }

    public mutating func put(_ key: [UInt8], _ value: [UInt8], in table: Table) {
        ops.append(Op(table: table, kind: .put, key: key, value: value))
    }
    public mutating func delete(_ key: [UInt8], in table: Table) {
        ops.append(Op(table: table, kind: .delete, key: key, value: []))
    }
    public mutating func put(_ key: String, _ value: String, in table: Table) {
        put(Array(key.utf8), Array(value.utf8), in: table)
    }
    public mutating func delete(_ key: String, in table: Table) { delete(Array(key.utf8), in: table) }
}
