/// One augur-load run as its `--json` output records it (`RunResult` in AugurWorkload): the
/// fields the simulator needs to replay it. Decoding ignores every other field, and every field
/// here is optional so that ``EngineReplay`` can name the one that is missing
/// (``EngineRunError/missing(run:field:)``) instead of a decoder's coding path.
///
/// augur-load writes non-finite numbers as the strings `"inf"`, `"-inf"` and `"nan"`; decode
/// with a `JSONDecoder` whose `nonConformingFloatDecodingStrategy` maps them back, so that they
/// reach validation as numbers and are refused by name.
///
/// Thread-safety: value type, `Sendable`.
public struct EngineRun: Sendable, Equatable, Decodable {
    /// One interval of the run's time series (`IntervalSample`).
    public struct Sample: Sendable, Equatable, Decodable {
        /// End of the interval, from the start of the run (warm-up included). Unit: s.
        public var seconds: Double?
        /// Operations completed per second in the interval. Unit: ops/s.
        public var opsPerSecond: Double?
        /// Partitions at the end of the interval.
        public var partitions: Int?
        /// Reshards in flight at the end of the interval.
        public var reshardsInFlight: Int?
        /// Whether the interval lies in the warm-up.
        public var warmup: Bool?

        public init(seconds: Double?, opsPerSecond: Double?, partitions: Int? = nil, reshardsInFlight: Int? = nil,
                    warmup: Bool? = nil) {
            self.seconds = seconds
            self.opsPerSecond = opsPerSecond
            self.partitions = partitions
            self.reshardsInFlight = reshardsInFlight
            self.warmup = warmup
        }
    }

    /// Partitioning over the run (`PartitionSummary`).
    public struct Partitions: Sendable, Equatable, Decodable {
        public var atStart: Int?
        public var atEnd: Int?
        /// Largest partition count over the series.
        public var maximum: Int?
        /// Mean partition count over the series (each interval once).
        public var mean: Double?
        public var splits: Int?
        public var merges: Int?
        public var moves: Int?
        /// Bytes copied by committed reshards. Unit: bytes.
        public var bytesMoved: Double?
        /// Bytes committed reshards handed over by sharing files (nothing copied). Unit: bytes.
        public var bytesShared: Double?
        /// Operations per second one partition takes before its measured cost reaches the
        /// engine's cost budget. Unit: ops/s.
        public var measuredCapacity: Double?
        /// Mean copy rate of the committed reshards. Unit: bytes/s.
        public var copyBytesPerSecond: Double?

        public init(atStart: Int? = nil, atEnd: Int? = nil, maximum: Int? = nil, mean: Double? = nil, splits: Int? = nil,
                    merges: Int? = nil, moves: Int? = nil, bytesMoved: Double? = nil, measuredCapacity: Double? = nil,
                    copyBytesPerSecond: Double? = nil) {
            self.atStart = atStart; self.atEnd = atEnd; self.maximum = maximum; self.mean = mean; self.splits = splits
            self.merges = merges; self.moves = moves; self.bytesMoved = bytesMoved; self.measuredCapacity = measuredCapacity
            self.copyBytesPerSecond = copyBytesPerSecond
        }
    }

    /// Count of one operation type over the measured window (`OperationSummary`).
    public struct Operation: Sendable, Equatable, Decodable {
        public var kind: String
        public var count: Int

        public init(kind: String, count: Int) {
            self.kind = kind
            self.count = count
        }
    }

    /// The load phase before the run (`LoadPhaseSummary`): records inserted, in how long.
    public struct LoadPhase: Sendable, Equatable, Decodable {
        public var records: Int?
        /// Unit: s.
        public var seconds: Double?
        /// Unit: records/s.
        public var recordsPerSecond: Double?

        public init(records: Int?, seconds: Double?, recordsPerSecond: Double?) {
            self.records = records
            self.seconds = seconds
            self.recordsPerSecond = recordsPerSecond
        }
    }

    /// Store the run used (`augur` for the engine).
    public var engine: String?
    /// Partition policy the run asked the engine for: `static`, `reactive` or `predictive`.
    public var policy: String?
    /// Key distribution, as augur-load describes it (e.g. `moving hotspot 90% of ops on 10% of
    /// keys, drifting 1% of the key space per second`).
    public var distribution: String?
    /// Bytes per key and per value. Unit: bytes.
    public var keySize: Int?
    public var valueSize: Int?
    /// `ordered` (keys are big-endian key numbers: hotspots, sequential) or `hashed`.
    public var keyOrder: String?
    /// Records loaded before the run.
    public var records: Int?
    /// Target rate profile, as augur-load describes it (e.g. `diurnal 10000–80000 ops/s,
    /// period 60 s`); replayed only when the series is empty.
    public var profile: String?
    public var warmupSeconds: Double?
    public var measuredSeconds: Double?
    public var runSeconds: Double?
    public var perOperation: [Operation]?
    public var partitions: Partitions?
    public var series: [Sample]?
    /// The load phase; nil when the run loaded nothing (the store already held the records).
    public var load: LoadPhase?

    public init(engine: String? = "augur", policy: String?, distribution: String?, keySize: Int?, valueSize: Int?,
                keyOrder: String? = nil, records: Int?, profile: String? = nil, warmupSeconds: Double? = nil,
                measuredSeconds: Double? = nil, runSeconds: Double? = nil, perOperation: [Operation]? = nil,
                partitions: Partitions?, series: [Sample]?, load: LoadPhase? = nil) {
        self.engine = engine
        self.policy = policy
        self.distribution = distribution
        self.keySize = keySize
        self.valueSize = valueSize
        self.keyOrder = keyOrder
        self.records = records
        self.profile = profile
        self.warmupSeconds = warmupSeconds
        self.measuredSeconds = measuredSeconds
        self.runSeconds = runSeconds
        self.perOperation = perOperation
        self.partitions = partitions
        self.series = series
        self.load = load
    }

    /// A short label for messages: `run 2 (predictive)`.
    static func label(_ index: Int, _ policy: String?) -> String {
        "run \(index)" + (policy.map { " (\($0))" } ?? "")
    }
}

/// The runs of one augur-load `--json` file: a single run object, or an array of them (as
/// `augur-load policies --json` writes).
///
/// Thread-safety: value type, `Sendable`.
public struct EngineRunFile: Sendable, Equatable, Decodable {
    public var runs: [EngineRun]

    public init(runs: [EngineRun]) { self.runs = runs }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        do {
            runs = try c.decode([EngineRun].self)
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty {
            runs = [try c.decode(EngineRun.self)]
        }
    }
}
