#if canImport(Glibc)
import Glibc
#endif
import Testing
import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport

/// Every kind of bad input gets a typed error naming the value and the limit, and leaves the
/// store intact.
@Suite struct BadInputTests {
    func open(_ dir: TemporaryDirectory, _ configure: (inout EngineOptions) -> Void = { _ in }) throws -> Engine {
        var o = EngineOptions()
        o.durability = .none
        configure(&o)
        return try Engine.open(at: dir.child("db"), options: o)
    }

    @Test func oversizedAndEmptyKeysAndValues() throws {
        let dir = TemporaryDirectory()
        let engine = try open(dir) { $0.maxKeySize = 16; $0.maxValueSize = 64 }
        let t = try engine.createTable("t")
        #expect(throws: AugurError.keyTooLarge(size: 17, limit: 16)) { try t.put([UInt8](repeating: 1, count: 17), []) }
        #expect(throws: AugurError.valueTooLarge(size: 65, limit: 64)) { try t.put([1], [UInt8](repeating: 0, count: 65)) }
        #expect(throws: AugurError.emptyKey) { try t.put([], [1]) }
        #expect(throws: AugurError.emptyKey) { try t.get([]) }
        #expect(throws: AugurError.keyTooLarge(size: 17, limit: 16)) { try t.get([UInt8](repeating: 1, count: 17)) }
        var batch = WriteBatch()
        batch.put([1], [1], in: t)
        batch.put([UInt8](repeating: 2, count: 20), [1], in: t)
        #expect(throws: AugurError.keyTooLarge(size: 20, limit: 16)) { try engine.write(batch) }
        #expect(try t.get([1]) == nil, "a rejected batch must apply nothing")
        #expect(AugurError.keyTooLarge(size: 17, limit: 16).description.contains("17 bytes exceeds the limit of 16"))
        try engine.close()
    }

    @Test func batchLargerThanAWALSegment() throws {
        let dir = TemporaryDirectory()
        let engine = try open(dir) { $0.walSegmentSize = 64 << 10; $0.maxValueSize = 1 << 20 }
        let t = try engine.createTable("t")
        #expect {
            try t.put([1], [UInt8](repeating: 0, count: 100 << 10))
        } throws: { error in
            guard case .batchTooLarge(let size, let limit) = error as? AugurError else { return false }
            return size > limit
        }
        try t.put([1], [2])
        #expect(try t.get([1]) == [2])
        try engine.close()
    }

    @Test func unknownDuplicateAndInvalidTables() throws {
        let dir = TemporaryDirectory()
        let engine = try open(dir)
        try engine.createTable("t")
        #expect(throws: AugurError.tableAlreadyExists("t")) { try engine.createTable("t") }
        #expect(throws: AugurError.tableNotFound("nope")) { try engine.table(named: "nope") }
        #expect(throws: AugurError.tableNotFound("nope")) { try engine.dropTable("nope") }
        #expect(throws: AugurError.invalidTableName("", reason: "must not be empty")) { try engine.createTable("") }
        let long = String(repeating: "x", count: 256)
        #expect(throws: AugurError.invalidTableName(long, reason: "256 bytes exceeds the limit of 255")) { try engine.createTable(long) }
        #expect(try engine.tableNames() == ["t"])
        try engine.close()
    }

    @Test func useAfterClose() throws {
        let dir = TemporaryDirectory()
        let engine = try open(dir)
        let t = try engine.createTable("t")
        try engine.close()
        #expect(throws: AugurError.engineClosed) { try t.put("a", "b") }
        #expect(throws: AugurError.engineClosed) { try t.get("a") }
        #expect(throws: AugurError.engineClosed) { try engine.table(named: "t") }
        #expect(throws: AugurError.engineClosed) { try engine.createTable("u") }
        try engine.close()   // idempotent
    }

    @Test func directoryAlreadyOpen() throws {
        let dir = TemporaryDirectory()
        let engine = try open(dir)
        #expect(throws: AugurError.alreadyOpen(path: dir.child("db"))) { try open(dir) }
        try engine.close()
        let again = try open(dir)   // the lock is released on close
        try again.close()
    }

    @Test func directoryAlreadyOpenInAnotherProcess() throws {
        let dir = TemporaryDirectory()
        let path = dir.child("db")
        let engine = try open(dir)
        try engine.close()
        // A child process holds the flock on LOCK while we try to open.
        let child = try ChildProcess(executable: "/usr/bin/flock", arguments: ["--exclusive", joinPath(path, "LOCK"), "/bin/sleep", "5"])
        defer { _ = child.kill() }
        var sawLocked = false
        for _ in 0..<100 {
            do {
                let e = try open(dir)
                try e.close()
                usleep(20_000)
            } catch {
                #expect(error as? AugurError == .alreadyOpen(path: path))
                sawLocked = true
                break
            }
        }
        #expect(sawLocked, "another process held the lock but open succeeded")
    }

    @Test func notAnAugurStore() throws {
        let dir = TemporaryDirectory()
        let fs = PosixFileSystem()
        let path = dir.child("photos")
        try fs.createDirectory(path)
        let h = try fs.open(joinPath(path, "holiday.jpg"), mode: .create)
        try h.write(at: 0, [1, 2, 3])
        h.close()
        #expect {
            try Engine.open(at: path)
        } throws: { error in
            guard case .notAnAugurStore(let p, let reason) = error as? AugurError else { return false }
            return p == path && reason.contains("holiday.jpg")
        }
        let file = joinPath(path, "holiday.jpg")
        #expect(throws: AugurError.notAnAugurStore(path: file, reason: "it is a file, not a directory")) { try Engine.open(at: file) }
        var o = EngineOptions()
        o.createIfMissing = false
        #expect(throws: AugurError.notAnAugurStore(path: dir.child("missing"), reason: "the directory does not exist")) {
            try Engine.open(at: dir.child("missing"), options: o)
        }
        #expect(try fs.listDirectory(path) == ["holiday.jpg"], "a failed open must not write into a foreign directory")
    }

    @Test func corruptSegmentIsReportedWithFileAndOffset() throws {
        let dir = TemporaryDirectory()
        let engine = try open(dir)
        let t = try engine.createTable("t")
        for i in 0..<100 { try t.put(Array("key\(i)".utf8), Array("value\(i)".utf8)) }
        try engine.flush()
        try engine.close()
        let fs = PosixFileSystem()
        let segDir = dir.child("db/seg")
        let name = try #require(try fs.listDirectory(segDir).first)
        let h = try fs.open(joinPath(segDir, name), mode: .readWrite)
        let flipAt = 32 + 7 + 2           // inside the first record's key (a 7-byte header: one-byte lengths)
        var byte = try h.read(at: flipAt, count: 1)
        byte[0] ^= 0x40
        try h.write(at: flipAt, byte)
        h.close()
        #expect(throws: AugurError.corruption(file: joinPath(segDir, name), offset: 32, reason: "record checksum mismatch")) {
            try open(dir)
        }
    }

    @Test func corruptManifestIsReported() throws {
        let dir = TemporaryDirectory()
        let engine = try open(dir) { $0.manifestRotationSize = 1 << 20 }
        try engine.createTable("t")
        try engine.createTable("u")
        try engine.close()
        let fs = PosixFileSystem()
        let name = try #require(try fs.listDirectory(dir.child("db")).first { $0.hasPrefix("MANIFEST-") })
        let h = try fs.open(dir.child("db/" + name), mode: .readWrite)
        var byte = try h.read(at: 12, count: 1)   // inside the first record
        byte[0] ^= 0xFF
        try h.write(at: 12, byte)
        h.close()
        #expect {
            try open(dir)
        } throws: { error in
            guard case .corruption(let file, let offset, _) = error as? AugurError else { return false }
            return file.hasSuffix(name) && offset == 0
        }
        // CURRENT naming garbage is corruption too, not a crash.
        let c = try fs.open(dir.child("db/CURRENT"), mode: .readWrite)
        try c.truncate(size: 0)
        try c.write(at: 0, Array("nonsense\n".utf8))
        c.close()
        #expect(throws: AugurError.corruption(file: dir.child("db/CURRENT"), offset: 0, reason: "CURRENT does not name a manifest")) {
            try open(dir)
        }
    }

    @Test func invalidOptionsAndArguments() throws {
        var o = EngineOptions()
        o.walSegmentSize = 10
        #expect(throws: AugurError.invalidOption(name: "walSegmentSize", value: "10", reason: "must be at least 65536")) {
            try Engine.open(at: "/nonexistent-augur", options: o)
        }
        let dir = TemporaryDirectory()
        let engine = try open(dir)
        let t = try engine.createTable("t")
        #expect(throws: AugurError.invalidOption(name: "limit", value: "-1", reason: "must not be negative")) { try t.scan(limit: -1) }
        try t.put("m", "1")
        try t.splitPartition(at: Array("m".utf8))
        #expect(throws: AugurError.invalidSplitKey(key: Array("m".utf8), reason: "it is already the lower bound of partition 3")) {
            try t.splitPartition(at: Array("m".utf8))
        }
        #expect(throws: AugurError.emptyKey) { try t.splitPartition(at: []) }
        try engine.close()
    }

    @Test func diskFullIsTypedAndLosesNothing() throws {
        let base = CrashSimulatingFileSystem()
        let faulty = FaultInjectingFileSystem(wrapping: base)
        var o = EngineOptions()
        o.fileSystem = faulty
        o.durability = .sync
        let engine = try Engine.open(at: "/db", options: o)
        let t = try engine.createTable("t")
        try t.put("kept", "yes")
        faulty.add(FaultRule(.write, path: "*.seg", errno: .noSpace, persistent: true))
        #expect {
            try engine.flush()
        } throws: { error in
            guard case .diskFull(let path) = error as? AugurError else { return false }
            return path.hasPrefix("/db/seg/") && path.hasSuffix(".seg")
        }
        #expect(try t.get("kept") == "yes")
        faulty.clearRules()
        try engine.flush()
        try engine.close()
        let reopened = try Engine.open(at: "/db", options: o)
        #expect(try reopened.table(named: "t").get("kept") == "yes")
        #expect(reopened.recoveryReport.filesRemoved.isEmpty)
        try reopened.close()
    }
}
