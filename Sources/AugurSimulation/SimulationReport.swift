/// Renders simulation metrics as a fixed-width table and computes the predictive-vs-reactive
/// comparison.
///
/// Thread-safety: stateless.
public enum SimulationReport {
    /// Predictive relative to reactive, when both ran.
    ///
    /// Thread-safety: value type, `Sendable`.
    public struct Comparison: Sendable, Equatable, Codable {
        /// `1 − predictive / reactive` overload partition-seconds (0.72 = 72% fewer).
        public var overloadReduction: Double?
        /// `predictive / reactive` bytes moved.
        public var bytesRatio: Double?
        /// Predictive reversals within the cooldown.
        public var predictiveReversalsWithinCooldown: Int
    }

    /// The comparison of `predictive` against `reactive` in `runs`, if both are present.
    public static func compare(_ runs: [SimulationMetrics]) -> Comparison? {
        guard let r = runs.first(where: { $0.policy == "reactive" }),
              let p = runs.first(where: { $0.policy == "predictive" }) else { return nil }
        let reduction = r.overloadPartitionSeconds > 0
            ? 1 - Double(p.overloadPartitionSeconds) / Double(r.overloadPartitionSeconds) : nil
        let ratio = r.bytesMoved > 0 ? Double(p.bytesMoved) / Double(r.bytesMoved) : nil
        return Comparison(overloadReduction: reduction, bytesRatio: ratio,
                          predictiveReversalsWithinCooldown: p.reversalsWithinCooldown)
    }

    static func gib(_ b: UInt64) -> String { fixed(Double(b) / Double(1 << 30), 1) }

    static func fixed(_ x: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let v = (x * scale).rounded() / scale
        var s = "\(v)"
        if s.contains("e") { return s }
        if digits == 0 { return "\(Int(v))" }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        let decimals = parts.count > 1 ? parts[1].count : 0
        if parts.count == 1 { s += "." }
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
        return s
    }

    static func pad(_ s: String, _ w: Int) -> String {
        s.count >= w ? s : String(repeating: " ", count: w - s.count) + s
    }

    /// Table lines, one row per run.
    public static func table(_ runs: [SimulationMetrics]) -> [String] {
        let header = ["policy", "overload p·s", "ops@overload", "excess ops", "GiB moved", "reshards", "splits",
                      "merges", "moves", "reversals", "rev<cooldown", "lead p50 s", "on-time", "mean parts", "max parts", "violations"]
        var rows: [[String]] = [header]
        for m in runs {
            rows.append([
                m.policy, "\(m.overloadPartitionSeconds)", fixed(m.opsOnOverloadedPartitions, 0), fixed(m.excessOps, 0),
                gib(m.bytesMoved), "\(m.reshards)", "\(m.splits)", "\(m.merges)", "\(m.moves)", "\(m.reversals)",
                "\(m.reversalsWithinCooldown)", m.medianLead.map(String.init) ?? "-",
                m.onTimeFraction.map { fixed($0 * 100, 0) + "%" } ?? "-", fixed(m.meanPartitions, 1), "\(m.maxPartitions)",
                "\(m.planViolations + m.rejectedActions)",
            ])
        }
        let widths = header.indices.map { c in rows.map { $0[c].count }.max()! }
        return rows.map { r in
            r.enumerated().map { c, s in c == 0 ? s + String(repeating: " ", count: widths[0] - s.count) : pad(s, widths[c]) }
                .joined(separator: "  ")
        }
    }

    /// Human summary of the comparison.
    public static func summary(_ c: Comparison) -> String {
        let red = c.overloadReduction.map { fixed($0 * 100, 1) + "% fewer overload partition-seconds" } ?? "reactive had no overload"
        let ratio = c.bytesRatio.map { fixed($0, 2) + "× the bytes" } ?? "reactive moved no bytes"
        return "predictive vs reactive: \(red); \(ratio); \(c.predictiveReversalsWithinCooldown) reversals within the cooldown"
    }
}
