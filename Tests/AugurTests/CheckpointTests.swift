import Testing
import Foundation
import Synchronization
@_spi(Testing) @testable import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport
import AugurStats
import AugurPlanner

/// Backup and restore (issue 18): a checkpoint taken under concurrent writers restores every
/// write acknowledged before it began, none begun after it returned, and every batch whole; a
/// crash at any step leaves the source as it was and the target absent or complete; a damaged
/// backup is refused with an error naming the file.
@Suite struct CheckpointTests {
    static func options(_ fs: any FileSystem, durability: Durability = .periodic(.milliseconds(5))) -> EngineOptions {
        var o = EngineOptions()
        o.fileSystem = fs
        o.durability = durability
        o.walSegmentSize = 256 << 10          // several WAL segments, sealed and current
        o.memtableFlushSize = 128 << 10       // flushes during the run: runs and WAL both hold data
        o.telemetry.enabled = false
        return o
    }

    static func key(_ side: String, _ thread: Int, _ n: Int) -> [UInt8] { Array("\(side)-\(thread)-\(n)".utf8) }
    static func value(_ thread: Int, _ n: Int) -> [UInt8] { Array("v\(thread)-\(n)-".utf8) + [UInt8](repeating: 0x42, count: 200) }

    /// Writers put two-key batches that span partitions (a… and z… keys) while a checkpoint is
    /// taken; the restored copy must hold every batch acknowledged before the call, none started
    /// after it returned, and each batch whole. Durability `none`: nothing but the checkpoint
    /// itself syncs the current WAL segment, so a cut that copied only what was already synced
    /// would lose acknowledged batches (tried: it fails).
    @Test func checkpointUnderConcurrentWritersRestoresExactlyTheAcknowledgedWrites() throws {
        let seed = testSeed(0xC4EC)
        let dir = TemporaryDirectory()
        let fs = PosixFileSystem()
        let engine = try Engine.open(at: dir.child("db"), options: Self.options(fs, durability: .none))
        let t = try engine.createTable("t")
        try t.splitPartition(at: Array("m".utf8))
        let writers = 2
        // Per writer: the last batch begun and the last acknowledged.
        let started = Mutex([Int](repeating: 0, count: writers))
        let done = Mutex([Int](repeating: 0, count: writers))
        let stop = Atomic<Bool>(false)
        let failures = Mutex<[String]>([])
        let observed = Mutex<(acknowledgedBefore: [Int], startedAfter: [Int], summary: CheckpointSummary?)>(([], [], nil))
        runOnThreads(writers + 1) { thread in
            if thread < writers {
                var n = 0
                while !stop.load(ordering: .acquiring) {
                    n += 1
                    started.withLock { $0[thread] = n }
                    var batch = WriteBatch()
                    batch.put(Self.key("a", thread, n), Self.value(thread, n), in: t)
                    batch.put(Self.key("z", thread, n), Self.value(thread, n), in: t)
                    do { try engine.write(batch) } catch { failures.withLock { $0.append("write: \(error)") }; return }
                    done.withLock { $0[thread] = n }
                }
                return
            }
            // Let the writers fill a few memtables and WAL segments first.
            var rng = SplitMix64(seed: seed)
            let warmUp = 2000 + Int(rng.next() % 1000)
            while done.withLock({ $0.min()! }) < warmUp { Thread.sleep(forTimeInterval: 0.001) }
            do { try engine.flush() } catch { failures.withLock { $0.append("flush: \(error)") } }   // runs for the copy, surely
            let before = done.withLock { $0 }
            var summary: CheckpointSummary? = nil
            do { summary = try engine.checkpoint(to: dir.child("backup")) } catch { failures.withLock { $0.append("checkpoint: \(error)") } }
            let after = started.withLock { $0 }
            observed.withLock { $0 = (before, after, summary) }
            // Writes go on after the checkpoint: none of them may show up in it.
            while done.withLock({ $0.min()! }) < after.max()! + 500 && failures.withLock({ $0.isEmpty }) {
                Thread.sleep(forTimeInterval: 0.001)
            }
            stop.store(true, ordering: .releasing)
        }
        try engine.close()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let (acknowledgedBefore, startedAfter, summary) = observed.withLock { $0 }
        let s = try #require(summary)
        #expect(s.walSegments >= 2 && s.segmentFiles >= 1, "the checkpoint should cut several WAL segments and copy runs: \(s)")
        #expect(try Backup.verify(at: dir.child("backup")) == s.sequence)

        let restored = try Backup.restore(from: dir.child("backup"), to: dir.child("restored"), layout: .asBackedUp,
                                          options: Self.options(fs))
        #expect(restored.sequence == s.sequence)
        let copy = try Engine.open(at: dir.child("restored"), options: Self.options(fs))
        defer { try? copy.close() }
        let rt = try copy.table(named: "t")
        #expect(try rt.partitionStats().count == 2)
        for thread in 0..<writers {
            for n in 1...(startedAfter[thread] + 50) {
                let a = try rt.get(Self.key("a", thread, n)), z = try rt.get(Self.key("z", thread, n))
                if n <= acknowledgedBefore[thread] {
                    #expect(a == Self.value(thread, n) && z == Self.value(thread, n), "acknowledged batch \(thread)/\(n) missing")
                } else if n > startedAfter[thread] {
                    #expect(a == nil && z == nil, "batch \(thread)/\(n) began after the checkpoint returned, yet it is in it")
                } else {
                    #expect((a == nil) == (z == nil), "batch \(thread)/\(n) is torn in the checkpoint")
                }
            }
        }
    }

    /// `linkingFiles`: the checkpoint's segment files are the source's inodes (no copy), the
    /// catalog still checks them, a restore from it copies them, and a later merge in the source
    /// that unlinks a file leaves the backup whole.
    @Test func aLinkingCheckpointSharesTheSegmentFilesAndStaysWhole() throws {
        let dir = TemporaryDirectory()
        let fs = PosixFileSystem()
        let engine = try Engine.open(at: dir.child("db"), options: Self.options(fs))
        let t = try engine.createTable("t")
        for i in 0..<4000 { try t.put(Self.key("k", 0, i), Self.value(0, i)) }
        try engine.flush()
        let s = try engine.checkpoint(to: dir.child("bk"), linkingFiles: true)
        #expect(s.segmentFiles >= 1 && s.linkedFiles == s.segmentFiles, "\(s)")
        for name in try fs.listDirectory(dir.child("bk/seg")) {
            let a = try FileManager.default.attributesOfItem(atPath: dir.child("bk/seg/" + name))[.systemFileNumber] as? UInt64
            let b = try? FileManager.default.attributesOfItem(atPath: dir.child("db/seg/" + name))[.systemFileNumber] as? UInt64
            #expect(a != nil && a == b, "\(name) is a copy, not a link")
        }
        // The source rewrites and drops its files; the backup's names keep theirs.
        for i in 0..<4000 { try t.put(Self.key("k", 0, i), Self.value(1, i)) }
        try engine.flush()
        engine.drainBackgroundWork()
        try engine.close()
        #expect(try Backup.verify(at: dir.child("bk")) == s.sequence)
        _ = try Backup.restore(from: dir.child("bk"), to: dir.child("r"), layout: .asBackedUp, options: Self.options(fs))
        let copy = try Engine.open(at: dir.child("r"), options: Self.options(fs))
        defer { try? copy.close() }
        let rt = try copy.table(named: "t")
        #expect(try (0..<4000).allSatisfy { try rt.get(Self.key("k", 0, $0)) == Self.value(0, $0) })
    }

    @Test func badTargetsAreRefusedWithTheirPath() throws {
        let dir = TemporaryDirectory()
        let engine = try Engine.open(at: dir.child("db"), options: Self.options(PosixFileSystem()))
        defer { try? engine.close() }
        _ = try engine.createTable("t")
        // Inside the store it copies, however spelled (an outside check found it accepted).
        for (target, words) in [(dir.child("db"), "already exists"), (dir.child("no/such/parent"), "parent directory"), ("", "not a path"),
                                (dir.child("db/inside"), "inside"), (dir.child("db/seg/../bk"), "inside")] {
            #expect {
                _ = try engine.checkpoint(to: target)
            } throws: { error in
                guard case AugurError.invalidOption(_, let value, let reason) = error else { return false }
                return value == target && reason.contains(words)
            }
        }
        #expect(!PosixFileSystem().fileExists(dir.child("no/such/parent") + BackupDirectoryWriter.partialSuffix))
        #expect {
            _ = try Backup.restore(from: dir.child("db"), to: dir.child("x"))
        } throws: { error in
            guard case AugurError.notAnAugurStore(_, let reason) = error else { return false }
            return reason.contains("catalog")
        }
        #expect(throws: AugurError.self) { _ = try Backup.restore(from: dir.child("db"), to: dir.child("x"), layout: .partitions(0)) }
        let backup = try engine.checkpoint(to: dir.child("bk"))
        #expect {
            _ = try Backup.restore(from: backup.path, to: dir.child("bk/inner"))
        } throws: { error in
            guard case AugurError.invalidOption(_, _, let reason) = error else { return false }
            return reason.contains("inside")
        }
        #expect(!PosixFileSystem().fileExists(dir.child("x")))
    }

    /// A full disk or a failing sync while the copy is written: the checkpoint throws, leaves
    /// nothing at the target (the partial directory is removed), and the store goes on serving;
    /// the next checkpoint to the same path succeeds.
    @Test func aFailedCopyLeavesNothingAndTheStoreServes() throws {
        let faults = FaultInjectingFileSystem(wrapping: CrashSimulatingFileSystem())
        let engine = try Engine.open(at: "/db", options: Self.options(faults))
        defer { try? engine.close() }
        let t = try engine.createTable("t")
        for i in 0..<2000 { try t.put(Self.key("k", 0, i), Self.value(0, i)) }
        for rule in [FaultRule(.write, path: "/bk.augur-partial/*", nth: 3, errno: .noSpace),
                     FaultRule(.sync, path: "/bk.augur-partial/wal/*", errno: .ioError),
                     FaultRule(.rename, path: "/bk.augur-partial", errno: .ioError)] {
            faults.add(rule)
            #expect(throws: AugurError.self, "\(rule)") { _ = try engine.checkpoint(to: "/bk") }
            faults.clearRules()
            #expect(!faults.fileExists("/bk") && !faults.fileExists("/bk" + BackupDirectoryWriter.partialSuffix), "\(rule)")
            try t.put(Self.key("after", 0, 0), Self.value(0, 0))
        }
        let s = try engine.checkpoint(to: "/bk")
        #expect(try Backup.verify(at: "/bk", fileSystem: faults) == s.sequence)
    }

    /// A catalog crafted with a valid checksum cannot name files outside the backup, list one
    /// twice, or leave out CURRENT.
    @Test func aCraftedCatalogCannotReachOutsideTheBackup() {
        func catalog(_ lines: [String]) -> [UInt8] {
            let body = Array((["augur-backup 1", "sequence 7"] + lines).map { $0 + "\n" }.joined().utf8)
            return body + Array("crc32c \(CRC32C.hex(CRC32C.checksum(body)))\n".utf8)
        }
        let current = "file 00000000 16 CURRENT"
        let good = BackupCatalog.decode(catalog([current, "file 00000001 4 seg/1-2.seg"]))
        #expect((try? good.get())?.files.count == 2)
        for bad in [[current, "file 00000001 4 seg/../../etc/passwd"], [current, "file 00000001 4 /etc/passwd"],
                    [current, "file 00000001 4 seg/.."], [current, "file 00000001 4 wal/"], [current, current],
                    ["file 00000001 4 seg/1-2.seg"], [current, "file 0001 4 seg/1-2.seg"], [current, "file 00000001 -4 seg/1-2.seg"]] {
            if case .success(let c) = BackupCatalog.decode(catalog(bad)) { Issue.record("accepted \(bad): \(c)") }
        }
        var tampered = catalog([current])
        tampered[tampered.count - 3] ^= 1
        if case .success = BackupCatalog.decode(tampered) { Issue.record("a wrong checksum was accepted") }
    }

    /// A flipped byte in any file of a backup, a missing file or a cut one: refused, naming it,
    /// and nothing is left at the target.
    @Test func damagedBackupsAreRefusedNamingTheFile() throws {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        let t = try engine.createTable("t")
        for i in 0..<3000 { try t.put(Self.key("k", 0, i), Self.value(0, i)) }
        try engine.flush()                                   // runs in seg/ …
        for i in 3000..<3100 { try t.put(Self.key("k", 0, i), Self.value(0, i)) }   // … and records in the WAL
        _ = try engine.checkpoint(to: "/bk")
        try engine.close()
        let catalog = try Backup.readCatalog("/bk", fileSystem: fs)
        let paths = catalog.files.map(\.path) + [BackupCatalog.fileName]
        #expect(paths.contains { $0.hasPrefix("seg/") } && paths.contains { $0.hasPrefix("wal/") })
        var rng = SplitMix64(seed: testSeed(0xF11B))
        for path in paths {
            for damage in ["flip", "remove", "truncate"] {
                let copy = fs.crashClone()
                let file = "/bk/" + path
                let size = try copy.fileSize(file)
                switch damage {
                case "flip":
                    let h = try copy.open(file, mode: .readWrite)
                    let at = Int(rng.next() % UInt64(size))
                    let byte = try h.read(at: at, count: 1)
                    try h.write(at: at, [byte[0] ^ UInt8(1 << (rng.next() % 8))])
                    try h.sync()
                    h.close()
                case "remove": try copy.remove(file)
                default:
                    let h = try copy.open(file, mode: .readWrite)
                    try h.truncate(size: size / 2)
                    try h.sync()
                    h.close()
                }
                var o = Self.options(copy)
                o.createIfMissing = false
                #expect(throws: AugurError.self, "\(damage) of \(path) was not noticed") { _ = try Backup.verify(at: "/bk", fileSystem: copy) }
                do {
                    _ = try Backup.restore(from: "/bk", to: "/restored", options: o)
                    Issue.record("\(damage) of \(path): restored anyway")
                } catch {
                    switch error {
                    case .corruption(let f, _, _): #expect(f == file || path == BackupCatalog.fileName, "\(damage) of \(path) blamed \(f)")
                    case .notAnAugurStore: #expect(path == BackupCatalog.fileName && damage == "remove")
                    default: Issue.record("\(damage) of \(path): \(error)")
                    }
                }
                #expect(!copy.fileExists("/restored") && !copy.fileExists("/restored" + BackupDirectoryWriter.partialSuffix))
            }
        }
    }

    /// The restored layout follows the backed-up load history: a range whose busiest minute
    /// measured 1.1 s of work per second gets ⌈1.1 / (0.5 × 0.6)⌉ = 4 partitions, its cold
    /// neighbour shares one; an override of 2 is applied and logged beside the recommendation.
    @Test func restoreLaysTablesOutFromTheBackedUpLoadHistory() throws {
        let fs = CrashSimulatingFileSystem()
        let o = Self.options(fs)
        let engine = try Engine.open(at: "/db", options: o)
        let t = try engine.createTable("t")
        func key(_ i: Int) -> [UInt8] { Array("k\(String(repeating: "0", count: 5 - String(i).count))\(i)".utf8) }
        for i in 0..<4000 { try t.put(key(i), Self.value(0, i)) }
        let middle = key(2000)
        var hot = RangeLoadHistory(range: KeyRange(lower: [], upper: middle))
        hot.minutes = (0..<30).map { LoadSample(opsPerSecond: 40_000, costPerSecond: $0 == 17 ? 1.1 : 0.3) }
        var cold = RangeLoadHistory(range: KeyRange(lower: middle, upper: nil))
        cold.minutes = (0..<30).map { _ in LoadSample(opsPerSecond: 300, costPerSecond: 0.02) }
        let history = LoadHistoryFile(sampleNanos: 1_000_000_000, stepNanos: 5_000_000_000, histories: ["t": [hot, cold]])
        try fs.replaceFile(at: "/db/" + LoadHistoryFile.name, with: history.encoded(), temporary: "/db/LOADHISTORY.tmp")
        _ = try engine.checkpoint(to: "/bk")
        try engine.close()
        #expect(try Backup.readCatalog("/bk", fileSystem: fs).files.contains { $0.path == LoadHistoryFile.name })

        let auto = try Backup.restore(from: "/bk", to: "/auto", options: o)
        let layout = try #require(auto.tables.first)
        #expect(layout.partitionsBackedUp == 1 && layout.partitionsRecommended == 5 && layout.partitions == 5, "\(layout)")
        #expect((layout.recommendedPeakUtilization ?? 9) <= 0.6 + 1e-9, "\(layout)")
        func opened(_ path: String) throws -> (bounds: [[UInt8]], records: Int, log: String) {
            var reopen = o
            reopen.createIfMissing = false
            let e = try Engine.open(at: path, options: reopen)
            defer { try? e.close() }
            let rt = try e.table(named: "t")
            let log = String(decoding: (try? fs.readFile(path + "/decisions.jsonl")) ?? [], as: UTF8.self)
            return (try rt.partitionStats().map(\.lowerBound), try rt.scan().count, log)
        }
        let a = try opened("/auto")
        #expect(a.records == 4000)
        #expect(a.bounds.dropFirst().prefix(3).allSatisfy { $0.lexicographicallyPrecedes(middle) }, "hot range not cut: \(a.bounds.map(formatKey))")
        #expect(a.bounds.last.map { !$0.lexicographicallyPrecedes(middle) } == true, "cold range not on its own: \(a.bounds.map(formatKey))")
        #expect(a.log.contains("\"reasonCode\":\"restore-recommendation\""), "\(a.log)")

        let two = try Backup.restore(from: "/bk", to: "/two", layout: .partitions(2), options: o)
        let l2 = try #require(two.tables.first)
        #expect(l2.partitions == 2 && l2.partitionsRecommended == 5, "\(l2)")
        #expect((l2.appliedPeakUtilization ?? 0) > 1, "two partitions for 1.12 s/s of peak work cannot stay under the budget: \(l2)")
        let b = try opened("/two")
        #expect(b.records == 4000 && b.bounds.count == 2)
        #expect(b.log.contains("restore-recommendation-overridden") && b.log.contains("\"reasonCode\":\"restore-override\""), "\(b.log)")
    }

    /// A power cut before every file-system step of a checkpoint and then of a restore: the
    /// source store opens with every write, and the target is absent or complete.
    @Test func aCrashAtEveryStepLeavesTheSourceAndATargetThatIsAbsentOrComplete() throws {
        let base = CrashSimulatingFileSystem()
        let hook = StepHookFileSystem(base)
        let engine = try Engine.open(at: "/db", options: Self.options(hook))
        let t = try engine.createTable("t")
        let count = 1500
        for i in 0..<count { try t.put(Self.key("k", 0, i), Self.value(0, i)) }
        try engine.syncWAL()
        // Copies and, into a second target, hard links: both must be absent or complete.
        hook.capture(under: "/linked")
        _ = try engine.checkpoint(to: "/linked", linkingFiles: true)
        let linkCrashes = hook.stopCapturing()
        hook.capture(under: "/bk")
        _ = try engine.checkpoint(to: "/bk")
        let backupCrashes = hook.stopCapturing()
        try engine.close()
        #expect(backupCrashes.count >= 10, "\(backupCrashes.count) steps")

        func allThere(_ fs: any FileSystem, _ path: String) throws -> Bool {
            var o = Self.options(fs)
            o.createIfMissing = false
            let e = try Engine.open(at: path, options: o)
            defer { try? e.close() }
            let t = try e.table(named: "t")
            return try (0..<count).allSatisfy { try t.get(Self.key("k", 0, $0)) == Self.value(0, $0) }
        }
        for (target, crashes) in [("/linked", linkCrashes), ("/bk", backupCrashes)] {
            for (step, crashed) in crashes.enumerated() {
                #expect(try allThere(crashed, "/db"), "after a crash at \(target) step \(step) the source lost writes")
                if crashed.fileExists(target) {
                    #expect(throws: Never.self, "\(target) step \(step): it exists but is not complete") {
                        _ = try Backup.verify(at: target, fileSystem: crashed)
                    }
                    #expect(try allThere(crashed, target), "\(target) step \(step): it lacks writes")
                }
            }
        }

        hook.capture(under: "/restored")
        var o = Self.options(hook)
        o.createIfMissing = false
        _ = try Backup.restore(from: "/bk", to: "/restored", layout: .partitions(3), options: o)
        let restoreCrashes = hook.stopCapturing()
        #expect(restoreCrashes.count >= 10, "\(restoreCrashes.count) steps")
        for (step, crashed) in restoreCrashes.enumerated() {
            #expect(throws: Never.self, "restore step \(step) changed the backup") { _ = try Backup.verify(at: "/bk", fileSystem: crashed) }
            if crashed.fileExists("/restored") {
                #expect(try allThere(crashed, "/restored"), "restore step \(step): /restored lacks writes")
            }
        }
        #expect(try allThere(base, "/restored"))
    }
}

/// Forwards to a crash-simulating file system and, while capturing, takes a power-loss copy of
/// it before every call that changes a directory under one path (create, rename, remove, sync)
/// and before every fdatasync of a file under it (so between a record's write and its sync, and
/// after the sync of one file and before the next step).
final class StepHookFileSystem: FileSystem, @unchecked Sendable {
    let base: CrashSimulatingFileSystem
    private let state = Mutex<(prefix: String?, clones: [CrashSimulatingFileSystem])>((nil, []))
    init(_ base: CrashSimulatingFileSystem) { self.base = base }

    func capture(under prefix: String) { state.withLock { $0 = (prefix, []) } }
    func stopCapturing() -> [CrashSimulatingFileSystem] {
        state.withLock { s in
            defer { s = (nil, []) }
            return s.clones + [base.crashClone()]
        }
    }
    fileprivate func step(_ path: String) {
        state.withLock { s in
            guard let p = s.prefix, path.hasPrefix(p) else { return }
            s.clones.append(base.crashClone())
        }
    }
    func open(_ path: String, mode: OpenMode) throws(FileSystemError) -> any AugurSys.FileHandle {
        if mode != .readOnly { step(path) }
        return SyncHookHandle(try base.open(path, mode: mode), hook: self)
    }
    func rename(_ from: String, to: String) throws(FileSystemError) { step(from); try base.rename(from, to: to) }
    func remove(_ path: String) throws(FileSystemError) { step(path); try base.remove(path) }
    func removeDirectory(_ path: String) throws(FileSystemError) { step(path); try base.removeDirectory(path) }
    func hardLink(_ existing: String, at link: String) throws(FileSystemError) { step(link); try base.hardLink(existing, at: link) }
    func syncDirectory(_ path: String) throws(FileSystemError) { step(path); try base.syncDirectory(path) }
    func createDirectory(_ path: String) throws(FileSystemError) { step(path); try base.createDirectory(path) }
    func listDirectory(_ path: String) throws(FileSystemError) -> [String] { try base.listDirectory(path) }
    func fileExists(_ path: String) -> Bool { base.fileExists(path) }
    func isDirectory(_ path: String) -> Bool { base.isDirectory(path) }
    func fileSize(_ path: String) throws(FileSystemError) -> Int { try base.fileSize(path) }
    func lock(_ path: String) throws(FileSystemError) -> any AugurSys.FileLock { try base.lock(path) }
    func isLocked(_ path: String) -> Bool { base.isLocked(path) }
}

/// A handle whose `sync` first gives the hook its step.
private final class SyncHookHandle: AugurSys.FileHandle, @unchecked Sendable {
    let base: any AugurSys.FileHandle
    let hook: StepHookFileSystem
    init(_ base: any AugurSys.FileHandle, hook: StepHookFileSystem) { self.base = base; self.hook = hook }
    var path: String { base.path }
    var descriptor: Int32? { nil }
    func size() throws(FileSystemError) -> Int { try base.size() }
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(FileSystemError) -> Int { try base.read(at: offset, into: buffer) }
    func write(at offset: Int, _ bytes: UnsafeRawBufferPointer) throws(FileSystemError) { try base.write(at: offset, bytes) }
    func sync() throws(FileSystemError) { hook.step(path); try base.sync() }
    func syncData(in range: Range<Int>) throws(FileSystemError) { hook.step(path); try base.syncData(in: range) }
    func allocate(size: Int) throws(FileSystemError) { try base.allocate(size: size) }
    func truncate(size: Int) throws(FileSystemError) { try base.truncate(size: size) }
    func mapReadOnly(length: Int) throws(FileSystemError) -> MappedRegion { try base.mapReadOnly(length: length) }
    func mapShared(length: Int) throws(FileSystemError) -> MappedRegion { try base.mapShared(length: length) }
    func close() { base.close() }
}
