// M1 and M2: a parent process runs a child engine process (`augur-crash child`, the same
// executable) on a real store under a work directory and kills it with SIGKILL — at a random
// moment (M1), or lets it kill itself at a crash point (M2). After each kill it reads the
// child's intent/ack log into the oracle, copies the store, and checks the copy
// (`StoreChecker`); the next child recovers the untouched original (possibly crashing inside
// that recovery) and must report the same digest the check computed. A child that ends with any
// signal other than SIGKILL (SIGBUS, SIGSEGV, a Swift trap) or a non-zero exit is a failure.
@_spi(Testing) import Augur
import AugurSys
import AugurStats

public struct ProcessCrashConfig: Sendable {
    /// The `augur-crash` executable to spawn as the child.
    public var executable: String
    /// Work directory (created; the store, logs and check copies live under it).
    public var directory: String
    public var cycles: Int
    public var seed: UInt64
    /// Share of cycles in crash-point mode (M2); the rest are random parent kills (M1).
    public var crashPointShare = 0.5
    /// Crash probability 1/N at each hit of the targeted point; 0 = per point (1 for rare
    /// points, more for the WAL steps every operation hits).
    public var oneIn = 0
    /// Restrict M2 to one crash point (or "any").
    public var crashPointFilter: String? = nil
    /// Parent kills land up to this long after the child reports it recovered.
    public var maxKillDelayMilliseconds = 250
    /// An M2 child that has not crashed by then is killed by the parent.
    public var childTimeoutMilliseconds = 3000
    @_spi(Testing) public var plantedBug: PlantedBug? = nil
    public var failureLimit = 10
    /// Test hook: the child raises this signal at start (the run must report it).
    public var childRaisesSignal: Int32? = nil
    /// Progress lines on stderr (0: none).
    public var progressMilliseconds = 0

    public init(executable: String, directory: String, cycles: Int, seed: UInt64) {
        self.executable = executable
        self.directory = directory
        self.cycles = cycles
        self.seed = seed
    }
}

public enum ProcessCrashRunner {
    /// Points of M2 in round-robin order, with the default 1/N for each.
    static func defaultOneIn(_ point: String) -> Int {
        switch point {
        case CrashPoint.walAppend.rawValue, CrashPoint.walSync.rawValue: 25
        case CrashPoint.manifestAppend.rawValue: 4
        case "any": 40
        default: 1
        }
    }

    public static func run(_ config: ProcessCrashConfig) -> RunSummary {
        let clock = ContinuousClock()
        let start = clock.now
        var summary = RunSummary(seed: config.seed, label: "sigkill" + (config.plantedBug.map { " (planted bug \($0.rawValue))" } ?? ""))
        var rng = SplitMix64(seed: config.seed)
        let store = joinPath(config.directory, "store")
        let check = joinPath(config.directory, "check")
        let logPath = joinPath(config.directory, "child.log")
        let outPath = joinPath(config.directory, "child.out")
        let fs = PosixFileSystem()
        do throws(FileSystemError) { try fs.createDirectory(config.directory) } catch {
            summary.fail("cannot create \(config.directory): \(error)")
            return summary
        }
        fs.removeTree(store)
        var oracle = Oracle()
        var expectedDigest: UInt64? = nil
        var targets = CrashPoint.allCases.map(\.rawValue) + ["any"]
        if let f = config.crashPointFilter { targets = [f] }
        var targetIndex = Int(config.seed % UInt64(targets.count))
        var pendingReshard = false
        let insideReshard: Set<String> = [CrashPoint.reshardPrepared, .reshardCopied, .reshardTargetsSynced, .reshardDirectorySynced].map(\.rawValue).reduce(into: []) { $0.insert($1) }

        var progress = ProgressReporter(label: "sigkill", intervalMilliseconds: config.progressMilliseconds)
        for cycle in 0..<config.cycles {
            if summary.failures.count >= config.failureLimit { break }
            if let sig = stopRequested {
                summary.stoppedBy = sig
                break
            }
            progress.tick(done: cycle, of: config.cycles, unit: "cycles", failures: summary.failures.count,
                          extra: "\(summary.statesChecked) states checked")
            let childSeed = rng.next()
            var child = ChildConfig(storePath: store, logPath: logPath, seed: childSeed)
            child.firstOp = UInt64(cycle) * 1_000_000
            child.plantedBug = config.plantedBug
            child.raiseSignal = config.childRaisesSignal
            child.deadlineMilliseconds = config.childTimeoutMilliseconds + 5000
            // After a self-crash inside a reshard, the next child targets the rollback of that
            // reshard in its recovery (the only place reshard.rollback can fire).
            let rollbackDue = config.crashPointFilter == nil && pendingReshard
            let crashPointMode = rollbackDue || Double(rng.next() % 10_000) / 10_000 < config.crashPointShare
            if crashPointMode {
                let target: String
                if rollbackDue {
                    target = CrashPoint.reshardRolledBack.rawValue
                } else {
                    target = targets[targetIndex % targets.count]
                    targetIndex += 1
                }
                child.crashPoint = target
                child.oneIn = config.oneIn > 0 ? config.oneIn : defaultOneIn(target)
                // recovery.replayed fires only while opening: write first, then reopen armed, so
                // the crash lands in the replay of data (not of the empty store that a run
                // targeting only this point would otherwise keep).
                if target == CrashPoint.recoveryReplayed.rawValue { child.armAfterOperations = 1 + Int(rng.next() % 60) }
            }
            let context = "seed \(config.seed) cycle \(cycle)" + (child.crashPoint.map { " (crash point \($0), 1/\(child.oneIn))" } ?? " (parent kill)")
            try? fs.remove(logPath)
            let process: ChildProcess
            do { process = try ChildProcess(executable: config.executable, arguments: child.arguments, standardOutput: outPath, standardError: outPath) } catch {
                summary.fail("\(context): \(error)")
                break
            }
            summary.cycles += 1
            var exit: ChildExit
            var killedByParent = false
            var killedDuringRecovery = false
            if crashPointMode {
                if let e = process.wait(deadline: .now + .milliseconds(config.childTimeoutMilliseconds)) { exit = e } else {
                    exit = process.kill()
                    killedByParent = true
                }
            } else {
                // Now and then kill during startup and recovery; usually while the workload runs.
                let early = rng.next() % 6 == 0
                let delay = Int(rng.next() % UInt64(early ? 40 : config.maxKillDelayMilliseconds + 1))
                let limit = monotonicMilliseconds() + config.childTimeoutMilliseconds
                var ready = false
                while !early && !ready && process.poll() == nil && monotonicMilliseconds() < limit {
                    ready = RecordLog.read(path: logPath).contains { $0.hasPrefix("R ") }
                    if !ready { ThreadPause.sleep(nanoseconds: 1_000_000) }
                }
                if process.wait(deadline: .now + .milliseconds(delay)) != nil {
                    exit = process.poll()!
                } else {
                    exit = process.kill()
                    killedByParent = true
                }
                killedDuringRecovery = !RecordLog.read(path: logPath).contains { $0.hasPrefix("R ") }
            }
            // Ctrl-C reaches the child too (same process group): a stopped run ends here, without
            // taking the child's SIGINT for a failure.
            if let sig = stopRequested {
                summary.stoppedBy = sig
                break
            }
            // How did it end?
            let lines = RecordLog.read(path: logPath)
            // The log is per cycle and "C <point>" is written only just before a self-kill, but a
            // crash point on a background thread (a flush, a WAL trim, a segment unlink) can race
            // the workload thread, whose next line may land after it: any C line counts.
            let selfCrash = lines.last { $0.hasPrefix("C ") }.map { String($0.dropFirst(2)) }
            pendingReshard = selfCrash.map { insideReshard.contains($0) } ?? false
            switch exit {
            case .signaled(ProcessSignal.kill):
                if let point = selfCrash, !killedByParent {
                    summary.selfCrashes += 1
                    summary.hit(point)
                } else if killedByParent {
                    summary.parentKills += 1
                    summary.hit(killedDuringRecovery ? "parent-kill(recovery)" : "parent-kill(workload)")
                } else {
                    summary.fail("\(context): the child died of SIGKILL nobody sent")
                }
            case .exited(0):
                summary.cleanExits += 1
            default:
                summary.fail("\(context): the child died with \(exit)\(outputTail(outPath))")
            }
            // Rebuild the history from the log.
            var current: Op? = nil
            for line in lines {
                let words = line.split(separator: " ", maxSplits: 2)
                guard let tag = words.first else { continue }
                switch tag {
                case "R":
                    let digest = words.count > 1 ? UInt64(words[1]) : nil
                    if let expectedDigest, digest != expectedDigest {
                        summary.fail("\(context): the child recovered a different state (digest \(digest.map(String.init) ?? "?"), \(words.count > 2 ? String(words[2]) : "?") records) than the parent's check of the same crash image (digest \(expectedDigest), \(oracle.base.recordCount) records)")
                    }
                case "I":
                    guard words.count == 3, let op = Op(encoded: words[2]) else {
                        summary.fail("\(context): unreadable intent record: \(line.prefix(80))")
                        continue
                    }
                    current = op
                    oracle.begin(op)
                case "A":
                    if current?.isDataOp == true { summary.operationsAcknowledged += 1 }
                    oracle.acknowledge()
                    current = nil
                case "E":
                    let rest = words.count == 3 ? String(words[2]) : ""
                    if !(rest.hasPrefix("reject") && current?.isDataOp == false) {
                        summary.fail("\(context): \(current.map { "\($0)" } ?? "an operation") failed without any injected fault: \(rest)")
                    }
                    oracle.fail()
                    current = nil
                case "X":
                    summary.fail("\(context): child: \(line.dropFirst(2))")
                default:
                    break
                }
            }
            // Check a copy; the next child recovers the original.
            fs.removeTree(check)
            do { try copyTree(from: store, to: check) } catch {
                if fs.isDirectory(store) { summary.fail("\(context): \(error)") }
                continue
            }
            let result = StoreChecker.check(path: check, fileSystem: fs, oracle: oracle, context: context)
            summary.add(result)
            guard let state = result.state else {
                summary.fail("\(context): the store cannot be recovered; stopping (it is kept in \(store))")
                break
            }
            oracle.settle(on: state)
            expectedDigest = state.digest
        }
        fs.removeTree(check)
        if summary.failures.isEmpty {
            fs.removeTree(store)
            try? fs.remove(logPath)
            try? fs.remove(outPath)
        }
        summary.seconds = Double((clock.now - start).components.seconds) + Double((clock.now - start).components.attoseconds) / 1e18
        return summary
    }

    static func outputTail(_ path: String) -> String {
        let lines = RecordLog.read(path: path).suffix(4).map(String.init)
        return lines.isEmpty ? "" : "; its output ends: " + lines.joined(separator: " | ")
    }
}
