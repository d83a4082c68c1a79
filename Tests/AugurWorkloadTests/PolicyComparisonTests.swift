@testable import AugurWorkload
import Foundation
import Testing

/// Issue 14's criteria over hand-built runs; the table and the summary page.
@Suite("Policy comparison")
struct PolicyComparisonTests {
    /// A run under `policy` with the numbers the criteria read.
    static func run(_ policy: PartitionPolicy?, p99: Double, overload: Double? = 0, mean: Double? = 1,
                    bytesMoved: Int64? = 0, operations: Int = 1000, forecastError: Double? = nil) -> RunResult {
        let all = OperationSummary(kind: "all", count: operations, opsPerSecond: Double(operations), p50Microseconds: p99 / 4,
                                   p95Microseconds: p99 / 2, p99Microseconds: p99, p999Microseconds: p99 * 2, maxMicroseconds: p99 * 4)
        var r = RunResult(engine: "augur", workload: "ycsb-a", workloadSummary: "", mix: "", distribution: "moving-hotspot",
                          keySize: 16, valueSize: 100, keyOrder: "ordered", records: 1000, threads: 2, loop: "open",
                          profile: "replay", seed: 42, warmupSeconds: 0, measuredSeconds: 1, runSeconds: 1,
                          operations: operations, errors: 0, firstError: nil, throughput: Double(operations), all: all,
                          perOperation: [all],
                          partitions: PartitionSummary(atStart: 1, atEnd: 1, maximum: mean.map { Int($0.rounded(.up)) }, mean: mean,
                                                       splits: 0, merges: 0, moves: 0, bytesMoved: bytesMoved,
                                                       overloadSeconds: overload, forecastError: forecastError),
                          series: [], events: [], load: nil)
        r.policy = policy
        return r
    }

    func outcomes(_ runs: [RunResult], _ criteria: PolicyCriteria = PolicyCriteria()) -> [PolicyCheck.Outcome] {
        PolicyComparison(runs: runs, criteria: criteria).checks().map(\.outcome)
    }

    @Test("all five criteria pass when predictive wins")
    func allPass() {
        let runs = [Self.run(.static, p99: 900, overload: 30, mean: 1),
                    Self.run(.reactive, p99: 600, overload: 10, mean: 4, bytesMoved: 1_000_000),
                    Self.run(.predictive, p99: 400, overload: 5, mean: 5, bytesMoved: 1_200_000)]
        #expect(outcomes(runs) == [.pass, .pass, .pass, .pass, .pass])
        let c = PolicyComparison(runs: runs)
        #expect(c.checks().map(\.rule) == [.lowestP99, .overloadVsReactive, .partitionsVsReactive, .bytesMovedVsReactive, .staticOverloads])
    }

    @Test("each criterion fails just past its threshold and passes at it")
    func thresholds() {
        let fixed = Self.run(.static, p99: 900, overload: 30)
        let reactive = Self.run(.reactive, p99: 600, overload: 10, mean: 4, bytesMoved: 1000)
        // At the thresholds: 5 s = 50% of 10 s, 5 = 1.25 × 4, 1200 B = 1.2 × 1000 B, p99 tie with reactive.
        let atLimit = Self.run(.predictive, p99: 600, overload: 5, mean: 5, bytesMoved: 1200)
        #expect(outcomes([fixed, reactive, atLimit]) == [.pass, .pass, .pass, .pass, .pass])
        let over = Self.run(.predictive, p99: 600.1, overload: 5.01, mean: 5.01, bytesMoved: 1201)
        #expect(outcomes([fixed, reactive, over]) == [.fail, .fail, .fail, .fail, .pass])
        // A p99 below reactive's but above static's is not the lowest.
        let midP99 = Self.run(.predictive, p99: 500)
        #expect(outcomes([Self.run(.static, p99: 450, overload: 1), reactive, midP99]).first == .fail)
    }

    @Test("against a reactive 0, (b) and (d) hold only when predictive's is 0 too")
    func reactiveZero() {
        let fixed = Self.run(.static, p99: 900, overload: 30)
        let reactive = Self.run(.reactive, p99: 600, overload: 0, mean: 1, bytesMoved: 0)
        let zero = Self.run(.predictive, p99: 500, overload: 0, mean: 1, bytesMoved: 0)
        #expect(outcomes([fixed, reactive, zero]) == [.pass, .pass, .pass, .pass, .pass])
        let some = Self.run(.predictive, p99: 500, overload: 0.5, mean: 1, bytesMoved: 1)
        let checks = PolicyComparison(runs: [fixed, reactive, some]).checks()
        #expect(checks.map(\.outcome) == [.pass, .fail, .pass, .fail, .pass])
        #expect(checks[1].line.hasPrefix("(b) FAIL  predictive's overload seconds ≤ 50% of reactive's: 0.50 s"), "\(checks[1].line)")
        #expect(checks[3].detail.contains("1 B vs 1.2 × 0 B"), "\(checks[3].detail)")
    }

    @Test("static without overload fails (e)")
    func staticWithoutOverload() {
        let runs = [Self.run(.static, p99: 900, overload: 0), Self.run(.reactive, p99: 600, overload: 2),
                    Self.run(.predictive, p99: 400, overload: 1)]
        let e = PolicyComparison(runs: runs).checks().last!
        #expect(e.rule == .staticOverloads && e.outcome == .fail)
        #expect(e.line == "(e) FAIL  static shows overload (> 0 s): 0.00 s")
    }

    @Test("missing runs or numbers are n/a, not PASS or FAIL")
    func notApplicable() {
        // Only static and predictive: (a) compares with static; (b)-(d) need reactive.
        let two = [Self.run(.static, p99: 900, overload: 3), Self.run(.predictive, p99: 400, overload: 1)]
        #expect(outcomes(two) == [.pass, .notApplicable, .notApplicable, .notApplicable, .pass])
        #expect(PolicyComparison(runs: two).checks()[1].detail.hasSuffix("no reactive run"))
        // No predictive run: (a)-(d) are n/a.
        let noPredictive = [Self.run(.static, p99: 900, overload: 3), Self.run(.reactive, p99: 400)]
        #expect(outcomes(noPredictive) == [.notApplicable, .notApplicable, .notApplicable, .notApplicable, .pass])
        // An engine without partition counters.
        let bare = [Self.run(.static, p99: 900, overload: nil, mean: nil, bytesMoved: nil),
                    Self.run(.reactive, p99: 600, overload: nil, mean: nil, bytesMoved: nil),
                    Self.run(.predictive, p99: 400, overload: nil, mean: nil, bytesMoved: nil)]
        #expect(outcomes(bare) == [.pass, .notApplicable, .notApplicable, .notApplicable, .notApplicable])
        // A run that measured nothing has a p99 of 0 that must not win (a).
        let empty = [Self.run(.static, p99: 900, overload: 3), Self.run(.reactive, p99: 600),
                     Self.run(.predictive, p99: 0, operations: 0)]
        #expect(outcomes(empty).first == .notApplicable)
        // Runs without a policy (not from the command line) match no rule.
        #expect(outcomes([Self.run(nil, p99: 1)]) == Array(repeating: .notApplicable, count: 5))
    }

    @Test("thresholds are options")
    func criteriaAreOptions() {
        var strict = PolicyCriteria()
        strict.overloadFraction = 0.25
        let runs = [Self.run(.static, p99: 900, overload: 30), Self.run(.reactive, p99: 600, overload: 10),
                    Self.run(.predictive, p99: 400, overload: 4)]
        #expect(outcomes(runs)[1] == .pass)
        #expect(outcomes(runs, strict)[1] == .fail)
        #expect(PolicyComparison(runs: runs, criteria: strict).checks()[1].detail.contains("≤ 25% of reactive's"))
    }

    @Test("the table has one row per run, then one line per rule")
    func table() {
        let runs = [Self.run(.static, p99: 900, overload: 30, mean: 1),
                    Self.run(.reactive, p99: 600, overload: 10, mean: 3.5, bytesMoved: 3 << 20),
                    Self.run(.predictive, p99: 400, overload: 4, mean: 4, bytesMoved: 2 << 20, forecastError: 0.125)]
        let text = PolicyComparison(runs: runs).table()
        let lines = text.split(separator: "\n").map(String.init)
        let header = try! #require(lines.firstIndex { $0.contains("policy") && $0.contains("p99 µs") && $0.contains("forecast MAPE") })
        let rows = lines[(header + 2)...].prefix { !$0.isEmpty && !$0.hasPrefix("  (") }
        #expect(rows.map { $0.split(separator: " ").first.map(String.init) } == ["static", "reactive", "predictive"])
        #expect(rows[rows.startIndex].hasSuffix("n/a"), "no forecast: n/a")
        #expect(text.contains("12.5%") && text.contains("3.0 MiB") && text.contains("3.50"))
        #expect(lines.filter { $0.hasPrefix("  (") }.count == 5)
        #expect(text.contains("(e) PASS  static shows overload (> 0 s): 30.0 s"))
    }

    @Test("the summary page is well-formed and carries every run and criterion")
    func summaryPage() {
        let runs = [Self.run(.static, p99: 900, overload: 30), Self.run(.reactive, p99: 600, overload: 10),
                    Self.run(.predictive, p99: 400, overload: 4)]
        let page = HTMLReport.render(PolicyComparison(runs: runs), links: [("static", "r-static.html")])
        let doc = ElementCollector.parse(page)
        #expect(doc.error == nil, "\(doc.error ?? "")")
        #expect(doc.elements.filter { $0.name == "tr" && $0.attributes["data-rule"] != nil }.count == 5)
        #expect(doc.elements.contains { $0.name == "a" && $0.attributes["href"] == "r-static.html" })
    }
}
