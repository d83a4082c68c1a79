import AugurPlanner
import Testing

/// A planning problem built from elementary segments, so the brute force below does not share
/// the planner's own flattening of profiles.
struct IndexBuildCase {
    struct Segment { var bytes: UInt64; var records: UInt64; var partition: Int }
    /// Interior points in key order: existing boundary or candidate, with its key.
    struct Point { var key: [UInt8]; var isBoundary: Bool }

    var partitions: [BuildPartitionProfile]
    var segments: [Segment]
    var points: [Point]

    /// `segmentsPerPartition[j]` lists the byte and record counts of partition j's segments
    /// (its candidates are between them). Keys are one byte, 10, 20, 30, … in point order.
    init(segmentsPerPartition: [[(bytes: UInt64, records: UInt64)]], skews: [Double]) {
        partitions = []
        segments = []
        points = []
        var nextKey: UInt8 = 10
        var lower: [UInt8] = []
        for (j, segs) in segmentsPerPartition.enumerated() {
            var candidates: [CutCandidate] = []
            var bytes: UInt64 = 0, records: UInt64 = 0
            for (k, s) in segs.enumerated() {
                if k > 0 {
                    candidates.append(CutCandidate(key: [nextKey], bytesBefore: bytes, recordsBefore: records))
                    points.append(Point(key: [nextKey], isBoundary: false))
                    nextKey += 10
                }
                bytes += s.bytes
                records += s.records
                segments.append(Segment(bytes: s.bytes, records: s.records, partition: j))
            }
            let isLast = j == segmentsPerPartition.count - 1
            let upper: [UInt8]? = isLast ? nil : [nextKey]
            partitions.append(BuildPartitionProfile(id: PartitionID(UInt64(100 + j)), range: KeyRange(lower: lower, upper: upper),
                                                    bytes: bytes, records: records, skew: skews[j], cutCandidates: candidates))
            if let upper {
                points.append(Point(key: upper, isBoundary: true))
                nextKey += 10
                lower = upper
            }
        }
    }

    /// Pieces of a layout (`used[i]`: point i is a cut): segment index ranges.
    func pieces(used: [Bool]) -> [ClosedRange<Int>] {
        var out: [ClosedRange<Int>] = []
        var start = 0
        for s in segments.indices where s == segments.count - 1 || used[s] {
            out.append(start...s)
            start = s + 1
        }
        return out
    }

    /// Objective of a layout and assignment straight from the definition, nil when infeasible.
    func objective(used: [Bool], owners: [Int], workers: Int, model: IndexBuildCostModel, copy: ReshardCostModel,
                   options: IndexBuildPlanningOptions) -> Double? {
        var changed = [Bool](repeating: false, count: partitions.count)
        var removedBoundaries = 0
        for (i, p) in points.enumerated() {
            // Point i separates segment i and segment i + 1.
            if p.isBoundary, !used[i] {
                changed[segments[i].partition] = true
                changed[segments[i + 1].partition] = true
                removedBoundaries += 1
            } else if !p.isBoundary, used[i] {
                changed[segments[i].partition] = true
            }
        }
        let moved = partitions.indices.filter { changed[$0] }.reduce(UInt64(0)) { $0 + partitions[$1].bytes }
        let reshards = changed.filter { $0 }.count - removedBoundaries
        // Copying: every byte of every changed partition; sharing files: none. Plus an overhead each.
        let copied = copy.dataMode == .copy ? moved : 0
        let reshard = (Double(reshards) * copy.overheadSeconds + Double(copied) / copy.copyBytesPerSecond) * 1e9
        let ps = pieces(used: used)
        if ps.count > max(options.maxPartitions, partitions.count) { return nil }
        var unchanged = [Double](repeating: 0, count: workers)
        var reshaped = [Double](repeating: 0, count: workers)
        for (n, r) in ps.enumerated() {
            let isNew = r.contains { changed[segments[$0].partition] }
            let bytes = r.reduce(UInt64(0)) { $0 + segments[$1].bytes }
            if isNew, bytes < options.minPartitionBytes { return nil }
            let cost = model.nanosPerPartition + r.reduce(0.0) {
                $0 + model.variableBuildNanos(bytes: segments[$1].bytes, records: segments[$1].records,
                                              skew: partitions[segments[$1].partition].skew)
            }
            if isNew { reshaped[owners[n]] += cost } else { unchanged[owners[n]] += cost }
        }
        var makespan = 0.0
        for w in 0..<workers {
            let finish: Double
            switch options.scheduling {
            case .beforeBuild: finish = reshard + unchanged[w] + reshaped[w]
            case .overlapped: finish = reshaped[w] > 0 ? max(unchanged[w], reshard) + reshaped[w] : unchanged[w]
            }
            makespan = max(makespan, finish)
        }
        return makespan
    }

    /// The optimum over every subset of points and every assignment of the pieces.
    func bruteForce(workers: Int, model: IndexBuildCostModel, copy: ReshardCostModel, options: IndexBuildPlanningOptions) -> Double {
        var best = Double.infinity
        for mask in 0..<(1 << points.count) {
            let used = points.indices.map { mask & (1 << $0) != 0 }
            let n = pieces(used: used).count
            var owners = [Int](repeating: 0, count: n)
            while true {
                if let o = objective(used: used, owners: owners, workers: workers, model: model, copy: copy, options: options) {
                    best = min(best, o)
                } else {
                    break // infeasibility does not depend on the assignment
                }
                var k = 0
                while k < n {
                    owners[k] += 1
                    if owners[k] < workers { break }
                    owners[k] = 0
                    k += 1
                }
                if k == n { break }
            }
        }
        return best
    }

    /// The layout and assignment a plan describes, as this case's points and piece owners.
    func layout(of plan: IndexBuildPlan) -> (used: [Bool], owners: [Int]) {
        let cutKeys = Set(plan.pieces.dropFirst().map(\.range.lower))
        return (points.map { cutKeys.contains($0.key) }, plan.pieces.map(\.worker))
    }

    /// A random case with `maxPoints` interior points at most.
    static func random(seed: UInt64, maxPoints: Int, maxPartitions: Int) -> IndexBuildCase {
        var rng = TestRandom(state: seed)
        let partitionCount = rng.int(1...min(maxPartitions, maxPoints + 1))
        var candidatesLeft = maxPoints - (partitionCount - 1)
        var segs: [[(bytes: UInt64, records: UInt64)]] = []
        var skews: [Double] = []
        for j in 0..<partitionCount {
            let c = j == partitionCount - 1 ? candidatesLeft : rng.int(0...candidatesLeft)
            candidatesLeft -= c
            // Partition sizes vary over two orders of magnitude, so skewed layouts are common.
            let scale = rng.chance(0.3) ? 100.0 : 1.0
            segs.append((0...c).map { _ in
                let bytes = UInt64((1 + rng.unit() * 99) * scale * 1_000_000)
                return (bytes, bytes / UInt64(rng.int(50...500)))
            })
            skews.append(1 + rng.unit() * 3)
        }
        return IndexBuildCase(segmentsPerPartition: segs, skews: skews)
    }
}

/// Checks that hold for every plan: pieces tile the table in key order, every piece is built by
/// exactly one worker, reshards cover exactly the reshaped pieces.
func checkPlanShape(_ plan: IndexBuildPlan, partitions: [BuildPartitionProfile], workers: Int, seed: UInt64) {
    let ctx: Comment = "seed \(seed)"
    #expect(plan.pieces.first?.range.lower == partitions.first?.range.lower, ctx)
    #expect(plan.pieces.last?.range.upper == partitions.last?.range.upper, ctx)
    for i in 1..<max(1, plan.pieces.count) {
        #expect(plan.pieces[i - 1].range.upper == plan.pieces[i].range.lower, ctx)
        #expect(plan.pieces[i - 1].range.isNonEmpty, ctx)
    }
    #expect(plan.pieces.reduce(UInt64(0)) { $0 + $1.bytes } == partitions.reduce(UInt64(0)) { $0 + $1.bytes }, ctx)
    #expect(plan.workers.count == workers, ctx)
    #expect(plan.workers.flatMap(\.pieces).sorted() == Array(plan.pieces.indices), ctx)
    for (w, wp) in plan.workers.enumerated() {
        #expect(wp.pieces.allSatisfy { plan.pieces[$0].worker == w }, ctx)
    }
    let targets = plan.reshards.flatMap(\.targets)
    #expect(targets == plan.pieces.filter { !$0.isUnchanged }.map(\.range), ctx)
    #expect(plan.reshards.reduce(UInt64(0)) { $0 + $1.bytesMoved } == plan.bytesMoved, ctx)
    #expect(plan.adaptiveMakespanNanos <= plan.staticMakespanNanos, ctx)
    let finish = plan.workers.map(\.finishNanos).max() ?? 0
    #expect(abs(finish - plan.adaptiveMakespanNanos) <= 1e-9 * max(1, finish), ctx)
}

/// A copying executor at `nanosPerByte` with `fixedNanos` per reshard.
func copying(nanosPerByte: Double, fixedNanos: Double = 20_000_000) -> ReshardCostModel {
    // Positive finite numbers: the model accepts them.
    try! ReshardCostModel(dataMode: .copy, copyBytesPerSecond: 1e9 / nanosPerByte, overheadSeconds: fixedNanos / 1e9)
}

/// A file-sharing executor (nothing copied) taking `fixedNanos` per reshard.
func sharing(fixedNanos: Double) -> ReshardCostModel {
    try! ReshardCostModel(dataMode: .shareFiles, copyBytesPerSecond: ReshardCostModel.defaultCopyBytesPerSecond,
                          overheadSeconds: fixedNanos / 1e9)
}

@Suite("Index build planner")
struct IndexBuildPlannerTests {
    static let smallCaseModels: [(build: IndexBuildCostModel, copy: ReshardCostModel)] = [
        (IndexBuildCostModel(), copying(nanosPerByte: 1.6)),                              // realistic: copying rarely pays
        (IndexBuildCostModel(nanosPerRecord: 2000), copying(nanosPerByte: 0.5)),         // expensive key extraction
        (IndexBuildCostModel(nanosPerRecord: 2000, nanosPerPartition: 5e8), copying(nanosPerByte: 0.2, fixedNanos: 1e6)),
        (IndexBuildCostModel(nanosPerRecord: 2000), sharing(fixedNanos: 1e7)),           // files shared: overhead only
    ]

    @Test("annealing reaches the brute-force optimum on small cases", arguments: ReshardScheduling.allCases)
    func matchesBruteForce(scheduling: ReshardScheduling) throws {
        var reshaped = 0
        for seed in UInt64(1)...100 {
            var rng = TestRandom(state: seed &* 7919)
            let c = IndexBuildCase.random(seed: seed, maxPoints: rng.int(1...6), maxPartitions: 3)
            let workers = rng.int(2...3)
            let (model, copy) = Self.smallCaseModels[rng.int(0...3)]
            let options = IndexBuildPlanningOptions(
                seed: seed, maxPartitions: [c.partitions.count, 4, 1024][rng.int(0...2)],
                minPartitionBytes: rng.chance(0.3) ? 20_000_000 : 0, scheduling: scheduling)
            let plan = try IndexBuildPlanner.plan(partitions: c.partitions, workers: workers, model: model, copyCost: copy, options: options)
            let optimum = c.bruteForce(workers: workers, model: model, copy: copy, options: options)
            let ctx: Comment = "seed \(seed), \(scheduling), \(workers) workers, \(c.points.count) points"
            print("index build brute force: \(ctx): optimum \(optimum) ns, annealed \(plan.adaptiveMakespanNanos) ns, static \(plan.staticMakespanNanos) ns, \(plan.reshards.count) reshards")
            #expect(abs(plan.adaptiveMakespanNanos - optimum) <= 1e-9 * optimum, ctx)
            // The reported makespan is that of the layout and assignment the plan describes.
            let (used, owners) = c.layout(of: plan)
            let recomputed = try #require(c.objective(used: used, owners: owners, workers: workers, model: model, copy: copy,
                                                      options: options), ctx)
            #expect(abs(recomputed - plan.adaptiveMakespanNanos) <= 1e-9 * recomputed, ctx)
            checkPlanShape(plan, partitions: c.partitions, workers: workers, seed: seed)
            if !plan.reshards.isEmpty { reshaped += 1 }
        }
        // The cases must exercise reshaping, not only the static layout.
        #expect(reshaped >= 20, "only \(reshaped) of 100 cases reshaped")
    }

    @Test("never worse than static; same seed, same plan")
    func neverWorseAndDeterministic() throws {
        for seed in UInt64(1)...40 {
            var rng = TestRandom(state: seed ^ 0xABCD)
            let c = IndexBuildCase.random(seed: seed, maxPoints: 20, maxPartitions: 8)
            let workers = rng.int(1...4)
            let (model, copy) = Self.smallCaseModels[rng.int(0...3)]
            let options = IndexBuildPlanningOptions(seed: seed, maxIterations: 5000,
                                                    scheduling: rng.chance(0.5) ? .beforeBuild : .overlapped)
            let a = try IndexBuildPlanner.plan(partitions: c.partitions, workers: workers, model: model, copyCost: copy, options: options)
            let b = try IndexBuildPlanner.plan(partitions: c.partitions, workers: workers, model: model, copyCost: copy, options: options)
            #expect(a == b, "seed \(seed)")
            let stat = try IndexBuildPlanner.staticMakespan(partitions: c.partitions, workers: workers, model: model)
            #expect(abs(a.staticMakespanNanos - stat) <= 1e-9 * stat, "seed \(seed)")
            #expect(a.adaptiveMakespanNanos <= a.staticMakespanNanos, "seed \(seed)")
            // A reshape only when it is predicted strictly shorter.
            #expect(a.reshards.isEmpty || a.adaptiveMakespanNanos < a.staticMakespanNanos, "seed \(seed)")
            checkPlanShape(a, partitions: c.partitions, workers: workers, seed: seed)
        }
    }

    @Test("expensive copying: no reshaping")
    func movementCostRespected() throws {
        let c = IndexBuildCase(segmentsPerPartition: [[(600_000_000, 6_000_000), (600_000_000, 6_000_000), (600_000_000, 6_000_000)],
                                                      [(10_000_000, 100_000)], [(10_000_000, 100_000)]],
                               skews: [1, 1, 1])
        let cheap = try IndexBuildPlanner.plan(partitions: c.partitions, workers: 2,
                                               copyCost: copying(nanosPerByte: 0.01))
        #expect(!cheap.reshards.isEmpty)
        #expect(cheap.adaptiveMakespanNanos < cheap.staticMakespanNanos)
        let dear = try IndexBuildPlanner.plan(partitions: c.partitions, workers: 2,
                                              copyCost: copying(nanosPerByte: 1000))
        #expect(dear.reshards.isEmpty)
        #expect(dear.bytesMoved == 0)
        #expect(dear.reshardNanos == 0)
        #expect(dear.adaptiveMakespanNanos == dear.staticMakespanNanos)
        let allUnchanged = dear.pieces.allSatisfy { $0.isUnchanged }
        #expect(allUnchanged)
        #expect(dear.pieces.map(\.range) == c.partitions.map(\.range))
    }

    @Test("reshards are reported in the executor's terms: split, merge, boundary move, longer runs")
    func actionsInExecutorTerms() throws {
        let cheapCopy = copying(nanosPerByte: 0.01, fixedNanos: 1_000)
        let free = IndexBuildPlanningOptions(minPartitionBytes: 0)
        // One partition, two workers: split in the middle (keys 10, 20, 30 between four equal parts).
        let one = IndexBuildCase(segmentsPerPartition: [Array(repeating: (400_000_000, 4_000_000), count: 4)], skews: [1])
        let split = try IndexBuildPlanner.plan(partitions: one.partitions, workers: 2, copyCost: cheapCopy, options: free)
        checkPlanShape(split, partitions: one.partitions, workers: 2, seed: 0x5EED)
        #expect(split.reshards.map(\.action) == [.split(one.partitions[0].id, at: [[20]])])
        #expect(split.bytesMoved == 1_600_000_000)

        // Tiny partitions and a large fixed cost per partition: merge them.
        let perPartition = IndexBuildCostModel(nanosPerPartition: 200_000_000)
        let two = IndexBuildCase(segmentsPerPartition: [[(1_000, 10)], [(1_000, 10)]], skews: [1, 1])
        let merge = try IndexBuildPlanner.plan(partitions: two.partitions, workers: 1, model: perPartition, copyCost: cheapCopy, options: free)
        #expect(merge.reshards.map(\.action) == [.merge(left: two.partitions[0].id, right: two.partitions[1].id)])
        #expect(merge.pieces.count == 1)
        let four = IndexBuildCase(segmentsPerPartition: Array(repeating: [(1_000, 10)], count: 4), skews: [1, 1, 1, 1])
        let run = try IndexBuildPlanner.plan(partitions: four.partitions, workers: 1, model: perPartition, copyCost: cheapCopy, options: free)
        #expect(run.reshards.count == 1)
        #expect(run.reshards.first?.sources == four.partitions.map(\.id))
        #expect(run.reshards.first?.boundaries == [])
        #expect(run.reshards.first?.action == nil)
        #expect(run.pieces.count == 1)

        // 3 : 1 with at most two partitions: only moving the boundary (30 → 20) balances them.
        let moveCase = IndexBuildCase(segmentsPerPartition: [Array(repeating: (400_000_000, 4_000_000), count: 3),
                                                             [(400_000_000, 4_000_000)]], skews: [1, 1])
        var limited = free
        limited.maxPartitions = 2
        let move = try IndexBuildPlanner.plan(partitions: moveCase.partitions, workers: 2, copyCost: cheapCopy, options: limited)
        checkPlanShape(move, partitions: moveCase.partitions, workers: 2, seed: 0x5EED)
        #expect(move.reshards.map(\.action) == [.moveBoundary(left: moveCase.partitions[0].id, right: moveCase.partitions[1].id, to: [20])])
    }

    /// The benchmark: 10 M records of 100 bytes, one partition holding 60 %, 2 workers.
    static func skewedTable(partitionCount: Int = 5, candidatesPerPartition: Int = 16) -> [BuildPartitionProfile] {
        let records: [UInt64] = [6_000_000] + Array(repeating: 4_000_000 / UInt64(partitionCount - 1), count: partitionCount - 1)
        var out: [BuildPartitionProfile] = []
        for (j, r) in records.enumerated() {
            let lower: [UInt8] = j == 0 ? [] : [UInt8(j * 40)]
            let upper: [UInt8]? = j == partitionCount - 1 ? nil : [UInt8((j + 1) * 40)]
            let base = UInt8(j * 40)
            let cands = (1..<candidatesPerPartition).map { k in
                CutCandidate(key: [base, UInt8(k * 256 / candidatesPerPartition)],
                             bytesBefore: r * 100 * UInt64(k) / UInt64(candidatesPerPartition),
                             recordsBefore: r * UInt64(k) / UInt64(candidatesPerPartition))
            }
            out.append(BuildPartitionProfile(id: PartitionID(UInt64(j + 1)), range: KeyRange(lower: lower, upper: upper),
                                             bytes: r * 100, records: r, skew: j == 0 ? 2 : 1, cutCandidates: cands))
        }
        return out
    }

    @Test("60 % skew at 2 workers: the improvement the model allows, and its bound", arguments: ReshardScheduling.allCases)
    func skewedBenchmarkScenario(scheduling: ReshardScheduling) throws {
        let table = Self.skewedTable()
        let options = IndexBuildPlanningOptions(scheduling: scheduling)
        // Work is conserved (a piece costs what its data costs), so no layout beats total ÷ 2,
        // while static LPT is held up by the largest partition.
        func bound(_ model: IndexBuildCostModel) throws -> Double {
            let total = table.reduce(0.0) { $0 + model.variableBuildNanos(bytes: $1.bytes, records: $1.records, skew: $1.skew) }
            return 1 - (total / 2) / (try IndexBuildPlanner.staticMakespan(partitions: table, workers: 2, model: model))
        }
        // Default (measured) rates: building 100-byte records costs ≈ 3.5 ns/byte, copying 1.6.
        let realistic = IndexBuildCostModel()
        let r = try IndexBuildPlanner.plan(partitions: table, workers: 2, model: realistic, copyCost: copying(nanosPerByte: 1.6),
                                           options: options)
        let realisticBound = try bound(realistic)
        print("index build 60% skew, \(scheduling), default rates: static \(r.staticMakespanNanos / 1e6) ms, adaptive \(r.adaptiveMakespanNanos / 1e6) ms, improvement \(r.predictedImprovement), bound \(realisticBound), moved \(r.bytesMoved) B, \(r.reshards.count) reshards")
        #expect(r.predictedImprovement >= 0)
        #expect(r.predictedImprovement <= realisticBound + 1e-9)
        // Build-heavy rates (e.g. an expensive key expression, 5 µs/record): the reshard pays off
        // and the planner gets close to the bound.
        let heavy = IndexBuildCostModel(nanosPerRecord: 5000)
        let h = try IndexBuildPlanner.plan(partitions: table, workers: 2, model: heavy, copyCost: copying(nanosPerByte: 1.6),
                                           options: options)
        let heavyBound = try bound(heavy)
        print("index build 60% skew, \(scheduling), 5 µs/record: static \(h.staticMakespanNanos / 1e6) ms, adaptive \(h.adaptiveMakespanNanos / 1e6) ms, improvement \(h.predictedImprovement), bound \(heavyBound), moved \(h.bytesMoved) B, \(h.reshards.map { $0.action.map(String.init(describing:)) ?? "\($0.sources)" })")
        #expect(h.predictedImprovement <= heavyBound + 1e-9)
        #expect(h.predictedImprovement >= heavyBound - 0.05)
        #expect(h.reshards.count >= 1)
        checkPlanShape(h, partitions: table, workers: 2, seed: 0x5EED)
        // The engine's default executor shares files: a reshape costs only its overhead, and the
        // default rates then reach the bound less the overhead.
        let shared = try IndexBuildPlanner.plan(partitions: table, workers: 2, model: realistic, options: options)
        print("index build 60% skew, \(scheduling), default rates, files shared: static \(shared.staticMakespanNanos / 1e6) ms, adaptive \(shared.adaptiveMakespanNanos / 1e6) ms, improvement \(shared.predictedImprovement), copied \(shared.bytesMoved) B, \(shared.reshards.count) reshards")
        #expect(shared.bytesMoved == 0)
        #expect(shared.predictedImprovement >= r.predictedImprovement)
        #expect(shared.predictedImprovement <= realisticBound + 1e-9)
        checkPlanShape(shared, partitions: table, workers: 2, seed: 0x5EED)
    }

    @Test("shouldStop ends the search early; the answer is still valid")
    func stopsWhenAsked() throws {
        let table = Self.skewedTable()
        var calls = 0
        let plan = try IndexBuildPlanner.plan(partitions: table, workers: 2, model: IndexBuildCostModel(nanosPerRecord: 5000),
                                              options: IndexBuildPlanningOptions(stopCheckInterval: 100)) {
            calls += 1
            return calls == 3
        }
        #expect(plan.stoppedEarly)
        #expect(plan.iterations == 300)
        #expect(calls == 3)
        checkPlanShape(plan, partitions: table, workers: 2, seed: 0x5EED)
    }

    @Test("bad input is rejected with a typed error naming the value and the limit")
    func badInput() throws {
        let c = IndexBuildCase(segmentsPerPartition: [[(100, 1), (100, 1)], [(100, 1)]], skews: [1, 1])
        let good = c.partitions
        #expect(throws: IndexBuildPlanningError.invalidWorkerCount(workers: 0, minimum: 1)) {
            try IndexBuildPlanner.plan(partitions: good, workers: 0)
        }
        #expect(throws: IndexBuildPlanningError.invalidWorkerCount(workers: -3, minimum: 1)) {
            try IndexBuildPlanner.staticMakespan(partitions: good, workers: -3)
        }
        #expect(throws: IndexBuildPlanningError.noPartitions) { try IndexBuildPlanner.plan(partitions: [], workers: 2) }

        var outside = good
        outside[0].cutCandidates = [CutCandidate(key: [20], bytesBefore: 100, recordsBefore: 1)] // the upper bound itself
        #expect(throws: IndexBuildPlanningError.candidateOutsideRange(partition: good[0].id, index: 0, key: [20],
                                                                      range: good[0].range)) {
            try IndexBuildPlanner.plan(partitions: outside, workers: 2)
        }
        var unsorted = good
        unsorted[0].cutCandidates = [CutCandidate(key: [15], bytesBefore: 50, recordsBefore: 1),
                                     CutCandidate(key: [5], bytesBefore: 60, recordsBefore: 1)]
        #expect(throws: IndexBuildPlanningError.candidatesNotIncreasing(partition: good[0].id, index: 1, key: [5], previous: [15])) {
            try IndexBuildPlanner.plan(partitions: unsorted, workers: 2)
        }
        var tooMany = good
        tooMany[0].cutCandidates = [CutCandidate(key: [10], bytesBefore: 500, recordsBefore: 1)]
        let err = #expect(throws: IndexBuildPlanningError.self) { try IndexBuildPlanner.plan(partitions: tooMany, workers: 2) }
        #expect(err == .candidateCountOutOfRange(partition: good[0].id, index: 0, what: "bytes", value: 500,
                                                 limit: "in 0...200 (previous candidate...partition total)"))
        #expect(err?.description.contains("500") == true)
        #expect(err?.description.contains("200") == true)
        var skewed = good
        skewed[1].skew = 0.5
        #expect(throws: IndexBuildPlanningError.invalidSkew(partition: good[1].id, skew: 0.5, minimum: 1)) {
            try IndexBuildPlanner.plan(partitions: skewed, workers: 2)
        }
        let gap = [good[1], good[0]]
        #expect(throws: IndexBuildPlanningError.notAdjacent(index: 1, partition: good[0].id, previousUpper: nil, lower: [])) {
            try IndexBuildPlanner.plan(partitions: gap, workers: 2)
        }
        #expect(throws: IndexBuildPlanningError.invalidOption(name: "maxIterations", value: -1, limit: "must be ≥ 0")) {
            try IndexBuildPlanner.plan(partitions: good, workers: 2, options: IndexBuildPlanningOptions(maxIterations: -1))
        }
        let workerError = IndexBuildPlanningError.invalidWorkerCount(workers: 0, minimum: 1).description
        #expect(workerError.contains("0") && workerError.contains("1"))
    }
}
