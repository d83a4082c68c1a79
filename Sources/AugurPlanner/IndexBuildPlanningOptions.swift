// The index-build planner's knobs: when reshards run relative to the builds, and the search's
// bounds and feasibility limits (IndexBuildPlanner.swift plans with them).

/// When the reshards of an index-build plan run relative to the builds.
///
/// Either way the reshards run one after another on the executor (it takes one job at a time),
/// so reshard time is what ``ReshardCostModel`` predicts for them, and a
/// reshaped piece can be built only once all reshards are done.
///
/// Thread-safety: `Sendable` enum.
public enum ReshardScheduling: String, Sendable, Hashable, CaseIterable {
    /// Reshards first, then every build: makespan = reshard time + the largest worker load.
    case beforeBuild = "before-build"
    /// Workers build unchanged partitions while the executor copies; a worker's finish time is
    /// `max(unchanged load, reshard time) + reshaped load` (just its unchanged load if it has no
    /// reshaped piece). Assumes the copy does not slow the builds (it is I/O bound; on a machine
    /// with as many build workers as cores it will somewhat).
    case overlapped = "overlapped"
}

/// Knobs of the index-build planner. Every number has its unit and default.
///
/// Thread-safety: value type, `Sendable`.
public struct IndexBuildPlanningOptions: Sendable, Hashable {
    /// Seed of the annealing's random generator; same inputs and seed → same plan.
    /// Default `0x5EED`.
    public var seed: UInt64
    /// Neighbour moves proposed in total (the search's bound besides `shouldStop`). Unit: moves.
    /// Default `20_000`.
    public var maxIterations: Int
    /// The budget is split into this many annealing rounds, each restarting from the best state
    /// found so far at the initial temperature. Default `4`.
    public var restarts: Int
    /// Starting temperature as a fraction of the static makespan: a move that worsens the
    /// objective by this fraction is accepted with probability 1/e at the start. Dimensionless.
    /// Default `0.3` (0.05 missed the brute-force optimum in 2 of 4000 small cases, 0.3 in 0 of 12000).
    public var initialTemperature: Double
    /// Temperature at the end of each round, as a fraction of the static makespan (geometric
    /// cooling from `initialTemperature`). Dimensionless. Default `1e-5`.
    public var finalTemperature: Double
    /// Most partitions after reshaping; a layout that already has more is allowed to keep them
    /// (the limit is `max(maxPartitions, partitions.count)`). Default `1024`.
    public var maxPartitions: Int
    /// Smallest partition a reshard may create; existing partitions left unchanged may be
    /// smaller. Unit: bytes. Default `64 MiB` (``CapacityModel/minPartitionBytes``).
    public var minPartitionBytes: UInt64
    /// How reshards and builds overlap. Default ``ReshardScheduling/beforeBuild``.
    public var scheduling: ReshardScheduling
    /// `shouldStop` is called every this many iterations. Unit: moves. Default `256`.
    public var stopCheckInterval: Int

    /// Creates options; every parameter has the documented default.
    public init(seed: UInt64 = 0x5EED,
                maxIterations: Int = 20_000,
                restarts: Int = 4,
                initialTemperature: Double = 0.3,
                finalTemperature: Double = 1e-5,
                maxPartitions: Int = 1024,
                minPartitionBytes: UInt64 = 64 << 20,
                scheduling: ReshardScheduling = .beforeBuild,
                stopCheckInterval: Int = 256) {
        self.seed = seed
        self.maxIterations = maxIterations
        self.restarts = restarts
        self.initialTemperature = initialTemperature
        self.finalTemperature = finalTemperature
        self.maxPartitions = maxPartitions
        self.minPartitionBytes = minPartitionBytes
        self.scheduling = scheduling
        self.stopCheckInterval = stopCheckInterval
    }

    /// Throws ``IndexBuildPlanningError/invalidOption(name:value:limit:)`` for the first option
    /// out of range.
    public func validate() throws(IndexBuildPlanningError) {
        if maxIterations < 0 {
            throw .invalidOption(name: "maxIterations", value: Double(maxIterations), limit: "must be ≥ 0")
        }
        if restarts < 1 { throw .invalidOption(name: "restarts", value: Double(restarts), limit: "must be ≥ 1") }
        if !(initialTemperature.isFinite && initialTemperature > 0) {
            throw .invalidOption(name: "initialTemperature", value: initialTemperature, limit: "must be finite and > 0")
        }
        if !(finalTemperature > 0 && finalTemperature <= initialTemperature) {
            throw .invalidOption(name: "finalTemperature", value: finalTemperature,
                                 limit: "must be > 0 and ≤ initialTemperature (\(initialTemperature))")
        }
        if maxPartitions < 1 {
            throw .invalidOption(name: "maxPartitions", value: Double(maxPartitions), limit: "must be ≥ 1")
        }
        if stopCheckInterval < 1 {
            throw .invalidOption(name: "stopCheckInterval", value: Double(stopCheckInterval), limit: "must be ≥ 1")
        }
    }
}
