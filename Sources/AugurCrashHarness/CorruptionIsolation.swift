// The corruption campaign's isolation: damaged stores are opened in child processes
// (`augur-crash corruption-child`), a slice of cases each, so that a Swift runtime trap or a
// hang while opening one fails that case instead of ending the harness. The child logs
// "B <i>" before case i and "O <i> <verdict> <detail>" after it; a child that dies between the
// two (or whose log stops moving) leaves case i as trapped, and the next child starts after it.
@_spi(Testing) import Augur
import AugurSys

extension CorruptionCampaign {
    /// Runs the cases in child processes (`augur-crash corruption-child`), a slice each. A
    /// child that dies of a signal or stops writing its log is a failure of the case it had
    /// begun; the next child starts after that case.
    static func runIsolated(_ config: CorruptionConfig, indices: Range<Int>, bases: [BaseStore], into summary: inout CorruptionSummary) {
        let layouts = bases.map(\.layout)
        let plan = CorruptionPlan.combinations(layouts, seed: config.seed)
        guard !plan.isEmpty else { return }
        var progress = ProgressReporter(label: "corruption", intervalMilliseconds: config.progressMilliseconds)
        let logPath = joinPath(config.directory, "cases.log"), outPath = joinPath(config.directory, "cases.out")
        let fs = PosixFileSystem()
        var next = indices.lowerBound
        while next < indices.upperBound {
            if let sig = stopRequested { summary.stoppedBy = sig; break }
            let end = min(next + config.batchSize, indices.upperBound)
            try? fs.remove(logPath)
            var args = ["corruption-child", "--work-dir", config.directory, "--seed", String(config.seed),
                        "--first", String(next), "--count", String(end - next), "--log", logPath]
            if let bug = config.plantedBug { args += ["--planted-bug", bug.rawValue] }
            let process: ChildProcess
            do { process = try ChildProcess(executable: config.executable, arguments: args, standardOutput: outPath, standardError: outPath) } catch {
                summary.setupFailures.append("\(error)")
                return
            }
            var lastSize = -1, lastChange = monotonicMilliseconds(), hung = false
            while process.poll() == nil {
                if stopRequested != nil { process.kill(); break }
                let size = (try? fs.fileSize(logPath)) ?? 0
                let now = monotonicMilliseconds()
                if size != lastSize { lastSize = size; lastChange = now }
                if now - lastChange > config.caseTimeoutMilliseconds { hung = true; process.kill(); break }
                ThreadPause.sleep(nanoseconds: 2_000_000)
            }
            let exit = process.poll() ?? process.kill()
            var pending: Int? = nil
            for line in RecordLog.read(path: logPath) {
                let words = line.split(separator: " ", maxSplits: 3)
                guard words.count >= 2, let i = Int(words[1]) else { continue }
                if words[0] == "B" { pending = i; continue }
                guard words[0] == "O", words.count >= 3, let verdict = CaseVerdict(rawValue: String(words[2])),
                      let c = CorruptionPlan.makeCase(i, combination: plan[i % plan.count], seed: config.seed, bases: layouts) else { continue }
                summary.record(c, CaseOutcome(verdict, words.count > 3 ? String(words[3]) : ""))
                pending = nil
            }
            if let sig = stopRequested { summary.stoppedBy = sig; break }
            if let i = pending, let c = CorruptionPlan.makeCase(i, combination: plan[i % plan.count], seed: config.seed, bases: layouts) {
                let how = hung ? "hung (no progress for \(config.caseTimeoutMilliseconds) ms; killed)" : "the process opening it ended with \(exit)"
                summary.record(c, CaseOutcome(.trapped, how + ProcessCrashRunner.outputTail(outPath)))
                next = i + 1
            } else if exit == .exited(0) {
                next = end
            } else {
                summary.setupFailures.append("a case process ended with \(exit) outside any case\(ProcessCrashRunner.outputTail(outPath))")
                return
            }
            progress.tick(done: summary.cases, of: indices.count, unit: "cases", failures: summary.failures.count)
        }
        try? fs.remove(logPath)
        try? fs.remove(outPath)
    }

    /// The child side (`augur-crash corruption-child`): runs cases first..<first+count, logging
    /// "B <i>" before each and "O <i> <verdict> <detail>" after. Returns the exit code.
    @_spi(Testing) public static func runChild(directory: String, seed: UInt64, first: Int, count: Int, logPath: String,
                                plantedBug: PlantedBug?) -> Int32 {
        let log: RecordLog
        do { log = try RecordLog(path: logPath) } catch {
            print("augur-crash corruption-child: \(error)")
            return 2
        }
        let bases: [BaseStore]
        do { bases = try loadBases(directory) } catch {
            print("augur-crash corruption-child: \(error)")
            return 2
        }
        let layouts = bases.map(\.layout)
        let plan = CorruptionPlan.combinations(layouts, seed: seed)
        guard !plan.isEmpty else { return 2 }
        for i in first..<(first + count) {
            guard let c = CorruptionPlan.makeCase(i, combination: plan[i % plan.count], seed: seed, bases: layouts),
                  let base = bases.first(where: { $0.family == c.family }) else { continue }
            log.append("B \(i)")
            let outcome = runCase(c, base: base, scratch: joinPath(directory, "case"), plantedBug: plantedBug)
            log.append("O \(i) \(outcome.verdict.rawValue) \(oneLine(outcome.detail))")
        }
        return 0
    }
}
