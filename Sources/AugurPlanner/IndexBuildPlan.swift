/// One partition as the index build will find it after the reshards: a target range.
///
/// Thread-safety: immutable value type, `Sendable`.
public struct IndexBuildPiece: Sendable, Hashable {
    /// Its key range.
    public var range: KeyRange
    /// Data in it. Unit: bytes.
    public var bytes: UInt64
    /// Records in it. Unit: records.
    public var records: UInt64
    /// Estimated build time (``IndexBuildCostModel/estimate(bytes:records:skew:)``, each part at
    /// its source's skew). Unit: ns.
    public var estimatedBuildNanos: Double
    /// Partitions whose data it holds, in key order.
    public var sources: [PartitionID]
    /// Whether it is an existing partition left as it is (nothing copied; buildable at once).
    public var isUnchanged: Bool
    /// The worker (`0..<workers`) that builds it.
    public var worker: Int

    /// Creates a piece.
    public init(range: KeyRange, bytes: UInt64, records: UInt64, estimatedBuildNanos: Double,
                sources: [PartitionID], isUnchanged: Bool, worker: Int) {
        self.range = range
        self.bytes = bytes
        self.records = records
        self.estimatedBuildNanos = estimatedBuildNanos
        self.sources = sources
        self.isUnchanged = isUnchanged
        self.worker = worker
    }
}

/// One reshard for the executor: a run of adjacent source partitions and the inner boundaries
/// their union range has afterwards (the executor's resolved form, `Reshard.swift`).
///
/// Thread-safety: immutable value type, `Sendable`.
public struct IndexBuildReshard: Sendable, Hashable {
    /// Adjacent partitions replaced, in key order.
    public var sources: [PartitionID]
    /// Inner boundaries of the union afterwards, strictly increasing (empty = merge into one).
    public var boundaries: [[UInt8]]
    /// The resulting ranges, in key order.
    public var targets: [KeyRange]
    /// Data copied (``ReshardCostModel``: every byte of every source when copying, none when
    /// sharing files). Unit: bytes.
    public var bytesMoved: UInt64
    /// The same change as one executor action, when it is one: `.split(p, at:)` for one source,
    /// `.merge(left:right:)` for two sources and no boundary, `.moveBoundary(left:right:to:)` for
    /// two sources and one boundary. `nil` for longer runs: the engine's public `ReshardPlan`
    /// then needs a merge per removed boundary followed by a split (each step copies again).
    public var action: ReshardAction?

    /// Creates a reshard.
    public init(sources: [PartitionID], boundaries: [[UInt8]], targets: [KeyRange], bytesMoved: UInt64,
                action: ReshardAction?) {
        self.sources = sources
        self.boundaries = boundaries
        self.targets = targets
        self.bytesMoved = bytesMoved
        self.action = action
    }
}

/// What one build worker does.
///
/// Thread-safety: immutable value type, `Sendable`.
public struct IndexBuildWorkerPlan: Sendable, Hashable {
    /// Indices into ``IndexBuildPlan/pieces``, in build order: unchanged pieces first (they can
    /// start while the reshards run), then reshaped ones, each group largest first.
    public var pieces: [Int]
    /// Sum of the pieces' estimated build times. Unit: ns.
    public var buildNanos: Double
    /// Predicted finish time from the start of the plan, reshard time included as the scheduling
    /// model says. Unit: ns.
    public var finishNanos: Double

    /// Creates a worker plan.
    public init(pieces: [Int], buildNanos: Double, finishNanos: Double) {
        self.pieces = pieces
        self.buildNanos = buildNanos
        self.finishNanos = finishNanos
    }
}

/// The index-build planner's answer.
///
/// Thread-safety: immutable value type, `Sendable`.
public struct IndexBuildPlan: Sendable, Hashable {
    /// The partitions after the reshards, in key order (the target layout).
    public var pieces: [IndexBuildPiece]
    /// Reshards to run before (or, with ``ReshardScheduling/overlapped``, while) building, in
    /// key order. Empty when the static layout is best.
    public var reshards: [IndexBuildReshard]
    /// Per-worker assignment; `workers[w]` is worker `w`.
    public var workers: [IndexBuildWorkerPlan]
    /// Makespan of building the existing partitions with LPT assignment, no reshaping. Unit: ns.
    public var staticMakespanNanos: Double
    /// Predicted makespan of this plan, reshard time included. Never above
    /// `staticMakespanNanos`. Unit: ns.
    public var adaptiveMakespanNanos: Double
    /// Time the reshards take (serially, one executor). Unit: ns.
    public var reshardNanos: Double
    /// Data the reshards copy (``ReshardCostModel``). Unit: bytes.
    public var bytesMoved: UInt64
    /// Annealing iterations run (neighbour moves proposed).
    public var iterations: Int
    /// Whether the caller's stop condition ended the search before the iteration budget.
    public var stoppedEarly: Bool

    /// `1 − adaptive ÷ static`: the predicted fraction of the static makespan saved (0 when the
    /// static makespan is 0).
    public var predictedImprovement: Double {
        staticMakespanNanos > 0 ? 1 - adaptiveMakespanNanos / staticMakespanNanos : 0
    }

    /// Creates a plan.
    public init(pieces: [IndexBuildPiece], reshards: [IndexBuildReshard], workers: [IndexBuildWorkerPlan],
                staticMakespanNanos: Double, adaptiveMakespanNanos: Double, reshardNanos: Double,
                bytesMoved: UInt64, iterations: Int, stoppedEarly: Bool) {
        self.pieces = pieces
        self.reshards = reshards
        self.workers = workers
        self.staticMakespanNanos = staticMakespanNanos
        self.adaptiveMakespanNanos = adaptiveMakespanNanos
        self.reshardNanos = reshardNanos
        self.bytesMoved = bytesMoved
        self.iterations = iterations
        self.stoppedEarly = stoppedEarly
    }
}
