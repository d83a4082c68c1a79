// `FileHandle.syncData(in:)`: a ranged fdatasync through io_uring (the WAL's flush-time sync,
// docs/ARCHITECTURE.md "Write-ahead log"), its fallback to a whole-file fdatasync, and the
// crash-simulating file system's model of it.
import Testing
@testable import AugurSys
@_spi(Testing) import AugurSys
import AugurTestSupport
import CAugurSys

#if canImport(Glibc)
import Glibc
#endif

@Suite struct RangeSyncTests {
    /// The shim asks io_uring for the range (0), says when it cannot (1: the caller syncs the
    /// whole file) and passes the sync's own failure through as a negated errno — never
    /// folding a failed sync into "done".
    @Test(.enabled(if: IORing.availability == .available, "io_uring is unavailable here: every ranged sync is a whole-file fdatasync"))
    func theShimSyncsARangeOrSaysWhyNot() throws {
        let dir = TemporaryDirectory()
        let h = try PosixFileSystem().open(dir.child("f"), mode: .createNew)
        defer { h.close() }
        try h.write(at: 0, [UInt8](repeating: 7, count: 3 * 4096))
        let fd = try #require(h.descriptor)
        #expect(caugur_fdatasync_range(fd, 4096, 4096) == 0)
        #expect(caugur_fdatasync_range(fd, 0, Int64(UInt32.max) + 1) == 1, "a range past 4 GiB does not fit the request")
        #expect(caugur_fdatasync_range(fd, -1, 10) == 1)
        #expect(caugur_fdatasync_range(-1, 0, 4096) == -EBADF)
    }

    /// Through the handle: the range, the whole-file fallback and an empty range all succeed
    /// and change no byte; through the fault-injecting wrapper a ranged sync is a sync, so an
    /// injected failure is the typed error naming the file.
    @Test func aHandleSyncsARange() throws {
        let dir = TemporaryDirectory()
        let path = dir.child("f")
        let fs = FaultInjectingFileSystem(wrapping: PosixFileSystem())
        let h = try fs.open(path, mode: .createNew)
        defer { h.close() }
        let bytes = (0..<(3 * 4096)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try h.write(at: 0, bytes)
        try h.syncData(in: 100..<5000)
        try h.syncData(in: 0..<(Int(UInt32.max) + 2))
        try h.syncData(in: 10..<10)
        #expect(try h.read(at: 0, count: bytes.count) == bytes)
        fs.add(FaultRule(.sync, path: "*/f"))
        #expect(throws: FileSystemError(.sync, path, .ioError)) { try h.syncData(in: 0..<4096) }
    }

    /// The model keeps only the synced range: after a crash without tearing, bytes outside it
    /// read as they were last made durable, and the size reaches as far as the range.
    @Test func theModelKeepsTheRangeAndNothingElse() throws {
        let fs = CrashSimulatingFileSystem()
        try fs.createDirectory("/d")
        let h = try fs.open("/d/f", mode: .createNew)
        try h.write(at: 0, [UInt8](repeating: 1, count: 8192))
        try h.sync()                                   // 8 KiB of ones, durable
        try h.write(at: 0, [UInt8](repeating: 2, count: 16384))
        try h.syncData(in: 4096..<12288)               // twos in the middle only
        try fs.syncDirectory("/")
        try fs.syncDirectory("/d")
        let after = fs.crashClone()
        let g = try after.open("/d/f", mode: .readOnly)
        defer { g.close() }
        #expect(try g.size() == 12288)
        let read = try g.read(at: 0, count: 12288)
        #expect(read[0..<4096].allSatisfy { $0 == 1 }, "before the range: the old durable bytes")
        #expect(read[4096..<12288].allSatisfy { $0 == 2 }, "the range: the synced bytes")
        h.close()
    }
}
