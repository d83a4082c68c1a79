// Changing a live table's partitioning strategy (`Table.changeStrategy(to:)`): an online
// rewrite with the reshard's two-phase commit. Every record's partition key changes (the bucket
// bytes come or go), so unlike a split nothing can be shared or sliced: the table is rewritten.
//
//   0. take the table's `rewriteLock` (no bulk ingest meanwhile: it encodes keys long before
//      they are visible), queue on the reshard lane (one reshard at a time), flush every
//      partition under its maintenance lock and *protect* its runs (`Partition.protectedRuns`:
//      no flush merges into them from now on, so they stay exactly the data of this moment;
//      flushes go on above them, so writers never wait for the rewrite);
//   1. PREPARE: a `reshardPrepared` edit naming the sources and the target ids;
//   2. REWRITE the protected runs: stream each source's (newest version of each key;
//      tombstones dropped — nothing older lies below them), re-key each record (user key → new
//      partition key), sort in memory chunks of `chunkBytes` and write each chunk as one
//      segment file. Reads and writes go on meanwhile, into the sources;
//   3. CATCH UP in rounds: flush the sources, re-key the runs above the protected ones into
//      files, chunked as in 2 (tombstones kept: they hide records of the files before), protect them too; until a
//      round's runs are small (`finalCatchUpBytes`, or `maxCatchUpRounds`): that round keeps the
//      maintenance locks to the end. A round that did not halve the one before it means the
//      writers outpace the rewrite: each write to the table then waits a little before it
//      commits (`Table.writeDelayNanos`, doubling per such round), so the catch-up ends; and
//      while a source's flushes are behind (memtables at twice the flush size) each write waits
//      0.2 ms, so writers slow down instead of stopping at the write-stall limit;
//   4. CUTOVER, under every source's write gate: re-key what the memtables gained since the
//      last round into one more file (after syncing the WAL, as a flush does); one manifest record
//      removes the sources, adds the targets — each viewing its key range of every file, newest
//      file first, flushed up to the WAL's last sequence — and sets the strategy; swap the map
//      (with the new layout) and retire the sources. Writers that encoded a key in the old layout
//      find a retired partition or a map of another layout and encode it again
//      (`CommitOutcome.layoutChanged`); readers encode inside the read section, in the layout
//      of the map they read.
//
// Replay after a crash: before the commit record the new files are unreferenced (swept) and the
// plan is rolled back; after it, the targets' flush mark is the cutover's last sequence, so no
// record the old layout encoded is replayed into them. Any failure before the commit: the
// files are removed, the plan is recorded as aborted, the old partitions stay in charge.
//
// The pause writers see is step 4: one small file, its fsyncs and the manifest's (measured:
// docs/PERFORMANCE.md, `augur-bench --workload strategy-change`). A table with
// secondary indexes is refused (their entries name partition keys; they would be rebuilt).
import AugurStats
import AugurSys
import Synchronization

/// What a strategy change did (`Table.changeStrategy(to:partitions:)`).
public struct StrategyChangeSummary: Sendable, Equatable {
    public var from: PartitioningStrategy
    public var to: PartitioningStrategy
    /// Live records rewritten from the runs, and records (tombstones included) carried over
    /// from the memtables written meanwhile.
    public var recordsRewritten: Int
    public var recordsCaughtUp: Int
    /// Catch-up rounds before the cutover.
    public var catchUpRounds: Int
    /// Bytes of the segment files written.
    public var bytesWritten: Int
    /// Partitions before and after.
    public var partitionsBefore: Int
    public var partitionsAfter: Int
    /// How long writers of the table were held at the cutover.
    public var cutoverPauseNanos: UInt64
    /// The longest wait put before each write while the catch-up was not gaining on the
    /// writers (0: writers were never slowed).
    public var writeDelayNanos: Int
    public var seconds: Double
}

extension Table {
    /// Rewrites the table under `strategy` while reads and writes continue; writers pause only
    /// for the cutover (one small file and one manifest commit), and are slowed (each write
    /// waits up to `StrategyChange.maxWriteDelayNanos`) only while they outpace the rewrite's
    /// catch-up (`StrategyChangeSummary.writeDelayNanos` says by how much). `partitions`: how many the
    /// table has afterwards (default: as many as now, at least what `createTable` starts a hash
    /// table with); a hash table's are even bucket ranges, a range or composite table's hold
    /// equal shares of the data. Returns at once with nothing done when `strategy` is the
    /// table's. A bad strategy or count, a table with secondary indexes, a key the new layout
    /// cannot hold (shorter than a composite prefix, too long for the bucket bytes): a typed
    /// error, and the table is as it was.
    @discardableResult
    public func changeStrategy(to strategy: PartitioningStrategy, partitions: Int? = nil) throws(AugurError) -> StrategyChangeSummary {
        try checkUsable()
        if engine.options.readOnly { throw .writesDisabled(reason: Recovery.readOnlyReason) }
        if let problem = strategy.problem { throw .invalidOption(name: "strategy", value: strategy.description, reason: problem) }
        if let partitions {
            let limit = strategy == .range || strategy.prefixLength > 0 ? StrategyChange.maxPartitions : strategy.buckets
            guard (1...limit).contains(partitions) else {
                throw .invalidOption(name: "partitions", value: String(partitions),
                                     reason: "a \(strategy.description) table is rewritten into 1...\(limit) partitions")
            }
        }
        rewriteLock.lock()
        defer { rewriteLock.unlock() }
        let started = MonotonicClock.nanos()
        let current = map
        if current.layout.strategy == strategy {
            return StrategyChangeSummary(from: strategy, to: strategy, recordsRewritten: 0, recordsCaughtUp: 0, catchUpRounds: 0, bytesWritten: 0,
                                         partitionsBefore: current.partitions.count, partitionsAfter: current.partitions.count,
                                         cutoverPauseNanos: 0, writeDelayNanos: 0, seconds: 0)
        }
        if hasIndexes.load(ordering: .acquiring) { throw StrategyChange.indexedTable(self) }
        let executor = engine.reshards
        var summary = try executor.queue.sync { [self] in
            Result { () throws(AugurError) in try executor.changeStrategy(self, to: strategy, partitions: partitions) }
        }.get()
        summary.seconds = Double(MonotonicClock.nanos() &- started) / 1e9
        return summary
    }
}

/// Limits and errors of a strategy change.
enum StrategyChange {
    /// Most partitions a range or composite table is rewritten into.
    static let maxPartitions = 4096
    /// Bytes of re-keyed records sorted in memory before they are written as one file.
    static let chunkBytes = 64 << 20
    /// A catch-up round whose runs hold at most this much is the last: what writers add while
    /// it is re-keyed is the cutover's tail, written while they wait.
    static let finalCatchUpBytes = 4 << 20
    /// Catch-up rounds at most (writers faster than the rewrite would never let it finish).
    static let maxCatchUpRounds = 8
    /// A round that did not halve what the one before it re-keyed is not gaining on the writers:
    /// each write to the table then waits this long first, twice as long after every such
    /// round, at most `maxWriteDelayNanos` (writers are slowed, never stopped, until the end).
    static let firstWriteDelayNanos = 50_000
    static let maxWriteDelayNanos = 2_000_000
    /// While a source's memtables hold twice the flush size (its flushes are behind, half way to
    /// the write-stall limit), each write waits at least this long: a writer slowed by a
    /// fraction of a millisecond per write instead of stopped for seconds at the limit (the
    /// rewrite and the flushes share the background CPU).
    static let backlogWriteDelayNanos = 200_000

    static func indexedTable(_ table: Table) -> AugurError {
        .invalidOption(name: "table", value: table.name,
                       reason: "a table with secondary indexes cannot change strategy (their entries name partition keys); drop its indexes first")
    }
}

/// Records re-keyed into the new layout, sorted in memory, written as segment files: the
/// rewrite's files, newest last. Used by one thread at a time (the reshard lane, then the
/// cutover lane while the reshard lane waits for it).
private final class RekeyedFiles: @unchecked Sendable {
    let old: KeyLayout
    let new: KeyLayout
    let maxKeySize: Int
    var files: [Segment] = []
    var bytesWritten = 0
    /// Keys spread through the written files with the bytes each stands for: where a range or
    /// composite table's new boundaries go.
    var samples: [(key: [UInt8], bytes: Int)] = []

    init(old: KeyLayout, new: KeyLayout, maxKeySize: Int) {
        self.old = old
        self.new = new
        self.maxKeySize = maxKeySize
    }

    /// Adds a record (partition key in the old layout) to `chunk`, re-keyed.
    func add(_ kind: RecordKind, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, seq: UInt64,
             to chunk: Memtable) throws(AugurError) {
        let user = old.userKey(key)
        do throws(AugurError) {
            try user.withUnsafeBytes { u in
                Result { () throws(AugurError) in
                    try new.withPartitionKey(u, maxKeySize: maxKeySize) { pk throws(AugurError) in
                        chunk.apply(key: pk, seq: seq, kind: kind, value: value)
                    }
                }
            }.get()
        } catch {
            // The layout's own check refused it; said as what stops the change, naming the key.
            let limit: String
            switch error {
            case .keyTooShort(_, let minimum): limit = "at least \(minimum) bytes (its prefix length)"
            case .keyTooLarge(_, let most): limit = "at most \(most) bytes (the key size limit less the bucket bytes)"
            default: throw error
            }
            throw .invalidOption(name: "strategy", value: new.strategy.description,
                                 reason: "key \(formatKey(user)) has \(user.count) bytes; a \(new.strategy.kind) key has \(limit)")
        }
    }

    /// Writes `chunk` as one segment file (nothing when it is empty).
    func write(_ chunk: Memtable, keepTombstones: Bool, store: SegmentStore, owner: UInt64) throws(AugurError) {
        if chunk.isEmpty { return }
        let sampleEvery = max(1, chunk.approximateBytes / 256)
        var since = 0
        var picked: [(key: [UInt8], bytes: Int)] = []
        let written = try store.writeSegment(partitionID: owner) { writer throws(FileSystemError) in
            var c = MergedCursor(sources: [.memtable(Memtable.Cursor(chunk))])
            c.position(start: nil, end: nil)
            while c.isValid {
                if keepTombstones || c.kind == .put {
                    try writer.add(kind: c.kind, key: c.key, value: c.value)
                    since += c.key.count + c.value.count
                    if since >= sampleEvery {
                        picked.append((Array(c.key), since))
                        since = 0
                    }
                }
                c.advance()
            }
        }
        guard let written else { return }
        files.append(written.segment)
        samples += picked
        bytesWritten += Int(written.record.size)
    }

    /// Up to `count - 1` strictly increasing cut keys that give each piece about an equal share
    /// of the sampled bytes.
    func dataCuts(count: Int) -> [[UInt8]] {
        guard count > 1 else { return [] }
        let sorted = samples.sorted { compareKeys($0.key, $1.key) < 0 }
        let total = sorted.reduce(0) { $0 + $1.bytes }
        guard total > 0 else { return [] }
        var cuts: [[UInt8]] = []
        var sum = 0
        for s in sorted {
            sum += s.bytes
            let wanted = cuts.count + 1
            if wanted >= count { break }
            if sum * count >= wanted * total, cuts.last.map({ compareKeys($0, s.key) < 0 }) ?? true, !s.key.isEmpty {
                cuts.append(s.key)
            }
        }
        return cuts
    }
}

extension ReshardExecutor {
    /// The strategy change proper (the protocol at the top of this file), on the reshard lane.
    func changeStrategy(_ table: Table, to strategy: PartitioningStrategy, partitions: Int?) throws(AugurError) -> StrategyChangeSummary {
        while true {
            try table.checkUsable()
            let map = table.map
            let sources = map.partitions
            let ordered = sources.sorted { $0.id < $1.id }
            for p in ordered { p.maintenanceLock.lock() }
            if sources.contains(where: { $0.retired }) {       // a reshard changed the map: again
                for p in ordered.reversed() { p.maintenanceLock.unlock() }
                continue
            }
            do throws(AugurError) {
                if table.hasIndexes.load(ordering: .acquiring) { throw StrategyChange.indexedTable(table) }
                for p in sources { try flusher.flushLocked(p) }
            } catch {
                for p in ordered.reversed() { p.maintenanceLock.unlock() }
                throw error
            }
            // The runs of now are the rewrite's base: no flush merges into them from here on.
            let base = sources.map(\.view.runs)
            for p in sources { p.protectedRuns = p.view.runs.count }
            for p in ordered.reversed() { p.maintenanceLock.unlock() }
            do throws(AugurError) {
                return try rewrite(table, map, base: base, to: strategy, partitions: partitions)
            } catch {
                for p in ordered {
                    p.maintenanceLock.withLock { p.protectedRuns = 0 }
                    flusher.scheduleFlush(p)
                }
                throw error
            }
        }
    }

    /// Steps 1-4 of the protocol; `base`: each source's runs when the rewrite began (protected).
    private func rewrite(_ table: Table, _ map: PartitionMap, base: [[Segment]], to strategy: PartitioningStrategy,
                         partitions: Int?) throws(AugurError) -> StrategyChangeSummary {
        let sources = map.partitions
        let ordered = sources.sorted { $0.id < $1.id }
        let new = KeyLayout(strategy)
        let count: Int
        switch strategy {
        case .hash(let buckets): count = partitions ?? min(buckets, max(sources.count, min(4, buckets)))
        case .range, .composite: count = partitions ?? sources.count
        }
        let rekeyed = RekeyedFiles(old: map.layout, new: new, maxKeySize: options.maxKeySize)
        let (planID, targetIDs) = store.manifest.lock.withLock {
            (store.manifest.allocateFileNumber(), (0..<count).map { _ in store.manifest.allocatePartitionID() })
        }
        try store.commitEdits([.reshardPrepared(ReshardRecord(planID: planID, tableID: table.id, sources: sources.map(\.id),
                                                               targets: targetIDs, files: []))])
        options.crashPoint?(.reshardPrepared)
        // The sources' maintenance locks, once the last catch-up round takes them (until the end).
        var maintenanceHeld = false
        defer { if maintenanceHeld { for p in ordered.reversed() { p.maintenanceLock.unlock() } } }
        let owner = targetIDs[0]
        var rewritten = 0, caughtUp = 0, maxWriteDelay = 0, rounds = 0
        // The write delay: what the catch-up set (not gaining on the writers), raised while the
        // sources' flushes are behind. Checked every 4,096 records re-keyed.
        var catchUpDelay = 0
        func throttle() {
            let behind = sources.contains { p in
                p.view.memtableBytes >= EngineOptions.saturatingTimes(2, options.memtableFlushSize)
            }
            let delay = max(catchUpDelay, behind ? StrategyChange.backlogWriteDelayNanos : 0)
            table.writeDelayNanos.store(delay, ordering: .relaxed)
            maxWriteDelay = max(maxWriteDelay, delay)
        }
        do throws(AugurError) {
            // REWRITE the runs of the start.
            rewritten = try rekey(sources, layers: base.map { $0.map { .segment(Segment.Cursor($0)) } }, into: rekeyed,
                                  keepTombstones: false, seed: planID, owner: owner, table: table, progress: throttle)
            options.crashPoint?(.reshardCopied)
            // CATCH UP in rounds, writes and flushes going on: each round flushes the sources
            // and re-keys the runs above the protected ones (tombstones kept: they hide records
            // of older files), then protects those too. The last round — its runs small, or the
            // eighth — keeps the maintenance locks through the cutover.
            defer { table.writeDelayNanos.store(0, ordering: .relaxed) }
            var previousBytes = Int.max
            for round in 1... {
                try table.checkUsable()
                for p in ordered { p.maintenanceLock.lock() }
                maintenanceHeld = true
                for p in sources { try flusher.flushLocked(p) }
                let delta = sources.map { p in Array(p.view.runs.prefix(p.view.runs.count - p.protectedRuns)) }
                for p in sources { p.protectedRuns = p.view.runs.count }
                let bytes = delta.joined().reduce(0) { $0 + $1.dataLength }
                let last = bytes <= StrategyChange.finalCatchUpBytes || round >= StrategyChange.maxCatchUpRounds
                if !last && bytes > previousBytes / 2 {
                    catchUpDelay = min(StrategyChange.maxWriteDelayNanos,
                                       catchUpDelay == 0 ? StrategyChange.firstWriteDelayNanos : catchUpDelay * 2)
                }
                throttle()
                previousBytes = bytes
                if !last {
                    for p in ordered.reversed() { p.maintenanceLock.unlock() }
                    maintenanceHeld = false
                }
                caughtUp += try rekey(sources, layers: delta.map { $0.map { .segment(Segment.Cursor($0)) } }, into: rekeyed,
                                      keepTombstones: true, seed: planID &+ UInt64(round), owner: owner, table: table,
                                      progress: last ? nil : throttle)
                options.crashPoint?(.reshardCopied)
                rounds = round
                if last { break }
            }

            // CUTOVER, on the cutover lane (at the opening thread's priority, as a reshard's).
            let ranges = targetRanges(strategy, count: count, rekeyed: rekeyed)
            let (tail, pause) = try cutoverLane.sync { [self] in
                Result { () throws(AugurError) in
                    try cutOverStrategy(table, sources: sources, layout: new, targetIDs: targetIDs, ranges: ranges,
                                        files: rekeyed, planID: planID)
                }
            }.get()
            options.crashPoint?(.reshardMapSwapped)
            return StrategyChangeSummary(from: map.layout.strategy, to: strategy, recordsRewritten: rewritten,
                                         recordsCaughtUp: caughtUp + tail, catchUpRounds: rounds, bytesWritten: rekeyed.bytesWritten,
                                         partitionsBefore: sources.count, partitionsAfter: ranges.count,
                                         cutoverPauseNanos: pause, writeDelayNanos: maxWriteDelay, seconds: 0)
        } catch {
            for f in rekeyed.files {
                f.markObsolete()
                try? fileSystem.remove(joinPath(store.directory, f.file.name))
                store.filesInProgress.withLock { _ = $0.remove(f.file.name) }
            }
            do throws(AugurError) { try store.commitEdits([.reshardFinished(planID: planID, committed: false)]) } catch {
                lifecycle.record(error)
            }
            throw error
        }
    }

    /// Re-keys `layers` (per source, newest first: runs or memtables) into files of at most
    /// `chunkBytes` sorted in memory: the newest version of each key of each source's range,
    /// tombstones only when `keepTombstones`. After each full chunk: a crash point and, with a
    /// `table`, a stop if it was dropped or the engine closed; every 4,096 records, `progress`.
    /// Returns the records re-keyed.
    private func rekey(_ sources: [Partition], layers: [[SourceCursor]], into rekeyed: RekeyedFiles, keepTombstones: Bool,
                       seed: UInt64, owner: UInt64, table: Table?, progress: (() -> Void)? = nil) throws(AugurError) -> Int {
        var chunk = Memtable(seed: seed | 1)
        var records = 0
        for (i, p) in sources.enumerated() where !layers[i].isEmpty {
            var cursor = MergedCursor(sources: layers[i])
            cursor.position(start: p.lowerBound.isEmpty ? nil : p.lowerBound, end: p.upperBound)
            while cursor.isValid {
                if let u = p.upperBound, u.withUnsafeBytes({ compareKeys(cursor.key, $0) }) >= 0 { break }
                if keepTombstones || cursor.kind == .put {
                    try rekeyed.add(cursor.kind, cursor.key, cursor.value, seq: 1, to: chunk)
                    records += 1
                    if records & 4095 == 0 { progress?() }
                }
                cursor.advance()
                if chunk.approximateBytes >= StrategyChange.chunkBytes {
                    try rekeyed.write(chunk, keepTombstones: keepTombstones, store: store, owner: owner)
                    options.crashPoint?(.reshardCopied)
                    try table?.checkUsable()
                    chunk = Memtable(seed: seed | 1)
                }
            }
        }
        try rekeyed.write(chunk, keepTombstones: keepTombstones, store: store, owner: owner)
        return records
    }

    /// The targets' key ranges: even bucket ranges for a hash table, equal shares of the data
    /// otherwise.
    private func targetRanges(_ strategy: PartitioningStrategy, count: Int, rekeyed: RekeyedFiles) -> [(lower: [UInt8], upper: [UInt8]?)] {
        let cuts: [[UInt8]] = if case .hash = strategy { strategy.bucketCuts(count: count) } else { rekeyed.dataCuts(count: count) }
        let bounds: [[UInt8]] = [[]] + cuts
        return bounds.indices.map { i in (bounds[i], i + 1 < bounds.count ? bounds[i + 1] : nil) }
    }

    /// Step 4 of the protocol: under every source's gate, the tail file, the commit record, the
    /// map swap. Returns the tail's records and the pause.
    private func cutOverStrategy(_ table: Table, sources: [Partition], layout: KeyLayout, targetIDs: [UInt64],
                                 ranges: [(lower: [UInt8], upper: [UInt8]?)], files rekeyed: RekeyedFiles,
                                 planID: UInt64) throws(AugurError) -> (Int, UInt64) {
        let gated = sources.sorted { $0.id < $1.id }
        _ = acquireGates(gated)
        let pauseStart = options.clock.now()
        var gatesHeld = true
        defer { if gatesHeld { for p in gated.reversed() { p.gate.unlock() } } }
        // Nothing else may have changed the table meanwhile (every way to do so waits for the
        // maintenance locks or the rewrite lock, or makes the table indexed).
        if table.hasIndexes.load(ordering: .acquiring) { throw StrategyChange.indexedTable(table) }
        let current = table.map.partitions
        guard current.count == sources.count, zip(current, sources).allSatisfy({ $0 === $1 }) else {
            throw .invalidOption(name: "table", value: table.name, reason: "its partitions changed during the strategy change")
        }
        let upTo = wal.lastSequence
        // The WAL first, as a flush does: the memtables may hold part of a batch whose frame is
        // not yet synced.
        try wal.syncCurrent()
        let tail = try rekey(sources, layers: sources.map { p in
            let v = p.view
            return ([v.memtable] + v.frozen.map(\.memtable)).filter { !$0.isEmpty }.map { .memtable(Memtable.Cursor($0)) }
        }, into: rekeyed, keepTombstones: true, seed: planID &+ 1_000, owner: targetIDs[0], table: nil)
        options.crashPoint?(.reshardTargetsSynced)
        // Each target views its range of every file, newest file first.
        let targetRuns = ranges.map { range in rekeyed.files.reversed().compactMap { $0.restricted(lower: range.lower, upper: range.upper) } }
        let records = ranges.indices.map { t in
            PartitionRecord(id: targetIDs[t], tableID: table.id, lowerBound: ranges[t].lower, upperBound: ranges[t].upper,
                            runs: targetRuns[t].map(\.runRecord), flushedSeq: upTo)
        }
        // Ids of targets the data cuts left out (fewer distinct cut keys than asked) stay unused.
        var edits: [VersionEdit] = sources.map { .removePartition(id: $0.id) }
        edits += records.map { .addPartition($0) }
        edits += [.setStrategy(tableID: table.id, strategy: layout.strategy), .reshardFinished(planID: planID, committed: true)]
        do throws(AugurError) {
            try store.commitEdits(edits)
        } catch {
            // The record may have reached the disk: the files stay for a later sweep to judge.
            for f in rekeyed.files { store.filesInProgress.withLock { _ = $0.remove(f.file.name) } }
            store.needsFileSweep.store(true, ordering: .releasing)
            rekeyed.files = []
            throw error
        }
        options.crashPoint?(.reshardCommitted)
        let targets = records.indices.map { t in
            Partition(record: records[t], runs: targetRuns[t],
                      histogram: KeyHistogram(lowerBound: records[t].lowerBound, upperBound: records[t].upperBound,
                                              options: options.telemetry.histogram))
        }
        table.swapMap { _ in PartitionMap(targets, layout: layout) }
        for p in sources { p.retire() }
        for p in gated.reversed() { p.gate.unlock() }
        gatesHeld = false
        let pause = options.clock.now() &- pauseStart
        for f in rekeyed.files {
            store.filesInProgress.withLock { _ = $0.remove(f.file.name) }
            // A file no target views whole is read through narrowed views only.
            if !targetRuns.contains(where: { $0.contains { $0 === f } }) { f.markObsolete() }
        }
        for p in sources {
            let v = p.view
            for s in v.runs { s.markObsolete() }
        }
        if let telemetry {
            for p in sources { telemetry.remove(p) }
            telemetry.register(targets)
        }
        return (tail, pause)
    }
}
