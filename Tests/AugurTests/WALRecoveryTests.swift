import Testing
import Augur
@_spi(Testing) import AugurSys
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
        // The segment written to is the first: the newest file is the spare made ahead at half
        // full, whose first chunks durability `none` has populated writable (dirty) on purpose.
        let wal = try #require(try PosixFileSystem().listDirectory(dir.child("db/wal")).sorted().first)
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
        // The second frame: 56 + 24 (frame header) + 4 (operation header) + 2 ("k0") + 100,
        // rounded up to 8.
        #expect(throws: AugurError.corruption(file: "/db/wal/" + first, offset: frame,
                                              reason: "frame checksum mismatch in a WAL segment that is not the newest, but the intact frame at offset 192 was written after the segment was synced through offset 192; "
                                                + WALRecoveryMode.pointInTimeAdvice)) {
            engine = try Engine.open(at: "/db", options: options(fs))
        }
    }

    // MARK: a roll in flight (the full segment's sync and seal run after the next segment is in use)

    /// A store of `puts` sequential keys in several 64 KiB segments, closed (the close's
    /// manifest record dropped, as a crash right after the log's seal leaves it); then the
    /// first segment loses its seal and its last frame is replaced by `lastFrame` (zeros: never
    /// written back; garbage: torn) — what a power cut leaves while a roll's seal is pending.
    func storeWithUnsealedFirstSegment(_ durability: Durability, lastFrame: UInt8) throws -> (CrashSimulatingFileSystem, lostKey: Int) {
        let fs = CrashSimulatingFileSystem()
        var o = options(fs)
        o.durability = durability
        let engine = try Engine.open(at: "/db", options: o)
        let t = try engine.createTable("t")
        for i in 0..<2000 { try t.put(Array("k\(10_000 + i)".utf8), [UInt8](repeating: 7, count: 100)) }
        try engine.close()
        try CorruptionRecoveryTests.dropCloseRecord(fs)      // a power cut, not a clean close
        let name = try #require(try fs.listDirectory("/db/wal").sorted().first)
        let first = "/db/wal/" + name
        let frames = Array(try CorruptionRecoveryTests.frames(fs, name).dropFirst())   // the header's excluded
        let seal = try #require(frames.last), last = frames[frames.count - 2]
        let h = try fs.open(first, mode: .readWrite)
        // The key of the last frame: `k1xxxx` at its first operation (after the 24-byte frame
        // header, the kind byte and three one-byte varints: table id, key and value lengths).
        let key = try h.read(at: last + 24 + 4, count: 6)
        try h.write(at: seal, [UInt8](repeating: 0, count: 40))
        try h.write(at: last, [UInt8](repeating: lastFrame, count: seal - last))
        try h.sync()
        h.close()
        // While that seal is pending no later segment is sealed (the next roll and the close
        // wait for it): a seal there would prove this one had been written (FORMAT.md).
        for later in try fs.listDirectory("/db/wal").sorted().dropFirst() {
            guard let end = try CorruptionRecoveryTests.frames(fs, later).last else { continue }
            let s = try fs.open("/db/wal/" + later, mode: .readWrite)
            let marker = try s.read(at: end + 16, count: 12)
            if marker[0..<4] == [0, 0, 0, 0] && marker[8..<12] == [2, 0, 0, 0] {
                try s.write(at: end, [UInt8](repeating: 0, count: 40))
                try s.sync()
            }
            s.close()
        }
        return (fs, Int(String(decoding: key.dropFirst(), as: UTF8.self))!)
    }

    /// The first segment lost its last frame and its seal (a roll's seal was pending at the power
    /// cut); the second holds later writes that no sync acknowledged. Recovery keeps a prefix:
    /// the second segment and everything after it are set aside, not replayed over the gap.
    /// Before the change, replay took the missing frame for the end of data and kept the later
    /// writes (tried: with the old rules the later segments were replayed over the gap, and the
    /// torn variant refused the store as corrupt).
    @Test(arguments: [UInt8(0), 0xA5])
    func anUnsealedSegmentWithALostTailEndsTheLog(lastFrame: UInt8) throws {
        let (fs, lostKey) = try storeWithUnsealedFirstSegment(.none, lastFrame: lastFrame)
        let segments = try fs.listDirectory("/db/wal").count
        let engine = try Engine.open(at: "/db", options: options(fs))
        let report = engine.recoveryReport
        #expect(report.walTornTail != nil)
        if lastFrame == 0 {
            // No byte of its own is dropped (its end is zeros): the report names the sequences
            // the log lacks instead of a bare "0 bytes".
            #expect((report.walTornTail?.sequencesDropped?.count ?? 0) >= 1, "\(String(describing: report.walTornTail))")
        }
        #expect(report.walSetAside.count == segments - 1, "every later segment set aside: \(report.walSetAside)")
        let t = try engine.table(named: "t")
        for i in 10_000..<lostKey { #expect(try t.get(Array("k\(i)".utf8)) != nil, "k\(i), before the lost frame") }
        for i in lostKey..<12_000 { #expect(try t.get(Array("k\(i)".utf8)) == nil, "k\(i), at or after the lost frame") }
        try t.put(Array("after".utf8), [1])
        try engine.close()
        let reopened = try Engine.open(at: "/db", options: options(fs))
        #expect(reopened.recoveryReport.walTornTail == nil)
        #expect(try reopened.table(named: "t").get(Array("after".utf8)) == [1])
        #expect(try reopened.table(named: "t").get(Array("k\(lostKey - 1)".utf8)) != nil)
        try reopened.close()
    }

    /// The same damage where the next segment proves a sync (durability `sync`: its frames carry
    /// a durable prefix past the header), which the log does only after sealing the segment
    /// before it: the bad frame had been sealed, so it is corruption, and nothing is dropped.
    /// Zeros too (the frame and the seal lost whole, so the segment ends cleanly): that case
    /// was taken for a roll in flight and the synced successor set aside — acknowledged writes
    /// lost without an error (found by FormatReaderTests' torn-tail case; planted back, the
    /// zero variant opens).
    @Test(arguments: [UInt8(0), 0xA5])
    func aTornTailBeforeASyncedSuccessorIsCorruption(lastFrame: UInt8) throws {
        let (fs, _) = try storeWithUnsealedFirstSegment(.sync, lastFrame: lastFrame)
        #expect {
            _ = try Engine.open(at: "/db", options: options(fs))
        } throws: { error in
            guard case AugurError.corruption(_, _, let reason) = error else { return false }
            return reason.contains(lastFrame == 0 ? "has no seal" : "not the newest") && reason.contains("was synced through offset")
        }
        #expect(try fs.listDirectory("/db").contains("lost") == false, "a refused open changes nothing")
    }

    /// Durability `none`, many rolls: the seals finished in the background all reach the disk by
    /// `close()`, and a crash copy taken right after close opens with nothing torn or set aside.
    @Test func backgroundSealsAreDurableAtClose() throws {
        let fs = CrashSimulatingFileSystem()
        var o = options(fs)
        o.durability = .none
        let engine = try Engine.open(at: "/db", options: o)
        let t = try engine.createTable("t")
        for i in 0..<5000 { try t.put(Array("k\(i)".utf8), [UInt8](repeating: 9, count: 100)) }
        try engine.close()
        let crashed = fs.crashClone()
        let reopened = try Engine.open(at: "/db", options: options(crashed))
        #expect(reopened.recoveryReport.walTornTail == nil && reopened.recoveryReport.walSetAside.isEmpty)
        #expect(try reopened.table(named: "t").get(Array("k4999".utf8)) != nil)
        try reopened.close()
    }

    /// Every writable open starts a new log segment, and a store opened for a few writes at a
    /// time (the CLI's `augur put`) never filled a memtable, so nothing was flushed and every
    /// open left one more preallocated segment (64 MiB each by default). An open that inherits
    /// more than `Engine.inheritedSegmentsBeforeAFlush` flushes them away. Fails without the
    /// open's flush (tried: 8 segments after 8 opens).
    @Test func opensForAFewWritesDoNotPileUpLogSegments() throws {
        let fs = CrashSimulatingFileSystem()
        var o = options(fs)
        o.telemetry.enabled = false
        for i in 0..<8 {
            let e = try Engine.open(at: "/db", options: o)
            let t = i == 0 ? try e.createTable("t") : try e.table(named: "t")
            try t.put(Array("key-\(i)".utf8), Array("value-\(i)".utf8))
            #expect(e.walSegments.count <= Engine.inheritedSegmentsBeforeAFlush + 1, "open \(i): segments \(e.walSegments)")
            try e.close()
        }
        let e = try Engine.open(at: "/db", options: o)
        defer { try? e.close() }
        let t = try e.table(named: "t")
        for i in 0..<8 { #expect(try t.get(Array("key-\(i)".utf8)) == Array("value-\(i)".utf8)) }
    }
}
