// The engine: one directory, one shared WAL, one manifest, many tables of range partitions.
// `Engine` is the facade over named collaborators, each with its threading contract at the top
// of its file (docs/ARCHITECTURE.md, "The engine and its collaborators"): the table registry,
// the lifecycle (closed, background errors), the WAL, the segment store (manifest and `seg/`),
// the flusher, the reshard executor and the index builder. Recovery lives in Recovery.swift,
// writes in CommitPipeline.swift, reads in EngineReads.swift, telemetry and health in
// EngineTelemetry.swift, the controller's tick in ControllerTick.swift.
import AugurPlanner
import AugurStats
import AugurSys
import Dispatch
import Logging
import Synchronization

/// What opening a store found and did. Printed by `augur demo` and checked by crash tests.
public struct RecoveryReport: Sendable, Equatable {
    /// Where the WAL's torn tail was cut.
    public struct TornTail: Sendable, Equatable {
        public var file: String
        public var offset: Int
        /// Bytes after `offset` that held data and were dropped.
        public var bytesDropped: Int
        /// Sequences the log lacks because of this tail, when they are known: a segment that
        /// ends below its successor's first sequence (its end was lost while the log rolled)
        /// drops no byte of its own, and "0 bytes" alone hid thousands of operations.
        public var sequencesDropped: ClosedRange<UInt64>? = nil
    }
    public var createdNewStore = false
    /// The open was read-only: a torn tail found was not cut, only left out of the replay.
    public var readOnlyOpen = false
    /// Reads of the store a read-only open took: more than one when a writer in another
    /// process changed the files while it read them (see `Recovery.recoverReadOnly`); 0 for an
    /// open for writing.
    public var readOnlyAttempts = 0
    public var manifest = ""
    public var manifestTornTailBytes = 0
    public var tables = 0
    public var partitions = 0
    public var segmentsVerified = 0
    public var walSegmentsReplayed = 0
    public var walFramesReplayed = 0
    /// Operations re-applied to memtables.
    public var walRecordsApplied = 0
    /// Operations already in segments (sequence ≤ the partition's flushed mark) or of dropped tables.
    public var walRecordsSkipped = 0
    public var walTornTail: TornTail? = nil
    /// Where the torn tail's bytes were copied before they were zeroed (under `lost/`).
    public var walTornTailSavedAs: String? = nil
    /// `.pointInTime` recovery only: the corruption replay stopped at, and the files moved to
    /// `lost/` because of it (a partial segment is copied, whole later segments are moved).
    public var walCorruption: String? = nil
    public var walSetAside: [String] = []
    /// Empty WAL segments whose creation a crash interrupted (no header yet), or a spare made
    /// ahead that holds nothing after its header, removed.
    public var walUnfinishedSegmentsRemoved: [String] = []
    /// Files in `seg/` or `wal/` whose names are not Augur's: left alone.
    public var foreignFilesIgnored: [String] = []
    /// Files deleted because nothing referenced them (leftovers of interrupted flushes or splits).
    public var filesRemoved: [String] = []
    /// `.pointInTime` recovery that stopped at corruption: files nothing referenced any more,
    /// moved to `lost/` instead of deleted (the cut may have taken the manifest records that
    /// named them: their records are in no other file).
    public var filesSetAside: [String] = []
    /// Reshards found prepared but not committed, rolled back (their ids).
    public var reshardsRolledBack: [UInt64] = []
    public var lastSequence: UInt64 = 0
}

/// An open Augur store.
///
/// Thread-safety: `Sendable`; all methods may be called concurrently from many threads.
/// `close()` must be the last call; operations racing it get `engineClosed`.
public final class Engine: @unchecked Sendable {
    public let path: String
    let options: EngineOptions
    let fileSystem: any FileSystem
    let walDirectory: String
    private let directoryLock: any FileLock
    /// The manifest and the segment files (SegmentStore.swift).
    let store: SegmentStore
    let wal: WriteAheadLog
    /// The tables by name and id (TableRegistry.swift).
    let tables = TableRegistry()
    /// Closed or not, and the first background error (EngineLifecycle.swift).
    let lifecycle: EngineLifecycle
    /// Flushes, merges, WAL trims and write stalls (Flusher.swift, WriteStall.swift).
    let flusher: Flusher
    /// Secondary-index creation, builds and drops (IndexBuild.swift, IndexDrop.swift).
    let indexes: IndexBuilder
    /// Splits, merges, boundary moves and reshapes (Reshard.swift).
    let reshards: ReshardExecutor
    private let periodicSync: DispatchSourceTimer?
    public let recoveryReport: RecoveryReport
    /// Reads of the store a read-only open (`EngineOptions.readOnly`) makes before it reports a
    /// failure it found while another process held the store's LOCK: a live writer's flushes,
    /// merges and log trims can make a reader that takes no lock see a file named and then
    /// gone, which is retried from a fresh read of CURRENT; 2, 4, … 64 ms apart.
    public static let readOnlyOpenAttempts = 10
    /// nil when telemetry is disabled.
    let telemetry: Telemetry?
    private let collectorTimer: DispatchSourceTimer?
    /// nil without telemetry (the controller needs it).
    let controller: PartitionController?
    private let controllerTimer: DispatchSourceTimer?
    /// When the collector tick last wrote TELEMETRY.json and METRICS.prom (EngineTelemetry.swift).
    let lastHealthFile = Atomic<UInt64>(0)
    let maxKeySize: Int
    let maxValueSize: Int
    let syncWrites: Bool
    /// Counters, gauges and timers (EngineMetrics.swift).
    let metrics: EngineMetrics
    /// `augur.engine`: background errors.
    let logger: Logger

    /// Opens (or creates) the store in `path`.
    public static func open(at path: String, options: EngineOptions = EngineOptions()) throws(AugurError) -> Engine {
        try options.validate()
        let metrics = EngineMetrics(store: path)
        let recovered = try Recovery.run(path: path, options: options, metrics: metrics)
        let engine = Engine(path: path, options: options, recovered: recovered, metrics: metrics)
        engine.flushWhatEarlierOpensLeftInTheLog()
        return engine
    }

    /// Segments the log may inherit from earlier opens before an open flushes what they hold.
    public static let inheritedSegmentsBeforeAFlush = 2

    /// Every writable open starts a new, preallocated WAL segment (64 MiB by default) and the
    /// ones before it stay until what they hold is flushed, which a store opened for a few
    /// writes at a time never reached: each `augur put` (even a rejected one) left another
    /// 64 MiB segment, 6 opens 385 MB for 6 keys. So when the log inherits more than
    /// `inheritedSegmentsBeforeAFlush` segments, the open flushes the recovered memtables and
    /// trims them (as LevelDB writes a recovered log into a table at open); the log then holds
    /// at most that many and the current one. A failed flush leaves the data in the log, where
    /// it was: the open goes on and logs why.
    private func flushWhatEarlierOpensLeftInTheLog() {
        guard !options.readOnly, wal.segmentNumbers.count > Self.inheritedSegmentsBeforeAFlush + 1 else { return }
        // Synchronous, so an open that inherits a large log takes the time of its flush.
        do throws(AugurError) { try flush() } catch {
            // Kept for `takeBackgroundError()`: a failed WAL sync in it disables writes.
            logger.warning("the open's flush of the recovered log failed (its records stay in the log): \(error)")
            recordBackgroundError(error)
        }
    }

    /// The logger `label` of the store in `path`: `options.makeLogger`'s, with `store` metadata.
    static func logger(_ label: String, path: String, options: EngineOptions) -> Logger {
        var logger = options.makeLogger(label)
        logger[metadataKey: "store"] = "\(path)"
        return logger
    }

    private init(path: String, options: EngineOptions, recovered: Recovery.Result, metrics: EngineMetrics) {
        self.path = path
        self.options = options
        self.metrics = metrics
        logger = Self.logger("augur.engine", path: path, options: options)
        lifecycle = EngineLifecycle(metrics: metrics, logger: logger)
        fileSystem = options.fileSystem
        walDirectory = joinPath(path, "wal")
        directoryLock = recovered.lock
        wal = recovered.wal
        store = SegmentStore(fileSystem: options.fileSystem, directory: joinPath(path, "seg"), manifest: recovered.manifest,
                             wal: recovered.wal, options: options)
        flusher = Flusher(store: store, wal: recovered.wal, tables: tables, lifecycle: lifecycle, metrics: metrics, options: options)
        // The memtables' chunk refills are background work too (process-wide: the first
        // engine that keeps its lanes to CPUs of their own takes them along).
        ArenaChunkPool.shared.placeRefills(recovered.wal.lanePlacement)
        recoveryReport = recovered.report
        recovered.report.log(to: Self.logger("augur.recovery", path: path, options: options))
        indexes = IndexBuilder(options: options, store: store, flusher: flusher, tables: tables, lifecycle: lifecycle,
                               workers: IndexBuildWorkers(options: options.indexBuild,
                                                          logger: Self.logger(BuildWorkerPool.loggerLabel, path: path, options: options)))
        maxKeySize = options.maxKeySize
        maxValueSize = options.maxValueSize
        syncWrites = options.durability == .sync
        // A read-only open runs no telemetry: its collector, controller and files are writers.
        telemetry = options.telemetry.enabled && !options.readOnly ? Telemetry(options: options.telemetry, clock: options.clock) : nil
        reshards = ReshardExecutor(options: options, store: store, flusher: flusher, wal: recovered.wal, telemetry: telemetry,
                                   lifecycle: lifecycle, metrics: metrics, logger: Self.logger("augur.reshard", path: path, options: options))
        collectorTimer = telemetry.map { _ in DispatchSource.makeTimerSource(queue: DispatchQueue(label: "augur.telemetry")) }
        controller = telemetry.map { _ in PartitionController(options: options.partitioning) }
        // The timer runs even under the static policy so a policy switched on at run time acts;
        // a tick with nothing to do returns at once.
        if controller != nil, options.partitioning.runsOnTimer {
            controllerTimer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "augur.controller"))
        } else {
            controllerTimer = nil
        }
        if case .periodic(let interval) = options.durability, !options.readOnly {
            let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "augur.periodic-sync"))
            let ns = nanoseconds(interval)
            timer.schedule(deadline: .now() + .nanoseconds(ns), repeating: .nanoseconds(ns))
            periodicSync = timer
        } else {
            periodicSync = nil
        }
        for (id, name) in recovered.manifest.state.tables {
            let parts = recovered.partitions.filter { $0.tableID == id }
            let table = Table(name: name, id: id, engine: self,
                              map: PartitionMap(parts, layout: KeyLayout(recovered.manifest.state.strategies[id] ?? .range)))
            let indexes = recovered.manifest.state.indexes(ofTable: id)
            if !indexes.isEmpty {
                // Extractors come back with `attachSecondaryIndex`; until then writes are refused.
                table.indexDescriptors.withLock { $0 = indexes.map { IndexDescriptor(id: $0.id, name: $0.name, extractor: nil) } }
                table.hasIndexes.store(true, ordering: .releasing)
            }
            tables.insertLocked(table)
        }
        telemetry?.register(recovered.partitions)
        wal.setBackgroundErrorHandler { [weak self] in self?.recordBackgroundError($0) }
        // The log and memory bounds are checked once per segment of writes (Flusher.swift).
        wal.rollObserver.withLock { [flusher] in $0 = { [weak flusher] in flusher?.scheduleBoundsCheck() } }
        if options.partitioning.persistHistory {
            // Read also without a controller (read-only, telemetry off): the strategy advisor
            // works from the saved workload.
            let history = readLoadHistory()
            controller?.restore(history)
            restoreWorkloads(history)
        }
        if let controller {
            let names = tables.names
            controller.lock.withLock { controller.publish(tables: names) }
        }
        if let collectorTimer {
            let ns = nanoseconds(options.telemetry.collectInterval)
            collectorTimer.schedule(deadline: .now() + .nanoseconds(ns), repeating: .nanoseconds(ns))
            collectorTimer.setEventHandler { [weak self] in
                // Views and maps retired while a get was reading them wait for the next retire
                // otherwise; this bounds how long they hold memory (memtables, mapped files).
                ReadEpochs.shared.reclaim()
                self?.collectTelemetry()
            }
            collectorTimer.resume()
        }
        if let controllerTimer {
            let ns = nanoseconds(options.partitioning.tick)
            controllerTimer.schedule(deadline: .now() + .nanoseconds(ns), repeating: .nanoseconds(ns))
            controllerTimer.setEventHandler { [weak self] in self?.controllerTick() }
            controllerTimer.resume()
        }
        if let periodicSync {
            // A failed periodic sync disables writes (the WAL's rule) and is kept for
            // `takeBackgroundError()`, not dropped: the writes since the last sync may be lost.
            periodicSync.setEventHandler { [weak self] in
                guard let self, !self.isClosed else { return }
                do throws(AugurError) { try self.wal.syncCurrent() } catch {
                    if case .engineClosed = error { return }
                    self.recordBackgroundError(error)
                }
            }
            periodicSync.resume()
        }
        // Memtables rebuilt from the WAL are flushed in the background so the old WAL segments
        // can be trimmed; trimming also drops WAL segments with nothing unflushed in them. Only
        // the partitions that held replayed data at open: later writes flush on their own terms.
        let replayed = recovered.partitions.filter { $0.view.hasMemtableData }
        if !options.readOnly { flusher.flushReplayed(replayed) }
    }

    var isClosed: Bool { lifecycle.isClosed }

    /// The first error background work hit since the last call: a flush (retried), a periodic
    /// WAL sync, or the creation of the next WAL segment ahead of its roll (the roll then
    /// creates the segment itself).
    public func takeBackgroundError() -> AugurError? { lifecycle.takeError() }

    /// Keeps the first error for `takeBackgroundError`; counts every one, logs the one kept.
    func recordBackgroundError(_ error: AugurError) { lifecycle.record(error) }

    /// Whether a background error awaits `takeBackgroundError`.
    var backgroundErrorPending: Bool { lifecycle.errorPending }

    func allTables() -> [Table] { tables.all }

    // MARK: tables

    /// Creates a table of one partition over the whole key space.
    @discardableResult
    public func createTable(_ name: String) throws(AugurError) -> Table {
        try createTable(name, strategy: .range)
    }

    /// Creates a table partitioned by `strategy` (see `PartitioningStrategy`). A `.hash` table
    /// starts with `partitions` partitions of equal bucket ranges (default: as many as fit in
    /// 4, at most its buckets); the others start with one, and the controller or
    /// `requestResharding` cut more where the load is.
    @discardableResult
    public func createTable(_ name: String, strategy: PartitioningStrategy, partitions: Int? = nil) throws(AugurError) -> Table {
        try checkOpen()
        try validateTableName(name)
        if let problem = strategy.problem { throw .invalidOption(name: "strategy", value: strategy.description, reason: problem) }
        let count: Int
        switch strategy {
        case .hash(let buckets):
            count = partitions ?? min(4, buckets)
            guard count >= 1 && count <= buckets else {
                throw .invalidOption(name: "partitions", value: String(count), reason: "a hash table of \(buckets) buckets starts with 1...\(buckets) partitions")
            }
        case .range, .composite:
            count = partitions ?? 1
            guard count == 1 else {
                throw .invalidOption(name: "partitions", value: String(count),
                                     reason: "a \(strategy.kind) table starts with 1 partition (where to cut it is not known before its keys are)")
            }
        }
        let bounds: [[UInt8]] = [[]] + strategy.bucketCuts(count: count)
        return try tables.lock.withLock { () throws(AugurError) -> Table in
            if tables.containsLocked(name) { throw .tableAlreadyExists(name) }
            let records = try store.manifest.lock.withLock { () throws(AugurError) -> [PartitionRecord] in
                let id = store.manifest.allocateTableID()
                let records = bounds.enumerated().map { i, lower in
                    PartitionRecord(id: store.manifest.allocatePartitionID(), tableID: id, lowerBound: lower,
                                    upperBound: i + 1 < bounds.count ? bounds[i + 1] : nil, runs: [], flushedSeq: wal.lastSequence)
                }
                try store.commitLocked([.createTable(id: id, name: name, strategy: strategy)] + records.map { .addPartition($0) })
                return records
            }
            let table = Table(name: name, id: records[0].tableID, engine: self,
                              map: PartitionMap(records.map { Partition(record: $0, runs: [], histogram: newHistogram($0)) },
                                                layout: KeyLayout(strategy)))
            tables.insertLocked(table)
            telemetry?.register(table.map.partitions)
            return table
        }
    }

    /// The table called `name`.
    public func table(named name: String) throws(AugurError) -> Table {
        try checkOpen()
        guard let t = tables.named(name) else { throw .tableNotFound(name) }
        return t
    }

    /// Names of all tables, sorted.
    public func tableNames() throws(AugurError) -> [String] {
        try checkOpen()
        return tables.names
    }

    /// Deletes a table and all its data. Handles to it then throw `tableNotFound`.
    public func dropTable(_ name: String) throws(AugurError) {
        try checkOpen()
        try tables.lock.withLock { () throws(AugurError) in
            guard let table = tables.tableLocked(named: name) else { throw .tableNotFound(name) }
            let partitions = table.lockMaintenanceOfEveryPartition()
            defer { for p in partitions.reversed() { p.maintenanceLock.unlock() } }
            try store.manifest.lock.withLock { () throws(AugurError) in
                try store.commitLocked([.dropTable(id: table.id)])
            }
            table.dropped.store(true, ordering: .releasing)
            for p in partitions {
                p.gate.lockExclusive()
                p.retire()
                p.gate.unlock()
                let v = p.view
                for s in v.runs { s.markObsolete() }
                for runs in v.indexRuns.values { for s in runs { s.markObsolete() } }
                telemetry?.remove(p)
            }
            tables.removeLocked(table)
        }
    }

    private func validateTableName(_ name: String) throws(AugurError) {
        if let reason = Self.nameProblem(name) { throw .invalidTableName(name, reason: reason) }
    }

    /// Why `name` cannot name a table or an index, or nil.
    static func nameProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.utf8.count > 255 { return "\(name.utf8.count) bytes exceeds the limit of 255" }
        if name.utf8.contains(0) { return "must not contain NUL" }
        return nil
    }

    @inline(__always)
    func checkOpen() throws(AugurError) {
        if lifecycle.isClosed { throw .engineClosed }
    }

    @inline(__always)
    func validate(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(AugurError) {
        if key.count == 0 { throw .emptyKey }
        if key.count > maxKeySize { throw .keyTooLarge(size: key.count, limit: maxKeySize) }
        if value.count > maxValueSize { throw .valueTooLarge(size: value.count, limit: maxValueSize) }
    }

    // MARK: writes (the steps are CommitPipeline.swift's)

    /// Writes `key` (a partition key encoded in `map`'s layout). False when nothing was written
    /// because the table's strategy changed since: the caller encodes the key again.
    func writeOne(_ table: Table, _ kind: RecordKind, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
                  map: PartitionMap) throws(AugurError) -> Bool {
        try table.checkUsable()
        try validate(key: key, value: value)
        var write = SingleWrite(table: table, kind: kind, key: key, value: value, map: map, flushSize: flusher.flushSize)
        switch try commit(&write) {
        case .committed: return true
        case .layoutChanged: return false
        case .needsIndexMaintenance:
            return try writeIndexed([WriteBatch.Op(table: table, kind: kind, key: Array(key), value: Array(value), layout: map.layout)])
        }
    }

    /// Applies a batch atomically: one WAL frame, all partitions' write gates held together.
    public func write(_ batch: WriteBatch) throws(AugurError) {
        try checkOpen()
        if batch.ops.isEmpty { return }
        ThreadPause.sleep(nanoseconds: batch.ops.reduce(0) { max($0, $1.table.writeDelayNanos.load(ordering: .relaxed)) })
        // Encoded in each table's current layout; again should a strategy change commit between
        // the encoding and the commit (CommitOutcome.layoutChanged).
        encoding: while true {
            var payload = 0
            var ops = batch.ops
            for i in ops.indices {
                try ops[i].table.checkUsable()
                guard ops[i].table.engine === self else { throw .tableNotFound(ops[i].table.name) }
                let layout = ops[i].table.map.layout
                if !layout.isIdentity { ops[i].key = try layout.partitionKey(ops[i].key, maxKeySize: maxKeySize) }
                ops[i].layout = layout
                let op = ops[i]
                try op.key.withUnsafeBytes { k in
                    op.value.withUnsafeBytes { v in Result { () throws(AugurError) in try validate(key: k, value: v) } }
                }.get()
                payload += WALFormat.opSize(tableID: op.table.id, keyCount: op.key.count, valueCount: op.value.count)
            }
            var write = BatchWrite(ops: ops, payloadSize: payload)
            switch try commit(&write) {
            case .committed: break encoding
            case .layoutChanged: continue encoding
            case .needsIndexMaintenance: if try writeIndexed(ops) { break encoding }
            }
        }
        for op in batch.ops { op.key.withUnsafeBytes { op.table.sampler.sampleWrite($0) } }
    }

    // MARK: lifecycle

    /// Flushes every memtable to segments and trims the WAL. Throws the first failure.
    public func flush() throws(AugurError) {
        try checkOpen()
        for table in allTables() {
            for p in table.map.partitions { try flusher.flush(p) }
        }
        try flusher.trimWAL()
    }

    /// Syncs the WAL (useful with `.none` and `.periodic` durability).
    public func syncWAL() throws(AugurError) {
        try checkOpen()
        try wal.syncCurrent()
    }

    /// Stops background work, syncs the WAL and releases the directory lock. Idempotent.
    public func close() throws(AugurError) {
        if !lifecycle.close() { return }
        periodicSync?.cancel()
        collectorTimer?.cancel()
        controllerTimer?.cancel()
        // A tick in progress finishes first; then the load history is saved for the next open.
        if let controller {
            let tables = allTables()
            controller.lock.withLock {
                if controller.historySaveDue(now: options.clock.now(), force: true) { saveLoadHistory(controller, tables: tables) }
            }
        }
        reshards.queue.sync {}
        indexes.shutdown()
        flusher.drain()
        if telemetry != nil { collectTelemetry(force: true, closing: true) }
        let tables = allTables()
        // Wait for writers already past their checks.
        for t in tables { for p in t.map.partitions { p.gate.lockExclusive(); p.gate.unlock() } }
        var failure: AugurError? = nil
        if !wal.failed.load(ordering: .acquiring) {
            do throws(AugurError) { try wal.syncCurrent() } catch { failure = error }
        }
        let closedAt = wal.close()
        store.manifest.lock.withLock {
            // Where the frames end, recorded once they are durable there: recovery then tells a
            // loss of the newest segment's last frames and seal (zeroed together, found from
            // outside: a delete undone, exit 0) from a torn write, which a clean close cannot
            // leave. Only evidence: without it the older rules hold, so a failure is logged.
            if let closedAt, !options.readOnly {
                do throws(AugurError) { try store.manifest.commit([.walClosed(closedAt)], lastSeq: wal.lastSequence) } catch {
                    logger.warning("the manifest's record of the clean close failed (recovery still reads the log whole): \(error)")
                }
            }
            // A closed store holds exactly the files its manifest names. A run a flush merged
            // away is unlinked when its last view goes, and a view can outlive close (freed by
            // another thread's reclamation a moment later): augur-crash's power-loss check
            // found the first recovery's merged-away runs still in seg/ after close (2026-12,
            // seg/439-1813.seg "in the image, referenced at open, not before close"). The
            // sweep unlinks them now; their own removal later finds nothing. Only when the
            // manifest on disk is known to match memory (no failed commit since the last good
            // one): a record that may have reached the disk must still find its files.
            if !options.readOnly && !store.needsFileSweep.load(ordering: .acquiring) { store.sweepUnreferencedFiles() }
            store.manifest.close()
        }
        self.tables.removeAll()
        // What this engine retired from point reads (views holding its runs, maps holding its
        // partitions) goes now, before the directory can be opened again.
        ReadEpochs.shared.drain()
        directoryLock.unlock()
        metrics.destroy()
        if let failure { throw failure }
    }

    /// Numbers of the WAL segment files in use (oldest first).
    public var walSegments: [UInt64] { wal.segmentNumbers }
}

/// `d` in whole nanoseconds, exactly — the one Duration conversion of the engine. Callers pass
/// durations `OptionLimits.interval` has checked (1 ms … 1 day); beyond ±292 years it saturates
/// instead of trapping.
func nanoseconds(_ d: Duration) -> Int {
    let (s, a) = d.components
    let (whole, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return s < 0 ? Int.min : Int.max }
    let (sum, overflow2) = Int(whole).addingReportingOverflow(Int(a / 1_000_000_000))
    return overflow2 ? (s < 0 ? Int.min : Int.max) : sum
}

extension Table {
    /// Takes the maintenance lock of every partition of this table, in id order (as reshards take
    /// them), and makes sure no reshard replaced a partition while it waited; returns the
    /// partitions, locked (the caller unlocks them). Keeps flushes, reshards and index build
    /// commits of the table out.
    func lockMaintenanceOfEveryPartition() -> [Partition] {
        while true {
            let partitions = map.partitions.sorted { $0.id < $1.id }
            for p in partitions { p.maintenanceLock.lock() }
            let current = Set(map.partitions.map { ObjectIdentifier($0) })
            if current == Set(partitions.map { ObjectIdentifier($0) }) && !partitions.contains(where: { $0.retired }) {
                return partitions
            }
            for p in partitions.reversed() { p.maintenanceLock.unlock() }
        }
    }
}
