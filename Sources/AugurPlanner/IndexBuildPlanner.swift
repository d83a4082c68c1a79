// Transcendental functions from swift-numerics' RealModule (pure computation, no I/O, no libc).
import RealModule
import AugurStats

/// Chooses partition boundaries and a worker assignment that minimise the makespan of a
/// secondary-index build, data movement included (issue 9).
///
/// **Search space.** Every existing boundary may be kept or removed (removing one merges the
/// neighbours) and every cut candidate may be used or not (using one splits there); the pieces
/// this leaves are assigned to `workers` build workers.
///
/// **Objective** (ns). A partition is *changed* when one of its boundaries is removed or one of
/// its candidates used; one reshard per run of changed partitions joined by removed
/// boundaries, each costing what ``ReshardCostModel`` predicts for its sources (copying: every
/// byte of every changed partition, as the executor writes every target afresh; sharing files:
/// no byte, only the per-reshard overhead). Each piece
/// costs ``IndexBuildCostModel/estimate(bytes:records:skew:)`` with each part at its source's
/// skew. With ``ReshardScheduling/beforeBuild``, objective = reshard + max over workers of the
/// sum of its pieces' costs; for ``ReshardScheduling/overlapped`` see there. Layouts with more
/// than `max(maxPartitions, partitions.count)` pieces, or with a new piece below
/// `minPartitionBytes`, are infeasible.
///
/// **Search.** Simulated annealing from the static layout with LPT assignment; a layout that
/// reshapes anything is returned only when its predicted makespan is strictly shorter than the
/// static one (else the static layout): moves add, remove or shift a cut by one position, move a piece to
/// another worker or swap two pieces' workers; acceptance `exp(−Δ/T)` with geometric cooling
/// over `restarts` rounds, each restarting from the best state; the best state is kept and
/// finally its assignment is polished (LPT, then single moves and swaps while they improve).
/// Randomness is a seeded SplitMix64: deterministic. No clock is read: the search ends after
/// `maxIterations` moves or when the caller's `shouldStop` says so. Cost: O(iterations ×
/// (candidates + partitions + workers)).
///
/// Thread-safety: stateless; `plan` may run on any thread.
public enum IndexBuildPlanner {
    /// Plans an index build.
    ///
    /// - Parameters:
    ///   - partitions: the table's partitions in key order, adjacent.
    ///   - workers: build workers (≥ 1).
    ///   - model: build rates.
    ///   - copyCost: what the reshards copy and how long they take (the engine's, refined from
    ///     the reshards it measured).
    ///   - options: search knobs and limits.
    ///   - shouldStop: asked every `options.stopCheckInterval` iterations; `true` ends the
    ///     search (e.g. a deadline on the engine clock). Never called when it cannot matter.
    public static func plan(partitions: [BuildPartitionProfile], workers: Int, model: IndexBuildCostModel = IndexBuildCostModel(),
                            copyCost: ReshardCostModel = ReshardCostModel(),
                            options: IndexBuildPlanningOptions = IndexBuildPlanningOptions(),
                            shouldStop: () -> Bool = { false }) throws(IndexBuildPlanningError) -> IndexBuildPlan {
        try options.validate()
        let problem = try IndexBuildProblem(partitions: partitions, workers: workers, model: model, copyCost: copyCost,
                                            options: options)
        var annealer = IndexBuildAnnealer(problem: problem)
        let result = annealer.run(shouldStop: shouldStop)
        // Never a reshape whose predicted makespan is not strictly shorter than static.
        var chosen = result.best
        var scratch = problem.makeScratch()
        if problem.reshardCost(chosen, scratch: &scratch).reshards > 0,
           !((problem.evaluate(chosen, scratch: &scratch) ?? .infinity) < annealer.staticObjective) {
            chosen = annealer.staticState
        }
        return problem.makePlan(chosen, staticMakespan: annealer.staticObjective,
                                iterations: result.iterations, stoppedEarly: result.stoppedEarly)
    }

    /// Makespan of building the existing partitions without reshaping: LPT (largest estimated
    /// build first, each to the least loaded worker, ties to the lowest index). Unit: ns.
    public static func staticMakespan(partitions: [BuildPartitionProfile], workers: Int,
                                      model: IndexBuildCostModel = IndexBuildCostModel()) throws(IndexBuildPlanningError) -> Double {
        let problem = try IndexBuildProblem(partitions: partitions, workers: workers, model: model,
                                            copyCost: ReshardCostModel(), options: IndexBuildPlanningOptions())
        let costs = partitions.map { model.estimate(bytes: $0.bytes, records: $0.records, skew: $0.skew) }
        return lptLoads(costs, workers: problem.workers).loads.max() ?? 0
    }

    /// LPT: items by decreasing cost (ties by index), each to the least loaded worker (ties to
    /// the lowest worker). Returns each item's worker and the workers' loads.
    static func lptLoads(_ costs: [Double], workers: Int) -> (owners: [Int], loads: [Double]) {
        let order = costs.indices.sorted { costs[$0] != costs[$1] ? costs[$0] > costs[$1] : $0 < $1 }
        var loads = [Double](repeating: 0, count: workers)
        var owners = [Int](repeating: 0, count: costs.count)
        for i in order {
            var w = 0
            for k in 1..<workers where loads[k] < loads[w] { w = k }
            owners[i] = w
            loads[w] += costs[i]
        }
        return (owners, loads)
    }
}

/// Annealing state: which interior points are cuts, and the worker of every piece (stored at the
/// piece's first segment; other entries are ignored until a cut makes them a piece start).
struct IndexBuildState: Hashable {
    var used: [Bool]
    var owner: [Int]
}

/// The flattened problem: interior points in key order (existing boundaries and candidates),
/// the elementary segments between them, and the evaluation of a state.
struct IndexBuildProblem {
    let partitions: [BuildPartitionProfile]
    let workers: Int
    let model: IndexBuildCostModel
    let copyCost: ReshardCostModel
    let options: IndexBuildPlanningOptions
    /// Interior points: key, whether an existing boundary, and the partition it lies in (for a
    /// boundary: the partition to its right).
    var pointKey: [[UInt8]] = []
    var pointIsBoundary: [Bool] = []
    var pointPartition: [Int] = []
    /// Segments (`points + 1`): segment `s` lies between points `s − 1` and `s`.
    var segBytes: [UInt64] = []
    var segRecords: [UInt64] = []
    var segCost: [Double] = []
    var segPartition: [Int] = []
    /// First segment of each partition.
    var partitionFirstSegment: [Int] = []
    let pieceLimit: Int

    init(partitions: [BuildPartitionProfile], workers: Int, model: IndexBuildCostModel, copyCost: ReshardCostModel,
         options: IndexBuildPlanningOptions) throws(IndexBuildPlanningError) {
        if workers < 1 { throw .invalidWorkerCount(workers: workers, minimum: 1) }
        if partitions.isEmpty { throw .noPartitions }
        try model.validate()
        var seen = Set<PartitionID>()
        for (i, p) in partitions.enumerated() {
            if !seen.insert(p.id).inserted { throw .duplicatePartition(p.id) }
            if !p.range.isNonEmpty { throw .emptyRange(index: i, partition: p.id, range: p.range) }
            if i > 0 {
                let prev = partitions[i - 1].range.upper
                if prev != p.range.lower {
                    throw .notAdjacent(index: i, partition: p.id, previousUpper: prev, lower: p.range.lower)
                }
            }
            if !(p.skew.isFinite && p.skew >= 1) { throw .invalidSkew(partition: p.id, skew: p.skew, minimum: 1) }
            var prevBytes: UInt64 = 0, prevRecords: UInt64 = 0
            for (k, c) in p.cutCandidates.enumerated() {
                if !p.range.containsStrictly(c.key) {
                    throw .candidateOutsideRange(partition: p.id, index: k, key: c.key, range: p.range)
                }
                if k > 0, !p.cutCandidates[k - 1].key.lexicographicallyPrecedes(c.key) {
                    throw .candidatesNotIncreasing(partition: p.id, index: k, key: c.key, previous: p.cutCandidates[k - 1].key)
                }
                if c.bytesBefore < prevBytes || c.bytesBefore > p.bytes {
                    throw .candidateCountOutOfRange(partition: p.id, index: k, what: "bytes", value: c.bytesBefore,
                                                    limit: "in \(prevBytes)...\(p.bytes) (previous candidate...partition total)")
                }
                if c.recordsBefore < prevRecords || c.recordsBefore > p.records {
                    throw .candidateCountOutOfRange(partition: p.id, index: k, what: "records", value: c.recordsBefore,
                                                    limit: "in \(prevRecords)...\(p.records) (previous candidate...partition total)")
                }
                prevBytes = c.bytesBefore
                prevRecords = c.recordsBefore
            }
        }
        self.partitions = partitions
        self.workers = workers
        self.model = model
        self.copyCost = copyCost
        self.options = options
        self.pieceLimit = max(options.maxPartitions, partitions.count)

        for (j, p) in partitions.enumerated() {
            if j > 0 {
                pointKey.append(p.range.lower)
                pointIsBoundary.append(true)
                pointPartition.append(j)
            }
            partitionFirstSegment.append(segBytes.count)
            var prevBytes: UInt64 = 0, prevRecords: UInt64 = 0
            func addSegment(_ bytes: UInt64, _ records: UInt64) {
                segBytes.append(bytes)
                segRecords.append(records)
                segCost.append(model.variableBuildNanos(bytes: bytes, records: records, skew: p.skew))
                segPartition.append(j)
            }
            for c in p.cutCandidates {
                addSegment(c.bytesBefore - prevBytes, c.recordsBefore - prevRecords)
                pointKey.append(c.key)
                pointIsBoundary.append(false)
                pointPartition.append(j)
                prevBytes = c.bytesBefore
                prevRecords = c.recordsBefore
            }
            addSegment(p.bytes - prevBytes, p.records - prevRecords)
        }
    }

    var pointCount: Int { pointKey.count }
    var segmentCount: Int { segBytes.count }

    /// The static layout (every boundary kept, no candidate used) with LPT assignment.
    func staticState() -> IndexBuildState {
        let costs = partitions.indices.map { j in
            model.estimate(bytes: partitions[j].bytes, records: partitions[j].records, skew: partitions[j].skew)
        }
        let owners = IndexBuildPlanner.lptLoads(costs, workers: workers).owners
        var owner = [Int](repeating: 0, count: segmentCount)
        for s in 0..<segmentCount { owner[s] = owners[segPartition[s]] }
        return IndexBuildState(used: pointIsBoundary, owner: owner)
    }

    /// Reusable buffers for ``evaluate(_:scratch:)``.
    struct Scratch {
        var changed: [Bool]
        var unchangedLoad: [Double]
        var reshapedLoad: [Double]
    }

    func makeScratch() -> Scratch {
        Scratch(changed: [Bool](repeating: false, count: partitions.count),
                unchangedLoad: [Double](repeating: 0, count: workers),
                reshapedLoad: [Double](repeating: 0, count: workers))
    }

    /// Reshard cost of a state: bytes copied, reshard count, time; fills `scratch.changed`.
    func reshardCost(_ state: IndexBuildState, scratch: inout Scratch) -> (bytes: UInt64, reshards: Int, nanos: Double) {
        for j in scratch.changed.indices { scratch.changed[j] = false }
        var removed = 0
        for i in 0..<pointCount {
            if pointIsBoundary[i] {
                if !state.used[i] {
                    scratch.changed[pointPartition[i]] = true
                    scratch.changed[pointPartition[i] - 1] = true
                    removed += 1
                }
            } else if state.used[i] {
                scratch.changed[pointPartition[i]] = true
            }
        }
        var moved: UInt64 = 0
        var changedCount = 0
        for j in partitions.indices where scratch.changed[j] {
            moved += partitions[j].bytes
            changedCount += 1
        }
        // Changed partitions joined by removed boundaries form a forest on a path:
        // components = nodes − edges.
        let reshards = changedCount - removed
        let cost = copyCost.predict(viewedBytes: moved, reshards: reshards)
        return (cost.copiedBytes, reshards, cost.seconds * 1e9)
    }

    /// The objective of `state` (ns), or nil when the layout is infeasible.
    func evaluate(_ state: IndexBuildState, scratch: inout Scratch) -> Double? {
        let reshard = reshardCost(state, scratch: &scratch).nanos
        for w in 0..<workers {
            scratch.unchangedLoad[w] = 0
            scratch.reshapedLoad[w] = 0
        }
        var pieces = 0
        var start = 0
        var bytes: UInt64 = 0
        var cost = 0.0
        let last = segmentCount - 1
        for s in 0...last {
            bytes += segBytes[s]
            cost += segCost[s]
            if s == last || state.used[s] {
                pieces += 1
                let w = state.owner[start]
                if scratch.changed[segPartition[start]] {
                    if bytes < options.minPartitionBytes { return nil }
                    scratch.reshapedLoad[w] += cost + model.nanosPerPartition
                } else {
                    scratch.unchangedLoad[w] += cost + model.nanosPerPartition
                }
                start = s + 1
                bytes = 0
                cost = 0
            }
        }
        if pieces > pieceLimit { return nil }
        return Self.makespan(unchanged: scratch.unchangedLoad, reshaped: scratch.reshapedLoad, reshardNanos: reshard,
                             scheduling: options.scheduling)
    }

    /// Finish time of one worker under a scheduling model. Unit: ns.
    static func finish(unchanged: Double, reshaped: Double, reshardNanos: Double, scheduling: ReshardScheduling) -> Double {
        switch scheduling {
        case .beforeBuild: return reshardNanos + unchanged + reshaped
        case .overlapped: return reshaped > 0 ? max(unchanged, reshardNanos) + reshaped : unchanged
        }
    }

    static func makespan(unchanged: [Double], reshaped: [Double], reshardNanos: Double, scheduling: ReshardScheduling) -> Double {
        var m = 0.0
        for w in unchanged.indices {
            m = max(m, finish(unchanged: unchanged[w], reshaped: reshaped[w], reshardNanos: reshardNanos, scheduling: scheduling))
        }
        return m
    }

    /// First segment of the piece holding segment `s`.
    func pieceStart(_ state: IndexBuildState, segment s: Int) -> Int {
        var k = s
        while k > 0, !state.used[k - 1] { k -= 1 }
        return k
    }

    /// Start segments of every piece, in key order.
    func pieceStarts(_ state: IndexBuildState) -> [Int] {
        var starts = [0]
        for i in 0..<pointCount where state.used[i] { starts.append(i + 1) }
        return starts
    }

    /// Reassigns every piece of `state` by LPT (its cuts unchanged).
    func reassignLPT(_ state: inout IndexBuildState) {
        let starts = pieceStarts(state)
        var costs: [Double] = []
        costs.reserveCapacity(starts.count)
        for (n, first) in starts.enumerated() {
            let end = n + 1 < starts.count ? starts[n + 1] - 1 : segmentCount - 1
            var cost = model.nanosPerPartition
            for s in first...end { cost += segCost[s] }
            costs.append(cost)
        }
        let owners = IndexBuildPlanner.lptLoads(costs, workers: workers).owners
        for (n, first) in starts.enumerated() { state.owner[first] = owners[n] }
    }

    /// Lower bound of segment `s`'s piece boundary (`s == 0`: the first partition's lower).
    func lowerKey(ofSegment s: Int) -> [UInt8] { s == 0 ? partitions[0].range.lower : pointKey[s - 1] }

    /// Upper bound after segment `s` (last segment: the last partition's upper).
    func upperKey(afterSegment s: Int) -> [UInt8]? { s == segmentCount - 1 ? partitions[partitions.count - 1].range.upper : pointKey[s] }

    /// Turns a state into the plan the engine executes.
    func makePlan(_ state: IndexBuildState, staticMakespan: Double, iterations: Int, stoppedEarly: Bool) -> IndexBuildPlan {
        var scratch = makeScratch()
        let objective = evaluate(state, scratch: &scratch) ?? staticMakespan
        let reshard = reshardCost(state, scratch: &scratch)
        let changed = scratch.changed
        let starts = pieceStarts(state)
        var pieces: [IndexBuildPiece] = []
        for (n, first) in starts.enumerated() {
            let end = n + 1 < starts.count ? starts[n + 1] - 1 : segmentCount - 1
            var bytes: UInt64 = 0, records: UInt64 = 0, cost = model.nanosPerPartition
            var sources: [PartitionID] = []
            for s in first...end {
                bytes += segBytes[s]
                records += segRecords[s]
                cost += segCost[s]
                let id = partitions[segPartition[s]].id
                if sources.last != id { sources.append(id) }
            }
            pieces.append(IndexBuildPiece(range: KeyRange(lower: lowerKey(ofSegment: first), upper: upperKey(afterSegment: end)),
                                          bytes: bytes, records: records, estimatedBuildNanos: cost, sources: sources,
                                          isUnchanged: !changed[segPartition[first]], worker: state.owner[first]))
        }

        // Reshards: runs of changed partitions joined by removed boundaries.
        var reshards: [IndexBuildReshard] = []
        var j = 0
        while j < partitions.count {
            guard changed[j] else { j += 1; continue }
            var k = j
            while k + 1 < partitions.count, !state.used[partitionFirstSegment[k + 1] - 1] { k += 1 }
            let union = KeyRange(lower: partitions[j].range.lower, upper: partitions[k].range.upper)
            var boundaries: [[UInt8]] = []
            for i in (partitionFirstSegment[j])..<(k + 1 < partitions.count ? partitionFirstSegment[k + 1] - 1 : pointCount)
            where state.used[i] {
                boundaries.append(pointKey[i])
            }
            var targets: [KeyRange] = []
            var lo = union.lower
            for b in boundaries {
                targets.append(KeyRange(lower: lo, upper: b))
                lo = b
            }
            targets.append(KeyRange(lower: lo, upper: union.upper))
            let sources = partitions[j...k].map(\.id)
            let action: ReshardAction?
            switch (sources.count, boundaries.count) {
            case (1, _): action = .split(sources[0], at: boundaries)
            case (2, 0): action = .merge(left: sources[0], right: sources[1])
            case (2, 1): action = .moveBoundary(left: sources[0], right: sources[1], to: boundaries[0])
            default: action = nil
            }
            reshards.append(IndexBuildReshard(sources: sources, boundaries: boundaries, targets: targets,
                                              bytesMoved: copyCost.predict(sourceBytes: partitions[j...k].map(\.bytes)).copiedBytes,
                                              action: action))
            j = k + 1
        }

        var workerPlans: [IndexBuildWorkerPlan] = []
        for w in 0..<workers {
            let mine = pieces.indices.filter { pieces[$0].worker == w }
            func byCost(_ a: Int, _ b: Int) -> Bool {
                pieces[a].estimatedBuildNanos != pieces[b].estimatedBuildNanos
                    ? pieces[a].estimatedBuildNanos > pieces[b].estimatedBuildNanos : a < b
            }
            let order = mine.filter { pieces[$0].isUnchanged }.sorted(by: byCost)
                + mine.filter { !pieces[$0].isUnchanged }.sorted(by: byCost)
            let unchanged = mine.filter { pieces[$0].isUnchanged }.reduce(0.0) { $0 + pieces[$1].estimatedBuildNanos }
            let reshaped = mine.filter { !pieces[$0].isUnchanged }.reduce(0.0) { $0 + pieces[$1].estimatedBuildNanos }
            workerPlans.append(IndexBuildWorkerPlan(
                pieces: order, buildNanos: unchanged + reshaped,
                finishNanos: Self.finish(unchanged: unchanged, reshaped: reshaped, reshardNanos: reshard.nanos,
                                         scheduling: options.scheduling)))
        }
        return IndexBuildPlan(pieces: pieces, reshards: reshards, workers: workerPlans, staticMakespanNanos: staticMakespan,
                              adaptiveMakespanNanos: objective, reshardNanos: reshard.nanos, bytesMoved: reshard.bytes,
                              iterations: iterations, stoppedEarly: stoppedEarly)
    }
}
