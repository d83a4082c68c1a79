import ArgumentParser
@testable import AugurLoadCLI
@testable import AugurWorkload
import Foundation
import Testing

/// Every numeric flag of augur-load has a stated limit (issue 15, F6/F7): 0, negatives, inf,
/// nan, 1e308, 1e-300 and Int.max are usage errors (exit 64) naming the flag, the value and
/// the limit — not a trap, a hang or unbounded memory.
@Suite("Numeric limits")
struct LimitTests {
    static let hostile = ["0", "-1", "inf", "nan", "1e308", "1e-300", "9223372036854775807"]

    /// Base arguments, the flag, and the hostile values that flag must refuse (some accept 0).
    static let cases: [(base: [String], flag: String, accepted: Set<String>)] = [
        (["--records", "1000"], "records", []),     // the later --records wins
        ([], "key-size", []),
        ([], "value-size", ["0"]),
        ([], "max-scan-length", []),
        ([], "batch-size", []),
        ([], "threads", []),
        ([], "duration", []),
        ([], "warmup", ["0", "1e-300"]),              // a negligible warm-up is no warm-up
        ([], "spin-us", ["0"]),
        ([], "sample-interval", []),
        ([], "sync-interval-ms", []),
        ([], "memtable-mb", []),
        ([], "background-nice", ["0"]),
        ([], "capacity", []),
        ([], "progress-interval", ["1e-300"]),        // a line per progress callback: noisy, bounded
        ([], "operations", ["9223372036854775807"]),   // bounded by the run's 3600 s wall-time limit
        (["--ycsb-fields"], "fields", []),
        (["--ycsb-fields"], "field-length", ["0"]),
        // Fractions in (0, 1): a negligible one is a valid (if odd) skew.
        (["--distribution", "zipfian"], "zipfian-constant", ["1e-300"]),
        (["--distribution", "moving-hotspot"], "hot-keys", ["1e-300"]),
        (["--distribution", "moving-hotspot"], "hot-ops", ["0", "1e-300"]),
        (["--distribution", "moving-hotspot"], "hot-speed", ["0", "1e-300"]),
        (["-w", "bulkload"], "batch-size", []),
        (["-w", "timeseries"], "series", []),
        (["--profile", "constant"], "rate", []),
        (["--profile", "ramp", "--rate", "10"], "peak-rate", ["0"]),   // a ramp down to nothing
        (["--profile", "ramp", "--rate", "10", "--peak-rate", "20"], "ramp-seconds", []),
        (["--profile", "ramp", "--peak-rate", "10"], "rate", ["0"]),
        (["--profile", "spike", "--rate", "10"], "spike-at", ["0", "1e-300"]),
        (["--profile", "spike", "--rate", "10"], "spike-seconds", []),
        (["--profile", "diurnal", "--peak-rate", "20"], "period", []),
        (["--profile", "replay", "--peak-rate", "100"], "row-seconds", []),
        (["--profile", "replay"], "peak-rate", []),
        (["--profile", "replay", "--peak-rate", "100"], "csv-start-row", ["0", "9223372036854775807"]),
        (["--policy", "static"], "partitions", []),
    ]

    @Test("hostile numbers are usage errors naming the flag")
    func hostileNumbers() throws {
        let csv = NSTemporaryDirectory() + "augur-load-limits-\(getpid()).csv"
        try "demand_mw\n100\n200\n150\n".write(toFile: csv, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: csv) }
        var refused = 0
        for c in Self.cases {
            let base = ["--records", "1000"] + (c.base.contains("replay") ? c.base + ["--csv", csv] : c.base)
            for v in Self.hostile where !c.accepted.contains(v) {
                let args = base + ["--\(c.flag)", v]
                do {
                    _ = try AugurLoad.parseAsRoot(args)
                    Issue.record("\(args) was accepted")
                } catch {
                    let message = AugurLoad.message(for: error), code = AugurLoad.exitCode(for: error).rawValue
                    #expect(code == 64, "exit code for \(args): \(code)")
                    // `csv-start-row` past the data names the flag and the rows the file has.
                    #expect(message.contains(c.flag) || message.contains("has no data rows") || message.contains("parse"),
                            "message for \(args): \(message)")
                    refused += 1
                }
            }
        }
        #expect(refused > 150)
    }

    @Test("each limit is stated in the message")
    func messagesStateTheLimit() throws {
        func message(_ args: [String]) -> String {
            do { _ = try AugurLoad.parseAsRoot(args); return "" } catch { return AugurLoad.message(for: error) }
        }
        #expect(message(["--rate", "1e300"]).contains("rate=1e+300") && message(["--rate", "1e300"]).contains("1000000000"))
        #expect(message(["--records", "9223372036854775807"]).contains("1...1000000000"))
        #expect(message(["-w", "timeseries", "--series", "9223372036854775807"]).contains("1...1000000"))
        #expect(message(["--sample-interval", "1e-9"]).contains("0.001"))
        #expect(message(["--duration", "3600", "--sample-interval", "0.01"]).contains("at most 100000"))
        #expect(message(["--profile", "replay", "--csv", "x.csv", "--peak-rate", "10", "--row-seconds", "1e-300"]).contains("row-seconds"))
    }

    @Test("an open-loop schedule starting at a negligible rate stays finite")
    func negligibleStartRate() {
        var s = OpenLoopSchedule(profile: .ramp(from: 1e-300, to: 10, seconds: 1), threads: 2, index: 1)
        let t = s.next(before: 2)
        #expect(t != nil && t! < 2)
    }

    @Test("a run with failed operations exits with the stated code")
    func runWithFailedOperations() throws {
        func result(errors: Int) -> RunResult {
            let s = OperationSummary(kind: "all", count: 10, opsPerSecond: 10, p50Microseconds: 1, p95Microseconds: 2,
                                     p99Microseconds: 3, p999Microseconds: 4, maxMicroseconds: 5)
            return RunResult(engine: "augur", workload: "a", workloadSummary: "", mix: "", distribution: "", keySize: 16,
                             valueSize: 100, keyOrder: "hashed", records: 1, threads: 1, loop: "closed", profile: "unthrottled",
                             seed: 1, warmupSeconds: 0, measuredSeconds: 1, runSeconds: 1, operations: 10, errors: errors,
                             firstError: errors > 0 ? "put: No space left on device" : nil, throughput: 10, all: s, perOperation: [s],
                             partitions: PartitionSummary(), series: [], events: [], load: nil)
        }
        try checkFailedOperations([result(errors: 0)])
        do {
            try checkFailedOperations([result(errors: 0), result(errors: 3)])
            Issue.record("a run with failed operations passed the check")
        } catch let e as ArgumentParser.ExitCode {
            #expect(e.rawValue == failedOperationsExitCode)
        }
        #expect(failedOperationsExitCode != 0)
        #expect(AugurLoad.helpMessage().contains("\(failedOperationsExitCode) the run finished but some operations failed"))
    }

    @Test("stale temporary stores: only the exact pattern, only dead owners")
    func staleTemporaryStores() throws {
        let dir = NSTemporaryDirectory() + "augur-load-stale-test-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A pid that existed and is gone: a child that already exited and was reaped.
        var dead: pid_t = 0
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("true"), nil]
        defer { free(argv[0]) }
        #expect(posix_spawnp(&dead, "true", nil, nil, &argv, environ) == 0)
        var status: Int32 = 0
        #expect(waitpid(dead, &status, 0) == dead)
        let names = ["augur-load-augur-\(dead)-12345",            // stale: removed
                     "augur-load-augur-\(getpid())-7",             // ours, alive: kept
                     "augur-load-augur-\(dead)-12345-extra",       // not the pattern: kept
                     "augur-load-augur-\(dead)-x",                 // not the pattern: kept
                     "augur-load-other-\(dead)-1",                 // not an engine: kept
                     "my-augur-load-augur-\(dead)-1"]              // not the pattern: kept
        for n in names { try FileManager.default.createDirectory(atPath: dir + "/" + n, withIntermediateDirectories: false) }
        let removed = TemporaryStores.removeStale(in: dir, engines: ["augur"])
        #expect(removed == [dir + "/" + names[0]])
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir)) == Set(names.dropFirst()))
        #expect(TemporaryStores.owner(of: "augur-load-augur-42-7", engines: ["augur"]) == 42)
        #expect(TemporaryStores.owner(of: "augur-load-augur--7", engines: ["augur"]) == nil)
    }
}
