// Creating, attaching and building secondary indexes.
//
// Build of one partition's local part, online:
//   1. under the partition's maintenance lock, flush it: every base record with a sequence
//      number up to the freeze is now in its runs, which no one changes while we read them
//      (segments are immutable; a later merge only marks them obsolete);
//   2. read the runs merged (newest wins, tombstones skipped), extract each record's index key,
//      sort the entries in a flat buffer;
//   3. write them as one index run, fdatasync it and `seg/`;
//   4. under the maintenance lock again: if a reshard retired the partition meanwhile, drop the
//      file (the coordinator builds the targets next); else commit `setIndexRuns(…, ready)` with
//      the run as the *oldest* of the index's runs, and install it.
// Why this is exact: the index became visible to writers before step 1 froze anything, so
// every write after the freeze carried its own index operations (in memtables or in runs
// flushed since, which keep their tombstones while the part is not ready), and everything
// before it is in the runs step 2 reads. Newer layers win over the build's run.
//
// Threading: `createIndex`, `attachIndex`, `waitForIndex` and `dropIndex` may be called from any
// thread; changes to a table's index list hold the table registry's lock across their manifest
// commit. Each index's build coordinator runs on `queue` (concurrent: one coordinator per index
// being built) and hands partition builds to `workers`, NUMA-pinned threads; a partition's
// build holds its maintenance lock only to flush and to commit, never while it reads or writes.
// Depends on the segment store, the flusher, the table registry and the engine's lifecycle
// — not on the engine.
import AugurPlanner
import AugurStats
import AugurSys
import Dispatch
import Synchronization

final class IndexBuilder: Sendable {
    private let options: EngineOptions
    let store: SegmentStore
    private let flusher: Flusher
    let tables: TableRegistry
    private let lifecycle: EngineLifecycle
    /// Index build coordinators (one per index build in progress).
    let queue = DispatchQueue(label: "augur.index-build", attributes: .concurrent)
    /// The pinned build workers the coordinators hand partitions to.
    let workers: IndexBuildWorkers
    /// Build-time estimates for reshape planning, refined by every partition build.
    let costModel: Mutex<IndexBuildCostModel>

    init(options: EngineOptions, store: SegmentStore, flusher: Flusher, tables: TableRegistry,
         lifecycle: EngineLifecycle, workers: IndexBuildWorkers) {
        self.options = options
        self.store = store
        self.flusher = flusher
        self.tables = tables
        self.lifecycle = lifecycle
        self.workers = workers
        costModel = Mutex(options.indexBuild.costModel)
    }

    private var fileSystem: any FileSystem { store.fileSystem }

    /// Waits for every coordinator, then stops the workers (close).
    func shutdown() {
        queue.sync(flags: .barrier) {}
        workers.shutdown()
    }

    func validateIndexName(_ name: String) throws(AugurError) {
        if let reason = Engine.nameProblem(name) { throw .invalidIndexName(name, reason: reason) }
    }

    func createIndex(_ table: Table, name: String, extractor: @escaping IndexKeyExtractor) throws(AugurError) -> SecondaryIndex {
        try table.checkUsable()
        try validateIndexName(name)
        let descriptor = try tables.lock.withLock { () throws(AugurError) -> IndexDescriptor in
            try table.checkUsable()
            if table.indexDescriptors.withLock({ $0.contains { $0.name == name } }) {
                throw .indexAlreadyExists(table: table.name, index: name)
            }
            let id = try store.manifest.lock.withLock { () throws(AugurError) -> UInt32 in
                let id = store.manifest.allocateTableID()
                try store.commitLocked([.createIndex(IndexRecord(id: id, tableID: table.id, name: name))])
                return id
            }
            let d = IndexDescriptor(id: id, name: name, extractor: extractor)
            table.indexDescriptors.withLock { $0.append(d) }
            // Published before any build freezes a partition (see the file comment).
            table.hasIndexes.store(true, ordering: .releasing)
            return d
        }
        startIndexBuild(table, descriptor)
        return SecondaryIndex(table: table, descriptor: descriptor)
    }

    func attachIndex(_ table: Table, name: String, extractor: @escaping IndexKeyExtractor) throws(AugurError) -> SecondaryIndex {
        try table.checkUsable()
        guard let d = table.indexDescriptors.withLock({ $0.first { $0.name == name } }) else {
            throw .indexNotFound(table: table.name, index: name)
        }
        let attached = d.extractor.withLock { e -> Bool in
            if e != nil { return false }
            e = extractor
            return true
        }
        if !attached { throw .indexAlreadyExists(table: table.name, index: name) }
        startIndexBuild(table, d)
        return SecondaryIndex(table: table, descriptor: d)
    }

    /// Starts the build coordinator of `d` unless it runs already; it builds every partition
    /// whose part is not ready, round after round, until none is left (reshards during a build
    /// create targets that need a build of their own).
    func startIndexBuild(_ table: Table, _ d: IndexDescriptor) {
        if options.readOnly { return }         // parts not ready stay so; their scans say so
        let now = options.clock.now()
        let begin = d.build.withLock { b -> Bool in
            if b.running { return false }
            b = IndexBuildRecord(running: true, startedAt: now)
            return true
        }
        guard begin else { return }
        queue.async { [self] in runIndexBuild(table, d) }
    }

    private func runIndexBuild(_ table: Table, _ d: IndexDescriptor) {
        var failure: AugurError? = nil
        var scanned = 0
        while !lifecycle.isClosed && failure == nil && !table.dropped.load(ordering: .acquiring) && !d.dropped.load(ordering: .acquiring) {
            let pending = table.map.partitions.filter { p in p.maintenanceLock.withLock { !p.retired && !p.indexesReady.contains(d.id) } }
            if pending.isEmpty { break }
            if d.currentExtractor == nil { break }
            for p in pending { d.setStatus(p.id) { $0.state = .pending; $0.error = nil } }
            // Largest first: a greedy longest-processing-time order for the workers.
            let sized = pending.map { p in (p, p.view.runs.reduce(0) { $0 + $1.storedBytes }) }.sorted { $0.1 > $1.1 }.map(\.0)
            var tasks: [(preferredNode: Int?, task: IndexBuildWorkers.Task)] = []
            for p in sized {
                tasks.append((workers.preferredNode(p.view.runs), { [self] worker in
                    do throws(AugurError) { return .success(try buildIndexPart(table, d, p, worker)) } catch { return .failure(error) }
                }))
            }
            let results = workers.run(tasks)
            for (i, r) in results.enumerated() {
                switch r {
                case .success(let n): scanned += n
                case .failure(let e):
                    d.setStatus(sized[i].id) { $0.state = .failed; $0.error = e.description }
                    if failure == nil { failure = e }
                }
            }
        }
        let now = options.clock.now()
        d.build.withLock { b in
            b.running = false
            b.finishedAt = now
            b.recordsScanned = scanned
            b.error = failure
        }
        let waiters = d.buildEnded.withLock { w in defer { w.removeAll() }; return w }
        for w in waiters { w.signal() }
    }

    func waitForIndex(_ table: Table, _ d: IndexDescriptor) throws(AugurError) {
        while true {
            try table.checkUsable()
            if d.dropped.load(ordering: .acquiring) { throw .indexNotFound(table: table.name, index: d.name) }
            let semaphore = DispatchSemaphore(value: 0)
            let state = d.build.withLock { b -> (running: Bool, error: AugurError?) in
                if b.running { d.buildEnded.withLock { $0.append(semaphore) } }
                return (b.running, b.error)
            }
            if !state.running {
                if let e = state.error { throw e }
                let status = Engine.indexStatus(table, d)
                if status.isReady { return }
                if d.currentExtractor == nil { throw .indexNotAttached(table: table.name, index: d.name) }
                startIndexBuild(table, d)           // a reshard made new parts after the last round
                continue
            }
            semaphore.wait()
        }
    }

    /// Builds `p`'s part of index `d`; returns the base records read (0 when skipped).
    private func buildIndexPart(_ table: Table, _ d: IndexDescriptor, _ p: Partition,
                                _ worker: BuildWorkerContext) throws(AugurError) -> Int {
        guard let extract = d.currentExtractor else { throw .indexNotAttached(table: table.name, index: d.name) }
        var runs: [Segment] = []
        let skip = try p.maintenanceLock.withLock { () throws(AugurError) -> Bool in
            if p.retired || p.indexesReady.contains(d.id) || d.dropped.load(ordering: .acquiring) { return true }
            try flusher.flushLocked(p)
            runs = p.view.runs
            return false
        }
        if skip { return 0 }
        let total = runs.reduce(0) { $0 + $1.recordCount }
        let started = options.clock.now()
        d.setStatus(p.id) { s in
            s.state = .building; s.recordsTotal = total; s.recordsScanned = 0; s.progress = 0
            s.worker = worker.index; s.node = worker.node
        }
        options.crashPoint?(.indexBuildStarted)
        // Extract.
        var entries = IndexEntryBuffer(expectedBytes: runs.reduce(0) { $0 + $1.storedBytes } / 4, worker: worker)
        defer { entries.release() }
        var cursor = MergedCursor(sources: runs.map { .segment(Segment.Cursor($0)) })
        cursor.position(start: nil, end: nil)
        var scanned = 0
        while cursor.isValid {
            if cursor.kind == .put {
                // The record's key is copied only for an error message, never per record.
                if let ik = try Engine.extractIndexKey(extract, d, cursor.key, Array(cursor.value), maxKeySize: options.maxKeySize) {
                    entries.append(indexKey: ik, primaryKey: cursor.key)
                }
            }
            scanned += 1
            if scanned & 0xFFFF == 0 {
                let n = scanned
                d.setStatus(p.id) { $0.recordsScanned = n; $0.progress = total > 0 ? min(0.99, Double(n) / Double(total)) : 0 }
            }
            cursor.advance()
        }
        entries.sort()
        // Write.
        let number = store.manifest.lock.withLock { store.manifest.allocateFileNumber() }
        let name = store.segmentName(partition: p.id, file: number)
        let path = joinPath(store.directory, name)
        store.filesInProgress.withLock { _ = $0.insert(name) }
        defer { store.filesInProgress.withLock { _ = $0.remove(name) } }
        var built: (segment: Segment, record: RunRecord)? = nil
        if entries.count > 0 {
            var size = 0
            do throws(FileSystemError) {
                let writer = try SegmentWriter(fileSystem: fileSystem, path: path, indexInterval: options.segmentIndexInterval,
                                               version: options.segmentFormatVersion)
                try entries.forEach { e throws(FileSystemError) in
                    try writer.add(kind: .put, key: e, value: UnsafeRawBufferPointer(start: nil, count: 0))
                }
                size = try writer.finish()
                try fileSystem.syncDirectory(store.directory)
            } catch {
                try? fileSystem.remove(path)
                throw AugurError(error)
            }
            do throws(AugurError) {
                built = (try Segment(fileSystem: fileSystem, path: path, name: name, expectedSize: size, onRemove: store.removalCrashPoint),
                         RunRecord(name: name, size: UInt64(size)))
            } catch {
                try? fileSystem.remove(path)
                throw error
            }
        }
        entries.release()
        options.crashPoint?(.indexBuildWritten)
        // Commit.
        let installed = try p.maintenanceLock.withLock { () throws(AugurError) -> Bool in
            // A drop holds every maintenance lock while it commits and sets `dropped`.
            if p.retired || d.dropped.load(ordering: .acquiring) { return false }
            let records = (p.indexRunRecords[d.id] ?? []) + (built.map { [$0.record] } ?? [])
            try store.commitEdits([.setIndexRuns(partitionID: p.id, indexID: d.id, runs: records, ready: true)])
            p.indexRunRecords[d.id] = records.isEmpty ? nil : records
            p.indexesReady.insert(d.id)
            if let built { p.updateView { v in v.indexRuns[d.id] = (v.indexRuns[d.id] ?? []) + [built.segment] } }
            return true
        }
        if !installed {
            try? fileSystem.remove(path)
            d.setStatus(p.id) { $0.state = .pending }
            return scanned
        }
        options.crashPoint?(.indexBuildCommitted)
        refineCostModel(p, bytes: runs.reduce(0) { $0 + $1.storedBytes }, records: scanned, nanos: options.clock.now() &- started)
        d.setStatus(p.id) { s in s.state = .ready; s.recordsScanned = scanned; s.progress = 1 }
        return scanned
    }
}

/// Index entries of one build: entry keys packed in one buffer (allocated by the worker on its
/// NUMA node), sorted through an array of (offset, length) words. No per-entry allocation.
struct IndexEntryBuffer {
    private var buffer: NumaBuffer?
    private var used = 0
    private var slots: [UInt64] = []          // offset << 24 | length
    private let worker: BuildWorkerContext

    init(expectedBytes: Int, worker: BuildWorkerContext) {
        self.worker = worker
        buffer = worker.allocateBuffer(max(1 << 16, expectedBytes))
    }

    var count: Int { slots.count }

    mutating func append(indexKey: [UInt8], primaryKey: UnsafeRawBufferPointer) {
        let length = IndexKey.escapedCount(indexKey) + 2 + primaryKey.count
        if used + length > buffer!.count { grow(to: used + length) }
        let at = buffer!.base + used
        var i = 0
        for b in indexKey {
            at.storeBytes(of: b, toByteOffset: i, as: UInt8.self)
            i += 1
            if b == 0 { at.storeBytes(of: 0xFF, toByteOffset: i, as: UInt8.self); i += 1 }
        }
        at.storeBytes(of: 0x00, toByteOffset: i, as: UInt8.self)
        at.storeBytes(of: 0x01, toByteOffset: i + 1, as: UInt8.self)
        if primaryKey.count > 0 { (at + i + 2).copyMemory(from: primaryKey.baseAddress!, byteCount: primaryKey.count) }
        slots.append(UInt64(used) << 24 | UInt64(length))
        used += length
    }

    private mutating func grow(to needed: Int) {
        var next = buffer!.count * 2
        while next < needed { next *= 2 }
        let bigger = worker.allocateBuffer(next)
        bigger.base.copyMemory(from: buffer!.base, byteCount: used)
        buffer = bigger
    }

    mutating func sort() {
        guard let buffer else { return }
        let base = UnsafeRawPointer(buffer.base)
        slots.sort { a, b in
            compareKeys(base + Int(a >> 24), Int(a & 0xFF_FFFF), base + Int(b >> 24), Int(b & 0xFF_FFFF)) < 0
        }
    }

    func forEach<E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> Void) throws(E) {
        guard let buffer else { return }
        for s in slots { try body(UnsafeRawBufferPointer(start: buffer.base + Int(s >> 24), count: Int(s & 0xFF_FFFF))) }
    }

    /// Frees the buffer (idempotent).
    mutating func release() {
        buffer = nil
        used = 0
        slots = []
    }
}
