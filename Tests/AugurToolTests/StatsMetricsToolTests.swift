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
        #expect(missing.stderr.contains("no metrics at") && missing.stderr.split(separator: "\n").count == 1, "\(missing.stderr)")
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
