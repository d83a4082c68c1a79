// Opening a store: lock, read CURRENT and the manifest, verify every referenced segment before
// mapping it, delete what nothing references, replay the WAL through the recovered partition
// map, and start a fresh WAL segment.
import AugurStats
import AugurSys
import CAugurSys

enum Recovery {
    struct Result {
        let lock: any FileLock
        let manifest: Manifest
        let wal: WriteAheadLog
        let partitions: [Partition]
        let report: RecoveryReport
    }

    /// Names a store's own files may have at the top of its directory.
    static func isStoreEntry(_ name: String) -> Bool {
        name == "LOCK" || name == "wal" || name == "seg" || name == Manifest.currentName
            || name == Manifest.currentName + ".tmp" || Manifest.number(of: name) != nil
            || name == TelemetryFile.name || name == TelemetryFile.name + ".tmp" || name == "decisions.jsonl"
            || name == "PLAN.txt" || name == "PLAN.txt.tmp"
    }

    static func run(path: String, options: EngineOptions) throws(AugurError) -> Result {
        let fs = options.fileSystem
        var report = RecoveryReport()
        if !fs.isDirectory(path) {
            if fs.fileExists(path) { throw .notAnAugurStore(path: path, reason: "it is a file, not a directory") }
            if !options.createIfMissing { throw .notAnAugurStore(path: path, reason: "the directory does not exist") }
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
        let lock: any FileLock
        do { lock = try fs.lock(joinPath(path, "LOCK")) } catch {
            if error.errno == .wouldBlock || error.errno == .resourceTemporarilyUnavailable { throw .alreadyOpen(path: path) }
            throw AugurError(error)
        }
        do {
            let result = try recover(path: path, options: options, lock: lock, report: &report)
            return result
        } catch {
            lock.unlock()
            throw error
        }
    }

    private static func recover(path: String, options: EngineOptions, lock: any FileLock,
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
            if !options.createIfMissing { throw .notAnAugurStore(path: path, reason: "no CURRENT file") }
            // A new store (or one whose creation was interrupted before CURRENT existed).
            try io { () throws(FileSystemError) in
                try fs.createDirectory(segDir)
                try fs.createDirectory(walDir)
                try fs.syncDirectory(path)
            }
            manifest = try Manifest.create(fileSystem: fs, directory: path, rotationSize: options.manifestRotationSize,
                                           crashPoint: options.crashPoint,
                                           skipCurrentDirectorySyncBug: options.plantedBug == .skipCurrentDirectorySync)
            report.createdNewStore = true
        } else {
            guard fs.isDirectory(segDir), fs.isDirectory(walDir) else {
                throw .notAnAugurStore(path: path, reason: "CURRENT exists but the seg/ or wal/ directory is missing")
            }
            let (m, loadReport) = try Manifest.load(fileSystem: fs, directory: path, rotationSize: options.manifestRotationSize,
                                                    crashPoint: options.crashPoint,
                                                    skipCurrentDirectorySyncBug: options.plantedBug == .skipCurrentDirectorySync)
            manifest = m
            report.manifestTornTailBytes = loadReport.tornTailBytes
        }
        report.manifest = Manifest.fileName(manifest.number)
        let state = manifest.state

        // Verify every referenced segment before anything is mapped for use.
        var partitions: [Partition] = []
        let removalHook: (@Sendable (String) -> Void)? = options.crashPoint.map { hook in { @Sendable _ in hook(.obsoleteFileRemoved) } }
        for record in state.partitions.values.sorted(by: { $0.id < $1.id }) {
            var runs: [Segment] = []
            for run in record.runs {
                let file = joinPath(segDir, run.name)
                guard fs.fileExists(file) else {
                    throw .corruption(file: file, offset: 0, reason: "segment referenced by the manifest is missing")
                }
                runs.append(try Segment(fileSystem: fs, path: file, name: run.name, expectedSize: Int(run.size),
                                        onRemove: removalHook))
                report.segmentsVerified += 1
            }
            var indexRuns: [UInt32: [Segment]] = [:]
            for (indexID, records) in record.indexRuns {
                for run in records {
                    let file = joinPath(segDir, run.name)
                    guard fs.fileExists(file) else {
                        throw .corruption(file: file, offset: 0, reason: "index segment referenced by the manifest is missing")
                    }
                    indexRuns[indexID, default: []].append(try Segment(fileSystem: fs, path: file, name: run.name,
                                                                       expectedSize: Int(run.size), onRemove: removalHook))
                    report.segmentsVerified += 1
                }
            }
            partitions.append(Partition(record: record, runs: runs, indexRuns: indexRuns,
                                        histogram: KeyHistogram(lowerBound: record.lowerBound, upperBound: record.upperBound,
                                                                options: options.telemetry.histogram)))
        }
        for table in state.tables.keys {
            if let problem = PartitionMap(partitions.filter { $0.tableID == table }).coverageProblem() {
                throw .corruption(file: joinPath(path, report.manifest), offset: 0,
                                  reason: "table \(state.tables[table]!): \(problem)")
            }
        }
        report.tables = state.tables.count
        report.partitions = partitions.count

        // Remove leftovers: unreferenced segments, stale manifests, a half-written CURRENT.tmp.
        let referenced = state.referencedFiles
        for name in try io({ () throws(FileSystemError) in try fs.listDirectory(segDir) }) where !referenced.contains(name) {
            try? fs.remove(joinPath(segDir, name))
            report.filesRemoved.append("seg/" + name)
        }
        for name in try io({ () throws(FileSystemError) in try fs.listDirectory(path) }) {
            if let n = Manifest.number(of: name), n != manifest.number {
                try? fs.remove(joinPath(path, name))
                report.filesRemoved.append(name)
            } else if name == Manifest.currentName + ".tmp" {
                try? fs.remove(joinPath(path, name))
                report.filesRemoved.append(name)
            }
        }

        // A reshard prepared and never finished is rolled back: its target files are not
        // referenced (the sweep above removed them); record the abort.
        let pending = state.pendingReshards.keys.sorted()
        if !pending.isEmpty {
            try manifest.lock.withLock { () throws(AugurError) in
                try manifest.commit(pending.map { .reshardFinished(planID: $0, committed: false) }, lastSeq: state.lastSeq)
            }
            report.reshardsRolledBack = pending
            options.crashPoint?(.reshardRolledBack)
        }

        // Replay the WAL through the recovered partition map.
        var byTable: [UInt32: PartitionMap] = [:]
        for table in state.tables.keys { byTable[table] = PartitionMap(partitions.filter { $0.tableID == table }) }
        let walNames = try io { () throws(FileSystemError) in try fs.listDirectory(walDir) }
        var numbers: [UInt64] = []
        for name in walNames {
            if let n = WALFormat.segmentNumber(name) { numbers.append(n) } else {
                try? fs.remove(joinPath(walDir, name))
                report.filesRemoved.append("wal/" + name)
            }
        }
        numbers.sort()
        var maxSeq = state.lastSeq
        for p in partitions { maxSeq = max(maxSeq, p.flushedSeq) }
        var inherited: [(number: UInt64, maxSeq: UInt64)] = []
        for (i, number) in numbers.enumerated() {
            let file = joinPath(walDir, WALFormat.segmentName(number))
            let segMax = try replay(file: file, isLast: i == numbers.count - 1, fileSystem: fs,
                                    maps: byTable, indexOwners: state.indexes.mapValues(\.tableID), report: &report)
            inherited.append((number, segMax))
            maxSeq = max(maxSeq, segMax)
            report.walSegmentsReplayed += 1
        }
        report.lastSequence = maxSeq
        options.crashPoint?(.recoveryReplayed)
        let wal = try WriteAheadLog(fileSystem: fs, directory: walDir, firstSegment: (numbers.last ?? 0) + 1,
                                    segmentSize: options.walSegmentSize, durability: options.durability,
                                    lastSeq: maxSeq, inherited: inherited, crashPoint: options.crashPoint,
                                    skipSyncBug: options.plantedBug == .skipWALSync)
        return Result(lock: lock, manifest: manifest, wal: wal, partitions: partitions, report: report)
    }

    /// Zeroes a torn tail and syncs it. New writes go to a new segment, so this one will not be
    /// the newest at the next recovery, where a torn frame would be taken for corruption.
    private static func eraseTornTail(_ handle: any FileHandle, from offset: Int, to end: Int) throws(AugurError) {
        let zeros = [UInt8](repeating: 0, count: min(1 << 20, end - offset))
        var at = offset
        try io { () throws(FileSystemError) in
            while at < end {
                let n = min(zeros.count, end - at)
                try zeros.withUnsafeBytes { b in
                    Swift.Result { () throws(FileSystemError) in try handle.write(at: at, UnsafeRawBufferPointer(rebasing: b[0..<n])) }
                }.get()
                at += n
            }
            try handle.sync()
        }
    }

    /// Replays one WAL segment. Returns the highest sequence number seen in it.
    private static func replay(file: String, isLast: Bool, fileSystem fs: any FileSystem,
                               maps: [UInt32: PartitionMap], indexOwners: [UInt32: UInt32],
                               report: inout RecoveryReport) throws(AugurError) -> UInt64 {
        let handle = try io { () throws(FileSystemError) in try fs.open(file, mode: isLast ? .readWrite : .readOnly) }
        defer { handle.close() }
        let size = try io { () throws(FileSystemError) in try handle.size() }
        if size < WALFormat.frameHeaderSize { return 0 }
        let region = try io { () throws(FileSystemError) in try handle.mapReadOnly(length: size) }
        let base = UnsafeRawPointer(region.base)
        var offset = 0
        var maxSeq: UInt64 = 0
        func lastNonZero() -> Int { max(offset, caugur_nonzero_prefix_length(base, size)) }
        while offset + WALFormat.frameHeaderSize <= size {
            let len = Int(loadU32(base, offset + 4))
            var problem: String? = nil
            if len == 0 {
                // End of data, or a frame whose writer never finished. Anything after it was
                // never acknowledged (acknowledgement needs a complete prefix).
                let end = lastNonZero()
                if end > offset {
                    if !isLast {
                        throw .corruption(file: file, offset: offset, reason: "data after an unfinished frame in a sealed WAL segment")
                    }
                    report.walTornTail = .init(file: file, offset: offset, bytesDropped: end - offset)
                    try eraseTornTail(handle, from: offset, to: end)
                }
                break
            }
            let frameSize = WALFormat.frameSize(payload: len)
            if len > size - offset - WALFormat.frameHeaderSize {
                problem = "frame length \(len) runs past the end of the segment"
            } else {
                let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: base + offset + 8, count: WALFormat.frameHeaderSize - 8 + len))
                if CRC32C.mask(crc) != loadU32(base, offset) { problem = "frame checksum mismatch" }
            }
            if let problem {
                if isLast {
                    let end = lastNonZero()
                    report.walTornTail = .init(file: file, offset: offset, bytesDropped: end - offset)
                    try eraseTornTail(handle, from: offset, to: end)
                    break
                }
                throw .corruption(file: file, offset: offset, reason: problem)
            }
            let firstSeq = loadU64(base, offset + 8)
            let count = Int(loadU32(base, offset + 16))
            var at = offset + WALFormat.frameHeaderSize
            let end = at + len
            for i in 0..<count {
                guard end - at >= WALFormat.opHeaderSize else {
                    throw .corruption(file: file, offset: offset, reason: "operation \(i) header past the frame")
                }
                let kindRaw = base.load(fromByteOffset: at, as: UInt8.self)
                let table = loadU32(base, at + 1), klen = Int(loadU32(base, at + 5)), vlen = Int(loadU32(base, at + 9))
                guard let kind = RecordKind(rawValue: kindRaw), klen > 0,
                      klen + vlen <= end - at - WALFormat.opHeaderSize else {
                    throw .corruption(file: file, offset: offset, reason: "malformed operation \(i)")
                }
                let key = UnsafeRawBufferPointer(start: base + at + WALFormat.opHeaderSize, count: klen)
                let value = UnsafeRawBufferPointer(start: key.baseAddress! + klen, count: vlen)
                let seq = firstSeq + UInt64(i)
                maxSeq = max(maxSeq, seq)
                if let map = maps[table] {
                    let p = map.partition(for: key)
                    if seq > p.flushedSeq {
                        let memtable = p.activeMemtable
                        p.writeLock.withLock { memtable.apply(key: key, seq: seq, kind: kind, value: value) }
                        report.walRecordsApplied += 1
                    } else {
                        report.walRecordsSkipped += 1
                    }
                } else if let owner = indexOwners[table], let map = maps[owner] {
                    // An index entry: it lives in the partition of its primary key.
                    guard let pk = IndexKey.primaryKey(key) else {
                        throw .corruption(file: file, offset: offset, reason: "index entry \(i) has no primary key")
                    }
                    let p = map.partition(for: pk)
                    if seq > p.flushedSeq {
                        let memtable = p.indexMemtable(table)
                        p.writeLock.withLock { memtable.apply(key: key, seq: seq, kind: kind, value: value) }
                        report.walRecordsApplied += 1
                    } else {
                        report.walRecordsSkipped += 1
                    }
                } else {
                    report.walRecordsSkipped += 1
                }
                at += WALFormat.opHeaderSize + klen + vlen
            }
            report.walFramesReplayed += 1
            offset += frameSize
        }
        return maxSeq
    }
}
