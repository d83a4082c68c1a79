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
//
// This file holds the public types, the `copy` entry point (validate, copy, sync) and the
// backend choice (`RangeCopyRun.copy`). The rest is split by job: the checks made before any
// byte moves in RangeCopyValidation.swift, the pread/pwrite and copy_file_range backends in
// RangeCopyFallbacks.swift, the io_uring backend's setup (ring, buffers, O_DIRECT descriptors,
// preallocation) in RangeCopyIOUring.swift and its slot pipeline in RangeCopyIOUringPipeline.swift.
import Logging
import SystemPackage
import Synchronization

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
        var run = RangeCopyRun(ranges: ranges, options: options, progress: progress)
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

    // MARK: - logging

    private struct LogState {
        /// nil: a default logger made when a message is logged (after the application's
        /// `LoggingSystem.bootstrap`, however early the copier was first used).
        var logger: Logger? = nil
        var said: Set<String> = []
    }
    private static let logState = Mutex(LogState())

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

/// The state of one `copy` call: the backend chosen here, the backends themselves in
/// RangeCopyFallbacks.swift and RangeCopyIOUring.swift. Thread-safety: confined to the calling
/// thread.
struct RangeCopyRun {
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
    var longestRange: Int { ranges.reduce(0) { max($0, $1.length) } }

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
}
