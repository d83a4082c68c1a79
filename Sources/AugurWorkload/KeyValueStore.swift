/// One write in a batch.
public enum BatchOperation: Sendable, Equatable {
    case put(key: [UInt8], value: [UInt8])
    case delete(key: [UInt8])
}

/// The partitioning policy a run asks the engine to use.
public enum PartitionPolicy: String, Sendable, Codable, CaseIterable {
    /// A fixed partition layout (optionally pre-split into N even ranges before the run).
    case `static`
    /// Split/merge/move partitions when measured load crosses thresholds.
    case reactive
    /// Reshard ahead of forecast load.
    case predictive
}

/// What the runner asks of the engine before the run: the policy, and for `static` the keys
/// to pre-split at (empty: leave the layout as the engine made it).
public struct PartitionPolicyRequest: Sendable, Equatable {
    public var policy: PartitionPolicy
    public var splitKeys: [[UInt8]]
    public init(policy: PartitionPolicy, splitKeys: [[UInt8]] = []) {
        self.policy = policy
        self.splitKeys = splitKeys
    }
}

/// A partitioning change the engine made (or the adapter inferred), for the report's markers.
public struct ReshardEvent: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case split, merge, move }
    /// Seconds from the start of the run (stamped by the runner when it collects the event).
    public var seconds: Double
    public var kind: Kind
    public var detail: String
    /// True when the adapter deduced it (e.g. from a partition-count change) rather than the
    /// engine reporting it.
    public var inferred: Bool
    public init(seconds: Double = 0, kind: Kind, detail: String, inferred: Bool) {
        self.seconds = seconds
        self.kind = kind
        self.detail = detail
        self.inferred = inferred
    }
}

/// The engine's forecast of the load for the interval just ended, with its prediction band
/// (JSON `forecast` of a series sample). Not AugurPlanner's `ForecastPoint`, which is one step
/// ahead of a forecast with only the bands' upper bounds.
public struct IntervalForecast: Sendable, Codable, Equatable {
    /// Predicted operations per second.
    public var predicted: Double
    public var lower: Double
    public var upper: Double
    public init(predicted: Double, lower: Double, upper: Double) {
        self.predicted = predicted
        self.lower = lower
        self.upper = upper
    }
}

/// What an engine can tell about its partitions. Every field is optional: nil means the
/// engine does not report it (the report prints "n/a").
public struct PartitionMetrics: Sendable, Codable, Equatable {
    public var partitions: Int?
    /// Cumulative counters since the store was opened.
    public var splits: Int?
    public var merges: Int?
    public var moves: Int?
    public var bytesMoved: Int64?
    /// Cumulative bytes reshards gave their targets without copying them (shared files).
    public var bytesShared: Int64? = nil
    /// Reshard operations running now.
    public var reshardsInFlight: Int?
    /// Cumulative seconds some partition spent over its load limit.
    public var overloadSeconds: Double?
    /// The engine's own forecast error so far (mean absolute percentage error, 0...∞).
    public var forecastError: Double?
    /// Forecast for the interval just ended.
    public var forecast: IntervalForecast?
    /// Events since the previous call.
    public var events: [ReshardEvent]
    /// Operations per second one partition takes before it counts as saturated, as the engine
    /// measured it on this machine (nil for a fixed capacity or an engine that does not say).
    public var measuredCapacity: Double? = nil
    /// Mean copy rate of the reshards committed so far, bytes per second.
    public var copyBytesPerSecond: Double? = nil
    /// Cumulative: times a key range's forecast stopped being trusted (its intervals missed
    /// too often) and the range fell back to reactive rules.
    public var forecastFallbacks: Int? = nil
    /// Cumulative: writes that waited for their partition's flush (a write stall), and the
    /// seconds they waited.
    public var writeStalls: Int? = nil
    public var writeStallSeconds: Double? = nil
    /// Why the last write stall so far waited (the engine's words; nil: none, or not said).
    public var lastWriteStallReason: String? = nil
    /// Cumulative: writes slowed before a stall because their partition's flush fell behind,
    /// and the seconds they slept.
    public var writeSlowdowns: Int? = nil
    public var writeSlowdownSeconds: Double? = nil

    public init(partitions: Int? = nil, splits: Int? = nil, merges: Int? = nil, moves: Int? = nil,
                bytesMoved: Int64? = nil, reshardsInFlight: Int? = nil, overloadSeconds: Double? = nil,
                forecastError: Double? = nil, forecast: IntervalForecast? = nil, events: [ReshardEvent] = []) {
        self.partitions = partitions
        self.splits = splits
        self.merges = merges
        self.moves = moves
        self.bytesMoved = bytesMoved
        self.reshardsInFlight = reshardsInFlight
        self.overloadSeconds = overloadSeconds
        self.forecastError = forecastError
        self.forecast = forecast
        self.events = events
    }
}

/// The small surface the load generator needs from an engine. Implementations must be safe to
/// call from many threads at once. Errors are counted per operation type and do not stop a run.
public protocol KeyValueStore: AnyObject, Sendable {
    /// Short engine name for reports ("augur", "lmdb", "rocksdb", "memory").
    var engineName: String { get }
    func put(_ key: [UInt8], _ value: [UInt8]) throws
    func get(_ key: [UInt8]) throws -> [UInt8]?
    /// The length of `key`'s value, read where the engine keeps it without copying it out where
    /// the engine can (Augur's `Table.withValue`); nil when absent. Default: `get(key)?.count`.
    func readLength(_ key: [UInt8]) throws -> Int?
    func delete(_ key: [UInt8]) throws
    /// Reads up to `limit` records with keys ≥ `start` in key order; returns how many it read.
    func scan(from start: [UInt8], limit: Int) throws -> Int
    /// Applies `operations` atomically where the engine can (one transaction or write batch).
    func write(_ operations: [BatchOperation]) throws
    /// The partition policies `apply` accepts. Default: `static` only.
    var supportedPolicies: [PartitionPolicy] { get }
    /// Sets up partitioning. The command line calls it twice: before the load phase with
    /// `static` and the split keys (so pre-split records land in their partitions), and after
    /// the load with the run's policy and no split keys (so the load itself reshapes nothing).
    /// The default accepts only `static` without split keys and throws
    /// `WorkloadError.unsupportedPolicy` for anything else.
    func apply(_ request: PartitionPolicyRequest) throws
    /// Partition counters for progress lines, the time series and the final table; called about
    /// once per sample interval from a runner thread. Default: nothing reported.
    func partitionMetrics() -> PartitionMetrics
    /// Makes everything durable (end of the load phase, end of the run).
    func flush() throws
    func close() throws
    /// Loads `records` (keys strictly ascending) through the engine's bulk ingest, outside its
    /// write path (`--ingest`). Default: `WorkloadError.invalidOption` — the engine has none.
    func ingest(_ records: [(key: [UInt8], value: [UInt8])]) throws
}

extension KeyValueStore {
    public var supportedPolicies: [PartitionPolicy] { [.static] }

    public func readLength(_ key: [UInt8]) throws -> Int? { try get(key)?.count }

    /// Throws `WorkloadError.unsupportedPolicy` unless `supportedPolicies` has `policy`.
    public func checkSupports(_ policy: PartitionPolicy) throws(WorkloadError) {
        guard supportedPolicies.contains(policy) else {
            throw .unsupportedPolicy(policy: policy.rawValue, engine: engineName, supported: supportedPolicies.map(\.rawValue))
        }
    }

    public func apply(_ request: PartitionPolicyRequest) throws {
        guard request.policy == .static else {
            throw WorkloadError.unsupportedPolicy(policy: request.policy.rawValue, engine: engineName, supported: ["static"])
        }
        if !request.splitKeys.isEmpty {
            throw WorkloadError.invalidOption(name: "partitions", value: String(request.splitKeys.count + 1),
                                              reason: "\(engineName) has no partitions to pre-split; use --partitions 1")
        }
    }
    public func partitionMetrics() -> PartitionMetrics { PartitionMetrics() }
    public func ingest(_ records: [(key: [UInt8], value: [UInt8])]) throws {
        throw WorkloadError.invalidOption(name: "ingest", value: engineName, reason: "this engine has no bulk ingest; load through write batches")
    }
    public func flush() throws {}
    public func close() throws {}
}
