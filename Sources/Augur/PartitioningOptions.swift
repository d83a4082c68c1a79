// What a user sets for the engine's own partitioning (PartitioningOptions) and the record of
// each controller decision (PartitioningDecision, a line of decisions.jsonl).
import AugurForecast
import AugurPlanner
import AugurStats
import AugurSys
import Dispatch
import FoundationEssentials
import Synchronization

/// How (and whether) the engine reshapes partitions on its own.
public struct PartitioningOptions: Sendable {
    /// `.static` reshapes nothing for load (default; size splits still run, see
    /// `splitsBySize`); `.reactive(ReactiveOptions())` is the CockroachDB way;
    /// `.predictive(PredictiveOptions())` acts on forecasts before overload.
    public var policy: PlannerPolicy = .static
    /// What a partition can take. Default `CapacityModel.measured()`: a partition is at capacity
    /// when the work measured inside it (operations with their lock waits, flushes and merges)
    /// reaches 0.5 s per second; horizon and cooldown 30 s; size limit 256 MiB. A fixed
    /// `opsPerSecond` is an override.
    public var capacity = CapacityModel.measured()
    /// Controller period on the engine clock (one load sample per partition). Default 1 s.
    public var tick: Duration = .seconds(1)
    /// Forecast step: load is averaged over this long before it is fed to the forecaster.
    /// Default 5 s (the 30 s horizon is then 6 steps). Choose it near a twelfth of the load's
    /// shortest cycle.
    public var forecastStep: Duration = .seconds(5)
    /// Seasonal periods of the load (at most two, each at least two forecast steps), e.g.
    /// `[.seconds(86_400)]`. Default empty: the forecaster detects them from the history.
    public var seasonalPeriods: [Duration] = []
    /// Split a partition above `capacity.maxPartitionBytes` at its data median under every
    /// policy, `.static` included (every peer splits by size by default). Default true.
    public var splitsBySize = true
    /// Keep the load history by key range in `<dir>/LOADHISTORY` (written every
    /// `historySaveInterval` and at close), so a reopened store forecasts from the history it
    /// saw. Default true.
    public var persistHistory = true
    /// How often LOADHISTORY is rewritten. Default 30 s.
    public var historySaveInterval: Duration = .seconds(30)
    /// How far back the forecast-error alert looks. When a range's forecast intervals miss
    /// significantly more often than their nominal rate over this window (a one-sided binomial
    /// test at 0.001 per step and level, `ForecastEnsemble.alert`), the controller stops
    /// trusting that range's forecast: the planner gets none for it, so the predictive policy
    /// plans it by the reactive rules (current load plus margin, sustained overload), and a
    /// `forecast-fallback` decision says why. When the misses fall back under the critical
    /// count the forecast is used again (`forecast-restored`). Default 240 s (48 steps of 5 s);
    /// a window shorter than 10 forecast steps counts as 10; at most 10,000 steps (each step of the
    /// window costs a few bytes per range).
    public var forecastAlertWindow: Duration = .seconds(240)
    /// Log every decision and execute nothing. Default false.
    public var shadow = false
    /// Append every decision as a JSON line to `<dir>/decisions.jsonl`. Default true.
    public var logDecisions = true
    /// Run ticks on a real-time timer. Set false with a `ManualClock` and call
    /// `Engine.controllerTick()` yourself.
    public var runsOnTimer = true

    public init() {}
}

/// One decision as written to decisions.jsonl.
public struct PartitioningDecision: Sendable, Codable, Equatable {
    /// Engine-clock nanoseconds.
    public var time: UInt64
    public var table: String
    public var policy: String
    public var action: String
    public var kind: String
    public var partitions: [UInt64]
    public var reason: String
    public var reasonCode: String
    public var score: Double
    /// Predicted utilization of each resulting partition, and bytes the action moves.
    public var predictedUtilization: [Double]
    public var bytesToMove: UInt64
    /// False in shadow mode (or when the executor refused the plan: see `error`).
    public var executed: Bool
    public var error: String?
}
