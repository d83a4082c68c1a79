import AugurTestSupport
import Foundation
import Testing

/// `augur-load policies` run as a process: three short runs, one table row each, the criteria,
/// the JSON array and the reports.
@Suite struct PoliciesToolTests {
    @Test func policiesPrintsOneRowPerPolicyAndTheCriteria() throws {
        let dir = TemporaryDirectory()
        let r = try ToolTests.run("augur-load", ["policies", "-w", "a", "--records", "2000", "--duration", "2", "--warmup", "0",
                                                 "--progress", "none", "--durability", "none", "--json", "runs.json",
                                                 "--report", "r.html"],
                                  in: dir.path, environment: ["TMPDIR": dir.path])
        #expect(!r.signaled && r.status == 0, "status \(r.status): \(r.stderr)")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = try #require(lines.firstIndex { $0.contains("policy") && $0.contains("overload s") && $0.contains("mean parts") },
                                  "\(r.stdout)")
        let rows = lines[(header + 2)...].prefix { !$0.isEmpty }
        #expect(rows.map { $0.split(separator: " ").first.map(String.init) } == ["static", "reactive", "predictive"], "\(r.stdout)")
        let rules = lines.filter { $0.range(of: #"^  \([a-e]\) (PASS|FAIL|n/a) "#, options: .regularExpression) != nil }
        #expect(rules.count == 5, "\(r.stdout)")

        let data = try Data(contentsOf: URL(fileURLWithPath: dir.child("runs.json")))
        let runs = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(runs.compactMap { $0["policy"] as? String } == ["static", "reactive", "predictive"])
        for run in runs {
            let partitions = try #require(run["partitions"] as? [String: Any])
            #expect(partitions["overloadSeconds"] != nil && partitions["mean"] != nil && partitions["bytesMoved"] != nil)
        }
        for file in ["r.html", "r-static.html", "r-reactive.html", "r-predictive.html"] {
            #expect(FileManager.default.fileExists(atPath: dir.child(file)), "\(file)")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("augur-load-") }
        #expect(left.isEmpty, "each run removes its temporary store: \(left)")
    }
}
