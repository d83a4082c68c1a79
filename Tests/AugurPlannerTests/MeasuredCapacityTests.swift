import AugurForecast
import AugurPlanner
import AugurStats
import Testing

/// Measured capacity (cost seconds per second) and the predictive split interval (issue 14).
@Suite struct MeasuredCapacityTests {
    let s: UInt64 = 1_000_000_000

    func partition(_ id: UInt64, cost: Double, ops: Double = 10_000, forecast: PartitionForecast? = nil) -> PartitionSnapshot {
        let map = KeyPositionMap(lowerBound: [], upperBound: nil, bucketCount: 16)
        var writes = [UInt64](repeating: 0, count: 16)
        for b in 0..<16 { writes[b] = 100 }
        let h = HistogramSnapshot(map: map, reads: writes, writes: writes, readBytes: writes, writeBytes: writes)
        return PartitionSnapshot(id: PartitionID(id), range: .all, sizeBytes: 64 << 20, createdAt: 0,
                                 recent: Array(repeating: LoadSample(opsPerSecond: ops, writeBytesPerSecond: 0, costPerSecond: cost), count: 20),
                                 histogram: h, forecast: forecast)
    }

    @Test func utilizationIsCostOverBudget() {
        let c = CapacityModel.measured()
        #expect(c.isMeasured)
        #expect(c.utilization(LoadSample(opsPerSecond: 1e9, writeBytesPerSecond: 1e12, costPerSecond: 0.25)) == 0.5)
        #expect(c.utilization(LoadSample(opsPerSecond: 1, costPerSecond: 1.0)) == 2)
        #expect(c.validationErrors().isEmpty)
        var none = c
        none.costBudget = nil
        #expect(!none.validationErrors().isEmpty, "no limit at all must be refused")
        var bad = c
        bad.costBudget = .nan
        #expect(!bad.validationErrors().isEmpty)
    }

    /// A forecast in ops/s becomes utilization through the measured cost per operation.
    @Test func outlookConvertsForecastsThroughCostPerOperation() {
        let c = CapacityModel.measured()
        // 10k ops/s at 0.2 s/s: 20 µs per op; a forecast of 30k ops/s is 0.6 s/s = 1.2 × budget.
        let f = PartitionForecast(issuedAt: 100 * s, stepNanos: 5 * s, ops: [ForecastPoint(step: 1, point: 30_000, upper80: 32_000, upper95: 34_000)])
        let o = LoadOutlook(partition: partition(1, cost: 0.2, forecast: f), capacity: c, now: 100 * s)
        #expect(abs(o.current - 0.4) < 1e-9)
        #expect(o.hasForecast)
        #expect(abs(o.peakUpper - 34_000 * 0.2 / 10_000 / 0.5) < 1e-9)
    }

    /// Tried with `splitIntervalNanos: 0` (the old default): the child split again 5 s after
    /// its parent's split.
    @Test func splitIntervalHoldsUnlessThePointForecastIsOverCapacity() {
        let planner = Planner(policy: .predictive(PredictiveOptions()))
        let c = CapacityModel.measured()
        let history = [CompletedReshard(kind: .split, issuedAt: 90 * s, completedAt: 95 * s, sources: [PartitionID(1)], results: [PartitionID(2)])]
        // Over the high watermark now, no forecast: within the interval, no split.
        let busy = TableSnapshot(partitions: [partition(2, cost: 0.45)], history: history)
        let plan = planner.plan(busy, capacity: c, now: 100 * s)
        #expect(plan.actions.isEmpty, "\(plan.actions.map { PlanRendering.line($0) })")
        #expect(plan.findings.contains { $0.code == .splitInterval })
        // After the interval it splits.
        #expect(planner.plan(busy, capacity: c, now: 111 * s).actions.contains { $0.action.kind == .split })
        // A point forecast itself over capacity overrides the interval.
        let f = PartitionForecast(issuedAt: 100 * s, stepNanos: 5 * s, ops: [ForecastPoint(step: 1, point: 40_000, upper80: 42_000, upper95: 44_000)])
        let sure = TableSnapshot(partitions: [partition(2, cost: 0.45, forecast: f)], history: history)
        #expect(planner.plan(sure, capacity: c, now: 100 * s).actions.contains { $0.action.kind == .split })
    }

    @Test func historyIsInheritedByShareAndCombinedAtTheNewestEntry() {
        var a = RangeLoadHistory(range: KeyRange(lower: [], upper: [0x80]))
        for i in 0..<70 { a.append(sample: LoadSample(opsPerSecond: Double(i), costPerSecond: 0.01), samplesPerMinute: 60) }
        a.append(step: 100)
        #expect(a.minutes.count == 1 && a.minuteSamples == 10)
        let child = a.inherited(by: KeyRange(lower: [], upper: [0x40]), share: 0.25)
        #expect(child.samples.last?.opsPerSecond == 69 * 0.25)
        #expect(child.steps == [25])
        var b = RangeLoadHistory(range: KeyRange(lower: [0x80], upper: nil))
        b.append(sample: LoadSample(opsPerSecond: 1000), samplesPerMinute: 60)
        let merged = RangeLoadHistory.combined([a, b], range: .all)
        #expect(merged.samples.count == 70)
        #expect(merged.samples.last.map { abs($0.opsPerSecond - 1069) < 1e-9 } == true)
        #expect(merged.samples.first?.opsPerSecond == 0)
        // Shares by key position when there is no histogram; clipped to the source.
        #expect(abs(RangeLoadHistory.share(of: KeyRange(lower: [0x00], upper: [0x80]), histogram: nil,
                                           in: KeyRange(lower: [0x40], upper: [0xff])) - 0.5) < 0.01)
        #expect(RangeLoadHistory.share(of: a.range, histogram: nil, in: KeyRange(lower: [0x90], upper: nil)) == 0)
        #expect(RangeLoadHistory.share(of: a.range, histogram: nil, in: .all) == 1)
    }

    /// A histogram focused on the stored keys resolves keys the whole-range map cannot.
    @Test func focusedMapSpreadsBucketsOverTheStoredKeys() {
        func key(_ n: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: n >> (56 - 8 * UInt64($0))) } + [0, 0, 0, 0, 0, 0, 0, 0] }
        let whole = KeyPositionMap(lowerBound: [], upperBound: nil, bucketCount: 64)
        #expect(Set((0..<200).map { whole.bucket(for: key(UInt64($0) * 1000)) }).count == 1)
        let focused = KeyPositionMap(lowerBound: [], upperBound: nil, bucketCount: 64, focus: (key(0), key(199_000)))
        #expect(Set((0..<200).map { focused.bucket(for: key(UInt64($0) * 1000)) }).count == 64)
        #expect(focused.lowerBoundKey(ofBucket: 0) == [] && focused.lowerBoundKey(ofBucket: 64) == nil)
        // Monotone, and keys outside the focus clamp to the edge buckets.
        #expect(focused.bucket(for: key(300_000)) == 63)
        let buckets = (0..<200).map { focused.bucket(for: key(UInt64($0) * 1000)) }
        #expect(zip(buckets, buckets.dropFirst()).allSatisfy { $0 <= $1 })
        // A focus outside the bounds is ignored.
        let ignored = KeyPositionMap(lowerBound: [0x10], upperBound: [0x20], bucketCount: 8, focus: ([0x30], [0x40]))
        #expect(ignored == KeyPositionMap(lowerBound: [0x10], upperBound: [0x20], bucketCount: 8))
    }
}
