// The io_uring backend of `RangeCopier`, part one: what is set up before the first chunk moves
// and torn down after the last — the ring and its registered buffers, sized for this copy; each
// range's descriptors with their O_DIRECT twins; the preallocation of the blocks that direct
// writes go to. The pipeline that then moves the chunks (`IOUringCopy`) is in
// RangeCopyIOUringPipeline.swift: it is the per-chunk hot path and a state machine of its own,
// where this runs once per call, and the two together would be well over 500 lines.
import CAugurSys
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension RangeCopyRun {
    enum IOUringFailure: Error {
        /// The ring or its buffers could not be set up; nothing was copied.
        case setup(Errno)
        case copy(RangeCopyError)
    }

    /// Copies every range through io_uring: sizes the ring and its buffers to the copy, opens the
    /// descriptors, then runs the pipeline until every chunk is written or the copy fails.
    mutating func copyIOUring() throws(IOUringFailure) {
        let chunk = options.chunkSize
        // Chunks in the whole copy, to size the ring and buffers no bigger than needed.
        var chunkCount = 0
        for r in ranges where r.length > 0 {
            chunkCount += (r.length + chunk - 1) / chunk
            if chunkCount >= options.queueDepth { break }
        }
        let depth = max(1, min(options.queueDepth, chunkCount))
        let align = IOUringCopy.directAlignment
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

        // The O_DIRECT twins, per source and per target descriptor (-1: refused), open until the
        // copy is over.
        var directFDs: [Int32: Int32] = [:]
        defer { for fd in directFDs.values where fd >= 0 { close(fd) } }
        var directTargetFDs: [Int32: Int32] = [:]
        defer { for fd in directTargetFDs.values where fd >= 0 { close(fd) } }
        let fds = try descriptors(directChunk: directChunk, directFDs: &directFDs, directTargetFDs: &directTargetFDs)

        var pipeline = IOUringCopy(ring: ring, ranges: ranges, fds: fds, options: options, progress: progress,
                                   depth: depth, chunk: chunk, directChunk: directChunk)
        // Counted even when the copy throws: `.auto` reports them after redoing a stalled copy.
        defer {
            directReadChunks += pipeline.directReadChunks
            cachedReadChunks += pipeline.cachedReadChunks
        }
        try pipeline.run()
    }

    /// Each range's descriptors, looked up once: source, target, and the O_DIRECT twins of the
    /// source (when `directReads`) and of the target (when the range has a direct-write middle),
    /// opened into `directFDs` / `directTargetFDs`, which the caller closes. Then each target is
    /// preallocated over its direct-write middles.
    private func descriptors(directChunk: Int, directFDs: inout [Int32: Int32],
                             directTargetFDs: inout [Int32: Int32]) throws(IOUringFailure) -> [IOUringCopy.Descriptors] {
        var fds: [IOUringCopy.Descriptors] = []
        fds.reserveCapacity(ranges.count)
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
            if let middle = IOUringCopy.directMiddle(r, enabled: options.directWrites && directChunk > 0) {
                directTarget = Self.directTwin(of: targetFD, in: &directTargetFDs, reopen: caugur_reopen_direct_write,
                                               failure: "no O_DIRECT writes to \(r.target.path)", fallback: "writing through the page cache")
                if directTarget >= 0 {
                    let known = preallocate[targetFD]
                    preallocate[targetFD] = (min(known?.start ?? middle.start, middle.start),
                                             max(known?.end ?? middle.end, middle.end), r.target.path)
                }
            }
            fds.append(IOUringCopy.Descriptors(source: sourceFD, target: targetFD, direct: direct, directTarget: directTarget))
        }
        try Self.preallocate(preallocate)
        return fds
    }

    /// Allocates the blocks the direct writes go to: an O_DIRECT write into a hole or past the
    /// end of the file needs ext4's inode lock exclusive (and waits for itself when it extends
    /// the file), so io_uring would hand it to a worker thread; an overwrite of allocated
    /// (unwritten) blocks is issued asynchronously. The extent lies within the ranges, so the
    /// file never grows past what the copy writes.
    private static func preallocate(_ extents: [Int32: (start: Int, end: Int, path: String)]) throws(IOUringFailure) {
        for (fd, extent) in extents {
            if caugur_fallocate(fd, Int64(extent.start), Int64(extent.end - extent.start)) != 0 {
                let e = errno
                if e == ENOSPC || e == EDQUOT || e == EFBIG {
                    throw .copy(.io(FileSystemError(.write, extent.path, Errno(rawValue: e))))
                }
                RangeCopier.logOnce("range copy: fallocate of \(extent.path) failed (\(Errno(rawValue: e))); direct writes may be slower")
            }
        }
    }

    /// The O_DIRECT descriptor opened (once per call, remembered in `cache`) beside `fd`, or -1
    /// when the file system refuses one (logged once: "<failure> (<errno>); <fallback>").
    private static func directTwin(of fd: Int32, in cache: inout [Int32: Int32], reopen: (Int32) -> Int32,
                                   failure: String, fallback: String) -> Int32 {
        if let known = cache[fd] { return known }
        let twin = reopen(fd)
        if twin < 0 { RangeCopier.logOnce("range copy: \(failure) (\(Errno(rawValue: errno))); \(fallback)") }
        cache[fd] = twin
        return twin
    }
}
