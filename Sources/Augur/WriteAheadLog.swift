// The write-ahead log shared by every partition of every table, so a batch that spans
// partitions is one frame (atomic) and one fdatasync acknowledges many writers (group commit).
//
// Append protocol (no lock on the fast path):
//   1. reserve: CAS the segment's `reserved` offset forward by the frame size. A CAS (rather than
//      a blind fetch-add) keeps `reserved` ≤ capacity, so when a segment fills, the roller reads
//      the exact end of its data with one exchange.
//   2. take sequence numbers with a fetch-add (WAL order need not equal sequence order: the
//      memtable and replay both keep the highest sequence per key);
//   3. copy the payload into the mapping, write the checksum, then publish the length word with
//      a release store. A frame is complete exactly when its length is non-zero.
//
// Group commit: a writer that needs durability takes `syncLock`; if a sync that started after
// its frame was complete already covered it, it returns at once. Otherwise it becomes the
// leader: it walks frame headers from the durable watermark up to the reservation end seen,
// waiting for any frame still being copied, then fdatasyncs once for everyone in that prefix.
// Because the prefix is contiguous and complete, a crash can never keep an acknowledged frame
// behind a torn one (replay stops at the first invalid frame).
//
// Rolling happens outside the partition write gates: `append` returns nil when the segment is
// full, the writer leaves its gates and calls `makeRoom`. The roller waits for the full
// segment's last frames to be complete and installs the next segment — created ahead on a
// background queue when the current one passed half full (`prepareSpare`, which also faults
// its pages in, so no writer takes the 3-12 ms first-touch fault of a fresh page), else inline;
// the full segment's fdatasync and its `rolled` seal follow on
// a background queue (`pendingSeal`), and every durability point (`sync`, `syncCurrent`, the
// next roll, `close`) finishes a pending seal first. So at most one segment behind the current
// one is unsealed, and nothing in the current one is synced while it is (see `roll`, and
// WALReplay for what recovery makes of a crash in that window).
//
// Write-behind (durability `none` and `periodic`): nothing syncs the current segment on the
// write path, so without help all of its dirty pages are written by the roll's fdatasync —
// measured 50-400 ms per 64 MiB roll while a reshard also used the disk, when every writer
// waited for it (before that fdatasync moved off the write path). So whenever a frame crosses a
// `writeBehindChunk` boundary, writeback of the chunk *before* the one just finished is started
// on a background queue (sync_file_range WRITE: no waiting, not a durability point). The lag of
// one chunk keeps it off pages writers are still filling (writeback write-protects a shared
// mapping's pages, and the next store to one would fault). The roll then finds at most about two
// chunks dirty. Before its writeback each piece leaves the process's page tables
// (`MappedRegion.dropPages`), as does what the seal and the flush's ranged sync write: write-
// protecting mapped pages took one TLB shootdown per page.
//
// A failed fdatasync disables writes for the life of the instance: after a failed fsync Linux
// may have dropped the dirty pages and a retry can report success for lost data.
import AugurSys
import Synchronization
import Dispatch
import CAugurSys

/// Thread-safety: `sealedSegments`, `inheritedSegments` and `spare` are guarded by `rollLock`
/// (set in init before the log is shared); the rest is immutable, atomic or in its own `Mutex`.
final class WriteAheadLog: @unchecked Sendable {
    let fileSystem: any FileSystem
    let directory: String
    let segmentSize: Int
    let durability: Durability
    let crashPoint: (@Sendable (CrashPoint) -> Void)?

    /// The segment writers append to; nil only in a read-only open's log, which has failed
    /// from the start so nothing gets past `checkWritable`.
    let current: Mutex<WALSegment?>
    /// Sealed segments still needed for recovery, oldest first (guarded by rollLock).
    var sealedSegments: [WALSegment] = []
    /// Numbers and highest sequence of segments left from before this open (replayed, not mapped).
    var inheritedSegments: [(number: UInt64, maxSeq: UInt64)] = []
    let rollLock = PThreadMutex()
    /// Serialises `trim`'s removals, which run outside rollLock (taken before it, never inside).
    let trimLock = PThreadMutex()
    let syncLock = PThreadMutex()
    let lastSeq: Atomic<UInt64>
    let failure = Mutex<String?>(nil)
    let failed = Atomic<Bool>(false)
    /// Test-only planted bug for the crash harness: acknowledge `sync` writes without syncing.
    let skipSyncBug: Bool
    /// Write-behind granularity (see the file comment); 0 = off (`sync` durability, whose group
    /// commit writes the pages anyway, or segments too small to be worth it).
    let writeBehindChunk: Int
    /// Where the engine's background lanes run (`EngineOptions.backgroundCPUs`): the WAL's own,
    /// and the flusher's and the reshard executor's, which take it from here.
    let lanePlacement: LanePlacement
    /// Runs the write-behind calls off the write path, in order.
    private let writeBehindQueue: BackgroundLane
    /// A rolled segment whose fdatasync and seal are still to be done: at most one, always the
    /// one just before `current` (see `roll`). Set by the roll (under rollLock), finished and
    /// cleared under syncLock by whoever comes first (`finishPendingSealLocked`). Its own lock,
    /// never held across anything else, so the roll and `trim` can look at it without syncLock,
    /// which is held through fdatasyncs (a flush's `syncCurrent`, the background seal: 7-40 ms
    /// measured) — a roll waiting for it made every writer wait. Under rollLock a reader sees
    /// every setting and at worst a clearing late (then the roll takes syncLock for nothing,
    /// and trim keeps a segment a while longer).
    let pendingSeal = Mutex<WALSegment?>(nil)
    /// Finishes pending seals and creates spare segments off the write path.
    let sealQueue: BackgroundLane
    /// Populates fresh segments ahead of the writers (`prefault`), at the engine's background
    /// priority: zero-filling 64 MiB is milliseconds of CPU that preempted a writer on a busy
    /// machine, and populating late only means a writer takes its own fault, as without it.
    /// The seal queue and the write-behind stay at the writers' priority: the seal queue
    /// creates the spare under rollLock, which a roll waits for (a descheduled low-priority
    /// holder made writers wait: fillrandom at 2 threads lost 10-20 % of its throughput), and a
    /// write-behind that falls behind leaves dirty pages the kernel then throttles writers for.
    private let prefaultQueue: BackgroundLane
    /// The next segment, created ahead of the roll (guarded by rollLock; see `prepareSpare`).
    var spare: WALSegment? = nil
    /// Told of failures of background work that no caller waits for (the engine keeps the first
    /// for `takeBackgroundError`).
    private let backgroundErrorHandler = Mutex<(@Sendable (AugurError) -> Void)?>(nil)
    /// Times each fdatasync of a segment in use (`augur_wal_sync_seconds`); nil in tests.
    private let metrics: EngineMetrics?

    func setBackgroundErrorHandler(_ handler: @escaping @Sendable (AugurError) -> Void) {
        backgroundErrorHandler.withLock { $0 = handler }
    }

    /// Called after every roll, on the rolling writer's thread (so it must only queue work):
    /// the flusher checks its resource bounds then (`Flusher.scheduleBoundsCheck`).
    let rollObserver = Mutex<(@Sendable () -> Void)?>(nil)

    /// Bytes of the segment files the log keeps: inherited, sealed and the current one (each
    /// counted at this log's segment size; inherited ones were made at the size of their day).
    var keptBytes: Int {
        rollLock.withLock { (inheritedSegments.count + sealedSegments.count + 1) * segmentSize }
    }

    /// The highest sequence in the oldest segment the log keeps before the current one: a
    /// partition with unflushed writes at or below it keeps that segment. nil: only the
    /// current segment is kept.
    var oldestKeptMaxSeq: UInt64? {
        rollLock.withLock { inheritedSegments.first?.maxSeq ?? sealedSegments.first?.maxSeq.load(ordering: .acquiring) }
    }

    /// Returns once the background seals and segment creations queued so far have run.
    func drainBackground() { sealQueue.sync {}; prefaultQueue.sync {} }

    /// `coveredBelow`: the first segment's header says every acknowledged sequence below this
    /// is in an older segment or flushed (recovery passes the highest sequence it replayed + 1:
    /// sequences of frames lost in a torn tail were never acknowledged and may lie below
    /// `lastSeq`).
    init(fileSystem: any FileSystem, directory: String, firstSegment number: UInt64, segmentSize: Int,
         durability: Durability, lastSeq: UInt64, coveredBelow: UInt64, inherited: [(number: UInt64, maxSeq: UInt64)],
         crashPoint: (@Sendable (CrashPoint) -> Void)?, skipSyncBug: Bool = false, backgroundNice: Int = 10,
         placement: LanePlacement = .unrestricted, metrics: EngineMetrics? = nil) throws(AugurError) {
        self.metrics = metrics
        lanePlacement = placement
        writeBehindQueue = BackgroundLane(name: "augur.wal.wb", nice: 0, placement: placement)
        sealQueue = BackgroundLane(name: "augur.wal.seal", nice: 0, placement: placement)
        prefaultQueue = BackgroundLane(name: "augur.wal.fault", nice: backgroundNice, placement: placement)
        self.fileSystem = fileSystem
        self.directory = directory
        self.segmentSize = segmentSize
        self.durability = durability
        self.crashPoint = crashPoint
        self.skipSyncBug = skipSyncBug
        if case .sync = durability {
            writeBehindChunk = 0
        } else {
            let chunk = min(8 << 20, max(1 << 20, segmentSize / 16))
            writeBehindChunk = segmentSize >= 4 * chunk ? chunk : 0
        }
        self.lastSeq = Atomic(lastSeq)
        inheritedSegments = inherited
        let first = try WriteAheadLog.createSegment(fileSystem: fileSystem, directory: directory, number: number,
                                                    size: segmentSize, firstSeq: min(coveredBelow, lastSeq + 1))
        current = Mutex(first)
        // The first segment is faulted in behind the first writers; every later one as a spare,
        // before it is current (`prepareSpare`).
        prefaultQueue.async { [self] in prefault(first, from: 0, to: first.file.capacity, writableBelow: writableAhead) }
    }

    /// Brings pages `[start, end)` of `segment` into the page cache and the mapping ahead of
    /// the writers (`MappedRegion.prefault`), `populatePiece` per call with a yield after each,
    /// stopping once the log is closed or failed or the kernel refuses: those below
    /// `writableBelow` writable (dirty, so their first stores take no fault at all), the rest
    /// readable (no zeros for the next fdatasync to write; the write-behind makes each chunk
    /// writable just before the writers reach it, `startWriteBehind`). Called on
    /// `prefaultQueue` for a whole fresh segment and on the write-behind lane for the chunk
    /// ahead, outside every lock: the caller's reference keeps the mapping alive, and
    /// populating changes no byte, so writers may store into the segment meanwhile (a fault
    /// taken here is one they do not take).
    private func prefault(_ segment: WALSegment, from start: Int, to end: Int, writableBelow: Int) {
        var at = start
        while at < end {
            if failed.load(ordering: .acquiring) || closed.load(ordering: .acquiring) { return }
            let n = min(Self.populatePiece, end - at)
            // Where the writers have already been there is nothing to gain, and a writable
            // populate would dirty again pages the write-behind may have cleaned (the first
            // segment is populated behind its first writers). A sealed segment reads as full.
            if at + n > segment.reserved.load(ordering: .relaxed) {
                if !segment.file.region.prefault(offset: at, length: n, writable: at < writableBelow) { return }
                ThreadPause.yield()
            }
            at += n
        }
    }

    /// What one populate call (`MappedRegion.prefault`) covers before the lane yields the CPU.
    /// Why: populating a fresh segment's pages costs ~4 ms of kernel time per MiB here (large
    /// folios allocated and zeroed), run without a preemption point and holding the mmap lock
    /// for read. In 1 MiB calls a one-thread fillrandom's put waited 4 ms for the CPU behind the
    /// lowered prefault thread (preempted at a tick, not resumed until the call's end) and
    /// 4-6 ms in `brk` for the mmap lock (`perf sched timehist`, docs/PERFORMANCE.md).
    static let populatePiece = 128 << 10

    /// How much of a fresh segment is populated writable ahead of its writers: its first two
    /// write-behind chunks (the write-behind does each later one as the writers enter the one
    /// before it) with durability `none`. None with `sync` and `periodic`, whose fdatasyncs
    /// would write the dirtied zeros ahead of the writers (up to two chunks per sync), or
    /// without write-behind (small segments).
    private var writableAhead: Int { durability == .none ? 2 * writeBehindChunk : 0 }

    /// The log of a read-only open: no segment, every append refused with `reason`.
    /// `segments`: what is in wal/, for `segmentNumbers` (never trimmed by this log).
    init(readOnlyAfter lastSeq: UInt64, segmentSize: Int, segments: [(number: UInt64, maxSeq: UInt64)], reason: String) {
        // Nothing is ever queued on them (no segment to write or seal); `close` drains them.
        lanePlacement = .unrestricted
        writeBehindQueue = BackgroundLane(name: "augur.wal.wb", nice: 0)
        sealQueue = BackgroundLane(name: "augur.wal.seal", nice: 0)
        prefaultQueue = BackgroundLane(name: "augur.wal.fault", nice: 0)
        fileSystem = PosixFileSystem()
        directory = ""
        self.segmentSize = segmentSize
        durability = .none
        crashPoint = nil
        skipSyncBug = false
        metrics = nil
        writeBehindChunk = 0
        self.lastSeq = Atomic(lastSeq)
        current = Mutex(nil)
        closed.store(true, ordering: .relaxed)
        inheritedSegments = segments
        readOnly = true
        fail(reason)
    }

    /// Creates, preallocates and syncs segment `number` with its header frame (which names the
    /// number, the size and the first sequence it will hold), then syncs the directory: a
    /// segment is never used, nor named by a seal or the manifest, before all of that is durable.
    /// `syncFailed` is told when the file's fdatasync fails (the log's rule: after a failed
    /// fdatasync of a WAL file, no more writes).
    static func createSegment(fileSystem: any FileSystem, directory: String, number: UInt64, size: Int,
                                      firstSeq: UInt64, syncFailed: (String) -> Void = { _ in }) throws(AugurError) -> WALSegment {
        let path = joinPath(directory, WALFormat.segmentName(number))
        let file = try io { () throws(FileSystemError) in
            let f: MappedFile
            do throws(FileSystemError) { f = try MappedFile(fileSystem: fileSystem, path: path, capacity: size, create: true) } catch {
                // Nothing names a segment before it is made (its number is the log's next), so
                // a half-made file is removed: an open refused for want of space left one empty
                // file per attempt (found from outside, `augur put` on a small disk).
                try? fileSystem.remove(path)
                throw error
            }
            WALFormat.writeMarker(at: f.base, payload: WALFormat.headerPayload(number: number, size: size, firstSeq: firstSeq),
                                  durablePrefix: 0)
            do throws(FileSystemError) { try f.sync() } catch {
                f.close()
                syncFailed("fdatasync of \(path) failed: \(error.errno)")
                throw error
            }
            // The new file's directory entry must be durable before any frame in it is acknowledged.
            try fileSystem.syncDirectory(directory)
            return f
        }
        return WALSegment(number: number, file: file, start: WALFormat.headerFrameSize)
    }

    /// Writes the seal after the last frame of `segment` (all complete and synced) and syncs it.
    /// Caller holds syncLock, and no writer can reserve space in the segment any more.
    func writeSeal(_ segment: WALSegment, at end: Int, reason: WALFormat.SealReason) throws(AugurError) {
        WALFormat.writeMarker(at: segment.file.base + end, payload: WALFormat.sealPayload(reason: reason, offset: end),
                              durablePrefix: segment.durableEnd)
        if skipSyncBug { return }
        do throws(FileSystemError) { try timedSync(segment) } catch {
            fail("fdatasync of \(segment.path) failed: \(error.errno)")
            throw AugurError(error)
        }
    }

    /// Largest payload one frame can carry.
    var maxPayload: Int { segmentSize - WALFormat.headerFrameSize - WALFormat.sealFrameSize - WALFormat.frameHeaderSize - 8 }

    var lastSequence: UInt64 { lastSeq.load(ordering: .acquiring) }

    /// A read-only open's log: it deletes nothing.
    var readOnly = false

    /// Set by `close()` under rollLock and syncLock; checked under syncLock before any
    /// fdatasync, and without it by the roll and the background work.
    let closed = Atomic<Bool>(false)

    func checkWritable() throws(AugurError) {
        if failed.load(ordering: .acquiring) {
            throw .writesDisabled(reason: failure.withLock { $0 } ?? "a WAL sync failed")
        }
    }

    func fail(_ reason: String) {
        failure.withLock { if $0 == nil { $0 = reason } }
        failed.store(true, ordering: .releasing)
    }

    /// Appends one frame of `opCount` operations whose encoded payload is `payloadSize` bytes.
    /// `encode` writes the payload given its base address and the first sequence number.
    /// Nothing can fail after space is reserved, so a reservation always becomes a frame.
    ///
    /// Returns nil, having written nothing, when the current segment has no room for the frame.
    /// The caller is inside partition write gates: it must leave them, call
    /// `makeRoom(payloadSize:)` (which rolls the log, with its fdatasync, fallocate and directory
    /// fsync, or waits for the roll in progress) and try again. So no writer ever holds a gate
    /// while the log rolls, and a memtable freeze or reshard cutover never waits for a roll.
    @inline(__always)
    func append(payloadSize: Int, opCount: Int,
                encode: (UnsafeMutableRawPointer, UInt64) -> Void) throws(AugurError) -> WALPosition? {
        try checkWritable()
        let size = WALFormat.frameSize(payload: payloadSize)
        guard var segment = current.withLock({ $0 }) else { throw .writesDisabled(reason: "no WAL segment") }
        var offset = 0
        while true {
            var off = segment.reserved.load(ordering: .relaxed)
            var reservedHere = false
            while off + size <= segment.capacity {
                let (ok, seen) = segment.reserved.compareExchange(expected: off, desired: off + size, ordering: .relaxed)
                if ok { reservedHere = true; break }
                off = seen
            }
            if reservedHere { offset = off; break }
            // Full (or sealed). If another writer installed the next segment meanwhile, use it;
            // otherwise roll outside the gate.
            guard let now = current.withLock({ $0 }), now !== segment else { return nil }
            segment = now
        }
        let firstSeq = lastSeq.wrappingAdd(UInt64(opCount), ordering: .relaxed).oldValue + 1
        let frame = segment.file.base + offset
        encode(frame + WALFormat.frameHeaderSize, firstSeq)
        storeU64(frame, 8, firstSeq)
        storeU32(frame, 16, UInt32(opCount))
        storeU32(frame, 20, UInt32(segment.durablePrefix.load(ordering: .relaxed) / 8))
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: frame + 8, count: WALFormat.frameHeaderSize - 8 + payloadSize))
        storeU32(frame, 0, CRC32C.mask(crc))
        caugur_store_release_u32(frame + 4, UInt32(payloadSize))
        segment.maxSeq.max(firstSeq + UInt64(opCount) - 1, ordering: .relaxed)
        if writeBehindChunk > 0 && (offset + size) / writeBehindChunk != offset / writeBehindChunk {
            startWriteBehind(segment, crossed: (offset + size) / writeBehindChunk)
        }
        let half = segment.capacity / 2
        if offset < half && offset + size >= half { prepareSpare(after: segment) }
        crashPoint?(.walAppend)
        return WALPosition(segment: segment, end: offset + size, firstSeq: firstSeq)
    }

    /// Creates the segment after `current` on the background queue once `current` is half full,
    /// so the roll only has to name its first sequence. Created inline, the new file's fdatasync
    /// and the directory fsync each force a journal commit, which on ext4 (ordered data) waits
    /// for the full segment's dirty data: 5-50 ms of every roll that writers waited for
    /// (docs/PERFORMANCE.md). The spare's header names the log's last sequence + 1 at its
    /// creation, a lower bound that the roll raises in place (see `roll`).
    @inline(never)
    func prepareSpare(after current: WALSegment) {
        sealQueue.async { [self] in
            let made: WALSegment? = rollLock.withLock {
                if closed.load(ordering: .acquiring) || failed.load(ordering: .acquiring) { return nil }
                guard self.current.withLock({ $0 }) === current, current.sealedEnd == nil, spare == nil else { return nil }
                do throws(AugurError) {
                    spare = try createSegment(after: current)
                    return spare
                } catch {
                    // Reported; the roll creates the segment itself, and a failure that lasts
                    // (a full disk) reaches the writer there.
                    backgroundErrorHandler.withLock { $0 }?(error)
                    return nil
                }
            }
            if let made { prefaultQueue.async { [self] in prefault(made, from: 0, to: made.file.capacity, writableBelow: writableAhead) } }
        }
    }

    /// Starts writeback of chunk `crossed - 2` of `segment` (the frame just written crossed into
    /// chunk `crossed`). Off the write path; a hint whose failure does not matter (the roll's or
    /// a sync's fdatasync reports write errors). The closure keeps the segment, so its
    /// descriptor stays open until the call is made; `close` drains the queue.
    @inline(never)
    private func startWriteBehind(_ segment: WALSegment, crossed: Int) {
        let chunk = writeBehindChunk
        writeBehindQueue.async {
            if self.rollLock.withLock({ segment.sealedEnd != nil }) { return }   // the roll synced it
            // The chunk after the one the writers just entered becomes writable before they
            // reach it (`prefault`; the segment's first two were done when it was made).
            let ahead = (crossed + 1) * chunk
            if self.writableAhead > 0 {
                self.prefault(segment, from: ahead, to: min(ahead + chunk, segment.file.capacity), writableBelow: .max)
            }
            guard crossed >= 2, let fd = segment.file.handle.descriptor else { return }
            // Walk the frames written so far here, so that the roll, which must know every
            // frame of the full segment complete, walks only the last chunk or two: from the
            // start of an unsynced 64 MiB segment the walk took 2-5 ms while writers waited.
            // Never waits (a frame still being copied stops it); zeros past the reservation read
            // as such a frame.
            self.syncLock.withLock { self.advanceComplete(segment, mustReach: segment.completeEnd, mayReach: crossed * chunk) }
            // Never past the chunk: the next one holds pages the writers are still filling.
            var at = (crossed - 2) * chunk
            let end = (crossed - 1) * chunk
            while at < end {
                ThreadPause.yield()
                let n = min(Self.writeBehindPiece, end - at)
                // Unmapped first: writeback of pages still mapped writable write-protects them
                // one TLB shootdown each (`MappedRegion.dropPages`). The writers are two chunks
                // on; one still copying a frame here faults its page back in.
                segment.file.region.dropPages(offset: at, length: n)
                startWriteback(descriptor: fd, offset: at, length: n)
                at += n
            }
        }
    }

    /// What one step of the write-behind task starts writing back before it yields the CPU
    /// (it populates in `populatePiece` steps). Why: the task runs at the writers' priority
    /// (docs/ARCHITECTURE.md, "Background threads at a lower priority"), and a writer's own
    /// wake-up of it lets it preempt that writer; populating a 4 MiB chunk writable and starting
    /// its writeback in one go then kept a one-thread fillrandom's put off its CPU for 2-4.4 ms
    /// (`perf sched timehist`: the put's CPU ran augur.wal.wb while the other ran a flush).
    /// Between pieces of 512 KiB (0.2-0.8 ms of writeback each) the writer gets its CPU back.
    static let writeBehindPiece = 512 << 10

    /// Walks frame headers from `segment.completeEnd`: waits for frames still being copied
    /// below `mustReach`, then advances over frames that happen to be complete, up to
    /// `mayReach`. Caller holds syncLock. Never waits past `mustReach`, which must lie within
    /// reserved space (beyond it the zeros may be unreserved, not in progress).
    func advanceComplete(_ segment: WALSegment, mustReach: Int, mayReach: Int) {
        var at = WriteAheadLog.awaitFrames(segment, from: segment.completeEnd, below: mustReach)
        while at + WALFormat.frameHeaderSize <= mayReach {
            let len = segment.frameLength(at: at)
            if len == 0 { break }
            at += WALFormat.frameSize(payload: len)
        }
        segment.completeEnd = max(segment.completeEnd, at)
    }

    /// Makes everything up to `position` durable (group commit). Throws once the log has failed.
    func sync(upTo position: WALPosition) throws(AugurError) {
        try syncLock.withLock { () throws(AugurError) in
            if closed.load(ordering: .acquiring) { throw .engineClosed }
            try checkWritable()
            // Nothing in a segment is made durable before the segment behind it is sealed:
            // recovery drops a segment's frames when the one before it lacks its seal.
            try finishPendingSealLocked()
            let segment = position.segment
            if segment.durableEnd >= position.end { return }
            // Cover everyone already reserved, not just us: that is what makes it group commit.
            let reservedNow = min(segment.reserved.load(ordering: .acquiring), segment.capacity)
            advanceComplete(segment, mustReach: position.end, mayReach: reservedNow)
            crashPoint?(.walSync)
            if !skipSyncBug {
                do throws(FileSystemError) { try timedSync(segment) } catch {
                    fail("fdatasync of \(segment.path) failed: \(error.errno)")
                    throw AugurError(error)
                }
            }
            segment.durableEnd = segment.completeEnd
        }
    }

    /// fdatasync of `segment`, or of `range` of it, timed for the metrics (a clock read either
    /// side of a syscall that takes tens of microseconds at least; the group commit's one sync
    /// serves many writers).
    func timedSync(_ segment: WALSegment, range: Range<Int>? = nil) throws(FileSystemError) {
        let started = MonotonicClock.nanos()
        if let range { try segment.file.syncData(in: range) } else { try segment.file.sync() }
        metrics?.walSynced(nanos: MonotonicClock.nanos() &- started)
    }

    /// Syncs every frame reserved in the current segment before the call, waiting for those
    /// still being copied (flushes, `syncWAL`, periodic durability).
    func syncCurrent() throws(AugurError) {
        try checkWritable()
        guard let segment = current.withLock({ $0 }) else { return }
        try syncLock.withLock { () throws(AugurError) in
            if closed.load(ordering: .acquiring) { throw .engineClosed }
            try checkWritable()
            try finishPendingSealLocked()
            // Every frame reserved before now is waited for: a flush needs each frame of its
            // frozen memtable durable, and a frame still being copied ahead of one of them
            // would end replay there (a torn tail) while the run kept the later one — a batch
            // half kept. Writers hold no lock between reserving and publishing, so the wait is
            // a copy's length. A segment a roll sealed meanwhile (reserved reads `sealed`) is
            // left to the roll's walk and synced whole, as before.
            let reservedNow = segment.reserved.load(ordering: .acquiring)
            let open = reservedNow <= segment.capacity
            if open {
                advanceComplete(segment, mustReach: reservedNow, mayReach: reservedNow)
            } else {
                advanceComplete(segment, mustReach: segment.completeEnd, mayReach: segment.capacity)
            }
            let at = segment.completeEnd
            do throws(FileSystemError) { try open ? timedSync(segment, below: at) : timedSync(segment) } catch {
                fail("fdatasync of \(segment.path) failed: \(error.errno)")
                throw AugurError(error)
            }
            segment.durableEnd = at
        }
    }

    /// Makes `segment`'s frames below `end` durable while writers go on filling it. With
    /// durability `none` the pages ahead of the writers are populated writable, so dirty
    /// (`writableAhead`); a whole-file fdatasync wrote those zeros too and write-protected
    /// every one of them, one TLB shootdown each, while the writer stored into the same page
    /// tables: a one-thread fillrandom's put spun 4-6 ms on a page-table lock behind the
    /// flush's sync (perf, docs/PERFORMANCE.md "The flush's WAL sync"). So that sync covers the
    /// frames' pages only, from the page holding `durableEnd`. Without pages populated ahead a
    /// whole-file fdatasync writes the same pages and costs no io_uring setup.
    private func timedSync(_ segment: WALSegment, below end: Int) throws(FileSystemError) {
        guard writableAhead > 0 else { return try timedSync(segment) }
        let start = segment.durableEnd / MappedRegion.pageSize * MappedRegion.pageSize
        guard start < end else { return }
        // Every frame below `end` is complete, so no writer stores into its whole pages: out of
        // the page tables first, they are written without a TLB shootdown each (as the
        // write-behind's, `MappedRegion.dropPages`). The page `end` lies in stays mapped.
        segment.file.region.dropPages(offset: start, length: end - start)
        try timedSync(segment, range: start..<end)
    }

    /// Segment files currently part of the log (for tests and `augur info`).
    var segmentNumbers: [UInt64] {
        rollLock.withLock {
            inheritedSegments.map(\.number) + sealedSegments.map(\.number) + (current.withLock { $0?.number }.map { [$0] } ?? [])
        }
    }

    /// Seals the current segment as closed cleanly (when the log has not failed), so the next
    /// recovery knows nothing was in flight in it, and closes every descriptor. Waits for a roll
    /// in progress. Callers stop writers first. Returns where the current segment's frames end
    /// when they were synced there (the manifest's `walClosed`), else nil.
    @discardableResult
    func close() -> WALClose? {
        let closedAt: WALClose? = rollLock.withLock {
            let closedAt: WALClose? = syncLock.withLock {
                if closed.load(ordering: .acquiring) { return nil }
                if !failed.load(ordering: .acquiring) { try? finishPendingSealLocked() }
                closed.store(true, ordering: .releasing)
                guard let seg = current.withLock({ $0 }), !failed.load(ordering: .acquiring), seg.sealedEnd == nil else { return nil }
                let end = min(seg.reserved.exchange(WALSegment.sealed, ordering: .acquiringAndReleasing), seg.capacity)
                seg.sealedEnd = end
                advanceComplete(seg, mustReach: end, mayReach: end)
                do throws(FileSystemError) {
                    if !skipSyncBug { try seg.file.sync() }
                    seg.durableEnd = end
                } catch {
                    fail("fdatasync of \(seg.path) failed: \(error.errno)")
                    return nil
                }
                try? writeSeal(seg, at: end, reason: .closed)
                // The frames are durable through `end` whether or not the seal reached the disk.
                return skipSyncBug ? nil : WALClose(segment: seg.number, framesEnd: UInt64(end))
            }
            // The spare holds nothing yet; left, it would be an empty newest segment after the
            // closed one (harmless to recovery, but clutter).
            if let s = spare {
                s.file.close()
                try? fileSystem.remove(s.path)
                try? fileSystem.syncDirectory(directory)
                spare = nil
            }
            return closedAt
        }
        writeBehindQueue.sync {}              // no write-behind call may outlive the descriptors
        sealQueue.sync {}
        prefaultQueue.sync {}                 // stops at once: it checks `closed`
        current.withLock { $0 }?.file.close()
        rollLock.withLock { for s in sealedSegments { s.file.close() } }
        return closedAt
    }
}
