import AugurStats
import AugurSys
import Synchronization

/// An immutable memtable waiting to be flushed, with the sequence number up to which it holds
/// every write to its partition.
struct FrozenMemtable {
    let memtable: Memtable
    let upToSeq: UInt64
    /// The secondary indexes' memtables frozen with it (by index id): a layer is base data and
    /// index entries together, flushed in one manifest record under one flush mark.
    var indexes: [UInt32: Memtable] = [:]

    var isEmpty: Bool { memtable.isEmpty && indexes.values.allSatisfy(\.isEmpty) }
}

/// What a reader needs to read a partition at one moment: newest data first.
struct PartitionView {
    var memtable: Memtable
    var frozen: [FrozenMemtable]          // newest first
    var runs: [Segment]                   // newest first
    /// Active memtables of the secondary indexes' local parts (created on first use).
    var indexMemtables: [UInt32: Memtable] = [:]
    /// Runs of the secondary indexes' local parts, newest first.
    var indexRuns: [UInt32: [Segment]] = [:]

    /// Every layer of index `id`, newest first: active, frozen, runs.
    func indexSources(_ id: UInt32) -> [SourceCursor] {
        var s: [SourceCursor] = []
        if let m = indexMemtables[id] { s.append(.memtable(Memtable.Cursor(m))) }
        for f in frozen { if let m = f.indexes[id] { s.append(.memtable(Memtable.Cursor(m))) } }
        for r in indexRuns[id] ?? [] { s.append(.segment(Segment.Cursor(r))) }
        return s
    }

    /// Bytes of the active memtable with its index layers: what a write's flush check and the
    /// flush lane's freeze compare with the flush size.
    var activeBytes: Int { memtable.approximateBytes + indexMemtables.values.reduce(0) { $0 + $1.approximateBytes } }

    /// Bytes of the table's own memtables, active and frozen (index layers not counted).
    var memtableBytes: Int { memtable.approximateBytes + frozen.reduce(0) { $0 + $1.memtable.approximateBytes } }

    /// Records in the table's own memtables, active and frozen.
    var memtableRecords: Int { memtable.count + frozen.reduce(0) { $0 + $1.memtable.count } }

    /// Whether any memtable (base or index) holds data.
    var hasMemtableData: Bool {
        !memtable.isEmpty || indexMemtables.values.contains { !$0.isEmpty } || !frozen.isEmpty
    }
}

/// A partition view as point reads see it: the view (whose strong references keep every layer
/// alive) and its memtables and runs as unretained references, so a get walks the layers
/// without touching a reference count other threads share. Immutable; published through
/// `Partition.readView` and read inside a `ReadEpochs` section.
final class ReadView: @unchecked Sendable {
    let view: PartitionView
    let memtable: Unmanaged<Memtable>
    let frozen: UnsafeMutableBufferPointer<Unmanaged<Memtable>>
    let runs: UnsafeMutableBufferPointer<Unmanaged<Segment>>

    init(_ view: PartitionView) {
        self.view = view
        memtable = Unmanaged.passUnretained(view.memtable)
        frozen = .allocate(capacity: view.frozen.count)
        _ = frozen.initialize(from: view.frozen.map { Unmanaged.passUnretained($0.memtable) })
        runs = .allocate(capacity: view.runs.count)
        _ = runs.initialize(from: view.runs.map { Unmanaged.passUnretained($0) })
    }

    deinit {
        frozen.deallocate()
        runs.deallocate()
    }
}

/// A key range `[lowerBound, upperBound)` of one table: a memtable fed from the shared WAL,
/// memtables being flushed, and immutable segment runs.
///
/// Threading contract:
///   * `gate` is the write gate. Writers hold it shared from taking their sequence number until
///     their records are in the memtable; a memtable swap or split cutover holds it exclusive
///     (microseconds for a swap). So "every write with seq ≤ S is in the old memtable" holds
///     at the swap, which is what makes `flushedSeq` exact.
///   * `writeLock` serialises memtable inserts (the skiplist has one writer at a time).
///   * `maintenanceLock` serialises flushes, merges and splits of this partition.
///   * `view` is read under `stateLock` by scans and maintenance, who then read without locks.
///     Every change of it also publishes a `ReadView` for point reads (`readView`), read
///     without a lock or a retain inside a `ReadEpochs` section.
final class Partition: @unchecked Sendable {
    let id: UInt64
    let tableID: UInt32
    let lowerBound: [UInt8]
    let upperBound: [UInt8]?
    let gate = ReadWriteLock()
    let writeLock = PThreadMutex()
    let maintenanceLock = PThreadMutex()
    private let stateLock = PThreadMutex()
    private var _view: PartitionView
    /// `_view.memtable`, unretained, for writers (`activeMemtable`). Writers read it on every
    /// write; through `stateLock` they queued behind view updates of the lowered maintenance
    /// thread, which the scheduler may leave waiting for milliseconds while it holds the lock
    /// (perf sched: 1-6 ms waits of a writer in the 60-s fillrandom). The memtable changes only
    /// with `gate` held exclusive, and `_view` keeps it alive (active, then frozen) while any
    /// writer holds the gate.
    private let activeMemtableBits: Atomic<UInt>
    /// `_view.frozen.count`, for a writer deciding whether to freeze (`Flusher.freezeFull`).
    private let frozenCount = Atomic<Int>(0)
    /// The write slowdown's pacing clock: when the writes charged so far would be done at the
    /// rates they were allowed (WritePacing.swift).
    let paceClock = Atomic<UInt64>(0)
    /// `_view` for point reads; replaced under `stateLock` whenever `_view` changes.
    let readView: PublishedReference<ReadView>
    /// Runs as the manifest records them (guarded by maintenanceLock).
    var runRecords: [RunRecord]
    /// Sequence number up to which this partition's writes are in `runRecords` (maintenanceLock).
    var flushedSeq: UInt64
    /// Runs of each index's local part as the manifest records them (maintenanceLock).
    var indexRunRecords: [UInt32: [RunRecord]]
    /// Indexes whose build completed here (maintenanceLock).
    var indexesReady: Set<UInt32>
    /// How many of the oldest runs no flush may merge (maintenanceLock): a strategy change
    /// reads them while writes and flushes go on, and re-keys only the runs above them later.
    var protectedRuns = 0
    /// Set under the exclusive gate when a split replaces this partition; writers that then get
    /// the gate route again.
    private(set) var retired = false
    /// Load by key position, updated on every operation (telemetry).
    let histogram: KeyHistogram
    /// `histogram`'s totals when the partition was made (what a reshard's target inherited):
    /// not its own traffic (`Telemetry.operationTotals`).
    let initialTotals: HistogramTotals
    /// Time spent in this partition's operations and maintenance (the measured load).
    let cost: CostMeter
    /// Set while a background flush of this partition is queued.
    let flushQueued = Atomic<Bool>(false)
    /// Set while a merge of this partition's runs is queued on the merge lane.
    let mergeQueued = Atomic<Bool>(false)
    /// Set (under `maintenanceLock`) while the merge lane merges some of this partition's runs:
    /// the flush lane's flushes then never merge inline (Flusher.swift).
    let merging = Atomic<Bool>(false)

    init(record: PartitionRecord, runs: [Segment], indexRuns: [UInt32: [Segment]] = [:], histogram: KeyHistogram) {
        self.histogram = histogram
        initialTotals = histogram.totals()
        cost = CostMeter(stripes: histogram.options.stripeCount)
        id = record.id
        tableID = record.tableID
        lowerBound = record.lowerBound
        upperBound = record.upperBound
        runRecords = record.runs
        flushedSeq = record.flushedSeq
        indexRunRecords = record.indexRuns
        indexesReady = record.indexesReady
        let view = PartitionView(memtable: Memtable(seed: record.id &* 0x9E3779B97F4A7C15 | 1), frozen: [], runs: runs,
                                 indexRuns: indexRuns)
        _view = view
        readView = PublishedReference(ReadView(view))
        activeMemtableBits = Atomic(Self.bits(view.memtable))
    }

    private static func bits(_ m: Memtable) -> UInt { UInt(bitPattern: Unmanaged.passUnretained(m).toOpaque()) }

    var record: PartitionRecord {
        PartitionRecord(id: id, tableID: tableID, lowerBound: lowerBound, upperBound: upperBound,
                        runs: runRecords, flushedSeq: flushedSeq, indexRuns: indexRunRecords, indexesReady: indexesReady)
    }

    /// The active memtable of index `indexID`, created on first use. Stable while the caller
    /// holds `gate` (a freeze takes the gate exclusive).
    func indexMemtable(_ indexID: UInt32) -> Memtable {
        stateLock.withLock {
            if let m = _view.indexMemtables[indexID] { return m }
            let m = Memtable(seed: (id &* 0x9E3779B97F4A7C15) ^ UInt64(indexID) | 1)
            _view.indexMemtables[indexID] = m
            readView.replace(with: ReadView(_view))
            return m
        }
    }

    /// Whether a primary key lies in this partition's range.
    func containsPrimaryKey(ofEntry entry: UnsafeRawBufferPointer) -> Bool {
        guard let pk = IndexKey.primaryKey(entry) else { return false }
        return contains(pk)
    }

    /// A consistent view for a reader.
    var view: PartitionView { stateLock.withLock { _view } }

    /// The active memtable. Stable while the caller holds `gate` (shared or exclusive); only
    /// then may it be called (without the gate the memtable may be flushed and freed meanwhile:
    /// use `isActive`).
    var activeMemtable: Memtable {
        Unmanaged<Memtable>.fromOpaque(UnsafeRawPointer(bitPattern: activeMemtableBits.load(ordering: .acquiring))!)
            .takeUnretainedValue()
    }

    /// Memtables frozen and not yet flushed; any thread.
    var frozenMemtables: Int { frozenCount.load(ordering: .acquiring) }

    /// Whether `memtable` (which the caller keeps alive) is the active one; any thread.
    func isActive(_ memtable: Memtable) -> Bool {
        activeMemtableBits.load(ordering: .acquiring) == Self.bits(memtable)
    }

    /// Changes the view. A body that replaces the active memtable must be called with `gate`
    /// held exclusive.
    func updateView(_ body: (inout PartitionView) -> Void) {
        stateLock.withLock {
            body(&_view)
            readView.replace(with: ReadView(_view))
            let active = Self.bits(_view.memtable)
            if activeMemtableBits.load(ordering: .relaxed) != active { activeMemtableBits.store(active, ordering: .releasing) }
            frozenCount.store(_view.frozen.count, ordering: .releasing)
        }
    }

    /// Marks the partition replaced. Caller holds `gate` exclusive.
    func retire() { retired = true }

    func contains(_ key: UnsafeRawBufferPointer) -> Bool {
        if lowerBound.withUnsafeBytes({ compareKeys($0, key) }) > 0 { return false }
        if let upperBound, upperBound.withUnsafeBytes({ compareKeys(key, $0) }) >= 0 { return false }
        return true
    }
}

/// A table's partitions in key order and the layout their keys are encoded in; immutable,
/// swapped whole (RCU-style) on reshard and on a strategy change. The layout lives here, not in
/// `Table`, because a strategy change replaces both at once: an operation that encoded its key
/// under one layout must route it through a map of the same layout (StrategyChange.swift).
/// Thread-safe: immutable.
final class PartitionMap: @unchecked Sendable {
    let partitions: [Partition]
    /// How the table's user keys become the partition keys these partitions hold (KeyLayout.swift).
    let layout: KeyLayout
    /// `partitions` unretained, for point reads inside a `ReadEpochs` section (the array's
    /// strong references keep them alive).
    private let unretained: UnsafeMutableBufferPointer<Unmanaged<Partition>>

    init(_ partitions: [Partition], layout: KeyLayout) {
        self.layout = layout
        self.partitions = partitions.sorted { compareKeys($0.lowerBound, $1.lowerBound) < 0 }
        unretained = .allocate(capacity: self.partitions.count)
        _ = unretained.initialize(from: self.partitions.map { Unmanaged.passUnretained($0) })
    }

    deinit { unretained.deallocate() }

    /// The partition holding `key`, unretained (valid while this map is).
    @inline(__always)
    func unretainedPartition(for key: UnsafeRawBufferPointer) -> Unmanaged<Partition> { unretained[index(for: key)] }

    /// Index of the partition holding `key`: the last one whose lower bound ≤ key.
    @inline(__always)
    func index(for key: UnsafeRawBufferPointer) -> Int {
        var lo = 1, hi = unretained.count - 1, found = 0
        while lo <= hi {
            let mid = (lo + hi) >> 1
            // Through the unretained copy: no reference count touched while searching.
            if unretained[mid]._withUnsafeGuaranteedRef({ p in p.lowerBound.withUnsafeBytes { compareKeys($0, key) } }) <= 0 {
                found = mid
                lo = mid + 1
            } else {
                hi = mid - 1
            }
        }
        return found
    }

    @inline(__always)
    func partition(for key: UnsafeRawBufferPointer) -> Partition { partitions[index(for: key)] }

    /// Checks the map covers the whole key space with no gap or overlap (tests, recovery).
    func coverageProblem() -> String? {
        guard let first = partitions.first else { return "no partitions" }
        if !first.lowerBound.isEmpty { return "first partition starts at \(formatKey(first.lowerBound)), not at the start" }
        for i in 1..<max(1, partitions.count) {
            guard let hi = partitions[i - 1].upperBound else { return "partition \(partitions[i - 1].id) is unbounded but not last" }
            if hi != partitions[i].lowerBound {
                return "gap or overlap between \(formatKey(hi)) and \(formatKey(partitions[i].lowerBound))"
            }
        }
        if partitions.last!.upperBound != nil { return "last partition is bounded" }
        return nil
    }
}
