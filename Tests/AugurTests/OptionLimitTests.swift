import Augur
import AugurPlanner
import AugurStats
import AugurSys
import AugurTestSupport
import Testing

/// Options reached through `Engine.open` and `setPartitioningPolicy` (issue 15, F6): a bad
/// number is `AugurError.invalidOption` naming the option, the value and the limit — not a
/// precondition in KeyPositionMap, KeyHistogram, WorkloadRecorder, WorkloadCollector or an
/// integer conversion in the controller.
@Suite struct OptionLimitTests {
    static let bad: [(String, @Sendable (inout EngineOptions) -> Void)] = [
        ("backgroundNice", { $0.backgroundNice = -1 }),
        ("backgroundNice", { $0.backgroundNice = 20 }),
        ("backgroundNice", { $0.backgroundNice = .max }),
        ("backgroundCPUs", { $0.backgroundCPUs = .cpus([]) }),
        ("backgroundCPUs", { $0.backgroundCPUs = .cpus([-1]) }),
        ("backgroundCPUs", { $0.backgroundCPUs = .cpus([Int.max]) }),
        ("backgroundCPUs", { $0.backgroundCPUs = .cpus([0, 0]) }),
        ("backgroundCPUs", { $0.backgroundCPUs = .cpus([1023]) }),
        ("telemetry.histogram.bucketCount", { $0.telemetry.histogram.bucketCount = 0 }),
        ("telemetry.histogram.bucketCount", { $0.telemetry.histogram.bucketCount = 5000 }),
        ("telemetry.histogram.stripeCount", { $0.telemetry.histogram.stripeCount = 65 }),
        ("telemetry.threadSlots.maxSlots", { $0.telemetry.threadSlots.maxSlots = 0 }),
        ("telemetry.sampling.samplingPeriod", { $0.telemetry.sampling.samplingPeriod = 0 }),
        ("telemetry.sampling.ringCapacity", { $0.telemetry.sampling.ringCapacity = 1 }),
        ("telemetry.collector.tiers", { $0.telemetry.collector.tiers = [] }),
        ("telemetry.collector.tiers[0].bucketNanos", { $0.telemetry.collector.tiers = [WindowTier(bucketNanos: 0, bucketCount: 4)] }),
        ("telemetry.collector.tiers[1].bucketCount", { $0.telemetry.collector.tiers = [.fiveMinutes, WindowTier(bucketNanos: 1, bucketCount: 0)] }),
        ("telemetry.collector.distinctClientPrecision", { $0.telemetry.collector.distinctClientPrecision = 3 }),
        ("telemetry.collector.heavyHitterCapacity", { $0.telemetry.collector.heavyHitterCapacity = 0 }),
        ("telemetry.collector.heavyHitterEpochNanos", { $0.telemetry.collector.heavyHitterEpochNanos = 0 }),
        ("telemetry.collector.singleKeyHotFraction", { $0.telemetry.collector.singleKeyHotFraction = .nan }),
        ("telemetry.statistics.hotFactor", { $0.telemetry.statistics.hotFactor = 1 }),
        ("telemetry.collectInterval", { $0.telemetry.collectInterval = .zero }),
        ("telemetry.healthFileInterval", { $0.telemetry.healthFileInterval = .seconds(Int64.max) }),
        ("partitioning.tick", { $0.partitioning.tick = .seconds(Int64.max) }),
        ("partitioning.forecastStep", { $0.partitioning.forecastStep = .seconds(-1) }),
        ("partitioning.capacity.opsPerSecond", { $0.partitioning.capacity.opsPerSecond = -.infinity }),
        ("partitioning.capacity", { $0.partitioning.capacity.costBudget = nil }),
        ("partitioning.capacity.costBudget", { $0.partitioning.capacity.costBudget = 0 }),
        ("partitioning.capacity.costBudget", { $0.partitioning.capacity.costBudget = .nan }),
        ("partitioning.capacity.costBudget", { $0.partitioning.capacity.costBudget = -1 }),
        ("partitioning.seasonalPeriods", { $0.partitioning.seasonalPeriods = [.seconds(1)] }),
        ("partitioning.seasonalPeriods", { $0.partitioning.seasonalPeriods = [.seconds(-60)] }),
        ("partitioning.seasonalPeriods", { $0.partitioning.seasonalPeriods = [.seconds(60), .seconds(61)] }),
        ("partitioning.seasonalPeriods", { $0.partitioning.seasonalPeriods = [.seconds(60), .seconds(120), .seconds(240)] }),
        ("partitioning.historySaveInterval", { $0.partitioning.historySaveInterval = .zero }),
        ("partitioning.forecastAlertWindow", { $0.partitioning.forecastAlertWindow = .zero }),
        ("partitioning.tick", { $0.partitioning.tick = .microseconds(100) }),
        ("telemetry.collectInterval", { $0.telemetry.collectInterval = .nanoseconds(1) }),
        ("indexBuild.planningTimeLimit", { $0.indexBuild.planningTimeLimit = .seconds(-1) }),
        ("indexBuild.planningTimeLimit", { $0.indexBuild.planningTimeLimit = .seconds(Int64.max) }),
        ("indexBuild.stealAfter", { $0.indexBuild.stealAfter = .seconds(-5) }),
        ("partitioning.forecastAlertWindow", { $0.partitioning.forecastAlertWindow = .seconds(-240) }),
        ("partitioning.forecastAlertWindow", { $0.partitioning.forecastAlertWindow = .seconds(5 * 10_001) }),
        ("partitioning.forecastStep", { $0.partitioning.forecastStep = .milliseconds(500) }),
        ("partitioning.capacity.opsPerSecond", { $0.partitioning.capacity.opsPerSecond = 0 }),
        ("partitioning.capacity.writeBytesPerSecond", { $0.partitioning.capacity.writeBytesPerSecond = .nan }),
        ("partitioning.capacity.lowWatermark", { $0.partitioning.capacity.lowWatermark = 0.9 }),
        ("partitioning.capacity.horizonNanos", { $0.partitioning.capacity.horizonNanos = .max }),
        ("partitioning.capacity.horizonNanos", {   // 257 forecast steps of 5 s
            $0.partitioning.policy = .predictive(PredictiveOptions())
            $0.partitioning.capacity.horizonNanos = 1_285_000_000_000
        }),
        ("partitioning.capacity.maxConcurrentReshards", { $0.partitioning.capacity.maxConcurrentReshards = 0 }),
        ("partitioning.capacity.minPartitionBytes", { $0.partitioning.capacity.minPartitionBytes = .max }),
        ("partitioning.policy.maxSplitWays", { $0.partitioning.policy = .predictive(PredictiveOptions(maxSplitWays: 1)) }),
        ("partitioning.policy.targetFill", { $0.partitioning.policy = .predictive(PredictiveOptions(targetFill: .infinity)) }),
        ("partitioning.policy.splitProbability", { $0.partitioning.policy = .predictive(PredictiveOptions(splitProbability: 0)) }),
        ("partitioning.policy.splitProbability", { $0.partitioning.policy = .predictive(PredictiveOptions(splitProbability: .nan)) }),
        ("partitioning.policy.mergeFraction", { $0.partitioning.policy = .reactive(ReactiveOptions(mergeFraction: .nan)) }),
        ("partitioning.policy.sustainNanos", { $0.partitioning.policy = .reactive(ReactiveOptions(sustainNanos: .max)) }),
        ("partitioning.policy.smoothingNanos", { $0.partitioning.policy = .reactive(ReactiveOptions(smoothingNanos: 61_000_000_000)) }),
        ("durability.periodic", { $0.durability = .periodic(.seconds(Int64.max)) }),
    ]

    @Test(arguments: 0..<bad.count)
    func openRejects(_ index: Int) throws {
        let (name, configure) = Self.bad[index]
        let dir = TemporaryDirectory()
        var options = EngineOptions()
        options.durability = .none
        configure(&options)
        #expect {
            try Engine.open(at: dir.child("db"), options: options)
        } throws: { error in
            guard case .invalidOption(let n, let value, let reason)? = error as? AugurError else { return false }
            return n == name && !value.isEmpty && !reason.isEmpty
        }
        #expect(!PosixFileSystem().fileExists(dir.child("db")), "a rejected open creates nothing")
    }

    @Test func defaultsAndTelemetryOffAreAccepted() throws {
        let dir = TemporaryDirectory()
        var options = EngineOptions()
        options.durability = .none
        try Engine.open(at: dir.child("a"), options: options).close()
        options.telemetry.enabled = false
        options.telemetry.histogram.bucketCount = 0      // unused with telemetry off
        try Engine.open(at: dir.child("b"), options: options).close()
    }

    /// The predictive policy forecasts at most 256 steps ahead (the key-share forecast's limit;
    /// a partition's load forecaster keeps ~15 × steps² numbers): a longer horizon is refused
    /// at open and when the policy is switched on, naming the steps; other policies do not
    /// forecast and keep any horizon.
    @Test func thePredictiveHorizonIsAtMost256ForecastSteps() throws {
        let dir = TemporaryDirectory()
        var options = EngineOptions()
        options.durability = .none
        options.partitioning.runsOnTimer = false
        options.partitioning.policy = .predictive(PredictiveOptions())
        options.partitioning.capacity.horizonNanos = 1_280_000_000_000    // 256 steps of 5 s
        try Engine.open(at: dir.child("a"), options: options).close()
        options.partitioning.policy = .reactive(ReactiveOptions())
        options.partitioning.capacity.horizonNanos = 7_200_000_000_000    // two hours
        let engine = try Engine.open(at: dir.child("b"), options: options)
        defer { try? engine.close() }
        let refusal = AugurError.invalidOption(name: "capacity.horizonNanos", value: "7200000000000",
                                               reason: "must be at most 256 forecast steps of 5.0 seconds with the predictive policy (is 1440 steps)")
        #expect(throws: refusal) { try engine.setPartitioningPolicy(.predictive(PredictiveOptions())) }
        var capacity = CapacityModel()
        capacity.horizonNanos = 7_200_000_000_000
        #expect(throws: refusal) { try engine.setPartitioningPolicy(.predictive(PredictiveOptions()), capacity: capacity) }
        capacity.horizonNanos = 30_000_000_000
        try engine.setPartitioningPolicy(.predictive(PredictiveOptions()), capacity: capacity)
    }

    @Test func setPartitioningPolicyValidatesTheSameWay() throws {
        let dir = TemporaryDirectory()
        var options = EngineOptions()
        options.durability = .none
        options.partitioning.runsOnTimer = false
        let engine = try Engine.open(at: dir.child("db"), options: options)
        defer { try? engine.close() }
        var capacity = CapacityModel()
        capacity.opsPerSecond = .nan
        #expect(throws: AugurError.invalidOption(name: "capacity.opsPerSecond", value: "nan", reason: "must be a finite number in (0.0, 1000000000000.0]")) {
            try engine.setPartitioningPolicy(.reactive(ReactiveOptions()), capacity: capacity)
        }
        #expect {
            try engine.setPartitioningPolicy(.predictive(PredictiveOptions(currentSamples: 0)))
        } throws: { error in
            guard case .invalidOption(let n, _, _)? = error as? AugurError else { return false }
            return n == "policy.currentSamples"
        }
        try engine.setPartitioningPolicy(.reactive(ReactiveOptions()), capacity: CapacityModel())
    }
}
