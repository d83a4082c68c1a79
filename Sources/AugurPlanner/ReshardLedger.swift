/// Answers history questions for cooldowns, split intervals and reversal counting.
///
/// Thread-safety: value type, `Sendable`; built per planning call.
public struct ReshardLedger: Sendable {
    private var lastTouched: [PartitionID: UInt64] = [:]
    private var lastSplit: [PartitionID: UInt64] = [:]
    private var lastMove: [PartitionID: UInt64] = [:]
    private var splitResultTimes: [PartitionID: UInt64] = [:]
    private let merges: [CompletedReshard]

    /// Indexes `history` (any order).
    public init(history: [CompletedReshard]) {
        var merges: [CompletedReshard] = []
        let ordered = zip(history, history.dropFirst()).allSatisfy { $0.completedAt <= $1.completedAt }
            ? history : history.sorted(by: { $0.completedAt < $1.completedAt })
        for event in ordered {
            for id in event.results {
                lastTouched[id] = max(lastTouched[id] ?? 0, event.completedAt)
                switch event.kind {
                case .split, .precreate:
                    lastSplit[id] = event.completedAt
                    splitResultTimes[id] = event.completedAt
                case .move:
                    lastMove[id] = event.completedAt
                case .merge, .activate:
                    break
                }
            }
            if event.kind == .merge { merges.append(event) }
        }
        self.merges = merges
    }

    /// Latest time a reshard in the history created or changed `id`. Unit: ns.
    public func lastTouchedAt(_ id: PartitionID) -> UInt64? { lastTouched[id] }

    /// Latest time `partition` was created or changed by a reshard. Unit: ns.
    public func lastTouchedAt(_ partition: PartitionSnapshot) -> UInt64 {
        max(lastTouched[partition.id] ?? 0, partition.createdAt)
    }

    /// Latest split that produced `id` (children inherit the split time). Unit: ns.
    public func lastSplitAt(_ id: PartitionID) -> UInt64? { lastSplit[id] }

    /// Latest boundary move that changed `id`'s range. Unit: ns.
    public func lastMoveAt(_ id: PartitionID) -> UInt64? { lastMove[id] }

    /// Whether merging `partition` now would violate the cooldown.
    public func inMergeCooldown(_ partition: PartitionSnapshot, now: UInt64, cooldown: UInt64) -> Bool {
        now < lastTouchedAt(partition) &+ cooldown
    }

    /// Split→merge reversals in the history: merges whose sources include a partition a split
    /// produced; `withinCooldown` counts those issued less than `cooldown` after that split
    /// completed.
    public func reversals(cooldown: UInt64) -> ReversalCount {
        var count = ReversalCount()
        for m in merges {
            let splitTimes = m.sources.compactMap { splitResultTimes[$0] }
            guard let latest = splitTimes.max() else { continue }
            count.total += 1
            if m.issuedAt < latest &+ cooldown { count.withinCooldown += 1 }
        }
        return count
    }
}

/// Split→merge reversal counts.
///
/// Thread-safety: value type, `Sendable`.
public struct ReversalCount: Sendable, Hashable {
    /// Merges that undid (part of) an earlier split.
    public var total: Int = 0
    /// Of those, merges issued within the cooldown of the split.
    public var withinCooldown: Int = 0

    /// Creates a count.
    public init(total: Int = 0, withinCooldown: Int = 0) {
        self.total = total
        self.withinCooldown = withinCooldown
    }
}
