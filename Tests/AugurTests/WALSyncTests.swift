@testable import Augur
@_spi(Testing) import AugurSys
import Dispatch
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `WriteAheadLog.syncCurrent`, the sync every flush makes before its run becomes durable.
@Suite struct WALSyncTests {
    /// A frame whose writer is still copying it (reserved, not yet published) lies ahead of a
    /// complete one. The sync must wait for it and cover both: a sync that stopped at the
    /// first unfinished frame left the later one out, and recovery would end the log at the
    /// unfinished frame while a flushed run kept the later frame's writes (found in review of
    /// the ranged sync, which made the window as wide as the whole gap; before it the
    /// whole-file fdatasync covered the later frame whenever the earlier one finished in time).
    /// Fails without the wait (the sync returns at once, short of the second frame).
    @Test func theSyncWaitsForAFrameStillBeingCopiedAheadOfOthers() throws {
        let fs = CrashSimulatingFileSystem()
        try fs.createDirectory("/wal")
        try fs.syncDirectory("/")
        let wal = try WriteAheadLog(fileSystem: fs, directory: "/wal", firstSegment: 1, segmentSize: 4 << 20,
                                    durability: .none, lastSeq: 0, coveredBelow: 1, inherited: [], crashPoint: nil)
        defer { wal.close() }
        let copying = DispatchSemaphore(value: 0), finish = DispatchSemaphore(value: 0)
        let first = DispatchSemaphore(value: 0)
        // Threads of their own: the global queue's few threads may all be blocked (the first
        // writer waits on a semaphore), and the sync must be running when the clock starts.
        Thread {
            _ = try? wal.append(payloadSize: 64, opCount: 1) { payload, _ in
                copying.signal()
                finish.wait()
                memset(payload, 0xAB, 64)
            }
            first.signal()
        }.start()
        copying.wait()
        let second = try #require(try wal.append(payloadSize: 64, opCount: 1) { payload, _ in memset(payload, 0xCD, 64) })
        let syncing = DispatchSemaphore(value: 0), synced = DispatchSemaphore(value: 0)
        Thread {
            syncing.signal()
            try? wal.syncCurrent()
            synced.signal()
        }.start()
        syncing.wait()
        let waited = synced.wait(timeout: .now() + .milliseconds(300)) == .timedOut
        #expect(waited, "the sync returned while a frame before the second one was still being copied")
        finish.signal()
        first.wait()
        if waited { synced.wait() }
        #expect(second.segment.durableEnd >= second.end)
        // What a power cut keeps: both payloads.
        let after = fs.crashClone()
        let h = try after.open(second.segment.path, mode: .readOnly)
        defer { h.close() }
        let size = WALFormat.frameSize(payload: 64)
        let firstPayload = try h.read(at: second.end - 2 * size + WALFormat.frameHeaderSize, count: 64)
        let secondPayload = try h.read(at: second.end - size + WALFormat.frameHeaderSize, count: 64)
        #expect(firstPayload == [UInt8](repeating: 0xAB, count: 64))
        #expect(secondPayload == [UInt8](repeating: 0xCD, count: 64))
        #expect(fs.rangedSyncCount > 0, "a 4 MiB segment with durability none takes the ranged sync")
    }
}
