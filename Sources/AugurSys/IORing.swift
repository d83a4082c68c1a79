// The one place in Augur's Swift that talks to liburing (the C shim's ranged fdatasync,
// `caugur_fdatasync_range`, sets up a ring of its own for one request).
//
// `IORing` wraps a `struct io_uring` together with the buffers registered with it. liburing's
// static inline helpers (io_uring_get_sqe, io_uring_prep_read_fixed, io_uring_cq_advance, ...)
// are imported from <liburing.h> and called directly; the C shim only adds what Swift's
// importer drops (the IOSQE_* macros, as caugur_iosqe_* functions).
//
// What it offers is deliberately small: queue reads and writes on registered buffers, submit,
// wait, reap completions as (user data, result) pairs. The copy pipeline that uses it lives in
// RangeCopier.swift.
import CAugurSys
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Thread-safety: none, by design. A ring is created, used and destroyed by one thread (it is
/// set up with IORING_SETUP_SINGLE_ISSUER where the kernel has it, and the kernel then rejects
/// submissions from any other thread). Not `Sendable`. The static `availability` probe is
/// thread-safe (a lazily initialised constant).
final class IORing {
    /// One completion: the user data given when the request was queued, and the kernel's result
    /// (bytes transferred, or a negated errno).
    struct Completion {
        var userData: UInt64
        var result: Int32
    }

    /// Whether this process can use io_uring, and if not, why.
    enum Availability: Sendable, Equatable {
        case available
        case unavailable(reason: String)
    }

    private let ring: UnsafeMutablePointer<io_uring>
    /// Submission queue size.
    let entries: Int
    /// `bufferCount` buffers of `bufferSize` bytes, contiguous, page aligned (one mmap).
    private let bufferBase: UnsafeMutableRawPointer?
    private let bufferMappingLength: Int
    let bufferSize: Int
    let bufferCount: Int
    /// True when the buffers are registered (reads and writes use the *_FIXED opcodes, which
    /// skip pinning pages on every request); false when registration failed (typically
    /// RLIMIT_MEMLOCK for an unprivileged user) and plain READ/WRITE are used instead.
    let buffersRegistered: Bool
    /// Why registration failed, when it did.
    let registrationFailure: Errno?
    /// Setup flags the kernel accepted.
    let setupFlags: UInt32
    private var cqeBatch: [UnsafeMutablePointer<io_uring_cqe>?]

    /// Creates a ring with `entries` submission slots and `bufferCount` buffers of `bufferSize`
    /// bytes, registered with the ring when the kernel and limits allow. Throws the errno of
    /// `io_uring_queue_init` (ENOSYS: no io_uring; EPERM: disabled by the host or a seccomp
    /// policy; ENOMEM: out of locked memory) or of the buffer mapping.
    init(entries: Int, bufferCount: Int, bufferSize: Int) throws(Errno) {
        precondition(entries >= 2 && entries <= 4096, "Augur bug: io_uring entries \(entries)")
        precondition(bufferCount >= 0 && bufferCount <= 1024 && bufferSize > 0 && bufferSize <= 1 << 30,
                     "Augur bug: io_uring buffers \(bufferCount) x \(bufferSize)")
        let ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        ring.initialize(to: io_uring())

        // Newest flags first, dropping them on EINVAL for older kernels:
        //   SINGLE_ISSUER (6.0): only this thread submits, so the kernel skips some locking;
        //   COOP_TASKRUN (5.19): no IPI to signal completions, we reap them in our loop anyway.
        // Not DEFER_TASKRUN: it holds completion work (the retry of a cold buffered read, the
        // issue of the write linked to it) until this thread waits, and measured 2-3x slower
        // copies here (docs/ARCHITECTURE.md, "The io_uring pipeline").
        let candidates: [UInt32] = [
            IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
            IORING_SETUP_COOP_TASKRUN,
            0,
        ]
        var accepted: UInt32? = nil
        var lastError: Int32 = 0
        for flags in candidates {
            let r = io_uring_queue_init(UInt32(entries), ring, flags)
            if r == 0 { accepted = flags; break }
            lastError = -r
            if lastError != EINVAL { break }
        }
        guard let flags = accepted else {
            ring.deinitialize(count: 1)
            ring.deallocate()
            throw Errno(rawValue: lastError)
        }
        self.ring = ring
        self.setupFlags = flags
        self.entries = Int(ring.pointee.sq.ring_entries)
        self.bufferSize = bufferSize
        self.bufferCount = bufferCount
        self.cqeBatch = Array(repeating: nil, count: 2 * Int(ring.pointee.sq.ring_entries))

        // Buffers: one anonymous mapping, apart from the malloc heap, so that even a kernel
        // bug that wrote after we unregistered could not scribble over Swift objects.
        let length = bufferCount * bufferSize
        if length > 0 {
            let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let p, p != MAP_FAILED else {
                let e = Errno(rawValue: errno)
                io_uring_queue_exit(ring)
                ring.deinitialize(count: 1)
                ring.deallocate()
                throw e
            }
            bufferBase = p
            bufferMappingLength = length
            var iovecs = (0..<bufferCount).map { i in
                iovec(iov_base: p + i * bufferSize, iov_len: bufferSize)
            }
            let r = io_uring_register_buffers(ring, &iovecs, UInt32(bufferCount))
            buffersRegistered = r == 0
            registrationFailure = r == 0 ? nil : Errno(rawValue: -r)
        } else {
            bufferBase = nil
            bufferMappingLength = 0
            buffersRegistered = false
            registrationFailure = nil
        }
    }

    /// Rings given up on with requests still in the kernel: kept alive (mapped buffers,
    /// registered ring) for the life of the process, so a late completion writes into memory
    /// that is still ours. See `RangeCopier`'s stall guard.
    /// Thread-safety: `rings` is read and written only under `lock`.
    private final class Abandoned: @unchecked Sendable {
        let lock = PThreadMutex()
        var rings: [IORing] = []
    }
    private static let abandoned = Abandoned()

    /// Gives the ring up without tearing it down (see `abandoned`).
    func abandon() {
        IORing.abandoned.lock.withLock { IORing.abandoned.rings.append(self) }
    }

    /// Tears the ring down. The caller must have reaped every completion first (`RangeCopier`
    /// drains the ring even when it stops on an error), so no request still refers to the
    /// buffers when they are unmapped.
    deinit {
        io_uring_queue_exit(ring)   // also unregisters the buffers
        ring.deinitialize(count: 1)
        ring.deallocate()
        if let bufferBase { munmap(bufferBase, bufferMappingLength) }
    }

    /// Start of buffer `index`.
    @inline(__always)
    func buffer(_ index: Int) -> UnsafeMutableRawPointer {
        precondition(index >= 0 && index < bufferCount, "Augur bug: io_uring buffer \(index)")
        return bufferBase! + index * bufferSize
    }

    /// Free submission slots.
    var spaceLeft: Int { Int(io_uring_sq_space_left(ring)) }

    /// Queued SQEs the kernel has not consumed yet.
    var unsubmitted: Int { Int(io_uring_sq_ready(ring)) }

    /// Makes room for `count` SQEs, submitting what is queued when the submission queue is too
    /// full. Returns false if the kernel could not take the queued SQEs right now (EAGAIN or
    /// EBUSY): the caller should reap completions and try again.
    func reserve(_ count: Int) throws(Errno) -> Bool {
        precondition(count <= entries, "Augur bug: \(count) SQEs reserved in a ring of \(entries)")
        while spaceLeft < count {
            if try submit() == 0 && spaceLeft < count { return false }
        }
        return true
    }

    /// Queues a read of `length` bytes at `fileOffset` of `fd` into buffer `buffer` at
    /// `bufferOffset`. With `linkNext`, the next queued SQE runs only if this one completes in
    /// full. The caller must have `reserve`d the slot.
    func queueRead(fd: Int32, buffer index: Int, bufferOffset: Int, length: Int, fileOffset: Int,
                   userData: UInt64, linkNext: Bool) {
        let sqe = nextSQE()
        let address = buffer(index) + bufferOffset
        precondition(bufferOffset + length <= bufferSize, "Augur bug: read past io_uring buffer")
        if buffersRegistered {
            io_uring_prep_read_fixed(sqe, fd, address, UInt32(length), UInt64(fileOffset), Int32(index))
        } else {
            io_uring_prep_read(sqe, fd, address, UInt32(length), UInt64(fileOffset))
        }
        io_uring_sqe_set_data64(sqe, userData)
        if linkNext { io_uring_sqe_set_flags(sqe, caugur_iosqe_io_link()) }
    }

    /// Queues a write of `length` bytes from buffer `buffer` at `bufferOffset` to `fd` at
    /// `fileOffset`. The caller must have `reserve`d the slot.
    func queueWrite(fd: Int32, buffer index: Int, bufferOffset: Int, length: Int, fileOffset: Int,
                    userData: UInt64) {
        let sqe = nextSQE()
        let address = buffer(index) + bufferOffset
        precondition(bufferOffset + length <= bufferSize, "Augur bug: write past io_uring buffer")
        if buffersRegistered {
            io_uring_prep_write_fixed(sqe, fd, address, UInt32(length), UInt64(fileOffset), Int32(index))
        } else {
            io_uring_prep_write(sqe, fd, address, UInt32(length), UInt64(fileOffset))
        }
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Queues sync_file_range(SYNC_FILE_RANGE_WRITE) over the whole of `fd`: starts writeback
    /// of its dirty pages without waiting (io-wq runs it, off this thread). The caller must
    /// have `reserve`d the slot.
    func queueStartWriteback(fd: Int32, userData: UInt64) {
        let sqe = nextSQE()
        io_uring_prep_sync_file_range(sqe, fd, 0, 0, Int32(bitPattern: caugur_sync_file_range_write_flag()))
        io_uring_sqe_set_data64(sqe, userData)
    }

    private func nextSQE() -> UnsafeMutablePointer<io_uring_sqe> {
        guard let sqe = io_uring_get_sqe(ring) else {
            preconditionFailure("Augur bug: io_uring submission queue full; reserve() first")
        }
        return sqe
    }

    /// Hands queued SQEs to the kernel without waiting. Returns how many it took; 0 when it
    /// could not take any right now (EAGAIN/EBUSY). EINTR is retried.
    @discardableResult
    func submit() throws(Errno) -> Int {
        while true {
            let r = io_uring_submit(ring)
            if r >= 0 { return Int(r) }
            switch -r {
            case EINTR: continue
            case EAGAIN, EBUSY: return 0
            default: throw Errno(rawValue: -r)
            }
        }
    }

    /// Hands queued SQEs to the kernel and waits until at least one completion is ready.
    /// EINTR returns early (the caller loops); EAGAIN/EBUSY on submission fall back to waiting
    /// for completions only, which frees the kernel resources the submission was short of.
    func submitAndWait() throws(Errno) {
        _ = try submitAndWait(timeoutNanos: nil)
    }

    /// `submitAndWait`, giving up after `timeoutNanos` (nil: never). Returns false when the time
    /// ran out with no completion ready.
    func submitAndWait(timeoutNanos: Int?) throws(Errno) -> Bool {
        if let timeoutNanos {
            var ts = __kernel_timespec(tv_sec: Int64(timeoutNanos / 1_000_000_000), tv_nsec: Int64(timeoutNanos % 1_000_000_000))
            var cqe: UnsafeMutablePointer<io_uring_cqe>? = nil
            let r = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, nil)
            // liburing returns the number submitted even when the wait then timed out: what
            // counts is whether a completion is ready.
            if r >= 0 { return cqe != nil || io_uring_cq_ready(ring) > 0 }
            switch -r {
            case ETIME: return io_uring_cq_ready(ring) > 0
            case EINTR, EAGAIN, EBUSY: return true
            default: throw Errno(rawValue: -r)
            }
        }
        let r = io_uring_submit_and_wait(ring, 1)
        if r >= 0 { return true }
        switch -r {
        case EINTR: return true
        case EAGAIN, EBUSY:
            var cqe: UnsafeMutablePointer<io_uring_cqe>? = nil
            let w = io_uring_wait_cqe(ring, &cqe)
            if w < 0 && -w != EINTR && -w != EAGAIN { throw Errno(rawValue: -w) }
            return true
        default: throw Errno(rawValue: -r)
        }
    }

    /// Waits for a completion without submitting anything (used to drain the ring after a
    /// failure). Returns the errno if the wait itself failed; EINTR counts as success.
    func waitForCompletion() -> Errno? {
        var cqe: UnsafeMutablePointer<io_uring_cqe>? = nil
        let r = io_uring_wait_cqe(ring, &cqe)
        if r < 0 && -r != EINTR && -r != EAGAIN { return Errno(rawValue: -r) }
        return nil
    }

    /// Passes every ready completion to `body` and marks them seen. Returns how many there were.
    @inline(__always)
    func reap(_ body: (Completion) -> Void) -> Int {
        var total = 0
        while true {
            let n = cqeBatch.withUnsafeMutableBufferPointer { batch -> Int in
                let n = Int(io_uring_peek_batch_cqe(ring, batch.baseAddress!, UInt32(batch.count)))
                for i in 0..<n {
                    let cqe = batch[i]!
                    body(Completion(userData: io_uring_cqe_get_data64(cqe), result: cqe.pointee.res))
                }
                return n
            }
            if n == 0 { return total }
            io_uring_cq_advance(ring, UInt32(n))
            total += n
        }
    }

    // MARK: availability

    /// Whether io_uring works in this process, probed once: the host switch
    /// /proc/sys/kernel/io_uring_disabled, then an actual ring setup (container runtimes and
    /// seccomp profiles block io_uring_setup with EPERM or ENOSYS without touching the switch),
    /// then the opcodes the copier needs.
    static let availability: Availability = probe(disabledSwitch: "/proc/sys/kernel/io_uring_disabled")

    /// The probe behind `availability`, with the switch's path as a parameter for tests.
    static func probe(disabledSwitch path: String) -> Availability {
        let setting = readSwitch(path)
        if setting == 2 {
            return .unavailable(reason: "io_uring is disabled on this host (\(path) = 2)")
        }
        let ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        ring.initialize(to: io_uring())
        defer { ring.deinitialize(count: 1); ring.deallocate() }
        let r = io_uring_queue_init(2, ring, 0)
        if r < 0 { return .unavailable(reason: describeSetupFailure(Errno(rawValue: -r), switchSetting: setting, path: path)) }
        defer { io_uring_queue_exit(ring) }
        // io_uring_get_probe_ring needs 5.6; before that the probe fails and READ_FIXED /
        // WRITE_FIXED (5.1) are assumed, as they exist on every kernel that has io_uring.
        if let probe = io_uring_get_probe_ring(ring) {
            defer { io_uring_free_probe(probe) }
            for (op, name) in [(IORING_OP_READ_FIXED, "READ_FIXED"), (IORING_OP_WRITE_FIXED, "WRITE_FIXED"),
                               (IORING_OP_READ, "READ"), (IORING_OP_WRITE, "WRITE")] {
                if io_uring_opcode_supported(probe, Int32(op.rawValue)) == 0 {
                    return .unavailable(reason: "the kernel's io_uring lacks IORING_OP_\(name)")
                }
            }
        }
        return .available
    }

    /// A sentence saying why io_uring_queue_init failed.
    static func describeSetupFailure(_ e: Errno, switchSetting: Int?, path: String) -> String {
        let setting = switchSetting.map { " (\(path) = \($0))" } ?? ""
        switch e.rawValue {
        case ENOSYS:
            return "io_uring_setup is not available: the kernel lacks io_uring or a seccomp policy hides it (ENOSYS)\(setting)"
        case EPERM:
            if switchSetting == 1 {
                return "io_uring is restricted on this host to members of kernel.io_uring_group (EPERM)\(setting)"
            }
            return "io_uring_setup was refused: a container or seccomp policy forbids it (EPERM)\(setting)"
        case ENOMEM:
            return "io_uring_setup failed for lack of locked memory (ENOMEM, see RLIMIT_MEMLOCK)\(setting)"
        default:
            return "io_uring_setup failed: \(e)\(setting)"
        }
    }

    /// The integer in the io_uring_disabled switch, or nil if there is no such file (kernels
    /// before 6.6) or it cannot be read.
    private static func readSwitch(_ path: String) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 32)
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return nil }
        let text = String(decoding: bytes[0..<n], as: UTF8.self).trimmingCharacters(in: " \n\t")
        return Int(text)
    }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
