// The child process of the SIGKILL modes (`augur-crash child …`).
//
// It recovers the store, logs a digest of what it recovered, then runs the workload under
// `sync` durability. Before each operation it appends an intent record ("I <n> <op>") to a log
// file outside the store, and after the operation returns an ack ("A <n>") or error record —
// each with one write(2), before the next operation starts — so the parent can rebuild the
// history after the kill. In crash-point mode (M2) a hook on the engine's crash points kills
// the process with SIGKILL with probability 1/N at the targeted point (or at any point), after
// logging where ("C <point>"); recovery itself has crash points too.
//
// Records: S <pid> | R <digest> <records> | I <n> <op> | A <n> | E <n> reject|error <message>
//          | C <point> | X <fatal message> | D (finished without being killed)
@_spi(Testing) import Augur
import AugurSys
import Dispatch
import Synchronization
import AugurStats

public struct ChildConfig: Sendable {
    public var storePath: String
    public var logPath: String
    public var seed: UInt64
    /// Operation numbers start after this (values name the operation that wrote them).
    public var firstOp: UInt64 = 0
    /// Crash-point mode: the point to crash at ("any" = every point), nil = no self-crash (M1).
    public var crashPoint: String? = nil
    /// Crash with probability 1/oneIn at each hit of the targeted point.
    public var oneIn: Int = 1
    public var maxOps: Int = 100_000
    /// The child closes the store and exits on its own after this long.
    public var deadlineMilliseconds: Int = 10_000
    @_spi(Testing) public var plantedBug: PlantedBug? = nil
    /// Test hook: die with this signal right after starting (proves the parent reports it).
    public var raiseSignal: Int32? = nil
    /// After the last operation, leave without closing the engine (as a crash would: the
    /// corruption campaign's "abandoned" base stores).
    public var exitWithoutClose = false
    /// Overrides the harness's manifest rotation size (bytes), so a manifest keeps more records.
    public var manifestRotationSize: Int? = nil
    /// After the last operation, flush every memtable (logged as an operation) before leaving.
    public var flushAtEnd = false
    /// Overrides the harness's runs per partition before a flush merges them.
    public var maxRunsPerPartition: Int? = nil
    /// Overrides the harness's memtable flush size (bytes).
    public var memtableFlushSize: Int? = nil
    /// Overrides the generator's operation weights (`WorkloadGenerator.weights`).
    public var weights: [Int]? = nil
    /// The crash point is armed only after this many operations, and then the engine is
    /// closed and opened again: for the points that fire only in recovery (recovery.replayed),
    /// which otherwise would only ever crash the recovery of what earlier children left — an
    /// empty store when every cycle targets them (F11).
    public var armAfterOperations: Int? = nil

    public init(storePath: String, logPath: String, seed: UInt64) {
        self.storePath = storePath
        self.logPath = logPath
        self.seed = seed
    }

    /// Arguments for `augur-crash child`.
    public var arguments: [String] {
        var a = ["child", "--store", storePath, "--log", logPath, "--seed", String(seed), "--first-op", String(firstOp),
                 "--max-ops", String(maxOps), "--deadline-ms", String(deadlineMilliseconds)]
        if let crashPoint { a += ["--crash-point", crashPoint, "--one-in", String(oneIn)] }
        if let plantedBug { a += ["--planted-bug", plantedBug.rawValue] }
        if let raiseSignal { a += ["--raise-signal", String(raiseSignal)] }
        if exitWithoutClose { a.append("--exit-without-close") }
        if flushAtEnd { a.append("--flush-at-end") }
        if let maxRunsPerPartition { a += ["--max-runs", String(maxRunsPerPartition)] }
        if let manifestRotationSize { a += ["--manifest-rotation-size", String(manifestRotationSize)] }
        if let memtableFlushSize { a += ["--memtable-flush-size", String(memtableFlushSize)] }
        if let weights { a += ["--weights", weights.map(String.init).joined(separator: ",")] }
        if let armAfterOperations { a += ["--arm-after-ops", String(armAfterOperations)] }
        return a
    }
}

public enum ChildWorkload {
    /// Runs until killed, until `maxOps` operations, or until the deadline. Returns the exit code.
    public static func run(_ config: ChildConfig) -> Int32 {
        let log: RecordLog
        do { log = try RecordLog(path: config.logPath) } catch {
            print("augur-crash child: \(error)")
            return 2
        }
        log.append("S \(ProcessLifetime.currentID)")
        if let sig = config.raiseSignal {
            // Default action, as for a real fault once the runtime's crash handler has run.
            ProcessSignal.raiseWithDefaultAction(sig)
        }
        startParentWatchdog()

        var hook: (@Sendable (CrashPoint) -> Void)? = nil
        let armed = Atomic<Bool>(config.armAfterOperations == nil)
        if let target = config.crashPoint {
            let rng = Mutex(SplitMix64(seed: config.seed ^ 0xC4A5_4E11))
            let oneIn = UInt64(max(1, config.oneIn))
            hook = { point in
                guard armed.load(ordering: .acquiring), target == "any" || target == point.rawValue else { return }
                let fire = rng.withLock { $0.next() % oneIn == 0 }
                if fire {
                    log.append("C \(point.rawValue)")
                    ProcessExit.killSelf()
                }
            }
        }
        var options = harnessEngineOptions(fileSystem: PosixFileSystem(), plantedBug: config.plantedBug, crashPoint: hook)
        if let size = config.manifestRotationSize { options.manifestRotationSize = size }
        if let size = config.memtableFlushSize { options.memtableFlushSize = size }
        if let runs = config.maxRunsPerPartition { options.maxRunsPerPartition = runs }
        var engine: Engine
        do { engine = try Engine.open(at: config.storePath, options: options) } catch {
            log.append("X recovery failed: \(oneLine(error.description))")
            return 3
        }
        var executor = WorkloadExecutor(engine: engine)
        do {
            let state = try dumpState(engine)
            log.append("R \(state.digest) \(state.recordCount)")
            try executor.prepareTables()
        } catch {
            log.append("X reading the recovered store failed: \(oneLine(error.description))")
            return 3
        }
        var generator = WorkloadGenerator(seed: config.seed, firstOpNumber: config.firstOp)
        if let weights = config.weights, weights.count == generator.weights.count { generator.weights = weights }
        let deadline = monotonicMilliseconds() + config.deadlineMilliseconds
        for n in 0..<config.maxOps {
            if monotonicMilliseconds() > deadline { break }
            if n == config.armAfterOperations {
                // Reopen with the crash point armed: its recovery replays what this child wrote.
                do {
                    try engine.close()
                    armed.store(true, ordering: .releasing)
                    engine = try Engine.open(at: config.storePath, options: options)
                    executor = WorkloadExecutor(engine: engine)
                    try executor.prepareTables()
                } catch {
                    log.append("X reopening to arm the crash point failed: \(oneLine(error.description))")
                    return 3
                }
            }
            let op: Op
            do { op = generator.next(partitions: try executor.partitions()) } catch {
                log.append("X reading partitions failed: \(oneLine(error.description))")
                return 3
            }
            log.append("I \(n) \(op.encoded)")
            do throws(AugurError) {
                try executor.execute(op)
                log.append("A \(n)")
            } catch {
                log.append("E \(n) \(error.isPlanRejection ? "reject" : "error") \(oneLine(error.description))")
            }
        }
        if config.flushAtEnd {
            log.append("I \(config.maxOps) flush")
            do throws(AugurError) {
                try engine.flush()
                log.append("A \(config.maxOps)")
            } catch {
                log.append("X the final flush failed: \(oneLine(error.description))")
                return 3
            }
        }
        if config.exitWithoutClose {
            // Everything acknowledged is synced; whatever runs in the background (a flush, a
            // WAL trim) stops where it is, as in a crash.
            log.append("D")
            ProcessExit.immediately(0)
        }
        do { try engine.close() } catch {
            log.append("X close failed: \(oneLine(error.description))")
            return 3
        }
        log.append("D")
        return 0
    }

    /// Exits if the parent goes away (the child must never outlive the harness).
    static func startParentWatchdog() {
        let parent = ProcessLifetime.parentID
        let queue = DispatchQueue(label: "augur-crash.watchdog")
        queue.async {
            while true {
                if ProcessLifetime.parentID != parent { ProcessExit.immediately(4) }
                ThreadPause.sleep(nanoseconds: 50_000_000)
            }
        }
    }
}

func oneLine(_ s: String) -> String { s.split(whereSeparator: \.isNewline).joined(separator: " ") }
