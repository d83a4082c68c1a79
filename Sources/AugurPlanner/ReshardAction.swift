/// The kinds of reshard the executor performs.
///
/// Thread-safety: `Sendable` enum.
public enum ReshardKind: String, Sendable, Hashable, CaseIterable {
    /// Split one partition at one or more keys.
    case split
    /// Merge two adjacent partitions.
    case merge
    /// Move the boundary between two adjacent partitions.
    case move
    /// Split empty key ranges off the top of a partition ahead of appends.
    case precreate
    /// Start serving a pre-created partition (metadata only).
    case activate
}

/// One reshard the executor can perform.
///
/// Results: a split (or pre-create) of `p` at `k₁ < … < kₙ` yields `[p.lo, k₁), [k₁, k₂), …,
/// [kₙ, p.hi)`; a merge yields `[a.lo, b.hi)`; a move yields `[l.lo, k)` and `[k, r.hi)`.
///
/// Thread-safety: value type, `Sendable`.
public enum ReshardAction: Sendable, Hashable {
    /// Split `partition` at the strictly increasing keys `at` (N-way for N−1 keys), each
    /// strictly inside the partition's range.
    case split(PartitionID, at: [[UInt8]])
    /// Merge two adjacent partitions, `left` immediately before `right`.
    case merge(left: PartitionID, right: PartitionID)
    /// Move the boundary between adjacent `left` and `right` to `to`, strictly inside
    /// `[left.lo, right.hi)` and different from the current boundary.
    case moveBoundary(left: PartitionID, right: PartitionID, to: [UInt8])
    /// Split the empty top of `partition` at `at` into pre-created (inactive) partitions; the
    /// first piece keeps the data. Moves no data.
    case precreate(PartitionID, at: [[UInt8]])
    /// Activate a pre-created partition.
    case activate(PartitionID)

    /// The kind of action.
    public var kind: ReshardKind {
        switch self {
        case .split: return .split
        case .merge: return .merge
        case .moveBoundary: return .move
        case .precreate: return .precreate
        case .activate: return .activate
        }
    }

    /// The partitions the action reads and replaces, in key order.
    public var partitions: [PartitionID] {
        switch self {
        case let .split(p, _), let .precreate(p, _), let .activate(p): return [p]
        case let .merge(l, r), let .moveBoundary(l, r, _): return [l, r]
        }
    }

    /// Whether the action counts toward `CapacityModel.maxConcurrentReshards` (activation is
    /// metadata-only and does not).
    public var countsTowardConcurrency: Bool { kind != .activate }
}

/// A reshard the executor is still performing.
///
/// Thread-safety: value type, `Sendable`.
public struct InFlightReshard: Sendable, Hashable {
    /// The action.
    public var action: ReshardAction
    /// When it started. Unit: ns.
    public var startedAt: UInt64
    /// When the executor expects it to finish, if known. Unit: ns.
    public var expectedCompletionAt: UInt64?

    /// Creates an in-flight record.
    public init(action: ReshardAction, startedAt: UInt64, expectedCompletionAt: UInt64? = nil) {
        self.action = action
        self.startedAt = startedAt
        self.expectedCompletionAt = expectedCompletionAt
    }
}

/// A reshard that finished, for cooldowns, split-interval limits and reversal counting.
///
/// Thread-safety: value type, `Sendable`.
public struct CompletedReshard: Sendable, Hashable {
    /// What kind of reshard it was.
    public var kind: ReshardKind
    /// When it was issued. Unit: ns.
    public var issuedAt: UInt64
    /// When it completed (took effect). Unit: ns.
    public var completedAt: UInt64
    /// Partitions it replaced, in key order.
    public var sources: [PartitionID]
    /// Partitions it produced, in key order (a move keeps the two IDs).
    public var results: [PartitionID]

    /// Creates a history record.
    public init(kind: ReshardKind, issuedAt: UInt64, completedAt: UInt64, sources: [PartitionID], results: [PartitionID]) {
        self.kind = kind
        self.issuedAt = issuedAt
        self.completedAt = completedAt
        self.sources = sources
        self.results = results
    }
}
