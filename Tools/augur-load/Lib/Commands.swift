import ArgumentParser
import AugurSys
import AugurWorkload
import Foundation
import Synchronization

/// `augur-load`: drive an engine with a workload and report throughput, latency and partitioning.
public struct AugurLoad: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "augur-load",
        abstract: "Load generator for Augur: YCSB A-F, hotspots, time series and bulk loads under rate profiles.",
        discussion: """
        Examples:
          YCSB-A, closed loop, as fast as it goes:
            augur-load -w a --duration 30
          YCSB-A on a drifting hot range under a compressed day, with an HTML report:
            augur-load -w a --distribution moving-hotspot --profile diurnal \\
              --rate 2000 --peak-rate 8000 --period 60 --report report.html
          Replay a load curve (one CSV row per second):
            augur-load -w c --profile replay --csv demand.csv --column demand_mw \\
              --peak-rate 10000 --row-seconds 1
          Same workload against several engines (peers build: augur-load-peers):
            augur-load compare -w fillrandom --engines augur,lmdb,rocksdb
          Same scenario under static, reactive and predictive partitioning, side by side:
            augur-load policies -w a --distribution moving-hotspot --profile replay \\
              --csv demand.csv --peak-rate 40000 --json runs.json --report report.html

        Exit status: 0 success; 64 bad arguments (unknown names, negative rates, numbers
        outside their stated limits, missing files or columns, a partition policy the engine
        lacks); 1 a failed run; 2 the run finished but some operations failed (e.g. disk full;
        the results count them); 130 or 143 a run cut short by SIGINT or SIGTERM (128 + the
        signal; the results of the part that ran are still written, and no later run starts).

        Without --dir each run uses a temporary store, augur-load-<engine>-<pid>-<n> in
        $TMPDIR (default /tmp), removed at the end, also after SIGINT or SIGTERM. Stores left
        by runs that were killed (SIGKILL) are removed by the next run.
        """,
        subcommands: [RunCommand.self, CompareCommand.self, PoliciesCommand.self],
        defaultSubcommand: RunCommand.self
    )
    public init() {}
}

/// Runs one workload against one engine.
public struct RunCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(commandName: "run", abstract: "Run one workload against one engine (the default).")
    @OptionGroup public var options: LoadOptions
    public init() {}

    public func run() throws {
        let scenario = try options.scenario()
        let result = try execute(scenario, engine: options.engine.lowercased(), options: options)
        try emit([result], options: options)
        try exitIfInterrupted()
        if result.operations == 0 { throw ExitCode.failure }
        try checkFailedOperations([result])
    }
}

/// Runs the same workload against several engines and prints the ratios.
public struct CompareCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Run the same workload against several engines (fresh store each) and print throughput and latency ratios.")
    @OptionGroup public var options: LoadOptions
    @Option(help: "Comma-separated engines; the first is the baseline of the ratios.")
    public var engines = "augur,lmdb,rocksdb"
    public init() {}

    public mutating func validate() throws {
        for e in engineList {
            do { try EngineRegistry.check(e) } catch { throw ValidationError(error.description) }
        }
        if engineList.isEmpty { throw ValidationError("--engines is empty") }
        if engineList.count > 1 { try checkSiblingReports(options.report, command: "compare", each: "engine", first: engineList[0]) }
    }

    var engineList: [String] { engines.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty } }

    public func run() throws {
        let scenario = try options.scenario()
        var results: [RunResult] = []
        for e in engineList where interruptingSignal.load(ordering: .relaxed) == 0 {
            log("== \(e) ==")
            results.append(try execute(scenario, engine: e, options: options))
        }
        try emit(results, options: options)
        log("")
        printSummary(compareTable(results), options: options)
        try exitIfInterrupted()
        try checkFailedOperations(results)
    }
}

/// Runs the same scenario under several partition policies and prints them side by side with
/// issue 14's criteria (see `PolicyComparison`).
public struct PoliciesCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "policies",
        abstract: "Run the same scenario under static, reactive and predictive partitioning (a fresh store each, same seed, one after another) and print them side by side.",
        discussion: """
        One row per policy: throughput, p50/p99/p99.9, overload seconds (the engine's measured saturation, for static too), mean and max partitions over the time series, splits/merges/moves, bytes moved and forecast error. Then PASS/FAIL per criterion:
          (a) predictive has the lowest p99 (a tie counts as lowest)
          (b) predictive's overload seconds <= 50% of reactive's
          (c) predictive's mean partitions <= 1.25 x reactive's
          (d) predictive's bytes moved <= 1.2 x reactive's
          (e) static shows overload (> 0 s)
        (b) and (d) against a reactive 0 hold only when predictive's is 0 too. A criterion whose policy was not run, or whose number the engine does not report, says n/a. The verdict does not change the exit status.

        --partitions N pre-splits the static run only. --dir D gives each policy the store D/<policy>. --json FILE writes an array of the runs' objects (the run command's schema; each has "policy"). --report r.html writes r-<policy>.html per policy (the run command's report) and r.html: the table, the criteria, and partitions, p99 and throughput of every policy on shared charts.
        """)
    @OptionGroup public var options: LoadOptions
    @Option(help: "Comma-separated partition policies, run in this order (static, reactive, predictive).")
    public var policies = "static,reactive,predictive"
    public init() {}

    public mutating func validate() throws {
        if options.policy != nil {
            throw ValidationError("--policy chooses one policy for run and compare; policies runs each of --policies")
        }
        let list: [PartitionPolicy]
        do { list = try Self.parse(policies) } catch { throw ValidationError(error.description) }
        try checkSiblingReports(options.report, command: "policies", each: "policy", first: list.first?.rawValue ?? "static")
    }

    /// `text` as policies: comma-separated names, case-insensitive, each at most once.
    public static func parse(_ text: String) throws(WorkloadError) -> [PartitionPolicy] {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var list: [PartitionPolicy] = []
        for name in names {
            guard let p = PartitionPolicy(rawValue: name.lowercased()) else {
                throw .unknownPolicy(name, valid: PartitionPolicy.allCases.map(\.rawValue))
            }
            if list.contains(p) {
                throw .invalidOption(name: "policies", value: text, reason: "\(p.rawValue) is named twice")
            }
            list.append(p)
        }
        return list
    }

    public func run() throws {
        let engine = options.engine.lowercased()
        if let dir = options.dir {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                log("augur-load: cannot create \(dir): \(error)")
                throw ExitCode.failure
            }
        }
        var results: [RunResult] = []
        for policy in try Self.parse(policies) where interruptingSignal.load(ordering: .relaxed) == 0 {
            log("== \(policy.rawValue) ==")
            var scenario = try options.scenario(policy: policy)
            if let dir = options.dir { scenario.engine.directory = dir + "/" + policy.rawValue }
            results.append(try execute(scenario, engine: engine, options: options, label: "\(engine) \(policy.rawValue)"))
        }
        let comparison = PolicyComparison(runs: results)
        try emitTablesAndJSON(results, options: options)
        if let path = options.report {
            try writeReports(results, to: path) { $0.policy?.rawValue ?? $0.engine }
            let links = results.map { r in
                let p = reportPath(path, suffix: r.policy?.rawValue ?? r.engine)
                return (r.policy?.rawValue ?? r.engine, String(p.split(separator: "/").last ?? Substring(p)))
            }
            try write(HTMLReport.render(comparison, links: links), to: path)
            log("augur-load: wrote \(path)")
        }
        log("")
        printSummary(comparison.table(), options: options)
        try exitIfInterrupted()
        try checkFailedOperations(results)
    }
}

/// A summary table on standard output, or on standard error when `--json -` owns standard output.
func printSummary(_ text: String, options: LoadOptions) {
    if options.json == "-" { log(text) } else { print(text) }
}

/// Exit status of a run that finished with failed operations (stated in --help).
public let failedOperationsExitCode: Int32 = 2

/// A run whose operations failed (disk full, I/O errors) is not a success, even though it
/// finished and reported: exit with `failedOperationsExitCode`.
/// The signal (SIGINT or SIGTERM) that cut a run short; 0 while none has.
let interruptingSignal = Atomic<Int32>(0)

/// The run a caught SIGINT or SIGTERM stops, while one is under way.
private let stoppableRunner = Mutex<WorkloadRunner?>(nil)

/// SIGINT and SIGTERM, caught once for the whole process. `compare` and `policies` run several
/// engines or policies one after another, and the sources each run used to make (and cancel)
/// never fired from the second run on: the signal was ignored to the end and the exit was 0
/// (found in review). Caught, a signal stops the run under way and starts no later one.
nonisolated(unsafe) private let stopSignalSources: [any DispatchSourceSignal] = [SIGINT, SIGTERM].map { sig in
    signal(sig, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
    source.setEventHandler {
        interruptingSignal.store(sig, ordering: .relaxed)
        stoppableRunner.withLock { $0 }?.requestStop()
        log("\naugur-load: interrupted, finishing…")
    }
    source.resume()
    return source
}

/// After the results of a run cut short are written: exit 128 + the signal, as a shell reports
/// a process the signal ended, so a script can tell a partial run from a whole one (it exited 0).
func exitIfInterrupted() throws {
    let sig = interruptingSignal.load(ordering: .relaxed)
    guard sig != 0 else { return }
    log("augur-load: stopped by \(ProcessSignal.name(sig)); the figures above cover what ran before it")
    throw ExitCode(128 + sig)
}

func checkFailedOperations(_ results: [RunResult]) throws {
    let failed = results.filter { $0.errors > 0 }
    guard !failed.isEmpty else { return }
    for r in failed { log("augur-load: \(r.engine): \(r.errors) operations failed (\(r.operations) measured)"
                         + (r.firstError.map { "; first: \($0)" } ?? "")) }
    throw ExitCode(failedOperationsExitCode)
}

/// The ratio table: throughput and latency of each engine relative to the first.
public func compareTable(_ results: [RunResult]) -> String {
    guard let base = results.first else { return "" }
    var lines = ["comparison (\(base.workload), \(base.threads) threads, \(base.loop) loop, \(base.profile)); ratios relative to \(base.engine):", ""]
    let header = ["engine", "ops/s", "ops/s ratio", "p50 µs", "p99 µs", "p99.9 µs", "p99 ratio", "write amp", "peak anon", "errors"]
    let rows = results.map { r in
        [r.engine, String(format: "%.0f", r.throughput), String(format: "%.2f×", base.throughput > 0 ? r.throughput / base.throughput : 0),
         String(format: "%.1f", r.all.p50Microseconds), String(format: "%.1f", r.all.p99Microseconds), String(format: "%.1f", r.all.p999Microseconds),
         String(format: "%.2f×", base.all.p99Microseconds > 0 ? r.all.p99Microseconds / base.all.p99Microseconds : 0),
         r.diskWrites.flatMap { $0.userBytes > 0 ? String(format: "%.2f", $0.amplification) : nil } ?? "n/a",
         r.memory?.peakAnonymousText ?? "n/a", String(r.errors)]
    }
    lines += formatTable(header: header, rows: rows, indent: "  ")
    return lines.joined(separator: "\n")
}

/// A line on standard error; never traps (a full or closed stderr loses the line).
func log(_ s: String) {
    // What print() has buffered goes out first: with both streams sent to one file (`make
    // compare > log 2>&1`), a table still half in the stdout buffer was split mid-line by the
    // next log line ("disk writes (amplification)augur-load: wrote policies.json").
    fflush(nil)    // every C stream (naming `stdout` is not concurrency-safe in Swift 6)
    StandardStream.error(s + "\n")
}

/// Opens the engine, pre-splits (static), loads, applies the policy, runs, closes. `label`
/// names the run in progress lines (default: the engine).
func execute(_ scenario: Scenario, engine: String, options: LoadOptions, label: String? = nil) throws -> RunResult {
    if scenario.engine.directory == nil {
        for path in TemporaryStores.removeStale() { log("augur-load: removed \(path), the store of a run that was killed") }
    }
    let policy = scenario.policy.policy
    let engineConfig = scenario.engine
    let writtenBefore = ProcessIO.bytesWritten()
    ProcessIO.resetPeakResident()
    let residentBefore = ProcessIO.resident()
    let anonymousPeak = ProcessIO.AnonymousPeakSampler()
    anonymousPeak.start()
    defer { _ = anonymousPeak.stop() }
    let store: any KeyValueStore
    do {
        store = try EngineRegistry.make(engine, engineConfig)
    } catch {
        log("augur-load: cannot open \(engine): \(error)")
        throw ExitCode.failure
    }
    var closed = false
    defer { if !closed { try? store.close() } }
    let runner = WorkloadRunner(store: store, spec: scenario.spec, config: scenario.config,
                                clock: SystemWorkloadClock(spinNanoseconds: UInt64(options.spinUs) * 1000))
    let printer = ProgressPrinter(mode: options.progress, interval: options.progressInterval, engine: label ?? engine)
    runner.progress = printer.callback
    runner.stolenSeconds = ProcessIO.hostStolenSeconds

    // Ctrl-C or SIGTERM: stop the run cleanly (the store is closed and a temporary one removed).
    _ = stopSignalSources
    stoppableRunner.withLock { $0 = runner }
    defer { stoppableRunner.withLock { $0 = nil } }
    if interruptingSignal.load(ordering: .relaxed) != 0 { runner.requestStop() }

    // Before the load: refuse a policy the engine lacks, and pre-split (static --partitions N)
    // so records land in their partitions and nothing is copied later. After the stop signals
    // are caught: a signal during a long pre-split used to kill the process and leave the
    // temporary store behind.
    do {
        try store.checkSupports(policy)
        try store.apply(PartitionPolicyRequest(policy: .static, splitKeys: scenario.policy.splitKeys))
    } catch let e as WorkloadError {
        log("augur-load: error: \(e)")
        throw ExitCode.validationFailure
    }

    log("augur-load: \(engine) · \(scenario.spec.name): \(scenario.spec.mix.summary); \(scenario.spec.distributionSummary); \(scenario.config.threads) threads, \(scenario.config.loop.rawValue) loop, \(scenario.config.profile.description); seed \(scenario.config.seed); policy \(policy.rawValue)")
    var load: LoadPhaseSummary? = nil
    if scenario.load {
        log("augur-load: loading \(scenario.spec.recordCount) records\(scenario.ingest ? " through bulk ingest" : "")…")
        do {
            load = try runner.load(batchSize: scenario.loadBatchSize, ingest: scenario.ingest)
        } catch WorkloadRunError.interrupted {
            // Nothing was measured: no tables, but the status says why (it was 1, "interrupted
            // while loading records", like a failed run).
            let sig = interruptingSignal.load(ordering: .relaxed)
            let stop = sig == 0 ? SIGINT : sig
            log("augur-load: stopped by \(ProcessSignal.name(stop)) while loading records; nothing was measured")
            throw ExitCode(128 + stop)
        }
        log(String(format: "augur-load: loaded in %.2f s (%.0f records/s)", load!.seconds, load!.recordsPerSecond))
    }
    // After the load, so the load itself triggers no reshards under reactive or predictive.
    if policy != .static {
        do {
            try store.apply(PartitionPolicyRequest(policy: policy))
        } catch let e as WorkloadError {
            log("augur-load: error: \(e)")
            throw ExitCode.validationFailure
        }
    }
    var result = try runner.run()
    printer.finish()
    result.load = load
    result.policy = policy
    result.notes += options.unusedRateOptions
    if policy == .static {
        let n = scenario.policy.splitKeys.count + 1
        let ranges = scenario.engine.strategy.kind == "hash" ? "bucket ranges" : "key ranges"
        result.notes.append("partition policy: static" + (n > 1 ? ", pre-split into \(n) equal \(ranges)" : ", engine's initial layout"))
    }
    try store.flush()
    // Written back before the count is read and before close (which removes a temporary
    // store): dirty pages of a deleted file count as cancelled, not written.
    ProcessIO.syncAll()
    if let before = writtenBefore, let after = ProcessIO.bytesWritten() {
        result.diskWrites = DiskWriteSummary(userBytes: runner.bytesPut, diskBytes: after >= before ? after - before : 0)
    }
    if let before = residentBefore, let after = ProcessIO.resident() {
        result.memory = MemorySummary(startBytes: before.now, peakBytes: after.peak, peakAnonymousBytes: anonymousPeak.stop())
    }
    closed = true
    try store.close()
    return result
}

func emit(_ results: [RunResult], options: LoadOptions) throws {
    try emitTablesAndJSON(results, options: options)
    if let path = options.report {
        if results.count == 1 {
            try write(HTMLReport.render(results[0]), to: path)
            log("augur-load: wrote \(path)")
        } else {
            try writeReports(results, to: path) { $0.engine }
        }
    }
}

/// Each run's table on standard output (unless `--json -`), then `--json`: one object for one
/// run, an array for several.
func emitTablesAndJSON(_ results: [RunResult], options: LoadOptions) throws {
    let toStdout = options.json == "-"
    if !toStdout {
        for r in results { print(r.table()); print("") }
    }
    if let path = options.json {
        let text = results.count == 1 ? results[0].json() : "[\n" + results.map { $0.json() }.joined(separator: ",\n") + "\n]"
        if toStdout { print(text) } else { try write(text, to: path) }
        if !toStdout { log("augur-load: wrote \(path)") }
    }
}

/// One HTML report per run, at `path` with `suffix(run)` before the extension.
func writeReports(_ results: [RunResult], to path: String, suffix: (RunResult) -> String) throws {
    for r in results {
        let p = reportPath(path, suffix: suffix(r))
        try write(HTMLReport.render(r), to: p)
        log("augur-load: wrote \(p)")
    }
}

/// A command that writes one report per run writes them beside `--report`'s path
/// (`reportPath`), so that path must be a file's: given a device such as /dev/null it wrote
/// /dev/null-static and its siblings into /dev (found from outside). Refused before the runs.
func checkSiblingReports(_ report: String?, command: String, each: String, first: String) throws {
    guard let report else { return }
    if report == "-" {
        throw ValidationError("--report - (standard output) cannot hold a report per \(each); \(command) needs a file's path to write them beside")
    }
    guard PosixFileSystem().fileExists(report) else { return }
    guard let kind = OutputFile.nonRegularKind(report) else { return }
    throw ValidationError("--report \(report) is \(kind); \(command) writes a report per \(each) beside it "
                          + "(\(reportPath(report, suffix: first)), …), so --report must name a regular file or a new one")
}

/// `path` with `-suffix` before its extension: `r.html` → `r-augur.html`.
func reportPath(_ path: String, suffix: String) -> String {
    if let dot = path.lastIndex(of: "."), !path[dot...].contains("/") {
        return String(path[..<dot]) + "-\(suffix)" + String(path[dot...])
    }
    return path + "-\(suffix)"
}

/// Writes an output file the user named (see `OutputFile`: devices, pipes and symlinks are
/// written in place, never replaced).
func write(_ text: String, to path: String) throws {
    do {
        try OutputFile.write(text, to: path)
    } catch {
        log("augur-load: cannot write \(path): \(error)")
        throw ExitCode.failure
    }
}

/// A live line on a terminal (rewritten in place), plain lines otherwise.
final class ProgressPrinter: Sendable {
    let live: Bool
    let enabled: Bool
    let interval: Double
    let engine: String
    private let lastPrinted = Mutex<Double>(-1e9)
    private let printedLive = Mutex(false)

    init(mode: String, interval: Double, engine: String) {
        let tty = isatty(STDERR_FILENO) != 0
        switch mode {
        case "live": live = true; enabled = true
        case "plain": live = false; enabled = true
        case "none": live = false; enabled = false
        default: live = tty; enabled = true
        }
        self.interval = interval
        self.engine = engine
    }

    var callback: (@Sendable (ProgressSnapshot) -> Void)? {
        guard enabled else { return nil }
        return { [self] s in self.show(s) }
    }

    func show(_ s: ProgressSnapshot) {
        let m = s.metrics
        let parts = m.partitions.map(String.init) ?? "n/a"
        let inflight = m.reshardsInFlight.map(String.init) ?? "n/a"
        let p99 = s.p99Microseconds.map { String(format: "%.0f µs", $0) } ?? "-"
        let target = s.targetRate.map { String(format: " (target %.0f)", $0) } ?? ""
        let line = "\(engine) " + String(format: "%6.1fs ", s.seconds) + (s.inWarmup ? "[warm-up] " : "")
            + String(format: "%9.0f ops/s", s.opsPerSecond) + target + "  p99 \(p99)  partitions \(parts)  reshards in flight \(inflight)  total \(s.totalOperations)"
        if live {
            StandardStream.error("\r\u{1B}[2K" + line)
            printedLive.withLock { $0 = true }
        } else {
            let due = lastPrinted.withLock { last -> Bool in
                if s.seconds - last + 1e-9 >= interval { last = s.seconds; return true }
                return false
            }
            if due { log(line) }
        }
    }

    func finish() {
        if printedLive.withLock({ $0 }) { StandardStream.error("\n") }
    }
}
