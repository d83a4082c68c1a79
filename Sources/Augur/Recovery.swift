// Opening a store: lock, read CURRENT and the manifest, verify every referenced segment before
// mapping it, delete what nothing references, replay the WAL through the recovered partition
// map, and start a fresh WAL segment.
import AugurStats
import AugurSys
import Logging

enum Recovery {
    struct Result {
        let lock: any FileLock
        let manifest: Manifest
        let wal: WriteAheadLog
        let partitions: [Partition]
        var report: RecoveryReport
    }

    static let readOnlyReason = "the store was opened read-only (EngineOptions.readOnly)"

    /// Where recovery keeps bytes it had to drop or set aside (never deleted by Augur).
    static let lostDirectoryName = "lost"

    /// Names a store's own files may have at the top of its directory.
    static func isStoreEntry(_ name: String) -> Bool {
        name == "LOCK" || name == "wal" || name == "seg" || name == lostDirectoryName || name == Manifest.currentName
            || name == Manifest.currentName + ".tmp" || Manifest.number(of: name) != nil
            || name == TelemetryFile.name || name == TelemetryFile.name + ".tmp" || name == "decisions.jsonl"
            || name == MetricsSnapshot.fileName || name == MetricsSnapshot.fileName + ".tmp"
            || name == "PLAN.txt" || name == "PLAN.txt.tmp"
            || name == LoadHistoryFile.name || name == LoadHistoryFile.name + ".tmp"
    }

    /// `metrics` times the new WAL's fdatasyncs.
    static func run(path: String, options: EngineOptions, metrics: EngineMetrics? = nil) throws(AugurError) -> Result {
        let fs = options.fileSystem
        var report = RecoveryReport()
        report.readOnlyOpen = options.readOnly
        if !fs.isDirectory(path) {
            if fs.fileExists(path) { throw .notAnAugurStore(path: path, reason: "it is a file, not a directory") }
            if !options.createIfMissing || options.readOnly {
                throw .notAnAugurStore(path: path, reason: "the directory does not exist")
            }
            try io { () throws(FileSystemError) in
                try fs.createDirectory(path)
                try fs.syncDirectory(parentDirectory(path))
            }
        }
        // Refuse a foreign directory before writing anything into it (not even LOCK).
        let existing = try io { () throws(FileSystemError) in try fs.listDirectory(path) }
        if !existing.contains(Manifest.currentName) {
            let foreign = existing.filter { !isStoreEntry($0) }.sorted()
            if !foreign.isEmpty {
                let shown = foreign.prefix(3).joined(separator: ", ") + (foreign.count > 3 ? ", …" : "")
                throw .notAnAugurStore(path: path, reason: "no CURRENT file, and it holds other files (\(shown))")
            }
        }
        if options.readOnly {
            // No LOCK: a reader neither creates it nor keeps a writer out.
            return try recoverReadOnly(path: path, options: options, metrics: metrics, report: &report)
        }
        let lock = try lockDirectory(path, fs)
        do {
            let result = try recover(path: path, options: options, lock: lock, metrics: metrics, report: &report)
            return result
        } catch {
            lock.unlock()
            // What this attempt already did stays done (a torn tail copied to lost/ and zeroed,
            // segments set aside): said now, since the next open finds nothing left to report.
            if report.walTornTail != nil || !report.walSetAside.isEmpty || !report.filesSetAside.isEmpty {
                report.log(to: Engine.logger("augur.recovery", path: path, options: options))
            }
            throw error
        }
    }

    /// Seals `closed` each inherited segment that has none (a crash's current segment, or one
    /// whose roll was in flight), where its kept frames end, once the loop above has synced it:
    /// a second sync makes the seal durable. Why: the replay takes a bad frame in a segment
    /// without a seal for a torn write when nothing after it proves a sync, and this open
    /// writes nothing into the next segment that would. A segment it synced, replayed and
    /// showed to readers, damaged later, read as a torn tail: every frame after the damage
    /// dropped, and `recover` called them never acknowledged (3,798 of 8,776 keys lost from a
    /// crashed `sync` writer's log, found from outside). Sealed, such damage is corruption.
    /// The seal is written after the frames are durable, so a power cut cannot keep the seal
    /// and lose frames before it; one cut while it is written leaves a torn seal, which the
    /// replay recognises (`isTornSeal`) and this code writes whole at the next open.
    private static func sealInherited(_ unsealed: [(number: UInt64, framesEnd: Int)], walDirectory: String,
                                      fs: any FileSystem) throws(AugurError) {
        guard !unsealed.isEmpty else { return }
        let frame = UnsafeMutableRawPointer.allocate(byteCount: WALFormat.sealFrameSize, alignment: 8)
        defer { frame.deallocate() }
        for (number, end) in unsealed {
            let path = joinPath(walDirectory, WALFormat.segmentName(number))
            try io { () throws(FileSystemError) in
                let h = try fs.open(path, mode: .readWrite)
                defer { h.close() }
                // Seals have their room at every segment's end (`WALSegment.capacity`), so a
                // segment whose frames leave less is not one this code wrote.
                guard end + WALFormat.sealFrameSize <= (try h.size()) else { return }
                frame.initializeMemory(as: UInt8.self, repeating: 0, count: WALFormat.sealFrameSize)
                WALFormat.writeMarker(at: frame, payload: WALFormat.sealPayload(reason: .closed, offset: end), durablePrefix: end)
                try h.write(at: end, UnsafeRawBufferPointer(start: frame, count: WALFormat.sealFrameSize))
                try h.sync()
            }
        }
    }

    /// Opens without LOCK, so a writer in another process may flush, merge or trim its log
    /// while this open reads: a run the manifest named is unlinked before it is opened, a
    /// sealed WAL segment's successor is not listed yet, the oldest segment left is newer than
    /// the manifest read. Each looks like damage, and was reported as corruption (3 of 120
    /// `augur get`s beside a writer with 1 MiB memtables, found from outside). So while
    /// another holder has the LOCK, such a failure is retried from a fresh read of CURRENT, up
    /// to `Engine.readOnlyOpenAttempts` times: each attempt reads one manifest state and the files it
    /// names, and the writer removes a file only after a newer manifest stops naming it. What
    /// still fails then is reported as it was found, saying a writer had the store.
    private static func recoverReadOnly(path: String, options: EngineOptions, metrics: EngineMetrics?,
                                        report: inout RecoveryReport) throws(AugurError) -> Result {
        let fs = options.fileSystem
        var attempt = 1
        while true {
            var attemptReport = report
            do throws(AugurError) {
                var result = try recover(path: path, options: options, lock: NoLock(), metrics: metrics, report: &attemptReport)
                result.report.readOnlyAttempts = attempt
                report = result.report
                return result
            } catch {
                guard error.mayComeFromAConcurrentWriter, fs.isLocked(joinPath(path, "LOCK")) else { throw error }
                if attempt >= Engine.readOnlyOpenAttempts {
                    throw error.noting("another process held the store's LOCK and wrote it during this read-only open, "
                                       + "which read it \(attempt) times: a writer's flushes and log trims can look like this; "
                                       + "if it persists once the writer has closed, the store is damaged")
                }
                // 2, 4, … 64 ms: a flush or merge commits in milliseconds, a big one in seconds.
                ThreadPause.sleep(nanoseconds: 1_000_000 << min(attempt, 6))
                attempt += 1
            }
        }
    }

    private static func recover(path: String, options: EngineOptions, lock: any FileLock, metrics: EngineMetrics?,
                                report: inout RecoveryReport) throws(AugurError) -> Result {
        let fs = options.fileSystem
        let segDir = joinPath(path, "seg"), walDir = joinPath(path, "wal")
        let entries = try io { () throws(FileSystemError) in try fs.listDirectory(path) }
        let manifest: Manifest
        if !entries.contains(Manifest.currentName) {
            let foreign = entries.filter { !isStoreEntry($0) }.sorted()
            if !foreign.isEmpty {
                let shown = foreign.prefix(3).joined(separator: ", ") + (foreign.count > 3 ? ", …" : "")
                throw .notAnAugurStore(path: path, reason: "no CURRENT file, and it holds other files (\(shown))")
            }
            // A store is new only when nothing of one is here but what an interrupted creation
            // leaves (LOCK, empty seg/ and wal/, CURRENT.tmp, the first manifest's empty
            // snapshot). Anything else without CURRENT is a store that lost it: opening it as
            // new would delete every file it has (SQLite treats a hot journal the same way).
            if let evidence = try storeEvidence(path: path, entries: entries, fileSystem: fs) {
                throw .corruption(file: joinPath(path, Manifest.currentName), offset: 0,
                                  reason: "CURRENT is missing, but the directory holds a store (\(evidence)); nothing was changed. "
                                      + "To recover, write the name of the newest MANIFEST file and a newline into CURRENT "
                                      + "(docs/FORMAT.md, \"Rebuilding CURRENT\")")
            }
            if !options.createIfMissing || options.readOnly { throw .notAnAugurStore(path: path, reason: "no CURRENT file") }
            // A new store (or one whose creation was interrupted before CURRENT existed).
            try io { () throws(FileSystemError) in
                if !fs.isDirectory(segDir) { try fs.createDirectory(segDir) }
                if !fs.isDirectory(walDir) { try fs.createDirectory(walDir) }
                try fs.syncDirectory(path)
            }
            manifest = try Manifest.create(fileSystem: fs, directory: path, rotationSize: options.manifestRotationSize,
                                           crashPoint: options.crashPoint,
                                           skipCurrentDirectorySyncBug: options.plantedBug == .skipCurrentDirectorySync)
            report.createdNewStore = true
        } else {
            for (dir, name) in [(segDir, "seg/"), (walDir, "wal/")] where !fs.isDirectory(dir) {
                // A store with CURRENT lost a directory it needs: damage, named.
                throw .corruption(file: dir, offset: 0,
                                  reason: "CURRENT exists but the \(name) directory is \(fs.fileExists(dir) ? "not a directory" : "missing")")
            }
            let (m, loadReport) = try Manifest.load(fileSystem: fs, directory: path, rotationSize: options.manifestRotationSize,
                                                    crashPoint: options.crashPoint,
                                                    skipCurrentDirectorySyncBug: options.plantedBug == .skipCurrentDirectorySync,
                                                    readOnly: options.readOnly)
            manifest = m
            report.manifestTornTailBytes = loadReport.tornTailBytes
        }
        report.manifest = Manifest.fileName(manifest.number)
        let state = manifest.state
        // A run the manifest names and seg/ lacks: deleted, or the manifest lost the records
        // that replaced it (an outside check truncated the manifest, and the refusal named only
        // the run, sending the operator to the wrong file).
        let manifestTornBytes = report.manifestTornTailBytes
        func missing(_ what: String) -> String {
            "\(what) referenced by the manifest is missing: deleted, or \(report.manifest) lost the records that replaced it"
                + (manifestTornBytes > 0
                   ? " (it ended in \(manifestTornBytes) bytes that were not a whole record, dropped as a torn write: without a crash during a manifest write, the manifest was truncated or damaged)"
                   : "")
        }

        // Verify every referenced segment before anything is mapped for use.
        var partitions: [Partition] = []
        let removalHook: (@Sendable (String) -> Void)? = options.crashPoint.map { hook in { @Sendable _ in hook(.obsoleteFileRemoved) } }
        // A file shared by several partitions (a reshard that shared files) is opened and
        // verified once, and every run naming it becomes a view of that one `SegmentFile`: two
        // independent openings would each decide on their own when to unlink the file.
        var opened: [String: SegmentFile] = [:]
        // A read-only open takes no LOCK, and validating runs reads every byte of them: a live
        // writer may merge and unlink a run this manifest names meanwhile. So every named file
        // is mapped first (its descriptor closed at once: a store of thousands of runs stays
        // under the descriptor limit), and an unlinked file stays readable through its mapping:
        // the window for that race is these opens, not the validation (`recoverReadOnly`
        // retries what is left of it).
        var pinned: [String: SegmentFile.Mapped] = [:]
        if options.readOnly {
            for name in state.referencedFiles.sorted() {
                let file = joinPath(segDir, name)
                do throws(AugurError) { pinned[name] = try SegmentFile.Mapped(fileSystem: fs, path: file) } catch {
                    guard case .io(_, _, let errno, _) = error, errno == Errno.noSuchFileOrDirectory.rawValue else { throw error }
                    throw .corruption(file: file, offset: 0, reason: missing("segment"))
                }
            }
        }
        for record in state.partitions.values.sorted(by: { $0.id < $1.id }) {
            var runs: [Segment] = []
            for run in record.runs {
                let file = joinPath(segDir, run.name)
                let segmentFile: SegmentFile
                if let known = opened[run.name] {
                    guard known.fileSize == Int(run.size) else {
                        throw .corruption(file: file, offset: known.fileSize,
                                          reason: "file is \(known.fileSize) bytes, manifest says \(run.size) in partition \(record.id)")
                    }
                    segmentFile = known
                } else {
                    guard pinned[run.name] != nil || fs.fileExists(file) else {
                        throw .corruption(file: file, offset: 0, reason: missing("segment"))
                    }
                    segmentFile = try SegmentFile(fileSystem: fs, path: file, name: run.name, expectedSize: Int(run.size),
                                                  nameCheckRequired: state.requiresNameCheck(run.name),
                                                  onRemove: removalHook, mapped: pinned[run.name])
                    opened[run.name] = segmentFile
                    report.segmentsVerified += 1
                }
                // A whole-file run holds only its partition's keys and a bounded run's bounds
                // lie inside its partition's range (the reshard that made it narrowed it to its
                // target): the view is exactly what the manifest says. One view per run, made
                // once: a view that goes away without being obsolete keeps its file.
                runs.append(Segment(file: segmentFile, lowerBound: run.lowerBound, upperBound: run.upperBound))
            }
            var indexRuns: [UInt32: [Segment]] = [:]
            for (indexID, records) in record.indexRuns {
                for run in records {
                    let file = joinPath(segDir, run.name)
                    guard pinned[run.name] != nil || fs.fileExists(file) else {
                        throw .corruption(file: file, offset: 0, reason: missing("index segment"))
                    }
                    indexRuns[indexID, default: []].append(try Segment(fileSystem: fs, path: file, name: run.name,
                                                                       expectedSize: Int(run.size),
                                                                       nameCheckRequired: state.requiresNameCheck(run.name),
                                                                       onRemove: removalHook, mapped: pinned[run.name]))
                    report.segmentsVerified += 1
                }
            }
            partitions.append(Partition(record: record, runs: runs, indexRuns: indexRuns,
                                        histogram: KeyHistogram(lowerBound: record.lowerBound, upperBound: record.upperBound,
                                                                options: options.telemetry.histogram,
                                                                focus: Engine.keySpan(of: runs))))
        }
        for table in state.tables.keys {
            if let problem = PartitionMap(partitions.filter { $0.tableID == table }, layout: .range).coverageProblem() {
                throw .corruption(file: joinPath(path, report.manifest), offset: 0,
                                  reason: "table \(state.tables[table]!): \(problem)")
            }
        }
        report.tables = state.tables.count
        report.partitions = partitions.count

        // Replay the WAL through the recovered partition map.
        var byTable: [UInt32: PartitionMap] = [:]
        for table in state.tables.keys { byTable[table] = PartitionMap(partitions.filter { $0.tableID == table }, layout: KeyLayout(state.strategies[table] ?? .range)) }
        let indexOwners = state.indexes.mapValues(\.tableID)
        var numbers: [UInt64] = []
        for name in try io({ () throws(FileSystemError) in try fs.listDirectory(walDir) }) {
            if let n = WALFormat.segmentNumber(name) { numbers.append(n) } else { report.foreignFilesIgnored.append("wal/" + name) }
        }
        var applied = 0, skipped = 0
        let floor = state.partitions.values.map(\.flushedSeq).min()
        let replay = WALReplay(
            fileSystem: fs, storeDirectory: path, walDirectory: walDir, mode: options.walRecovery,
            openedSegment: state.walOpenedSegment, firstOpenedSegment: state.walFirstOpenedSegment,
            closedAt: state.walClosed, manifestLastSeq: state.lastSeq, flushedFloor: floor,
            corruptionAsTornTail: options.plantedBug == .corruptionAsTornTail, readOnly: options.readOnly,
            apply: { (seq, kind, table, key, value, checkOnly) throws(AugurError) in
                // `checkOnly`: throw what applying would throw, change nothing (WALReplay checks
                // a whole frame before it applies any of it).
                if let map = byTable[table] {
                    if checkOnly { return }
                    let p = map.partition(for: key)
                    guard seq > p.flushedSeq else { skipped += 1; return }
                    let memtable = p.activeMemtable
                    p.writeLock.withLock { memtable.apply(key: key, seq: seq, kind: kind, value: value) }
                    applied += 1
                } else if let owner = indexOwners[table], let map = byTable[owner] {
                    // An index entry: it lives in the partition of its primary key.
                    guard let pk = IndexKey.primaryKey(key) else {
                        throw .corruption(file: walDir, offset: 0, reason: "an index entry has no primary key")
                    }
                    if checkOnly { return }
                    let p = map.partition(for: pk)
                    guard seq > p.flushedSeq else { skipped += 1; return }
                    let memtable = p.indexMemtable(table)
                    p.writeLock.withLock { memtable.apply(key: key, seq: seq, kind: kind, value: value) }
                    applied += 1
                } else if table >= state.nextTableID {
                    // Ids of dropped tables and indexes are below the counter; an id the manifest
                    // never allocated means the manifest lost records that the WAL depends on.
                    throw .corruption(file: joinPath(path, Manifest.fileName(manifest.number)), offset: 0,
                                      reason: "the WAL holds writes to table or index id \(table), which this manifest never allocated (next id \(state.nextTableID)): manifest records are missing")
                } else if !checkOnly {
                    skipped += 1
                }
            })
        let outcome = try replay.run(numbers: numbers, report: &report)
        // Only now, with the manifest and the log found consistent with each other, are files
        // that nothing references removed: a manifest that lost its last records would
        // otherwise have its flushed segments swept before the log check refuses the store.
        // Remove leftovers: unreferenced segments, stale manifests, a half-written CURRENT.tmp.
        // Only names Augur writes: anything else is left where it is (and reported).
        // Except after a point-in-time cut: there a manifest that lost its last records (its
        // flushed runs' WAL long trimmed) is a cause the cut cannot tell from others, and the
        // files it no longer names hold acknowledged data found nowhere else. They and the
        // stale manifests go to lost/, as everything else such a recovery drops (an outside
        // check lost 12,000 of 16,000 records and a table to the sweep).
        // Decided from what lasts, not from this attempt alone: a point-in-time open keeps
        // them whatever it finds, and so does any open after a point-in-time cut (its
        // `.corrupt` copy in lost/) — one that failed half way through this sweep left a log
        // that replays cleanly, and a retry would have deleted the rest.
        let referenced = state.referencedFiles
        let cutEarlier = (try? fs.listDirectory(joinPath(path, lostDirectoryName)))?.contains { $0.hasSuffix(".corrupt") } ?? false
        let keepLeftovers = report.walCorruption != nil || options.walRecovery == .pointInTime || cutEarlier
        func discard(_ file: String, named name: String, in directory: String, shown: String) throws(AugurError) {
            if keepLeftovers {
                do throws(FileSystemError) {
                    report.filesSetAside.append(try replay.setAsideFile(at: file, named: name, from: directory))
                } catch {
                    throw AugurError(error)
                }
            } else {
                try? fs.remove(file)
                report.filesRemoved.append(shown)
            }
        }
        if keepLeftovers && report.manifestTornTailBytes > 0 && !options.readOnly {
            // The live manifest whose end was cut: its next rotation deletes it, and its lost
            // records are what named the files set aside below. Kept as it was.
            let name = Manifest.fileName(manifest.number)
            do throws(FileSystemError) {
                report.filesSetAside.append(try replay.saveCopy(of: joinPath(path, name), named: name))
            } catch {
                throw AugurError(error)
            }
        }
        for name in try io({ () throws(FileSystemError) in try fs.listDirectory(segDir) })
            where !referenced.contains(name) && !options.readOnly {
            guard isSegmentFileName(name) else {
                report.foreignFilesIgnored.append("seg/" + name)
                continue
            }
            try discard(joinPath(segDir, name), named: name, in: segDir, shown: "seg/" + name)
        }
        for name in try io({ () throws(FileSystemError) in try fs.listDirectory(path) }) where !options.readOnly {
            if let n = Manifest.number(of: name), n != manifest.number {
                try discard(joinPath(path, name), named: name, in: path, shown: name)
            } else if name == Manifest.currentName + ".tmp" {
                try? fs.remove(joinPath(path, name))
                report.filesRemoved.append(name)
            }
        }

        report.walRecordsApplied = applied
        report.walRecordsSkipped = skipped
        var maxSeq = max(state.lastSeq, outcome.maxSeq)
        for p in partitions { maxSeq = max(maxSeq, p.flushedSeq) }
        report.lastSequence = maxSeq
        // A reshard prepared and never finished is rolled back: its target files are not
        // referenced (the sweep above removed them); record the abort.
        let pending = state.pendingReshards.keys.sorted()
        if !pending.isEmpty && !options.readOnly {
            try manifest.lock.withLock { () throws(AugurError) in
                try manifest.commit(pending.map { .reshardFinished(planID: $0, committed: false) }, lastSeq: state.lastSeq)
            }
            report.reshardsRolledBack = pending
            options.crashPoint?(.reshardRolledBack)
        }
        options.crashPoint?(.recoveryReplayed)
        if options.readOnly {
            let wal = WriteAheadLog(readOnlyAfter: maxSeq, segmentSize: options.walSegmentSize, segments: outcome.segments,
                                    reason: readOnlyReason)
            return Result(lock: lock, manifest: manifest, wal: wal, partitions: partitions, report: report)
        }
        // What was replayed is what readers now see, and the new segment's writes are synced
        // behind it: so it must be on disk first. A segment the crash left unsealed may hold
        // frames that reached only the page cache (durability none or periodic, or the killed
        // process's last batch); with the new segment synced and the old tail lost to a power
        // cut, the next open found "no seal and ends before sequences …, but segment N+1 was
        // synced" and refused the store. One fdatasync per inherited segment, at open only.
        for segment in outcome.segments {
            try io { () throws(FileSystemError) in
                let h = try fs.open(joinPath(walDir, WALFormat.segmentName(segment.number)), mode: .readWrite)
                defer { h.close() }
                try h.sync()
            }
        }
        try sealInherited(outcome.unsealed, walDirectory: walDir, fs: fs)
        let firstSegment = (outcome.segments.last?.number ?? state.walOpenedSegment ?? 0) + 1
        let wal = try WriteAheadLog(fileSystem: fs, directory: walDir, firstSegment: firstSegment,
                                    segmentSize: options.walSegmentSize, durability: options.durability,
                                    lastSeq: maxSeq,
                                    coveredBelow: (outcome.segments.isEmpty ? (floor ?? maxSeq) : outcome.maxSeq) + 1,
                                    inherited: outcome.segments, crashPoint: options.crashPoint,
                                    skipSyncBug: options.plantedBug == .skipWALSync,
                                    backgroundNice: options.backgroundNice, placement: options.makeLanePlacement(),
                                    metrics: metrics)
        // Name the new segment in the manifest: from now on a store whose newest WAL segment is
        // older than this has lost its live log, and recovery says so.
        do throws(AugurError) {
            try manifest.lock.withLock { () throws(AugurError) in
                // Every file from the next number on is this Augur's: its footer names it. Past
                // every file the manifest names too, should an older writer have numbered one
                // at or above its counter.
                let highest = manifest.state.referencedFiles.compactMap(ManifestState.fileNumber).max() ?? 0
                let checks: [VersionEdit] = manifest.state.nameChecksFrom == nil
                    ? [.nameChecksFrom(fileNumber: max(manifest.state.nextFileNumber, highest &+ 1))] : []
                try manifest.commit([.walOpened(segment: firstSegment)] + checks, lastSeq: maxSeq)
            }
        } catch {
            wal.close()
            throw error
        }
        return Result(lock: lock, manifest: manifest, wal: wal, partitions: partitions, report: report)
    }

    /// `<partition>-<file>.seg`: the only names recovery may delete from seg/.
    static func isSegmentFileName(_ name: String) -> Bool { ManifestState.fileNumber(name) != nil }

    /// What shows that a directory without CURRENT holds a store (nil: nothing but what an
    /// interrupted creation leaves).
    static func storeEvidence(path: String, entries: [String], fileSystem fs: any FileSystem) throws(AugurError) -> String? {
        var found: [String] = []
        let manifests = entries.filter { Manifest.number(of: $0) != nil }.sorted()
        let empty = Manifest.emptyStoreFirstManifest
        for name in manifests {
            let bytes = try io { () throws(FileSystemError) in try fs.readFile(joinPath(path, name)) }
            // The first manifest of a new store, whole or cut short, holds nothing.
            if name == Manifest.fileName(1) && bytes.count <= empty.count && Array(empty.prefix(bytes.count)) == bytes { continue }
            found.append(name)
        }
        for dir in ["wal", "seg"] where fs.isDirectory(joinPath(path, dir)) {
            let names = try io { () throws(FileSystemError) in try fs.listDirectory(joinPath(path, dir)) }
            if !names.isEmpty { found.append("\(names.count) file(s) in \(dir)/") }
        }
        for name in [TelemetryFile.name, MetricsSnapshot.fileName, "decisions.jsonl", "PLAN.txt", LoadHistoryFile.name, lostDirectoryName]
        where entries.contains(name) {
            found.append(name)
        }
        return found.isEmpty ? nil : found.joined(separator: ", ")
    }
}

extension AugurError {
    /// Failures a writer's own changes produce in a reader that holds no LOCK: a file named
    /// and then unlinked (corruption "missing", or ENOENT at the open), a log read between two
    /// of the writer's steps. Anything else — a bad option, no store at all — is not retried.
    var mayComeFromAConcurrentWriter: Bool {
        switch self {
        case .corruption: true
        case .io(_, _, let errno, _): errno == Errno.noSuchFileOrDirectory.rawValue
        default: false
        }
    }

    /// The same error, with `note` after a corruption's reason (other cases are returned as
    /// they are: only a corruption report could send its reader to the wrong remedy).
    func noting(_ note: String) -> AugurError {
        if case .corruption(let file, let offset, let reason) = self {
            return .corruption(file: file, offset: offset, reason: reason + " (" + note + ")")
        }
        return self
    }
}

/// The lock of a read-only open: none.
private final class NoLock: FileLock {
    func unlock() {}
}

extension RecoveryReport {
    /// One line per thing opening the store cut, set aside, removed or rolled back (`warning`
    /// when bytes were dropped or set aside, `notice` for rolled-back reshards and foreign files,
    /// `info` for removed leftovers), and a `debug` summary of what was replayed.
    func log(to logger: Logger) {
        if manifestTornTailBytes > 0 {
            logger.warning("manifest torn tail cut", metadata: ["manifest": "\(manifest)", "bytes": "\(manifestTornTailBytes)"])
        }
        if let t = walTornTail {
            var metadata: Logger.Metadata = ["file": "\(t.file)", "offset": "\(t.offset)", "bytesDropped": "\(t.bytesDropped)"]
            if let saved = walTornTailSavedAs { metadata["savedAs"] = "\(saved)" }
            if let lost = t.sequencesDropped { metadata["sequencesDropped"] = "\(lost.lowerBound)...\(lost.upperBound)" }
            if readOnlyOpen {
                logger.warning("WAL torn tail: \(t.bytesDropped) bytes of unacknowledged writes not replayed (a read-only open cuts nothing)", metadata: metadata)
            } else {
                logger.warning("WAL torn tail cut: \(t.bytesDropped) bytes of unacknowledged writes dropped", metadata: metadata)
            }
        }
        if let c = walCorruption {
            logger.warning("WAL replay stopped at corruption (point-in-time recovery): \(c)",
                           metadata: ["setAside": "\(walSetAside.joined(separator: ", "))"])
        }
        let lists: [(level: Logger.Level, message: String, key: String, names: [String])] = [
            (.info, "removed WAL segments whose creation was interrupted", "files", walUnfinishedSegmentsRemoved),
            (.info, "removed \(filesRemoved.count) unreferenced files (leftovers of interrupted flushes or reshards)", "files",
             filesRemoved),
            (.warning, "moved to lost/ the files no longer referenced after the point-in-time cut (they may hold acknowledged records)",
             "files", filesSetAside),
            (.notice, "rolled back \(reshardsRolledBack.count) reshards prepared but not committed", "ids",
             reshardsRolledBack.map(String.init)),
            (.notice, "left alone files whose names are not Augur's", "files", foreignFilesIgnored),
        ]
        for l in lists where !l.names.isEmpty {
            logger.log(level: l.level, "\(l.message)", metadata: [l.key: "\(l.names.joined(separator: ", "))"])
        }
        logger.debug(createdNewStore ? "created a new store" : "opened the store",
                     metadata: ["tables": "\(tables)", "partitions": "\(partitions)", "segmentsVerified": "\(segmentsVerified)",
                                "walFramesReplayed": "\(walFramesReplayed)", "walRecordsApplied": "\(walRecordsApplied)",
                                "walRecordsSkipped": "\(walRecordsSkipped)", "lastSequence": "\(lastSequence)"])
    }
}

extension Recovery {
    /// Attempts to take LOCK before an open reports `alreadyOpen`, 5 ms apart. A flock lives as
    /// long as any descriptor of its open file: a process another thread is spawning holds a
    /// copy of every descriptor between its fork and its exec (O_CLOEXEC closes them only at
    /// the exec), so a store closed and reopened meanwhile finds its own lock still held for
    /// that moment (seen in the crash tests, which spawn children while other tests reopen).
    static let lockAttempts = 20

    static func lockDirectory(_ path: String, _ fs: any FileSystem) throws(AugurError) -> any FileLock {
        var attempt = 1
        while true {
            do { return try fs.lock(joinPath(path, "LOCK")) } catch {
                guard error.errno == .wouldBlock || error.errno == .resourceTemporarilyUnavailable else { throw AugurError(error) }
                if attempt >= lockAttempts { throw .alreadyOpen(path: path) }
            }
            attempt += 1
            ThreadPause.sleep(nanoseconds: 5_000_000)
        }
    }
}
