import Augur
import AugurTestSupport
import Foundation
import Testing

/// `augur stats --metrics` prints the METRICS.prom an engine wrote (issue 17).
@Suite struct StatsMetricsToolTests {
    @Test func statsMetricsPrintsTheStoresMetricsFile() throws {
        let dir = TemporaryDirectory()
        let store = dir.child("db")
        let engine = try Engine.open(at: store)
        let t = try engine.createTable("t")
        for i in 0..<25 { try t.put(Array("k\(i)".utf8), [1, 2, 3]) }
        try engine.flush()
        try engine.close()                         // writes METRICS.prom

        let r = try ToolTests.run("augur", ["stats", "--dir", "db", "--metrics"], in: dir.path)
        #expect(!r.signaled && r.status == 0, "status \(r.status): \(r.stderr)")
        #expect(r.stdout.contains("# TYPE augur_writes_total counter"), "\(r.stdout)")
        #expect(r.stdout.contains("augur_writes_total{store=\"\(store)\"} 25"), "\(r.stdout)")
        #expect(r.stdout.contains("augur_flush_seconds_count{store=\"\(store)\"} 1"), "\(r.stdout)")
        #expect(r.stdout.contains("augur_partitions{store=\"\(store)\",table=\"t\"} 1"), "\(r.stdout)")
        #expect(r.stdout == String(decoding: try Data(contentsOf: URL(fileURLWithPath: store + "/METRICS.prom")), as: UTF8.self))

        let missing = try ToolTests.run("augur", ["stats", "--dir", "nothing-here", "--metrics"], in: dir.path)
        #expect(!missing.signaled && missing.status == 1, "status \(missing.status)")
        // No store at all is said as such (it read "not opened with telemetry enabled yet").
        #expect(missing.stderr.contains("no store at nothing-here") && missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
        let both = try ToolTests.run("augur", ["stats", "--dir", "db", "--metrics", "--json"], in: dir.path)
        #expect(both.status == 64, "status \(both.status): \(both.stderr)")
    }

    /// A damaged TELEMETRY.json: one line naming the file (the decoder's message named none).
    @Test func damagedTelemetryIsNamed() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.child("db"), withIntermediateDirectories: true)
        try "{ not json".write(toFile: dir.child("db/TELEMETRY.json"), atomically: true, encoding: .utf8)
        let r = try ToolTests.run("augur", ["stats", "--dir", "db"], in: dir.path)
        #expect(!r.signaled && r.status == 1 && r.stderr.contains("db/TELEMETRY.json is damaged"), "\(r.status) \(r.stderr)")
    }
}

/// Found by a hostile-user review of the CLI (2026-12-07, F3, F6, F10): `stats --json` printed
/// TELEMETRY.json verbatim (a damaged file exited 0, `--table` was ignored), `plan` and
/// `stats --metrics` blamed every read failure on an engine that had not written the file yet,
/// and the "records" column read as live keys.
@Suite struct StatsPlanReadToolTests {
    /// A store with tables `a` and `b` and the TELEMETRY.json its close wrote.
    static func storeWithTwoTables(in dir: TemporaryDirectory) throws -> String {
        let store = dir.child("db")
        let engine = try Engine.open(at: store)
        for name in ["a", "b"] {
            let t = try engine.createTable(name)
            for i in 0..<10 { try t.put(Array("k\(i)".utf8), [1]) }
        }
        try engine.flush()
        try engine.close()
        return store
    }

    @Test func statsJSONIsCheckedAndFilteredByTable() throws {
        let dir = TemporaryDirectory()
        let store = try Self.storeWithTwoTables(in: dir)
        let written = try Data(contentsOf: URL(fileURLWithPath: store + "/TELEMETRY.json"))
        // Without --table: the document the engine wrote, unchanged.
        let all = try ToolTests.run("augur", ["stats", "--dir", "db", "--json"], in: dir.path)
        #expect(all.status == 0 && all.stdout == String(decoding: written, as: UTF8.self) + "\n", "\(all.stderr)")
        // With --table: only that table's partitions.
        let a = try ToolTests.run("augur", ["stats", "--dir", "db", "--json", "--table", "a"], in: dir.path)
        #expect(a.status == 0, "\(a.stderr)")
        let file = try TelemetryFile.decode(Array(a.stdout.utf8))
        #expect(!file.partitions.isEmpty && file.partitions.allSatisfy { $0.table == "a" }, "\(a.stdout)")
        // An unknown table: the table view's error, for --json too.
        for args in [["--json", "--table", "nope"], ["--table", "nope"]] {
            let r = try ToolTests.run("augur", ["stats", "--dir", "db"] + args, in: dir.path)
            #expect(r.status == 1 && r.stdout.isEmpty && r.stderr.contains("no table named \"nope\" in db/TELEMETRY.json"), "\(args): \(r.stderr)")
        }
        // A damaged file: the table view's error, for --json too.
        try "{\"garbage\": ".write(toFile: store + "/TELEMETRY.json", atomically: true, encoding: .utf8)
        for args in [["--json"], []] {
            let r = try ToolTests.run("augur", ["stats", "--dir", "db"] + args, in: dir.path)
            #expect(r.status == 1 && r.stdout.isEmpty && r.stderr.contains("db/TELEMETRY.json is damaged"), "\(args): \(r.stdout) \(r.stderr)")
        }
    }

    /// The column heading says what the engine counts: every version in every run.
    @Test func recordsColumnSaysItCountsEveryVersion() throws {
        let dir = TemporaryDirectory()
        _ = try Self.storeWithTwoTables(in: dir)
        for sub in ["stats", "info"] {
            let r = try ToolTests.run("augur", [sub, "--dir", "db"], in: dir.path)
            #expect(r.status == 0 && r.stdout.contains("stored records (all versions)"), "\(sub): \(r.stdout) \(r.stderr)")
        }
    }

    /// Only a missing file is "not written yet"; no store, a file as --dir, a PLAN.txt that is
    /// not text and a METRICS.prom that is a directory each say what they are.
    @Test func planAndMetricsReadFailuresSayWhatIsWrong() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.child("st"), withIntermediateDirectories: false)
        try Data([0x61, 0x0a, 0xff]).write(to: URL(fileURLWithPath: dir.child("st/PLAN.txt")))
        try FileManager.default.createDirectory(atPath: dir.child("st/METRICS.prom"), withIntermediateDirectories: false)
        FileManager.default.createFile(atPath: dir.child("regular"), contents: Data("x".utf8))
        try FileManager.default.createDirectory(atPath: dir.child("empty"), withIntermediateDirectories: false)
        let cases: [([String], String)] = [
            (["plan", "--dir", "nonexist"], "no store at nonexist: the directory does not exist"),
            (["plan", "--dir", "regular"], "regular is not a directory"),
            (["plan", "--dir", "st"], "st/PLAN.txt is not UTF-8 text: line 2 (byte offset 2)"),
            (["plan", "--dir", "empty"], "no plan at empty/PLAN.txt: the controller has not run"),
            (["stats", "--dir", "st", "--metrics"], "st/METRICS.prom is a directory"),
            (["stats", "--dir", "regular", "--metrics"], "regular is not a directory"),
            (["stats", "--dir", "empty", "--metrics"], "no metrics at empty/METRICS.prom"),
        ]
        for (args, message) in cases {
            let r = try ToolTests.run("augur", args, in: dir.path)
            #expect(!r.signaled && r.status == 1 && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }
}
