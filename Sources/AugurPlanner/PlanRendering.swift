/// Canonical one-line-per-item text of a plan, used by the data-driven tests and the CLI:
///
///     split p1 @ 20,40 [predicted-overload] -> 0.50 0.45 0.40 bytes=2G
///     merge p3 p4 [idle] -> 0.20 bytes=128M
///     move p5|p6 @ 38 [neighbour-headroom] -> 0.55 0.60 bytes=256M
///     precreate p9 @ 90,a0 [append-ahead] -> 0.40 0.00 0.00 bytes=0
///     activate p10 [data-arrived]
///     finding hot-key p3 key=4142 share=0.90
///     finding not-at-trough p5 p6
///
/// Utilizations are predicted peaks rounded to two decimals; bytes use binary suffixes.
///
/// Thread-safety: stateless.
public enum PlanRendering {
    /// The action and finding lines of `plan`.
    public static func lines(_ plan: Plan) -> [String] {
        plan.actions.map(line) + plan.findings.map(line)
    }

    /// One action's line.
    public static func line(_ a: PlannedAction) -> String {
        let utils = a.effect.resulting.map { Fmt.f2($0.predictedUtilization) }.joined(separator: " ")
        let tail = " [\(a.reason.code.rawValue)] -> \(utils) bytes=\(Fmt.bytes(a.effect.bytesToMove))"
        switch a.action {
        case let .split(p, keys):
            return "split \(p) @ \(keys.map(KeyFormat.hex).joined(separator: ","))" + tail
        case let .precreate(p, keys):
            return "precreate \(p) @ \(keys.map(KeyFormat.hex).joined(separator: ","))" + tail
        case let .merge(l, r):
            return "merge \(l) \(r)" + tail
        case let .moveBoundary(l, r, key):
            return "move \(l)|\(r) @ \(KeyFormat.hex(key))" + tail
        case let .activate(p):
            return "activate \(p) [\(a.reason.code.rawValue)]"
        }
    }

    /// One finding's line.
    public static func line(_ f: PlanFinding) -> String {
        var s = "finding \(f.code.rawValue) " + f.partitions.map(\.description).joined(separator: " ")
        if let k = f.key { s += " key=\(KeyFormat.hex(k))" }
        if let share = f.loadFraction { s += " share=\(Fmt.f2(share))" }
        return s
    }

    /// A partition score line: `score p1 0.97 now=0.85 peak=1.02`.
    public static func line(_ s: PartitionScore) -> String {
        "score \(s.partition) \(Fmt.f2(s.score)) now=\(Fmt.f2(s.currentUtilization)) peak=\(Fmt.f2(s.predictedPeakUtilization))"
    }
}
