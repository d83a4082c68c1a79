import AugurPlanner
import AugurStats
import Testing

/// The project's SplitMix64 with the draws random snapshots need.
struct TestRandom {
    private var generator: SplitMix64
    init(state: UInt64) { generator = SplitMix64(seed: state) }
    mutating func next() -> UInt64 { generator.next() }
    mutating func unit() -> Double { generator.unit() }
    mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.count)) }
    mutating func chance(_ p: Double) -> Bool { unit() < p }
}

/// Random but valid snapshots: contiguous partitions with random loads, histograms, forecasts,
/// hot keys, pre-created partitions, in-flight reshards and recent history.
enum RandomSnapshot {
    static let sec: UInt64 = 1_000_000_000

    static func make(seed: UInt64, capacity: CapacityModel, now: UInt64) -> TableSnapshot {
        var rng = TestRandom(state: seed)
        let n = rng.int(1...12)
        var keys = Set<[UInt8]>()
        while keys.count < n - 1 {
            let len = rng.int(1...3)
            keys.insert((0..<len).map { _ in UInt8(truncatingIfNeeded: rng.next()) }.filter { _ in true })
        }
        let bounds = keys.filter { !$0.isEmpty }.sorted { $0.lexicographicallyPrecedes($1) }
        var partitions: [PartitionSnapshot] = []
        let edges: [[UInt8]?] = [[]] + bounds.map { Optional($0) } + [nil]
        for i in 0..<(edges.count - 1) {
            let range = KeyRange(lower: edges[i]!, upper: edges[i + 1])
            let level = rng.unit() * 2 * capacity.opsPerSecond
            let wbpo = rng.chance(0.3) ? rng.unit() * 8192 : 0
            var p = PartitionSnapshot(id: PartitionID(UInt64(i + 1)), range: range,
                                      sizeBytes: UInt64(rng.unit() * 10 * Double(1 << 30)),
                                      createdAt: now - UInt64(rng.unit() * 3000) * sec)
            p.recent = (0..<15).map { _ in
                let v = level * (0.9 + 0.2 * rng.unit())
                return LoadSample(opsPerSecond: v, writeBytesPerSecond: v * wbpo)
            }
            p.windowPeaks = [300, 1800].map { w in
                WindowPeak(windowNanos: UInt64(w) * sec, peak: LoadSample(opsPerSecond: level * (1 + rng.unit()), writeBytesPerSecond: level * wbpo),
                           coveredNanos: UInt64(w) * sec)
            }
            if rng.chance(0.9) {
                let b = rng.int(1...32)
                let map = KeyPositionMap(lowerBound: range.lower, upperBound: range.upper, bucketCount: b)
                let reads = (0..<b).map { _ in rng.chance(0.3) ? 0 : UInt64(rng.unit() * 1000) }
                let writes = (0..<b).map { _ in rng.chance(0.5) ? 0 : UInt64(rng.unit() * 1000) }
                p.histogram = HistogramSnapshot(map: map, reads: reads, writes: writes, readBytes: reads, writeBytes: writes)
            }
            if rng.chance(0.8) {
                let steps = rng.int(1...8)
                var fc: [ForecastPoint] = []
                for h in 1...steps {
                    let point = level * (0.5 + rng.unit())
                    fc.append(ForecastPoint(step: h, point: point, upper80: rng.chance(0.9) ? point * (1 + 0.2 * rng.unit()) : nil,
                                            upper95: rng.chance(0.8) ? point * (1 + 0.4 * rng.unit()) : nil))
                }
                p.forecast = PartitionForecast(issuedAt: now - UInt64(rng.int(0...30)) * sec, stepNanos: 20 * sec, ops: fc)
            }
            if rng.chance(0.15), let lo = range.lower.isEmpty ? [0x10] : Optional(range.lower + [0x10]), range.contains(lo) {
                p.hotKey = HotKeyObservation(key: lo, loadFraction: rng.unit())
            }
            if i > 0 && rng.chance(0.1) { p.state = .preCreated }
            partitions.append(p)
        }
        var snapshot = TableSnapshot(partitions: partitions)
        // In-flight reshards on random partitions (never more than the limit).
        for p in partitions where rng.chance(0.15) && snapshot.inFlight.count < capacity.maxConcurrentReshards {
            snapshot.inFlight.append(InFlightReshard(action: .activate(p.id), startedAt: now - 5 * sec))
            snapshot.inFlight[snapshot.inFlight.count - 1].action = .split(p.id, at: [])
        }
        // History: partitions produced by recent splits, moves and merges.
        for p in partitions where rng.chance(0.4) {
            let kinds: [ReshardKind] = [.split, .move, .merge]
            let done = now - UInt64(rng.int(0...1200)) * sec
            snapshot.history.append(CompletedReshard(kind: kinds[rng.int(0...2)], issuedAt: done - 10 * sec, completedAt: done,
                                                     sources: [PartitionID(1000 + p.id.rawValue)], results: [p.id]))
        }
        return snapshot
    }
}

@Suite struct PlanPropertyTests {
    static let sec: UInt64 = 1_000_000_000
    static let policies: [PlannerPolicy] = [
        .static, .reactive(ReactiveOptions()), .predictive(PredictiveOptions()),
        .predictive(PredictiveOptions(intervalLevel: 0.8, targetFill: 0.5, maxSplitWays: 3)),
    ]

    /// Independent re-check of a plan (not through `PlanValidator`): tiling, one action per
    /// partition, locks, concurrency, cooldowns.
    static func independentViolations(_ plan: Plan, _ s: TableSnapshot, _ cap: CapacityModel, _ policy: PlannerPolicy, now: UInt64) -> [String] {
        var problems: [String] = []
        var ranges: [KeyRange] = []
        var used: [PartitionID: Int] = [:]
        for a in plan.actions { for id in a.action.partitions { used[id, default: 0] += 1 } }
        for (id, c) in used where c > 1 { problems.append("\(id) used \(c) times") }
        let locked = Set(s.inFlight.flatMap { $0.action.partitions })
        for id in used.keys where locked.contains(id) { problems.append("\(id) locked") }
        var i = 0
        let ps = s.partitions
        while i < ps.count {
            let p = ps[i]
            if let a = plan.actions.first(where: { $0.action.partitions.first == p.id }) {
                switch a.action {
                case let .split(_, keys), let .precreate(_, keys):
                    var lo = p.range.lower
                    for k in keys { ranges.append(KeyRange(lower: lo, upper: k)); lo = k }
                    ranges.append(KeyRange(lower: lo, upper: p.range.upper))
                case let .merge(_, r):
                    if i + 1 >= ps.count || ps[i + 1].id != r { problems.append("merge of non-neighbours"); return problems }
                    ranges.append(KeyRange(lower: p.range.lower, upper: ps[i + 1].range.upper))
                    i += 1
                case let .moveBoundary(_, r, key):
                    if i + 1 >= ps.count || ps[i + 1].id != r { problems.append("move of non-neighbours"); return problems }
                    ranges.append(KeyRange(lower: p.range.lower, upper: key))
                    ranges.append(KeyRange(lower: key, upper: ps[i + 1].range.upper))
                    i += 1
                case .activate:
                    ranges.append(p.range)
                }
            } else {
                ranges.append(p.range)
            }
            i += 1
        }
        for r in ranges where !r.isNonEmpty { problems.append("empty \(r)") }
        for k in 0..<max(0, ranges.count - 1) where ranges[k].upper != ranges[k + 1].lower {
            problems.append("gap/overlap \(ranges[k]) \(ranges[k + 1])")
        }
        if ranges.first?.lower != ps.first?.range.lower || ranges.last?.upper != ps.last?.range.upper { problems.append("coverage") }
        let running = s.inFlight.count + plan.actions.filter { $0.action.kind != .activate }.count
        if running > cap.maxConcurrentReshards && plan.actions.contains(where: { $0.action.kind != .activate }) {
            problems.append("concurrency \(running)")
        }
        if case .predictive = policy {
            for a in plan.actions {
                guard case let .merge(l, r) = a.action else { continue }
                for id in [l, r] {
                    let created = ps.first { $0.id == id }!.createdAt
                    let touched = s.history.filter { $0.results.contains(id) }.map(\.completedAt).max() ?? 0
                    if now < max(created, touched) + cap.cooldownNanos { problems.append("merge of \(id) within cooldown") }
                }
            }
        }
        if case .static = policy, !plan.actions.isEmpty { problems.append("static policy acted") }
        return problems
    }

    @Test(arguments: 0..<4)
    func randomSnapshotsGivePlansWithoutGapsOverlapsOrViolations(_ policyIndex: Int) {
        let policy = Self.policies[policyIndex]
        var acted = 0
        for seed in UInt64(1)...400 {
            var cap = CapacityModel()
            cap.maxConcurrentReshards = Int(seed % 4) + 1
            let now = 10_000 * Self.sec
            let s = RandomSnapshot.make(seed: seed &* 7919, capacity: cap, now: now)
            #expect(PlanValidator.validate(snapshot: s).isEmpty, "seed \(seed): generator made an invalid snapshot")
            let plan = Planner(policy: policy).plan(s, capacity: cap, now: now)
            if !plan.actions.isEmpty { acted += 1 }
            let v = PlanValidator(policy: policy, capacity: cap).validate(plan, snapshot: s, now: now)
            #expect(v.isEmpty, "policy \(policy) seed \(seed): \(v) plan \(PlanRendering.lines(plan))")
            let p = Self.independentViolations(plan, s, cap, policy, now: now)
            #expect(p.isEmpty, "policy \(policy) seed \(seed): \(p) plan \(PlanRendering.lines(plan))")
            #expect(plan.scores.count == s.partitions.count && plan.scores.allSatisfy { (0...1).contains($0.score) }, "seed \(seed)")
        }
        if case .static = policy {} else {
            #expect(acted > 50, "the random snapshots must exercise the planner (only \(acted) plans acted)")
        }
    }

    @Test func validatorCatchesBrokenPlans() {
        let cap = CapacityModel(cooldownNanos: 600 * Self.sec, maxConcurrentReshards: 1)
        let now = 1000 * Self.sec
        let a = PartitionSnapshot(id: PartitionID(1), range: KeyRange(lower: [], upper: [0x40]), sizeBytes: 1, createdAt: 900 * Self.sec)
        let b = PartitionSnapshot(id: PartitionID(2), range: KeyRange(lower: [0x40], upper: [0x80]), sizeBytes: 1)
        let c = PartitionSnapshot(id: PartitionID(3), range: KeyRange(lower: [0x80], upper: nil), sizeBytes: 1)
        let s = TableSnapshot(partitions: [a, b, c])
        let v = PlanValidator(policy: .predictive(PredictiveOptions()), capacity: cap)
        #expect(v.validate(actions: [.split(PartitionID(1), at: [[0x50]])], snapshot: s, now: now).contains(.badSplitKeys(PartitionID(1))))
        #expect(v.validate(actions: [.split(PartitionID(2), at: [[0x60], [0x50]])], snapshot: s, now: now).contains(.badSplitKeys(PartitionID(2))))
        #expect(v.validate(actions: [.merge(left: PartitionID(1), right: PartitionID(3))], snapshot: s, now: now).contains(.notAdjacent(PartitionID(1), PartitionID(3))))
        #expect(v.validate(actions: [.merge(left: PartitionID(1), right: PartitionID(2))], snapshot: s, now: now).contains(.mergeCooldown(PartitionID(1))))
        #expect(v.validate(actions: [.moveBoundary(left: PartitionID(2), right: PartitionID(3), to: [0x80])], snapshot: s, now: now)
            .contains(.badMoveKey(PartitionID(2), PartitionID(3))))
        #expect(v.validate(actions: [.split(PartitionID(2), at: [[0x50]]), .split(PartitionID(3), at: [[0x90]])], snapshot: s, now: now)
            .contains(.concurrencyExceeded(count: 2, limit: 1)))
        #expect(v.validate(actions: [.split(PartitionID(2), at: [[0x50]]), .merge(left: PartitionID(2), right: PartitionID(3))], snapshot: s, now: now)
            .contains(.partitionReused(PartitionID(2))))
        #expect(v.validate(actions: [.split(PartitionID(2), at: [[0x50]])], snapshot: s, now: now).isEmpty)
        let gap = TableSnapshot(partitions: [a, c])
        #expect(!PlanValidator.validate(snapshot: gap).isEmpty)
    }

    @Test func scoreFollowsWhereTheWatermarkFallsInTheInterval() {
        let cap = CapacityModel()
        func score(point: Double, upper: Double) -> Double {
            var p = PartitionSnapshot(id: PartitionID(1), range: .all, sizeBytes: 1, recent: [LoadSample(opsPerSecond: 100)])
            p.forecast = PartitionForecast(issuedAt: 0, stepNanos: Self.sec, ops: [ForecastPoint(step: 1, point: point, upper95: upper)])
            return LoadOutlook(partition: p, capacity: cap, now: 0).score
        }
        // Watermark (800 ops/s) at the 95% upper bound → ~2.5% one-sided; at the point → 50%.
        #expect(abs(score(point: 600, upper: 800) - 0.025) < 0.002)
        #expect(abs(score(point: 800, upper: 1000) - 0.5) < 0.001)
        #expect(score(point: 900, upper: 1000) > 0.95)
        #expect(score(point: 100, upper: 150) < 1e-6)
    }

    @Test func reversalsAreCountedFromHistory() {
        let s = RandomSnapshot.sec
        let h = [
            CompletedReshard(kind: .split, issuedAt: 0, completedAt: 10 * s, sources: [PartitionID(1)], results: [PartitionID(2), PartitionID(3)]),
            CompletedReshard(kind: .merge, issuedAt: 100 * s, completedAt: 110 * s, sources: [PartitionID(2), PartitionID(3)], results: [PartitionID(4)]),
            CompletedReshard(kind: .split, issuedAt: 200 * s, completedAt: 210 * s, sources: [PartitionID(4)], results: [PartitionID(5), PartitionID(6)]),
            CompletedReshard(kind: .merge, issuedAt: 2000 * s, completedAt: 2010 * s, sources: [PartitionID(5), PartitionID(6)], results: [PartitionID(7)]),
        ]
        let r = ReshardLedger(history: h).reversals(cooldown: 600 * s)
        #expect(r == ReversalCount(total: 2, withinCooldown: 1))
    }
}
