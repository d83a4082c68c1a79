/// The simulator's prediction of one engine run beside what the engine measured: mean and
/// largest partition count, and bytes moved by committed reshards.
///
/// Thread-safety: value type, `Sendable`.
public struct EngineRunPrediction: Sendable, Equatable, Encodable {
    /// Largest relative difference at which a prediction agrees with the measurement:
    /// `|predicted / measured − 1| ≤ tolerance`. Dimensionless. `0.3` (±30 %).
    public static let tolerance = 0.3

    /// One predicted quantity and its measurement.
    ///
    /// Thread-safety: value type, `Sendable`.
    public struct Figure: Sendable, Equatable, Encodable {
        public var predicted: Double
        /// nil when the run did not report it.
        public var measured: Double?

        public init(predicted: Double, measured: Double?) {
            self.predicted = predicted
            self.measured = measured
        }

        /// `predicted / measured`; nil without a measurement or when it is 0.
        public var ratio: Double? {
            guard let measured, measured != 0 else { return nil }
            return predicted / measured
        }

        /// Whether the prediction agrees within ``EngineRunPrediction/tolerance`` (both zero
        /// agrees; nil without a measurement).
        public var withinTolerance: Bool? {
            guard let measured else { return nil }
            if measured == 0 { return predicted == 0 }
            return abs(predicted / measured - 1) <= EngineRunPrediction.tolerance + 1e-12
        }

        enum CodingKeys: String, CodingKey { case predicted, measured, ratio, withinTolerance }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(predicted, forKey: .predicted)
            try c.encode(measured, forKey: .measured)
            try c.encode(ratio, forKey: .ratio)
            try c.encode(withinTolerance, forKey: .withinTolerance)
        }
    }

    /// `run 2 (predictive)`.
    public var run: String
    public var policy: String
    public var meanPartitions: Figure
    public var maxPartitions: Figure
    public var bytesMoved: Figure
    /// What the simulation was given. Units: ops/s, bytes/s, s.
    public var capacity: Double
    public var copyBytesPerSecond: Double
    public var simulatedSeconds: Int
    /// Values that were not the run's own.
    public var notes: [String]
    /// Everything the simulation measured.
    public var metrics: SimulationMetrics
    /// One line per started action, when recorded (not encoded).
    public var actions: [String] = []

    enum CodingKeys: String, CodingKey {
        case run, policy, meanPartitions, maxPartitions, bytesMoved, capacity, copyBytesPerSecond, simulatedSeconds, notes, metrics
    }

    /// Whether every measured figure agrees within the tolerance.
    public var agrees: Bool {
        [meanPartitions, maxPartitions, bytesMoved].allSatisfy { $0.withinTolerance ?? true }
    }

    /// Table lines: per run, one row per figure with predicted, measured, ratio and verdict.
    public static func table(_ predictions: [EngineRunPrediction]) -> [String] {
        let header = ["run", "figure", "predicted", "measured", "ratio", "within ±\(SimulationReport.fixed(tolerance * 100, 0))%"]
        var rows: [[String]] = [header]
        for p in predictions {
            let figures: [(String, Figure, (Double) -> String)] = [
                ("mean partitions", p.meanPartitions, { SimulationReport.fixed($0, 2) }),
                ("max partitions", p.maxPartitions, { SimulationReport.fixed($0, 0) }),
                ("MiB moved", p.bytesMoved, { SimulationReport.fixed($0 / 1_048_576, 1) }),
            ]
            for (k, (name, f, show)) in figures.enumerated() {
                rows.append([k == 0 ? p.run : "", name, show(f.predicted), f.measured.map(show) ?? "n/a",
                             f.ratio.map { SimulationReport.fixed($0, 2) } ?? "-",
                             f.withinTolerance.map { $0 ? "yes" : "NO" } ?? "-"])
            }
        }
        let widths = header.indices.map { c in rows.map { $0[c].count }.max()! }
        return rows.map { r in
            r.enumerated().map { c, s in
                c < 2 ? s + String(repeating: " ", count: widths[c] - s.count) : SimulationReport.pad(s, widths[c])
            }.joined(separator: "  ")
        }
    }
}
