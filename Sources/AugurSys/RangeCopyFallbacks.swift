// The two synchronous backends of `RangeCopier`: pread/pwrite through the `FileHandle` protocol
// (works for every handle, including simulated and fault-injecting ones without a descriptor)
// and copy_file_range(2) (the kernel copies page cache to page cache, or reflinks), which falls
// back to pread/pwrite where the file systems refuse it. Kept apart from the io_uring backend
// (RangeCopyIOUring.swift): both run one range after another on the calling thread, and share
// the write-behind counter here.
import CAugurSys
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension RangeCopyRun {
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
    private struct WriteBehind {
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
    private func copyReadWrite(range i: Int, from done: Int) throws(RangeCopyError) {
        var one = RangeCopyRun(ranges: [ranges[i]], options: options, progress: progress)
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
}
