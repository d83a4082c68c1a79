// Secondary indexes: public types, the per-index descriptor, and the index scan.
//
// A secondary index is *local*: every partition keeps the entries of its own records (entry key
// = IndexKey.entry(indexKey, primaryKey), empty value) in index memtables and index runs beside
// its base data. Entries are written in the same WAL frame as the base write (so a crash keeps
// both or neither), frozen and flushed with the base memtable under one flush mark, carried and
// re-cut by reshards, and built for existing data by `IndexBuild.swift`. A scan merges the
// partitions' local parts in index-key order.
import AugurPlanner
import Dispatch
import Synchronization

/// Maps a record's value to its index key, or nil when the record has none. It must be a pure
/// function of the value: the engine calls it on writes (old and new value) and in builds.
public typealias IndexKeyExtractor = @Sendable (_ value: [UInt8]) throws -> [UInt8]?

/// Build state of one index in one partition.
public enum IndexBuildState: String, Sendable, Equatable, Codable {
    /// Waiting for a worker (or for its extractor to be attached after a reopen).
    case pending
    case building
    case ready
    case failed
}

/// One partition's part of an index build.
public struct IndexPartitionStatus: Sendable, Equatable, Codable {
    public var index: String
    public var partition: UInt64
    public var state: IndexBuildState
    /// Base records read so far by the build and in the partition's runs at its start.
    public var recordsScanned: Int
    public var recordsTotal: Int
    /// Fraction done, 0…1 (1 when ready).
    public var progress: Double
    /// Worker that built it (-1: none yet) and its NUMA node (-1: unknown).
    public var worker: Int
    public var node: Int
    public var error: String?
}

/// An index's build, as `SecondaryIndex.status()` reports it.
public struct IndexStatus: Sendable, Equatable {
    public var table: String
    public var index: String
    public var isReady: Bool
    public var partitions: [IndexPartitionStatus]
    /// Engine-clock nanoseconds of the current (or last) build's start and end.
    public var buildStartedAt: UInt64?
    public var buildFinishedAt: UInt64?
    /// Base records read per second by the last build (0 before any).
    public var recordsPerSecond: Double
    public var error: AugurError?
}

/// One index entry returned by a scan: the index key, the record's key and its value.
public struct IndexEntry: Sendable, Equatable {
    public var indexKey: [UInt8]
    public var primaryKey: [UInt8]
    public var value: [UInt8]
    public init(indexKey: [UInt8], primaryKey: [UInt8], value: [UInt8]) {
        self.indexKey = indexKey
        self.primaryKey = primaryKey
        self.value = value
    }
}

/// What the engine knows of an index at run time. Thread-safe.
final class IndexDescriptor: Sendable {
    let id: UInt32
    let name: String
    /// nil after a reopen until the application attaches the extractor again.
    let extractor: Mutex<IndexKeyExtractor?>
    let statuses = Mutex<[UInt64: IndexPartitionStatus]>([:])
    let build = Mutex<IndexBuildRecord>(IndexBuildRecord())
    /// Signalled (and re-signalled) whenever a build round ends.
    let buildEnded = Mutex<[DispatchSemaphore]>([])
    /// Set by `dropSecondaryIndex` (under every partition's maintenance lock): builds stop and
    /// discard their work, handles throw `indexNotFound`.
    let dropped = Atomic<Bool>(false)

    init(id: UInt32, name: String, extractor: IndexKeyExtractor?) {
        self.id = id
        self.name = name
        self.extractor = Mutex(extractor)
    }

    var currentExtractor: IndexKeyExtractor? { extractor.withLock { $0 } }

    /// `p`'s part: the build's record, with the state the partition's manifest record implies.
    func status(of p: Partition, recorded: IndexPartitionStatus? = nil) -> IndexPartitionStatus {
        let ready = p.maintenanceLock.withLock { p.indexesReady.contains(id) }
        var s = recorded ?? statuses.withLock { $0[p.id] }
            ?? IndexPartitionStatus(index: name, partition: p.id, state: .pending, recordsScanned: 0, recordsTotal: 0,
                                    progress: 0, worker: -1, node: -1, error: nil)
        if ready {
            s.state = .ready
            s.progress = 1
        } else if s.state == .ready {
            s.state = .pending        // a reshard target whose sources were not all built
        }
        return s
    }

    func setStatus(_ partition: UInt64, _ body: (inout IndexPartitionStatus) -> Void) {
        statuses.withLock { s in
            var st = s[partition] ?? IndexPartitionStatus(index: name, partition: partition, state: .pending, recordsScanned: 0,
                                                          recordsTotal: 0, progress: 0, worker: -1, node: -1, error: nil)
            body(&st)
            s[partition] = st
        }
    }
}

/// The current or last build of an index.
struct IndexBuildRecord {
    var running = false
    var startedAt: UInt64? = nil
    var finishedAt: UInt64? = nil
    var recordsScanned = 0
    var error: AugurError? = nil
}

/// A handle on a table's secondary index. Thread-safe.
public final class SecondaryIndex: Sendable {
    public let name: String
    public let table: Table
    let descriptor: IndexDescriptor

    init(table: Table, descriptor: IndexDescriptor) {
        name = descriptor.name
        self.table = table
        self.descriptor = descriptor
    }

    /// Entries whose index key lies in `range`, in index-key order (partition-key order among
    /// equal index keys: primary-key order in a `.range` table), with each record's current value; at most `limit`. Throws
    /// `indexNotReady` while a partition's part is still being built.
    public func scan(range: KeyRange = .all, limit: Int? = nil) throws(AugurError) -> [IndexEntry] {
        try table.engine.indexScan(table, descriptor, range: range, limit: limit)
    }

    /// The entries as stored, without checking them against the records: (index key, primary
    /// key) with an empty value. For tests and diagnostics: an exact index stores exactly the
    /// entries a recomputation from the table gives.
    @_spi(Testing)
    public func storedEntries() throws(AugurError) -> [IndexEntry] {
        try table.engine.indexScan(table, descriptor, range: .all, limit: nil, validate: false)
    }

    /// The build state of every partition.
    public func status() throws(AugurError) -> IndexStatus {
        try checkUsable()
        return Engine.indexStatus(table, descriptor)
    }

    /// Throws when the table or this index was dropped.
    func checkUsable() throws(AugurError) {
        try table.checkUsable()
        if descriptor.dropped.load(ordering: .acquiring) { throw .indexNotFound(table: table.name, index: name) }
    }

    /// Blocks until every partition's part is ready; throws the build's error if it failed.
    public func waitUntilReady() throws(AugurError) {
        try table.engine.indexes.waitForIndex(table, descriptor)
    }
}

extension Table {
    /// Creates a secondary index named `name` whose key for each record is `key(value)`, and
    /// starts building it for the records already stored. Writes go on during the build and
    /// maintain the index from the moment this returns; `scan` works once `waitUntilReady()`
    /// returns. The extractor is not stored: after reopening, call `attachSecondaryIndex`.
    @discardableResult
    public func createSecondaryIndex(name: String, key: @escaping IndexKeyExtractor) throws(AugurError) -> SecondaryIndex {
        try engine.indexes.createIndex(self, name: name, extractor: key)
    }

    /// Gives a reopened store the extractor of an existing index (writes to the table fail
    /// with `indexNotAttached` until every index has one) and resumes its build if a crash
    /// interrupted it.
    @discardableResult
    public func attachSecondaryIndex(name: String, key: @escaping IndexKeyExtractor) throws(AugurError) -> SecondaryIndex {
        try engine.indexes.attachIndex(self, name: name, extractor: key)
    }

    /// Drops the secondary index called `name`: its entries and files go, writes stop
    /// maintaining it, a build of it stops, and handles on it throw `indexNotFound`. Durable
    /// when this returns; the name can be used for a new index at once. Writers pause only
    /// while the index's memtables are detached from each partition (no I/O then).
    public func dropSecondaryIndex(name: String) throws(AugurError) {
        try engine.indexes.dropIndex(self, name: name)
    }

    /// The index called `name`.
    public func index(named name: String) throws(AugurError) -> SecondaryIndex {
        try checkUsable()
        guard let d = indexDescriptors.withLock({ $0.first { $0.name == name } }) else {
            throw .indexNotFound(table: self.name, index: name)
        }
        return SecondaryIndex(table: self, descriptor: d)
    }

    /// Each partition's largest segment data region, in key order (tests of NUMA placement).
    @_spi(Testing)
    public func segmentDataRegions() -> [UnsafeRawBufferPointer?] {
        map.partitions.map { p in
            p.view.runs.max { $0.dataLength < $1.dataLength }.map { UnsafeRawBufferPointer(start: $0.data, count: $0.dataLength) }
        }
    }

    /// Names of the table's secondary indexes, sorted.
    public var secondaryIndexNames: [String] { indexDescriptors.withLock { $0.map(\.name).sorted() } }
}

extension Engine {
    func indexScan(_ table: Table, _ d: IndexDescriptor, range: KeyRange, limit: Int?,
                   validate: Bool = true) throws(AugurError) -> [IndexEntry] {
        try table.checkUsable()
        if d.dropped.load(ordering: .acquiring) { throw .indexNotFound(table: table.name, index: d.name) }
        if let limit, limit < 0 { throw .invalidOption(name: "limit", value: String(limit), reason: "must not be negative") }
        let limit = limit ?? Int.max
        if limit == 0 { return [] }
        if let lo = range.lowerBound, let hi = range.upperBound, compareKeys(lo, hi) >= 0 { return [] }
        let partitions = table.map.partitions
        let notReady = partitions.filter { p in p.maintenanceLock.withLock { !p.indexesReady.contains(d.id) } }
        if !notReady.isEmpty {
            throw .indexNotReady(table: table.name, index: d.name, partitionsReady: partitions.count - notReady.count,
                                 partitions: partitions.count)
        }
        let extractor = d.currentExtractor
        let start = range.lowerBound.map(IndexKey.escaped)
        let end = range.upperBound.map(IndexKey.escaped)
        // One merged cursor per partition over its local part, then a merge across partitions.
        var cursors: [(partition: Partition, view: PartitionView, cursor: MergedCursor)] = []
        for p in partitions {
            let view = p.view
            var c = MergedCursor(sources: view.indexSources(d.id))
            c.position(start: start, end: nil)
            cursors.append((p, view, c))
        }
        func skipForeign(_ i: Int) {
            // Carried layers of a reshard hold neighbours' entries; tombstones hide nothing here.
            while cursors[i].cursor.isValid
                    && (cursors[i].cursor.kind != .put || !cursors[i].partition.containsPrimaryKey(ofEntry: cursors[i].cursor.key)) {
                cursors[i].cursor.advance()
            }
        }
        for i in cursors.indices { skipForeign(i) }
        var out: [IndexEntry] = []
        while out.count < limit {
            var best = -1
            for i in cursors.indices where cursors[i].cursor.isValid {
                if best < 0 || compareKeys(cursors[i].cursor.key, cursors[best].cursor.key) < 0 { best = i }
            }
            if best < 0 { break }
            let key = cursors[best].cursor.key
            if let end, end.withUnsafeBytes({ compareKeys(key, $0) }) >= 0 { break }
            guard let (indexKey, pk) = IndexKey.decode(key) else {
                throw .corruption(file: "index \(d.name) of partition \(cursors[best].partition.id)", offset: 0,
                                  reason: "malformed index entry")
            }
            // The record's current value. A writer racing this scan may have changed it since the
            // entry was read; an entry that no longer matches its record is skipped.
            let current = pk.withUnsafeBytes { table.map.partition(for: $0) }
            if !validate {
                out.append(IndexEntry(indexKey: indexKey, primaryKey: table.layout.userKey(pk), value: []))
            } else if let value = pk.withUnsafeBytes({ lookupValue(current, $0) }) {
                let matches: Bool
                if let extractor { matches = ((try? extractor(value)) ?? nil) == indexKey } else { matches = true }
                if matches { out.append(IndexEntry(indexKey: indexKey, primaryKey: table.layout.userKey(pk), value: value)) }
            }
            cursors[best].cursor.advance()
            skipForeign(best)
        }
        return out
    }

    static func indexStatus(_ table: Table, _ d: IndexDescriptor) -> IndexStatus {
        let partitions = table.map.partitions
        let statuses = d.statuses.withLock { $0 }
        var parts: [IndexPartitionStatus] = []
        for p in partitions { parts.append(d.status(of: p, recorded: statuses[p.id])) }
        let b = d.build.withLock { $0 }
        var rate = 0.0
        if let s = b.startedAt, let f = b.finishedAt, f > s { rate = Double(b.recordsScanned) / (Double(f - s) / 1e9) }
        return IndexStatus(table: table.name, index: d.name, isReady: parts.allSatisfy { $0.state == .ready }, partitions: parts,
                           buildStartedAt: b.startedAt, buildFinishedAt: b.finishedAt, recordsPerSecond: rate, error: b.error)
    }
}
