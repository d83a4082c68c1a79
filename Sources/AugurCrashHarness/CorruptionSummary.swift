// What a corruption campaign reports: cases run, their verdicts per file kind, region and
// mutation, the base stores, every silent loss and trap with the case to replay, and the seed.
@_spi(Testing) import Augur
import AugurSys

/// How the engine dealt with one corrupted store.
public enum CaseVerdict: String, Sendable, CaseIterable, Comparable {
    /// `Engine.open` (or a read right after it) threw an `AugurError`: a typed refusal.
    case refused
    /// Opened, with every acknowledged write as acknowledged (and again after a reopen).
    case intact
    /// Abandoned store only: writes lost behind a WAL torn tail that the recovery report names
    /// (a torn tail has nothing valid after it; dropping it is what recovery is for).
    case reported
    /// Opened without a word, and acknowledged writes are missing or changed (or records
    /// appeared): the failure this campaign exists to find.
    case silentLoss = "silent-loss"
    /// The process opening the store died of a signal (a Swift runtime trap) or hung.
    case trapped
    /// The harness could not run the case (copying, mutating): a harness failure.
    case harnessError = "harness-error"

    public var passes: Bool { self == .refused || self == .intact || self == .reported }

    public static func < (a: CaseVerdict, b: CaseVerdict) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

public struct CaseOutcome: Sendable, Equatable {
    public var verdict: CaseVerdict
    /// The refusal's error, or what was lost; one line.
    public var detail: String

    public init(_ verdict: CaseVerdict, _ detail: String) {
        self.verdict = verdict
        self.detail = detail
    }
}

public struct CorruptionSummary: Sendable {
    public var seed: UInt64
    @_spi(Testing) public var plantedBug: PlantedBug?
    public var cases = 0
    /// Distinct (base, kind, region, mutation) combinations the bases offer.
    public var combinations = 0
    public var bases: [String] = []
    public var verdicts: [CaseVerdict: Int] = [:]
    public var byKind: [StoreFileKind: [CaseVerdict: Int]] = [:]
    public var byMutation: [MutationKind: [CaseVerdict: Int]] = [:]
    public var byRegion: [String: [CaseVerdict: Int]] = [:]
    /// One line per failing case (silent loss, trap, harness error), replayable.
    public var failures: [String] = []
    /// Problems outside any case (building the base stores, spawning).
    public var setupFailures: [String] = []
    public var seconds: Double = 0
    /// The stop signal that ended the run early, if one did.
    public var stoppedBy: Int32? = nil

    @_spi(Testing) public init(seed: UInt64, plantedBug: PlantedBug?) {
        self.seed = seed
        self.plantedBug = plantedBug
    }

    public var silentLosses: Int { verdicts[.silentLoss] ?? 0 }
    public var traps: Int { verdicts[.trapped] ?? 0 }
    public var passed: Bool { failures.isEmpty && setupFailures.isEmpty && cases > 0 && stoppedBy == nil }

    public mutating func record(_ c: CorruptionCase, _ outcome: CaseOutcome) {
        cases += 1
        verdicts[outcome.verdict, default: 0] += 1
        byKind[c.kind, default: [:]][outcome.verdict, default: 0] += 1
        byMutation[c.mutation.kind, default: [:]][outcome.verdict, default: 0] += 1
        byRegion["\(c.kind.rawValue) \(c.region?.rawValue ?? "whole-file")", default: [:]][outcome.verdict, default: 0] += 1
        if Environment.value("AUGUR_CRASH_DEBUG") != nil {
            print("DEBUG \(outcome.verdict.rawValue) \(c)\(outcome.detail.isEmpty ? "" : ": " + outcome.detail)")
        }
        if !outcome.verdict.passes {
            failures.append("\(outcome.verdict.rawValue.uppercased()) seed \(seed) \(c): \(outcome.detail)")
        }
    }

    static func counts(_ v: [CaseVerdict: Int]) -> String {
        let total = v.values.reduce(0, +)
        let parts = CaseVerdict.allCases.compactMap { k in v[k].map { "\(k.rawValue) \($0)" } }
        return "\(total): " + parts.joined(separator: ", ")
    }

    public func render(allFailures: Bool = false) -> String {
        var lines: [String] = []
        let label = "corruption" + (plantedBug.map { " (planted bug \($0.rawValue))" } ?? "")
        let stopped = stoppedBy.map { " — STOPPED by \(ProcessSignal.name($0)), partial" } ?? ""
        lines.append("augur-crash \(label): \(passed ? "PASSED" : "FAILED") in \(format1(seconds)) s\(stopped) — replay with --seed \(seed)")
        for b in bases { lines.append("  base store:        \(b)") }
        lines.append("  cases:             \(cases) over \(combinations) (base, file kind, region, mutation) combinations")
        lines.append("  verdicts:          " + Self.counts(verdicts))
        lines.append("    refused = typed AugurError; intact = every acknowledged write kept; reported = lost behind a torn tail the recovery report names (abandoned stores)")
        lines.append("  by file kind:")
        for k in byKind.keys.sorted() { lines.append("    \(k.rawValue.padding(16)) " + Self.counts(byKind[k]!)) }
        lines.append("  by mutation:")
        for k in byMutation.keys.sorted() { lines.append("    \(k.rawValue.padding(16)) " + Self.counts(byMutation[k]!)) }
        lines.append("  by region:")
        for k in byRegion.keys.sorted() { lines.append("    \(k.padding(16)) " + Self.counts(byRegion[k]!)) }
        lines.append("  silent losses:     \(silentLosses)")
        lines.append("  traps / hangs:     \(traps)")
        let all = setupFailures + failures
        lines.append("  failures:          \(all.count)")
        let shown = allFailures ? all.count : 20
        for f in all.prefix(shown) { lines.append("    - " + f) }
        if all.count > shown { lines.append("    … \(all.count - shown) more (--all-failures lists them)") }
        return lines.joined(separator: "\n")
    }

    /// The campaign as a line of the total summary.
    public var runSummary: RunSummary {
        var s = RunSummary(seed: seed, label: "corruption")
        s.corruptionCases = cases
        s.silentLosses = silentLosses
        s.failures = setupFailures + failures
        if cases == 0 && setupFailures.isEmpty && stoppedBy == nil { s.failures.append("corruption: no case ran") }
        s.seconds = seconds
        s.stoppedBy = stoppedBy
        return s
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
