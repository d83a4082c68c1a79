// The io_uring stall guard of RangeCopier rests on a timed wait: a request the kernel does not
// complete must not block the waiter for ever, and an abandoned ring must stay usable memory.
import Testing
@testable import AugurSys
import CAugurSys

#if canImport(Glibc)
import Glibc
#endif

@Suite(.enabled(if: IORing.availability == .available, "io_uring is unavailable on this host (RangeCopier falls back; nothing to wait on)"))
struct IORingStallTests {
    /// A read of an empty pipe never completes while nobody writes: the timed wait says so
    /// (false) instead of blocking; once a byte arrives, the completion is reaped.
    @Test func timedWaitReturnsWhenNothingCompletes() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let ring = try IORing(entries: 4, bufferCount: 1, bufferSize: 4096)
        #expect(try ring.reserve(1))
        ring.queueRead(fd: fds[0], buffer: 0, bufferOffset: 0, length: 16, fileOffset: 0, userData: 7, linkNext: false)
        #expect(try ring.submitAndWait(timeoutNanos: 50_000_000) == false)
        #expect(ring.unsubmitted == 0)                      // in the kernel, not completed
        var byte: UInt8 = 42
        #expect(write(fds[1], &byte, 1) == 1)
        #expect(try ring.submitAndWait(timeoutNanos: 5_000_000_000))
        var seen: [IORing.Completion] = []
        _ = ring.reap { seen.append($0) }
        #expect(seen.count == 1 && seen[0].userData == 7 && seen[0].result == 1)
    }

    /// A ring given up with a request in the kernel is kept alive: the late completion lands
    /// in its still-mapped buffer.
    @Test func abandonedRingKeepsItsBuffers() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        var buffer: UnsafeMutableRawPointer? = nil
        do {
            let ring = try IORing(entries: 4, bufferCount: 1, bufferSize: 4096)
            #expect(try ring.reserve(1))
            ring.queueRead(fd: fds[0], buffer: 0, bufferOffset: 0, length: 4, fileOffset: 0, userData: 1, linkNext: false)
            #expect(try ring.submitAndWait(timeoutNanos: 20_000_000) == false)
            buffer = ring.buffer(0)
            ring.abandon()
        }
        let bytes: [UInt8] = [1, 2, 3, 4]
        #expect(write(fds[1], bytes, 4) == 4)
        for _ in 0..<500 where buffer!.load(fromByteOffset: 3, as: UInt8.self) != 4 { usleep(2_000) }
        #expect((0..<4).map { buffer!.load(fromByteOffset: $0, as: UInt8.self) } == bytes)
    }
}
