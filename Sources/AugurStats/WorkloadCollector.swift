import Synchronization

/// Rates of one partition over every configured window.
///
/// Thread-safety: value type, `Sendable`.
public struct PartitionWorkload: Sendable, Hashable {
    /// The partition.
    public var partition: UInt64
    /// The time the rates were computed for. Unit: nanoseconds of the engine clock.
    public var now: UInt64
    /// One entry per ``CollectorOptions/tiers`` element, finest first (with the
    /// defaults: last 5 minutes, last hour, last day).
    public var windows: [WindowRates]

    /// The window of `tier`, if configured.
    public func window(_ tier: WindowTier) -> WindowRates? {
        windows.first { $0.tier == tier }
    }
}

/// A parent partition and the share of its history a child inherits.
///
/// Thread-safety: value type, `Sendable`.
public struct PartitionShare: Sendable, Hashable {
    /// The parent partition.
    public var partition: UInt64
    /// Fraction of the parent's counts the child takes, `0...1` (for a split,
    /// the child's share of the parent's histogram load).
    public var share: Double

    /// Creates a share.
    public init(partition: UInt64, share: Double) {
        self.partition = partition
        self.share = share
    }
}

/// Counters of a ``WorkloadCollector``.
///
/// Thread-safety: value type, `Sendable`.
public struct CollectorStatistics: Sendable, Hashable {
    /// Vectors folded into windows. Unit: vectors.
    public var vectorsFolded: UInt64
    /// Vectors (or exact deltas) older than a tier's window when they arrived,
    /// per tier-fold (one late vector can count once per tier). Unit: folds.
    public var lateFolds: UInt64
    /// Partitions tracked.
    public var partitions: Int
}

/// Drains the recorder's rings and folds vectors (and exact counter deltas)
/// into per-partition rolling windows, distinct-client sketches and
/// heavy-hitter summaries; answers rate, series and heavy-hitter queries with
/// plain `Sendable` values.
///
/// Rollover and expiry are driven only by the timestamps passed in (vector
/// timestamps, exact-delta timestamps and the `now` of queries); the collector
/// never reads a clock.
///
/// Memory per partition with the defaults: 456 window buckets × (≈ 90 bytes of
/// counters + 64 bytes of HyperLogLog) ≈ 70 KiB, plus two Space-Saving
/// summaries of up to 256 entries.
///
/// Thread-safety: `Sendable`; every method takes one internal `Mutex`, so the
/// engine's collector thread can drain while a planner thread queries. Drains of
/// one recorder are serialised by that lock, which keeps each ring
/// single-consumer; do not drain the same recorder from anywhere else.
public final class WorkloadCollector: Sendable {
    /// The options in force.
    public let options: CollectorOptions
    private let state: Mutex<CollectorState>

    /// Creates an empty collector.
    public init(options: CollectorOptions = CollectorOptions()) {
        precondition(!options.tiers.isEmpty, "at least one window tier")
        precondition((4...12).contains(options.distinctClientPrecision), "distinctClientPrecision must be in 4...12")
        precondition(options.heavyHitterCapacity >= 1 && options.heavyHitterEpochNanos > 0)
        self.options = options
        self.state = Mutex(CollectorState(options: options))
    }

    // MARK: - Feeding (collector thread)

    /// Drains every ring of `recorder` and folds the vectors. Returns the number
    /// of vectors drained.
    @discardableResult
    public func drain(_ recorder: WorkloadRecorder, maxPerSlot: Int = .max) -> Int {
        state.withLock { st in
            recorder.drainAll(maxPerSlot: maxPerSlot) { v in st.fold(v) }
        }
    }

    /// Folds one vector.
    public func ingest(_ vector: WorkloadVector) {
        state.withLock { $0.fold(vector) }
    }

    /// Folds vectors.
    public func ingest<S: Sequence>(_ vectors: S) where S.Element == WorkloadVector {
        state.withLock { st in for v in vectors { st.fold(v) } }
    }

    /// Adds exact counter deltas for `partition` at `timestamp`. From the first
    /// exact delta on, buckets at or after that time report exact reads, writes
    /// and bytes; sampled vectors only supply the per-type mix and clients.
    ///
    /// - Parameters:
    ///   - reads, writes: operations since the previous delta. Unit: operations.
    ///   - bytes: bytes since the previous delta. Unit: bytes.
    ///   - timestamp: engine-clock time the deltas are attributed to. Unit: nanoseconds.
    public func recordExactDelta(partition: UInt64, timestamp: UInt64, reads: UInt64, writes: UInt64, bytes: UInt64) {
        state.withLock { st in
            let p = st.partitionState(partition, timestamp: timestamp)
            if p.exactStart == nil { p.exactStart = timestamp }
            st.addExact(p, timestamp: timestamp, reads: reads, writes: writes, bytes: bytes)
        }
    }

    /// Feeds a histogram's cumulative ``KeyHistogram/totals()``; the collector
    /// differences them against the previous call for the partition. The first
    /// call (or one after a counter went backwards) only sets the baseline, so
    /// counts a new histogram inherited in a split are not mistaken for traffic.
    public func observeCumulativeTotals(partition: UInt64, totals: HistogramTotals, timestamp: UInt64) {
        state.withLock { st in
            let p = st.partitionState(partition, timestamp: timestamp)
            defer { p.baseline = totals }
            if p.exactStart == nil { p.exactStart = timestamp }
            guard let b = p.baseline, let d = totals.growth(since: b) else { return }
            st.addExact(p, timestamp: timestamp, reads: d.reads, writes: d.writes, bytes: d.bytes)
        }
    }

    /// Gives `child` the sum of `share × history` of each parent (window
    /// buckets; distinct-client sketches are unioned, so they over-count for
    /// splits). Heavy-hitter summaries are not inherited: the child starts a
    /// fresh one. Parents stay tracked until ``removePartition(_:)``.
    public func inherit(child: UInt64, from parents: [PartitionShare], now: UInt64) {
        state.withLock { st in st.inherit(child: child, parents: parents, now: now) }
    }

    /// Forgets a partition.
    public func removePartition(_ partition: UInt64) {
        _ = state.withLock { $0.partitions.removeValue(forKey: partition) }
    }

    // MARK: - Queries (any thread)

    /// Rates of `partition` over every window ending at `now`, or nil if the
    /// partition is unknown.
    public func workload(partition: UInt64, now: UInt64) -> PartitionWorkload? {
        state.withLock { st in st.partitions[partition].map { st.workload($0, now: now) } }
    }

    /// Rates of every known partition, ordered by partition id.
    public func workloads(now: UInt64) -> [PartitionWorkload] {
        state.withLock { st in
            st.partitions.keys.sorted().map { st.workload(st.partitions[$0]!, now: now) }
        }
    }

    /// Time series of one tier (index into ``CollectorOptions/tiers``) for `partition`.
    public func series(partition: UInt64, tierIndex: Int, now: UInt64) -> [WindowBucketSample]? {
        state.withLock { st in
            guard let p = st.partitions[partition], tierIndex >= 0, tierIndex < p.tiers.count else { return nil }
            return p.tiers[tierIndex].series(now: now, exactStart: p.exactStart)
        }
    }

    /// The top `k` heavy hitters of `partition` over the current and previous
    /// heavy-hitter epoch at `now`, with error bounds and the single-hot-key flag.
    public func heavyHitters(partition: UInt64, now: UInt64, top k: Int = 10) -> HeavyHitterReport? {
        state.withLock { st in
            st.partitions[partition].map { $0.heavy.report(partition: partition, now: now, top: k, options: st.options) }
        }
    }

    /// Tracked partition ids, sorted.
    public var partitionIDs: [UInt64] {
        state.withLock { $0.partitions.keys.sorted() }
    }

    /// Current counters.
    public func statistics() -> CollectorStatistics {
        state.withLock { CollectorStatistics(vectorsFolded: $0.folded, lateFolds: $0.late, partitions: $0.partitions.count) }
    }
}

/// Mutable collector state; lives inside the collector's `Mutex`.
struct CollectorState: ~Copyable {
    let options: CollectorOptions
    var partitions: [UInt64: PartitionState] = [:]
    var folded: UInt64 = 0
    var late: UInt64 = 0

    init(options: CollectorOptions) {
        self.options = options
    }

    mutating func partitionState(_ id: UInt64, timestamp: UInt64) -> PartitionState {
        if let p = partitions[id] { return p }
        let p = PartitionState(id: id, options: options, firstSeen: timestamp)
        partitions[id] = p
        return p
    }

    mutating func fold(_ v: WorkloadVector) {
        let p = partitionState(v.partition, timestamp: v.timestamp)
        if v.timestamp < p.firstSeen { p.firstSeen = v.timestamp }
        let clientHash = KeyHash.mix(v.clientID)
        for t in p.tiers.indices where !p.tiers[t].add(v, clientHash: clientHash) { late &+= 1 }
        if !p.heavy.add(v, options: options) { late &+= 1 }
        folded &+= 1
    }

    mutating func addExact(_ p: PartitionState, timestamp: UInt64, reads: UInt64, writes: UInt64, bytes: UInt64) {
        if timestamp < p.firstSeen { p.firstSeen = timestamp }
        for t in p.tiers.indices where !p.tiers[t].addExact(timestamp: timestamp, reads: reads, writes: writes, bytes: bytes) {
            late &+= 1
        }
    }

    func workload(_ p: PartitionState, now: UInt64) -> PartitionWorkload {
        PartitionWorkload(partition: p.id, now: now,
                          windows: p.tiers.map { $0.rates(now: now, firstSeen: p.firstSeen, exactStart: p.exactStart) })
    }

    mutating func inherit(child: UInt64, parents: [PartitionShare], now: UInt64) {
        let live = parents.compactMap { s in partitions[s.partition].map { (state: $0, share: s.share) } }
        let firstSeen = live.map { $0.state.firstSeen }.min() ?? now
        let c = partitionState(child, timestamp: firstSeen)
        if firstSeen < c.firstSeen { c.firstSeen = firstSeen }
        for (parent, share) in live where share > 0 {
            for t in c.tiers.indices { c.tiers[t].absorb(parent.tiers[t], share: min(1, share)) }
        }
        let withShare = live.filter { $0.share > 0 }
        if !withShare.isEmpty, withShare.allSatisfy({ $0.state.exactStart != nil }) {
            let start = withShare.map { $0.state.exactStart! }.max()!
            c.exactStart = c.exactStart.map { max($0, start) } ?? start
        }
    }
}

/// Per-partition collector state (reference type so dictionary updates do not copy).
final class PartitionState {
    let id: UInt64
    var tiers: [TierState]
    var heavy: HeavyHitterEpochs
    var firstSeen: UInt64
    var exactStart: UInt64?
    var baseline: HistogramTotals?

    init(id: UInt64, options: CollectorOptions, firstSeen: UInt64) {
        self.id = id
        self.tiers = options.tiers.map { TierState(tier: $0, hllPrecision: options.distinctClientPrecision) }
        self.heavy = HeavyHitterEpochs(capacity: options.heavyHitterCapacity)
        self.firstSeen = firstSeen
    }
}

/// Space-Saving summaries of the current and previous heavy-hitter epoch.
struct HeavyHitterEpochs {
    let capacity: Int
    var current: SpaceSavingSummary
    var currentEpoch: UInt64?
    var previous: SpaceSavingSummary?

    init(capacity: Int) {
        self.capacity = capacity
        self.current = SpaceSavingSummary(capacity: capacity)
    }

    /// Adds a vector; false when it belongs to an epoch older than the previous one.
    mutating func add(_ v: WorkloadVector, options: CollectorOptions) -> Bool {
        let e = v.timestamp / options.heavyHitterEpochNanos
        guard let ce = currentEpoch else {
            currentEpoch = e
            current.add(keyHash: v.keyHash, keyPrefix: v.keyPrefix, weight: UInt64(v.weight))
            return true
        }
        if e > ce {
            previous = e == ce + 1 ? current : nil
            current = SpaceSavingSummary(capacity: capacity)
            currentEpoch = e
        } else if e < ce {
            guard e + 1 == ce, previous != nil else { return false }
            previous!.add(keyHash: v.keyHash, keyPrefix: v.keyPrefix, weight: UInt64(v.weight))
            return true
        }
        current.add(keyHash: v.keyHash, keyPrefix: v.keyPrefix, weight: UInt64(v.weight))
        return true
    }

    func report(partition: UInt64, now: UInt64, top k: Int, options: CollectorOptions) -> HeavyHitterReport {
        let nowEpoch = now / options.heavyHitterEpochNanos
        var summaries: [SpaceSavingSummary] = []
        if let ce = currentEpoch {
            if ce <= nowEpoch, ce + 1 >= nowEpoch { summaries.append(current) }
            if let p = previous, ce >= 1, ce - 1 <= nowEpoch, ce >= nowEpoch { summaries.append(p) }
        }
        let total = summaries.reduce(UInt64(0)) { $0 &+ $1.totalWeight }
        let unmonitored = summaries.reduce(UInt64(0)) { $0 &+ $1.minimumCount }
        var keys: [UInt64: UInt64] = [:]  // hash → prefix
        for s in summaries { for e in s.entries { keys[e.keyHash] = e.keyPrefix } }
        var hitters: [HeavyHitter] = []
        hitters.reserveCapacity(keys.count)
        for (hash, prefix) in keys {
            var upper: UInt64 = 0
            var lower: UInt64 = 0
            for s in summaries {
                if let e = s.entry(for: hash) {
                    upper &+= e.count
                    lower &+= e.count - e.error
                } else {
                    upper &+= s.minimumCount
                }
            }
            let t = Double(max(total, 1))
            let g = Double(lower) / t
            hitters.append(HeavyHitter(keyHash: hash, keyPrefix: prefix, estimatedCount: upper, guaranteedCount: lower,
                                       loadFraction: Double(upper) / t, guaranteedLoadFraction: g,
                                       isHotKey: total > 0 && g > options.singleKeyHotFraction))
        }
        hitters.sort {
            if $0.estimatedCount != $1.estimatedCount { return $0.estimatedCount > $1.estimatedCount }
            if $0.guaranteedCount != $1.guaranteedCount { return $0.guaranteedCount > $1.guaranteedCount }
            return $0.keyHash < $1.keyHash
        }
        let hot = hitters.first { $0.isHotKey }
        return HeavyHitterReport(partition: partition, totalWeight: total, epochsCovered: summaries.count,
                                 unmonitoredBound: unmonitored, hitters: Array(hitters.prefix(max(0, k))), hotKey: hot)
    }
}
