// augur-crash: the crash-recovery and fault-injection harness (see docs/ARCHITECTURE.md,
// "augur-crash — crash-recovery and fault-injection harness").
//
//   augur-crash                      short run: SIGKILL cycles, power-loss states, fault matrix,
//                                    corruption campaign
//   augur-crash --long               thousands of cycles, states and corruption cases
//   augur-crash --seed S             replay a run (the summary prints the seed)
//   augur-crash child …              (internal) the child engine process of the SIGKILL modes
//   augur-crash corruption-child …   (internal) opens damaged stores for the corruption campaign
import ArgumentParser
@_spi(Testing) import Augur
@_spi(Testing) import AugurCrashHarness
import AugurSys
import Logging

@main
struct AugurCrashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "augur-crash",
        abstract: "Crash-recovery and fault-injection harness for the Augur storage engine.",
        discussion: """
        Modes: sigkill (a child engine process is killed with SIGKILL at random times or kills \
        itself at named crash points, then the store is recovered and checked against an oracle \
        of acknowledged operations), power-loss (simulated power cuts with unsynced data dropped \
        or torn, in process) and faults (EIO/ENOSPC on every file operation of the flush, reshard \
        and WAL paths), corruption (copies of real stores with one file damaged — a bit flipped, \
        a range zeroed, truncated, extended, deleted, swapped — must be refused with an error or \
        open with every acknowledged write). Every run prints a summary with the seed to replay \
        it; long runs print progress to stderr and, stopped with SIGINT/SIGTERM, a partial summary.
        """,
        subcommands: [RunCommand.self, ChildCommand.self, CorruptionChildCommand.self],
        defaultSubcommand: RunCommand.self
    )

    /// The engine's log lines go to standard error at `AUGUR_LOG_LEVEL`, default error: the
    /// harness opens thousands of damaged stores on purpose, and its summary says what happened.
    static func main() {
        StandardStream.exitWithAnErrorWhenOutputIsLost()
        LoggingSystem.bootstrap(ToolLogging.standardError(defaultLevel: .error))
        main(CommandLineArguments.forParsing)
    }
}

enum Mode: String, CaseIterable, ExpressibleByArgument {
    case all, sigkill, powerLoss = "power-loss", faults, corruption

    var harnessMode: HarnessMode? { self == .all ? nil : HarnessMode(rawValue: rawValue) }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the harness (the default).")

    @Flag(help: "Long run: thousands of SIGKILL cycles, power-loss states and corruption cases.")
    var long = false

    @Option(help: "Seed to replay a run (default: random, printed in the summary).")
    var seed: UInt64?

    @Option(help: "Which modes to run: \(Mode.allCases.map(\.rawValue).joined(separator: ", ")). Repeatable.")
    var mode: [Mode] = []

    @Option(help: "SIGKILL cycles (child processes killed). Default 200, 3000 with --long.")
    var cycles: Int?

    @Option(name: .customLong("power-states"), help: "Power-loss crash states to check. Default 2000, 20000 with --long.")
    var powerStates: Int?

    @Option(name: .customLong("corruption-cases"), help: "Corruption cases to run. Default 300, 3000 with --long.")
    var corruptionCases: Int?

    @Option(name: .customLong("corruption-case"), help: "Replay one corruption case (its number in the failure line); with --corruption-base for the same stores.")
    var corruptionCase: Int?

    @Option(name: .customLong("corruption-base"), help: "Work directory of an earlier corruption run whose base stores to reuse (kept when a run fails).")
    var corruptionBase: String?

    @Flag(name: .customLong("in-process"), help: "Open damaged stores in this process (faster; a trap then ends the run instead of being reported).")
    var inProcess = false

    @Option(name: .customLong("progress-seconds"), help: "Print progress to stderr this often (0: never). Default 5.")
    var progressSeconds = 5

    @Option(name: .customLong("crash-point-share"), help: "Share of SIGKILL cycles in which the child kills itself at a crash point (0...1). Default 0.5.")
    var crashPointShare: Double = 0.5

    @Option(name: .customLong("one-in"), help: "Crash at a hit of the targeted crash point with probability 1/N (default: per point).")
    var oneIn: Int?

    @Option(name: .customLong("crash-point"), help: "Only crash at this point in crash-point cycles (a crash-point name, or 'any').")
    var crashPoint: String?

    @Option(name: .customLong("fault-scenarios"), help: "Comma-separated fault-matrix scenarios (default: all): \(FaultScenario.allCases.map(\.rawValue).joined(separator: ", ")).")
    var faultScenarios: String?

    @Option(name: .customLong("planted-bug"), help: "Switch on a known durability bug; the run must then FAIL. Each bug shows in one mode (run alone when no --mode is given; other modes are refused): \(PlantedBug.allCases.map { "\($0.rawValue) (\($0.exposingMode.rawValue))" }.joined(separator: ", ")).")
    var plantedBug: String?

    @Option(name: .customLong("work-dir"), help: "Directory for the SIGKILL mode's store and logs (default: a new directory under /tmp; kept when the run fails).")
    var workDir: String?

    @Option(name: .customLong("child-timeout-ms"), help: "A crash-point child that has not crashed after this many milliseconds is killed by the parent. Default 3000.")
    var childTimeoutMs = 3000

    @Option(name: .customLong("max-failures"), help: "Stop a mode after this many failures (default 25; 5 with --planted-bug).")
    var maxFailures: Int?

    @Flag(name: .customLong("all-failures"), help: "List every failure in the summary (default: the first 20).")
    var allFailures = false

    /// The modes to run. With a planted bug and no explicit mode: only the mode that can show it.
    var modes: Set<Mode> {
        if mode.isEmpty || mode.contains(.all) {
            if let bug = plantedBug.flatMap(PlantedBug.init(rawValue:)) { return [Mode(rawValue: bug.exposingMode.rawValue)!] }
            return [.sigkill, .powerLoss, .faults, .corruption]
        }
        return Set(mode)
    }

    func validate() throws {
        // 0 would run nothing and print nothing (F11): choose the modes with --mode instead.
        if let cycles, cycles < 1 { throw ValidationError("--cycles must be at least 1 (got \(cycles)); to skip the SIGKILL mode choose the modes with --mode") }
        if let powerStates, powerStates < 1 { throw ValidationError("--power-states must be at least 1 (got \(powerStates)); to skip the power-loss mode choose the modes with --mode") }
        if let corruptionCases, corruptionCases < 1 { throw ValidationError("--corruption-cases must be at least 1 (got \(corruptionCases)); to skip the corruption campaign choose the modes with --mode") }
        if let corruptionCase, corruptionCase < 0 { throw ValidationError("--corruption-case must be 0 or more (got \(corruptionCase))") }
        // And at most a billion: more than any run finishes, and far from where the case and
        // batch arithmetic overflowed (--corruption-case 9223372036854775807 trapped).
        for (flag, value) in [("--cycles", cycles), ("--power-states", powerStates), ("--corruption-cases", corruptionCases),
                              ("--corruption-case", corruptionCase)] {
            if let value, value > Self.countLimit { throw ValidationError("\(flag) must be at most \(Self.countLimit) (got \(value))") }
        }
        // Upper limits too: a day is more than any run needs, and the harness computes with
        // these in milliseconds (9223372036854775807 overflowed and trapped).
        if !(0...86_400).contains(progressSeconds) { throw ValidationError("--progress-seconds must be 0…86400 (got \(progressSeconds))") }
        if !(0...1).contains(crashPointShare) { throw ValidationError("--crash-point-share must be between 0 and 1 (got \(crashPointShare))") }
        if let oneIn, oneIn < 1 { throw ValidationError("--one-in must be at least 1 (got \(oneIn))") }
        if let maxFailures, maxFailures < 1 { throw ValidationError("--max-failures must be at least 1 (got \(maxFailures))") }
        if !(100...86_400_000).contains(childTimeoutMs) { throw ValidationError("--child-timeout-ms must be 100…86400000 (a day; got \(childTimeoutMs))") }
        if let crashPoint, crashPoint != "any", CrashPoint(rawValue: crashPoint) == nil {
            throw ValidationError("unknown crash point '\(crashPoint)'; known points: any, \(CrashPoint.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let plantedBug, PlantedBug(rawValue: plantedBug) == nil {
            throw ValidationError("unknown planted bug '\(plantedBug)'; known: \(PlantedBug.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let bug = plantedBug.flatMap(PlantedBug.init(rawValue:)) {
            for m in modes.compactMap(\.harnessMode).sorted(by: { $0.rawValue < $1.rawValue }) where m != bug.exposingMode {
                throw ValidationError("--planted-bug \(bug.rawValue) cannot show in the \(m.rawValue) mode: \(bug.whyNotShown(by: m)). It would pass and prove nothing; use --mode \(bug.exposingMode.rawValue).")
            }
        }
        if let workDir {
            // A usage error here, not a durability FAILURE later ("kept in missing/deep").
            let fs = PosixFileSystem()
            let parent = parentDirectory(workDir.count > 1 && workDir.hasSuffix("/") ? String(workDir.dropLast()) : workDir)
            if fs.fileExists(workDir) {
                if !fs.isDirectory(workDir) { throw ValidationError("--work-dir \(workDir) exists and is not a directory") }
                // The harness removes DIR/store, DIR/check and DIR/corruption as it runs: a
                // directory it did not make may hold a real store there (one was deleted and
                // the run reported PASSED, found from outside).
                let entries = ((try? fs.listDirectory(workDir)) ?? []).sorted()
                if !entries.isEmpty && !entries.contains(Self.workDirMarker) {
                    let shown = entries.prefix(3).joined(separator: ", ") + (entries.count > 3 ? ", …" : "")
                    throw ValidationError("--work-dir \(workDir) holds files (\(shown)) and no \(Self.workDirMarker), which augur-crash "
                                          + "writes into the directories it uses; it removes the store, check and corruption directories in "
                                          + "its work directory as it runs, so give it a new or empty directory")
                }
            } else if !fs.isDirectory(parent) {
                throw ValidationError("--work-dir \(workDir): its parent directory \(parent) does not exist")
            }
        }
        _ = try scenarios()
    }

    /// The most cycles, power-loss states or corruption cases one run takes, and the highest case number.
    static let countLimit = 1_000_000_000
    /// Written into a `--work-dir` the harness uses, so a later run knows the directory is its own.
    static let workDirMarker = "AUGUR-CRASH-WORK-DIR"

    /// Creates `--work-dir` (its parent exists: `validate`) and marks it as the harness's.
    func markWorkDirectory(_ dir: String) throws {
        let fs = PosixFileSystem()
        do throws(FileSystemError) {
            try fs.createDirectory(dir)
            let marker = try fs.open(joinPath(dir, Self.workDirMarker), mode: .create)
            defer { marker.close() }
            try marker.write(at: 0, Array("augur-crash work directory: its store, check and corruption directories are removed and remade by each run\n".utf8))
        } catch {
            throw ValidationError("--work-dir \(dir): \(error)")
        }
    }

    func scenarios() throws -> [FaultScenario] {
        guard let faultScenarios else { return FaultScenario.allCases }
        var out: [FaultScenario] = []
        for name in faultScenarios.split(separator: ",").map({ $0.trimmingCharacters() }) where !name.isEmpty {
            guard let s = FaultScenario(rawValue: name) else {
                throw ValidationError("unknown fault scenario '\(name)'; known: \(FaultScenario.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            out.append(s)
        }
        if out.isEmpty { throw ValidationError("--fault-scenarios names no scenario") }
        return out
    }

    func run() throws {
        let seed = self.seed ?? UInt64.random(in: 1...UInt64(Int64.max))
        let bug = plantedBug.flatMap(PlantedBug.init(rawValue:))
        let cycles = self.cycles ?? (long ? 3000 : 200)
        let states = powerStates ?? (long ? 20_000 : 2000)
        let progress = progressSeconds * 1000
        print("augur-crash: seed \(seed)\(long ? ", long run" : "")\(bug.map { ", planted bug \($0.rawValue) (\($0.exposingMode.rawValue) mode only)" } ?? "")")
        // SIGINT/SIGTERM end the current loop; the partial summaries still print (F13).
        do throws(Errno) { try StopSignals.install() } catch { print("augur-crash: cannot catch SIGINT/SIGTERM (\(error)); a stopped run will print nothing") }
        var total = RunSummary(seed: seed, label: "total")
        var keptDirectory: [String] = []
        // Only the modes that write there; the power-loss and fault modes work in memory.
        if let workDir, !modes.isDisjoint(with: [.sigkill, .corruption]) { try markWorkDirectory(workDir) }

        if modes.contains(.sigkill) && stopRequested == nil {
            let dir = workDir ?? makeTemporaryDirectory()
            // A kept temporary directory may be given back as --work-dir to replay in it.
            if workDir == nil { try markWorkDirectory(dir) }
            var config = ProcessCrashConfig(executable: ProcessLifetime.executablePath, directory: dir, cycles: cycles, seed: seed)
            config.crashPointShare = crashPointShare
            config.oneIn = oneIn ?? 0
            config.crashPointFilter = crashPoint
            config.plantedBug = bug
            config.childTimeoutMilliseconds = childTimeoutMs
            config.failureLimit = maxFailures ?? (bug != nil ? 5 : 25)
            config.progressMilliseconds = progress
            let s = ProcessCrashRunner.run(config)
            print(s.render(allFailures: allFailures))
            if s.passed { if workDir == nil { PosixFileSystem().removeTree(dir) } } else { keptDirectory.append("the SIGKILL mode's store and logs are kept in \(dir)") }
            total.merge(s)
        }
        if modes.contains(.powerLoss) && stopRequested == nil {
            var config = PowerLossConfig(seed: seed, states: states, plantedBug: bug)
            config.failureLimit = maxFailures ?? (bug != nil ? 5 : 25)
            config.progressMilliseconds = progress
            let s = PowerLossRunner.run(config)
            print(s.render(allFailures: allFailures))
            total.merge(s)
        }
        if modes.contains(.faults) && stopRequested == nil {
            var config = FaultMatrixConfig(scenarios: try scenarios())
            config.seed = seed
            config.failureLimit = maxFailures ?? 25
            config.progressMilliseconds = progress
            let s = FaultMatrixRunner.run(config)
            print(s.render(allFailures: allFailures))
            total.merge(s)
        }
        if modes.contains(.corruption) && stopRequested == nil {
            let dir = corruptionBase ?? workDir.map { joinPath($0, "corruption") } ?? makeTemporaryDirectory()
            var config = CorruptionConfig(seed: seed, cases: corruptionCases ?? (long ? 3000 : 300), directory: dir,
                                          executable: ProcessLifetime.executablePath)
            config.plantedBug = bug
            config.isolate = !inProcess
            config.reuseBases = corruptionBase != nil
            config.onlyCase = corruptionCase
            config.progressMilliseconds = progress
            let s = CorruptionCampaign.run(config)
            print(s.render(allFailures: allFailures))
            if s.passed && corruptionBase == nil && workDir == nil { PosixFileSystem().removeTree(dir) } else if !s.passed {
                keptDirectory.append("the corruption campaign's base stores are kept in \(dir) (replay a case with --mode corruption --seed \(seed) --corruption-base \(dir) --corruption-case N)")
            }
            total.merge(s.runSummary)
        }
        if total.stoppedBy == nil { total.stoppedBy = stopRequested }
        // The total, also when a stop came before any mode printed its summary.
        if modes.count > 1 || (total.stoppedBy != nil && total.seconds == 0) {
            print(total.render(allFailures: allFailures))
        }
        for line in keptDirectory { print(line) }
        if let sig = total.stoppedBy {
            print("augur-crash: stopped by \(ProcessSignal.name(sig)); the counts above are partial (seed \(seed))")
            throw ExitCode(128 + sig)
        }
        if !total.passed { throw ExitCode.failure }
    }

    func makeTemporaryDirectory() -> String {
        (try? PosixFileSystem().makeTemporaryDirectory(prefix: "augur-crash")) ?? "/tmp/augur-crash-\(ProcessLifetime.currentID)"
    }
}

/// `augur-crash child` (hidden): the child engine process of the SIGKILL modes.
struct ChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "child", abstract: "(internal) the child engine process.", shouldDisplay: false)

    @Option var store: String
    @Option var log: String
    @Option var seed: UInt64
    @Option(name: .customLong("first-op")) var firstOp: UInt64 = 0
    @Option(name: .customLong("crash-point")) var crashPoint: String?
    @Option(name: .customLong("one-in")) var oneIn: Int = 1
    @Option(name: .customLong("max-ops")) var maxOps: Int = 100_000
    @Option(name: .customLong("deadline-ms")) var deadlineMs: Int = 10_000
    @Option(name: .customLong("planted-bug")) var plantedBug: String?
    @Option(name: .customLong("raise-signal")) var raiseSignal: Int32?
    @Flag(name: .customLong("exit-without-close")) var exitWithoutClose = false
    @Flag(name: .customLong("flush-at-end")) var flushAtEnd = false
    @Option(name: .customLong("max-runs")) var maxRuns: Int?
    @Option(name: .customLong("manifest-rotation-size")) var manifestRotationSize: Int?
    @Option(name: .customLong("memtable-flush-size")) var memtableFlushSize: Int?
    @Option var weights: String?
    @Option(name: .customLong("arm-after-ops")) var armAfterOps: Int?

    func validate() throws {
        if oneIn < 1 { throw ValidationError("--one-in must be at least 1 (got \(oneIn))") }
        if let crashPoint, crashPoint != "any", CrashPoint(rawValue: crashPoint) == nil {
            throw ValidationError("unknown crash point '\(crashPoint)'")
        }
        if let plantedBug, PlantedBug(rawValue: plantedBug) == nil { throw ValidationError("unknown planted bug '\(plantedBug)'") }
    }

    func run() throws {
        var config = ChildConfig(storePath: store, logPath: log, seed: seed)
        config.firstOp = firstOp
        config.crashPoint = crashPoint
        config.oneIn = oneIn
        config.maxOps = maxOps
        config.deadlineMilliseconds = deadlineMs
        config.plantedBug = plantedBug.flatMap(PlantedBug.init(rawValue:))
        config.raiseSignal = raiseSignal
        config.exitWithoutClose = exitWithoutClose
        config.flushAtEnd = flushAtEnd
        config.maxRunsPerPartition = maxRuns
        config.manifestRotationSize = manifestRotationSize
        config.memtableFlushSize = memtableFlushSize
        config.armAfterOperations = armAfterOps
        config.weights = weights.map { $0.split(separator: ",").compactMap { Int($0) } }
        let code = ChildWorkload.run(config)
        if code != 0 { throw ExitCode(code) }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

/// `augur-crash corruption-child` (hidden): opens damaged copies of the corruption campaign's
/// base stores, so that a trap while opening one ends this process, not the campaign.
struct CorruptionChildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "corruption-child", abstract: "(internal) runs corruption cases.", shouldDisplay: false)

    @Option(name: .customLong("work-dir")) var workDir: String
    @Option var seed: UInt64
    @Option var first: Int
    @Option var count: Int
    @Option var log: String
    @Option(name: .customLong("planted-bug")) var plantedBug: String?

    func validate() throws {
        if first < 0 || count < 1 { throw ValidationError("--first must be 0 or more and --count at least 1") }
        if let plantedBug, PlantedBug(rawValue: plantedBug) == nil { throw ValidationError("unknown planted bug '\(plantedBug)'") }
    }

    func run() throws {
        let code = CorruptionCampaign.runChild(directory: workDir, seed: seed, first: first, count: count, logPath: log,
                                               plantedBug: plantedBug.flatMap(PlantedBug.init(rawValue:)))
        if code != 0 { throw ExitCode(code) }
    }
}
