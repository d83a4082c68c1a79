// augur-crash: the crash-recovery and fault-injection harness (see docs/crash-harness.md).
//
//   augur-crash                      short run: SIGKILL cycles, power-loss states, fault matrix
//   augur-crash --long               thousands of cycles and states
//   augur-crash --seed S             replay a run (the summary prints the seed)
//   augur-crash child …              (internal) the child engine process of the SIGKILL modes
import ArgumentParser
import Augur
import AugurCrashHarness
import AugurSys
#if canImport(Glibc)
import Glibc
#endif

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
        and WAL paths). Every run prints a summary with the seed to replay it.
        """,
        subcommands: [RunCommand.self, ChildCommand.self],
        defaultSubcommand: RunCommand.self
    )
}

enum Mode: String, CaseIterable, ExpressibleByArgument {
    case all, sigkill, powerLoss = "power-loss", faults
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the harness (the default).")

    @Flag(help: "Long run: thousands of SIGKILL cycles and power-loss states.")
    var long = false

    @Option(help: "Seed to replay a run (default: random, printed in the summary).")
    var seed: UInt64?

    @Option(help: "Which modes to run: \(Mode.allCases.map(\.rawValue).joined(separator: ", ")). Repeatable.")
    var mode: [Mode] = []

    @Option(help: "SIGKILL cycles (child processes killed). Default 200, 3000 with --long.")
    var cycles: Int?

    @Option(name: .customLong("power-states"), help: "Power-loss crash states to check. Default 2000, 20000 with --long.")
    var powerStates: Int?

    @Option(name: .customLong("crash-point-share"), help: "Share of SIGKILL cycles in which the child kills itself at a crash point (0...1). Default 0.5.")
    var crashPointShare: Double = 0.5

    @Option(name: .customLong("one-in"), help: "Crash at a hit of the targeted crash point with probability 1/N (default: per point).")
    var oneIn: Int?

    @Option(name: .customLong("crash-point"), help: "Only crash at this point in crash-point cycles (a crash-point name, or 'any').")
    var crashPoint: String?

    @Option(name: .customLong("fault-scenarios"), help: "Comma-separated fault-matrix scenarios (default: all): \(FaultScenario.allCases.map(\.rawValue).joined(separator: ", ")).")
    var faultScenarios: String?

    @Option(name: .customLong("planted-bug"), help: "Switch on a known durability bug (the run must then report lost writes): \(PlantedBug.allCases.map(\.rawValue).joined(separator: ", ")).")
    var plantedBug: String?

    @Option(name: .customLong("work-dir"), help: "Directory for the SIGKILL mode's store and logs (default: a new directory under /tmp; kept when the run fails).")
    var workDir: String?

    @Option(name: .customLong("child-timeout-ms"), help: "A crash-point child that has not crashed after this many milliseconds is killed by the parent. Default 3000.")
    var childTimeoutMs = 3000

    @Option(name: .customLong("max-failures"), help: "Stop a mode after this many failures (default 25; 5 with --planted-bug).")
    var maxFailures: Int?

    @Flag(name: .customLong("all-failures"), help: "List every failure in the summary (default: the first 20).")
    var allFailures = false

    var modes: Set<Mode> { mode.isEmpty || mode.contains(.all) ? [.sigkill, .powerLoss, .faults] : Set(mode) }

    func validate() throws {
        if let cycles, cycles < 0 { throw ValidationError("--cycles must be 0 or more (got \(cycles))") }
        if let powerStates, powerStates < 0 { throw ValidationError("--power-states must be 0 or more (got \(powerStates))") }
        if !(0...1).contains(crashPointShare) { throw ValidationError("--crash-point-share must be between 0 and 1 (got \(crashPointShare))") }
        if let oneIn, oneIn < 1 { throw ValidationError("--one-in must be at least 1 (got \(oneIn))") }
        if let maxFailures, maxFailures < 1 { throw ValidationError("--max-failures must be at least 1 (got \(maxFailures))") }
        if childTimeoutMs < 100 { throw ValidationError("--child-timeout-ms must be at least 100 (got \(childTimeoutMs))") }
        if let crashPoint, crashPoint != "any", CrashPoint(rawValue: crashPoint) == nil {
            throw ValidationError("unknown crash point '\(crashPoint)'; known points: any, \(CrashPoint.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let plantedBug, PlantedBug(rawValue: plantedBug) == nil {
            throw ValidationError("unknown planted bug '\(plantedBug)'; known: \(PlantedBug.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        _ = try scenarios()
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
        print("augur-crash: seed \(seed)\(long ? ", long run" : "")\(bug.map { ", planted bug \($0.rawValue)" } ?? "")")
        var total = RunSummary(seed: seed, label: "total")
        var keptDirectory: String? = nil

        if modes.contains(.sigkill) && cycles > 0 {
            let dir = workDir ?? makeTemporaryDirectory()
            var config = ProcessCrashConfig(executable: currentExecutablePath(), directory: dir, cycles: cycles, seed: seed)
            config.crashPointShare = crashPointShare
            config.oneIn = oneIn ?? 0
            config.crashPointFilter = crashPoint
            config.plantedBug = bug
            config.childTimeoutMilliseconds = childTimeoutMs
            config.failureLimit = maxFailures ?? (bug != nil ? 5 : 25)
            let s = ProcessCrashRunner.run(config)
            print(s.render(allFailures: allFailures))
            if s.passed { if workDir == nil { removeTree(dir) } } else { keptDirectory = dir }
            total.merge(s)
        }
        if modes.contains(.powerLoss) && states > 0 {
            var config = PowerLossConfig(seed: seed, states: states, plantedBug: bug)
            config.failureLimit = maxFailures ?? (bug != nil ? 5 : 25)
            let s = PowerLossRunner.run(config)
            print(s.render(allFailures: allFailures))
            total.merge(s)
        }
        if modes.contains(.faults) {
            var config = FaultMatrixConfig(scenarios: try scenarios())
            config.seed = seed
            config.failureLimit = maxFailures ?? 25
            let s = FaultMatrixRunner.run(config)
            print(s.render(allFailures: allFailures))
            total.merge(s)
        }
        if modes.count > 1 {
            print(total.render(allFailures: allFailures))
        }
        if let keptDirectory { print("the SIGKILL mode's store and logs are kept in \(keptDirectory)") }
        if !total.passed { throw ExitCode.failure }
    }

    func makeTemporaryDirectory() -> String {
        var template = Array("/tmp/augur-crash-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return p.map { String(cString: $0) } ?? "/tmp/augur-crash-\(getpid())"
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
        let code = ChildWorkload.run(config)
        if code != 0 { throw ExitCode(code) }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
