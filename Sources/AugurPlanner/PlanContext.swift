/// Shared state of one planning call: the inputs, per-partition outlooks and profiles, locks,
/// and the candidate list that is trimmed to the concurrency limit at the end.
///
/// Thread-safety: value type used by one planning call only.
struct PlanContext {
    let snapshot: TableSnapshot
    let capacity: CapacityModel
    let now: UInt64
    let ledger: ReshardLedger
    let outlooks: [LoadOutlook]
    /// Histogram profiles, built on first use (most partitions never need one).
    let profiles: ProfileCache
    /// Partitions locked by in-flight reshards.
    let locked: Set<PartitionID>
    var candidates: [Candidate] = []
    var findings: [PlanFinding] = []

    /// A candidate action with its priority class (lower runs first) and rank inside it
    /// (higher first).
    struct Candidate {
        var planned: PlannedAction
        var priorityClass: Int
        var rank: Double
    }

    init(snapshot: TableSnapshot, capacity: CapacityModel, now: UInt64, level: Double,
         noIntervalMargin: Double, currentSamples: Int) {
        self.snapshot = snapshot
        self.capacity = capacity
        self.now = now
        ledger = ReshardLedger(history: snapshot.history)
        outlooks = snapshot.partitions.map {
            LoadOutlook(partition: $0, capacity: capacity, now: now, level: level,
                        noIntervalMargin: noIntervalMargin, currentSamples: currentSamples)
        }
        profiles = ProfileCache(snapshot.partitions)
        var locked = Set<PartitionID>()
        for f in snapshot.inFlight { locked.formUnion(f.action.partitions) }
        self.locked = locked
    }

    var partitions: [PartitionSnapshot] { snapshot.partitions }

    func isFree(_ i: Int) -> Bool { !locked.contains(partitions[i].id) }

    mutating func propose(_ planned: PlannedAction, priorityClass: Int, rank: Double) {
        candidates.append(Candidate(planned: planned, priorityClass: priorityClass, rank: rank))
    }

    mutating func note(_ finding: PlanFinding) { findings.append(finding) }

    // MARK: - Effects

    /// Predicted children of splitting partition `i` at `cuts` when it is planned for
    /// utilization `peak`; nil when the histogram cannot apportion load.
    func splitEffect(_ i: Int, cuts: [[UInt8]], peak: Double, overloadAt: UInt64?) -> PredictedEffect? {
        let p = partitions[i]
        guard let loadShares = profiles[i].loadShares(cuts: cuts) else { return nil }
        let byteShares = profiles[i].byteShares(cuts: cuts)
        let bounds: [[UInt8]?] = [p.range.lower] + cuts.map { Optional($0) } + [p.range.upper]
        var children: [PredictedPartition] = []
        var childBytes: [UInt64] = []
        for k in 0..<loadShares.count {
            let bytes = UInt64((Double(p.sizeBytes) * byteShares[k]).rounded())
            childBytes.append(bytes)
            children.append(PredictedPartition(range: KeyRange(lower: bounds[k]!, upper: bounds[k + 1]),
                                               predictedUtilization: peak * loadShares[k], predictedBytes: bytes))
        }
        // Keep the bytes consistent with the parent's size.
        let sum = childBytes.reduce(0, +)
        if sum != p.sizeBytes, let last = children.indices.last {
            let fixed = Int64(children[last].predictedBytes) + Int64(p.sizeBytes) - Int64(sum)
            children[last].predictedBytes = UInt64(max(0, fixed))
            childBytes[last] = children[last].predictedBytes
        }
        return PredictedEffect(resulting: children, bytesToMove: capacity.reshardCost.predict(sourceBytes: [p.sizeBytes]).copiedBytes,
                               predictedOverloadAt: overloadAt)
    }

    /// Cuts for splitting partition `i` so each child's share of `peak` is at most `target`,
    /// using load quantiles at `k/N` for the smallest `N` (2…`maxWays`) that fits; children
    /// smaller than the minimum size are folded into a neighbour.
    func balancedCuts(_ i: Int, peak: Double, target: Double, maxWays: Int) -> [[UInt8]]? {
        let profile = profiles[i]
        guard profile.hasLoad else { return nil }
        let p = partitions[i]
        var ways = max(2, min(maxWays, Int((peak / target).rounded(.up))))
        var best: [[UInt8]]?
        while ways <= maxWays {
            var cuts: [[UInt8]] = []
            for k in 1..<ways {
                guard let key = profile.loadQuantileKey(Double(k) / Double(ways)) else { continue }
                if let last = cuts.last, !last.lexicographicallyPrecedes(key) { continue }
                cuts.append(key)
            }
            cuts = dropSmallPieces(cuts, partition: p, profile: profile)
            if !cuts.isEmpty {
                best = cuts
                if let shares = profile.loadShares(cuts: cuts), (shares.max() ?? 1) * peak <= target * 1.05 { break }
            }
            ways += 1
        }
        return best
    }

    /// Removes cuts that would leave a piece below `minPartitionBytes`.
    func dropSmallPieces(_ cuts: [[UInt8]], partition p: PartitionSnapshot, profile: LoadProfile) -> [[UInt8]] {
        var cuts = cuts
        let minBytes = Double(capacity.minPartitionBytes)
        var changed = true
        while changed && !cuts.isEmpty {
            changed = false
            let shares = profile.byteShares(cuts: cuts)
            for (k, s) in shares.enumerated() where Double(p.sizeBytes) * s < minBytes {
                // Piece k lies between cut k-1 and cut k: drop the cut on its smaller side.
                let drop = k == cuts.count ? k - 1 : k
                cuts.remove(at: drop)
                changed = true
                break
            }
        }
        return cuts
    }

    // MARK: - Assembly

    /// Orders candidates, enforces one action per partition and the concurrency limit, and
    /// returns the plan.
    func assemble(policy: String) -> Plan {
        var used = Set<PartitionID>()
        var running = snapshot.inFlight.filter { $0.action.countsTowardConcurrency }.count
        var actions: [PlannedAction] = []
        var findings = findings
        let ordered = candidates.enumerated().sorted { a, b in
            if a.element.priorityClass != b.element.priorityClass { return a.element.priorityClass < b.element.priorityClass }
            if a.element.rank != b.element.rank { return a.element.rank > b.element.rank }
            return a.offset < b.offset
        }.map(\.element)
        for c in ordered {
            let ids = c.planned.action.partitions
            if ids.contains(where: { used.contains($0) || locked.contains($0) }) { continue }
            if c.planned.action.countsTowardConcurrency {
                if running >= capacity.maxConcurrentReshards {
                    findings.append(PlanFinding(code: .concurrencyLimit, wanted: c.planned.action, partitions: ids,
                                                message: "\(c.planned.action.kind.rawValue) wanted but \(running) of \(capacity.maxConcurrentReshards) reshard slots are busy"))
                    continue
                }
                running += 1
            }
            used.formUnion(ids)
            actions.append(c.planned)
        }
        let scores = partitions.indices.map { i in
            PartitionScore(partition: partitions[i].id, score: outlooks[i].score,
                           currentUtilization: outlooks[i].current,
                           predictedPeakUtilization: outlooks[i].peakUpper,
                           predictedOverloadAt: outlooks[i].overloadAt)
        }
        return Plan(policy: policy, now: now, actions: actions, findings: findings, scores: scores,
                    reversals: ledger.reversals(cooldown: capacity.cooldownNanos))
    }
}

/// Lazily built ``LoadProfile``s of one planning call.
///
/// Thread-safety: not thread-safe; confined to one planning call.
final class ProfileCache {
    private let partitions: [PartitionSnapshot]
    private var items: [LoadProfile?]

    init(_ partitions: [PartitionSnapshot]) {
        self.partitions = partitions
        items = Array(repeating: nil, count: partitions.count)
    }

    subscript(i: Int) -> LoadProfile {
        if let p = items[i] { return p }
        let p = LoadProfile(partitions[i])
        items[i] = p
        return p
    }
}

/// Formatting helpers for reason messages.
enum Fmt {
    static func f2(_ x: Double) -> String {
        let v = (x * 100).rounded() / 100
        var s = "\(v)"
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: dot, to: s.endIndex) - 1
            if decimals == 1 { s += "0" }
        } else {
            s += ".00"
        }
        return s == "-0.00" ? "0.00" : s
    }

    static func seconds(_ nanos: UInt64) -> String { "\(nanos / 1_000_000_000)s" }

    /// Bytes with a binary suffix, e.g. `1.5G`, `64M`, `512`.
    static func bytes(_ b: UInt64) -> String {
        let units: [(UInt64, String)] = [(1 << 40, "T"), (1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")]
        for (scale, suffix) in units where b >= scale {
            let v = Double(b) / Double(scale)
            let r = (v * 10).rounded() / 10
            return r == r.rounded() ? "\(Int(r))\(suffix)" : "\(r)\(suffix)"
        }
        return "\(b)"
    }
}
