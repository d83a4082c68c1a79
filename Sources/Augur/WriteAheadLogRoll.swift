// The WAL's segments over time (WriteAheadLog.swift holds appends and syncs): making room
// for a frame by rolling to the next segment (created ahead as a spare, sealed behind), the
// wait for frames still being copied, and trimming segments whose records are all flushed.
// Thread-safety: as the class — rolls under `rollLock`, trims under `trimLock`.
import AugurSys
import Dispatch
import Synchronization

extension WriteAheadLog {
    /// Makes sure the current segment can take a frame of `payloadSize` bytes: rolls the log if
    /// it cannot (or waits for the roll another writer is doing). Call with no write gate held.
    /// Another writer may still fill the new segment first; `append` then says so again.
    func makeRoom(payloadSize: Int) throws(AugurError) {
        try checkWritable()
        let size = WALFormat.frameSize(payload: payloadSize)
        guard let segment = current.withLock({ $0 }) else { return }
        if segment.reserved.load(ordering: .relaxed) + size <= segment.capacity { return }
        _ = try roll(from: segment)
    }

    /// Seals a full segment and installs the next one. Returns the segment to retry on.
    ///
    /// Writers wait only for the full segment's last frames to be complete and for the next
    /// segment (normally created ahead by `prepareSpare`; else created here: durable header,
    /// directory synced); the full segment's fdatasync and its seal follow on `sealQueue`
    /// (`finishPendingSealLocked`). Done inline, that
    /// fdatasync of up to a segment of dirty pages stalled every writer 20-45 ms per roll
    /// (docs/PERFORMANCE.md). Until the seal is durable the full segment may lose its last
    /// frames in a power cut while the next one holds frames; no sync acknowledges anything in
    /// the next segment before the seal (every durability point finishes it first), and
    /// recovery keeps the log a prefix: after an unsealed segment whose tail is torn or
    /// missing, later segments are set aside (WALReplay, docs/FORMAT.md).
    func roll(from full: WALSegment) throws(AugurError) -> WALSegment {
        let (segment, rolled) = try rollLocked(from: full)
        if rolled, let observer = rollObserver.withLock({ $0 }) { observer() }
        return segment
    }

    /// `roll` under rollLock; says whether this call rolled (or found another writer's roll).
    private func rollLocked(from full: WALSegment) throws(AugurError) -> (WALSegment, rolled: Bool) {
        try rollLock.withLock { () throws(AugurError) -> (WALSegment, rolled: Bool) in
            guard let now = current.withLock({ $0 }) else { throw .engineClosed }
            // A writer that left its gates before `close()` must not roll afterwards: the
            // segments are sealed and unmapped, and no new file may appear after close.
            if closed.load(ordering: .acquiring) { throw .engineClosed }
            if now !== full { return (now, false) }
            try checkWritable()
            // A roll whose new segment could not be created leaves `full` sealed; the retry
            // must not seal it a second time.
            if full.sealedEnd == nil {
                let end = full.reserved.exchange(WALSegment.sealed, ordering: .acquiringAndReleasing)
                full.sealedEnd = min(end, full.capacity)
                // At most one unsealed segment behind the current one: recovery's rule. Almost
                // always the last one was sealed in the background long ago; syncLock is taken
                // only when it was not.
                if pendingSeal.withLock({ $0 }) != nil {
                    try syncLock.withLock { () throws(AugurError) in try finishPendingSealLocked() }
                }
                _ = WriteAheadLog.awaitFrames(full, from: full.completeHint.load(ordering: .acquiring), below: full.sealedEnd!)
            }
            let next: WALSegment
            if let ready = spare, ready.number == full.number + 1 {
                // Name the first sequence exactly (every sequence of `full` is below it: its
                // frames are complete). Not synced here: a crash may keep the creation's lower
                // bound, which only makes recovery's checks that use it more lenient; the first
                // sync in the segment (after this roll's seal) makes it durable.
                WALFormat.writeMarker(at: ready.file.base,
                                      payload: WALFormat.headerPayload(number: ready.number, size: segmentSize,
                                                                       firstSeq: lastSeq.load(ordering: .acquiring) + 1),
                                      durablePrefix: 0)
                spare = nil
                next = ready
            } else {
                // On failure the full segment stays sealed; every writer comes back here and
                // retries, so freeing disk space lets writes resume.
                next = try createSegment(after: full)
            }
            // Only now, with the next segment durable, may the full one say that it exists: a
            // seal naming a successor that a crash lost would make recovery refuse the store.
            pendingSeal.withLock { $0 = full }
            sealedSegments.append(full)
            current.withLock { $0 = next }
            crashPoint?(.walRoll)
            sealQueue.async { [self] in
                syncLock.withLock {
                    if closed.load(ordering: .acquiring) { return }
                    // A failure disables writes (`fail`); writers see it at their next append.
                    try? finishPendingSealLocked()
                }
            }
            return (next, true)
        }
    }

    /// Creates the segment after `previous` (see `createSegment(fileSystem:…)`), naming the log's
    /// last sequence + 1 as its first; on failure removes the half-made file. A failed fdatasync
    /// disables writes, as anywhere in the log (the kernel may have dropped pages). Caller holds
    /// rollLock.
    func createSegment(after previous: WALSegment) throws(AugurError) -> WALSegment {
        do throws(AugurError) {
            return try WriteAheadLog.createSegment(fileSystem: fileSystem, directory: directory,
                                                   number: previous.number + 1, size: segmentSize,
                                                   firstSeq: lastSeq.load(ordering: .acquiring) + 1,
                                                   syncFailed: { fail($0) })
        } catch {
            try? fileSystem.remove(joinPath(directory, WALFormat.segmentName(previous.number + 1)))
            throw error
        }
    }

    /// Syncs the pending rolled segment and writes its seal (synced), if there is one. Caller
    /// holds syncLock. Every frame of it is complete (the roll waited for them).
    func finishPendingSealLocked() throws(AugurError) {
        guard let segment = pendingSeal.withLock({ $0 }), let end = segment.sealedEnd else { return }
        try checkWritable()
        // Synced even with `.none` (once per segment): a sealed segment is not the newest, so
        // recovery would take an unwritten page in it for corruption.
        if !skipSyncBug {
            // The writers are in the next segment: unmapped, its pages are written without a
            // TLB shootdown each (`MappedRegion.dropPages`; the write-behind did the rest).
            segment.file.region.dropPages(offset: 0, length: end)
            do throws(FileSystemError) { try segment.file.sync() } catch {
                fail("fdatasync of \(segment.path) failed: \(error.errno)")
                throw AugurError(error)
            }
            segment.durableEnd = end
        }
        try writeSeal(segment, at: end, reason: .rolled)
        pendingSeal.withLock { $0 = nil }
    }

    /// Walks frame headers of `segment` from `start` (a frame boundary below which every frame
    /// is complete), waiting for frames still being copied, until `end`, which must lie within
    /// reserved space; returns where it stopped (`end`, or the end of the frame that spans it).
    ///
    /// The roll calls it from `completeHint` without syncLock (see `roll`): it needs every frame
    /// of the full segment complete before it names the next segment's first sequence (each
    /// writer there has taken its sequences once its frame is complete) and before the seal
    /// may be written.
    static func awaitFrames(_ segment: WALSegment, from start: Int, below end: Int) -> Int {
        var at = start
        var spins = 0
        while at < end {
            let len = segment.frameLength(at: at)
            if len == 0 {
                spins += 1
                if spins > 64 { ThreadPause.yield(); spins = 0 }
                continue
            }
            at += WALFormat.frameSize(payload: len)
        }
        return at
    }

    /// Deletes the oldest sealed and inherited segments whose every record has been flushed
    /// (highest sequence ≤ `flushedFloor`), stopping at the first that is still needed: only
    /// ever a prefix, so a gap in the numbers is a lost segment to recovery (an empty segment
    /// after a needed one waits for it). Returns how many were removed.
    ///
    /// The segments are taken off the log under rollLock and unlinked and unmapped after it is
    /// released (under `trimLock`, so trims remove in order): an unlink (a journal handle) and
    /// the unmapping of up to a segment of pages are work a roll, and so every writer, must not
    /// wait behind.
    @discardableResult
    func trim(flushedFloor: UInt64) -> Int {
        if readOnly { return 0 }
        return trimLock.withLock {
            var inherited: [UInt64] = []
            var sealed: [WALSegment] = []
            rollLock.withLock {
                while let seg = inheritedSegments.first, seg.maxSeq <= flushedFloor {
                    inherited.append(seg.number)
                    inheritedSegments.removeFirst()
                }
                guard inheritedSegments.isEmpty else { return }
                // Not the segment whose seal is pending: its background fdatasync must not meet a
                // removed file (a flush just before the roll can leave it wholly flushed).
                while let seg = sealedSegments.first, seg.maxSeq.load(ordering: .acquiring) <= flushedFloor,
                      pendingSeal.withLock({ $0 }) !== seg {
                    sealed.append(seg)
                    sealedSegments.removeFirst()
                }
            }
            for number in inherited {
                try? fileSystem.remove(joinPath(directory, WALFormat.segmentName(number)))
                crashPoint?(.obsoleteFileRemoved)
            }
            for seg in sealed {
                try? fileSystem.remove(seg.path)
                crashPoint?(.obsoleteFileRemoved)
            }
            // The mappings and descriptors go with the last references, here (a queued
            // write-behind call may hold one a little longer; it sees the seal and does nothing).
            return inherited.count + sealed.count
        }
    }
}
