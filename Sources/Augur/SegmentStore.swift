// The store's files: the manifest and the segment directory (`seg/`), and the names of segment
// files being written, so that no sweep takes them for leftovers. Every writer of a segment
// (flush, reshard, index build) names, writes and commits its files through here; every
// manifest change of an open engine goes through `commitEdits`, or `commitLocked` for a caller
// that must allocate ids under the same lock (tables and indexes).
//
// Threading: any thread. `manifest.lock` serialises commits, file-number allocation and the
// sweep (which runs under it); `filesInProgress` has its own lock, taken inside the manifest
// lock, never around it. `needsFileSweep` is set when a commit failed after files were written
// (its record may have reached the disk, so those files are neither referenced nor to be
// deleted yet): the next successful commit sweeps.
import AugurStats
import AugurSys
import Synchronization

final class SegmentStore: Sendable {
    let fileSystem: any FileSystem
    /// `<store>/seg`.
    let directory: String
    let manifest: Manifest
    /// For the last sequence number each manifest commit records.
    private let wal: WriteAheadLog
    private let indexInterval: Int
    /// The format version new files are written in (`EngineOptions.segmentFormatVersion`).
    private let version: UInt32
    private let crashPoint: (@Sendable (CrashPoint) -> Void)?
    /// Segment files being written: garbage collection must not take them for leftovers.
    let filesInProgress = Mutex<Set<String>>([])
    /// Set when a manifest commit failed after files were written; the next successful commit
    /// sweeps files nothing references.
    let needsFileSweep = Atomic<Bool>(false)

    init(fileSystem: any FileSystem, directory: String, manifest: Manifest, wal: WriteAheadLog, options: EngineOptions) {
        self.fileSystem = fileSystem
        self.directory = directory
        self.manifest = manifest
        self.wal = wal
        indexInterval = options.segmentIndexInterval
        version = options.segmentFormatVersion
        crashPoint = options.crashPoint
    }

    /// Fires the `file.removed` crash point when an obsolete segment's file is unlinked.
    var removalCrashPoint: (@Sendable (String) -> Void)? {
        guard let hook = crashPoint else { return nil }
        return { _ in hook(.obsoleteFileRemoved) }
    }

    func segmentName(partition: UInt64, file: UInt64) -> String { "\(partition)-\(file).seg" }

    /// Writes records from `cursor` into a new segment of partition `partitionID`, or no file
    /// when there is nothing to write. Caller decides whether tombstones are kept.
    func writeSegment(partitionID: UInt64, from cursor: inout MergedCursor, keepTombstones: Bool,
                      until end: [UInt8]?, including include: ((UnsafeRawBufferPointer) -> Bool)? = nil,
                      named fixedName: String? = nil,
                      charge: MaintenanceCharge? = nil) throws(AugurError) -> (segment: Segment, record: RunRecord)? {
        try writeSegment(partitionID: partitionID, named: fixedName) { writer throws(FileSystemError) in
            while cursor.isValid {
                let record = cursor.record
                if let end, end.withUnsafeBytes({ compareKeys(record.key, $0) }) >= 0 { break }
                if (keepTombstones || record.kind == .put) && include?(record.key) ?? true {
                    try writer.add(kind: record.kind, key: record.key, value: record.value)
                }
                cursor.advance()
                charge?.recordVisited()
            }
        }
    }

    /// Writes a new segment of partition `partitionID` (`fixedName` or a fresh file number) with
    /// whatever `fill` adds, in key order: names it in `filesInProgress`, finishes and syncs it
    /// and `seg/`, and opens it; returns nil (and no file) when `fill` added nothing. On any
    /// failure the file is removed. The caller takes the name out of `filesInProgress` once the
    /// manifest references the file (or it is gone): a sweep in between must not take it.
    func writeSegment(partitionID: UInt64, named fixedName: String? = nil,
                      fill: (SegmentWriter) throws(FileSystemError) -> Void) throws(AugurError) -> (segment: Segment, record: RunRecord)? {
        let name = fixedName ?? segmentName(partition: partitionID, file: manifest.lock.withLock { manifest.allocateFileNumber() })
        let path = joinPath(directory, name)
        filesInProgress.withLock { _ = $0.insert(name) }
        func discard() {
            try? fileSystem.remove(path)
            filesInProgress.withLock { _ = $0.remove(name) }
        }
        var size = 0
        do throws(FileSystemError) {
            let writer = try SegmentWriter(fileSystem: fileSystem, path: path, indexInterval: indexInterval, version: version)
            try fill(writer)
            if writer.count > 0 {
                size = try writer.finish()
                try fileSystem.syncDirectory(directory)
            }
        } catch {
            discard()
            throw AugurError(error)
        }
        if size == 0 {
            discard()
            return nil
        }
        do throws(AugurError) {
            let segment = try Segment(fileSystem: fileSystem, path: path, name: name, expectedSize: size,
                                      onRemove: removalCrashPoint)
            return (segment, RunRecord(name: name, size: UInt64(size)))
        } catch {
            discard()
            throw error
        }
    }

    /// Commits edits to the manifest; after an earlier failed commit, sweeps unreferenced files.
    func commitEdits(_ edits: [VersionEdit], droppingRetired: Bool = false) throws(AugurError) {
        try manifest.lock.withLock { () throws(AugurError) in
            var edits = edits
            if droppingRetired {
                // Flush marks gathered without the manifest lock may name partitions a split or
                // a table drop has removed since; those marks no longer mean anything.
                edits.removeAll { edit in
                    if case .setFlushed(let id, _) = edit { return manifest.state.partitions[id] == nil }
                    return false
                }
                if edits.isEmpty { return }
            }
            do throws(AugurError) {
                try commitLocked(edits)
            } catch {
                needsFileSweep.store(true, ordering: .releasing)
                throw error
            }
            if needsFileSweep.exchange(false, ordering: .acquiringAndReleasing) { sweepUnreferencedFiles() }
        }
    }

    /// Appends `edits` to the manifest with the WAL's last sequence number. Caller holds
    /// `manifest.lock`. No sweep either way: the callers besides `commitEdits` write no files.
    func commitLocked(_ edits: [VersionEdit]) throws(AugurError) {
        try manifest.commit(edits, lastSeq: wal.lastSequence)
    }

    /// Removes segment files nothing references and nobody is writing (Augur's names only).
    /// Caller holds manifest.lock.
    func sweepUnreferencedFiles() {
        let referenced = manifest.state.referencedFiles
        let inProgress = filesInProgress.withLock { $0 }
        guard let names = try? fileSystem.listDirectory(directory) else { return }
        // Only names Augur writes, as in recovery: a user's file in seg/ is not ours to delete.
        for name in names where !referenced.contains(name) && !inProgress.contains(name) && Recovery.isSegmentFileName(name) {
            // Obsolete runs still mapped by readers are also unreferenced; unlinking them early
            // is safe (the mapping keeps the pages) and their own removal then finds nothing.
            try? fileSystem.remove(joinPath(directory, name))
        }
    }
}
