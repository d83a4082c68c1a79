import Augur
import AugurTestSupport
import Foundation
import Testing

/// `augur-load --ingest` (issue 18): the load phase goes through the engine's bulk ingest, the
/// run then reads every record, and `--ingest` with `--no-load` is refused.
@Suite struct IngestToolTests {
    @Test func theLoadPhaseCanGoThroughBulkIngest() throws {
        let dir = TemporaryDirectory()
        let r = try ToolTests.run("augur-load", ["-w", "c", "--records", "5000", "--operations", "20000", "--warmup", "0",
                                                  "--progress", "none", "--ingest", "--dir", "store"], in: dir.path)
        #expect(r.status == 0, "status \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("through bulk ingest") || r.stdout.contains("through bulk ingest"), "\(r.stderr)")
        #expect(r.stdout.contains("0 errors"), "\(r.stdout)")
        let engine = try Engine.open(at: dir.child("store"))
        defer { try? engine.close() }
        #expect(try engine.table(named: "usertable").scan().count == 5000)
        let both = try ToolTests.run("augur-load", ["-w", "c", "--records", "100", "--operations", "100", "--ingest", "--no-load"], in: dir.path)
        #expect(both.status == 64 && both.stderr.contains("--no-load"), "status \(both.status): \(both.stderr)")
    }
}
