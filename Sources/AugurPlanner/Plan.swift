/// Machine-readable reason for an action or finding.
///
/// Thread-safety: `Sendable` enum.
public enum ReasonCode: String, Sendable, Hashable, CaseIterable {
    /// Forecast upper bound over the horizon exceeds capacity × high watermark.
    case predictedOverload = "predicted-overload"
    /// Observed load stayed over the threshold for the sustain time (reactive).
    case sustainedOverload = "sustained-overload"
    /// Partition exceeds the maximum size.
    case oversize = "oversize"
    /// Neighbour has headroom: a boundary move relieves the partition more cheaply than a split.
    case neighbourHeadroom = "neighbour-headroom"
    /// Combined load of two neighbours stays low: merge.
    case idle = "idle"
    /// Partition below the minimum size: merge with a neighbour.
    case undersized = "undersized"
    /// Keys grow monotonically: pre-create empty partitions ahead.
    case appendAhead = "append-ahead"
    /// Data arrived in a pre-created partition: activate it.
    case dataArrived = "data-arrived"
    /// A single key carries more load than one partition can take: splitting cannot help.
    case hotKey = "hot-key"
    /// Optional merge deferred until the load is at a forecast trough.
    case notAtTrough = "not-at-trough"
    /// Action wanted but the concurrency limit is reached.
    case concurrencyLimit = "concurrency"
    /// Action wanted but a partition is locked by an in-flight reshard.
    case inFlight = "in-flight"
    /// Over the threshold without a forecast, but not for long enough yet.
    case notSustained = "not-sustained"
    /// A partition just created by a reshard, over the threshold only by the load it inherited
    /// (its parents' load times an estimated share): it is not split before it has measured
    /// its own load once.
    case unmeasured = "unmeasured"
    /// The forecast's upper bound crosses the high watermark, but the chance that the load does
    /// is below the predictive policy's `splitProbability`: no relief yet.
    case unlikely = "unlikely"
    /// Split wanted but the range split less than the split interval ago.
    case splitInterval = "split-interval"
    /// Relief needed but no split key or move fits (e.g. no histogram).
    case noSplitPoint = "no-split-point"
}

/// Why an action was planned.
///
/// Thread-safety: value type, `Sendable`.
public struct ActionReason: Sendable, Hashable {
    /// Machine code.
    public var code: ReasonCode
    /// Human-readable explanation with the numbers that triggered it.
    public var message: String

    /// Creates a reason.
    public init(code: ReasonCode, message: String) {
        self.code = code
        self.message = message
    }
}

/// Predicted state of one partition after an action.
///
/// Thread-safety: value type, `Sendable`.
public struct PredictedPartition: Sendable, Hashable {
    /// Its key range.
    public var range: KeyRange
    /// Predicted peak utilization over the horizon (the policy's bound). Dimensionless.
    public var predictedUtilization: Double
    /// Predicted data size. Unit: bytes.
    public var predictedBytes: UInt64

    /// Creates a prediction.
    public init(range: KeyRange, predictedUtilization: Double, predictedBytes: UInt64) {
        self.range = range
        self.predictedUtilization = predictedUtilization
        self.predictedBytes = predictedBytes
    }
}

/// Predicted effect of an action.
///
/// Thread-safety: value type, `Sendable`.
public struct PredictedEffect: Sendable, Hashable {
    /// The partitions the action produces, in key order.
    public var resulting: [PredictedPartition]
    /// Data the executor must copy (``ReshardCostModel``, `CapacityModel.reshardCost`). Unit: bytes.
    public var bytesToMove: UInt64
    /// When the source partition is predicted to first exceed capacity (utilization 1), if it
    /// is; nil when no overload is predicted within the horizon. Unit: ns.
    public var predictedOverloadAt: UInt64?

    /// Creates an effect.
    public init(resulting: [PredictedPartition], bytesToMove: UInt64, predictedOverloadAt: UInt64? = nil) {
        self.resulting = resulting
        self.bytesToMove = bytesToMove
        self.predictedOverloadAt = predictedOverloadAt
    }
}

/// One action of a plan.
///
/// Thread-safety: value type, `Sendable`.
public struct PlannedAction: Sendable, Hashable {
    /// What to do.
    public var action: ReshardAction
    /// Why.
    public var reason: ActionReason
    /// Urgency/confidence in `0...1`: for relief actions the partition's recommendation score,
    /// for merges how far below the low watermark the pair stays.
    public var score: Double
    /// Predicted effect.
    public var effect: PredictedEffect

    /// Creates a planned action.
    public init(action: ReshardAction, reason: ActionReason, score: Double, effect: PredictedEffect) {
        self.action = action
        self.reason = reason
        self.score = score
        self.effect = effect
    }
}

/// Something the planner noticed but did not (or could not) act on.
///
/// Thread-safety: value type, `Sendable`.
public struct PlanFinding: Sendable, Hashable {
    /// Why (`hot-key`, `not-at-trough`, `concurrency`, `in-flight`, `no-split-point`).
    public var code: ReasonCode
    /// The action that was wanted, if any.
    public var wanted: ReshardAction?
    /// Partitions concerned.
    public var partitions: [PartitionID]
    /// The hot key, for `hot-key`.
    public var key: [UInt8]?
    /// The hot key's share of its partition's load, for `hot-key`. Dimensionless.
    public var loadFraction: Double?
    /// Human-readable explanation.
    public var message: String

    /// Creates a finding.
    public init(code: ReasonCode, wanted: ReshardAction? = nil, partitions: [PartitionID], key: [UInt8]? = nil,
                loadFraction: Double? = nil, message: String) {
        self.code = code
        self.wanted = wanted
        self.partitions = partitions
        self.key = key
        self.loadFraction = loadFraction
        self.message = message
    }
}

/// Per-partition recommendation score.
///
/// Thread-safety: value type, `Sendable`.
public struct PartitionScore: Sendable, Hashable {
    /// The partition.
    public var partition: PartitionID
    /// Probability-like score in `0...1` that the partition exceeds capacity × high watermark
    /// within the horizon (normal approximation fitted to each forecast step's point and
    /// interval; the maximum over steps and the current load).
    public var score: Double
    /// Current utilization (mean of the newest samples). Dimensionless.
    public var currentUtilization: Double
    /// Predicted peak utilization: the policy's bound (forecast upper bound for predictive,
    /// current load otherwise). Dimensionless.
    public var predictedPeakUtilization: Double
    /// First time the bound exceeds capacity (utilization 1), if within the horizon. Unit: ns.
    public var predictedOverloadAt: UInt64?

    /// Creates a score.
    public init(partition: PartitionID, score: Double, currentUtilization: Double,
                predictedPeakUtilization: Double, predictedOverloadAt: UInt64?) {
        self.partition = partition
        self.score = score
        self.currentUtilization = currentUtilization
        self.predictedPeakUtilization = predictedPeakUtilization
        self.predictedOverloadAt = predictedOverloadAt
    }
}

/// The planner's output for one tick.
///
/// Thread-safety: value type, `Sendable`.
public struct Plan: Sendable, Hashable {
    /// Policy that produced it.
    public var policy: String
    /// Planning time. Unit: ns.
    public var now: UInt64
    /// Actions to execute, highest priority first. Each partition appears in at most one
    /// action; applying them all leaves the key space tiled without gaps or overlaps.
    public var actions: [PlannedAction]
    /// Things noticed but not acted on.
    public var findings: [PlanFinding]
    /// Recommendation score of every partition, in key order.
    public var scores: [PartitionScore]
    /// Reversals found in the snapshot's history.
    public var reversals: ReversalCount

    /// Creates a plan.
    public init(policy: String, now: UInt64, actions: [PlannedAction] = [], findings: [PlanFinding] = [],
                scores: [PartitionScore] = [], reversals: ReversalCount = ReversalCount()) {
        self.policy = policy
        self.now = now
        self.actions = actions
        self.findings = findings
        self.scores = scores
        self.reversals = reversals
    }
}
