import ArgumentParser
import AugurSys
@testable import AugurLoadCLI
@testable import AugurWorkload
import Foundation
import Testing

@Suite("Command line")
struct ArgumentTests {
    /// Parses `args` as the root command; returns the printed message and exit code of the
    /// error, or nil when parsing succeeded.
    func failure(_ args: [String]) -> (message: String, code: Int32)? {
        do {
            _ = try AugurLoad.parseAsRoot(args)
            return nil
        } catch {
            return (AugurLoad.message(for: error), AugurLoad.exitCode(for: error).rawValue)
        }
    }

    func expectFailure(_ args: [String], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let f = failure(args)
        #expect(f != nil, "\(args) was accepted", sourceLocation: sourceLocation)
        guard let f else { return }
        #expect(f.message.contains(fragment), "message for \(args): \(f.message)", sourceLocation: sourceLocation)
        #expect(f.code == 64, "exit code for \(args): \(f.code)", sourceLocation: sourceLocation)
    }

    var csvPath: String {
        let path = NSTemporaryDirectory() + "augur-load-args-\(getpid()).csv"
        try? "demand_mw,other\n100,1\n200,2\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("defaults parse; the default subcommand is run")
    func defaults() throws {
        let cmd = try AugurLoad.parseAsRoot([])
        let run = try #require(cmd as? RunCommand)
        let s = try run.options.scenario()
        #expect(s.spec.name == "ycsb-a")
        #expect(s.config.loop == .closed && s.config.profile == .unthrottled)
        let d = try #require(try AugurLoad.parseAsRoot(["-w", "a", "--distribution", "moving-hotspot", "--profile", "diurnal",
                                                        "--rate", "100", "--peak-rate", "400"]) as? RunCommand)
        let s2 = try d.options.scenario()
        #expect(s2.config.loop == .open)
        #expect(s2.spec.keyOrder == .ordered)
        #expect(s2.config.profile == .diurnal(low: 100, high: 400, periodSeconds: 60))
    }

    @Test("unknown workload") func unknownWorkload() {
        expectFailure(["--workload", "zz"], "unknown workload \"zz\"; valid workloads: a, b, c, d, e, f")
    }

    @Test("negative rate") func negativeRate() {
        expectFailure(["--rate", "-5"], "invalid rate rate=-5")
        expectFailure(["--profile", "diurnal", "--peak-rate", "-1"], "invalid rate peak-rate=-1")
    }

    /// Checked before the run (a run of minutes used to end in "cannot write missingdir/x").
    @Test("an output nowhere to be written") func outputsWithoutADirectory() {
        expectFailure(["--json", "/nonexistent-augur-dir/run.json"], "its directory /nonexistent-augur-dir does not exist")
        expectFailure(["--report", ""], "names no file")
        expectFailure(["--profile", "replay", "--csv", csvPath, "--column", "demand_mw", "--peak-rate", "100", "--json", csvPath],
                      "is the --csv input file")
    }

    @Test("missing file") func missingFile() {
        expectFailure(["--profile", "replay", "--csv", "/nonexistent/demand.csv", "--peak-rate", "100"], "file not found: /nonexistent/demand.csv")
    }

    @Test("missing CSV column") func missingColumn() {
        let path = csvPath
        defer { try? FileManager.default.removeItem(atPath: path) }
        expectFailure(["--profile", "replay", "--csv", path, "--column", "load", "--peak-rate", "100"],
                      "column \"load\" not found in \(path); available columns: demand_mw, other")
        #expect(failure(["--profile", "replay", "--csv", path, "--column", "demand_mw", "--peak-rate", "100"]) == nil)
    }

    @Test("bad CSV value names the file, line and value") func badCSVValue() throws {
        let path = NSTemporaryDirectory() + "augur-load-bad-\(getpid()).csv"
        try "demand_mw,other\n100,1\n\n2O0,2\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        expectFailure(["--profile", "replay", "--csv", path, "--column", "demand_mw", "--peak-rate", "100"],
                      "\(path) line 4, column \"demand_mw\": \"2O0\" is not a finite number")
    }

    /// Found from outside: a negative load was scaled to a rate of 0 without a word, and a
    /// binary file's bytes came back as its "available columns".
    @Test("a replayed curve with a negative row or bytes that are not text is refused")
    func replayRefusesNegativeRowsAndBinaryFiles() throws {
        let path = NSTemporaryDirectory() + "augur-load-neg-\(getpid()).csv"
        try "demand_mw\n100\n-50\n200\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        expectFailure(["--profile", "replay", "--csv", path, "--column", "demand_mw", "--peak-rate", "1000"],
                      "data row 2 of column demand_mw is -50; every row must be a load ≥ 0")
        let binary = NSTemporaryDirectory() + "augur-load-bin-\(getpid()).csv"
        try Data([0x64, 0x65, 0x6d, 0x00, 0xff, 0x0a, 0x31]).write(to: URL(fileURLWithPath: binary))
        defer { try? FileManager.default.removeItem(atPath: binary) }
        expectFailure(["--profile", "replay", "--csv", binary, "--column", "demand_mw", "--peak-rate", "1000"],
                      "cannot read \(binary): it is not UTF-8 text: line 1 (byte offset 3) holds a NUL byte")
        try Data([0x76, 0x0a, 0x31, 0xff, 0x0a]).write(to: URL(fileURLWithPath: binary))
        expectFailure(["--profile", "replay", "--csv", binary, "--column", "v", "--peak-rate", "1000"], "is not UTF-8 text")
    }

    /// `policies` and a several-engine `compare` write a report per run beside `--report`: given
    /// a FIFO or a device (/dev/null) they wrote /dev/null-static and its siblings (found from
    /// outside). Refused before any run; a regular or new file is fine.
    @Test("policies and compare refuse a --report that is no file") func siblingReportsNeedAFile() throws {
        let fifo = NSTemporaryDirectory() + "augur-load-fifo-\(getpid())"
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        expectFailure(["policies", "--report", fifo], "--report \(fifo) is a FIFO; policies writes a report per policy beside it (\(fifo)-static, …)")
        expectFailure(["compare", "--engines", "augur,augur", "--report", fifo], "compare writes a report per engine beside it")
        expectFailure(["policies", "--report", NSTemporaryDirectory()], "names no file")
        // A directory is refused before the run too (it failed after the whole run), as --json.
        let directory = NSTemporaryDirectory() + "augur-load-dir-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        expectFailure(["run", "--json", directory], "--json \(directory) is a directory; name a file")
        expectFailure(["policies", "--dir", fifo], "--dir \(fifo) exists and is not a directory")
        expectFailure(["run", "--report", directory], "--report \(directory) is a directory; name a file")
        #expect(failure(["compare", "--engines", "augur", "--report", fifo]) == nil, "one engine writes its report in place")
        #expect(failure(["policies", "--report", NSTemporaryDirectory() + "augur-load-new-\(getpid()).html"]) == nil)
    }

    /// Found from outside: rate options the profile does not use were dropped without a word.
    @Test("rate options the profile does not use are named in the run's notes")
    func unusedRateOptionsAreNoted() throws {
        func notes(_ args: [String]) throws -> [String] {
            try #require(try AugurLoad.parseAsRoot(["run"] + args) as? RunCommand).options.unusedRateOptions
        }
        #expect(try notes(["--rate", "10", "--peak-rate", "100"]) == ["--peak-rate is not used by profile constant"])
        #expect(try notes(["--profile", "unthrottled", "--rate", "100"]) == ["--rate is not used by profile unthrottled"])
        #expect(try notes(["--profile", "spike", "--rate", "100", "--spike-at", "1000", "--duration", "1", "--warmup", "0"])
            == ["the spike at 1000 s starts after the run ends at 1 s"])
        #expect(try notes(["--profile", "diurnal", "--rate", "10", "--peak-rate", "100"]).isEmpty)
        #expect(try notes(["--profile", "spike", "--rate", "100", "--duration", "30"]).isEmpty)
    }

    @Test("other bad values") func otherBadValues() {
        expectFailure(["--distribution", "pareto"], "unknown key distribution \"pareto\"")
        expectFailure(["--profile", "sawtooth", "--rate", "10"], "unknown rate profile \"sawtooth\"")
        expectFailure(["--policy", "clever"], "unknown partition policy \"clever\"; valid policies: static, reactive, predictive")
        expectFailure(["--loop", "open"], "an open loop needs a rate profile")
        expectFailure(["--threads", "0"], "invalid option threads=0")
        expectFailure(["--key-size", "4"], "invalid option key-size=4")
        expectFailure(["--engine", "rocksdb"], "engine \"rocksdb\" is not built into this binary")
        expectFailure(["--profile", "constant"], "profile constant needs --rate")
        // Found from outside: both were exit 1, refused only when the engine opened.
        let allowed = CPUAffinity.allowedCPUs()
        #expect(!allowed.isEmpty, "sched_getaffinity named no CPU")
        // Every id the option takes (0...1023) allowed: no machine this runs on has them all.
        if let outside = (0..<1024).first(where: { !allowed.contains($0) }) {
            expectFailure(["--background-cpus", "\(outside)"], "CPU \(outside) is not one this process may run on")
        }
        expectFailure(["--background-cpus", "0,0"], "names CPU 0 twice")
        // Found from outside: ignored, while the run's note claimed the pre-split.
        expectFailure(["--strategy", "hash:16", "--partitions", "100"],
                      "invalid option partitions=100: hash:16 pre-splits at bucket boundaries, so into at most 16 partitions (one per bucket)")
        #expect(failure(["--strategy", "hash:16", "--partitions", "16"]) == nil)
        expectFailure(["--duration", "-1"], "invalid option duration=-1")
        expectFailure(["compare", "--engines", "augur,lmdb"], "engine \"lmdb\" is not built into this binary")
    }

    @Test("reactive and predictive policies switch the engine's controller on")
    func policiesReachTheEngine() throws {
        let dir = NSTemporaryDirectory() + "augur-load-policy-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var config = EngineConfiguration()
        config.directory = dir
        config.durability = .none
        let store = try #require(try EngineRegistry.make("augur", config) as? AugurStore)
        defer { try? store.close() }
        try store.apply(PartitionPolicyRequest(policy: .predictive))
        #expect(try store.engine.partitioningCounters(table: "usertable").policy.contains("predictive"))
        try store.apply(PartitionPolicyRequest(policy: .reactive))
        #expect(try store.engine.partitioningCounters(table: "usertable").policy.contains("reactive"))
        // Through the command: a short run under the reactive policy succeeds.
        let cmd = try #require(try AugurLoad.parseAsRoot(["--policy", "reactive", "--records", "10", "--operations", "10",
                                                          "--progress", "none", "--durability", "none"]) as? RunCommand)
        try cmd.run()
        // A negative capacity is refused while parsing, naming the option and the rule.
        #expect {
            _ = try AugurLoad.parseAsRoot(["--policy", "reactive", "--capacity=-5"])
        } throws: { error in
            "\(error)".contains("capacity") && "\(error)".contains("must be positive")
        }
    }

    @Test("the Augur adapter runs a workload, pre-splits, and reports partitions")
    func augurAdapter() throws {
        let seed: UInt64 = 7
        print("[augurAdapter] seed \(seed)")
        let cmd = try #require(try AugurLoad.parseAsRoot(["-w", "e", "--records", "2000", "--operations", "3000", "--warmup", "0",
                                                          "--threads", "2", "--partitions", "4", "--progress", "none",
                                                          "--durability", "none", "--seed", String(seed)]) as? RunCommand)
        let scenario = try cmd.options.scenario()
        let result = try execute(scenario, engine: "augur", options: cmd.options)
        #expect(result.operations == 3000)
        #expect(result.errors == 0, "\(result.firstError ?? "")")
        #expect(result.partitions.atStart == 4 && result.partitions.atEnd == 4)
        #expect(result.partitions.splits == 0, "the static policy splits nothing during the run")
        #expect(Set(result.perOperation.map(\.kind)) == ["scan", "insert"])
        #expect(result.load?.records == 2000)
    }

    @Test("the compare ratio table")
    func compareRatios() throws {
        func r(_ engine: String, _ tput: Double, _ p99: Double) -> RunResult {
            let s = OperationSummary(kind: "all", count: 10, opsPerSecond: tput, p50Microseconds: 1, p95Microseconds: 2,
                                     p99Microseconds: p99, p999Microseconds: 4, maxMicroseconds: 5)
            return RunResult(engine: engine, workload: "fillrandom", workloadSummary: "", mix: "", distribution: "", keySize: 16,
                             valueSize: 100, keyOrder: "hashed", records: 1, threads: 2, loop: "closed", profile: "unthrottled",
                             seed: 1, warmupSeconds: 0, measuredSeconds: 1, runSeconds: 1, operations: 10, errors: 0,
                             firstError: nil, throughput: tput, all: s, perOperation: [s], partitions: PartitionSummary(),
                             series: [], events: [], load: nil)
        }
        var augur = r("augur", 1000, 10)
        augur.memory = MemorySummary(startBytes: 10 << 20, peakBytes: 900 << 20, peakAnonymousBytes: 300 << 20)
        let t = compareTable([augur, r("lmdb", 2500, 5)])
        #expect(t.contains("2.50×") && t.contains("0.50×") && t.contains("1.00×"))
        // Peak anonymous memory (not the resident set, which counts mapped file pages) beside
        // write amplification; an engine without the figure says so.
        let lines = t.split(separator: "\n")
        #expect(lines.contains { $0.contains("peak anon") })
        #expect(!t.contains("900"))
        #expect(lines.contains { $0.contains("augur") && $0.contains("300") && $0.contains("MiB") }, "\(t)")
        #expect(lines.contains { $0.contains("lmdb") && $0.contains("n/a") }, "\(t)")
    }
}
