import AugurPlanner
import AugurStats
import Testing

/// A range whose forecast is withheld (issue 18, "when forecasts go wrong") is planned by the
/// reactive rules, and the plan says so.
@Suite struct ForecastFallbackPlanTests {
    let s: UInt64 = 1_000_000_000

    func partition(cost: Double, withheld: String?) -> PartitionSnapshot {
        let map = KeyPositionMap(lowerBound: [], upperBound: nil, bucketCount: 16)
        let counts = [UInt64](repeating: 100, count: 16)
        var p = PartitionSnapshot(id: PartitionID(1), range: .all, sizeBytes: 64 << 20, createdAt: 0,
                                  recent: Array(repeating: LoadSample(opsPerSecond: 10_000, writeBytesPerSecond: 0, costPerSecond: cost), count: 20),
                                  histogram: HistogramSnapshot(map: map, reads: counts, writes: counts, readBytes: counts, writeBytes: counts))
        p.forecastWithheld = withheld
        return p
    }

    @Test func aWithheldForecastSplitsOnSustainedLoadAndSaysWhy() {
        let planner = Planner(policy: .predictive(PredictiveOptions()))
        let c = CapacityModel.measured()
        // Sustained over the high watermark (0.45 s/s of a 0.5 s/s budget) with no forecast.
        let plan = planner.plan(TableSnapshot(partitions: [partition(cost: 0.45, withheld: "intervals miss")]), capacity: c, now: 100 * s)
        let split = plan.actions.first { $0.action.kind == .split }
        #expect(split != nil, "\(plan.findings.map(\.message))")
        #expect(split?.reason.message.contains("forecast withheld (intervals miss): reactive rules") == true, "\(split?.reason.message ?? "")")
        // The same range without the mark reads as a forecaster still warming up.
        let warming = planner.plan(TableSnapshot(partitions: [partition(cost: 0.45, withheld: nil)]), capacity: c, now: 100 * s)
        #expect(warming.actions.first { $0.action.kind == .split }?.reason.message.hasPrefix("no forecast yet") == true)
        // Below the watermark nothing happens, withheld or not.
        #expect(planner.plan(TableSnapshot(partitions: [partition(cost: 0.1, withheld: "intervals miss")]), capacity: c, now: 100 * s).actions.isEmpty)
    }
}
