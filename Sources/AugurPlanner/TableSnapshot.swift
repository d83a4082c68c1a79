/// Everything the planner sees at one tick: the partitions of one table in key order, the
/// reshards in flight and recent history.
///
/// Invariant expected by the planner (checked by ``PlanValidator/validate(snapshot:)``):
/// partitions are sorted and contiguous (`partitions[i].range.upper ==
/// partitions[i+1].range.lower`), each range non-empty.
///
/// Thread-safety: value type, `Sendable`.
public struct TableSnapshot: Sendable {
    /// Partitions in key order.
    public var partitions: [PartitionSnapshot]
    /// Spacing of `PartitionSnapshot.recent` samples. Unit: ns. Default `1 s`.
    public var sampleIntervalNanos: UInt64
    /// Reshards currently executing; their partitions are locked.
    public var inFlight: [InFlightReshard]
    /// Completed reshards, any order; at least those within the cooldown and split intervals
    /// should be present.
    public var history: [CompletedReshard]

    /// Creates a table snapshot.
    public init(partitions: [PartitionSnapshot], sampleIntervalNanos: UInt64 = 1_000_000_000,
                inFlight: [InFlightReshard] = [], history: [CompletedReshard] = []) {
        self.partitions = partitions
        self.sampleIntervalNanos = sampleIntervalNanos
        self.inFlight = inFlight
        self.history = history
    }

    /// Index of a partition by ID.
    public func index(of id: PartitionID) -> Int? {
        partitions.firstIndex { $0.id == id }
    }
}
