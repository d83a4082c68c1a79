/// What one simulation run measured. Every field is deterministic for given options, profile,
/// policy and seed (no wall-clock values), so two runs can be compared with `==`.
///
/// Thread-safety: value type, `Sendable`.
public struct SimulationMetrics: Sendable, Equatable, Codable {
    /// Policy name.
    public var policy: String
    /// Simulated time. Unit: s.
    public var simulatedSeconds: Int
    /// Σ over seconds of the number of partitions whose utilization exceeded 1. Unit:
    /// partition-seconds.
    public var overloadPartitionSeconds: Int
    /// Operations served by a partition while it was overloaded. Unit: operations.
    public var opsOnOverloadedPartitions: Double
    /// Operations above capacity (the part an overloaded partition could not absorb).
    /// Unit: operations.
    public var excessOps: Double
    /// All operations. Unit: operations.
    public var totalOps: Double
    /// Data copied by completed and running reshards (charged at issue). Unit: bytes.
    public var bytesMoved: UInt64
    /// Data copied by the reshards that completed within the run (what the engine reports as
    /// moved: committed reshards only). Unit: bytes.
    public var bytesCommitted: UInt64
    /// Reshards issued, all kinds except activation.
    public var reshards: Int
    /// Issued splits (including N-way), merges, boundary moves, pre-creates, activations.
    public var splits: Int
    public var merges: Int
    public var moves: Int
    public var precreates: Int
    public var activations: Int
    /// Children created by splits. Unit: partitions.
    public var splitChildren: Int
    /// Merges of a partition a split produced (any time later).
    public var reversals: Int
    /// Of those, merges issued within `CapacityModel.cooldownNanos` of the split.
    public var reversalsWithinCooldown: Int
    /// Load-driven actions whose original range was overloaded (noise-free expected load
    /// above capacity) around them; lead = overload start − completion. Unit: s.
    public var leadTimes: [Int]
    /// Load-driven actions whose range did not overload before completion + the watch window.
    public var leadNoOverload: Int
    /// Predicted lead: `predictedOverloadAt − completion` for actions that carried a
    /// predicted overload time. Unit: s.
    public var predictedLeadTimes: [Int]
    /// Largest and final partition counts; mean over seconds.
    public var maxPartitions: Int
    public var finalPartitions: Int
    public var meanPartitions: Double
    /// Plan violations found by `PlanValidator` (must be 0).
    public var planViolations: Int
    /// Actions the executor refused (must be 0).
    public var rejectedActions: Int
    /// Hot-key findings reported by the planner (counted once per partition).
    public var hotKeyReports: Int

    /// Empty metrics for a policy.
    public init(policy: String) {
        self.policy = policy
        simulatedSeconds = 0
        overloadPartitionSeconds = 0
        opsOnOverloadedPartitions = 0
        excessOps = 0
        totalOps = 0
        bytesMoved = 0
        bytesCommitted = 0
        reshards = 0
        splits = 0
        merges = 0
        moves = 0
        precreates = 0
        activations = 0
        splitChildren = 0
        reversals = 0
        reversalsWithinCooldown = 0
        leadTimes = []
        leadNoOverload = 0
        predictedLeadTimes = []
        maxPartitions = 0
        finalPartitions = 0
        meanPartitions = 0
        planViolations = 0
        rejectedActions = 0
        hotKeyReports = 0
    }

    /// Median of `leadTimes` (nil when empty). Unit: s.
    public var medianLead: Int? { Self.quantile(leadTimes, 0.5) }
    /// Share of `leadTimes` that are ≥ 0 (completed before the overload began).
    public var onTimeFraction: Double? {
        leadTimes.isEmpty ? nil : Double(leadTimes.filter { $0 >= 0 }.count) / Double(leadTimes.count)
    }
    /// Median of `predictedLeadTimes`. Unit: s.
    public var medianPredictedLead: Int? { Self.quantile(predictedLeadTimes, 0.5) }

    static func quantile(_ xs: [Int], _ q: Double) -> Int? {
        guard !xs.isEmpty else { return nil }
        let s = xs.sorted()
        return s[min(s.count - 1, Int(Double(s.count - 1) * q + 0.5))]
    }
}
