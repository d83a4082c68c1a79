// A consistent online copy of the store while writes go on (RocksDB's Checkpoint is the
// anchor): the manifest's state at one instant, the segment files it references, and the WAL cut
// just after, so the copy opens like the source would after a crash at the cut. Writers wait
// only for the cut itself (one fdatasync under the WAL's roll and sync locks); the bytes are
// copied outside every lock, from descriptors and mappings opened under them, so a merge or trim
// that unlinks a file meanwhile does not take it from the copy.
//
// Why the manifest first and the WAL second: every record a flush committed before the manifest
// snapshot was synced into the log before its run was written, so it lies inside the cut; a flush
// committed after the snapshot is simply not in the copy, and its records are replayed from the
// log instead. The other order would let a flush between the two put records newer than the cut
// into one partition's runs and not into another's: half a batch. `trimLock` is held across both
// so no WAL segment the snapshot still needs is trimmed in between.
import AugurSys

/// What `Engine.checkpoint(to:)` wrote.
///
/// Thread-safety: a plain value; `Sendable`.
public struct CheckpointSummary: Sendable, Equatable, Codable {
    /// The checkpoint's directory: an Augur store (it opens with `Engine.open`) with a `BACKUP`
    /// catalog that `Backup.verify` and `Backup.restore` check every byte against.
    public var path: String
    /// Every write with a sequence number at or below this is in the checkpoint, and so every
    /// write acknowledged before `checkpoint(to:)` was called. Writes in flight at the cut may be
    /// in it too, each batch whole or not at all.
    public var sequence: UInt64
    /// Segment files (runs) in the checkpoint, and how many of them are hard links to the
    /// source's files rather than copies (`linkingFiles`).
    public var segmentFiles: Int
    public var linkedFiles = 0
    /// WAL segments copied (the one being written up to the cut).
    public var walSegments: Int
    /// Bytes written, zeros that extend a cut WAL segment and linked files not counted.
    public var bytes: Int64
    /// Wall time of the whole checkpoint, and of the part writers could wait for (the cut).
    public var seconds: Double
    public var cutSeconds: Double
}

extension Engine {
    /// Writes a consistent copy of the store into `target`, a path that must not exist yet, while
    /// reads and writes continue. `target` appears only once complete (written as
    /// `<target>.augur-partial`, then renamed); a crash before leaves no `target`, and a later
    /// checkpoint to the same path clears the partial directory. The source is only read.
    ///
    /// With `linkingFiles`, segment files are hard links to the source's (they are immutable):
    /// the checkpoint then costs a read of them for the catalog's checksums instead of a copy, and
    /// no space — but it shares their blocks with the store, so it protects against losing files
    /// or the store's directory, not against damage to those blocks (RocksDB's Checkpoint does
    /// the same). A file that cannot be linked (another file system) is copied.
    ///
    /// Throws `invalidOption` naming `target` when it exists or its parent does not,
    /// `writesDisabled` on a read-only or failed store, `io`/`diskFull` from writing the copy
    /// (nothing is left at `target` then).
    public func checkpoint(to target: String, linkingFiles: Bool = false) throws(AugurError) -> CheckpointSummary {
        try checkOpen()
        if options.readOnly { throw .writesDisabled(reason: Recovery.readOnlyReason) }
        let started = MonotonicClock.nanos()
        var writer = try BackupDirectoryWriter(fileSystem: fileSystem, target: target, option: "checkpoint target", source: path)
        do throws(AugurError) {
            let cut = try cutForCheckpoint()
            let cutEnded = MonotonicClock.nanos()
            defer {
                for f in cut.segmentFiles { f.handle.close() }
                for w in cut.wal where w.ownsHandle { w.handle.close() }
            }
            let segDir = store.directory
            var linked = 0
            // The bulk of the work, on a thread at the engine's background priority: writers and
            // readers preempt it, as they do flushes and reshards.
            try atBackgroundPriority("augur.checkpoint") { () throws(AugurError) in
                for f in cut.segmentFiles {
                    let source = joinPath(segDir, f.name)
                    if linkingFiles, try writer.link(source, handle: f.handle, size: f.size, to: "seg/" + f.name) {
                        linked += 1
                        continue
                    }
                    try writer.copy(from: f.handle, sourcePath: source, length: f.size, fileSize: f.size, to: "seg/" + f.name)
                }
                for w in cut.wal {
                    try writer.copy(from: w.handle, sourcePath: joinPath(self.walDirectory, w.name), length: w.length,
                                    fileSize: w.fileSize, to: "wal/" + w.name)
                }
            }
            // The checkpoint's manifest: the snapshot's state as one record. Reshards prepared
            // and not committed are left out (their targets' files are not copied): in the
            // copy they never began.
            var state = cut.state
            state.pendingReshards = [:]
            // The copy's log is the cut's: no clean close of it is on record. (A writable
            // engine's state holds none anyway, its open's walOpened cleared it; kept out here
            // so that nothing in the copy rests on that.)
            state.walClosed = nil
            let manifestName = Manifest.fileName(1)
            try writer.write(Manifest.encodeRecord(state.snapshot), to: manifestName)
            try writer.write(Array((manifestName + "\n").utf8), to: Manifest.currentName)
            // The load history (advisory, self-checking): what a restore's partition advisor
            // plans from. Rewritten by rename, so a read sees one whole version.
            if let history = try? fileSystem.readFile(joinPath(path, LoadHistoryFile.name)),
               case .success = LoadHistoryFile.decode(history) {
                try writer.write(history, to: LoadHistoryFile.name)
            }
            let catalog = BackupCatalog(sequence: cut.sequence, files: writer.entries)
            try writer.write(catalog.encoded(), to: BackupCatalog.fileName, catalogued: false)
            try writer.publish()
            let ended = MonotonicClock.nanos()
            return CheckpointSummary(path: writer.target, sequence: cut.sequence, segmentFiles: cut.segmentFiles.count,
                                     linkedFiles: linked, walSegments: cut.wal.count, bytes: writer.bytesWritten,
                                     seconds: Double(ended &- started) / 1e9, cutSeconds: Double(cutEnded &- started) / 1e9)
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Runs `body` on a new thread whose nice value is raised by `options.backgroundNice` (a
    /// `BackgroundLane`) and waits for it; on the caller's thread when that is 0.
    func atBackgroundPriority(_ name: String, _ body: @escaping () throws(AugurError) -> Void) throws(AugurError) {
        guard options.backgroundNice > 0 else { return try body() }
        /// The caller waits for the lane, so nothing runs `body` concurrently with it.
        final class Job: @unchecked Sendable {
            let body: () throws(AugurError) -> Void
            var error: AugurError?
            init(_ body: @escaping () throws(AugurError) -> Void) { self.body = body }
        }
        let job = Job(body)
        BackgroundLane(name: name, nice: options.backgroundNice, placement: wal.lanePlacement).sync {
            do throws(AugurError) { try job.body() } catch { job.error = error }
        }
        if let error = job.error { throw error }
    }

    /// The manifest snapshot, its segment files held open, and the WAL cut (see the file
    /// comment for the order and the locks).
    private func cutForCheckpoint() throws(AugurError)
        -> (state: ManifestState, segmentFiles: [(name: String, handle: any FileHandle, size: Int)], wal: [WALCutSegment], sequence: UInt64) {
        let fs = fileSystem, segDir = store.directory, manifest = store.manifest
        return try wal.trimLock.withLock { () throws(AugurError) in
            var opened: [(name: String, handle: any FileHandle, size: Int)] = []
            do throws(AugurError) {
                let state = try manifest.lock.withLock { () throws(AugurError) -> ManifestState in
                    let state = manifest.state
                    for name in state.referencedFiles.sorted() {
                        let path = joinPath(segDir, name)
                        try io { () throws(FileSystemError) in
                            let h = try fs.open(path, mode: .readOnly)
                            do throws(FileSystemError) { opened.append((name, h, try h.size())) } catch { h.close(); throw error }
                        }
                    }
                    return state
                }
                let (segments, sequence) = try wal.cutForCheckpoint()
                return (state, opened, segments, sequence)
            } catch {
                for f in opened { f.handle.close() }
                throw error
            }
        }
    }
}
