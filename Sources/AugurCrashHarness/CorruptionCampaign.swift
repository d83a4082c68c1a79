// The corruption campaign (`augur-crash run --mode corruption`): can the engine lose
// acknowledged data silently when a file is damaged or missing?
//
// Three base stores are built by a child engine process running the crash workload (puts,
// deletes, batches, splits and merges over two tables, `sync` durability, 64 KiB WAL
// segments, 32 KiB memtables, so there are several WAL segments, many .seg files and
// partitions): one closed with `engine.close()`, one flushed and then closed (its manifest alone
// names the newest data), one abandoned after its last acknowledged
// operation as a crash would leave it. Their acknowledged contents come from the child's
// intent/ack log (the oracle), not from the engine. Then every case copies a base store,
// damages one file (`CorruptionPlan`, `Mutation`) and opens the copy with the engine's default
// recovery. The verdict (`CaseVerdict`): a typed `AugurError` refusal passes; so does an open
// with every acknowledged write intact (after a second open too); in an abandoned store, writes
// lost behind a WAL torn tail that the recovery report names are counted as reported. Anything
// else is a silent loss. By default the opens run in child processes, a slice of cases each, so
// a Swift runtime trap or a hang on a damaged store is reported as a failure of its case (and
// the campaign goes on with the next one) instead of ending the harness.
@_spi(Testing) import Augur
import AugurSys
import AugurStats

public struct CorruptionConfig: Sendable {
    public var seed: UInt64
    /// Cases to run (round robin over the combinations, so at least their count covers each).
    public var cases: Int
    /// Work directory: the base stores (`closed/`, `abandoned/`, `flushed/`) and the scratch copy (`case/`).
    public var directory: String
    /// The `augur-crash` executable: builds the base stores and, isolated, runs the cases.
    public var executable: String
    /// Open damaged stores in child processes (a trap is then a reported failure).
    public var isolate = true
    @_spi(Testing) public var plantedBug: PlantedBug? = nil
    /// Workload operations per base store.
    public var operationsPerBase = 400
    /// Use the base stores already in `directory` (a replay on the stores of a kept run).
    public var reuseBases = false
    /// Run only this case (a replay).
    public var onlyCase: Int? = nil
    /// Cases per child process.
    public var batchSize = 40
    /// A child whose log has not moved for this long is hung: killed, its case a failure.
    public var caseTimeoutMilliseconds = 30_000
    /// Progress lines on stderr (0: none).
    public var progressMilliseconds = 0

    public init(seed: UInt64, cases: Int, directory: String, executable: String) {
        self.seed = seed
        self.cases = cases
        self.directory = directory
        self.executable = executable
    }
}

/// A base store on disk with what it must hold.
public struct BaseStore: Sendable {
    public var family: BaseFamily
    public var store: String
    public var expected: StoreState
    public var layout: BaseLayout
}

public enum CorruptionCampaign {
    static func baseDirectory(_ dir: String, _ family: BaseFamily) -> String { joinPath(dir, family.rawValue) }
    static func storePath(_ dir: String, _ family: BaseFamily) -> String { joinPath(baseDirectory(dir, family), "store") }
    static func expectedPath(_ dir: String, _ family: BaseFamily) -> String { joinPath(baseDirectory(dir, family), "expected.ops") }

    /// The options damaged stores are opened with: the defaults (recovery as users get it),
    /// except a 64 KiB WAL segment (every open starts a new segment; 64 MiB ones would dominate
    /// the run) and no telemetry (its files are advisory and its timers only add noise).
    @_spi(Testing) public static func openOptions(plantedBug: PlantedBug?) -> EngineOptions {
        var o = EngineOptions()
        o.walSegmentSize = 64 << 10
        o.telemetry.enabled = false
        o.plantedBug = plantedBug
        return o
    }

    public static func run(_ config: CorruptionConfig) -> CorruptionSummary {
        let clock = ContinuousClock()
        let start = clock.now
        var summary = CorruptionSummary(seed: config.seed, plantedBug: config.plantedBug)
        runCampaign(config, into: &summary)
        summary.seconds = seconds(since: start, clock)
        return summary
    }

    static func runCampaign(_ config: CorruptionConfig, into summary: inout CorruptionSummary) {
        do throws(FileSystemError) {
            // `--work-dir DIR` puts the campaign in DIR/corruption: DIR may not exist yet.
            var path = ""
            for part in config.directory.split(separator: "/") {
                path += (config.directory.hasPrefix("/") || !path.isEmpty ? "/" : "") + part
                try PosixFileSystem().createDirectory(path)
            }
        } catch {
            summary.setupFailures.append("cannot create \(config.directory): \(error)")
            return
        }
        if !config.reuseBases {
            var rng = SplitMix64(seed: config.seed)
            for family in BaseFamily.allCases {
                let childSeed = rng.next()
                let problem = buildBase(family, config: config, childSeed: childSeed)
                if let sig = stopRequested {
                    summary.stoppedBy = sig
                    return
                }
                if let problem {
                    summary.setupFailures.append("building the \(family) base store (seed \(config.seed)): \(problem)")
                    return
                }
            }
        }
        let bases: [BaseStore]
        do { bases = try loadBases(config.directory) } catch {
            summary.setupFailures.append("\(error)")
            return
        }
        // Control: an undamaged copy must recover to exactly the acknowledged state.
        for base in bases {
            let scratch = joinPath(config.directory, "case")
            PosixFileSystem().removeTree(scratch)
            defer { PosixFileSystem().removeTree(scratch) }
            do { try copyTree(from: base.store, to: scratch) } catch {
                summary.setupFailures.append("\(error)")
                return
            }
            let (outcome, report) = judge(path: scratch, family: base.family, touched: [], expected: base.expected, plantedBug: nil)
            if outcome.verdict != .intact {
                summary.setupFailures.append("the undamaged \(base.family) base store does not recover to its acknowledged state: \(outcome.detail)")
                return
            }
            summary.bases.append(describe(base, report: report))
        }
        let fingerprints = bases.map { fingerprint($0.store) }
        defer {
            // Cases link the bases' segment files: none may have been written through a link.
            for (base, before) in zip(bases, fingerprints) where fingerprint(base.store) != before {
                summary.setupFailures.append("the \(base.family) base store changed during the run (a case wrote through a hard link to one of its segment files); later verdicts are unreliable")
            }
        }
        let layouts = bases.map(\.layout)
        summary.combinations = CorruptionPlan.combinationCount(layouts)
        let indices = config.onlyCase.map { $0..<($0 + 1) } ?? 0..<config.cases
        if config.isolate {
            runIsolated(config, indices: indices, bases: bases, into: &summary)
        } else {
            var progress = ProgressReporter(label: "corruption", intervalMilliseconds: config.progressMilliseconds)
            let plan = CorruptionPlan.combinations(layouts, seed: config.seed)
            for i in indices {
                if let sig = stopRequested { summary.stoppedBy = sig; break }
                guard !plan.isEmpty, let c = CorruptionPlan.makeCase(i, combination: plan[i % plan.count], seed: config.seed, bases: layouts),
                      let base = bases.first(where: { $0.family == c.family }) else { continue }
                summary.record(c, runCase(c, base: base, scratch: joinPath(config.directory, "case"), plantedBug: config.plantedBug))
                progress.tick(done: summary.cases, of: indices.count, unit: "cases", failures: summary.failures.count)
            }
        }
    }

    static func seconds(since start: ContinuousClock.Instant, _ clock: ContinuousClock) -> Double {
        let d = clock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    // MARK: base stores

    /// Runs the workload in a child process on a new store; writes the acknowledged contents
    /// next to it. Returns a problem, or nil.
    static func buildBase(_ family: BaseFamily, config: CorruptionConfig, childSeed: UInt64) -> String? {
        let dir = baseDirectory(config.directory, family)
        PosixFileSystem().removeTree(dir)
        do throws(FileSystemError) { try PosixFileSystem().createDirectory(dir) } catch { return "\(error)" }
        let logPath = joinPath(dir, "build.log"), outPath = joinPath(dir, "build.out")
        var child = ChildConfig(storePath: storePath(config.directory, family), logPath: logPath, seed: childSeed)
        child.firstOp = UInt64(BaseFamily.allCases.firstIndex(of: family)!) * 1_000_000
        child.maxOps = config.operationsPerBase
        child.deadlineMilliseconds = 300_000
        child.exitWithoutClose = family == .abandoned
        child.flushAtEnd = family == .flushed
        // Many records in the manifest before it rotates (the harness default rotates at 2 KiB).
        child.manifestRotationSize = 64 << 10
        // No explicit flushes (each one lets the WAL be trimmed to its newest segment) and
        // memtables of 32 KiB: busy partitions still flush (many .seg files) while quiet ones
        // keep several 64 KiB WAL segments alive; big batches add WAL volume.
        child.memtableFlushSize = 32 << 10
        child.weights = [40, 14, 14, 8, 0, 6, 2, 5, 7, 1]
        if family == .flushed {
            // Files that stay: no merges of runs, no reshards (each deletes its sources; the
            // other bases have them), explicit flushes that trim the WAL. Every older manifest
            // state then still has every file it names, so a manifest cut short is not refused
            // for a missing file: only recovery's own judgement stands between it and silently
            // older data.
            // Few flushes and 64 KiB memtables keep the file count (and the copy per case) small.
            child.maxRunsPerPartition = 1000
            child.memtableFlushSize = 64 << 10
            // Each record lists every run of its partitions: without a larger limit the manifest
            // would rotate (to one snapshot record) every few flushes.
            child.manifestRotationSize = 4 << 20
            child.weights = [40, 14, 14, 8, 2, 0, 0, 0, 0, 0]
        }
        let process: ChildProcess
        do { process = try ChildProcess(executable: config.executable, arguments: child.arguments, standardOutput: outPath, standardError: outPath) } catch {
            return "\(error)"
        }
        // A few seconds of work; a child still running after two minutes is stuck in an operation.
        let finished = process.wait(deadline: .now + .seconds(120))
        let exit = finished ?? process.kill()
        let lines = RecordLog.read(path: logPath)
        guard exit == .exited(0), lines.last == "D" else {
            let how = finished == nil ? "did not finish within 120 s (killed; an engine operation hung?)" : "ended with \(exit)"
            return "the child (seed \(childSeed)) \(how)\(ProcessCrashRunner.outputTail(outPath))\(lines.last.map { "; its log ends: \($0)" } ?? "")"
        }
        var oracle = Oracle()
        for line in lines {
            let words = line.split(separator: " ", maxSplits: 2)
            switch words.first {
            case "I":
                guard words.count == 3, let op = Op(encoded: words[2]) else { return "unreadable intent record: \(line.prefix(80))" }
                oracle.begin(op)
            case "A": oracle.acknowledge()
            case "E":
                // Only a reshard plan that no longer fits the map may fail (it changes nothing).
                guard words.count == 3, words[2].hasPrefix("reject"), oracle.inFlight == nil else { return "an operation failed: \(line)" }
            case "X": return "child: \(line.dropFirst(2))"
            default: break
            }
        }
        guard oracle.inFlight == nil, oracle.tail.isEmpty else { return "an operation was left in flight" }
        let expected = oracle.committed
        var text = ""
        for table in expected.tableNames {
            for (k, v) in expected.records(table) { text += Op.put(table: table, key: k.bytes, value: v.bytes).encoded + "\n" }
        }
        do throws(FileSystemError) {
            let h = try PosixFileSystem().open(expectedPath(config.directory, family), mode: .create)
            defer { h.close() }
            try h.truncate(size: 0)
            try h.write(at: 0, Array(text.utf8))
        } catch { return "\(error)" }
        return nil
    }

    /// The base stores of a work directory with their acknowledged contents.
    public static func loadBases(_ dir: String) throws(HarnessError) -> [BaseStore] {
        var out: [BaseStore] = []
        for family in BaseFamily.allCases {
            let store = storePath(dir, family)
            guard PosixFileSystem().isDirectory(store) else { throw .io("no \(family) base store in \(dir)") }
            var expected = StoreState()
            for line in RecordLog.read(path: expectedPath(dir, family)) {
                guard let op = Op(encoded: line) else { throw .io("unreadable line in \(expectedPath(dir, family)): \(line.prefix(80))") }
                expected.apply(op)
            }
            out.append(BaseStore(family: family, store: store, expected: expected, layout: BaseLayout(family: family, store: store)))
        }
        return out
    }

    static func describe(_ base: BaseStore, report: RecoveryReport?) -> String {
        let l = base.layout
        func count(_ k: StoreFileKind) -> Int { l.files(of: k).count }
        let frames = l.files(of: .wal).map { l.anatomy[$0]?.recordCount ?? 0 }.reduce(0, +)
        let manifests = l.files(of: .manifest).map { "\($0) (\(l.anatomy[$0]?.recordCount ?? 0) records)" }.joined(separator: ", ")
        var s = "\(base.family): \(count(.wal)) WAL segments (\(frames) frames), \(count(.segment)) .seg files, \(manifests)"
        if let report { s += ", \(report.tables) tables in \(report.partitions) partitions" }
        s += ", \(base.expected.recordCount) acknowledged records"
        if count(.advisory) > 0 { s += ", \(count(.advisory)) advisory files" }
        return s
    }

    // MARK: one case

    /// Copies the base store, damages the copy and judges what opening it gives.
    @_spi(Testing) public static func runCase(_ c: CorruptionCase, base: BaseStore, scratch: String, plantedBug: PlantedBug?) -> CaseOutcome {
        PosixFileSystem().removeTree(scratch)
        defer { PosixFileSystem().removeTree(scratch) }
        do {
            try copyStore(from: base.store, to: scratch, except: Set(c.filesTouched))
            try c.mutation.apply(to: c.file, in: scratch)
        } catch {
            return CaseOutcome(.harnessError, "\(error)")
        }
        return judge(path: scratch, family: c.family, touched: c.filesTouched, expected: base.expected, plantedBug: plantedBug).0
    }

    /// Opens a store twice and compares what it reads with the acknowledged contents.
    static func judge(path: String, family: BaseFamily, touched: [String], expected: StoreState,
                      plantedBug: PlantedBug?) -> (CaseOutcome, RecoveryReport?) {
        let options = openOptions(plantedBug: plantedBug)
        let engine: Engine
        do { engine = try Engine.open(at: path, options: options) } catch {
            return (CaseOutcome(.refused, oneLine(error.description)), nil)
        }
        let report = engine.recoveryReport
        let state: StoreState
        do { state = try dumpState(engine) } catch {
            try? engine.close()
            return (CaseOutcome(.refused, "opened, then reading failed: " + oneLine(error.description)), report)
        }
        try? engine.close()
        let d = expected.differences(from: state)
        if d.missingOrChanged.isEmpty && d.unexpected.isEmpty {
            // What the first open left behind (it may rewrite a tail or delete files) must read the same.
            do {
                let again = try Engine.open(at: path, options: options)
                let second = try dumpState(again)
                try? again.close()
                if second != state {
                    let d2 = expected.differences(from: second)
                    return (CaseOutcome(.silentLoss, "the first open read every acknowledged write, the second open (of what the first left) has \(d2.missingOrChanged.count) missing or changed, \(d2.unexpected.count) unexpected, without an error"), report)
                }
            } catch {
                return (CaseOutcome(.refused, "the first open read every acknowledged write; the second refused: " + oneLine(error.description)), report)
            }
            return (CaseOutcome(.intact, ""), report)
        }
        var examples: [String] = []
        for (t, k) in d.missingOrChanged.prefix(2) {
            examples.append("\(t)/\(formatKeyShort(k)) expected \(describeValue(expected.value(t, k))), found \(describeValue(state.value(t, k)))")
        }
        for (t, k) in d.unexpected.prefix(1) { examples.append("\(t)/\(formatKeyShort(k)) unexpected \(describeValue(state.value(t, k)))") }
        let lost = "opened without error with \(d.missingOrChanged.count) of \(expected.recordCount) acknowledged records missing or changed and \(d.unexpected.count) unexpected (e.g. \(examples.joined(separator: "; "))); recovery: \(StoreChecker.summarize(report))\(report.createdNewStore ? ", created a new store" : "")"
        if family == .abandoned, let torn = report.walTornTail, touched.contains(where: { torn.file.hasSuffix("/" + $0) }) {
            return (CaseOutcome(.reported, "torn tail of \(torn.bytesDropped) bytes at \(torn.offset) reported; " + lost), report)
        }
        return (CaseOutcome(.silentLoss, lost), report)
    }

    /// Copies a store for one case. Segment files are written once and never changed in place
    /// (recovery only unlinks them), so those the mutation leaves alone are hard links: a base
    /// store holds hundreds of them. Everything else (CURRENT, the manifest, WAL segments, which
    /// recovery writes to) is copied. `fingerprint` checks after the run that the bases are
    /// unchanged.
    static func copyStore(from source: String, to target: String, except touched: Set<String>) throws(HarnessError) {
        let fs = PosixFileSystem()
        func walk(_ relative: String) throws(FileSystemError) {
            let s = relative.isEmpty ? source : joinPath(source, relative)
            try fs.createDirectory(relative.isEmpty ? target : joinPath(target, relative))
            for name in try fs.listDirectory(s) {
                let rel = relative.isEmpty ? name : relative + "/" + name
                if fs.isDirectory(joinPath(source, rel)) {
                    try walk(rel)
                } else if StoreFileKind.of(rel) == .segment && !touched.contains(rel) {
                    try fs.hardLink(joinPath(source, rel), at: joinPath(target, rel))
                } else {
                    try copyFile(fs, joinPath(source, rel), joinPath(target, rel))
                }
            }
        }
        do throws(FileSystemError) { try walk("") } catch {
            throw .io("copying \(source) to \(target) failed: \(error)")
        }
    }

    static func copyFile(_ fs: PosixFileSystem, _ from: String, _ to: String) throws(FileSystemError) {
        let bytes = try fs.readFile(from)
        let out = try fs.open(to, mode: .createNew)
        defer { out.close() }
        if !bytes.isEmpty { try out.write(at: 0, bytes) }
    }

    /// A digest of every file of a store (names and contents).
    static func fingerprint(_ store: String) -> UInt64 {
        let fs = PosixFileSystem()
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for f in storeFiles(store) {
            for b in Array(f.utf8) + ((try? fs.readFile(joinPath(store, f))) ?? []) { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        }
        return h
    }
}
