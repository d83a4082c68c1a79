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

    /// The range is all the kernel writes, to the folio: after a ranged sync of the first page
    /// of a freshly written file, its other pages are still dirty (cachestat(2)), and a
    /// whole-file sync cleans them. What the WAL's flush-time sync relies on to leave the pages populated ahead
    /// of the writers alone. The kernel's own flusher may clean pages at any moment, so a round
    /// in which it did (no page dirty before the sync) is tried again.
    @Test(.enabled(if: IORing.availability == .available && RangeSyncTests.cachestatWorks(),
                   "needs io_uring (else the sync is whole-file on purpose), cachestat(2) (Linux 6.5+) and a test directory on a file system that writes back (not tmpfs)"))
    func onlyTheRangeIsWritten() throws {
        let dir = TemporaryDirectory()
        let page = 4096, pages = 64
        var checked = false
        for round in 0..<3 where !checked {
            let h = try PosixFileSystem().open(dir.child("f\(round)"), mode: .createNew)
            defer { h.close() }
            // Page by page: the page cache writes back whole folios, and one large write makes
            // large folios (a ranged sync of one page of a 256 KiB pwrite wrote all of it).
            for i in 0..<pages { try h.write(at: i * page, [UInt8](repeating: 0x5A, count: page)) }
            let fd = try #require(h.descriptor)
            guard caugur_unwritten_pages(fd, Int64(page), Int64((pages - 1) * page)) == Int64(pages - 1) else { continue }
            try h.syncData(in: 0..<page)
            let rest = caugur_unwritten_pages(fd, Int64(page), Int64((pages - 1) * page))
            // The kernel's flusher may have cleaned some meanwhile: try again. A sync that
            // always writes more than its range never gets past this.
            guard rest == Int64(pages - 1) else { continue }
            #expect(caugur_unwritten_pages(fd, 0, Int64(page)) == 0, "the range is written")
            try h.sync()
            #expect(caugur_unwritten_pages(fd, 0, Int64(pages * page)) == 0)
            checked = true
        }
        #expect(checked, "in three rounds the pages outside the range did not all stay dirty: the sync wrote more than its range (or the kernel's flusher came by, three times)")
    }

    /// Whether cachestat(2) answers and a written page of a file in the test directory's file
    /// system reads as dirty, then clean after fdatasync (tmpfs, where /tmp is one, keeps its
    /// pages "dirty" for ever: nothing to write back to).
    static func cachestatWorks() -> Bool {
        let dir = TemporaryDirectory()
        guard let h = try? PosixFileSystem().open(dir.child("probe"), mode: .createNew), let fd = h.descriptor else { return false }
        defer { h.close() }
        guard (try? h.write(at: 0, [UInt8](repeating: 1, count: 4096))) != nil,
              caugur_unwritten_pages(fd, 0, 4096) == 1, (try? h.sync()) != nil else { return false }
        return caugur_unwritten_pages(fd, 0, 4096) == 0
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
