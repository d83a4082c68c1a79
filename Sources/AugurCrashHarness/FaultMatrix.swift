// The fault matrix: for each file operation on the flush, reshard (strategy change included) and WAL paths × {EIO,
// ENOSPC} × {once, persistent} × the Nth call (N = 1, 2, … until the operation completes
// without a fault), on a fresh in-memory store each time:
//   * a fault that fires must surface as a typed error (.io / .diskFull / .writesDisabled) —
//     only a failed unlink or directory listing may be absorbed (cleanup is best effort);
//   * after a failed reshard the old map stays in charge; after any failure every
//     acknowledged record is readable (gets and scans);
//   * once the fault is gone the next successful maintenance step leaves no temporary files
//     (seg/ holds exactly the referenced runs), and writes resume — except after a failed WAL
//     sync, when the instance must refuse every further write;
//   * the store recovers (cleanly, and from a power cut taken right after the failure) with
//     zero acknowledged loss, no leftovers and a valid map (the old one or the new one).
@_spi(Testing) import Augur
@_spi(Testing) import AugurSys

public enum FaultScenario: String, Sendable, CaseIterable, CustomStringConvertible {
    case flush, flushMerge = "flush-merge", split, splitMany = "split-many", merge, move
    /// A range table rewritten as a hash table (`Table.changeStrategy`).
    case strategyChange = "strategy-change"
    case walSync = "wal-sync", walRoll = "wal-roll"

    public var description: String { rawValue }

    public static let reshardPath: [FaultScenario] = [.split, .splitMany, .merge, .move, .strategyChange]
    public static let flushPath: [FaultScenario] = [.flush, .flushMerge]
    public static let walPath: [FaultScenario] = [.walSync, .walRoll]
}

public struct FaultMatrixConfig: Sendable {
    public var scenarios: [FaultScenario]
    public var errnos: [Errno] = [.ioError, .noSpace]
    public var seed: UInt64 = 1
    /// Keys loaded before the operation.
    public var keys = 120
    /// Safety cap on N (the loop normally stops when the operation completes without a fault).
    public var maxNth = 200
    public var failureLimit = 25
    /// Progress lines on stderr (0: none).
    public var progressMilliseconds = 0

    public init(scenarios: [FaultScenario]) { self.scenarios = scenarios }
}

public enum FaultMatrixRunner {
    static let path = "/db"
    static let table = "t"

    static func key(_ i: Int) -> [UInt8] { Array("key\(1000 + i)".utf8) }

    static func options(_ fs: any FileSystem) -> EngineOptions {
        var o = harnessEngineOptions(fileSystem: fs)
        o.memtableFlushSize = 1 << 30            // no background flush: only the operation under test runs
        o.manifestRotationSize = 1024            // rotations (CURRENT rename, directory sync) on these paths too
        return o
    }

    /// Builds the scenario's starting point; returns the acknowledged contents.
    static func setUp(_ scenario: FaultScenario, _ engine: Engine, keys: Int, seed: UInt64) throws(AugurError) -> Oracle {
        let t = try engine.createTable(table)
        var oracle = Oracle()
        var gen = WorkloadGenerator(seed: seed)
        func put(_ k: [UInt8], _ v: [UInt8]) throws(AugurError) {
            let op = Op.put(table: table, key: k, value: v)
            oracle.begin(op)
            try t.put(k, v)
            oracle.acknowledge()
        }
        func delete(_ k: [UInt8]) throws(AugurError) {
            let op = Op.delete(table: table, key: k)
            oracle.begin(op)
            try t.delete(k)
            oracle.acknowledge()
        }
        for i in 0..<keys { try put(key(i), gen.value()) }
        try engine.flush()
        for i in stride(from: 0, to: keys, by: 3) { try put(key(i), gen.value()) }
        for i in stride(from: 1, to: keys, by: 7) { try delete(key(i)) }
        try engine.flush()
        if scenario == .flushMerge {
            for i in stride(from: 2, to: keys, by: 5) { try put(key(i), gen.value()) }
            try engine.flush()                 // three runs: the next flush merges them all
        }
        if scenario == .merge || scenario == .move || scenario == .strategyChange {
            try t.splitPartition(at: key(keys / 2))
        }
        // Unflushed writes: the flush has work, and a reshard carries memtables over.
        for i in stride(from: 4, to: keys, by: 11) { try put(key(i), gen.value()) }
        if scenario == .walRoll {
            // Fill the first WAL segment to just below a roll: the operation's batches roll it.
            var i = 0
            while engine.walSegments.count == 1 && i < 400 {
                try put(key(keys + i), [UInt8](repeating: UInt8(i & 0xff), count: 2000))
                i += 1
            }
        }
        return oracle
    }

    /// The operation under test. Data operations go through the oracle.
    static func operation(_ scenario: FaultScenario, _ engine: Engine, keys: Int, oracle: inout Oracle) throws(AugurError) {
        let t = try engine.table(named: table)
        switch scenario {
        case .flush, .flushMerge: try engine.flush()
        case .split: try t.requestResharding(.split(at: key(keys / 3))).wait()
        case .splitMany: try t.requestResharding(.splitMany(at: [key(keys / 5), key(keys / 2), key(keys * 4 / 5)])).wait()
        case .merge: try t.requestResharding(.merge(boundary: key(keys / 2))).wait()
        case .move: try t.requestResharding(.moveBoundary(from: key(keys / 2), to: key(keys / 4))).wait()
        case .strategyChange: try t.changeStrategy(to: .hash(buckets: 4), partitions: 3)
        case .walSync:
            let op = Op.put(table: table, key: Array("wal-sync-victim".utf8), value: Array("v".utf8))
            oracle.begin(op)
            do throws(AugurError) { try t.put(Array("wal-sync-victim".utf8), Array("v".utf8)) } catch {
                oracle.fail()
                throw error
            }
            oracle.acknowledge()
        case .walRoll:
            // Batches of 8 × 1.5 KiB until the WAL rolls to a new segment (the roll seals and
            // syncs the full segment, creates, fallocates and maps the next, syncs wal/).
            let segments = engine.walSegments.count
            for n in 0..<12 where engine.walSegments.count == segments {
                var es: [BatchEntry] = []
                for i in 0..<8 { es.append(BatchEntry(table: table, key: Array("roll\(n)-\(i)".utf8), value: [UInt8](repeating: 0x5A, count: 1500))) }
                let op = Op.batch(es)
                oracle.begin(op)
                var b = WriteBatch()
                for e in es { b.put(e.key, e.value!, in: t) }
                do throws(AugurError) { try engine.write(b) } catch {
                    oracle.fail()
                    throw error
                }
                oracle.acknowledge()
            }
        }
    }

    /// Counts of each file operation the scenario's operation makes without faults, and the
    /// partition bounds it leaves.
    static func dryRun(_ scenario: FaultScenario, config: FaultMatrixConfig) throws(AugurError) -> (calls: [FileOperation: Int], bounds: PartitionBounds) {
        let faulty = FaultInjectingFileSystem(wrapping: CrashSimulatingFileSystem())
        let engine = try Engine.open(at: path, options: options(faulty))
        defer { try? engine.close() }
        var oracle = try setUp(scenario, engine, keys: config.keys, seed: config.seed)
        let before = Dictionary(uniqueKeysWithValues: FileOperation.allCases.map { ($0, faulty.calls(of: $0)) })
        try operation(scenario, engine, keys: config.keys, oracle: &oracle)
        var calls: [FileOperation: Int] = [:]
        for op in FileOperation.allCases where faulty.calls(of: op) > before[op]! { calls[op] = faulty.calls(of: op) - before[op]! }
        return (calls, try partitionBounds(engine.table(named: table)))
    }

    public static func run(_ config: FaultMatrixConfig) -> RunSummary {
        let clock = ContinuousClock()
        let start = clock.now
        var summary = RunSummary(seed: config.seed, label: "fault matrix (\(config.scenarios.map(\.rawValue).joined(separator: ", ")))")
        var progress = ProgressReporter(label: "fault matrix", intervalMilliseconds: config.progressMilliseconds)
        scenarios: for (done, scenario) in config.scenarios.enumerated() {
            let dry: (calls: [FileOperation: Int], bounds: PartitionBounds)
            do { dry = try dryRun(scenario, config: config) } catch {
                summary.fail("\(scenario): the operation fails without any fault: \(error)")
                continue
            }
            for (operation, _) in dry.calls.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                for errno in config.errnos {
                    for persistent in [false, true] {
                        var nth = 1
                        while nth <= config.maxNth && summary.failures.count < config.failureLimit {
                            if let sig = stopRequested {
                                summary.stoppedBy = sig
                                break scenarios
                            }
                            progress.tick(done: done, of: config.scenarios.count, unit: "scenarios", failures: summary.failures.count,
                                          extra: "\(summary.faultCases) cases in")
                            let rule = FaultRule(operation, path: "*", nth: nth, errno: errno, persistent: persistent)
                            let injected = runCase(scenario, rule: rule, expectedBounds: dry.bounds, config: config, into: &summary)
                            if injected == 0 { break }          // the operation completed: the row is done
                            nth += 1
                        }
                    }
                }
            }
        }
        summary.seconds = Double((clock.now - start).components.seconds) + Double((clock.now - start).components.attoseconds) / 1e18
        return summary
    }

    /// Faults a call may absorb: cleanup (unlink) and the directory listing of a sweep.
    static func mayBeAbsorbed(_ op: FileOperation) -> Bool { op == .remove || op == .listDirectory }

    /// One case; returns how many faults fired.
    @discardableResult
    static func runCase(_ scenario: FaultScenario, rule: FaultRule, expectedBounds: PartitionBounds,
                        config: FaultMatrixConfig, into summary: inout RunSummary) -> Int {
        var context = "\(scenario) with \(rule)"
        summary.faultCases += 1
        func fail(_ s: String) { summary.fail("\(context): \(s)") }
        let base = CrashSimulatingFileSystem()
        let faulty = FaultInjectingFileSystem(wrapping: base)
        let engine: Engine
        var oracle: Oracle
        do {
            engine = try Engine.open(at: path, options: options(faulty))
            oracle = try setUp(scenario, engine, keys: config.keys, seed: config.seed)
        } catch {
            fail("setting up failed: \(error)")
            return 0
        }
        defer { try? engine.close() }
        let t: Table
        let boundsBefore: PartitionBounds
        do {
            t = try engine.table(named: table)
            boundsBefore = try partitionBounds(t)
        } catch {
            fail("\(error)")
            return 0
        }

        faulty.add(rule)
        var outcome: AugurError? = nil
        var reportedInBackground = false
        do throws(AugurError) { try operation(scenario, engine, keys: config.keys, oracle: &oracle) } catch { outcome = error }
        // The WAL makes its next segment ahead in the background: let what the operation
        // started finish, so its faults are counted with it, not with the checks below.
        engine.drainWALBackground()
        let injected = faulty.injectedFaults.count
        summary.faultsInjected += injected
        // A power cut right after the failure (faults still armed for the dying instance).
        let crashed = base.crashClone(tearing: .sectors(512), seed: config.seed &+ UInt64(rule.nth))
        let oracleAtCrash = oracle
        faulty.clearRules()
        if let outcome { context += " [failed with: \(outcome)]" }

        var writesDisabled = false
        if let error = outcome {
            switch error {
            case .io, .diskFull: break
            case .writesDisabled: writesDisabled = true
            default: fail("untyped or unexpected error \(error)")
            }
            if injected == 0 { fail("failed although no fault was injected: \(error)") }
        } else if injected > 0 && !mayBeAbsorbed(rule.operation) {
            // The next WAL segment is created ahead of its roll in the background; a fault there
            // reaches `takeBackgroundError`, not the operation that happened to be running (the
            // roll creates the segment itself if it must). Only WAL files and wal/: anything
            // else a fault hit belonged to the operation.
            let onlyWAL = !faulty.injectedPaths.isEmpty
                && faulty.injectedPaths.allSatisfy { $0.hasSuffix(".wal") || $0.hasSuffix("/wal") }
            if onlyWAL, let reported = engine.takeBackgroundError() {
                reportedInBackground = true
                switch reported {
                case .io, .diskFull: break
                default: fail("untyped or unexpected background error \(reported)")
                }
            } else {
                fail("the operation succeeded although the fault fired (\(injected)×): the error was swallowed")
            }
        }
        // A failed WAL sync disables writes for good (even when the fault was once-only). In the
        // WAL scenarios every fdatasync on the write path is a WAL sync; a flush syncs the WAL
        // before it writes its run, so a sync fault that hit a WAL file counts too.
        let hitWAL = faulty.injectedFaults.isEmpty == false && rule.operation == .sync
            && (isWALScenario(scenario) || faulty.injectedPaths.contains { $0.hasSuffix(".wal") })
        let walSyncFailed = (outcome != nil || reportedInBackground) && injected > 0 && hitWAL
        do {
            let bounds = try partitionBounds(t)
            if outcome != nil {
                if !sameBounds(bounds, boundsBefore) { fail("the old map is no longer in charge after the failure: \(describe(bounds))") }
            } else if !sameBounds(bounds, expectedBounds) {
                fail("the operation succeeded but left the map \(describe(bounds)), expected \(describe(expectedBounds))")
            }
            // Everything acknowledged is readable (and nothing else appeared).
            let state = try dumpState(engine)
            let verdict = oracle.verify(state)
            if !verdict.matches { fail("in the running engine: \(verdict.detail)"); summary.lostWrites += verdict.lostWrites }
            for problem in StoreChecker.structuralProblems(engine, state: state, extraKeys: oracle.uncertainKeys) { fail("in the running engine: \(problem)") }
            // Writes: refused for good after a failed WAL sync, resumed otherwise.
            let probe = Array("probe-after-fault".utf8)
            if walSyncFailed {
                do {
                    try t.put(probe, Array("x".utf8))
                    fail("a write was accepted after a WAL sync failed")
                } catch {
                    if case .writesDisabled = error {} else { fail("a write after the failed WAL sync threw \(error), expected writesDisabled") }
                }
            } else if writesDisabled {
                fail("writes were disabled although no WAL sync failed")
            } else {
                let op = Op.put(table: table, key: probe, value: Array("x".utf8))
                oracle.begin(op)
                do {
                    try t.put(probe, Array("x".utf8))
                    oracle.acknowledge()
                } catch {
                    oracle.fail()
                    fail("writes did not resume once the fault was gone: \(error)")
                }
                // The next maintenance step succeeds and leaves no temporary file behind.
                do {
                    try engine.flush()
                    // Replaced runs are unlinked when their last reader lets go, and background
                    // readers (the telemetry tick writing TELEMETRY.json) hold views briefly:
                    // give them up to a second before calling a file a leftover.
                    var names = try base.listDirectory(joinPath(path, "seg"))
                    // Distinct names: runs of a reshard that shared files view their sources' files.
                    var referenced = Set(try t.partitionStats().flatMap(\.segmentFiles)).count
                    for _ in 0..<50 where names.count != referenced {
                        ThreadPause.sleep(nanoseconds: 20_000_000)
                        names = try base.listDirectory(joinPath(path, "seg"))
                        referenced = Set(try t.partitionStats().flatMap(\.segmentFiles)).count
                    }
                    if names.count != referenced && rule.operation != .remove {
                        fail("seg/ holds \(names.count) files but only \(referenced) are referenced (temporary files left behind)")
                    }
                } catch {
                    fail("flushing after the fault was gone failed: \(error)")
                }
            }
        } catch {
            fail("checking the running engine failed: \(error)")
        }
        try? engine.close()
        // Reopen: cleanly, and from the power cut taken right after the failure.
        let allowedBounds = [boundsBefore, expectedBounds]
        for (label, fs, o) in [("clean reopen", base, oracle), ("reopen after power loss", crashed, oracleAtCrash)] {
            let result = StoreChecker.check(path: path, fileSystem: fs, oracle: o, context: "\(context), \(label)")
            summary.statesChecked += 1
            summary.failures += result.failures
            summary.lostWrites += result.verdict?.lostWrites ?? 0
            if result.verdict?.partialBatch != nil { summary.partialBatches += 1 }
            if let b = result.bounds[table], !allowedBounds.contains(where: { sameBounds($0, b) }) {
                fail("\(label): the map \(describe(b)) is neither the old nor the new one")
            }
        }
        return injected
    }

    static func isWALScenario(_ s: FaultScenario) -> Bool { s == .walSync || s == .walRoll }

    static func sameBounds(_ a: PartitionBounds, _ b: PartitionBounds) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.lower == $1.lower && $0.upper == $1.upper }
    }

    static func describe(_ b: PartitionBounds) -> String {
        "[" + b.map { formatKey($0.lower.isEmpty ? Array("-∞".utf8) : $0.lower) }.joined(separator: " | ") + "]"
    }
}
