import AugurPlanner
import AugurSimulation
import Testing

@Suite struct SimulatorTests {
    /// A short diurnal-ish profile (one simulated day of 48 rows at 30 s per row).
    static let rows: [Double] = (0..<48).map { 3 + 2 * sinApprox(Double($0) / 48) }

    static func sinApprox(_ x: Double) -> Double {
        // Triangle wave in [-1, 1]: enough shape for a test profile without libm.
        let f = x - Double(Int(x))
        return f < 0.5 ? 4 * f - 1 : 3 - 4 * f
    }

    static func options(seed: UInt64) -> SimulationOptions {
        var o = SimulationOptions()
        o.secondsPerRow = 30
        o.seed = seed
        o.hotspotSpeed = 2
        return o
    }

    @Test(arguments: [UInt64(7), 8])
    func sameSeedGivesIdenticalMetrics(_ seed: UInt64) {
        for policy in PlannerPolicy.all {
            let a = Simulator(rows: Self.rows, options: Self.options(seed: seed), policy: policy).run()
            let b = Simulator(rows: Self.rows, options: Self.options(seed: seed), policy: policy).run()
            #expect(a == b, "seed \(seed) policy \(policy): runs differ\n\(a)\n\(b)")
            #expect(a.planViolations == 0 && a.rejectedActions == 0, "seed \(seed) policy \(policy): \(a.planViolations) violations, \(a.rejectedActions) rejected")
        }
    }

    @Test func differentSeedsGiveDifferentRuns() {
        let a = Simulator(rows: Self.rows, options: Self.options(seed: 7), policy: .reactive(ReactiveOptions())).run()
        let b = Simulator(rows: Self.rows, options: Self.options(seed: 8), policy: .reactive(ReactiveOptions())).run()
        #expect(a != b, "seeds 7 and 8 produced identical metrics: the seed is not used")
    }

    /// One 6 GiB partition at a constant 1.2 × capacity, no noise, no hotspot. The reactive
    /// policy must wait 10 s of samples (split issued at t = 9), then the split copies the whole
    /// 3 GiB partition (a copying executor writes every target) at 100 MiB/s (30.72 s) plus 2 s
    /// overhead → takes effect at t = 9 + 33 = 42: exactly 42 overloaded partition-seconds.
    /// Doubling the copy rate shortens the overload; sharing files leaves only the overhead.
    @Test func reactiveWaitsAndActionsTakeTimeProportionalToBytes() throws {
        var o = SimulationOptions()
        o.secondsPerRow = 60
        o.peakMultiple = 1.2
        o.initialPartitions = 1
        o.hotspotShare = 0
        o.sampleNoise = 0
        o.globalNoise = 0
        o.totalDataBytes = 3 << 30
        o.capacity.reshardCost = try ReshardCostModel(dataMode: .copy, copyBytesPerSecond: 100 * 1_048_576, overheadSeconds: 2)
        let flat = [Double](repeating: 1, count: 10)
        let m = Simulator(rows: flat, options: o, policy: .reactive(ReactiveOptions())).run()
        #expect(m.splits == 1 && m.overloadPartitionSeconds == 42, "\(m)")
        #expect(m.bytesMoved == 3 << 30)
        o.capacity.reshardCost = try ReshardCostModel(dataMode: .copy, copyBytesPerSecond: 200 * 1_048_576, overheadSeconds: 2)
        let fast = Simulator(rows: flat, options: o, policy: .reactive(ReactiveOptions())).run()
        // 15.36 s + 2 s → 18 s; issued at 9 → 27 overloaded seconds.
        #expect(fast.overloadPartitionSeconds == 27, "\(fast)")
        o.capacity.reshardCost = try ReshardCostModel(dataMode: .shareFiles, copyBytesPerSecond: 100 * 1_048_576, overheadSeconds: 2)
        let shared = Simulator(rows: flat, options: o, policy: .reactive(ReactiveOptions())).run()
        // 2 s; issued at 9 → 11 overloaded seconds, no byte copied.
        #expect(shared.overloadPartitionSeconds == 11 && shared.bytesMoved == 0, "\(shared)")
        let idle = Simulator(rows: flat, options: o, policy: .static).run()
        #expect(idle.overloadPartitionSeconds == 600 && idle.reshards == 0 && idle.bytesMoved == 0)
    }

    @Test func hotKeyIsReportedNotSplitForever() {
        var o = Self.options(seed: 3)
        o.hotspotShare = 0
        o.hotKeyShare = 0.6
        o.peakMultiple = 3
        let m = Simulator(rows: Self.rows, options: o, policy: .predictive(PredictiveOptions())).run()
        #expect(m.hotKeyReports >= 1, "\(m)")
        #expect(m.planViolations == 0 && m.rejectedActions == 0)
    }

    @Test func keyPositionsRoundTrip() {
        for p in [0.0, 0.125, 0.5, 0.999] {
            #expect(abs(SimKey.position(SimKey.key(p)) - p) < 1e-12)
        }
        #expect(SimKey.key(0).isEmpty)
        #expect(SimKey.position(upper: nil) == 1)
    }

    @Test func keySpaceLoadSharesSumToOne() {
        var o = SimulationOptions()
        o.hotKeyShare = 0.1
        let load = KeySpaceLoad(options: o)
        for t in stride(from: 0.0, through: 20_000, by: 3_333) {
            let edges = (0...10).map { Double($0) / 10 }
            let total = load.masses(edges: edges, at: t).reduce(0, +)
            #expect(abs(total - 1) < 1e-9, "t=\(t): shares sum to \(total)")
        }
    }
}
