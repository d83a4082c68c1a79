// Copies byte ranges between files: (source, offset, length) → (target, offset), then makes the
// targets durable (fdatasync of each target, fsync of each target's directory).
//
// Three backends, chosen per call (see docs/ARCHITECTURE.md, "Range copy (`RangeCopier`)"):
//   * io_uring: reads chunks into registered buffers (READ_FIXED, by default through a second
//     O_DIRECT descriptor so the page cache is skipped on the way in) and writes them out of
//     them (WRITE_FIXED), `queueDepth` chunks in flight; each write is queued when its read
//     completes, or linked to it (IOSQE_IO_LINK) with `linkReadToWrite`;
//   * copy_file_range(2): the kernel copies page cache to page cache (or reflinks), one range
//     at a time;
//   * pread/pwrite, through `FileHandle.read`/`write`: the fallback that works for every
//     handle, including simulated and fault-injecting ones that have no descriptor.
// `.auto` takes the first that can run: io_uring unless the host disabled it (logged once),
// then copy_file_range unless the file system refuses it for these files, then pread/pwrite.
// Any handle without a descriptor sends the whole call to pread/pwrite through the protocol,
// so fault injection and crash simulation keep working for callers that use this copier.
import CAugurSys
import Logging
import SystemPackage
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One range to copy: `length` bytes at `sourceOffset` of `source` go to `targetOffset` of
/// `target`. Thread-safety: a value; `Sendable` because handles are.
public struct CopyRange: Sendable {
    public var source: any FileHandle
    public var sourceOffset: Int
    public var length: Int
    public var target: any FileHandle
    public var targetOffset: Int

    public init(source: any FileHandle, sourceOffset: Int, length: Int, target: any FileHandle, targetOffset: Int) {
        self.source = source
        self.sourceOffset = sourceOffset
        self.length = length
        self.target = target
        self.targetOffset = targetOffset
    }
}

/// The ways a copy can be carried out. Thread-safety: a value.
public enum RangeCopyBackend: String, Sendable, CaseIterable, CustomStringConvertible {
    case ioUring = "io_uring"
    case copyFileRange = "copy_file_range"
    case readWrite = "pread/pwrite"
    public var description: String { rawValue }
}

/// Why a copy failed. Thread-safety: a value.
public enum RangeCopyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A read, write, sync or directory sync failed: which, on which file, with which errno.
    case io(FileSystemError)
    /// Range `index` makes no sense (a negative offset or length, or an end past Int.max), or
    /// names a source not open for reading or a target not open for positional writing.
    case invalidRange(index: Int, reason: String)
    /// Range `index` reads past the end of its source: `offset + length > fileSize`.
    case rangePastEndOfSource(index: Int, path: String, offset: Int, length: Int, fileSize: Int)
    /// The source ended while range `index` was being copied (it was shortened after the
    /// sizes were checked): no data at `offset`, where the range needed it up to `end`.
    case unexpectedEndOfSource(index: Int, path: String, offset: Int, end: Int)
    /// Ranges `first` and `second` touch the same bytes of `path` and at least one writes them,
    /// so the result would depend on the order the backends happen to use.
    case overlappingRanges(path: String, first: Int, second: Int)
    /// The options are out of bounds.
    case invalidOptions(String)
    /// A backend forced in the options cannot run here.
    case backendUnavailable(RangeCopyBackend, reason: String)
    /// The io_uring instance itself failed (not one request on one file).
    case ringFailure(operation: String, errno: Errno)
    /// Requests given to io_uring did not complete within the stall limit (the ring was given
    /// up and kept alive; `.auto` then redoes the copy with another backend).
    case ringStalled(requests: Int, seconds: Int)

    public var description: String {
        switch self {
        case .io(let e):
            return "range copy: \(e)"
        case .invalidRange(let index, let reason):
            return "range copy: range #\(index) is invalid: \(reason)"
        case .rangePastEndOfSource(let index, let path, let offset, let length, let fileSize):
            return "range copy: range #\(index) reads \(length) bytes at offset \(offset) of \(path), past its end (file size \(fileSize))"
        case .unexpectedEndOfSource(let index, let path, let offset, let end):
            return "range copy: \(path) ended at offset \(offset) while range #\(index) needed data up to \(end) (the source shrank during the copy)"
        case .overlappingRanges(let path, let first, let second):
            return "range copy: ranges #\(first) and #\(second) overlap in \(path), and at least one writes there"
        case .invalidOptions(let reason):
            return "range copy: invalid options: \(reason)"
        case .backendUnavailable(let backend, let reason):
            return "range copy: backend \(backend) cannot run: \(reason)"
        case .ringStalled(let requests, let seconds):
            return "range copy: \(requests) io_uring request(s) did not complete within \(seconds) s (the ring was given up)"
        case .ringFailure(let operation, let errno):
            return "range copy: io_uring \(operation) failed: \(errno)"
        }
    }
}

/// Copies lists of byte ranges between files and makes the targets durable.
///
/// Thread-safety: immutable; `copy` may be called from many threads at once. Each call sets up
/// its own io_uring and buffers (and gives them back before returning) and runs on the
/// calling thread only. The handles in one call must not be closed while it runs; copies into
/// the same bytes of one target from concurrent calls are the caller's race.
public final class RangeCopier: Sendable {
    /// How to copy. Thread-safety: a value.
    public struct Options: Sendable, Equatable {
        /// Which backend to use; `.auto` picks the fastest one that works here.
        public enum BackendChoice: Sendable, Equatable {
            case auto, ioUring, copyFileRange, readWrite
        }

        public var backend: BackendChoice
        /// io_uring: chunks in flight at once, which is also the number of registered buffers.
        /// 1...1024.
        public var queueDepth: Int
        /// Bytes per chunk: one read and one write (io_uring, pread/pwrite) or one
        /// copy_file_range call covers at most this much (times `queueDepth` for the latter).
        /// 512 B ... 1 GiB.
        public var chunkSize: Int
        /// io_uring: link each chunk's write to its read (IOSQE_IO_LINK), so both go to the
        /// kernel in one submission; when false (the default, measured faster here) the write
        /// is queued once the read's completion is reaped.
        public var linkReadToWrite: Bool
        /// io_uring: read the chunks that are not in the page cache with O_DIRECT (a second
        /// descriptor opened on the same file) straight into the registered buffers, bypassing
        /// the cache: one memory copy fewer per byte, and the sources' pages do not push hotter
        /// ones out of the cache. Each chunk's residency is looked up before it is read
        /// (cachestat(2), else mincore(2)): a chunk with at least half its pages cached is
        /// copied out of the cache instead, since a direct read would fetch it from the device
        /// again. Reads are widened to 4 KiB boundaries. Falls back to buffered reads by itself
        /// where the file system refuses O_DIRECT.
        public var directReads: Bool
        /// io_uring: write the 4 KiB-aligned middle of each range (at least 64 KiB of it) with
        /// O_DIRECT (a second descriptor on the target) straight from the registered buffers, so
        /// those bytes skip the page cache: no copy into it, no dirty pages for writeback and
        /// the final fdatasync to push out, and the device writes while the copy reads. The
        /// unaligned head and tail of a range go through the page cache as before. Before the
        /// copy each target is fallocated over those middles (so the direct writes are
        /// overwrites of allocated blocks, which ext4 issues asynchronously); a chunk whose
        /// source offset is not congruent with its target offset mod 4 KiB is moved to the
        /// buffer's start after its direct read (not possible with `linkReadToWrite`, where such
        /// chunks are written through the page cache). Falls back to buffered writes by itself
        /// where the file system refuses O_DIRECT. On by default: with cached sources the copy
        /// is then one memory copy out of the cache while the device writes, about as fast as
        /// the device writes at all (docs/PERFORMANCE.md), instead of two memory copies, a
        /// gigabyte of new dirty pages and all the writing left for the final fdatasync. The
        /// price: the targets' pages are not in the page cache afterwards.
        public var directWrites: Bool
        /// fdatasync every target and fsync every target's directory once the data is copied.
        public var syncTargets: Bool
        /// Write-behind: after this many bytes written to a target, start writeback of its
        /// dirty pages (sync_file_range with SYNC_FILE_RANGE_WRITE, which does not wait), so
        /// the device writes while the copy goes on and the final fdatasync has little left to
        /// do. A hint only: durability still comes from the fdatasync. Nil turns it off; it
        /// also does nothing for handles without a descriptor.
        public var writeBehind: Int?
        /// Treat io_uring as unavailable in `.auto`, as on a host that disabled it (an operator
        /// switch, and what tests use to see the fallback chosen).
        public var disableIoUring: Bool
        /// For tests: a smaller io_uring submission queue than the pipeline wants (at least 2),
        /// to exercise the full-queue path.
        var ringEntriesOverride: Int? = nil
        /// For tests: with false, every chunk is read direct (with `directReads`) as if none were
        /// cached, so the direct path runs on sources a test has just written.
        var readsCachedChunksBuffered = true
        /// For tests: skip the up-front check of source sizes, so the backends themselves meet
        /// a source that ends early (as one shortened during the copy would).
        var checksSourceSizes = true

        public init(backend: BackendChoice = .auto, queueDepth: Int = 16, chunkSize: Int = 1 << 20,
                    linkReadToWrite: Bool = false, directReads: Bool = true, directWrites: Bool = true,
                    syncTargets: Bool = true, writeBehind: Int? = nil, disableIoUring: Bool = false) {
            self.backend = backend
            self.queueDepth = queueDepth
            self.chunkSize = chunkSize
            self.linkReadToWrite = linkReadToWrite
            self.directReads = directReads
            self.directWrites = directWrites
            self.syncTargets = syncTargets
            self.writeBehind = writeBehind
            self.disableIoUring = disableIoUring
        }
    }

    /// Bytes copied so far, readable from any thread while a copy runs (for progress and
    /// throughput reports). Thread-safety: atomics only.
    public final class Progress: Sendable {
        private let copied = Atomic<Int>(0)
        private let total = Atomic<Int>(0)
        public init() {}
        /// Bytes whose write has completed (not yet necessarily durable).
        public var bytesCopied: Int { copied.load(ordering: .relaxed) }
        /// Bytes the running copy will move in all; set when it starts.
        public var totalBytes: Int { total.load(ordering: .relaxed) }
        func start(total bytes: Int) {
            copied.store(0, ordering: .relaxed)
            total.store(bytes, ordering: .relaxed)
        }
        @inline(__always) func add(_ n: Int) { copied.add(n, ordering: .relaxed) }
    }

    /// What a copy did. Thread-safety: a value.
    public struct Report: Sendable, CustomStringConvertible {
        /// The backend that moved the data (the last one, if `.auto` had to fall back mid-copy).
        public var backend: RangeCopyBackend
        /// Why `.auto` did not use io_uring (or copy_file_range), when it did not.
        public var fallbackReason: String?
        public var bytesCopied: Int
        public var rangeCount: Int
        /// Targets fdatasynced and directories fsynced at the end.
        public var targetsSynced: Int
        public var directoriesSynced: Int
        /// io_uring only: whether the buffers were registered (READ_FIXED/WRITE_FIXED).
        public var registeredBuffers: Bool?
        /// io_uring only: chunks read with O_DIRECT, and chunks read through the page cache
        /// (the cached ones with `directReads`, every one without it).
        public var directReadChunks = 0
        public var cachedReadChunks = 0
        /// Time spent moving data, and making it durable.
        public var copyDuration: Duration
        public var syncDuration: Duration

        /// Bytes per second over copy and sync together.
        public var throughput: Double {
            let s = Double((copyDuration + syncDuration).components.seconds)
                + Double((copyDuration + syncDuration).components.attoseconds) / 1e18
            return s > 0 ? Double(bytesCopied) / s : 0
        }

        public var description: String {
            var s = "\(bytesCopied) bytes in \(rangeCount) ranges via \(backend)"
            if let fallbackReason { s += " (\(fallbackReason))" }
            s += ", copy \(copyDuration), sync \(syncDuration) of \(targetsSynced) files and \(directoriesSynced) directories"
            return s
        }
    }

    public let fileSystem: any FileSystem
    public let options: Options

    /// `fileSystem` is where target directories are synced; it should be the one the handles
    /// were opened from, so faults injected there reach the directory syncs.
    public init(fileSystem: any FileSystem, options: Options = Options()) {
        self.fileSystem = fileSystem
        self.options = options
    }

    /// Whether io_uring works in this process (probed once), and if not why.
    public static var ioUringUnavailableReason: String? {
        if case .unavailable(let reason) = IORing.availability { return reason }
        return nil
    }

    /// The label of the copier's default logger.
    public static let loggerLabel = "augur.copy"

    /// Where `.auto` decisions and fallbacks are reported (at `notice`), once per distinct
    /// message in the process. Defaults to `Logger(label: RangeCopier.loggerLabel)`, which goes
    /// wherever the application bootstrapped swift-log (standard error without a bootstrap).
    public static func setLogger(_ logger: Logger) {
        logState.withLock { $0.logger = logger }
    }

    /// Copies every range, then (with `syncTargets`) fdatasyncs each target through
    /// `FileHandle.sync()` and fsyncs each target's directory through
    /// `FileSystem.syncDirectory`. Ranges are checked before any byte moves: nothing is written
    /// if one is invalid. On an I/O error the copy stops, waits for requests in flight, and
    /// throws; targets may then hold part of the data.
    @discardableResult
    public func copy(_ ranges: [CopyRange], progress: Progress? = nil) throws(RangeCopyError) -> Report {
        try validate(options)
        let total = try validate(ranges)
        progress?.start(total: total)
        let progress = progress ?? Progress()

        let clock = ContinuousClock()
        let started = clock.now
        var run = Run(ranges: ranges, options: options, progress: progress)
        try run.copy()
        let copied = clock.now

        var targetsSynced = 0, directoriesSynced = 0
        if options.syncTargets {
            var seenTargets = Set<ObjectIdentifier>()
            var directories: [String] = []
            var seenDirectories = Set<String>()
            for r in ranges where seenTargets.insert(ObjectIdentifier(r.target)).inserted {
                do { try r.target.sync() } catch { throw .io(error) }
                targetsSynced += 1
                let directory = parentDirectory(r.target.path)
                if seenDirectories.insert(directory).inserted { directories.append(directory) }
            }
            for directory in directories {
                do { try fileSystem.syncDirectory(directory) } catch { throw .io(error) }
                directoriesSynced += 1
            }
        }
        let synced = clock.now
        return Report(backend: run.backend, fallbackReason: run.fallbackReason, bytesCopied: progress.bytesCopied,
                      rangeCount: ranges.count, targetsSynced: targetsSynced, directoriesSynced: directoriesSynced,
                      registeredBuffers: run.registeredBuffers,
                      directReadChunks: run.directReadChunks, cachedReadChunks: run.cachedReadChunks,
                      copyDuration: copied - started, syncDuration: synced - copied)
    }

    // MARK: - validation

    private func validate(_ options: Options) throws(RangeCopyError) {
        guard (1...1024).contains(options.queueDepth) else {
            throw .invalidOptions("queueDepth \(options.queueDepth) is not in 1...1024")
        }
        guard (512...(1 << 30)).contains(options.chunkSize) else {
            throw .invalidOptions("chunkSize \(options.chunkSize) is not in 512...\(1 << 30)")
        }
        if let w = options.writeBehind, w < 4096 {
            throw .invalidOptions("writeBehind \(w) is below 4096 bytes")
        }
        if let entries = options.ringEntriesOverride, !(2...4096).contains(entries) {
            throw .invalidOptions("ring entries \(entries) is not in 2...4096")
        }
    }

    /// Checks every range and returns the total byte count.
    private func validate(_ ranges: [CopyRange]) throws(RangeCopyError) -> Int {
        var total = 0
        var sizes: [ObjectIdentifier: Int] = [:]
        var modes: [ObjectIdentifier: Int32] = [:]
        for (i, r) in ranges.enumerated() {
            guard r.sourceOffset >= 0, r.targetOffset >= 0, r.length >= 0 else {
                throw .invalidRange(index: i, reason: "negative offset or length (source offset \(r.sourceOffset), target offset \(r.targetOffset), length \(r.length))")
            }
            let (sourceEnd, o1) = r.sourceOffset.addingReportingOverflow(r.length)
            let (_, o2) = r.targetOffset.addingReportingOverflow(r.length)
            let (sum, o3) = total.addingReportingOverflow(r.length)
            guard !o1, !o2, !o3 else {
                throw .invalidRange(index: i, reason: "offset + length overflows")
            }
            total = sum
            let sourceKey = ObjectIdentifier(r.source)
            let size: Int
            if let known = sizes[sourceKey] {
                size = known
            } else {
                do { size = try r.source.size() } catch { throw .io(error) }
                sizes[sourceKey] = size
            }
            if sourceEnd > size && options.checksSourceSizes {
                throw .rangePastEndOfSource(index: i, path: r.source.path, offset: r.sourceOffset, length: r.length, fileSize: size)
            }
            // A raw descriptor opened the wrong way would fail with EBADF, which the syscall
            // layer treats as an Augur bug; here it is the caller's mistake, so say so.
            if let fd = r.source.descriptor {
                let mode = try Self.statusFlags(fd, r.source.path, index: i, cache: &modes, key: sourceKey)
                if mode & O_ACCMODE == O_WRONLY {
                    throw .invalidRange(index: i, reason: "source \(r.source.path) is not open for reading")
                }
            }
            if let fd = r.target.descriptor {
                let mode = try Self.statusFlags(fd, r.target.path, index: i, cache: &modes, key: ObjectIdentifier(r.target))
                if mode & O_ACCMODE == O_RDONLY {
                    throw .invalidRange(index: i, reason: "target \(r.target.path) is not open for writing")
                }
                if mode & O_APPEND != 0 {
                    throw .invalidRange(index: i, reason: "target \(r.target.path) is open with O_APPEND, which ignores write offsets")
                }
            }
        }
        try checkOverlaps(ranges)
        return total
    }

    private static func statusFlags(_ fd: Int32, _ path: String, index: Int, cache: inout [ObjectIdentifier: Int32],
                                    key: ObjectIdentifier) throws(RangeCopyError) -> Int32 {
        if let m = cache[key] { return m }
        let m = fcntl(fd, F_GETFL)
        if m < 0 { throw .invalidRange(index: index, reason: "\(path): descriptor \(fd) is not usable (\(Errno(rawValue: errno)))") }
        cache[key] = m
        return m
    }

    /// Which file a handle refers to: device and inode when it has a descriptor (two handles on
    /// one file are the same file), else its path.
    private enum FileKey: Hashable {
        case inode(UInt64, UInt64)
        case path(String)
    }

    private static func fileKey(_ handle: any FileHandle) -> FileKey {
        if let fd = handle.descriptor {
            var st = stat()
            if fstat(fd, &st) == 0 { return .inode(UInt64(st.st_dev), UInt64(st.st_ino)) }
        }
        return .path(handle.path)
    }

    /// Rejects ranges that write the same bytes of a file twice, or write bytes another range
    /// reads: the backends run ranges in parallel and in any order.
    private func checkOverlaps(_ ranges: [CopyRange]) throws(RangeCopyError) {
        struct Extent { var start: Int; var end: Int; var index: Int; var writes: Bool; var path: String }
        var byFile: [FileKey: [Extent]] = [:]
        var keys: [ObjectIdentifier: FileKey] = [:]
        func key(_ h: any FileHandle) -> FileKey {
            let id = ObjectIdentifier(h)
            if let k = keys[id] { return k }
            let k = Self.fileKey(h)
            keys[id] = k
            return k
        }
        var targetKeys = Set<FileKey>()
        for (i, r) in ranges.enumerated() where r.length > 0 {
            let t = key(r.target)
            targetKeys.insert(t)
            byFile[t, default: []].append(Extent(start: r.targetOffset, end: r.targetOffset + r.length, index: i, writes: true, path: r.target.path))
        }
        for (i, r) in ranges.enumerated() where r.length > 0 {
            let s = key(r.source)
            if targetKeys.contains(s) {
                byFile[s, default: []].append(Extent(start: r.sourceOffset, end: r.sourceOffset + r.length, index: i, writes: false, path: r.source.path))
            }
        }
        for (_, var extents) in byFile {
            extents.sort { ($0.start, $0.index) < ($1.start, $1.index) }
            // Sweep: the extent reaching furthest so far, and the furthest-reaching writer.
            var furthest: Extent? = nil
            var furthestWriter: Extent? = nil
            for e in extents {
                if e.writes, let f = furthest, f.end > e.start {
                    throw .overlappingRanges(path: e.path, first: min(f.index, e.index), second: max(f.index, e.index))
                }
                if !e.writes, let w = furthestWriter, w.end > e.start {
                    throw .overlappingRanges(path: e.path, first: min(w.index, e.index), second: max(w.index, e.index))
                }
                if furthest == nil || e.end > furthest!.end { furthest = e }
                if e.writes && (furthestWriter == nil || e.end > furthestWriter!.end) { furthestWriter = e }
            }
        }
    }

    // MARK: - logging

    private struct LogState {
        /// nil: a default logger made when a message is logged (after the application's
        /// `LoggingSystem.bootstrap`, however early the copier was first used).
        var logger: Logger? = nil
        var said: Set<String> = []
    }
    private static let logState = Mutex(LogState())

    /// How long the io_uring copy waits for a completion before it gives the ring up.
    static let stallLimitNanos = 20_000_000_000

    /// Logs `message` unless it was logged before in this process.
    static func logOnce(_ message: String) {
        let (first, chosen): (Bool, Logger?) = logState.withLock { state in
            (state.said.insert(message).inserted, state.logger)
        }
        guard first else { return }
        (chosen ?? Logger(label: loggerLabel)).notice("\(message)")
    }
}

// MARK: - one copy

/// The state of one `copy` call. Thread-safety: confined to the calling thread.
private struct Run {
    let ranges: [CopyRange]
    let options: RangeCopier.Options
    let progress: RangeCopier.Progress
    var backend: RangeCopyBackend = .readWrite
    var fallbackReason: String? = nil
    var registeredBuffers: Bool? = nil
    var directReadChunks = 0
    var cachedReadChunks = 0

    init(ranges: [CopyRange], options: RangeCopier.Options, progress: RangeCopier.Progress) {
        self.ranges = ranges
        self.options = options
        self.progress = progress
    }

    /// Largest range length (buffers need not exceed it).
    private var longestRange: Int { ranges.reduce(0) { max($0, $1.length) } }

    mutating func copy() throws(RangeCopyError) {
        let missing = ranges.lazy.flatMap { [$0.source, $0.target] }.first { $0.descriptor == nil }
        let noDescriptor = missing.map { "\($0.path) has no file descriptor (simulated or fault-injecting file system)" }

        switch options.backend {
        case .readWrite:
            backend = .readWrite
            try copyReadWrite(from: Cursor())
        case .copyFileRange:
            if let noDescriptor { throw .backendUnavailable(.copyFileRange, reason: noDescriptor) }
            backend = .copyFileRange
            try copyFileRange(forced: true)
        case .ioUring:
            if let noDescriptor { throw .backendUnavailable(.ioUring, reason: noDescriptor) }
            if case .unavailable(let reason) = IORing.availability { throw .backendUnavailable(.ioUring, reason: reason) }
            backend = .ioUring
            do {
                try copyIOUring()
            } catch {
                switch error {
                case .setup(let e):
                    throw .backendUnavailable(.ioUring, reason: IORing.describeSetupFailure(e, switchSetting: nil, path: ""))
                case .copy(let e):
                    throw e
                }
            }
        case .auto:
            if let noDescriptor {
                backend = .readWrite
                fallbackReason = noDescriptor
                try copyReadWrite(from: Cursor())
                return
            }
            var why: String? = nil
            if options.disableIoUring {
                why = "io_uring disabled in the options"
            } else if case .unavailable(let reason) = IORing.availability {
                why = reason
                RangeCopier.logOnce("range copy: \(reason); using copy_file_range, then pread/pwrite")
            } else {
                backend = .ioUring
                do {
                    try copyIOUring()
                    return
                } catch {
                    switch error {
                    case .setup(let e):
                        // Nothing was copied: the ring could not be set up (locked memory, most
                        // likely). Fall back for this call; later calls try again.
                        let reason = IORing.describeSetupFailure(e, switchSetting: nil, path: "")
                        RangeCopier.logOnce("range copy: \(reason); using copy_file_range, then pread/pwrite")
                        why = reason
                    case .copy(.ringStalled(let requests, let seconds)):
                        // Redo everything with another backend (what the ring wrote is written
                        // again; a late completion writes the same bytes).
                        let reason = "\(requests) io_uring request(s) stalled over \(seconds) s; copy redone with copy_file_range"
                        RangeCopier.logOnce("range copy: \(reason)")
                        why = reason
                    case .copy(let e):
                        throw e
                    }
                }
            }
            fallbackReason = why
            backend = .copyFileRange
            try copyFileRange(forced: false)
        }
    }

    // MARK: pread/pwrite through the FileHandle protocol

    /// Where a copy stands: range index and bytes of it done.
    struct Cursor {
        var range = 0
        var done = 0
    }

    /// Copies from `cursor` to the end with `FileHandle.read`/`write`, one chunk at a time.
    /// Short reads are continued; a read of 0 bytes before the range ends means the source
    /// shrank.
    mutating func copyReadWrite(from cursor: Cursor) throws(RangeCopyError) {
        let size = max(1, min(options.chunkSize, longestRange))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        defer { buffer.deallocate() }
        var writeBehind = WriteBehind(threshold: options.writeBehind)
        var start = cursor
        for i in start.range..<ranges.count {
            let r = ranges[i]
            var done = i == start.range ? start.done : 0
            while done < r.length {
                let want = min(buffer.count, r.length - done)
                var got = 0
                while got < want {
                    let n: Int
                    do {
                        n = try r.source.read(at: r.sourceOffset + done + got,
                                              into: UnsafeMutableRawBufferPointer(rebasing: buffer[got..<want]))
                    } catch { throw .io(error) }
                    if n == 0 {
                        throw .unexpectedEndOfSource(index: i, path: r.source.path, offset: r.sourceOffset + done + got,
                                                     end: r.sourceOffset + r.length)
                    }
                    got += n
                }
                do {
                    try r.target.write(at: r.targetOffset + done, UnsafeRawBufferPointer(rebasing: buffer[0..<want]))
                } catch { throw .io(error) }
                done += want
                progress.add(want)
                if let fd = r.target.descriptor { writeBehind.wrote(want, to: fd) }
            }
            start.done = 0
        }
    }

    /// Write-behind for the synchronous backends: counts bytes written per target descriptor
    /// and starts writeback (sync_file_range WRITE, no waiting for it) every `threshold`.
    struct WriteBehind {
        let threshold: Int?
        var written: [Int32: Int] = [:]
        mutating func wrote(_ n: Int, to fd: Int32) {
            guard let threshold else { return }
            let total = written[fd, default: 0] + n
            if total >= threshold {
                // Errors are ignored: this only starts I/O early; the fdatasync at the end
                // reports any failure of the writes themselves.
                _ = caugur_sync_file_range_write(fd, 0, 0)
                written[fd] = 0
            } else {
                written[fd] = total
            }
        }
    }

    // MARK: copy_file_range

    mutating func copyFileRange(forced: Bool) throws(RangeCopyError) {
        var step = max(options.chunkSize, 1 << 20) * max(1, options.queueDepth)
        if let w = options.writeBehind { step = min(step, max(w, 1 << 20)) }
        var writeBehind = WriteBehind(threshold: options.writeBehind)
        for i in ranges.indices {
            let r = ranges[i]
            guard let sourceFD = r.source.descriptor, let targetFD = r.target.descriptor else {
                throw .invalidRange(index: i, reason: "a handle was closed during the copy")
            }
            var inOffset = Int64(r.sourceOffset), outOffset = Int64(r.targetOffset)
            var remaining = r.length
            while remaining > 0 {
                let n = caugur_copy_file_range(sourceFD, &inOffset, targetFD, &outOffset, min(remaining, step))
                if n > 0 {
                    remaining -= Int(n)
                    progress.add(Int(n))
                    writeBehind.wrote(Int(n), to: targetFD)
                    continue
                }
                if n == 0 {
                    throw .unexpectedEndOfSource(index: i, path: r.source.path, offset: Int(inOffset), end: r.sourceOffset + r.length)
                }
                let e = errno
                switch e {
                case EINTR:
                    continue
                case EXDEV, ENOSYS, EOPNOTSUPP, EINVAL, EBADF:
                    // The kernel or file systems will not copy between these files (different
                    // file systems, no support, special files): the rest goes by pread/pwrite.
                    let reason = "copy_file_range from \(r.source.path) to \(r.target.path) refused: \(Errno(rawValue: e))"
                    if forced { throw .backendUnavailable(.copyFileRange, reason: reason) }
                    RangeCopier.logOnce("range copy: \(reason); using pread/pwrite")
                    fallbackReason = [fallbackReason, reason].compactMap { $0 }.joined(separator: "; ")
                    backend = .readWrite
                    try copyReadWrite(from: Cursor(range: i, done: r.length - remaining))
                    return
                case ENOSPC, EDQUOT, EFBIG:
                    throw .io(FileSystemError(.write, r.target.path, Errno(rawValue: e)))
                default:
                    // copy_file_range cannot say which side failed (EIO, ...): redo the rest of
                    // this range with pread/pwrite, which either goes through (the error was
                    // transient) or fails naming the file and the operation.
                    try copyReadWrite(range: i, from: r.length - remaining)
                    remaining = 0
                }
            }
        }
    }

    /// pread/pwrite of one range from `done` on (used to attribute a copy_file_range error).
    func copyReadWrite(range i: Int, from done: Int) throws(RangeCopyError) {
        var one = Run(ranges: [ranges[i]], options: options, progress: progress)
        do {
            try one.copyReadWrite(from: Cursor(range: 0, done: done))
        } catch {
            // Errors name range #0 of the one-range run: give them this range's index.
            if case .unexpectedEndOfSource(_, let path, let offset, let end) = error {
                throw .unexpectedEndOfSource(index: i, path: path, offset: offset, end: end)
            }
            throw error
        }
    }

    // MARK: io_uring

    enum IOUringFailure: Error {
        /// The ring or its buffers could not be set up; nothing was copied.
        case setup(Errno)
        case copy(RangeCopyError)
    }

    /// One chunk being moved through one registered buffer (the slot's index is the buffer's).
    ///
    /// The read fills the buffer from file offset `readBase`; the chunk's bytes are at
    /// `skip ..< skip + length` in it. Buffered reads start at the chunk (`skip` 0); direct reads
    /// start at the 4 KiB boundary below it and end at the one above, as O_DIRECT requires.
    struct Slot {
        var range = 0
        var sourceOffset = 0
        var targetOffset = 0
        var length = 0
        var readBase = 0
        var readLength = 0
        var skip = 0
        /// Read with the O_DIRECT descriptor (until a short or refused read sends the rest of the
        /// chunk through the buffered one).
        var direct = false
        /// Write with the target's O_DIRECT descriptor: the chunk is 4 KiB-aligned in the target
        /// (until a short or refused write sends the rest through the page cache).
        var directWrite = false
        /// Bytes in the buffer from 0, and bytes of the chunk written out.
        var readDone = 0
        var writeDone = 0
        /// CQEs still due for the current pass (0 = idle or between passes).
        var pending = 0
        /// The current pass's read met the end of the file.
        var sawEOF = false
        /// Passes in a row that moved nothing (EAGAIN, ...), to give up rather than spin.
        var stalls = 0
        /// readDone + writeDone when the current pass was queued.
        var mark = 0
        var active = false

        /// The chunk's bytes are all in the buffer.
        var readComplete: Bool { readDone >= skip + length }
    }

    /// The block-aligned middle of range `r` in its target, if direct writes are on and it is
    /// worth it (at least 64 KiB).
    static func directMiddle(_ r: CopyRange, enabled: Bool) -> (start: Int, end: Int)? {
        guard enabled else { return nil }
        let start = (r.targetOffset + directAlignment - 1) & ~(directAlignment - 1)
        let end = (r.targetOffset + r.length) & ~(directAlignment - 1)
        return end - start >= 64 << 10 ? (start, end) : nil
    }

    /// The O_DIRECT descriptor opened (once per call, remembered in `cache`) beside `fd`, or -1
    /// when the file system refuses one (logged once: "<failure> (<errno>); <fallback>").
    static func directTwin(of fd: Int32, in cache: inout [Int32: Int32], reopen: (Int32) -> Int32,
                           failure: String, fallback: String) -> Int32 {
        if let known = cache[fd] { return known }
        let twin = reopen(fd)
        if twin < 0 { RangeCopier.logOnce("range copy: \(failure) (\(Errno(rawValue: errno))); \(fallback)") }
        cache[fd] = twin
        return twin
    }

    /// Whether at least half of the pages of `fd` in the chunk are in the page cache, so that
    /// copying them out of it beats reading them from the device again. A failed lookup says
    /// no (the chunk is read direct, as without the check).
    static func mostlyCached(_ fd: Int32, offset: Int, length: Int) -> Bool {
        var pages: Int64 = 0
        let cached = caugur_cached_pages(fd, Int64(offset), Int64(length), &pages)
        return cached >= 0 && pages > 0 && 2 * cached >= pages
    }

    /// O_DIRECT offset, length and memory alignment. 4 KiB covers 512 B and 4 KiB logical
    /// blocks; a file system that wants more refuses the read (EINVAL) and the copier goes
    /// back to buffered reads.
    static let directAlignment = 4096

    mutating func copyIOUring() throws(IOUringFailure) {
        let chunk = options.chunkSize
        // Chunks in the whole copy, to size the ring and buffers no bigger than needed.
        var chunkCount = 0
        for r in ranges where r.length > 0 {
            chunkCount += (r.length + chunk - 1) / chunk
            if chunkCount >= options.queueDepth { break }
        }
        let depth = max(1, min(options.queueDepth, chunkCount))
        let align = Self.directAlignment
        var bufferSize = max(align, min(chunk, (longestRange + align - 1) & ~(align - 1)))
        if options.directReads { bufferSize += 2 * align }   // room for the aligned ends
        bufferSize = (bufferSize + align - 1) & ~(align - 1) // every buffer starts 4 KiB-aligned
        // Direct-write chunks are whole 4 KiB blocks.
        let directChunk = chunk & ~(align - 1)
        let entries = options.ringEntriesOverride ?? max(2, 2 * depth + 2)
        let ring: IORing
        do {
            ring = try IORing(entries: entries, bufferCount: chunkCount == 0 ? 0 : depth, bufferSize: bufferSize)
        } catch {
            throw .setup(error)
        }
        registeredBuffers = ring.buffersRegistered
        if let e = ring.registrationFailure {
            RangeCopier.logOnce("range copy: io_uring buffer registration failed (\(e)); using unregistered buffers")
        }
        if chunkCount == 0 { return }

        // Descriptors per range, looked up once: source, target, and the source's O_DIRECT
        // twin (-1 when direct reads are off or the file system refuses O_DIRECT).
        var fds: [(source: Int32, target: Int32, direct: Int32, directTarget: Int32)] = []
        fds.reserveCapacity(ranges.count)
        var directFDs: [Int32: Int32] = [:]
        defer { for fd in directFDs.values where fd >= 0 { close(fd) } }
        var directTargetFDs: [Int32: Int32] = [:]
        defer { for fd in directTargetFDs.values where fd >= 0 { close(fd) } }
        // Per target descriptor, the block-aligned extent covering the direct-write middles.
        var preallocate: [Int32: (start: Int, end: Int, path: String)] = [:]
        for (i, r) in ranges.enumerated() {
            guard let sourceFD = r.source.descriptor, let targetFD = r.target.descriptor else {
                throw .copy(.invalidRange(index: i, reason: "a handle was closed during the copy"))
            }
            var direct: Int32 = -1
            if options.directReads && r.length > 0 {
                direct = Self.directTwin(of: sourceFD, in: &directFDs, reopen: caugur_reopen_direct,
                                         failure: "no O_DIRECT reads of \(r.source.path)", fallback: "reading through the page cache")
            }
            var directTarget: Int32 = -1
            if let middle = Self.directMiddle(r, enabled: options.directWrites && directChunk > 0) {
                directTarget = Self.directTwin(of: targetFD, in: &directTargetFDs, reopen: caugur_reopen_direct_write,
                                               failure: "no O_DIRECT writes to \(r.target.path)", fallback: "writing through the page cache")
                if directTarget >= 0 {
                    let known = preallocate[targetFD]
                    preallocate[targetFD] = (min(known?.start ?? middle.start, middle.start),
                                             max(known?.end ?? middle.end, middle.end), r.target.path)
                }
            }
            fds.append((sourceFD, targetFD, direct, directTarget))
        }
        // Allocate the blocks the direct writes go to: an O_DIRECT write into a hole or past the
        // end of the file needs ext4's inode lock exclusive (and waits for itself when it extends
        // the file), so io_uring would hand it to a worker thread; an overwrite of allocated
        // (unwritten) blocks is issued asynchronously. The extent lies within the ranges, so the
        // file never grows past what the copy writes.
        for (fd, extent) in preallocate {
            if caugur_fallocate(fd, Int64(extent.start), Int64(extent.end - extent.start)) != 0 {
                let e = errno
                if e == ENOSPC || e == EDQUOT || e == EFBIG {
                    throw .copy(.io(FileSystemError(.write, extent.path, Errno(rawValue: e))))
                }
                RangeCopier.logOnce("range copy: fallocate of \(extent.path) failed (\(Errno(rawValue: e))); direct writes may be slower")
            }
        }
        var directRefused = false    // an O_DIRECT read failed with EINVAL: stop using them
        var directWriteRefused = false   // the same for O_DIRECT writes

        let link = options.linkReadToWrite
        let ranges = self.ranges
        let progress = self.progress
        var slots = [Slot](repeating: Slot(), count: depth)
        var idle = Array((0..<depth).reversed())
        var waitingPass: [Int] = []    // slots between passes, to queue when there is room
        var next = Cursor()
        var outstanding = 0            // SQEs queued whose CQE has not been reaped
        var failure: RangeCopyError? = nil
        var ringError: Errno? = nil
        var stalled = false            // the last wait ran out of time with nothing completed

        // Write-behind: per target descriptor, bytes written since the last writeback kick and
        // whether a kick is in flight. A kick's user data has the top bit set.
        let kickTag: UInt64 = 1 << 63
        var kickIndex: [Int32: Int] = [:]
        var kickBytes: [Int] = []
        var kickInFlight: [Bool] = []

        /// Queues the next pass of slot `s`: a read of what is missing (linked to the write of
        /// the chunk when linking), or the write of what is left. False if the ring is full.
        func queuePass(_ s: Int) throws(Errno) -> Bool {
            var slot = slots[s]
            let f = fds[slot.range]
            let needsRead = !slot.readComplete
            let withWrite = !needsRead || link
            guard try ring.reserve(needsRead && withWrite ? 2 : 1) else { return false }
            if !needsRead && slot.directWrite && (slot.skip & (align - 1)) != 0 {
                // A direct read left the chunk at the source's offset within a block; a direct
                // write needs it block-aligned in memory: move it to the buffer's start.
                let base = ring.buffer(s)
                memmove(base, base + slot.skip, slot.length)
                slot.readDone -= slot.skip
                slot.skip = 0
                slots[s] = slot
            }
            if needsRead {
                let fd = slot.direct ? f.direct : f.source
                let length = (slot.direct ? slot.readLength : slot.skip + slot.length) - slot.readDone
                ring.queueRead(fd: fd, buffer: s, bufferOffset: slot.readDone, length: length,
                               fileOffset: slot.readBase + slot.readDone, userData: UInt64(s) << 1, linkNext: withWrite)
            }
            if withWrite {
                ring.queueWrite(fd: slot.directWrite ? f.directTarget : f.target, buffer: s,
                                bufferOffset: slot.skip + slot.writeDone, length: slot.length - slot.writeDone,
                                fileOffset: slot.targetOffset + slot.writeDone, userData: UInt64(s) << 1 | 1)
            }
            let count = (needsRead ? 1 : 0) + (withWrite ? 1 : 0)
            slots[s].pending = count
            slots[s].mark = slot.readDone + slot.writeDone
            outstanding += count
            return true
        }

        /// Takes the next chunk off the list for slot `s`; false when there is none.
        func takeChunk(_ s: Int) -> Bool {
            while next.range < ranges.count && next.done >= ranges[next.range].length {
                next.range += 1
                next.done = 0
            }
            guard next.range < ranges.count else { return false }
            let r = ranges[next.range]
            var length = min(chunk, r.length - next.done)
            let sourceOffset = r.sourceOffset + next.done
            let targetOffset = r.targetOffset + next.done
            var directWrite = false
            if fds[next.range].directTarget >= 0 && !directWriteRefused, let middle = Self.directMiddle(r, enabled: true) {
                // Head up to the first block boundary, then whole-block chunks, then the tail.
                if targetOffset < middle.start {
                    length = min(length, middle.start - targetOffset)
                } else if targetOffset < middle.end {
                    length = min(directChunk, middle.end - targetOffset)
                    directWrite = true
                }
            }
            var slot = Slot(range: next.range, sourceOffset: sourceOffset, targetOffset: targetOffset,
                            length: length, readBase: sourceOffset, readLength: length, active: true)
            if fds[next.range].direct >= 0 && !directRefused
                && !(options.readsCachedChunksBuffered
                     && Self.mostlyCached(fds[next.range].source, offset: sourceOffset, length: length)) {
                let base = sourceOffset & ~(align - 1)
                let end = (sourceOffset + length + align - 1) & ~(align - 1)
                slot.direct = true
                slot.readBase = base
                slot.readLength = end - base
                slot.skip = sourceOffset - base
            }
            if slot.direct { directReadChunks += 1 } else { cachedReadChunks += 1 }
            // A linked write goes with its read, so there is no moment to realign the chunk.
            slot.directWrite = directWrite && !(link && (slot.skip & (align - 1)) != 0)
            slots[s] = slot
            next.done += length
            return true
        }

        /// Handles one completion of slot `s`'s current pass.
        func complete(_ s: Int, isWrite: Bool, _ res: Int32) {
            outstanding -= 1
            var slot = slots[s]
            slot.pending -= 1
            let r = ranges[slot.range]
            if !isWrite {
                if res > 0 {
                    slot.readDone += Int(res)
                    // A short direct read (end of file, or a file system that splits them):
                    // what is still missing comes through the page cache.
                    if slot.direct && !slot.readComplete { slot.direct = false }
                } else if res == 0 {
                    if !slot.readComplete { slot.sawEOF = true }
                } else {
                    let e = -res
                    if e == EINVAL && slot.direct {
                        // The file system wants another O_DIRECT alignment: go back to buffered.
                        slot.direct = false
                        directRefused = true
                        RangeCopier.logOnce("range copy: O_DIRECT read of \(r.source.path) refused (EINVAL); reading through the page cache")
                    } else if e != EAGAIN && e != EINTR && e != ECANCELED && failure == nil {
                        failure = .io(FileSystemError(.read, r.source.path, Errno(rawValue: e)))
                    }
                }
            } else {
                if res >= 0 {
                    // Count only bytes that were in the buffer (if a short read did not cancel
                    // its linked write, what it wrote past them is written again later).
                    let valid = max(0, min(slot.readDone - slot.skip, slot.length))
                    slot.writeDone = min(slot.writeDone + Int(res), valid)
                    // A short direct write: the rest (no longer block-aligned) goes buffered.
                    if slot.directWrite && slot.writeDone < slot.length { slot.directWrite = false }
                } else if -res == EINVAL && slot.directWrite {
                    // The file system wants another O_DIRECT alignment: write through the cache.
                    slot.directWrite = false
                    directWriteRefused = true
                    RangeCopier.logOnce("range copy: O_DIRECT write to \(r.target.path) refused (EINVAL); writing through the page cache")
                } else {
                    let e = -res
                    // ECANCELED: the linked read came back short or failed; its CQE says why.
                    if e != EAGAIN && e != EINTR && e != ECANCELED && failure == nil {
                        failure = .io(FileSystemError(.write, r.target.path, Errno(rawValue: e)))
                    }
                }
            }
            slots[s] = slot
        }

        /// Starts writeback of target `fd` when enough was written to it since the last time.
        func wroteChunk(to fd: Int32, _ length: Int) {
            guard let threshold = options.writeBehind else { return }
            let k: Int
            if let known = kickIndex[fd] {
                k = known
            } else {
                k = kickBytes.count
                kickIndex[fd] = k
                kickBytes.append(0)
                kickInFlight.append(false)
            }
            kickBytes[k] += length
            guard kickBytes[k] >= threshold, !kickInFlight[k], failure == nil, ringError == nil,
                  (try? ring.reserve(1)) == true else { return }
            ring.queueStartWriteback(fd: fd, userData: kickTag | UInt64(k))
            outstanding += 1
            kickInFlight[k] = true
            kickBytes[k] = 0
        }

        /// Decides what slot `s`, its pass over, does next. True when the slot is free again.
        func advance(_ s: Int) -> Bool {
            var slot = slots[s]
            if slot.writeDone == slot.length {
                progress.add(slot.length)
                slots[s].active = false
                wroteChunk(to: fds[slot.range].target, slot.length)
                return true
            }
            if slot.sawEOF {
                if failure == nil {
                    let r = ranges[slot.range]
                    let reached = slot.readBase + slot.readDone
                    failure = .unexpectedEndOfSource(index: slot.range, path: r.source.path,
                                                     offset: max(reached, slot.sourceOffset), end: r.sourceOffset + r.length)
                }
                slots[s].active = false
                return true
            }
            slot.stalls = slot.readDone + slot.writeDone == slot.mark ? slot.stalls + 1 : 0
            slots[s] = slot
            if slot.stalls > 1000 && failure == nil {
                let r = ranges[slot.range]
                failure = slot.readComplete
                    ? .io(FileSystemError(.write, r.target.path, .resourceTemporarilyUnavailable))
                    : .io(FileSystemError(.read, r.source.path, .resourceTemporarilyUnavailable))
            }
            return false
        }

        while true {
            // Queue work: passes waiting for room first, then new chunks, while there is room.
            if failure == nil && ringError == nil {
                do {
                    while let s = waitingPass.last {
                        guard try queuePass(s) else { break }
                        waitingPass.removeLast()
                    }
                    while waitingPass.isEmpty, let s = idle.last {
                        guard takeChunk(s) else { break }
                        idle.removeLast()
                        if !(try queuePass(s)) { waitingPass.append(s); break }
                    }
                } catch {
                    ringError = error
                }
            }
            // In-flight requests are always waited for, even after an error: the kernel may
            // still be reading into or writing from the buffers.
            let inKernel = outstanding - ring.unsubmitted
            if stalled && inKernel > 0 {
                ring.abandon()
                throw .copy(.ringStalled(requests: inKernel, seconds: RangeCopier.stallLimitNanos / 1_000_000_000))
            }
            stalled = false
            if inKernel == 0 && (failure != nil || ringError != nil) { break }
            if outstanding == 0 && waitingPass.isEmpty { break }
            do {
                // Stall guard: a request the kernel never completes would hang the copy, and the
                // reshard and every caller waiting for it, for ever (seen here: a linked write
                // with no completion after minutes, kernel 6.18, rarely). After the limit the
                // ring is abandoned alive — its buffers stay mapped, so a late completion harms
                // nothing (it writes the bytes the copy read to the same offset) — and `.auto`
                // redoes the copy with another backend.
                stalled = try !ring.submitAndWait(timeoutNanos: RangeCopier.stallLimitNanos)
            } catch {
                // The ring itself failed. Requests already in the kernel still complete:
                // wait for each before the buffers go away.
                if ringError == nil { ringError = error }
                while outstanding - ring.unsubmitted > 0 {
                    let n = ring.reap { c in
                        if c.userData & kickTag != 0 { outstanding -= 1 } else {
                            complete(Int(c.userData >> 1), isWrite: c.userData & 1 == 1, c.result)
                        }
                    }
                    if n == 0, let e = ring.waitForCompletion() {
                        preconditionFailure("Augur bug: io_uring failed (\(e)) with \(outstanding) requests in flight")
                    }
                }
                break
            }
            _ = ring.reap { c in
                if c.userData & kickTag != 0 {
                    // A writeback kick: a hint, its result does not matter (the final
                    // fdatasync reports write errors).
                    outstanding -= 1
                    kickInFlight[Int(c.userData & ~kickTag)] = false
                    return
                }
                let s = Int(c.userData >> 1)
                complete(s, isWrite: c.userData & 1 == 1, c.result)
                if slots[s].pending == 0 {
                    if advance(s) { idle.append(s) } else if failure == nil { waitingPass.append(s) }
                }
            }
        }
        if let failure { throw .copy(failure) }
        if let ringError { throw .copy(.ringFailure(operation: "submit", errno: ringError)) }
        precondition(idle.count == depth && !slots.contains { $0.active } && !takeChunk(0),
                     "Augur bug: io_uring copy stopped with chunks left")
    }
}
