import Testing
import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport

/// EIO and ENOSPC on write, fdatasync, rename, fallocate and directory sync, once and
/// persistently, at the 1st to Nth matching call: every failure is a typed error, and the store
/// reopens (cleanly, and after a power cut) with every acknowledged write.
@Suite struct FaultInjectionTests {
    struct Case: CustomStringConvertible, Sendable {
        let operation: FileOperation
        let path: String
        var description: String { "\(operation) \(path)" }
    }

    static let cases: [Case] = [
        Case(operation: .write, path: "*.seg"),
        Case(operation: .sync, path: "*.seg"),
        Case(operation: .syncDirectory, path: "*/seg"),
        Case(operation: .open, path: "*.seg"),
        Case(operation: .write, path: "*MANIFEST*"),
        Case(operation: .sync, path: "*MANIFEST*"),
        Case(operation: .rename, path: "*CURRENT*"),
        Case(operation: .write, path: "*CURRENT*"),
        Case(operation: .allocate, path: "*.wal"),
        Case(operation: .sync, path: "*.wal"),
        Case(operation: .syncDirectory, path: "*/wal"),
    ]

    static func options(_ fs: any FileSystem) -> EngineOptions {
        var o = EngineOptions()
        o.fileSystem = fs
        o.durability = .sync
        o.walSegmentSize = 64 << 10
        o.memtableFlushSize = 1 << 30          // flushes only when the test asks
        o.maxRunsPerPartition = 2
        o.segmentIndexInterval = 4
        o.manifestRotationSize = 1024
        return o
    }

    /// An open refused for want of space to preallocate its log segment leaves no file behind:
    /// each refused `augur put` on a small disk left one more empty WAL file (found from
    /// outside), which the next attempts then had to step over.
    @Test func anOpenWithoutRoomForItsLogSegmentLeavesNoFile() throws {
        let base = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: Self.options(base))
        try engine.createTable("t").put("k", "v")
        try engine.close()
        let before = try base.listDirectory("/db/wal").sorted()
        let faulty = FaultInjectingFileSystem(wrapping: base)
        faulty.add(FaultRule(.allocate, path: "*.wal", nth: 1, errno: .noSpace, persistent: true))
        for _ in 0..<3 {
            #expect(throws: AugurError.self) { try Engine.open(at: "/db", options: Self.options(faulty)) }
        }
        #expect(faulty.injectedFaults.count == 3)
        #expect(try base.listDirectory("/db/wal").sorted() == before)
        faulty.clearRules()
        let reopened = try Engine.open(at: "/db", options: Self.options(faulty))
        #expect(try reopened.table(named: "t").get("k") == "v")
        try reopened.close()
    }

    @Test(arguments: cases)
    func faultsAreTypedAndLoseNothing(_ c: Case) throws {
        var injectedTotal = 0
        for errno in [Errno.ioError, Errno.noSpace] {
            for persistent in [false, true] {
                for nth in 1...4 {
                    let context = "\(c) \(errno) nth \(nth)\(persistent ? " persistent" : "")"
                    let base = CrashSimulatingFileSystem()
                    let faulty = FaultInjectingFileSystem(wrapping: base)
                    var model = UncertainModel()
                    let engine = try Engine.open(at: "/db", options: Self.options(faulty))
                    let table = try engine.createTable("t")
                    var r = RandomData(seed: UInt64(nth))
                    for i in 0..<200 {
                        let k = Array("key\(i % 150)".utf8), v = r.value()
                        try table.put(k, v)
                        model.acknowledge(k, v)
                    }
                    faulty.add(FaultRule(c.operation, path: c.path, nth: nth, errno: errno, persistent: persistent))
                    var errors: [AugurError] = []
                    for round in 0..<10 {
                        for i in 0..<120 {
                            let k = Array("key\((i * 7 + round * 31) % 200)".utf8), v = r.value()
                            do {
                                try table.put(k, v)
                                model.acknowledge(k, v)
                            } catch {
                                model.attempted(k, v)
                                errors.append(error)
                            }
                        }
                        do { try engine.flush() } catch { errors.append(error) }
                        do { try table.splitPartition(at: Array("key\(round * 3 + 1)".utf8)) } catch {
                            if case .invalidSplitKey = error {} else { errors.append(error) }
                        }
                        do { try engine.createTable("x\(round)") } catch { errors.append(error) }
                        // Background work (flushes, the next WAL segment made ahead of its roll)
                        // reports here.
                        if let e = engine.takeBackgroundError() { errors.append(e) }
                    }
                    let injected = faulty.injectedFaults.count
                    injectedTotal += injected
                    // Every failure surfaced as a typed I/O error, never as something else.
                    for e in errors {
                        switch e {
                        case .io, .diskFull, .writesDisabled: break
                        default: Issue.record("\(context): unexpected error \(e)")
                        }
                    }
                    if injected > 0 && !persistent {
                        #expect(!errors.isEmpty || c.operation == .syncDirectory || c.operation == .open,
                                "\(context): a fault was injected but no operation reported it")
                    }
                    // Power cut now, faults still armed for the dying instance.
                    let crashed = base.crashClone(tearing: .sectors(512), seed: UInt64(nth))
                    faulty.clearRules()
                    try? engine.close()
                    for (label, fs) in [("clean reopen", base as any FileSystem), ("after power loss", crashed)] {
                        let reopened = try Engine.open(at: "/db", options: Self.options(fs))
                        let state = try dumpStore(reopened)
                        let problem = model.mismatch(state.tables["t"] ?? [:])
                        #expect(problem == nil, "\(context) \(label): \(problem ?? "")")
                        for name in try reopened.tableNames() {
                            #expect(coverageProblem(try reopened.table(named: name).partitionStats()) == nil, "\(context) \(label)")
                        }
                        try reopened.close()
                        // No stray files: everything in seg/ is referenced (recovery removed leftovers).
                        let again = try Engine.open(at: "/db", options: Self.options(fs))
                        #expect(again.recoveryReport.filesRemoved.isEmpty, "\(context) \(label): leftovers on second open \(again.recoveryReport.filesRemoved)")
                        try again.close()
                    }
                }
            }
        }
        #expect(injectedTotal > 0, "\(c): no fault was ever injected; the case tests nothing")
    }

    @Test func failedWALSyncDisablesWritesUntilReopen() throws {
        let base = CrashSimulatingFileSystem()
        let faulty = FaultInjectingFileSystem(wrapping: base)
        let engine = try Engine.open(at: "/db", options: Self.options(faulty))
        let table = try engine.createTable("t")
        try table.put("a", "1")
        faulty.add(FaultRule(.sync, path: "*.wal", nth: 1, errno: .ioError))
        #expect(throws: AugurError.self) { try table.put("b", "2") }
        // The fault was once-only, but the instance must not trust the WAL again.
        #expect {
            try table.put("c", "3")
        } throws: { error in
            if case .writesDisabled = error as? AugurError { return true }
            return false
        }
        #expect(try table.get("a") == "1")
        faulty.clearRules()
        try? engine.close()
        let reopened = try Engine.open(at: "/db", options: Self.options(base.crashClone()))
        let t = try reopened.table(named: "t")
        #expect(try t.get("a") == "1")
        try t.put("d", "4")
        #expect(try t.get("d") == "4")
        try reopened.close()
    }

    @Test func diskFullOnWALAllocateIsTypedAndRecoverable() throws {
        let base = CrashSimulatingFileSystem()
        let faulty = FaultInjectingFileSystem(wrapping: base)
        let engine = try Engine.open(at: "/db", options: Self.options(faulty))
        let table = try engine.createTable("t")
        faulty.add(FaultRule(.allocate, path: "*.wal", nth: 1, errno: .noSpace, persistent: true))
        var acknowledged: [[UInt8]: [UInt8]] = [:]
        var sawDiskFull = false
        for i in 0..<2000 {
            let k = Array("k\(i)".utf8), v = [UInt8](repeating: UInt8(i & 0xFF), count: 100)
            do {
                try table.put(k, v)
                acknowledged[k] = v
            } catch {
                if case .diskFull = error { sawDiskFull = true } else { Issue.record("unexpected \(error)") }
                break
            }
        }
        #expect(sawDiskFull, "a full WAL segment with no space for the next should report diskFull")
        faulty.clearRules()
        // Space came back: writes resume in the same instance.
        try table.put("after", "space")
        acknowledged[Array("after".utf8)] = Array("space".utf8)
        try engine.close()
        let reopened = try Engine.open(at: "/db", options: Self.options(base.crashClone()))
        #expect(try dumpStore(reopened).tables["t"] == acknowledged, "acknowledged writes differ after reopen")
        try reopened.close()
    }
}
