/// A rule a plan (or snapshot) breaks.
///
/// Thread-safety: `Sendable` enum.
public enum PlanViolation: Sendable, Hashable, CustomStringConvertible {
    /// Snapshot partitions are out of order, overlapping or leave a gap between these two.
    case snapshotNotContiguous(PartitionID, PartitionID)
    /// A partition (snapshot or result) has an empty range.
    case emptyRange(KeyRange)
    /// An action names a partition the snapshot does not have.
    case unknownPartition(PartitionID)
    /// A partition appears in two actions.
    case partitionReused(PartitionID)
    /// An action touches a partition locked by an in-flight reshard.
    case partitionLocked(PartitionID)
    /// Split/pre-create keys are not strictly increasing or not strictly inside the range.
    case badSplitKeys(PartitionID)
    /// Merge or move of partitions that are not neighbours in this order.
    case notAdjacent(PartitionID, PartitionID)
    /// Move key outside `(left.lo, right.hi)` or equal to the current boundary.
    case badMoveKey(PartitionID, PartitionID)
    /// Activation of a partition that is not pre-created.
    case notPreCreated(PartitionID)
    /// Applying the plan leaves a gap or overlap between these result ranges.
    case gapOrOverlap(KeyRange, KeyRange)
    /// Applying the plan changes the table's overall key coverage.
    case coverageChanged
    /// In-flight plus planned reshards exceed the limit.
    case concurrencyExceeded(count: Int, limit: Int)
    /// Merge of a partition touched within the cooldown (predictive).
    case mergeCooldown(PartitionID)
    /// Move of a boundary moved within the cooldown (predictive).
    case moveCooldown(PartitionID)
    /// Split of a range split less than the policy's split interval ago.
    case splitInterval(PartitionID)

    public var description: String {
        switch self {
        case let .snapshotNotContiguous(a, b): return "snapshot: \(a) and \(b) are not contiguous"
        case let .emptyRange(r): return "empty range \(r)"
        case let .unknownPartition(p): return "unknown partition \(p)"
        case let .partitionReused(p): return "\(p) in two actions"
        case let .partitionLocked(p): return "\(p) is locked by an in-flight reshard"
        case let .badSplitKeys(p): return "bad split keys for \(p)"
        case let .notAdjacent(a, b): return "\(a) and \(b) are not adjacent"
        case let .badMoveKey(a, b): return "bad move key between \(a) and \(b)"
        case let .notPreCreated(p): return "\(p) is not pre-created"
        case let .gapOrOverlap(a, b): return "gap or overlap between \(a) and \(b)"
        case .coverageChanged: return "key coverage changed"
        case let .concurrencyExceeded(c, l): return "\(c) concurrent reshards > limit \(l)"
        case let .mergeCooldown(p): return "merge of \(p) within cooldown"
        case let .moveCooldown(p): return "boundary move of \(p) within cooldown"
        case let .splitInterval(p): return "split of \(p) within the split interval"
        }
    }
}

/// Checks snapshots and plans against the planner's guarantees: no gaps or overlaps, one
/// action per partition, no locked partition touched, concurrency limit, cooldowns and split
/// intervals of the policy. The engine's executor can run it before applying a plan.
///
/// Thread-safety: immutable value type, `Sendable`.
public struct PlanValidator: Sendable {
    /// Policy whose cooldown rules are checked.
    public let policy: PlannerPolicy
    /// Capacity model whose limits are checked.
    public let capacity: CapacityModel

    /// Creates a validator.
    public init(policy: PlannerPolicy, capacity: CapacityModel) {
        self.policy = policy
        self.capacity = capacity
    }

    /// Violations of the snapshot invariant (sorted, contiguous, non-empty ranges).
    public static func validate(snapshot: TableSnapshot) -> [PlanViolation] {
        var out: [PlanViolation] = []
        let ps = snapshot.partitions
        for p in ps where !p.range.isNonEmpty { out.append(.emptyRange(p.range)) }
        for i in 0..<max(0, ps.count - 1) where !ps[i].range.isLeftNeighbour(of: ps[i + 1].range) {
            out.append(.snapshotNotContiguous(ps[i].id, ps[i + 1].id))
        }
        return out
    }

    /// The ranges after applying `actions` to `ranges` (in key order), or nil if an action
    /// names an unknown partition or merges/moves non-neighbours.
    public static func resultingRanges(of actions: [ReshardAction], over ranges: [(PartitionID, KeyRange)]) -> [KeyRange]? {
        var index: [PartitionID: Int] = [:]
        for (i, r) in ranges.enumerated() { index[r.0] = i }
        var replacement: [Int: [KeyRange]] = [:]
        var skip = Set<Int>()
        for a in actions {
            switch a {
            case let .split(p, keys), let .precreate(p, keys):
                guard let i = index[p] else { return nil }
                let r = ranges[i].1
                let bounds: [[UInt8]?] = [r.lower] + keys.map { Optional($0) } + [r.upper]
                replacement[i] = (0..<(keys.count + 1)).map { KeyRange(lower: bounds[$0]!, upper: bounds[$0 + 1]) }
            case let .merge(l, r):
                guard let i = index[l], let j = index[r], j == i + 1 else { return nil }
                replacement[i] = [KeyRange(lower: ranges[i].1.lower, upper: ranges[j].1.upper)]
                skip.insert(j)
            case let .moveBoundary(l, r, key):
                guard let i = index[l], let j = index[r], j == i + 1 else { return nil }
                replacement[i] = [KeyRange(lower: ranges[i].1.lower, upper: key)]
                replacement[j] = [KeyRange(lower: key, upper: ranges[j].1.upper)]
            case let .activate(p):
                guard index[p] != nil else { return nil }
            }
        }
        var out: [KeyRange] = []
        for i in ranges.indices where !skip.contains(i) {
            out.append(contentsOf: replacement[i] ?? [ranges[i].1])
        }
        return out
    }

    /// Every violation of `plan` against `snapshot` at `now` (empty when the plan is valid).
    public func validate(_ plan: Plan, snapshot: TableSnapshot, now: UInt64) -> [PlanViolation] {
        validate(actions: plan.actions.map(\.action), snapshot: snapshot, now: now)
    }

    /// Every violation of `actions` against `snapshot` at `now`.
    public func validate(actions: [ReshardAction], snapshot: TableSnapshot, now: UInt64) -> [PlanViolation] {
        var out: [PlanViolation] = []
        let ps = snapshot.partitions
        var index: [PartitionID: Int] = [:]
        for (i, p) in ps.enumerated() { index[p.id] = i }
        var locked = Set<PartitionID>()
        for f in snapshot.inFlight { locked.formUnion(f.action.partitions) }
        let ledger = ReshardLedger(history: snapshot.history)
        var used = Set<PartitionID>()
        var structural = true
        for a in actions {
            for id in a.partitions {
                if index[id] == nil { out.append(.unknownPartition(id)); structural = false }
                if !used.insert(id).inserted { out.append(.partitionReused(id)); structural = false }
                if locked.contains(id) { out.append(.partitionLocked(id)) }
            }
            switch a {
            case let .split(p, keys), let .precreate(p, keys):
                guard let i = index[p] else { continue }
                let r = ps[i].range
                var prev = r.lower
                var ok = !keys.isEmpty
                for k in keys {
                    if !(prev.lexicographicallyPrecedes(k) && KeyOrder.less(k, r.upper)) { ok = false }
                    prev = k
                }
                if !ok { out.append(.badSplitKeys(p)); structural = false }
                if case .split = a, case let .reactive(o) = policy, let t = ledger.lastSplitAt(p), now < t &+ o.splitIntervalNanos {
                    out.append(.splitInterval(p))
                }
                if case .split = a, case let .predictive(o) = policy, o.splitIntervalNanos > 0,
                   let t = ledger.lastSplitAt(p), now < t &+ o.splitIntervalNanos, let k = index[p] {
                    // Allowed only when the point forecast itself exceeds capacity.
                    let outlook = LoadOutlook(partition: ps[k], capacity: capacity, now: now, level: o.intervalLevel,
                                              noIntervalMargin: o.noIntervalMargin, currentSamples: o.currentSamples)
                    if !outlook.pointForecastExceedsCapacity { out.append(.splitInterval(p)) }
                }
            case let .merge(l, r):
                guard let i = index[l], let j = index[r] else { continue }
                if j != i + 1 { out.append(.notAdjacent(l, r)); structural = false }
                var cooldown: UInt64 = 0
                if case .predictive = policy { cooldown = capacity.cooldownNanos }
                if case let .reactive(o) = policy { cooldown = o.mergeWindowNanos }
                for k in [i, j] where cooldown > 0 && ledger.inMergeCooldown(ps[k], now: now, cooldown: cooldown) {
                    out.append(.mergeCooldown(ps[k].id))
                }
            case let .moveBoundary(l, r, key):
                guard let i = index[l], let j = index[r] else { continue }
                if j != i + 1 { out.append(.notAdjacent(l, r)); structural = false; continue }
                let span = KeyRange(lower: ps[i].range.lower, upper: ps[j].range.upper)
                if !span.containsStrictly(key) || key == ps[j].range.lower { out.append(.badMoveKey(l, r)); structural = false }
                if case .predictive = policy {
                    for id in [l, r] {
                        if let t = ledger.lastMoveAt(id), now < t &+ capacity.cooldownNanos { out.append(.moveCooldown(id)) }
                    }
                }
            case let .activate(p):
                if let i = index[p], ps[i].state != .preCreated { out.append(.notPreCreated(p)) }
            }
        }
        let running = snapshot.inFlight.filter { $0.action.countsTowardConcurrency }.count
            + actions.filter(\.countsTowardConcurrency).count
        if running > capacity.maxConcurrentReshards && !actions.filter(\.countsTowardConcurrency).isEmpty {
            out.append(.concurrencyExceeded(count: running, limit: capacity.maxConcurrentReshards))
        }
        if structural, let result = Self.resultingRanges(of: actions, over: ps.map { ($0.id, $0.range) }) {
            for r in result where !r.isNonEmpty { out.append(.emptyRange(r)) }
            for k in 0..<max(0, result.count - 1) where !result[k].isLeftNeighbour(of: result[k + 1]) {
                out.append(.gapOrOverlap(result[k], result[k + 1]))
            }
            if let first = ps.first, let last = ps.last {
                if result.first?.lower != first.range.lower || result.last?.upper != last.range.upper {
                    out.append(.coverageChanged)
                }
            }
        }
        return out
    }
}

