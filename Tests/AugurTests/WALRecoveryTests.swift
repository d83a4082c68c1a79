import Testing
import Augur
import AugurSys
import AugurTestSupport
import CAugurSys
#if canImport(Glibc)
import Glibc
#endif

/// WAL recovery edge cases found by the power-loss tests, pinned down.
@Suite struct WALRecoveryTests {
    /// Whether this kernel has cachestat(2) (Linux 6.5): asked of a file every process has.
    static let cachestatAvailable: Bool = {
        let fd = open("/proc/self/exe", O_RDONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return caugur_unwritten_pages(fd, 0, 4096) >= 0
    }()

    func options(_ fs: any FileSystem) -> EngineOptions {
        var o = EngineOptions()
        o.fileSystem = fs
        o.durability = .sync
        o.walSegmentSize = 64 << 10
        return o
    }

    /// Durability `none`: the filled part of the current WAL segment is written back while it
    /// fills (so the roll's fdatasync, which every writer waits for, has little left); `sync`
    /// needs no write-behind. Checked with cachestat(2): dirty or under-writeback pages.
    @Test(.enabled(if: WALRecoveryTests.cachestatAvailable, "needs cachestat(2) (Linux 6.5 or later) to see dirty pages"),
          arguments: [false, true])
    func filledWALChunksAreWrittenBack(syncDurability: Bool) throws {
        let dir = TemporaryDirectory()
        var o = EngineOptions()
        o.durability = syncDurability ? .sync : .none
        o.walSegmentSize = 16 << 20              // write-behind chunks of 1 MiB
        o.memtableFlushSize = 256 << 20          // no flush (a flush would sync the WAL itself)
        let engine = try Engine.open(at: dir.child("db"), options: o)
        let t = try engine.createTable("t")
        let value = [UInt8](repeating: 0x5A, count: 1000)
        // About 12 MiB of frames: chunks 0...9 are complete and a chunk behind the writers.
        for i in 0..<12_000 { try t.put(Array("key\(i)".utf8), value) }
        let wal = try #require(try PosixFileSystem().listDirectory(dir.child("db/wal")).sorted().last)
        let fd = open(dir.child("db/wal/" + wal), O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        var unwritten = caugur_unwritten_pages(fd, 0, 10 << 20)
        try #require(unwritten >= 0, "cachestat(2) failed on the WAL segment")
        // Writeback takes milliseconds; the kernel's own flusher would wait 30 s (dirty_expire).
        for _ in 0..<500 where unwritten > 0 {
            usleep(10_000)
            unwritten = caugur_unwritten_pages(fd, 0, 10 << 20)
        }
        #expect(unwritten == 0, "durability \(o.durability): \(unwritten) pages of the first 10 MiB still dirty or in writeback")
        try engine.close()
    }

    /// A torn tail is cut at the first recovery and must not turn into "corruption" at the
    /// next one, when its segment is no longer the newest.
    @Test func tornTailStaysATornTailAcrossRecoveries() throws {
        let live = CrashSimulatingFileSystem()
        var engine = try Engine.open(at: "/db", options: options(live))
        let t = try engine.createTable("t")
        for i in 0..<50 { try t.put(Array("k\(i)".utf8), Array("v\(i)".utf8)) }
        // A power cut (a clean close seals the segment, and then nothing after it is a tail).
        let fs = live.crashClone()
        try engine.close()
        // Garbage where the next frame would go: a half-written frame.
        let wal = try #require(try fs.listDirectory("/db/wal").sorted().last)
        let h = try fs.open("/db/wal/" + wal, mode: .readWrite)
        let data = try h.read(at: 0, count: 64 << 10)
        let end = data.lastIndex { $0 != 0 }! + 1
        let frameEnd = (end + 7) & ~7
        try h.write(at: frameEnd, [0x11, 0x22, 0x33, 0x44, 0x20, 0, 0, 0, 9, 9, 9, 9])
        try h.sync()
        h.close()

        engine = try Engine.open(at: "/db", options: options(fs))
        let torn = try #require(engine.recoveryReport.walTornTail)
        #expect(torn.offset == frameEnd)
        #expect(torn.bytesDropped == 12)
        // Power cut right after that recovery, before anything else happens.
        let crashed = fs.crashClone()
        try engine.close()
        engine = try Engine.open(at: "/db", options: options(crashed))
        #expect(engine.recoveryReport.walTornTail == nil)
        let table = try engine.table(named: "t")
        for i in 0..<50 { #expect(try table.get(Array("k\(i)".utf8)) == Array("v\(i)".utf8)) }
        try table.put("after", "crash")
        try engine.close()
        engine = try Engine.open(at: "/db", options: options(crashed))
        #expect(try engine.table(named: "t").get("after") == "crash")
        try engine.close()
    }

    /// A bad frame in a sealed (not the newest) segment is corruption, reported with file and offset.
    @Test func badFrameInSealedSegmentIsCorruption() throws {
        let fs = CrashSimulatingFileSystem()
        var engine = try Engine.open(at: "/db", options: options(fs))
        let t = try engine.createTable("t")
        for i in 0..<2000 { try t.put(Array("k\(i)".utf8), [UInt8](repeating: 7, count: 100)) }   // several segments
        try engine.close()
        let first = try #require(try fs.listDirectory("/db/wal").sorted().first)
        let h = try fs.open("/db/wal/" + first, mode: .readWrite)
        let frame = 56                          // the first frame after the segment's header
        var b = try h.read(at: frame + 30, count: 1)
        b[0] ^= 0xFF
        try h.write(at: frame + 30, b)
        try h.sync()
        h.close()
        #expect(throws: AugurError.corruption(file: "/db/wal/" + first, offset: frame,
                                              reason: "frame checksum mismatch in a WAL segment that is not the newest")) {
            engine = try Engine.open(at: "/db", options: options(fs))
        }
    }
}
