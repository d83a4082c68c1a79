// What the engine tells users about its own partitioning: forecast fallbacks, counters of
// what the controller did, and switching the policy at run time.
import AugurForecast
import AugurPlanner
import AugurStats
import AugurSys
import Dispatch
import FoundationEssentials
import Synchronization

/// A range whose forecast the controller does not trust right now: its intervals miss more
/// often than their nominal rate (the forecaster's coverage alert), so it is planned by the
/// reactive rules until they cover again.
///
/// Thread-safety: a plain value; `Sendable`.
public struct ForecastFallback: Sendable, Codable, Equatable {
    public var table: String
    public var partition: UInt64
    /// Engine time the fallback began, ns.
    public var since: UInt64
    /// The alert's breaches, in words.
    public var reason: String
}

/// What the controller has done to a table since open, for load reports and operators.
public struct PartitioningCounters: Sendable, Equatable {
    public var policy: String
    public var partitions: Int
    public var splits: Int
    public var merges: Int
    public var moves: Int
    /// Segment bytes copied by committed reshards.
    public var bytesMoved: Int
    /// Segment bytes committed reshards handed to their targets by sharing the sources' files
    /// instead of copying them (`ReshardDataMode.shareFiles`).
    public var bytesShared = 0
    public var reshardsInFlight: Int
    /// Partition-seconds spent above capacity (controller ticks where a partition's load
    /// exceeded `CapacityModel`), over all tables.
    public var overloadSeconds: Double
    /// Mean absolute percentage error of one-step forecasts so far (nil before any).
    public var forecastError: Double?
    /// The latest table-level forecast for the next step (ops/s) with a 95% band, if any.
    public var forecast: (point: Double, lower: Double, upper: Double)?
    /// Operations per second one partition takes before its measured cost reaches the
    /// capacity model's `costBudget`, from the cost per operation measured over the last
    /// minute on this machine (nil with a fixed capacity or before any operation).
    public var measuredCapacity: Double?
    /// Why `<dir>/LOADHISTORY` was not used at open, if it was not.
    public var historyNote: String?
    /// Mean copy rate of the committed reshards that copied bytes (bytes/s), nil before any.
    public var copyBytesPerSecond: Double?
    /// The table's ranges whose forecast is not trusted right now (their coverage alert is
    /// raised), planned by the reactive rules; see `PartitioningOptions.forecastAlertWindow`.
    public var forecastFallbacks: [ForecastFallback] = []
    /// Times a range entered the reactive fallback since open, over all tables.
    public var fallbackEntries = 0

    public static func == (a: Self, b: Self) -> Bool {
        a.policy == b.policy && a.partitions == b.partitions && a.splits == b.splits && a.merges == b.merges
            && a.moves == b.moves && a.bytesMoved == b.bytesMoved && a.reshardsInFlight == b.reshardsInFlight
    }
}

extension Engine {
    /// Switches the partitioning policy (and optionally the capacity model) while running.
    public func setPartitioningPolicy(_ policy: PlannerPolicy, capacity: CapacityModel? = nil) throws(AugurError) {
        try checkOpen()
        // The same limits as `EngineOptions.partitioning` at open: a bad number is an error here,
        // not a trap in the controller's next tick.
        try policy.validate(name: "policy")
        try capacity?.validate(name: "capacity")
        guard let controller else {
            throw .invalidOption(name: "telemetry.enabled", value: "false", reason: "the partitioning controller needs telemetry")
        }
        let current = capacity ?? controller.lock.withLock { controller.options.capacity }
        try PartitioningOptions.checkForecastHorizon(policy: policy, capacity: current, forecastStep: options.partitioning.forecastStep,
                                                     name: "capacity")
        let names = allTables().map(\.name)
        controller.lock.withLock {
            controller.setPolicy(policy, capacity: capacity)
            controller.publish(tables: names)
        }
    }

    /// Reshards, overload and forecast error of `table` since open. The controller's figures
    /// are those of its last tick (a second old at most with the default tick), read without
    /// waiting for a tick in progress.
    public func partitioningCounters(table name: String) throws(AugurError) -> PartitioningCounters {
        let t = try table(named: name)
        let jobs = try reshardingStatus(table: name)
        let done = jobs.filter { $0.state == .committed }
        func count(_ match: (ReshardPlan) -> Bool) -> Int { done.filter { match($0.plan) }.count }
        typealias Band = (point: Double, lower: Double, upper: Double)
        typealias Fallbacks = (current: [ForecastFallback], entries: Int)
        let (overload, error, forecast, policy, capacity, note, fallbacks): (Double, Double?, Band?, String, Double?, String?, Fallbacks) =
            controller.map { c in
                let p = c.published.withLock { $0 }
                return (p.overloadSeconds, p.forecastError, p.tableForecasts[name], p.policy, p.measuredCapacity[name], p.historyNote,
                        (current: p.fallbacks.filter { $0.table == name }, entries: p.fallbackEntries))
            } ?? (0, nil, nil, "static", nil, nil, (current: [], entries: 0))
        var counters = PartitioningCounters(
            policy: policy, partitions: t.map.partitions.count,
            splits: count { if case .split = $0 { true } else if case .splitMany = $0 { true } else { false } },
            merges: count { if case .merge = $0 { true } else { false } },
            moves: count { if case .moveBoundary = $0 { true } else { false } },
            bytesMoved: done.reduce(0) { $0 + $1.bytesCopied },
            reshardsInFlight: jobs.filter { $0.state != .committed && $0.state != .aborted }.count,
            overloadSeconds: overload, forecastError: error, forecast: forecast, measuredCapacity: capacity, historyNote: note,
            copyBytesPerSecond: { () -> Double? in
                let rates = done.filter { $0.bytesCopied > 0 && $0.throughput > 0 }.map(\.throughput)
                return rates.isEmpty ? nil : rates.reduce(0, +) / Double(rates.count)
            }())
        counters.bytesShared = done.reduce(0) { $0 + $1.bytesShared }
        counters.forecastFallbacks = fallbacks.current
        counters.fallbackEntries = fallbacks.entries
        return counters
    }
}
