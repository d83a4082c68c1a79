// The reshard executor: split, N-way split, merge and boundary move as one protocol.
//
//   0. resolve the plan against the current map: a run of adjacent source partitions and the
//      boundaries their union range should have afterwards; take the sources' maintenance
//      locks (ascending id) so no flush changes their runs underneath;
//   1. flush the sources (most data moves into runs; writes keep going into new memtables);
//   2. PREPARE: a `reshardPrepared` edit naming sources, targets and target files, fsynced;
//   3. COPY: each target's run i is the concatenation of the byte ranges of the sources' run i
//      that fall in the target's range (records carry their own checksums, so a slice is a valid
//      data region; only index and footer are rebuilt); fdatasync each file, then `seg/`.
//      Reads and writes continue on the sources the whole time;
//   4. CUTOVER: one manifest record removes the sources, adds the targets and marks the plan
//      committed (fsynced before the gates: it does not depend on writes in flight); then the
//      sources' write gates are taken exclusive by *trying* (a writer inside a gate is never
//      queued behind, so writers are not held back while we wait for it); under them, for
//      microseconds, the sources' memtables become frozen layers of the targets (each target
//      flushes only its own key range of them later), so nothing is copied under the gate;
//      swap the map; retire the sources; open the gates (writers waiting on them re-route);
//   5. old runs are marked obsolete and unlinked when the last reader drops them.
//
// Any failure before the commit record: a `reshardFinished(committed: false)` edit, target files
// removed, the old map stays in charge, the error is reported. Recovery rolls back a prepared
// plan the same way (its files are unreferenced, so the sweep removes them).
//
// Target `flushedSeq` is the minimum of the sources': replay then re-applies every operation
// newer than the oldest source's flush mark. Re-applying an operation already in a run is
// harmless because every newer operation on the same key is re-applied too and the memtable
// keeps the highest sequence; and WAL trimming never passes the minimum, so none is missing.
//
// Threading: reshards run one at a time, in request order, on `queue` (a thread at the engine's
// background priority); `requestResharding` may be called from any thread and returns at once
// with a job to wait on. The cutover runs on `cutoverLane` at the opening thread's priority (see
// there). A reshard holds its sources' maintenance locks (ascending id) from resolve to cutover,
// so no flush changes their runs underneath; it takes `manifest.lock` only to allocate ids and
// commit. Depends on the segment store, the flusher, the WAL and telemetry — not on the engine.
import AugurPlanner
import AugurStats
import AugurSys
import Dispatch
import Logging
import Synchronization

final class ReshardExecutor: Sendable {
    let options: EngineOptions
    let store: SegmentStore
    let flusher: Flusher
    let wal: WriteAheadLog
    let telemetry: Telemetry?
    let lifecycle: EngineLifecycle
    private let metrics: EngineMetrics
    /// `augur.reshard`: reshard commits and aborts.
    private let logger: Logger
    private let rangeCopier: RangeCopier
    /// Reshards run one at a time, in request order, off the caller's thread (background priority).
    let queue: BackgroundLane
    /// Where a reshard's cutover runs (the few microseconds it holds its sources' write gates):
    /// at the opening thread's priority, not the reshard lane's lowered one — a lowered thread
    /// holding the gates is preempted by foreground threads that do not wait for them (readers,
    /// other partitions' writers), and every writer of the sources waited with it.
    let cutoverLane: BackgroundLane
    /// Every reshard requested since open, for `Engine.reshardingStatus`.
    let jobs = Mutex<[ReshardJob]>([])
    /// What a reshard copies and how long it takes, refined by every committed reshard
    /// (ReshardCost.swift).
    let cost: Mutex<ReshardCostModel>

    init(options: EngineOptions, store: SegmentStore, flusher: Flusher, wal: WriteAheadLog, telemetry: Telemetry?,
         lifecycle: EngineLifecycle, metrics: EngineMetrics, logger: Logger) {
        self.options = options
        self.store = store
        self.flusher = flusher
        self.wal = wal
        self.telemetry = telemetry
        self.lifecycle = lifecycle
        self.metrics = metrics
        self.logger = logger
        rangeCopier = RangeCopier(fileSystem: options.fileSystem, options: options.rangeCopy)
        queue = BackgroundLane(name: "augur.reshard", nice: options.backgroundNice, placement: wal.lanePlacement)
        cutoverLane = BackgroundLane(name: "augur.cutover", nice: 0, placement: wal.lanePlacement)
        var startingCost = options.reshardCostModel ?? ReshardCostModel()
        startingCost.dataMode = options.reshardData
        cost = Mutex(startingCost)
    }

    var fileSystem: any FileSystem { store.fileSystem }
    private var maxKeySize: Int { options.maxKeySize }

    /// Resolved plan: sources (adjacent, in key order) and the new inner boundaries.
    struct ResolvedPlan {
        let sources: [Partition]
        let boundaries: [[UInt8]]     // strictly increasing, strictly inside the union range
        var lower: [UInt8] { sources.first!.lowerBound }
        var upper: [UInt8]? { sources.last!.upperBound }
        var targetRanges: [(lower: [UInt8], upper: [UInt8]?)] {
            var out: [(lower: [UInt8], upper: [UInt8]?)] = []
            var lo = lower
            for b in boundaries { out.append((lo, b)); lo = b }
            out.append((lo, upper))
            return out
        }
    }

    func resolve(_ plan: ReshardPlan, in map: PartitionMap) throws(AugurError) -> ResolvedPlan {
        func invalid(_ why: String) -> AugurError { .invalidReshardPlan(plan: plan.description, reason: why) }
        func index(of key: [UInt8]) -> Int { key.withUnsafeBytes { map.index(for: $0) } }
        func check(_ key: [UInt8]) throws(AugurError) {
            if key.isEmpty { throw .emptyKey }
            if key.count > maxKeySize { throw .keyTooLarge(size: key.count, limit: maxKeySize) }
        }
        switch plan {
        case .split(let key):
            return try resolve(.splitMany(at: [key]), in: map)
        case .splitMany(let keys):
            guard let first = keys.first else { throw invalid("no split keys") }
            for k in keys { try check(k) }
            let p = map.partitions[index(of: first)]
            let sorted = keys.sorted { compareKeys($0, $1) < 0 }
            for (i, k) in sorted.enumerated() {
                if i > 0 && sorted[i - 1] == k { throw invalid("split key \(formatKey(k)) given twice") }
                if k == p.lowerBound {
                    throw .invalidSplitKey(key: k, reason: "it is already the lower bound of partition \(p.id)")
                }
                if !k.withUnsafeBytes({ p.contains($0) }) {
                    throw .invalidSplitKey(key: k, reason: "it lies outside partition \(p.id)")
                }
            }
            return ResolvedPlan(sources: [p], boundaries: sorted)
        case .merge(let boundary):
            try check(boundary)
            let i = index(of: boundary)
            guard map.partitions[i].lowerBound == boundary, i > 0 else {
                throw invalid("no two partitions meet at \(formatKey(boundary))")
            }
            return ResolvedPlan(sources: [map.partitions[i - 1], map.partitions[i]], boundaries: [])
        case .reshape(let first, let count, let boundaries):
            if !first.isEmpty { try check(first) }
            let i = first.isEmpty ? 0 : index(of: first)
            guard map.partitions[i].lowerBound == first else { throw invalid("no partition starts at \(formatKey(first))") }
            guard count >= 1, i + count <= map.partitions.count else {
                throw invalid("\(count) partitions from \(formatKey(first)) exceed the \(map.partitions.count - i) that follow")
            }
            let sources = Array(map.partitions[i..<(i + count)])
            var previous = first
            for b in boundaries {
                try check(b)
                guard compareKeys(b, previous) > 0 else { throw invalid("boundaries must be strictly increasing inside the range") }
                previous = b
            }
            if let last = boundaries.last, let upper = sources.last!.upperBound, compareKeys(last, upper) >= 0 {
                throw invalid("boundary \(formatKey(last)) is not inside the partitions' range")
            }
            if count == 1 && boundaries.isEmpty { throw invalid("nothing changes") }
            return ResolvedPlan(sources: sources, boundaries: boundaries)
        case .moveBoundary(let from, let to):
            try check(from)
            try check(to)
            let i = index(of: from)
            guard map.partitions[i].lowerBound == from, i > 0 else {
                throw invalid("no two partitions meet at \(formatKey(from))")
            }
            let left = map.partitions[i - 1], right = map.partitions[i]
            if to == from { throw invalid("the boundary is already at \(formatKey(to))") }
            guard compareKeys(to, left.lowerBound) > 0, right.upperBound.map({ compareKeys(to, $0) < 0 }) ?? true else {
                throw invalid("\(formatKey(to)) is not strictly inside the two partitions' range")
            }
            return ResolvedPlan(sources: [left, right], boundaries: [to])
        }
    }

    /// Starts a reshard of `table` on the reshard queue and returns its job.
    func requestResharding(_ table: Table, _ plan: ReshardPlan) throws(AugurError) -> ReshardJob {
        try table.checkUsable()
        _ = try resolve(plan, in: table.map)      // reject bad plans before queueing
        let id = store.manifest.lock.withLock { store.manifest.allocateFileNumber() }
        let job = ReshardJob(status: ReshardStatus(
            id: id, table: table.name, plan: plan, state: .queued, bytesCopied: 0, bytesTotal: 0,
            startedAt: options.clock.now(), finishedAt: nil, throughput: 0, cutoverPauseNanos: 0, error: nil,
            sources: [], targets: []))
        jobs.withLock { $0.append(job) }
        queue.async { [self] in
            let runStart = options.clock.now()
            do throws(AugurError) {
                try runReshard(table, plan, job)
                let end = options.clock.now()
                job.update { $0.state = .committed; $0.finishedAt = end; $0.runNanos = end &- runStart }
                refineReshardCost(job.current)
                reshardFinished(job.current)
            } catch {
                job.update { $0.state = .aborted; $0.error = error; $0.finishedAt = options.clock.now() }
                reshardFinished(job.current)
            }
            job.finish()
        }
        return job
    }

    /// Counts a reshard that ended and logs it: committed at `debug` (routine: the controller reshards on its own), aborted at `warning`.
    private func reshardFinished(_ status: ReshardStatus) {
        let committed = status.state == .committed
        metrics.reshardFinished(committed: committed, bytesCopied: status.bytesCopied, bytesShared: status.bytesShared)
        var metadata: Logger.Metadata = ["id": "\(status.id)", "table": "\(status.table)",
                                         "sources": "\(status.sources.map(String.init).joined(separator: ","))"]
        if committed {
            metadata["targets"] = "\(status.targets.map(String.init).joined(separator: ","))"
            metadata["bytesCopied"] = "\(status.bytesCopied)"
            metadata["bytesShared"] = "\(status.bytesShared)"
            metadata["runMillis"] = "\(status.runNanos / 1_000_000)"
            metadata["cutoverPauseMicros"] = "\(status.cutoverPauseNanos / 1_000)"
            if !status.copyBackend.isEmpty { metadata["copyBackend"] = "\(status.copyBackend)" }
            logger.debug("reshard committed: \(status.plan)", metadata: metadata)
        } else {
            logger.warning("reshard aborted: \(status.plan): \(status.error.map { "\($0)" } ?? "no error recorded")",
                                  metadata: metadata)
        }
    }

    private func runReshard(_ table: Table, _ plan: ReshardPlan, _ job: ReshardJob) throws(AugurError) {
        // A reshard holds its sources' flushes (their maintenance locks) until it commits, and
        // their memtables fill toward the write slowdown meanwhile: it runs with the lanes
        // spread over every CPU, and counts as behind until it ends (LanePlacement). Measured
        // with lanes kept home: the reshard bench's 1 GiB split took 4.2 s instead of 1.8 s,
        // and its writers slept in slowdowns (p99.9 1.08 ms against 64.5 µs before it).
        wal.lanePlacement.behind(now: MonotonicClock.nanos())
        defer { wal.lanePlacement.behind(now: MonotonicClock.nanos()) }
        let waitStart = MonotonicClock.nanos()
        while true {
            try table.checkUsable()
            let resolved = try resolve(plan, in: table.map)
            let sources = resolved.sources
            let ordered = sources.sorted { $0.id < $1.id }
            for p in ordered { p.maintenanceLock.lock() }
            defer { for p in ordered.reversed() { p.maintenanceLock.unlock() } }
            if sources.contains(where: { $0.retired }) { continue }    // the map changed: resolve again
            job.update { $0.state = .preparing; $0.sources = sources.map(\.id) }
            // No merge here: the sources' flushes wait for this lock, and a merge of a large
            // partition under it let the memtable reach the stall limit (a 1.4 s write stall at
            // a size split, 10 M random puts); the targets merge their runs at their next flush
            // (on the merge lane when the merge is large).
            let flushStart = MonotonicClock.nanos()
            for p in sources { try flusher.flushLocked(p, mergeLater: true) }
            let executeStart = MonotonicClock.nanos()
            try executeLocked(table, resolved, job)
            // Routine, so at debug, beside the flushes' lines: where a reshard's time went. The
            // reshard bench's 1 GiB split: a wait of 0-2.0 s for the flush lane's flush, its own
            // flush of 0.7-2.2 s, then 8-79 ms to the cutover (docs/PERFORMANCE.md, issue 19).
            // The wait counts from the first try, a map that changed meanwhile included.
            logger.debug("reshard steps", metadata: [
                "id": "\(job.id)", "lockWaitMillis": "\((flushStart &- waitStart) / 1_000_000)",
                "flushMillis": "\((executeStart &- flushStart) / 1_000_000)",
                "executeMillis": "\((MonotonicClock.nanos() &- executeStart) / 1_000_000)"])
            return
        }
    }

    private func executeLocked(_ table: Table, _ plan: ResolvedPlan, _ job: ReshardJob) throws(AugurError) {
        let sources = plan.sources
        let ranges = plan.targetRanges
        let views = sources.map(\.view)
        let sharing = options.reshardData == .shareFiles
        let levels = sharing ? 0 : views.map(\.runs.count).max() ?? 0
        // Shared data (`ReshardDataMode.shareFiles`): each target's runs are its sources' runs
        // narrowed to its range and theirs, each source's runs in their order (newest first),
        // interleaved and with adjacent views of one file joined (SharedRunOrder.swift).
        var shared: [[Segment]] = Array(repeating: [], count: ranges.count)
        if sharing {
            for (t, range) in ranges.enumerated() {
                var lists: [[SharedView]] = []
                for (i, source) in sources.enumerated() {
                    if let su = source.upperBound, compareKeys(su, range.lower) <= 0 { continue }
                    if let u = range.upper, compareKeys(source.lowerBound, u) >= 0 { continue }
                    let lower = Segment.tighter(range.lower.isEmpty ? nil : range.lower,
                                                source.lowerBound.isEmpty ? nil : source.lowerBound, upper: false)
                    let upper = Segment.tighter(range.upper, source.upperBound, upper: true)
                    lists.append(views[i].runs.compactMap { $0.narrowed(lower: lower, upper: upper).map { SharedView(parts: [$0]) } })
                }
                shared[t] = SharedRunOrder.interleave(lists, join: SharedView.joined).map { $0.run() }
            }
        }
        // Views made for targets that never take over must not keep their files alive.
        func dropShared() { for views in shared { for v in views { v.markObsolete() } } }
        // Target ids and files, then PREPARE.
        var targetIDs: [UInt64] = []
        var files: [[String?]] = []          // [target][level]
        var slices: [[[SegmentSlice]]] = []  // [target][level]
        store.manifest.lock.withLock {
            for (t, range) in ranges.enumerated() {
                let id = store.manifest.allocatePartitionID()
                targetIDs.append(id)
                var levelFiles: [String?] = []
                var levelSlices: [[SegmentSlice]] = []
                for level in 0..<levels {
                    var s: [SegmentSlice] = []
                    for (i, source) in sources.enumerated() where level < views[i].runs.count {
                        let lo = compareKeys(range.lower, source.lowerBound) > 0 ? range.lower : nil
                        let hi: [UInt8]? = range.upper.flatMap { u in
                            source.upperBound.map { compareKeys(u, $0) < 0 } ?? true ? u : nil
                        }
                        // Skip sources entirely outside the target's range.
                        if let su = source.upperBound, compareKeys(su, range.lower) <= 0 { continue }
                        if let u = range.upper, compareKeys(source.lowerBound, u) >= 0 { continue }
                        s.append(SegmentSlice(views[i].runs[level], lower: lo, upper: hi))
                    }
                    let bytes = s.reduce(0) { $0 + $1.length }
                    levelSlices.append(s)
                    levelFiles.append(bytes > 0 ? store.segmentName(partition: id, file: store.manifest.allocateFileNumber()) : nil)
                }
                _ = t
                files.append(levelFiles)
                slices.append(levelSlices)
            }
        }
        // Secondary indexes: each target's local part is rewritten from the sources' index runs
        // (entries are ordered by index key, so a target's share is not a byte range).
        let indexIDs = Set(sources.flatMap { Array($0.indexRunRecords.keys) + Array($0.indexesReady) }).sorted()
        var indexFiles: [[UInt32: String]] = Array(repeating: [:], count: ranges.count)
        store.manifest.lock.withLock {
            for t in ranges.indices {
                for id in indexIDs where views.contains(where: { !($0.indexRuns[id] ?? []).isEmpty }) {
                    indexFiles[t][id] = store.segmentName(partition: targetIDs[t], file: store.manifest.allocateFileNumber())
                }
            }
        }
        let allFiles = files.flatMap { $0.compactMap { $0 } } + indexFiles.flatMap { $0.values }
        let total = slices.flatMap { $0.flatMap { $0 } }.reduce(0) { $0 + $1.length }
        let sharedBytes = shared.joined().reduce(0) { $0 + $1.dataLength }
        job.update { $0.targets = targetIDs; $0.bytesTotal = total; $0.bytesShared = sharedBytes }
        do throws(AugurError) {
            try store.commitEdits([.reshardPrepared(ReshardRecord(planID: job.id, tableID: table.id, sources: sources.map(\.id),
                                                            targets: targetIDs, files: allFiles))])
        } catch {
            dropShared()
            throw error
        }
        options.crashPoint?(.reshardPrepared)

        // COPY.
        store.filesInProgress.withLock { for f in allFiles { $0.insert(f) } }
        defer { store.filesInProgress.withLock { for f in allFiles { $0.remove(f) } } }
        var built: [[(segment: Segment, record: RunRecord)]] = []
        var builtIndexes: [[UInt32: (segment: Segment, record: RunRecord)]] = []
        let copyStart = options.clock.now()
        do throws(AugurError) {
            job.update { $0.state = .copying }
            for t in ranges.indices {
                var runs: [(segment: Segment, record: RunRecord)] = []
                for level in 0..<levels {
                    guard let name = files[t][level] else { continue }
                    let path = joinPath(store.directory, name)
                    let built = try SegmentSlicer.build(fileSystem: fileSystem, path: path, slices: slices[t][level],
                                                        interval: options.segmentIndexInterval, copier: rangeCopier) { n in
                        job.update { s in
                            s.bytesCopied += n
                            let elapsed = Double(options.clock.now() &- copyStart) / 1e9
                            if elapsed > 0 { s.throughput = Double(s.bytesCopied) / elapsed }
                        }
                    }
                    guard let built else { continue }
                    let size = built.size
                    job.update { $0.copyBackend = built.backend.rawValue }
                    options.crashPoint?(.reshardCopied)
                    runs.append((try Segment(fileSystem: fileSystem, path: path, name: name, expectedSize: size,
                                             onRemove: store.removalCrashPoint), RunRecord(name: name, size: UInt64(size))))
                }
                if sharing {
                    runs = shared[t].map { ($0, $0.runRecord) }
                    if !runs.isEmpty { options.crashPoint?(.reshardCopied) }
                }
                built.append(runs)
            }
            job.update { $0.copyNanos = options.clock.now() &- copyStart }
            for t in ranges.indices {
                var parts: [UInt32: (segment: Segment, record: RunRecord)] = [:]
                for (id, name) in indexFiles[t].sorted(by: { $0.key < $1.key }) {
                    var cursor = MergedCursor(sources: views.flatMap { v in (v.indexRuns[id] ?? []).map { .segment(Segment.Cursor($0)) } })
                    cursor.position(start: nil, end: nil)
                    let range = ranges[t]
                    // With every source's part built, the merged run is the target's only run.
                    let allReady = sources.allSatisfy { $0.indexesReady.contains(id) }
                    let written = try store.writeSegment(partitionID: targetIDs[t], from: &cursor, keepTombstones: !allReady, until: nil,
                                                   including: { entry in
                                                       guard let pk = IndexKey.primaryKey(entry) else { return false }
                                                       return range.lower.withUnsafeBytes { compareKeys(pk, $0) } >= 0
                                                           && (range.upper.map { u in u.withUnsafeBytes { compareKeys(pk, $0) } < 0 } ?? true)
                                                   }, named: name)
                    if let written { parts[id] = written }
                }
                builtIndexes.append(parts)
            }
            options.crashPoint?(.reshardTargetsSynced)
            try io { () throws(FileSystemError) in try fileSystem.syncDirectory(store.directory) }
            options.crashPoint?(.reshardDirectorySynced)
        } catch {
            dropShared()
            abortReshard(job.id, files: allFiles)
            throw error
        }

        // COMMIT, before the gate: the record does not depend on writes in flight. The targets'
        // flush mark is the sources' minimum (no flush can move it: we hold their maintenance
        // locks), and writes that reach the sources until the swap land in memtables the
        // targets take over by reference. So the fsync of the record stays out of the pause.
        job.update { $0.state = .cuttingOver }
        let flushed = sources.map(\.flushedSeq).min()!
        var records: [PartitionRecord] = []
        let readyEverywhere = Set(indexIDs.filter { id in sources.allSatisfy { $0.indexesReady.contains(id) } })
        for (t, range) in ranges.enumerated() {
            records.append(PartitionRecord(id: targetIDs[t], tableID: table.id, lowerBound: range.lower, upperBound: range.upper,
                                           runs: built[t].map(\.record), flushedSeq: flushed,
                                           indexRuns: builtIndexes[t].mapValues { [$0.record] }, indexesReady: readyEverywhere))
        }
        var edits: [VersionEdit] = sources.map { .removePartition(id: $0.id) }
        for r in records { edits += [.addPartition(r)] + r.indexEdits }
        edits.append(.reshardFinished(planID: job.id, committed: true))
        do throws(AugurError) {
            try store.commitEdits(edits)
        } catch {
            // The commit record may have reached the disk even though the call failed: its files
            // must stay until a later commit (or recovery) finds them unreferenced and sweeps them.
            store.filesInProgress.withLock { for f in allFiles { $0.remove(f) } }
            dropShared()
            abortReshard(job.id, files: [])
            throw error
        }
        options.crashPoint?(.reshardCommitted)
        let histograms = KeyHistogram.rebucketed(sources.map(\.histogram), boundaries: ranges.dropLast().map { $0.upper! },
                                                 focus: built.map { Engine.keySpan(of: $0.map(\.segment)) },
                                                 options: options.telemetry.histogram)
        var targets: [Partition] = []
        for (t, record) in records.enumerated() {
            targets.append(Partition(record: record, runs: built[t].map(\.segment),
                                     indexRuns: builtIndexes[t].mapValues { [$0.segment] }, histogram: histograms[t]))
        }

        // CUTOVER: under the sources' gates only capture their memtables, swap the map, retire —
        // on the cutover lane, at the opening thread's priority (see `cutoverLane`).
        let (carried, pause, gateWait) = cutoverLane.sync { [self, targets] in
            cutOver(sources: sources, targets: targets, table: table, flushed: flushed)
        }
        options.crashPoint?(.reshardMapSwapped)
        // Off the gate, drop carried layers that hold no key of a target's range. Under the
        // target's maintenance lock, and touching only carried layers, so a flush of the target
        // that started meanwhile (it freezes its own memtable in front) is not disturbed.
        for p in targets where !carried.isEmpty {
            // (A layer with index entries stays: whose they are is known only entry by entry.)
            let foreign = carried.filter { $0.indexes.isEmpty && !overlaps($0.memtable, p.lowerBound, p.upperBound) }
                .map { ObjectIdentifier($0.memtable) }
            if foreign.isEmpty { continue }
            p.maintenanceLock.withLock {
                p.updateView { v in v.frozen.removeAll { foreign.contains(ObjectIdentifier($0.memtable)) } }
            }
        }
        telemetry?.inherit(children: targets, fromAll: sources)
        for v in views {
            for s in v.runs { s.markObsolete() }
            for runs in v.indexRuns.values { for s in runs { s.markObsolete() } }
        }
        job.update { $0.cutoverPauseNanos = pause; $0.cutoverGateWaitNanos = gateWait }
        for p in targets where !p.view.frozen.isEmpty { flusher.scheduleFlush(p) }
    }

    /// Views of one file a target's run is made of: one, or several that lie next to each
    /// other in the file (the first's end is the next one's start), joined into one run.
    private struct SharedView {
        var parts: [Segment]

        static func joined(_ a: SharedView, _ b: SharedView) -> SharedView? {
            guard let last = a.parts.last, let first = b.parts.first, last.file === first.file, last.end == first.begin else { return nil }
            return SharedView(parts: a.parts + b.parts)
        }

        /// The run: the one view, or a view from the first part's lower bound to the last one's
        /// upper bound (the parts, used by no partition, marked obsolete).
        func run() -> Segment {
            guard parts.count > 1, let first = parts.first, let last = parts.last else { return parts[0] }
            guard let whole = first.file.view(lowerBound: first.lowerBound, upperBound: last.upperBound) else {
                preconditionFailure("views of \(first.name) with records joined into a view without any")
            }
            for p in parts { p.markObsolete() }
            return whole
        }
    }

    /// Records the abort and removes the target files (best effort: recovery removes them too).
    private func abortReshard(_ id: UInt64, files: [String]) {
        for f in files { try? fileSystem.remove(joinPath(store.directory, f)) }
        do throws(AugurError) { try store.commitEdits([.reshardFinished(planID: id, committed: false)]) } catch {
            lifecycle.record(error)
        }
    }
}
