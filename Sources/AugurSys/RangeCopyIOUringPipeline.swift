// The io_uring backend of `RangeCopier`, part two: the pipeline that moves the chunks through
// the ring's registered buffers once `copyIOUring` (RangeCopyIOUring.swift) has set up the ring
// and the descriptors. `IOUringCopy` holds the slots (one per buffer), the cursor over the
// ranges and the counters; its methods are the steps of the loop in `run`: queue passes, take
// chunks, apply completions, decide what a slot does next. A file of its own because it is the
// per-chunk hot path and the copier's one state machine.
import CAugurSys
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The io_uring pipeline of one `copy` call.
///
/// Threading: single-threaded. One value per io_uring copy, made, run and dropped on the
/// calling thread inside `RangeCopyRun.copyIOUring`; not `Sendable`, like the `IORing` it drives.
/// A value type whose steps are `mutating` methods: its state is accessed without dynamic
/// exclusivity checks, and nothing is allocated per chunk.
///
/// Each registered buffer is a slot (`slots[s]` uses buffer `s`) holding one chunk, at most
/// `chunk` bytes of one range. A slot moves through passes: a read of what is still missing, a
/// write of what is not written yet, or (with `linkReadToWrite`) both, linked:
///
///     idle --takeChunk--> queuePass --> in flight --(the pass's last CQE)--> advance
///                          ^     | ring full                                  |
///                          |     v                                            |
///                         waitingPass <------- more to read or write ---------+
///     idle <-------------------------------- chunk written, or end of file ---+
///
/// Invariants:
/// * Until the first error (`failure` or `ringError` set), every slot index is in exactly one
///   of `idle`, `waitingPass`, or in flight (`pending > 0`: that many CQEs of its current pass
///   are due). After it nothing new is queued (a slot with more to do stays in `waitingPass`
///   after a ring error, and is dropped after a `failure`); the loop only waits for what is in
///   the kernel.
/// * `outstanding` counts SQEs queued (passes and writeback kicks) whose CQE is not reaped;
///   `outstanding - ring.unsubmitted` of them are in the kernel. `run` does not return while the
///   kernel may still use a buffer, except by abandoning the ring alive (a stall).
/// * A slot's buffer holds the file's bytes from `readBase` at `0 ..< readDone`; its chunk is at
///   `skip ..< skip + length`; `writeDone <= length` counts only bytes that were in the buffer.
/// * `active`: the slot holds a chunk not finished yet. `next` is the first byte of the ranges
///   not given to a slot: chunks are taken in order.
/// * `directRefused` and `directWriteRefused` only ever go from false to true.
struct IOUringCopy {
    /// One range's descriptors, looked up once: source and target, and their O_DIRECT twins
    /// (-1 when off for the range or refused by the file system).
    struct Descriptors {
        var source: Int32
        var target: Int32
        var direct: Int32
        var directTarget: Int32
    }

    /// One chunk being moved through one registered buffer (the slot's index is the buffer's).
    ///
    /// The read fills the buffer from file offset `readBase`; the chunk's bytes are at
    /// `skip ..< skip + length` in it. Buffered reads start at the chunk (`skip` 0); direct reads
    /// start at the 4 KiB boundary below it and end at the one above, as O_DIRECT requires.
    private struct Slot {
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

    /// O_DIRECT offset, length and memory alignment. 4 KiB covers 512 B and 4 KiB logical
    /// blocks; a file system that wants more refuses the read (EINVAL) and the copier goes
    /// back to buffered reads.
    static let directAlignment = 4096
    /// How long the copy waits for a completion before it gives the ring up.
    private static let stallLimitNanos = 20_000_000_000
    /// The top bit of a writeback kick's user data; a pass's is `slot << 1 | isWrite`.
    private static let kickTag: UInt64 = 1 << 63

    private let ring: IORing
    private let ranges: [CopyRange]
    private let fds: [Descriptors]
    private let options: RangeCopier.Options
    private let progress: RangeCopier.Progress
    private let link: Bool
    /// Slots (and buffers), bytes per chunk, and bytes per direct-write chunk (whole blocks).
    private let depth: Int
    private let chunk: Int
    private let directChunk: Int

    private var slots: [Slot]
    private var idle: [Int]
    private var waitingPass: [Int] = []    // slots between passes, to queue when there is room
    private var next = RangeCopyRun.Cursor()
    private var outstanding = 0            // SQEs queued whose CQE has not been reaped
    private var failure: RangeCopyError? = nil
    private var ringError: Errno? = nil
    private var stalled = false            // the last wait ran out of time with nothing completed
    private var directRefused = false      // an O_DIRECT read failed with EINVAL: stop using them
    private var directWriteRefused = false // the same for O_DIRECT writes

    // Write-behind: per target descriptor, bytes written since the last writeback kick and
    // whether a kick is in flight.
    private var kickIndex: [Int32: Int] = [:]
    private var kickBytes: [Int] = []
    private var kickInFlight: [Bool] = []

    /// Chunks read with O_DIRECT, and through the page cache.
    private(set) var directReadChunks = 0
    private(set) var cachedReadChunks = 0

    init(ring: IORing, ranges: [CopyRange], fds: [Descriptors], options: RangeCopier.Options,
         progress: RangeCopier.Progress, depth: Int, chunk: Int, directChunk: Int) {
        self.ring = ring
        self.ranges = ranges
        self.fds = fds
        self.options = options
        self.progress = progress
        self.link = options.linkReadToWrite
        self.depth = depth
        self.chunk = chunk
        self.directChunk = directChunk
        self.slots = [Slot](repeating: Slot(), count: depth)
        self.idle = Array((0..<depth).reversed())
    }

    /// The block-aligned middle of range `r` in its target, if direct writes are on and it is
    /// worth it (at least 64 KiB).
    static func directMiddle(_ r: CopyRange, enabled: Bool) -> (start: Int, end: Int)? {
        guard enabled else { return nil }
        let start = (r.targetOffset + directAlignment - 1) & ~(directAlignment - 1)
        let end = (r.targetOffset + r.length) & ~(directAlignment - 1)
        return end - start >= 64 << 10 ? (start, end) : nil
    }

    /// Whether at least half of the pages of `fd` in the chunk are in the page cache, so that
    /// copying them out of it beats reading them from the device again. A failed lookup says
    /// no (the chunk is read direct, as without the check).
    private static func mostlyCached(_ fd: Int32, offset: Int, length: Int) -> Bool {
        var pages: Int64 = 0
        let cached = caugur_cached_pages(fd, Int64(offset), Int64(length), &pages)
        return cached >= 0 && pages > 0 && 2 * cached >= pages
    }

    // MARK: - the loop

    /// Moves every chunk, then throws the first error. Each round queues what there is room for,
    /// waits for a completion and applies what completed. In-flight requests are always waited
    /// for, even after an error: the kernel may still be reading into or writing from the buffers.
    mutating func run() throws(RangeCopyRun.IOUringFailure) {
        let ring = self.ring
        while true {
            if failure == nil && ringError == nil { queueWork() }
            let inKernel = outstanding - ring.unsubmitted
            if stalled && inKernel > 0 {
                ring.abandon()
                throw .copy(.ringStalled(requests: inKernel, seconds: Self.stallLimitNanos / 1_000_000_000))
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
                stalled = try !ring.submitAndWait(timeoutNanos: Self.stallLimitNanos)
            } catch {
                drainAfterRingFailure(error)
                break
            }
            _ = ring.reap { c in reaped(c) }
        }
        if let failure { throw .copy(failure) }
        if let ringError { throw .copy(.ringFailure(operation: "submit", errno: ringError)) }
        precondition(idle.count == depth && !slots.contains { $0.active } && !takeChunk(0),
                     "Augur bug: io_uring copy stopped with chunks left")
    }

    /// Queues passes waiting for room first, then new chunks, while there is room. A full ring
    /// leaves the rest for the next round; a failing one is kept in `ringError`.
    private mutating func queueWork() {
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

    /// One completion reaped: a writeback kick only clears its in-flight mark; a pass's
    /// completion is applied, and when it was the pass's last the slot moves on.
    @inline(__always)
    private mutating func reaped(_ c: IORing.Completion) {
        if c.userData & Self.kickTag != 0 {
            // A writeback kick: a hint, its result does not matter (the final
            // fdatasync reports write errors).
            outstanding -= 1
            kickInFlight[Int(c.userData & ~Self.kickTag)] = false
            return
        }
        let s = Int(c.userData >> 1)
        complete(s, isWrite: c.userData & 1 == 1, c.result)
        if slots[s].pending == 0 {
            if advance(s) { idle.append(s) } else if failure == nil { waitingPass.append(s) }
        }
    }

    /// The ring itself failed. Requests already in the kernel still complete: wait for each
    /// before the buffers go away (slots do not move on; kicks are only counted).
    private mutating func drainAfterRingFailure(_ error: Errno) {
        if ringError == nil { ringError = error }
        let ring = self.ring
        while outstanding - ring.unsubmitted > 0 {
            let n = ring.reap { c in
                if c.userData & Self.kickTag != 0 { outstanding -= 1 } else {
                    complete(Int(c.userData >> 1), isWrite: c.userData & 1 == 1, c.result)
                }
            }
            if n == 0, let e = ring.waitForCompletion() {
                preconditionFailure("Augur bug: io_uring failed (\(e)) with \(outstanding) requests in flight")
            }
        }
    }

    // MARK: - the steps of a slot

    /// Queues the next pass of slot `s`: a read of what is missing (linked to the write of
    /// the chunk when linking), or the write of what is left. False if the ring is full.
    @inline(__always)
    private mutating func queuePass(_ s: Int) throws(Errno) -> Bool {
        let align = Self.directAlignment
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
    private mutating func takeChunk(_ s: Int) -> Bool {
        let align = Self.directAlignment
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

    /// Applies one completion of slot `s`'s current pass.
    @inline(__always)
    private mutating func complete(_ s: Int, isWrite: Bool, _ res: Int32) {
        outstanding -= 1
        var slot = slots[s]
        slot.pending -= 1
        if isWrite { completeWrite(&slot, res) } else { completeRead(&slot, res) }
        slots[s] = slot
    }

    /// A read of the pass completed: count what arrived, or note the end of the file, a refused
    /// O_DIRECT read or the copy's failure.
    private mutating func completeRead(_ slot: inout Slot, _ res: Int32) {
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
                RangeCopier.logOnce("range copy: O_DIRECT read of \(ranges[slot.range].source.path) refused (EINVAL); reading through the page cache")
            } else if e != EAGAIN && e != EINTR && e != ECANCELED && failure == nil {
                failure = .io(FileSystemError(.read, ranges[slot.range].source.path, Errno(rawValue: e)))
            }
        }
    }

    /// A write of the pass completed: count what was written, or note a refused O_DIRECT write
    /// or the copy's failure.
    private mutating func completeWrite(_ slot: inout Slot, _ res: Int32) {
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
            RangeCopier.logOnce("range copy: O_DIRECT write to \(ranges[slot.range].target.path) refused (EINVAL); writing through the page cache")
        } else {
            let e = -res
            // ECANCELED: the linked read came back short or failed; its CQE says why.
            if e != EAGAIN && e != EINTR && e != ECANCELED && failure == nil {
                failure = .io(FileSystemError(.write, ranges[slot.range].target.path, Errno(rawValue: e)))
            }
        }
    }

    /// Decides what slot `s`, its pass over, does next. True when the slot is free again.
    @inline(__always)
    private mutating func advance(_ s: Int) -> Bool {
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

    /// Starts writeback of target `fd` when enough was written to it since the last time.
    private mutating func wroteChunk(to fd: Int32, _ length: Int) {
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
        ring.queueStartWriteback(fd: fd, userData: Self.kickTag | UInt64(k))
        outstanding += 1
        kickInFlight[k] = true
        kickBytes[k] = 0
    }
}
