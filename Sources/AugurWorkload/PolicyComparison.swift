import Foundation

/// The same scenario run under several partition policies (issue 14: self-partitioning
/// against static), side by side, with the issue's criteria checked on the numbers.
///
/// Each run is found by its `RunResult.policy`; the first run of a policy counts. A rule that
/// needs a run or a number that is missing (a policy not run, an engine that reports no
/// partition counters, a run with no measured operations) is neither passed nor failed:
/// its outcome is `notApplicable` and the line says what was missing.
///
/// The rules, with the thresholds of `PolicyCriteria`:
/// - (a) predictive has the lowest p99 of the runs: no other run's p99 is strictly lower
///   (a tie counts as lowest).
/// - (b) predictive's overload seconds ≤ `overloadFraction` × reactive's.
/// - (c) predictive's mean partitions ≤ `partitionsMultiple` × reactive's.
/// - (d) predictive's bytes moved ≤ `bytesMovedMultiple` × reactive's.
/// - (e) static shows overload: its overload seconds > 0.
///
/// (b) and (d) are bounds relative to reactive and are applied as written when reactive's
/// number is 0: the bound is then 0, so the rule holds only when predictive's is 0 too
/// ("at most half of nothing" is nothing).
public struct PolicyComparison: Sendable, Equatable {
    public var runs: [RunResult]
    public var criteria: PolicyCriteria

    public init(runs: [RunResult], criteria: PolicyCriteria = PolicyCriteria()) {
        self.runs = runs
        self.criteria = criteria
    }

    /// The first run of `policy`.
    public func run(_ policy: PartitionPolicy) -> RunResult? { runs.first { $0.policy == policy } }

    /// One check per rule, in order (a) to (e).
    public func checks() -> [PolicyCheck] {
        PolicyRule.allCases.map(check)
    }

    func check(_ rule: PolicyRule) -> PolicyCheck {
        let c = criteria
        let predictive = run(.predictive), reactive = run(.reactive), fixed = run(.static)
        func na(_ why: String) -> PolicyCheck { PolicyCheck(rule: rule, outcome: .notApplicable, detail: "\(rule.statement(c)): \(why)") }
        func verdict(_ passed: Bool, _ numbers: String) -> PolicyCheck {
            PolicyCheck(rule: rule, outcome: passed ? .pass : .fail, detail: "\(rule.statement(c)): \(numbers)")
        }
        switch rule {
        case .lowestP99:
            guard let predictive else { return na("no predictive run") }
            let others = [fixed, reactive].compactMap { $0 }
            guard !others.isEmpty else { return na("no static or reactive run to compare with") }
            if let empty = ([predictive] + others).first(where: { $0.operations == 0 }) {
                return na("the \(empty.policy?.rawValue ?? "?") run measured no operations")
            }
            let p = predictive.all.p99Microseconds
            let passed = others.allSatisfy { $0.all.p99Microseconds >= p }
            return verdict(passed, "predictive \(us(p)) µs; " + others.map { "\($0.policy?.rawValue ?? "?") \(us($0.all.p99Microseconds)) µs" }.joined(separator: ", "))
        case .overloadVsReactive:
            guard let predictive, let reactive else { return na(predictive == nil ? "no predictive run" : "no reactive run") }
            guard let p = predictive.partitions.overloadSeconds, let r = reactive.partitions.overloadSeconds else {
                return na("the engine reports no overload seconds")
            }
            let bound = c.overloadFraction * r
            return verdict(p <= bound, "\(fmt(p)) s vs \(percent(c.overloadFraction)) of \(fmt(r)) s = \(fmt(bound)) s")
        case .partitionsVsReactive:
            guard let predictive, let reactive else { return na(predictive == nil ? "no predictive run" : "no reactive run") }
            guard let p = predictive.partitions.mean, let r = reactive.partitions.mean else {
                return na("the engine reports no partition counts")
            }
            let bound = c.partitionsMultiple * r
            return verdict(p <= bound, "\(mean(p)) vs \(multiple(c.partitionsMultiple)) × \(mean(r)) = \(mean(bound))")
        case .bytesMovedVsReactive:
            guard let predictive, let reactive else { return na(predictive == nil ? "no predictive run" : "no reactive run") }
            guard let p = predictive.partitions.bytesMoved, let r = reactive.partitions.bytesMoved else {
                return na("the engine reports no bytes moved")
            }
            let bound = c.bytesMovedMultiple * Double(r)
            return verdict(Double(p) <= bound, "\(fmtBytes(p)) vs \(multiple(c.bytesMovedMultiple)) × \(fmtBytes(r)) = \(fmtBytes(Int64(bound.rounded(.down))))")
        case .staticOverloads:
            guard let fixed else { return na("no static run") }
            guard let s = fixed.partitions.overloadSeconds else { return na("the engine reports no overload seconds") }
            return verdict(s > 0, "\(fmt(s)) s")
        }
    }

    /// The side-by-side table, one row per run in the order given, then one line per rule.
    public func table() -> String {
        guard let first = runs.first else { return "" }
        var lines = ["policies (\(first.workload), \(first.distribution), \(first.threads) threads, \(first.loop) loop, \(first.profile); "
                     + "seed \(first.seed); a fresh \(first.engine) store each):", ""]
        let header = ["policy", "ops/s", "p50 µs", "p99 µs", "p99.9 µs", "overload s", "mean parts", "max parts",
                      "splits/merges/moves", "bytes moved", "bytes shared", "forecast MAPE", "host stolen s"]
        let rows = runs.map { r in
            let p = r.partitions
            func opt<T>(_ v: T?, _ f: (T) -> String) -> String { v.map(f) ?? "n/a" }
            return [r.policy?.rawValue ?? r.engine, String(format: "%.0f", r.throughput),
                    us(r.all.p50Microseconds), us(r.all.p99Microseconds), us(r.all.p999Microseconds),
                    opt(p.overloadSeconds, fmt), opt(p.mean, mean), opt(p.maximum) { String($0) },
                    "\(opt(p.splits) { String($0) })/\(opt(p.merges) { String($0) })/\(opt(p.moves) { String($0) })",
                    opt(p.bytesMoved, fmtBytes), opt(p.bytesShared, fmtBytes), opt(p.forecastError) { String(format: "%.1f%%", $0 * 100) },
                    opt(r.hostSteal) { String(format: "%.2f", $0.seconds) }]
        }
        lines += formatTable(header: header, rows: rows, indent: "  ")
        lines.append("")
        // Runs one after another on a virtual machine can be decided by which one the host
        // paused (HostSteal.swift): say so beside the verdicts, which stay as measured.
        let paused = runs.compactMap { r in r.hostSteal.flatMap { $0.pausedIntervals > 0 ? (r, $0) : nil } }
        if !paused.isEmpty {
            lines.append("  host pauses (its latency percentiles include them): "
                         + paused.map { "\($0.0.policy?.rawValue ?? $0.0.engine) \($0.1.text)" }.joined(separator: "; "))
            lines.append("")
        }
        lines += checks().map { "  " + $0.line }
        return lines.joined(separator: "\n")
    }

    func us(_ v: Double) -> String { String(format: "%.1f", v) }
    func mean(_ v: Double) -> String { String(format: "%.2f", v) }
    func percent(_ f: Double) -> String { formatNumber(f * 100) + "%" }
    func multiple(_ m: Double) -> String { formatNumber(m) }
}

/// The thresholds of issue 14's criteria (see `PolicyComparison`).
public struct PolicyCriteria: Sendable, Equatable {
    /// (b) Predictive's overload seconds may be at most this fraction of reactive's.
    /// Dimensionless; default 0.5.
    public var overloadFraction = 0.5
    /// (c) Predictive's mean partition count may be at most this multiple of reactive's.
    /// Dimensionless; default 1.25.
    public var partitionsMultiple = 1.25
    /// (d) Predictive's bytes moved may be at most this multiple of reactive's.
    /// Dimensionless; default 1.2.
    public var bytesMovedMultiple = 1.2
    public init() {}
}

/// Issue 14's criteria, lettered as in the issue.
public enum PolicyRule: String, Sendable, CaseIterable {
    case lowestP99 = "a"
    case overloadVsReactive = "b"
    case partitionsVsReactive = "c"
    case bytesMovedVsReactive = "d"
    case staticOverloads = "e"

    /// The rule in words, with its threshold.
    func statement(_ c: PolicyCriteria) -> String {
        switch self {
        case .lowestP99: "predictive has the lowest p99"
        case .overloadVsReactive: "predictive's overload seconds ≤ \(formatNumber(c.overloadFraction * 100))% of reactive's"
        case .partitionsVsReactive: "predictive's mean partitions ≤ \(formatNumber(c.partitionsMultiple)) × reactive's"
        case .bytesMovedVsReactive: "predictive's bytes moved ≤ \(formatNumber(c.bytesMovedMultiple)) × reactive's"
        case .staticOverloads: "static shows overload (> 0 s)"
        }
    }
}

/// One rule checked on the runs.
public struct PolicyCheck: Sendable, Equatable {
    public enum Outcome: String, Sendable, Equatable {
        case pass = "PASS"
        case fail = "FAIL"
        /// A run or number the rule needs is missing.
        case notApplicable = "n/a"
    }
    public var rule: PolicyRule
    public var outcome: Outcome
    /// The rule and the numbers behind the outcome, or what was missing.
    public var detail: String

    /// `(b) FAIL  predictive's overload seconds ≤ 50% of reactive's: 3.00 s vs 50% of 4.00 s = 2.00 s`
    public var line: String {
        "(\(rule.rawValue)) " + outcome.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0) + "  " + detail
    }
}
