import Testing
@_spi(Testing) import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport
import Dispatch
import class Foundation.Thread
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Recovery under damage (issue 15): a store with damaged or missing files either opens with
/// every acknowledged write intact or refuses with a typed error naming the file — it never
/// opens with fewer records silently, and it never deletes what may hold acknowledged data.
@Suite struct CorruptionRecoveryTests {
    static let value = [UInt8](repeating: 0x5C, count: 100)

    static func options(_ fs: any FileSystem, mode: WALRecoveryMode = .tolerateTornTail, bug: PlantedBug? = nil) -> EngineOptions {
        var o = EngineOptions()
        o.fileSystem = fs
        o.durability = .sync
        o.walSegmentSize = 64 << 10          // several segments
        o.memtableFlushSize = 64 << 20       // nothing flushed: the WAL holds every write
        o.walRecovery = mode
        o.plantedBug = bug
        return o
    }

    static func key(_ i: Int) -> [UInt8] { Array("key\(i)".utf8) }

    /// A store at /db with `count` acknowledged puts, then either closed or cut by a power loss.
    static func store(count: Int = 2000, close: Bool) throws -> CrashSimulatingFileSystem {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: options(fs))
        let t = try engine.createTable("t")
        for i in 0..<count { try t.put(key(i), value) }
        if close {
            try engine.close()
            return fs
        }
        let crashed = fs.crashClone()
        try engine.close()
        return crashed
    }

    /// Keys of `0..<count` that are missing or wrong.
    static func missing(_ fs: any FileSystem, count: Int = 2000, options o: EngineOptions? = nil) throws -> [Int] {
        let engine = try Engine.open(at: "/db", options: o ?? options(fs))
        defer { try? engine.close() }
        let t = try engine.table(named: "t")
        return try (0..<count).filter { try t.get(key($0)) != value }
    }

    static func walFiles(_ fs: any FileSystem) throws -> [String] { try fs.listDirectory("/db/wal").sorted() }

    /// Drops the close's record (`walClosed`, the manifest's last) from the store at /db: the
    /// store as a crash just after the close sealed its log leaves it, for tests that model
    /// a power cut by damaging a closed store's log (after a clean close, a torn end is
    /// corruption). Framing (FORMAT.md): u32 checksum, u32 payload length, u32 edit count, edits.
    static func dropCloseRecord(_ fs: any FileSystem, store: String = "/db") throws {
        let m = try manifestRecords(fs, store: store)
        let last = m.starts.last ?? -1
        try #require(last >= 0 && m.end == m.bytes.count && m.bytes[last + 12] == 18, "\(m.path): last record at \(last)")
        let h = try fs.open(m.path, mode: .readWrite)
        try h.truncate(size: last)
        try h.sync()
        h.close()
    }

    /// The live manifest of the store at `store`: its path, bytes, where each record starts
    /// and where the last one ends (FORMAT.md framing: u32 checksum, u32 payload length).
    static func manifestRecords(_ fs: any FileSystem, store: String = "/db") throws -> (path: String, bytes: [UInt8], starts: [Int], end: Int) {
        let current = String(decoding: try fs.readFile(store + "/CURRENT").dropLast(), as: UTF8.self)
        let path = store + "/" + current
        let bytes = try fs.readFile(path)
        func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        var starts: [Int] = []
        var at = 0
        while at + 8 <= bytes.count { starts.append(at); at += 8 + u32(at + 4) }
        return (path, bytes, starts, at)
    }

    /// Offsets of the frames of a WAL segment (the header frame first).
    static func frames(_ fs: any FileSystem, _ name: String) throws -> [Int] {
        let h = try fs.open("/db/wal/" + name, mode: .readOnly)
        defer { h.close() }
        let bytes = try h.read(at: 0, count: try h.size())
        var offsets: [Int] = []
        var at = 0
        while at + 24 <= bytes.count {
            let len = Int(bytes[at + 4]) | Int(bytes[at + 5]) << 8 | Int(bytes[at + 6]) << 16 | Int(bytes[at + 7]) << 24
            if len == 0 { break }
            offsets.append(at)
            at += (24 + len + 7) & ~7
        }
        return offsets
    }

    /// Writes `bytes` where the frame after the last one of WAL segment `name` would start (a
    /// frame in flight at a crash); returns that offset.
    static func writeAfterLastFrame(_ fs: any FileSystem, _ name: String, _ bytes: [UInt8]) throws -> Int {
        let last = try #require(try frames(fs, name).last)
        let h = try fs.open("/db/wal/" + name, mode: .readWrite)
        defer { h.close() }
        let len = try h.read(at: last + 4, count: 4).reversed().reduce(0) { $0 << 8 | Int($1) }
        let tail = last + ((24 + len + 7) & ~7)
        try h.write(at: tail, bytes)
        try h.sync()
        return tail
    }

    static func flip(_ fs: any FileSystem, _ path: String, at offset: Int) throws {
        let h = try fs.open(path, mode: .readWrite)
        var b = try h.read(at: offset, count: 1)
        b[0] ^= 0x10
        try h.write(at: offset, b)
        try h.sync()
        h.close()
    }

    static func expectCorruption(_ fs: any FileSystem, file: String, _ reasonContains: String,
                                 options o: EngineOptions? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let engine = try Engine.open(at: "/db", options: o ?? options(fs))
            try? engine.close()
            Issue.record("opened a damaged store (expected corruption in \(file): \(reasonContains))", sourceLocation: sourceLocation)
        } catch {
            guard case .corruption(let f, _, let reason) = error else {
                Issue.record("expected corruption, got \(error)", sourceLocation: sourceLocation)
                return
            }
            #expect(f == file, sourceLocation: sourceLocation)
            #expect(reason.contains(reasonContains), "reason: \(reason)", sourceLocation: sourceLocation)
        }
    }

    // MARK: F2 — a damaged frame with intact frames after it is not a torn tail

    /// A flipped payload byte in the newest segment, with later frames intact: the store is
    /// refused (file and offset named), for a store closed cleanly (sealed segment) and one cut
    /// by a power loss (later frames record that the damaged one had been synced). The planted
    /// bug "every checksum failure is a torn tail" opens with the later writes gone.
    @Test(arguments: [true, false])
    func damagedFrameBeforeIntactOnesIsCorruption(closed: Bool) throws {
        let fs = try Self.store(close: closed)
        let newest = try #require(try Self.walFiles(fs).last)
        let frames = try Self.frames(fs, newest)
        try #require(frames.count > 20)
        let victim = frames[frames.count / 2]
        try Self.flip(fs, "/db/wal/" + newest, at: victim + 40)
        let bugged = fs.crashClone()
        Self.expectCorruption(fs, file: "/db/wal/" + newest, "damaged after it was written, not a torn write")
        // Nothing was changed by the refused open: the same bytes refuse again.
        Self.expectCorruption(fs, file: "/db/wal/" + newest, "frame checksum mismatch")
        // The mutation the check exists for: the planted bug opens and loses acknowledged writes.
        let lost = try Self.missing(bugged, options: Self.options(bugged, bug: .corruptionAsTornTail))
        #expect(lost.count > 10, "planted bug lost only \(lost.count)")
    }

    /// A real torn tail (a frame in flight at a power cut: garbage after the last frame, nothing
    /// after it) still opens, keeps every acknowledged write, reports the cut and keeps the
    /// dropped bytes in lost/. `absoluteConsistency` refuses the same store.
    @Test func tornTailIsDroppedSavedAndReported() throws {
        let fs = try Self.store(close: false)
        let newest = try #require(try Self.walFiles(fs).last)
        let garbage: [UInt8] = [0x11, 0x22, 0x33, 0x44, 0x40, 0, 0, 0, 9, 9, 9, 9]
        let tail = try Self.writeAfterLastFrame(fs, newest, garbage)
        let strict = fs.crashClone()
        Self.expectCorruption(strict, file: "/db/wal/" + newest, "absolute-consistency",
                              options: Self.options(strict, mode: .absoluteConsistency))

        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        let report = engine.recoveryReport
        try engine.close()
        let torn = try #require(report.walTornTail)
        #expect(torn.offset == tail && torn.bytesDropped == garbage.count)
        let saved = try #require(report.walTornTailSavedAs)
        let copy = try fs.open("/db/" + saved, mode: .readOnly)
        #expect(try copy.read(at: 0, count: try copy.size()) == garbage)
        copy.close()
        #expect(try Self.missing(fs).isEmpty)
    }

    /// `.pointInTime` opens a store the default mode refuses: everything before the damage,
    /// the rest of that segment and every later segment moved to lost/, and the cut reported.
    @Test func pointInTimeKeepsThePrefixAndSetsTheRestAside() throws {
        let fs = try Self.store(close: true)
        let names = try Self.walFiles(fs)
        try #require(names.count >= 4)
        let damaged = names[1]
        let frames = try Self.frames(fs, damaged)
        try Self.flip(fs, "/db/wal/" + damaged, at: frames[5] + 30)
        Self.expectCorruption(fs, file: "/db/wal/" + damaged, "not the newest")

        let engine = try Engine.open(at: "/db", options: Self.options(fs, mode: .pointInTime))
        let report = engine.recoveryReport
        try engine.close()
        #expect(report.walCorruption?.contains(damaged) == true)
        #expect(report.walSetAside.count == names.count - 2 + 1, "\(report.walSetAside)")
        for name in names.dropFirst(2) { #expect(fs.fileExists("/db/lost/" + name)) }
        // The prefix is intact and contiguous: the keys lost are exactly a suffix.
        let lost = try Self.missing(fs)
        #expect(!lost.isEmpty)
        #expect(lost == Array(lost.first!..<2000))
        // From now on the store opens in the default mode.
        #expect(try Self.missing(fs) == lost)
    }

    /// A manifest that lost the record creating table u, and a WAL segment holding writes to t,
    /// then to u, then to t: a point-in-time open cuts at u's first frame and keeps what came
    /// before it — applied and still in its segment, so it survives a reopen. The whole segment
    /// used to be set aside while its first frames stayed applied in memory: visible once,
    /// gone after the next reopen (found in review). Fails without the cut at an apply error in
    /// `WALReplay.replaySegment` (tried).
    @Test func aPointInTimeCutAtAWriteTheManifestCannotTakeKeepsWhatCameBefore() throws {
        let fs = CrashSimulatingFileSystem()
        let t = Self.key
        let first = try Engine.open(at: "/db", options: Self.options(fs))
        let table = try first.createTable("t")
        for i in 0..<20 { try table.put(t(i), Self.value) }
        try first.flush()           // the next open replays nothing (so flushes nothing)
        try first.close()
        let manifestName = String(decoding: try fs.readFile("/db/CURRENT"), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let manifestBefore = try fs.readFile("/db/" + manifestName)

        let second = try Engine.open(at: "/db", options: Self.options(fs))
        for i in 20..<40 { try second.table(named: "t").put(t(i), Self.value) }
        let u = try second.createTable("u")
        try u.put(t(0), [9])
        for i in 40..<60 { try second.table(named: "t").put(t(i), Self.value) }
        try second.close()
        // The manifest as it was before the second open: u's creation is gone.
        let h = try fs.open("/db/" + manifestName, mode: .readWrite)
        try h.truncate(size: 0)
        try h.write(at: 0, manifestBefore)
        try h.sync()
        h.close()

        let cut = try Engine.open(at: "/db", options: Self.options(fs, mode: .pointInTime))
        #expect(cut.recoveryReport.walCorruption?.contains("never allocated") == true, "\(cut.recoveryReport)")
        let seen = try (0..<60).filter { try cut.table(named: "t").get(t($0)) != nil }
        #expect(seen == Array(0..<40), "\(seen)")
        try cut.table(named: "t").put(t(25), [7])
        try cut.close()
        let reopened = try Engine.open(at: "/db", options: Self.options(fs))
        defer { try? reopened.close() }
        let after = try (0..<60).filter { try reopened.table(named: "t").get(t($0)) != nil }
        #expect(after == Array(0..<40), "what the cut kept survives a reopen: \(after)")
        #expect(try reopened.table(named: "t").get(t(25)) == [7])
    }

    /// Whether leftovers are deleted is decided from what lasts: after a point-in-time cut (its
    /// `.corrupt` copy in lost/) an ordinary open moves an unreferenced run to lost/ too — an
    /// open that failed half way through that sweep left a log that replays cleanly, and the
    /// retry deleted the rest (found in review). Without such a file it is removed, as ever.
    @Test func leftoversAreKeptByEveryOpenAfterAPointInTimeCut() throws {
        for cutEarlier in [false, true] {
            let fs = try Self.store(count: 10, close: true)
            let stray = try fs.open("/db/seg/1-999999.seg", mode: .createNew)
            try stray.write(at: 0, [1, 2, 3])
            stray.close()
            if cutEarlier {
                try fs.createDirectory("/db/lost")
                let copy = try fs.open("/db/lost/000000000001.wal.4096.corrupt", mode: .createNew)
                copy.close()
            }
            let engine = try Engine.open(at: "/db", options: Self.options(fs))
            let report = engine.recoveryReport
            try engine.close()
            if cutEarlier {
                #expect(report.filesSetAside == ["lost/1-999999.seg"] && report.filesRemoved.isEmpty, "\(report)")
                #expect(fs.fileExists("/db/lost/1-999999.seg"))
            } else {
                #expect(report.filesRemoved == ["seg/1-999999.seg"] && report.filesSetAside.isEmpty, "\(report)")
            }
        }
    }

    /// A store whose seg/ or wal/ went missing is damage, named (it was "not an Augur store:
    /// the seg/ or wal/ directory is missing", which said neither which nor that it was damage).
    @Test func aMissingStoreDirectoryIsNamed() throws {
        for name in ["seg", "wal"] {
            let fs = try Self.store(count: 10, close: true)
            for file in try fs.listDirectory("/db/" + name) { try fs.remove("/db/\(name)/\(file)") }
            try fs.removeDirectory("/db/" + name)
            Self.expectCorruption(fs, file: "/db/" + name, "the \(name)/ directory is missing")
        }
    }

    /// An open that cuts a torn tail (copied to lost/, zeroed) and then fails — here creating
    /// its new WAL segment — still says what it cut: the next open finds nothing left to report
    /// (an outside check saw the cut go unreported, then "nothing was dropped"). Fails without
    /// the report logged in `Recovery.run`'s catch (tried).
    @Test func aCutIsReportedWhenTheOpenThenFails() throws {
        let fs = try Self.store(close: false)
        let newest = try #require(try Self.walFiles(fs).last)
        _ = try Self.writeAfterLastFrame(fs, newest, [0x11, 0x22, 0x33, 0x44, 0x40, 0, 0, 0, 9, 9, 9, 9])
        let faulty = FaultInjectingFileSystem(wrapping: fs)
        faulty.add(FaultRule(.allocate, path: "*/wal/*", persistent: true))
        let logs = LogCapture()
        var o = Self.options(faulty)
        o.makeLogger = logs.makeLogger
        #expect(throws: AugurError.self) { try Engine.open(at: "/db", options: o) }
        #expect(logs.messages(label: "augur.recovery").contains { $0.contains("WAL torn tail cut") }, "\(logs.all)")
    }

    /// A manifest cut inside a record after merges: the records that replaced merged-away runs
    /// are gone, so the state names runs seg/ no longer holds. The refusal names the run and
    /// says the manifest may have lost records, and that it ended in a torn record (an outside
    /// check's truncated manifest was reported only as a missing run, sending the operator to
    /// the wrong file).
    @Test func aRunMissingBehindACutManifestNamesTheManifest() throws {
        let fs = CrashSimulatingFileSystem()
        var o = Self.options(fs)
        o.maxRunsPerPartition = 2             // the third flush merges
        o.telemetry.enabled = false
        let engine = try Engine.open(at: "/db", options: o)
        let t = try engine.createTable("t")
        for round in 0..<4 {
            for i in 0..<50 { try t.put(Self.key(round * 50 + i), Self.value) }
            try engine.flush()
        }
        try engine.close()
        let manifest = try Self.manifestRecords(fs)
        let (starts, current) = (manifest.starts, lastPathComponent(manifest.path))
        // Cut inside each record from the last back, until the state names a run seg/ lacks.
        var found: String? = nil
        for start in starts.reversed() where found == nil {
            let copy = fs.processCrashClone()   // the closed store each time (an open rotates it)
            let h = try copy.open("/db/" + current, mode: .readWrite)
            try h.truncate(size: start + 5)
            h.close()
            o.fileSystem = copy
            do { try Engine.open(at: "/db", options: o).close() } catch {
                guard case .corruption(let file, _, let reason) = error, file.hasPrefix("/db/seg/") else {
                    Issue.record("cut at \(start + 5): \(error)")
                    return
                }
                found = reason
            }
        }
        let reason = try #require(found, "no cut left the manifest naming a missing run")
        #expect(reason.contains("is missing: deleted, or \(current) lost the records that replaced it")
                && reason.contains("ended in 5 bytes that were not a whole record"), "\(reason)")
    }

    /// A manifest that lost its second half, its flushed runs' WAL long trimmed: the default
    /// mode refuses; `.pointInTime` opens at the cut, and the runs the lost records named —
    /// acknowledged records found in no other file — go to lost/ with the cut manifest, never
    /// deleted (an outside check lost three quarters of a table and another table whole to the
    /// leftover sweep). Fails with the sweep deleting them (tried: `keepLeftovers` false).
    @Test func pointInTimeMovesWhatACutManifestNamedToLost() throws {
        let dir = TemporaryDirectory()
        let fs = PosixFileSystem()
        var o = EngineOptions()
        o.durability = .sync
        o.walSegmentSize = 64 << 10
        o.memtableFlushSize = 16 << 10
        o.maxRunsPerPartition = 1000        // no merge deletes a run: every cut's runs exist
        o.telemetry.enabled = false
        let engine = try Engine.open(at: dir.path, options: o)
        let t = try engine.createTable("t")
        for i in 0..<3000 { try t.put(Self.key(i), Self.value) }
        try engine.flush()
        try engine.close()
        let manifest = try #require(try fs.listDirectory(dir.path).first { $0.hasPrefix("MANIFEST-") })
        let size = try fs.fileSize(dir.child(manifest))
        #expect(truncate(dir.child(manifest), off_t(size / 2)) == 0)
        let runsBefore = Set(try fs.listDirectory(dir.child("seg")))
        #expect(throws: AugurError.self) { try Engine.open(at: dir.path, options: o) }

        var p = o
        p.walRecovery = .pointInTime
        let cut = try Engine.open(at: dir.path, options: p)
        let report = cut.recoveryReport
        try cut.close()
        #expect(report.walCorruption != nil)
        #expect(report.filesRemoved.filter { $0.hasPrefix("seg/") }.isEmpty, "\(report.filesRemoved)")
        let lost = Set(try fs.listDirectory(dir.child("lost")))
        let gone = runsBefore.subtracting(try fs.listDirectory(dir.child("seg")))
        #expect(!gone.isEmpty && gone.isSubset(of: lost), "runs gone from seg/: \(gone.sorted()); lost/: \(lost.sorted())")
        #expect(lost.contains(manifest), "the cut manifest: \(lost.sorted())")
        #expect(report.filesSetAside.count == gone.count + 1, "\(report.filesSetAside)")
    }

    // MARK: F4 — a missing, truncated or extended WAL segment is noticed

    /// A writer killed with its segment unsealed; a later open replays it, syncs it and either
    /// closes without a write (`close`: its own segment holds a header and a `closed` seal) or
    /// is killed too. Damage then found at the crashed segment's end — its last frame flipped,
    /// its last page zeroed, its second half zeroed — is corruption, never a torn write: each
    /// of those writes was acknowledged under `sync`. (Found from outside: the log read as a
    /// torn tail there, 3,798 of 8,776 keys gone with exit 0, and `recover` called them never
    /// acknowledged. Now the open seals such a segment once synced, and a seal in the segment
    /// after it counts as proof of the sync.)
    @Test(arguments: [(true, 150), (false, 150), (true, 300), (false, 300)], ["last frame", "last frame whole", "last page", "second half"])
    func damageToARecoveredCrashSegmentsEndIsCorruption(_ reopened: (cleanly: Bool, puts: Int), damage: String) throws {
        let reopenedCleanly = reopened.cleanly, puts = reopened.puts
        let fs = CrashSimulatingFileSystem()
        let killed = try Engine.open(at: "/db", options: Self.options(fs))
        defer { try? killed.close() }
        let t = try killed.createTable("t")
        // 150 puts: 21 KiB, one segment. 300: past half of it, so a spare was made ahead, whose
        // header's first sequence is only a lower bound (the open removes it: otherwise it
        // hid the lost end of the segment before it from the gap check).
        for i in 0..<puts { try t.put(Self.key(i), Self.value) }
        let deadline = ContinuousClock.now + .seconds(10)     // the spare is made in the background
        while puts > 150, try Self.walFiles(fs).count < 2, ContinuousClock.now < deadline { ThreadPause.sleep(nanoseconds: 1_000_000) }
        try #require(try Self.walFiles(fs).count == (puts > 150 ? 2 : 1))
        let afterKill = fs.processCrashClone()
        // The segment the writer was in (a spare made ahead holds only its header).
        let crashed = try #require(try Self.walFiles(afterKill).last { try Self.frames(afterKill, $0).count > 1 })
        let frames = try Self.frames(afterKill, crashed)
        // Its flush of what it replayed fails (disk full), as one a quick close or a kill cut
        // short: the crashed segment stays, behind the open's own.
        let noRuns = FaultInjectingFileSystem(wrapping: afterKill)
        noRuns.add(FaultRule(.open, path: "*/seg/*", errno: .noSpace, persistent: true))
        let recovering = try Engine.open(at: "/db", options: Self.options(noRuns))
        let replayed = try recovering.table(named: "t")
        #expect(try (0..<puts).allSatisfy { try replayed.get(Self.key($0)) == Self.value })
        let store: CrashSimulatingFileSystem
        recovering.drainFlushLane()
        if reopenedCleanly {
            try? recovering.close()
            store = afterKill
        } else {
            store = afterKill.processCrashClone()
            try? recovering.close()
        }
        // The open flushed nothing and trimmed nothing: the crashed segment and the open's own.
        let walAfter = try Self.walFiles(store)
        #expect(walAfter.count == 2 && walAfter.first == crashed, "\(walAfter)")
        // Where the crashed segment's frames end (its seal, when the open wrote one, comes after).
        let last = try #require(frames.last)
        let h = try store.open("/db/wal/" + crashed, mode: .readWrite)
        let lastLength = try h.read(at: last + 4, count: 4).reversed().reduce(0) { $0 << 8 | Int($1) }
        let end = last + ((24 + lastLength + 7) & ~7)
        let size = try h.size()
        switch damage {
        case "last frame":
            var b = try h.read(at: last + 30, count: 1)
            b[0] ^= 0x10
            try h.write(at: last + 30, b)
        case "last frame whole":       // from its start, at a frame boundary: the segment ends cleanly
            try h.write(at: last, [UInt8](repeating: 0, count: size - last))
        case "last page":
            let page = (end - 1) & ~4095
            try h.write(at: page, [UInt8](repeating: 0, count: min(4096, size - page)))
        default:
            let half = frames[frames.count / 2]
            try h.write(at: half, [UInt8](repeating: 0, count: size - half))
        }
        try h.sync()
        h.close()
        let opened = try? Engine.open(at: "/db", options: Self.options(store))
        if let opened {
            let t2 = try opened.table(named: "t")
            let lost = try (0..<puts).filter { try t2.get(Self.key($0)) != Self.value }
            try opened.close()
            Issue.record("\(damage) of the recovered segment (\(reopenedCleanly ? "closed" : "killed") after): opened, \(lost.count) of \(puts) acknowledged writes missing")
        }
        Self.expectCorruption(store, file: "/db/wal/" + crashed, "seal", options: Self.options(store))
    }

    /// A store closed cleanly; its newest segment's last frame (the delete of a 12-byte key, a
    /// frame with a 16-byte payload, a seal's size) and its `closed` seal are then damaged
    /// together. Corruption, never a torn write: a clean close leaves none. (Found from
    /// outside: zeroed together they read as a torn write and the delete was undone, exit 0.
    /// The close now records where the frames end, the manifest's `walClosed`.) Two more from
    /// review: the frame cut after its length word looks like a seal cut short, and a valid
    /// seal written over the last frame (as a point-in-time cut seals its segment) — both below
    /// where the close's frames end. Only the seal lost loses nothing, and opens.
    @Test(arguments: ["last frame and seal zeroed", "last frame flipped, seal zeroed", "last page zeroed",
                      "last frame cut to a seal's shape", "a seal over the last frame", "seal zeroed"])
    func damageToACleanlyClosedLogsEndIsCorruption(_ damage: String) throws {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        let t = try engine.createTable("t")
        let gone = Array("deleted-key0".utf8)
        for i in 0..<100 { try t.put(Self.key(i), Self.value) }
        try t.put(gone, Self.value)
        try t.delete(gone)
        try engine.close()
        let newest = try #require(try Self.walFiles(fs).last)
        let frames = try Self.frames(fs, newest)        // header, the writes, the seal
        try #require(frames.count >= 4)
        let (last, seal) = (frames[frames.count - 2], frames[frames.count - 1])
        let h = try fs.open("/db/wal/" + newest, mode: .readWrite)
        let size = try h.size()
        try #require(try h.read(at: last + 4, count: 4) == [16, 0, 0, 0], "the delete's payload is a seal's 16 bytes")
        switch damage {
        case "last frame and seal zeroed":
            try h.write(at: last, [UInt8](repeating: 0, count: size - last))
        case "last frame flipped, seal zeroed":
            var b = try h.read(at: last + 30, count: 1)
            b[0] ^= 0x10
            try h.write(at: last + 30, b)
            try h.write(at: seal, [UInt8](repeating: 0, count: size - seal))
        case "last page zeroed":
            let page = seal & ~4095
            try h.write(at: page, [UInt8](repeating: 0, count: min(4096, size - page)))
        case "last frame cut to a seal's shape":   // checksum, length and sequence kept
            try h.write(at: last + 16, [UInt8](repeating: 0, count: size - last - 16))
        case "a seal over the last frame":          // the close's seal, moved: its offset field and checksum made again
            var moved = try h.read(at: seal, count: 40)
            for k in 0..<8 { moved[32 + k] = UInt8(truncatingIfNeeded: UInt64(last) >> (8 * UInt64(k))) }
            let crc = moved[8..<40].withUnsafeBytes { CRC32C.mask(CRC32C.checksum($0)) }
            for k in 0..<4 { moved[k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k))) }
            try h.write(at: last, moved + [UInt8](repeating: 0, count: size - last - 40))
        default:
            try h.write(at: seal, [UInt8](repeating: 0, count: size - seal))
        }
        try h.sync()
        h.close()
        let file = "/db/wal/" + newest
        guard damage != "seal zeroed" else {
            let opened = try Engine.open(at: "/db", options: Self.options(fs))
            let t2 = try opened.table(named: "t")
            #expect(try t2.get(gone) == nil)
            #expect(try (0..<100).allSatisfy { try t2.get(Self.key($0)) == Self.value })
            #expect(opened.recoveryReport.walCorruption == nil && opened.recoveryReport.walTornTail == nil)
            try opened.close()
            return
        }
        if let opened = try? Engine.open(at: "/db", options: Self.options(fs)) {
            let undone = try opened.table(named: "t").get(gone) != nil
            try opened.close()
            Issue.record("\(damage): opened\(undone ? ", the delete undone" : "")")
            return
        }
        Self.expectCorruption(fs, file: file, "closed cleanly", options: Self.options(fs))
        var readOnly = Self.options(fs)
        readOnly.readOnly = true
        Self.expectCorruption(fs, file: file, "closed cleanly", options: readOnly)
        // Point in time keeps the prefix, says why it stopped and leaves its `.corrupt` file.
        let cut = try Engine.open(at: "/db", options: Self.options(fs, mode: .pointInTime))
        let report = cut.recoveryReport
        #expect(report.walCorruption?.contains("closed cleanly") == true, "\(String(describing: report.walCorruption))")
        let t3 = try cut.table(named: "t")
        #expect(try (0..<80).allSatisfy { try t3.get(Self.key($0)) == Self.value })   // the last page held about 30
        try cut.close()
        let lost = try fs.listDirectory("/db/lost")
        #expect(lost.contains { $0.hasSuffix(".corrupt") }, "\(lost)")
    }

    /// The log rolled during the session and a flush trimmed the segments before the current
    /// one, so the segment the close left is the only one, above the open's `walOpened`;
    /// zeroed after its header it looked like a spare made ahead and was removed, unsaved,
    /// before the open refused the store for another reason (found in review). It is the
    /// close's segment: kept, and the refusal names it.
    @Test func theClosedSegmentZeroedIsKeptAndRefused() throws {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        let t = try engine.createTable("t")
        for i in 0..<2000 { try t.put(Self.key(i), Self.value) }
        try engine.flush()
        try engine.close()
        let names = try Self.walFiles(fs)
        try #require(names.count == 1 && names[0] != "000000000001.wal", "\(names)")
        let newest = "/db/wal/" + names[0]
        let h = try fs.open(newest, mode: .readWrite)
        try h.write(at: 56, [UInt8](repeating: 0, count: try h.size() - 56))
        try h.sync()
        h.close()
        Self.expectCorruption(fs, file: newest, "closed cleanly")
        #expect(fs.fileExists(newest))
    }

    /// The same damage when every write in the log had been flushed before the clean close:
    /// still refused (the log is damaged), but the refusal says that nothing would be lost,
    /// and the point-in-time recovery keeps every write. (An outside check found such refusals
    /// silent about it.) Without the flush the note is absent: those writes are in the log only.
    @Test(arguments: [true, false])
    func aRefusalSaysWhenTheDamagedLogHoldsOnlyFlushedWrites(flushed: Bool) throws {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        let t = try engine.createTable("t")
        for i in 0..<100 { try t.put(Self.key(i), Self.value) }
        try t.delete(Self.key(0))
        if flushed { try engine.flush() }
        try engine.close()
        let newest = try #require(try Self.walFiles(fs).last)
        let frames = try Self.frames(fs, newest)
        let last = try #require(frames.dropLast().last)        // the seal is the last
        let h = try fs.open("/db/wal/" + newest, mode: .readWrite)
        try h.write(at: last, [UInt8](repeating: 0, count: try h.size() - last))
        try h.sync()
        h.close()
        let note = "every write in the log was flushed to runs"
        do {
            try Engine.open(at: "/db", options: Self.options(fs)).close()
            Issue.record("opened a damaged log")
        } catch {
            guard case .corruption(_, _, let reason) = error else { Issue.record("\(error)"); return }
            #expect(reason.contains("closed cleanly") && reason.contains(note) == flushed, "\(reason)")
        }
        guard flushed else { return }
        let cut = try Engine.open(at: "/db", options: Self.options(fs, mode: .pointInTime))
        let t2 = try cut.table(named: "t")
        #expect(try t2.get(Self.key(0)) == nil)
        #expect(try (1..<100).allSatisfy { try t2.get(Self.key($0)) == Self.value })
        try cut.close()
    }

    /// The manifest names a run by file name and size; small flushes make many files of one
    /// size. A run file replaced by a copy of a same-sized sibling is corruption naming it —
    /// before the footer's name check it opened as that run and served the sibling's values
    /// (found from outside: deleted keys came back, exit 0).
    @Test func aRunReplacedByASameSizedSiblingIsCorruption() throws {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        let t = try engine.createTable("t")
        let newer = [UInt8](repeating: 0x41, count: Self.value.count)
        for i in 0..<100 { try t.put(Self.key(i), Self.value) }
        try engine.flush()
        for i in 0..<100 { try t.put(Self.key(i), newer) }
        try engine.flush()
        try engine.close()
        let runs = try fs.listDirectory("/db/seg").filter { $0.hasSuffix(".seg") }
            .sorted { Int($0.split(separator: "-")[1].dropLast(4))! < Int($1.split(separator: "-")[1].dropLast(4))! }
        try #require(runs.count == 2)
        let (older, newest) = ("/db/seg/" + runs[0], "/db/seg/" + runs[1])
        #expect(try fs.fileSize(older) == (try fs.fileSize(newest)))
        let h = try fs.open(newest, mode: .readWrite)
        try h.write(at: 0, try fs.readFile(older))
        try h.sync()
        h.close()
        Self.expectCorruption(fs, file: newest, "name check")
        var ro = Self.options(fs)
        ro.readOnly = true
        #expect(throws: AugurError.self) { try Engine.open(at: "/db", options: ro) }

        // The same sibling as a file written before footers named their file (its name check
        // 0, the footer's checksum made again): the manifest says files of this number carry
        // one, so it is corruption too. It opened before the manifest said so (an outside
        // re-run: an old file swapped over a new one served the old values).
        let older0 = NameCheckUpgradeTests.withoutNameCheck(try fs.readFile(older))
        let w = try fs.open(newest, mode: .readWrite)
        try w.write(at: 0, older0)
        try w.sync()
        w.close()
        Self.expectCorruption(fs, file: newest, "the footer holds no name check, but the manifest says")
        #expect(throws: AugurError.self) { try Engine.open(at: "/db", options: ro) }
    }

    @Test func missingMiddleSegmentIsCorruption() throws {
        let fs = try Self.store(close: true)
        let names = try Self.walFiles(fs)
        try #require(names.count >= 3)
        try fs.remove("/db/wal/" + names[1])
        Self.expectCorruption(fs, file: "/db/wal/" + names[1], "is missing")
        // Nothing else was touched.
        #expect(try Self.walFiles(fs) == names.filter { $0 != names[1] })
    }

    @Test(arguments: [true, false])
    func missingNewestSegmentIsCorruption(closed: Bool) throws {
        let fs = try Self.store(close: closed)
        let names = try Self.walFiles(fs)
        try fs.remove("/db/wal/" + names.last!)
        // The segment before it is sealed as rolled (it names a successor) and the manifest
        // names the segment this open created.
        Self.expectCorruption(fs, file: "/db/wal/" + names.last!, "missing")
    }

    @Test func missingOnlySegmentIsCorruption() throws {
        let fs = try Self.store(count: 20, close: true)
        let names = try Self.walFiles(fs)
        try #require(names.count == 1)
        try fs.remove("/db/wal/" + names[0])
        Self.expectCorruption(fs, file: "/db/wal/" + names[0], "created when the store was last opened is missing")
    }

    @Test func missingOldestUnflushedSegmentIsCorruption() throws {
        let fs = try Self.store(close: true)
        let names = try Self.walFiles(fs)
        try fs.remove("/db/wal/" + names[0])
        Self.expectCorruption(fs, file: "/db/wal/" + names[1], "are unflushed and in no segment")
    }

    @Test(arguments: [0, 4096, 30_000])
    func truncatedLiveSegmentIsCorruption(size: Int) throws {
        let fs = try Self.store(close: false)
        let newest = try #require(try Self.walFiles(fs).last)
        let h = try fs.open("/db/wal/" + newest, mode: .readWrite)
        try h.truncate(size: size)
        try h.sync()
        h.close()
        Self.expectCorruption(fs, file: "/db/wal/" + newest, size == 0 ? "empty" : "truncated")
    }

    @Test func extendedSegmentIsCorruption() throws {
        let fs = try Self.store(close: true)
        let first = try #require(try Self.walFiles(fs).first)
        let h = try fs.open("/db/wal/" + first, mode: .readWrite)
        try h.write(at: try h.size(), [1, 2, 3, 4, 5, 6, 7, 8])
        try h.sync()
        h.close()
        Self.expectCorruption(fs, file: "/db/wal/" + first, "extended")
    }

    /// An all-zero newest segment that nothing names (a crash between creating the file and
    /// writing its header) held no write: it is removed and the store opens.
    @Test func unfinishedSegmentCreationIsRemoved() throws {
        let fs = try Self.store(count: 200, close: true)
        try Self.expectUnfinishedSegmentRemoved(fs, holding: [])
    }

    /// Adds the segment after the newest, preallocated and holding `bytes` at its start (what a
    /// crash during its creation leaves), opens the store and expects that file removed and
    /// every write of the 200-put store intact.
    static func expectUnfinishedSegmentRemoved(_ fs: any FileSystem, holding bytes: [UInt8]) throws {
        let names = try walFiles(fs)
        let next = String(format: "%012d.wal", Int(names.last!.dropLast(4))! + 1)
        let h = try fs.open("/db/wal/" + next, mode: .create)
        try h.allocate(size: 64 << 10)
        if !bytes.isEmpty { try h.write(at: 0, bytes) }
        try h.sync()
        h.close()
        let engine = try Engine.open(at: "/db", options: options(fs))
        let report = engine.recoveryReport
        try engine.close()
        #expect(report.walUnfinishedSegmentsRemoved == ["wal/" + next])
        #expect(try missing(fs, count: 200).isEmpty)
    }

    /// A crash while a seal was being written (killed before its length word was stored) left
    /// its payload and checksum but no length: that held no write, and the store opens whole —
    /// in a segment that is not the newest (a roll's seal) and in the newest (a close's seal).
    @Test(arguments: [true, false])
    func sealCutShortByACrashIsNotCorruption(older: Bool) throws {
        let fs = try Self.store(close: true)
        let names = try Self.walFiles(fs)
        let name = older ? names[0] : names.last!
        let seal = try #require(try Self.frames(fs, name).last)
        let h = try fs.open("/db/wal/" + name, mode: .readWrite)
        #expect(try h.read(at: seal + 16, count: 4) == [0, 0, 0, 0])       // a marker: no operations
        try h.write(at: seal + 4, [0, 0, 0, 0])
        try h.sync()
        h.close()
        #expect(try Self.missing(fs).isEmpty)
    }

    /// A crash while a new segment's header was being written: the newest file holds header
    /// bytes without their length word and nothing names it. It held no write: removed.
    @Test func segmentCutShortWhileItsHeaderWasWrittenIsRemoved() throws {
        let fs = try Self.store(count: 200, close: true)
        let names = try Self.walFiles(fs)
        let header = try fs.open("/db/wal/" + names.last!, mode: .readOnly)
        var bytes = try header.read(at: 0, count: 56)
        header.close()
        bytes.replaceSubrange(4..<8, with: [0, 0, 0, 0])
        try Self.expectUnfinishedSegmentRemoved(fs, holding: bytes)
    }

    /// Nothing in lost/ is ever replaced: a copy already there under the name a torn tail's
    /// copy would take (an earlier recovery, interrupted before its zeroing was durable, saved
    /// it) stays as it is, and the new copy takes another name.
    @Test func lostCopiesAreNeverReplaced() throws {
        let fs = try Self.store(close: false)
        let newest = try #require(try Self.walFiles(fs).last)
        let tail = try Self.writeAfterLastFrame(fs, newest, [9, 9, 9, 9, 0x40, 0, 0, 0, 1])
        try fs.createDirectory("/db/lost")
        let earlier = try fs.open("/db/lost/\(newest).\(tail).torn", mode: .createNew)
        try earlier.write(at: 0, [1, 2, 3])
        earlier.close()
        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        let saved = try #require(engine.recoveryReport.walTornTailSavedAs)
        try engine.close()
        #expect(saved == "lost/\(newest).\(tail).torn.1")
        let kept = try fs.open("/db/lost/\(newest).\(tail).torn", mode: .readOnly)
        #expect(try kept.read(at: 0, count: try kept.size()) == [1, 2, 3])
        kept.close()
    }

    // MARK: F1 — a missing CURRENT is not a new store

    @Test func missingCurrentIsRefusedAndRebuiltByHand() throws {
        let fs = try Self.store(count: 300, close: true)
        let before = try fs.listDirectory("/db").sorted()
        let manifest = try #require(before.first { $0.hasPrefix("MANIFEST-") })
        let walBefore = try Self.walFiles(fs)
        try fs.remove("/db/CURRENT")
        Self.expectCorruption(fs, file: "/db/CURRENT", "CURRENT is missing, but the directory holds a store")
        // Nothing was deleted or created by the refused opens.
        #expect(try fs.listDirectory("/db").sorted() == before.filter { $0 != "CURRENT" })
        #expect(try Self.walFiles(fs) == walBefore)
        // The documented repair: CURRENT names the newest manifest.
        let h = try fs.open("/db/CURRENT", mode: .createNew)
        try h.write(at: 0, Array((manifest + "\n").utf8))
        try h.sync()
        h.close()
        #expect(try Self.missing(fs, count: 300).isEmpty)
    }

    /// A creation cut by a power loss before CURRENT was durable leaves a directory that is
    /// still new: it opens as an empty store.
    @Test func interruptedCreationOpensAsNew() throws {
        let fs = CrashSimulatingFileSystem()
        final class Box: @unchecked Sendable { var clone: CrashSimulatingFileSystem? }
        let box = Box()
        var o = Self.options(fs)
        o.crashPoint = { if $0 == .currentRenamed && box.clone == nil { box.clone = fs.crashClone() } }
        let engine = try Engine.open(at: "/db", options: o)
        try engine.close()
        let crashed = try #require(box.clone)
        let reopened = try Engine.open(at: "/db", options: Self.options(crashed))
        #expect(reopened.recoveryReport.createdNewStore)
        try reopened.close()
    }

    // MARK: F3 — a damaged manifest record before intact ones is corruption

    @Test func damagedManifestRecordBeforeIntactOnesIsCorruption() throws {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        for n in 0..<12 { try engine.createTable("t\(n)") }      // one manifest record each
        let t = try engine.table(named: "t3")
        for i in 0..<300 { try t.put(Self.key(i), Self.value) }
        try t.splitPartition(at: Self.key(150))
        try engine.close()
        let manifest = try #require(try fs.listDirectory("/db").first { $0.hasPrefix("MANIFEST-") })
        let segmentsBefore = try fs.listDirectory("/db/seg").sorted()
        try #require(!segmentsBefore.isEmpty)
        // The length word of the third record (records are CRC | length | payload).
        let h = try fs.open("/db/" + manifest, mode: .readOnly)
        let bytes = try h.read(at: 0, count: try h.size())
        h.close()
        var at = 0
        for _ in 0..<2 { at += 8 + (Int(bytes[at + 4]) | Int(bytes[at + 5]) << 8 | Int(bytes[at + 6]) << 16) }
        try Self.flip(fs, "/db/" + manifest, at: at + 6)
        Self.expectCorruption(fs, file: "/db/" + manifest, "an intact record follows")
        #expect(try fs.listDirectory("/db/seg").sorted() == segmentsBefore)
    }

    // MARK: recovery deletes only what it names

    @Test func foreignFilesInStoreDirectoriesAreLeftAlone() throws {
        let fs = try Self.store(count: 50, close: true)
        for path in ["/db/seg/notes.txt", "/db/wal/backup.wal.old", "/db/seg/1-2.seg.bak"] {
            let h = try fs.open(path, mode: .createNew)
            try h.write(at: 0, [1, 2, 3])
            h.close()
        }
        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        let report = engine.recoveryReport
        try engine.close()
        #expect(Set(report.foreignFilesIgnored) == ["seg/notes.txt", "wal/backup.wal.old", "seg/1-2.seg.bak"])
        for path in ["/db/seg/notes.txt", "/db/wal/backup.wal.old", "/db/seg/1-2.seg.bak"] { #expect(fs.fileExists(path)) }
    }
}

/// A file system that refuses every change, as a read-only mount does (EROFS).
final class ReadOnlyMount: FileSystem, @unchecked Sendable {
    let base: any FileSystem
    private(set) var refused: [String] = []
    init(_ base: any FileSystem) { self.base = base }
    private func refuse(_ op: FileOperation, _ path: String) -> FileSystemError {
        refused.append("\(op) \(path)")
        return FileSystemError(op, path, .readOnlyFileSystem)
    }
    func open(_ path: String, mode: OpenMode) throws(FileSystemError) -> any FileHandle {
        guard mode == .readOnly else { throw refuse(.open, path) }
        return try base.open(path, mode: mode)
    }
    func rename(_ from: String, to: String) throws(FileSystemError) { throw refuse(.rename, from) }
    func remove(_ path: String) throws(FileSystemError) { throw refuse(.remove, path) }
    func syncDirectory(_ path: String) throws(FileSystemError) { throw refuse(.syncDirectory, path) }
    func createDirectory(_ path: String) throws(FileSystemError) { throw refuse(.createDirectory, path) }
    func removeDirectory(_ path: String) throws(FileSystemError) { throw refuse(.remove, path) }
    func hardLink(_ existing: String, at link: String) throws(FileSystemError) { throw refuse(.link, link) }
    func listDirectory(_ path: String) throws(FileSystemError) -> [String] { try base.listDirectory(path) }
    func fileExists(_ path: String) -> Bool { base.fileExists(path) }
    func isDirectory(_ path: String) -> Bool { base.isDirectory(path) }
    func fileSize(_ path: String) throws(FileSystemError) -> Int { try base.fileSize(path) }
    func lock(_ path: String) throws(FileSystemError) -> any FileLock { throw refuse(.lock, path) }
    func isLocked(_ path: String) -> Bool { base.isLocked(path) }
}

/// F12: inspecting a store never changes it.
@Suite struct ReadOnlyOpenTests {
    static func snapshot(_ dir: String) throws -> [String: [UInt8]] {
        let fs = PosixFileSystem()
        var files: [String: [UInt8]] = [:]
        func walk(_ rel: String) throws {
            let full = rel.isEmpty ? dir : dir + "/" + rel
            for name in try fs.listDirectory(full) {
                let path = rel.isEmpty ? name : rel + "/" + name
                if fs.isDirectory(dir + "/" + path) { files[path + "/"] = []; try walk(path) } else { files[path] = try fs.readFile(dir + "/" + path) }
            }
        }
        try walk("")
        return files
    }

    @Test func readOnlyOpenReadsEverythingAndWritesNothing() throws {
        let tmp = TemporaryDirectory()
        let dir = tmp.child("db")
        var o = EngineOptions()
        o.walSegmentSize = 64 << 10
        let writer = try Engine.open(at: dir, options: o)
        let t = try writer.createTable("t")
        for i in 0..<1500 { try t.put(CorruptionRecoveryTests.key(i), CorruptionRecoveryTests.value) }
        try t.splitPartition(at: CorruptionRecoveryTests.key(700))
        for i in 0..<300 { try t.put(CorruptionRecoveryTests.key(i), [7]) }
        try writer.close()
        try PosixFileSystem().remove(dir + "/LOCK")
        let before = try Self.snapshot(dir)

        var ro = o
        ro.readOnly = true
        ro.fileSystem = ReadOnlyMount(PosixFileSystem())
        for _ in 0..<2 {
            let reader = try Engine.open(at: dir, options: ro)
            let r = try reader.table(named: "t")
            for i in 0..<1500 { #expect(try r.get(CorruptionRecoveryTests.key(i)) == (i < 300 ? [7] : CorruptionRecoveryTests.value)) }
            #expect(try r.partitionStats().count == 2)
            let walFiles = try PosixFileSystem().listDirectory(dir + "/wal").compactMap { UInt64($0.dropLast(4)) }.sorted()
            #expect(reader.walSegments == walFiles)
            #expect(throws: AugurError.self) { try r.put("x", "y") }
            #expect(throws: AugurError.self) { try reader.createTable("u") }
            #expect(throws: AugurError.self) { try reader.flush() }
            #expect(throws: AugurError.self) { try r.splitPartition(at: CorruptionRecoveryTests.key(100)) }
            try reader.close()
        }
        #expect(try Self.snapshot(dir) == before)
        let mount = try #require(ro.fileSystem as? ReadOnlyMount)
        #expect(mount.refused.isEmpty, "recovery tried to change the store: \(mount.refused.prefix(3))")
    }

    /// A reader beside a live writer: no LOCK conflict, and it sees what the writer synced.
    @Test func readOnlyOpenBesideALiveWriter() throws {
        let tmp = TemporaryDirectory()
        let dir = tmp.child("db")
        let writer = try Engine.open(at: dir, options: EngineOptions())
        let t = try writer.createTable("t")
        for i in 0..<200 { try t.put(CorruptionRecoveryTests.key(i), CorruptionRecoveryTests.value) }
        var ro = EngineOptions()
        ro.readOnly = true
        let reader = try Engine.open(at: dir, options: ro)
        let r = try reader.table(named: "t")
        for i in 0..<200 { #expect(try r.get(CorruptionRecoveryTests.key(i)) == CorruptionRecoveryTests.value) }
        try reader.close()
        try t.put("after", "reader")                 // the writer is unaffected
        try writer.close()
    }

    /// A reader takes no LOCK, so a writer in another process may unlink a run between the
    /// reader's manifest read and its open of the run. While the LOCK is held such a failure is
    /// read again from CURRENT; with nobody holding it, it is reported at once. (Before, the
    /// first was reported as it was: `augur get` beside a live writer said "corruption".)
    @Test func readOnlyOpenRereadsWhatALiveWritersChangesLookLike() throws {
        let fs = CrashSimulatingFileSystem()
        var o = EngineOptions()
        o.fileSystem = fs
        o.walSegmentSize = 64 << 10
        let writer = try Engine.open(at: "/db", options: o)
        let t = try writer.createTable("t")
        for i in 0..<500 { try t.put(CorruptionRecoveryTests.key(i), CorruptionRecoveryTests.value) }
        try writer.flush()
        for i in 500..<600 { try t.put(CorruptionRecoveryTests.key(i), CorruptionRecoveryTests.value) }

        // A run vanishes at the reader's first open of it, as an unlink by a merge would.
        func reader(_ rule: FaultRule) -> (EngineOptions, FaultInjectingFileSystem) {
            let faulty = FaultInjectingFileSystem(wrapping: fs)
            faulty.add(rule)
            var ro = EngineOptions()
            ro.readOnly = true
            ro.fileSystem = faulty
            return (ro, faulty)
        }
        let once = FaultRule(.open, path: "*/seg/*.seg", nth: 1, errno: .noSuchFileOrDirectory)
        let (ro, faulty) = reader(once)
        let engine = try Engine.open(at: "/db", options: ro)
        #expect(engine.recoveryReport.readOnlyAttempts == 2)
        #expect(faulty.injectedFaults.count == 1)
        let r = try engine.table(named: "t")
        for i in 0..<600 { #expect(try r.get(CorruptionRecoveryTests.key(i)) == CorruptionRecoveryTests.value) }
        try engine.close()

        // A failure that stays is reported after the attempts, as the error it was.
        let (roStuck, stuck) = reader(FaultRule(.open, path: "*/seg/*.seg", nth: 1, errno: .noSuchFileOrDirectory, persistent: true))
        #expect(throws: AugurError.self) { try Engine.open(at: "/db", options: roStuck) }
        #expect(stuck.injectedFaults.count == Engine.readOnlyOpenAttempts)

        // A run really missing under a live writer: corruption, saying a writer had the store.
        let run = try #require(fs.listDirectory("/db/seg").first { $0.hasSuffix(".seg") })
        try fs.rename("/db/seg/" + run, to: "/db/" + run + ".away")
        var ro2 = EngineOptions()
        ro2.readOnly = true
        ro2.fileSystem = fs
        let missing = #expect(throws: AugurError.self) { try Engine.open(at: "/db", options: ro2) }
        if case .corruption(_, _, let reason)? = missing {
            #expect(reason.contains("missing") && reason.contains("read it \(Engine.readOnlyOpenAttempts) times"), "\(reason)")
        } else {
            Issue.record("not a corruption: \(String(describing: missing))")
        }
        try fs.rename("/db/" + run + ".away", to: "/db/seg/" + run)
        try writer.close()

        // Nobody holds the LOCK: the first failure is the answer.
        let (roClosed, closed) = reader(once)
        #expect(throws: AugurError.self) { try Engine.open(at: "/db", options: roClosed) }
        #expect(closed.injectedFaults.count == 1)
        let engine2 = try Engine.open(at: "/db", options: roClosed)
        #expect(engine2.recoveryReport.readOnlyAttempts == 1)
        try engine2.close()
    }

    /// Read-only opens beside a writer that flushes, merges and trims its log all the time
    /// (four partitions of 5,000 keys, at most two runs each, a flush every 100 puts), in this
    /// process as `augur get` would beside another: every open succeeds and holds the newest
    /// write acknowledged before it began. (With one read per open, 6 and 46 of 150 opens
    /// failed in two runs, "segment referenced by the manifest is missing"; with the runs
    /// pinned before validation but one read, 32 and 32. With ten reads and no pinning, one
    /// open of a full-suite run failed all ten.)
    @Test func readOnlyOpensBesideABusyWriterAllSucceed() throws {
        let tmp = TemporaryDirectory()
        let dir = tmp.child("db")
        var o = EngineOptions()
        o.walSegmentSize = 64 << 10
        o.maxRunsPerPartition = 2
        let writer = try Engine.open(at: dir, options: o)
        let t = try writer.createTable("t")
        let keys = 20_000
        @Sendable func key(_ i: Int) -> [UInt8] { Array("key\(100_000 + i % keys)".utf8) }
        for i in 0..<keys { try t.put(key(i &* 7_919), Array("v\(i)".utf8) + CorruptionRecoveryTests.value) }
        for at in [5_000, 10_000, 15_000] { try t.splitPartition(at: key(at)) }
        try writer.flush()
        let acknowledged = Atomic<Int>(keys)
        let stop = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
        // A thread of its own: the shared queues may be busy with other tests for seconds.
        Thread {
            var i = keys
            while !stop.load(ordering: .relaxed) {
                // Spread over the partitions: each flush merges into their runs and unlinks some.
                guard (try? t.put(key(i &* 7_919), Array("v\(i)".utf8) + CorruptionRecoveryTests.value)) != nil else { break }
                i += 1
                acknowledged.store(i, ordering: .releasing)
                if i % 100 == 0 { guard (try? writer.flush()) != nil else { break } }
            }
            done.signal()
        }.start()
        // The opens begin once the writer has (the load above is not what they are for).
        while acknowledged.load(ordering: .acquiring) < keys + 100 { ThreadPause.sleep(nanoseconds: 1_000_000) }
        var ro = EngineOptions()
        ro.readOnly = true
        var opens = 0, retried = 0
        let deadline = ContinuousClock.now + .seconds(5)
        while opens < 150 && ContinuousClock.now < deadline {
            let before = acknowledged.load(ordering: .acquiring)
            do {
                let reader = try Engine.open(at: dir, options: ro)
                if reader.recoveryReport.readOnlyAttempts > 1 { retried += 1 }
                let r = try reader.table(named: "t")
                // The newest write acknowledged before the open, or a newer one of that key.
                let k = before - 1
                let got = try r.get(key(k &* 7_919)).flatMap { v in
                    Int(String(decoding: v.dropFirst().prefix { $0 != 0x5C }, as: UTF8.self))
                }
                #expect(got.map { $0 >= k } == true, "open \(opens): write \(k) not seen (\(String(describing: got)))")
                try reader.close()
            } catch {
                Issue.record("read-only open \(opens) failed beside a live writer: \(error)")
            }
            opens += 1
        }
        stop.store(true, ordering: .relaxed)
        done.wait()
        try writer.close()
        let writes = acknowledged.load(ordering: .relaxed) - keys
        print("read-only opens beside a writer: \(opens), \(retried) read the store more than once; \(writes) writes")
        #expect(opens >= 20 && writes > 1_000, "\(opens) opens, \(writes) writes")
    }

    @Test func readOnlyOpenOfNothingIsRefused() throws {
        let tmp = TemporaryDirectory()
        var ro = EngineOptions()
        ro.readOnly = true
        #expect(throws: AugurError.self) { try Engine.open(at: tmp.child("missing"), options: ro) }
        try PosixFileSystem().createDirectory(tmp.child("empty"))
        #expect(throws: AugurError.self) { try Engine.open(at: tmp.child("empty"), options: ro) }
        #expect(try PosixFileSystem().listDirectory(tmp.child("empty")).isEmpty)   // no LOCK created
    }
}
