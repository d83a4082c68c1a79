// The WAL's part of a checkpoint: the log cut at one instant, as a list of segments and how
// much of each to copy. The copy itself runs afterwards, outside every lock (Checkpoint.swift).
import AugurSys

/// One segment file of a checkpoint's log: copy `length` bytes from `handle`, then extend the
/// copy with zeros to `fileSize` (zero is "unwritten" to recovery, so a copied prefix of the
/// segment being written reads as a log that simply ends there).
struct WALCutSegment {
    let name: String
    let handle: any FileHandle
    let length: Int
    let fileSize: Int
    /// Keeps a sealed or current segment's mapping and descriptor alive while the copy runs
    /// (a trim after the cut may drop the log's own reference); nil for inherited segments,
    /// whose `handle` was opened for the checkpoint (`ownsHandle`).
    let segment: WALSegment?
    var ownsHandle: Bool { segment == nil }
}

extension WriteAheadLog {
    /// Cuts the log for a checkpoint: finishes a pending seal, waits for every frame reserved so
    /// far to be complete, syncs the current segment, and returns the segments with the lengths
    /// to copy, and the last sequence number taken before the cut. Every write with a sequence
    /// number at or below it is in the cut (a writer reserves its frame before it takes its
    /// numbers, and the reserved end is read after the number); frames reserved before the cut
    /// by writers still taking their numbers are in it too, whole.
    ///
    /// Holds `rollLock` (no roll starts: the segment list is fixed) and `syncLock` (the group
    /// commit's lock, as `syncCurrent` does) for one fdatasync, plus the seal's if one was
    /// pending. The caller holds `trimLock`, so no segment the checkpoint's manifest still needs
    /// is trimmed between its manifest snapshot and this cut.
    func cutForCheckpoint() throws(AugurError) -> (segments: [WALCutSegment], lastSequence: UInt64) {
        try checkWritable()
        return try rollLock.withLock { () throws(AugurError) -> ([WALCutSegment], UInt64) in
            try syncLock.withLock { () throws(AugurError) -> ([WALCutSegment], UInt64) in
                if closed.load(ordering: .acquiring) { throw .engineClosed }
                try checkWritable()
                try finishPendingSealLocked()
                guard let segment = current.withLock({ $0 }) else { throw .writesDisabled(reason: "no WAL segment") }
                let lastSequence = lastSeq.load(ordering: .acquiring)
                let end = min(segment.reserved.load(ordering: .acquiring), segment.capacity)
                advanceComplete(segment, mustReach: end, mayReach: end)
                let at = segment.completeEnd
                do throws(FileSystemError) { try timedSync(segment) } catch {
                    fail("fdatasync of \(segment.path) failed: \(error.errno)")
                    throw AugurError(error)
                }
                segment.durableEnd = at
                var out: [WALCutSegment] = []
                for inherited in inheritedSegments {
                    let name = WALFormat.segmentName(inherited.number)
                    let path = joinPath(directory, name)
                    do throws(FileSystemError) {
                        let h = try fileSystem.open(path, mode: .readOnly)
                        do throws(FileSystemError) {
                            let size = try h.size()
                            out.append(WALCutSegment(name: name, handle: h, length: size, fileSize: size, segment: nil))
                        } catch { h.close(); throw error }
                    } catch {
                        for o in out { o.handle.close() }
                        throw AugurError(error)
                    }
                }
                for sealed in sealedSegments {
                    out.append(WALCutSegment(name: WALFormat.segmentName(sealed.number), handle: sealed.file.handle,
                                             length: sealed.file.capacity, fileSize: sealed.file.capacity, segment: sealed))
                }
                out.append(WALCutSegment(name: WALFormat.segmentName(segment.number), handle: segment.file.handle,
                                         length: at, fileSize: segment.file.capacity, segment: segment))
                return (out, lastSequence)
            }
        }
    }
}
