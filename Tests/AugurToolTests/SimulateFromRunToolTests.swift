import AugurTestSupport
import Foundation
import Testing

/// `augur simulate --from-run` run as a process: it reads what `augur-load policies --json`
/// writes, and a bad run file is one line naming the file, run or field, exit 1.
@Suite struct SimulateFromRunToolTests {
    @Test func predictsTheRunsAugurLoadWrote() throws {
        let dir = TemporaryDirectory()
        // Each run's measured capacity comes from the controller's ticks (one a second, on a
        // normal-priority queue): 5 s leaves several even when the rest of the suite starves
        // the process — a 2 s static run under a loaded CI machine once ended before any tick
        // had measured, and simulate (rightly) refused a run without a capacity.
        let load = try ToolTests.run("augur-load", ["policies", "-w", "a", "--distribution", "moving-hotspot", "--records", "2000",
                                                    "--duration", "5", "--warmup", "0", "--progress", "none", "--durability", "none",
                                                    "--json", "runs.json"],
                                     in: dir.path, environment: ["TMPDIR": dir.path])
        #expect(!load.signaled && load.status == 0, "augur-load: status \(load.status): \(load.stderr)")

        let table = try ToolTests.run("augur", ["simulate", "--from-run", "runs.json"], in: dir.path)
        #expect(!table.signaled && table.status == 0, "status \(table.status): \(table.stderr)")
        for text in ["run 1 (static)", "run 2 (reactive)", "run 3 (predictive)", "mean partitions", "max partitions", "MiB moved", "within ±30%"] {
            #expect(table.stdout.contains(text), "missing '\(text)':\n\(table.stdout)")
        }

        let json = try ToolTests.run("augur", ["simulate", "--from-run", "runs.json", "--policy", "predictive", "--json", "--seed", "3"], in: dir.path)
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let predictions = try #require(object["predictions"] as? [[String: Any]])
        #expect(predictions.count == 1 && predictions.first?["policy"] as? String == "predictive")
        let mean = try #require(predictions.first?["meanPartitions"] as? [String: Any])
        #expect(mean["predicted"] as? Double != nil && mean["measured"] as? Double != nil && mean["withinTolerance"] != nil)
        let again = try ToolTests.run("augur", ["simulate", "--from-run", "runs.json", "--policy", "predictive", "--json", "--seed", "3"], in: dir.path)
        #expect(again.stdout == json.stdout, "the same seed must give the same prediction")
    }

    /// A minimal run; `capacity` is the raw JSON of `partitions.measuredCapacity` (nil: absent).
    static func run(policy: String = "reactive", capacity: String? = "20000") -> String {
        let series = (0..<30).map { "{\"seconds\": \($0 + 1), \"opsPerSecond\": \(10000 + 1000 * $0), \"partitions\": 1, \"reshardsInFlight\": 0}" }
        return """
        {"engine": "augur", "policy": "\(policy)", "distribution": "moving hotspot 90% of ops on 10% of keys, drifting 1% of the key space per second",
         "keySize": 16, "valueSize": 100, "keyOrder": "ordered", "records": 10000,
         "partitions": {"atStart": 1, "mean": 1, "maximum": 1, "bytesMoved": 0, "splits": 0, "merges": 0, "moves": 0\(capacity.map { ", \"measuredCapacity\": \($0)" } ?? "")},
         "series": [\(series.joined(separator: ", "))]}
        """
    }

    @Test(arguments: [
        ("missing.json", nil, [], "cannot read missing.json"),
        ("empty.json", "[]", [], "empty.json holds no runs"),
        ("text.json", "not json", [], "text.json is not augur-load --json output"),
        ("string.json", "\"a run\"", [], "string.json is not augur-load --json output"),
        ("nocap.json", run(capacity: nil), [], "run 1 (reactive): partitions.measuredCapacity is missing"),
        ("nan.json", "[" + run(capacity: "\"nan\"") + "]", [], "run 1 (reactive): partitions.measuredCapacity is nan"),
        ("inf.json", run(capacity: "\"inf\""), [], "partitions.measuredCapacity is inf"),
        ("huge.json", run(capacity: "1e308"), [], "partitions.measuredCapacity is 1e+308"),
        ("other.json", run(), ["--policy", "predictive"], "no run in the file used policy 'predictive' (the runs used: reactive)"),
        // It named the simulator's internal peakMultiple (found from outside).
        ("tiny.json", run(), ["--capacity", "1e-300"], "run 1 (reactive): --capacity is 1e-300"),
    ] as [(String, String?, [String], String)])
    func badRunFilesAreOneLineNamingTheValue(_ name: String, _ contents: String?, _ extra: [String], _ message: String) throws {
        let dir = TemporaryDirectory()
        if let contents { try contents.write(toFile: dir.child(name), atomically: true, encoding: .utf8) }
        let r = try ToolTests.run("augur", ["simulate", "--from-run", name] + extra, in: dir.path)
        #expect(!r.signaled && r.status == 1, "\(name): status \(r.status), signaled \(r.signaled): \(r.stderr)")
        #expect(r.stderr.contains(message), "\(name): \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "\(name): one line: \(r.stderr)")
    }

    @Test func fromRunAndCSVAreExclusiveAndOverridesAreChecked() throws {
        let dir = TemporaryDirectory()
        try Self.run().write(toFile: dir.child("r.json"), atomically: true, encoding: .utf8)
        for args in [["--from-run", "r.json", "--csv", "s.csv", "--column", "v"], ["--from-run", "r.json", "--capacity", "nan"],
                     ["--from-run", "r.json", "--sample-noise", "2"], ["--from-run", "r.json", "--copy-mib-per-second", "inf"], []] {
            let r = try ToolTests.run("augur", ["simulate"] + args, in: dir.path)
            #expect(!r.signaled && r.status == 64, "\(args): status \(r.status): \(r.stderr)")
        }
        // The profile's flags are the --csv simulation's: a replay refuses them, naming each one.
        for (args, named) in [(["--rows", "10"], "--rows is for --csv"),
                              (["--seconds-per-row", "60", "--reshard-data", "copy"], "--seconds-per-row, --reshard-data are for --csv"),
                              (["--hot-key-share", "0", "--reshard-overhead-seconds", "1"], "--hot-key-share, --reshard-overhead-seconds are for --csv")] {
            let r = try ToolTests.run("augur", ["simulate", "--from-run", "r.json"] + args, in: dir.path)
            #expect(!r.signaled && r.status == 64 && r.stderr.contains(named), "\(args): status \(r.status): \(r.stderr)")
        }
        // An override replaces a missing measurement.
        try Self.run(capacity: nil).write(toFile: dir.child("nocap.json"), atomically: true, encoding: .utf8)
        let r = try ToolTests.run("augur", ["simulate", "--from-run", "nocap.json", "--capacity", "15000"], in: dir.path)
        #expect(r.status == 0 && r.stdout.contains("capacity 15000 ops/s"), "\(r.stdout)\(r.stderr)")
    }
}
