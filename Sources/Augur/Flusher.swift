// The flusher: flushes memtables to segment runs, merges runs, trims the WAL behind the
// flushes, and makes writers wait when a partition's flush falls behind (WriteStall.swift).
//
// Threading: two lanes of lowered priority (`EngineOptions.backgroundNice`). Flushes and trims
// run one at a time on `queue`, the flush lane; the merges that keep a partition's run count
// bounded run on `mergeQueue`, the merge lane. A flush from the flush lane merges as it writes
// only when the merge is small (`inlineMergeBytes`); otherwise it writes its memtable as a run
// of its own and leaves the merge to the merge lane — unless the partition already holds
// `runsBeforeInlineMerge` runs and no merge of it is under way (the merge lane is that far
// behind: then it merges as it writes, and the run count stays bounded). A merge holds the
// partition's `maintenanceLock` only to choose its runs and to commit: while it writes, the
// partition's flushes go on (prepending runs), and the commit replaces the merged runs where
// they now are — or, if a reshard, a strategy change or an inline merge changed them meanwhile,
// drops the merged file. Why: a merge of a large partition takes seconds, and with merges inside
// flushes, on one lane and under the lock, neither that partition nor any other flushed
// meanwhile; a memtable reached the stall limit and its writers waited (10 M random puts at one
// thread: one to three stalls of 0.7-2.0 s per run). `flush(_:)` runs on the caller's thread
// and merges inline; a reshard's `flushLocked(_:mergeLater:)` of its sources leaves large merges
// like the flush lane. A partition's flushes never overlap (`maintenanceLock`).
// A freeze takes the partition's write gate exclusive for microseconds; nothing else here
// blocks writers. Depends on the segment store, the WAL, the table registry and the
// engine's lifecycle — never on the engine itself.
//
// Flush of a partition:
//   1. freeze: under the exclusive write gate (microseconds) the active memtable becomes
//      frozen with `upToSeq` = the WAL's last sequence number — every write to this partition
//      with seq ≤ upToSeq is in it, because writers hold the gate shared from taking their
//      sequence number until they have inserted. The writer whose write fills the memtable to
//      the flush size freezes it (`freezeFull`, at the writer's priority, not the lane's),
//      when no earlier frozen memtable still waits; otherwise the flush lane does, and an
//      explicit flush freezes whatever the memtable holds;
//   2. write the frozen memtable as a new run — when the partition already has
//      `maxRunsPerPartition` runs, merged with the newest runs `RunMergePolicy` picks (with
//      all of them the result is a base run without tombstones) — fdatasync it and the
//      directory;
//   3. commit `setRuns(…, flushedSeq: upToSeq)` to the manifest;
//   4. install the run, drop the frozen memtable, mark replaced runs obsolete.
// A failure before 3 removes the new file and leaves the frozen memtable to be retried.
//
// Resource bounds. A partition's flush is triggered by its own memtable's size, which bounds
// neither the engine's memory nor its log: with many partitions every memtable fills toward the
// flush size together, and a partition written once and then left alone never flushes, so its
// unflushed write keeps every later WAL segment (the trim keeps a prefix). After every WAL roll
// (`WriteAheadLog.rollObserver`) the flush lane checks both (`enforceBounds`): past
// `maxWALBytes` it flushes the partitions whose unflushed writes keep the oldest segments, past
// `memtableBudgetBytes` the largest memtables. At a roll: once per segment of writes; what a
// writer does there is an atomic exchange, a mutex read and one job queued on the lane.
import AugurStats
import AugurSys
import Logging
import Synchronization

final class Flusher: Sendable {
    private let store: SegmentStore
    let wal: WriteAheadLog
    private let tables: TableRegistry
    let lifecycle: EngineLifecycle
    private let metrics: EngineMetrics
    private let readOnly: Bool
    private let maxRunsPerPartition: Int
    private let crashPoint: (@Sendable (CrashPoint) -> Void)?
    /// Flushes and WAL trims, one at a time, on a thread of lowered priority (`backgroundNice`).
    let queue: BackgroundLane
    /// Merges of runs left by flushes, one at a time (see the top of this file).
    let mergeQueue: BackgroundLane
    /// Runs a partition may hold while its merge waits for the merge lane: a flush from the
    /// flush lane at this count merges inline. Twice the bound: the key filters keep a get's
    /// extra runs cheap (a filter probe each), and the bound holds again once the merge runs.
    let runsBeforeInlineMerge: Int
    /// The largest merge (bytes of the memtable and the runs merged) a flush from the flush
    /// lane does itself; larger ones go to the merge lane. Four flush sizes: while the flush
    /// lane merges, every partition's memtable fills, and the stall limit lies three flush sizes
    /// past the flush trigger; merged into the flush, a memtable is written once instead of
    /// twice (leaving every merge to the merge lane raised the write amplification of 10 M
    /// random puts from 3.8-4.0 to 4.1-4.2).
    let inlineMergeBytes: Int
    /// Tests: runs on the merge lane between a merge's write and its commit (a slow merge,
    /// so that flushes and reshards land in between).
    let beforeMergeCommit = Mutex<(@Sendable () -> Void)?>(nil)
    /// Active-memtable bytes at which a partition's flush is scheduled.
    let flushSize: Int
    /// Active-memtable bytes at which a writer waits for its partition's flush (WriteStall.swift).
    let stallSize: Int
    /// Active-memtable bytes past which a partition's writers are slowed (WritePacing.swift).
    let slowdownSize: Int
    /// The flushes' measured speed in memtable bytes per second (0: none measured yet).
    let flushSpeed = Atomic<UInt64>(0)
    let stallMeter = WriteStallMeter()
    /// Memtable bytes of all partitions past which the largest are flushed (`memtableBudgetBytes`).
    let memtableBudget: Int
    /// Log bytes past which the partitions that keep the oldest segments are flushed (`maxWALBytes`).
    let maxWALBytes: Int
    /// A bounds check is queued on the flush lane (one covers every roll until it runs).
    private let boundsCheckQueued = Atomic<Bool>(false)

    init(store: SegmentStore, wal: WriteAheadLog, tables: TableRegistry, lifecycle: EngineLifecycle, metrics: EngineMetrics,
         options: EngineOptions) {
        self.store = store
        self.wal = wal
        self.tables = tables
        self.lifecycle = lifecycle
        self.metrics = metrics
        readOnly = options.readOnly
        maxRunsPerPartition = options.maxRunsPerPartition
        crashPoint = options.crashPoint
        queue = BackgroundLane(name: "augur.maint", nice: options.backgroundNice, placement: wal.lanePlacement)
        mergeQueue = BackgroundLane(name: "augur.merge", nice: options.backgroundNice, placement: wal.lanePlacement)
        runsBeforeInlineMerge = 2 * options.maxRunsPerPartition
        inlineMergeBytes = EngineOptions.saturatingTimes(4, options.memtableFlushSize)
        flushSize = options.memtableFlushSize
        stallSize = options.effectiveWriteStallBytes
        slowdownSize = options.effectiveWriteSlowdownBytes
        memtableBudget = options.effectiveMemtableBudget
        maxWALBytes = options.effectiveMaxWALBytes
    }

    /// Queues a check of the resource bounds on the flush lane (see the top of this file).
    func scheduleBoundsCheck() {
        if readOnly || boundsCheckQueued.exchange(true, ordering: .acquiringAndReleasing) { return }
        queue.async { [self] in
            boundsCheckQueued.store(false, ordering: .releasing)
            if lifecycle.isClosed { return }
            do throws(AugurError) { try enforceBounds() } catch { lifecycle.record(error) }
        }
    }

    /// Flushes what the log and memory bounds need flushed (see the top of this file). Runs on
    /// the flush lane. A partition whose flush fails is recorded (`lifecycle.record`) and
    /// passed over: one bad partition must not switch both bounds off for the others.
    func enforceBounds() throws(AugurError) {
        var flushes = 0
        var flushedSinceTrim = false
        /// Flushes `p` when `needed` holds under its maintenance lock (which guards its flush
        /// mark and its retirement).
        func flushOnLane(_ p: Partition, when needed: (Partition) -> Bool) {
            do throws(AugurError) {
                let did = try p.maintenanceLock.withLock { () throws(AugurError) -> Bool in
                    guard !p.retired, needed(p) else { return false }
                    try flushLocked(p, mergeLater: true)
                    return true
                }
                if did {
                    mergeIfNeeded(p)
                    flushes += 1
                    flushedSinceTrim = true
                }
            } catch {
                lifecycle.record(error)
            }
        }
        defer { metrics.boundsFlushed(flushes) }
        // The log: while it is over the bound, flush every partition whose unflushed writes may
        // lie in the oldest kept segment (its flush mark below that segment's last sequence),
        // then trim. Stops when a round frees nothing (a segment kept for another reason, such
        // as a pending seal, goes at a later check).
        while wal.keptBytes > maxWALBytes, let oldest = wal.oldestKeptMaxSeq {
            let before = wal.keptBytes
            for table in tables.all {
                for p in table.map.partitions {
                    if lifecycle.isClosed { return }
                    flushOnLane(p) { $0.flushedSeq < oldest && $0.view.hasMemtableData }
                }
            }
            try trimWAL()
            flushedSinceTrim = false
            if wal.keptBytes >= before { break }
        }
        // Memory: over the budget, flush the largest memtables until a quarter of the budget is
        // free again (so that the next roll does not find it over at once). Counted as the
        // partition's own flush trigger counts it — active and frozen layers, index layers
        // included — with a layer that a reshard's targets share (carried from their source
        // until they flush) counted once.
        var sizes: [(partition: Partition, bytes: Int)] = []
        var seen: Set<ObjectIdentifier> = []
        var total = 0
        func count(_ m: Memtable) -> Int { seen.insert(ObjectIdentifier(m)).inserted ? m.approximateBytes : 0 }
        for table in tables.all {
            for p in table.map.partitions {
                let v = p.view
                var bytes = count(v.memtable) + v.indexMemtables.values.reduce(0) { $0 + count($1) }
                for f in v.frozen { bytes += count(f.memtable) + f.indexes.values.reduce(0) { $0 + count($1) } }
                if bytes > 0 { sizes.append((p, bytes)); total += bytes }
            }
        }
        if total > memtableBudget {
            let target = memtableBudget - memtableBudget / 4
            for (p, bytes) in sizes.sorted(by: { $0.bytes > $1.bytes }) where total > target {
                if lifecycle.isClosed { return }
                flushOnLane(p) { $0.view.hasMemtableData }
                total -= bytes
            }
        }
        if flushedSinceTrim { try trimWAL() }
    }

    /// Queues a flush of `p` (once: a flush already queued covers it), then a WAL trim; the
    /// merge the flush leaves goes to the merge lane.
    func scheduleFlush(_ p: Partition) {
        if p.flushQueued.exchange(true, ordering: .acquiringAndReleasing) { return }
        queue.async { [self] in
            p.flushQueued.store(false, ordering: .releasing)
            if lifecycle.isClosed { return }
            do throws(AugurError) {
                // The active memtable only when it is due: a writer usually froze it already.
                try p.maintenanceLock.withLock { () throws(AugurError) in try flushLocked(p, mergeLater: true, freezeFrom: flushSize) }
                mergeIfNeeded(p)
                try trimWAL()
            } catch {
                lifecycle.record(error)
            }
        }
    }

    /// Whether a partition with `runs` holds more than the bound, or a run a merge should
    /// rewrite to free a mostly unviewed shared file.
    private func needsMerge(_ runs: [Segment]) -> Bool {
        runs.count > maxRunsPerPartition || runs.contains(where: \.holdsMostlyDeadFile)
    }

    /// Queues a merge of `p` when it holds more runs than the bound (or a mostly dead shared run).
    func mergeIfNeeded(_ p: Partition) {
        if needsMerge(p.view.runs) { scheduleMerge(p) }
    }

    /// Queues a merge of `p`'s newest runs on the merge lane (once: a merge already queued
    /// covers it).
    func scheduleMerge(_ p: Partition) {
        if p.mergeQueued.exchange(true, ordering: .acquiringAndReleasing) { return }
        mergeQueue.async { [self] in
            p.mergeQueued.store(false, ordering: .releasing)
            if lifecycle.isClosed { return }
            do throws(AugurError) {
                try mergeRuns(p)
            } catch {
                lifecycle.record(error)
            }
        }
    }

    /// Returns once the flushes and merges queued so far, and what they queued in turn (a
    /// flush its merge, a merge the flush it left), have run.
    func drain() {
        for _ in 0..<3 {
            queue.sync {}
            mergeQueue.sync {}
        }
    }

    /// Flushes `p`'s memtable (and any frozen ones) to segment runs.
    func flush(_ p: Partition) throws(AugurError) {
        try p.maintenanceLock.withLock { () throws(AugurError) in try flushLocked(p) }
    }

    /// `flush` for a caller that holds `p.maintenanceLock`. `mergeLater`: merge only when the
    /// merge is small, and leave a larger one to the merge lane while the partition holds fewer
    /// than `runsBeforeInlineMerge` runs (the flush lane's flushes and a reshard's).
    /// `minimumBytes` > 0: the active memtable is frozen only when it holds that much (the
    /// flush lane's scheduled flushes, after a writer froze the full one: `freezeFull`);
    /// 0: whenever it holds anything.
    func flushLocked(_ p: Partition, mergeLater: Bool = false, freezeFrom minimumBytes: Int = 0) throws(AugurError) {
        if readOnly { throw .writesDisabled(reason: Recovery.readOnlyReason) }
        if p.retired { return }
        do {
            p.gate.lockExclusive()
            let current = p.view
            // Index layers count, as in `afterWrite`: a writer past the stall limit waits for this freeze.
            let due = minimumBytes > 0 ? current.activeBytes >= minimumBytes
                : !current.memtable.isEmpty || current.indexMemtables.values.contains(where: { !$0.isEmpty })
            if due { freezeLocked(p) }
            p.gate.unlock()
            // Flush and merge time is the partition's cost too: a partition whose every flush
            // rewrites a large run is expensive even at a modest operation rate. Charged as the
            // work proceeds (see MaintenanceCharge), so a long merge shows as load over the
            // seconds it ran, not as one second of several seconds' work.
            let charge = MaintenanceCharge(meter: p.cost)
            defer { charge.chargeElapsed() }
            // Only the memtables frozen by now. Writers freeze more while this runs
            // (`freezeFull`, each with a flush scheduled): a loop over whatever is frozen could
            // chase a writer that freezes in the moment between one flush and the next check,
            // for as long as it fills memtables as fast as they are flushed (found in review;
            // the window is too narrow for a test to hit at will).
            var pending = p.view.frozen.count
            while pending > 0, let oldest = p.view.frozen.last {
                try flushFrozen(p, oldest, mergeLater: mergeLater, charge: charge)
                pending -= 1
            }
        }
    }

    /// Moves `p`'s active memtable and its index layers to the front of the frozen ones and
    /// starts empty ones. Caller holds `p.gate` exclusive: every write with a sequence up to
    /// the log's last is then in the memtables frozen here or before (what makes the flush
    /// mark exact).
    func freezeLocked(_ p: Partition) {
        let upTo = wal.lastSequence
        p.updateView { v in
            v.frozen.insert(FrozenMemtable(memtable: v.memtable, upToSeq: upTo,
                                           indexes: v.indexMemtables.filter { !$0.value.isEmpty }), at: 0)
            v.memtable = Memtable(seed: upTo | 1)
            v.indexMemtables = [:]
        }
    }

    /// A writer whose write filled `memtable` to the flush size freezes it itself, when no
    /// other frozen memtable of `p` waits for its flush; the flush lane then writes it out.
    ///
    /// Why the writer: the freeze holds the partition's gate exclusive, so every writer of the
    /// partition waits for it. Done on the lowered flush lane, the freeze could be left
    /// waiting for the CPU while it held the gate (a priority inversion: perf sched showed the
    /// writer of the 60-s fillrandom asleep 5-6 ms on the gate, woken by the flush lane); the
    /// writer runs at its own priority and holds the gate for microseconds. With a frozen
    /// memtable still unflushed it leaves the active one growing: the flush lane freezes it
    /// once that flush is done, and a writer past the stall limit waits for that, so memory
    /// stays bounded as before.
    func freezeFull(_ p: Partition, _ memtable: Memtable) {
        guard p.isActive(memtable), p.frozenMemtables == 0, !p.retired else { return }
        p.gate.lockExclusive()
        defer { p.gate.unlock() }
        guard p.isActive(memtable), p.frozenMemtables == 0, !p.retired, !lifecycle.isClosed else { return }
        freezeLocked(p)
    }

    private func flushFrozen(_ p: Partition, _ frozen: FrozenMemtable, mergeLater: Bool, charge: MaintenanceCharge) throws(AugurError) {
        // The WAL first: the frozen memtable may hold part of a batch whose frame is not yet
        // synced (its writer waits for group commit after releasing the gates). A run made
        // durable before that frame would keep this partition's part of the batch after a power
        // cut and lose the rest (found by augur-crash). One fdatasync per flush, any durability.
        let started = MonotonicClock.nanos()
        try wal.syncCurrent()
        charge.chargeElapsed()
        let view = p.view
        // Never into the runs a strategy change still reads (StrategyChange.swift).
        var mergeCount = min(runsToMerge(flushBytes: frozen.memtable.approximateBytes, view.runs), max(0, view.runs.count - p.protectedRuns))
        if mergeLater && mergeCount > 0 {
            // A small merge is done here (merged into the flush, the memtable is written once);
            // a large one is left to the merge lane (see the top of this file).
            let bytes = view.runs.prefix(mergeCount).reduce(frozen.memtable.approximateBytes) { $0 + $1.dataLength }
            let merging = p.merging.load(ordering: .acquiring)
            if merging || (bytes > inlineMergeBytes && view.runs.count < runsBeforeInlineMerge) { mergeCount = 0 }
        }
        var sources: [SourceCursor] = [.memtable(Memtable.Cursor(frozen.memtable))]
        for r in view.runs.prefix(mergeCount) { sources.append(.segment(Segment.Cursor(r))) }
        var cursor = MergedCursor(sources: sources)
        // A frozen memtable carried over from a reshard may hold keys of the neighbours too:
        // write only this partition's range.
        cursor.position(start: p.lowerBound.isEmpty ? nil : p.lowerBound, end: nil)
        // Tombstones must stay while an older run below might still hold the key.
        let keepTombstones = mergeCount < view.runs.count
        let written = try store.writeSegment(partitionID: p.id, from: &cursor, keepTombstones: keepTombstones, until: p.upperBound,
                                       charge: charge)
        charge.chargeElapsed()
        defer { if let written { store.filesInProgress.withLock { _ = $0.remove(written.record.name) } } }
        crashPoint?(.flushSegmentWritten)
        let newRecords = (written.map { [$0.record] } ?? []) + p.runRecords.dropFirst(mergeCount)
        // The secondary indexes' layers of the same freeze, under the same flush mark.
        var indexResults: [(id: UInt32, written: (segment: Segment, record: RunRecord)?, records: [RunRecord], merged: Int)] = []
        defer { for r in indexResults { if let w = r.written { store.filesInProgress.withLock { _ = $0.remove(w.record.name) } } } }
        for (indexID, memtable) in frozen.indexes.sorted(by: { $0.key < $1.key }) where !memtable.isEmpty {
            let runs = view.indexRuns[indexID] ?? []
            let merge = runsToMerge(flushBytes: memtable.approximateBytes, runs)
            var sources: [SourceCursor] = [.memtable(Memtable.Cursor(memtable))]
            for r in runs.prefix(merge) { sources.append(.segment(Segment.Cursor(r))) }
            var cursor = MergedCursor(sources: sources)
            cursor.position(start: nil, end: nil)
            // Until the build's run lies below, a tombstone may hide an entry the build writes.
            let keep = !p.indexesReady.contains(indexID) || merge < runs.count
            // Carried layers hold entries of neighbours: keep those whose primary key is ours.
            let w = try store.writeSegment(partitionID: p.id, from: &cursor, keepTombstones: keep, until: nil,
                                     including: { p.containsPrimaryKey(ofEntry: $0) }, charge: charge)
            let kept = (p.indexRunRecords[indexID] ?? []).dropFirst(merge)
            indexResults.append((indexID, w, (w.map { [$0.record] } ?? []) + kept, merge))
        }
        var edits: [VersionEdit] = [.setRuns(partitionID: p.id, runs: newRecords, flushedSeq: max(p.flushedSeq, frozen.upToSeq))]
        for r in indexResults where r.written != nil || r.merged > 0 {
            edits.append(.setIndexRuns(partitionID: p.id, indexID: r.id, runs: r.records, ready: p.indexesReady.contains(r.id)))
        }
        do throws(AugurError) {
            try store.commitEdits(edits)
        } catch {
            // The record may or may not have reached the disk; leave the file for the sweep
            // that follows the next successful commit (or for recovery) to decide.
            throw error
        }
        crashPoint?(.flushManifestCommitted)
        p.runRecords = newRecords
        p.flushedSeq = max(p.flushedSeq, frozen.upToSeq)
        var replaced = Array(view.runs.prefix(mergeCount))
        for r in indexResults where r.written != nil || r.merged > 0 {
            p.indexRunRecords[r.id] = r.records.isEmpty ? nil : r.records
            replaced += (view.indexRuns[r.id] ?? []).prefix(r.merged)
        }
        p.updateView { v in
            v.runs = (written.map { [$0.segment] } ?? []) + v.runs.dropFirst(mergeCount)
            for r in indexResults where r.written != nil || r.merged > 0 {
                let runs = (r.written.map { [$0.segment] } ?? []) + (v.indexRuns[r.id] ?? []).dropFirst(r.merged)
                v.indexRuns[r.id] = runs.isEmpty ? nil : runs
            }
            v.frozen.removeLast()
        }
        for s in replaced { s.markObsolete() }
        let bytes = indexResults.reduce(written?.record.size ?? 0) { $0 + ($1.written?.record.size ?? 0) }
        let took = MonotonicClock.nanos() &- started
        // Routine, so at debug: with the reshards' lines (Reshard.swift) they say what the
        // background did around a foreground stall (AUGUR_LOG_LEVEL=debug).
        lifecycle.logger.debug("flushed partition \(p.id)", metadata: [
            "memtableBytes": "\(frozen.memtable.approximateBytes)", "mergedRuns": "\(mergeCount)",
            "runsBefore": "\(view.runs.count)", "writtenBytes": "\(bytes)", "millis": "\(took / 1_000_000)"])
        recordFlushSpeed(bytes: frozen.memtable.approximateBytes + frozen.indexes.values.reduce(0) { $0 + $1.approximateBytes }, nanos: took)
        wal.lanePlacement.review(now: MonotonicClock.nanos())
        metrics.flushed(nanos: took, bytes: bytes,
                        merged: mergeCount > 0 || indexResults.contains { $0.merged > 0 })
    }

    /// How many of `runs` (newest first) a flush of `flushBytes` merges with it: what
    /// `RunMergePolicy` chooses, and at least down to a run that slices a mostly unviewed shared
    /// file — rewriting it lets the file go (space is the price of reshards that share files).
    func runsToMerge(flushBytes: Int, _ runs: [Segment]) -> Int {
        let chosen = RunMergePolicy.newestRunsToMerge(flushBytes: flushBytes, runBytes: runs.map(\.dataLength),
                                                      maxRuns: maxRunsPerPartition)
        guard let dead = runs.lastIndex(where: \.holdsMostlyDeadFile) else { return chosen }
        return max(chosen, dead + 1)
    }

    /// The merge lane's work on `p`: merges its newest runs as a flush of the newest one would
    /// have (`runsToMerge`, the newest run in the flush's place), never into the runs a strategy
    /// change still reads; see the top of this file for what the lock covers. Nothing of the
    /// memtable: the WAL needs no sync first.
    private func mergeRuns(_ p: Partition) throws(AugurError) {
        let choice: (runs: [Segment], reachesOldest: Bool)? = p.maintenanceLock.withLock {
            let runs = p.view.runs
            guard !readOnly, !p.retired, let newest = runs.first, needsMerge(runs) else { return nil }
            let count = min(1 + runsToMerge(flushBytes: newest.dataLength, Array(runs.dropFirst())),
                            max(0, runs.count - p.protectedRuns))
            // One run alone is rewritten only to free a shared file.
            guard count >= 2 || (count == 1 && newest.holdsMostlyDeadFile) else { return nil }
            // Under the lock, so a flush that takes it next sees it.
            p.merging.store(true, ordering: .releasing)
            // Runs only ever join newer than these, so when they reach the oldest now they still
            // will at the commit (checked there), and tombstones need not stay.
            return (Array(runs.prefix(count)), count == runs.count)
        }
        guard let (chosen, reachesOldest) = choice else { return }
        let started = MonotonicClock.nanos()
        defer { p.merging.store(false, ordering: .releasing) }
        let charge = MaintenanceCharge(meter: p.cost)
        defer { charge.chargeElapsed() }
        var cursor = MergedCursor(sources: chosen.map { .segment(Segment.Cursor($0)) })
        cursor.position(start: p.lowerBound.isEmpty ? nil : p.lowerBound, end: nil)
        let written = try store.writeSegment(partitionID: p.id, from: &cursor, keepTombstones: !reachesOldest,
                                             until: p.upperBound, charge: charge)
        charge.chargeElapsed()
        defer { if let written { store.filesInProgress.withLock { _ = $0.remove(written.record.name) } } }
        beforeMergeCommit.withLock { $0 }?()
        let committed = try p.maintenanceLock.withLock { () throws(AugurError) -> Bool in
            // Where the chosen runs are now: newer runs may have joined in front of them.
            let runs = p.view.runs
            guard !p.retired, let at = runs.firstIndex(where: { $0 === chosen[0] }), at + chosen.count <= runs.count - p.protectedRuns,
                  zip(runs[at...], chosen).allSatisfy({ $0 === $1 }), !reachesOldest || at + chosen.count == runs.count else {
                return false
            }
            let end = at + chosen.count
            let newRecords = Array(p.runRecords[..<at]) + (written.map { [$0.record] } ?? []) + p.runRecords[end...]
            try store.commitEdits([.setRuns(partitionID: p.id, runs: newRecords, flushedSeq: p.flushedSeq)])
            p.runRecords = newRecords
            p.updateView { v in v.runs = Array(v.runs[..<at]) + (written.map { [$0.segment] } ?? []) + v.runs[end...] }
            return true
        }
        guard committed else {
            // A reshard, a strategy change or an inline merge took the runs meanwhile.
            written?.segment.markObsolete()
            return
        }
        for s in chosen { s.markObsolete() }
        metrics.mergedRuns(bytes: UInt64(written?.record.size ?? 0))
        lifecycle.logger.debug("merged runs of partition \(p.id)", metadata: [
            "runs": "\(chosen.count)", "readBytes": "\(chosen.reduce(0) { $0 + $1.dataLength })",
            "writtenBytes": "\(written?.record.size ?? 0)", "millis": "\((MonotonicClock.nanos() &- started) / 1_000_000)"])
    }

    /// Flushes the partitions that hold memtables rebuilt from the WAL at open, in the
    /// background, then trims, so the old WAL segments can go (trimming also drops WAL segments
    /// with nothing unflushed in them).
    func flushReplayed(_ partitions: [Partition]) {
        queue.async { [self] in
            if lifecycle.isClosed { return }
            for p in partitions {
                do throws(AugurError) { try flush(p) } catch { lifecycle.record(error) }
            }
            do throws(AugurError) { try trimWAL() } catch { lifecycle.record(error) }
        }
    }

    /// Marks idle partitions flushed up to the current sequence number, then deletes WAL
    /// segments whose every record is flushed.
    func trimWAL() throws(AugurError) {
        var edits: [VersionEdit] = []
        var bumped: [(Partition, UInt64)] = []
        // Every partition created after this point starts at or above `start` (a reshard's
        // targets take their sources' marks, which are counted below or are ≥ start).
        var floor = wal.lastSequence
        for table in tables.all {
            for p in table.map.partitions {
                p.maintenanceLock.withLock {
                    // A partition retired while we waited still counts: its replacements carry
                    // its memtables and start from its mark.
                    if p.retired {
                        floor = min(floor, p.flushedSeq)
                        return
                    }
                    // Data in a memtable, active or frozen (a writer's freeze moves it, not
                    // away), stays until a flush, and flushes need the maintenance lock we
                    // hold: such a partition is busy without asking its gate. Only a
                    // partition that looks idle is checked under the gate. This runs after
                    // every flush on the lowered maintenance thread, and its queued exclusive
                    // request held every writer of a hot partition back until the thread got
                    // the CPU again.
                    var idle = false
                    var seq = wal.lastSequence
                    if !p.view.hasMemtableData {
                        p.gate.lockExclusive()
                        idle = !p.view.hasMemtableData
                        seq = wal.lastSequence
                        p.gate.unlock()
                    }
                    if idle && seq > p.flushedSeq {
                        edits.append(.setFlushed(partitionID: p.id, flushedSeq: seq))
                        bumped.append((p, seq))
                        floor = min(floor, seq)
                    } else {
                        floor = min(floor, p.flushedSeq)
                    }
                }
            }
        }
        if !edits.isEmpty {
            try store.commitEdits(edits, droppingRetired: true)
            for (p, seq) in bumped { p.maintenanceLock.withLock { p.flushedSeq = max(p.flushedSeq, seq) } }
        }
        // Never past what the manifest says: a mark gathered above can be dropped from the
        // commit (its partition was split meanwhile, and the targets took the old mark), and
        // recovery checks the oldest WAL segment against the manifest's lowest mark.
        if let recorded = store.manifest.lock.withLock({ store.manifest.state.partitions.values.map(\.flushedSeq).min() }) {
            floor = min(floor, recorded)
        }
        wal.trim(flushedFloor: floor)
    }
}

/// Charges one partition's maintenance (a flush, with the merge it may do) to its cost meter as
/// the work proceeds: every `recordsPerCharge` records written or skipped, and after each step
/// that may wait (WAL sync, segment sync). Charged once at the end, a merge of a few hundred MiB
/// landed as several seconds of work in one controller sample: the partition read as saturated
/// for that second (overload counted, forecasts fed a spike) and idle for the seconds the merge
/// really ran. Wall time, like the foreground's: waits of the maintenance are part of what the
/// partition costs (see CostMeter).
///
/// Thread-safety: used by the one thread doing the maintenance.
final class MaintenanceCharge {
    private let meter: CostMeter
    private var last: UInt64
    private var visited = 0
    /// 256 records: a few hundred KiB of writing between charges with 1 KB values. One clock
    /// read and one atomic add per 256 records is noise beside writing them (an estimate, not a
    /// measurement: each record costs hundreds of nanoseconds, the charge tens).
    static let recordsPerCharge = 256

    init(meter: CostMeter) {
        self.meter = meter
        last = MonotonicClock.nanos()
    }

    @inline(__always)
    func recordVisited() {
        visited &+= 1
        if visited % Self.recordsPerCharge == 0 { chargeElapsed() }
    }

    /// Adds the time since the last charge.
    func chargeElapsed() {
        let now = MonotonicClock.nanos()
        meter.addShared(.maintenance, nanos: now &- last)
        last = now
    }
}

