import RealModule
import AugurPlanner

/// The simulation of one engine run: the same policy on the run's own load, with the capacity
/// and copy rate the engine measured, so its prediction can be set against what the engine did.
///
/// What is taken from the run:
/// - the load: the measured ops/s of every interval of the series (warm-up included; one row
///   per interval, replayed exactly at 1 s intervals), or the target profile when the series
///   is empty;
/// - the keys: the moving hotspot's share, width and speed (``HotspotShape/window``, starting at
///   key 0 as augur-load's does), the write fraction of the operation mix, and the data,
///   `records × (keySize + valueSize + 13)` bytes (13: each record's header in a segment), in
///   `partitions.atStart` (else one) partitions;
/// - the load phase (`load`): its records/s for its seconds as a prelude of uniform writes under
///   the static policy, so the partition's recent samples hold it when the run's policy starts,
///   as the engine's do;
/// - the reshards' time besides copying, from the series' in-flight counts (see
///   ``overheadSeconds(_:copyBytesPerSecond:)``);
/// - the engine: `partitions.measuredCapacity` as a fixed ops capacity in a model that is
///   otherwise `CapacityModel.measured()` (30 s horizon and cooldown, 256 MiB maximum and
///   1 MiB minimum partition, no cost budget), and `partitions.copyBytesPerSecond`.
///
/// How the engine is modelled (``EngineModel``): the controller ticks every second and forecasts
/// 5 s steps, detecting the seasonal period itself; histograms are the engine's marks (10 s
/// apart, 3 kept); the 5-minute window of samples and the 30 s, 60 s and 300 s peaks; size
/// splits on for every policy; the executor as ``ReshardCostModel`` predicts it (sharing files
/// when the run copied nothing but shared, else copying every byte of every target), one reshard
/// at a time; and with ordered keys the first partition's histogram cannot place them (they all
/// fall in its first bucket), so its split goes to the data median
/// (``SimulationOptions/initialHistogramResolvesKeys``).
///
/// Thread-safety: value type, `Sendable`; ``predict()`` runs a fresh ``Simulator``.
public struct EngineReplay: Sendable {
    /// Values that replace what the run measured (nil: use the run's).
    ///
    /// Thread-safety: value type, `Sendable`.
    public struct Overrides: Sendable, Equatable {
        /// Ops/s one partition takes. Unit: ops/s.
        public var capacity: Double?
        /// Reshard copy rate. Unit: bytes/s.
        public var copyBytesPerSecond: Double?
        /// Relative noise of each partition's per-second utilization (nil:
        /// ``EngineModel/sampleNoise``). Dimensionless, `0...1`.
        public var sampleNoise: Double?
        /// Seed of the simulation's noise. Default `1`.
        public var seed: UInt64 = 1

        public init(capacity: Double? = nil, copyBytesPerSecond: Double? = nil, sampleNoise: Double? = nil, seed: UInt64 = 1) {
            self.capacity = capacity
            self.copyBytesPerSecond = copyBytesPerSecond
            self.sampleNoise = sampleNoise
            self.seed = seed
        }
    }

    /// The engine's constants the replay uses, each the engine's own default.
    public enum EngineModel {
        /// `PartitioningOptions.tick`: one load sample per partition per second. Unit: s.
        public static let tickSeconds = 1
        /// `PartitioningOptions.forecastStep`. Unit: s.
        public static let forecastStepSeconds = 5
        /// Histogram marks of the controller (`PartitionController.markNanos`, `marksKept`).
        public static let histogramMarkSeconds = 10
        public static let histogramMarksKept = 3
        /// Samples in a partition's recent window (`RangeLoadHistory.samplesKept`).
        public static let recentSamples = RangeLoadHistory.samplesKept
        /// Peak windows the controller reports from its samples. Unit: s.
        public static let peakWindowsSeconds = [30, 60, 300]
        /// Relative standard deviation of a partition's measured utilization from one second to
        /// the next around what its operations explain (the engine measures cost: lock waits,
        /// flushes and merges land in some seconds and not others). The run does not record
        /// it; this is the simulator's own default. Dimensionless.
        public static let sampleNoise = 0.05
        /// Bytes a record takes in a segment besides its key and value, as the engine writes
        /// it (segment format version 2, `SegmentFormat.recordSize`): CRC and kind (5), then
        /// the key and value lengths as varints of 7 bits a byte — 7 for lengths below 128
        /// (version 1 took 13 for any). Unit: bytes.
        public static func recordHeaderBytes(keySize: Int, valueSize: Int) -> Int {
            func varint(_ n: Int) -> Int { n < 1 << 7 ? 1 : n < 1 << 14 ? 2 : n < 1 << 21 ? 3 : n < 1 << 28 ? 4 : 5 }
            return 5 + varint(keySize) + varint(valueSize)
        }
    }

    /// `run 2 (predictive)`.
    public let label: String
    /// The run replayed.
    public let run: EngineRun
    /// The run's policy, with the engine's default options.
    public let policy: PlannerPolicy
    /// Load per row (ops/s); each row lasts `options.secondsPerRow`.
    public let rows: [Double]
    /// Everything the simulator is given.
    public let options: SimulationOptions
    /// Where a value came from when it was not the run's own (override, sibling run, default).
    public let notes: [String]

    /// Prepares the replay of `run`, the `index`-th (1-based) of its file. `siblingCopyBytesPerSecond`
    /// is the copy rate other runs of the same file measured, used when this one measured none.
    public init(run: EngineRun, index: Int, overrides: Overrides = Overrides(),
                siblingCopyBytesPerSecond: Double? = nil) throws(EngineRunError) {
        let label = EngineRun.label(index, run.policy)
        self.label = label
        self.run = run
        var notes: [String] = []
        func missing(_ field: String, _ why: String) -> EngineRunError { .missing(run: label, field: field, why: why) }
        func invalid(_ field: String, _ value: String, _ reason: String) -> EngineRunError {
            .invalid(run: label, field: field, value: value, reason: reason)
        }
        func finite(_ field: String, _ value: Double?, positive: Bool, why: String) throws(EngineRunError) -> Double {
            guard let value else { throw missing(field, why) }
            guard value.isFinite, positive ? value > 0 : value >= 0 else {
                throw invalid(field, Self.show(value), positive ? "must be a finite number > 0" : "must be a finite number ≥ 0")
            }
            return value
        }

        if let engine = run.engine, engine != "augur" {
            throw invalid("engine", "'\(engine)'", "only Augur runs can be replayed (the simulator models Augur's controller)")
        }
        guard let policyName = run.policy else { throw missing("policy", "the replay runs the policy the engine ran") }
        guard let policy = PlannerPolicy.named(policyName) else {
            throw invalid("policy", "'\(policyName)'", "must be static, reactive or predictive")
        }
        self.policy = policy

        // The engine.
        let capacity: Double
        if let c = overrides.capacity {
            capacity = c
            notes.append("capacity \(Self.show(c)) ops/s given (the run measured \(run.partitions?.measuredCapacity.map(Self.show) ?? "none"))")
        } else {
            capacity = try finite("partitions.measuredCapacity", run.partitions?.measuredCapacity, positive: true,
                                  why: "the run has no measured capacity (made with a fixed --capacity, or by an augur-load without it); give --capacity")
        }
        guard capacity <= SimulationOptions.maxPeakOpsPerSecond else {
            throw invalid("partitions.measuredCapacity", Self.show(capacity), "must be at most \(Self.show(SimulationOptions.maxPeakOpsPerSecond)) ops/s")
        }
        let copyRange = SimulationOptions.copyBytesPerSecondRange
        var copy: Double
        if let c = overrides.copyBytesPerSecond {
            copy = c
        } else if let c = run.partitions?.copyBytesPerSecond {
            copy = try finite("partitions.copyBytesPerSecond", c, positive: true, why: "")
        } else if let c = siblingCopyBytesPerSecond {
            copy = c
            notes.append("copy rate \(Self.mib(c)) MiB/s from the other runs of the file (this run copied nothing)")
        } else {
            copy = ReshardCostModel.defaultCopyBytesPerSecond
            notes.append("copy rate \(Self.mib(copy)) MiB/s by default (no run of the file copied anything)")
        }
        guard copyRange.contains(copy) else {
            throw invalid("partitions.copyBytesPerSecond", Self.show(copy),
                          "must be in \(Self.show(copyRange.lowerBound))...\(Self.show(copyRange.upperBound)) bytes/s")
        }
        copy = min(max(copy, copyRange.lowerBound), copyRange.upperBound)

        // The keys and data.
        guard let distribution = run.distribution else { throw missing("distribution", "the replay needs the key distribution") }
        let hotspot = try Self.hotspot(distribution, label: label)
        guard let records = run.records else { throw missing("records", "the data size is records × (keySize + valueSize)") }
        guard let keySize = run.keySize else { throw missing("keySize", "the data size is records × (keySize + valueSize)") }
        guard let valueSize = run.valueSize else { throw missing("valueSize", "the data size is records × (keySize + valueSize)") }
        for (field, v, limit) in [("records", records, 1 << 40), ("keySize", keySize, 1 << 20), ("valueSize", valueSize, 1 << 30)] {
            guard v >= (field == "valueSize" ? 0 : 1), v <= limit else { throw invalid(field, String(v), "must be in \(field == "valueSize" ? 0 : 1)...\(limit)") }
        }
        let dataBytes = UInt64(records) * UInt64(keySize + valueSize + EngineModel.recordHeaderBytes(keySize: keySize, valueSize: valueSize))
        guard dataBytes > 0 else { throw invalid("records", String(records), "the run stored no data") }
        let initial = run.partitions?.atStart ?? 1
        guard initial >= 1 && initial <= 65536 else { throw invalid("partitions.atStart", String(initial), "must be in 1...65536") }

        // The load.
        let (rows, secondsPerRow) = try Self.load(run, label: label)
        self.rows = rows
        let peak = rows.max() ?? 0
        guard peak > 0 else { throw invalid("series", "all zero", "the run served no operations") }
        // Said here, in the run's terms: the simulator's own check named its internal
        // peakMultiple ("got 5e+302" for --capacity 1e-300, found from outside).
        guard peak / capacity <= SimulationOptions.maxPeakMultiple else {
            throw invalid(overrides.capacity != nil ? "--capacity" : "partitions.measuredCapacity", Self.show(capacity),
                          "the run's peak of \(Self.show(peak)) ops/s would be more than \(Self.show(SimulationOptions.maxPeakMultiple)) partitions' worth of it")
        }

        var o = SimulationOptions()
        var cap = CapacityModel.measured()
        cap.costBudget = nil
        cap.opsPerSecond = capacity
        o.capacity = cap
        o.secondsPerRow = secondsPerRow
        o.peakMultiple = peak / capacity
        o.detectsSeasonality = true
        o.forecastStepSeconds = EngineModel.forecastStepSeconds
        o.forecastHorizonSteps = max(1, Int((cap.horizonNanos + UInt64(EngineModel.forecastStepSeconds) * 1_000_000_000 - 1)
                                            / (UInt64(EngineModel.forecastStepSeconds) * 1_000_000_000)))
        o.histogramWindow = .engineMarks(markSeconds: EngineModel.histogramMarkSeconds, marksKept: EngineModel.histogramMarksKept)
        o.recentSamples = EngineModel.recentSamples
        o.peakWindowsSeconds = EngineModel.peakWindowsSeconds
        if let hotspot {
            o.hotspotShape = .window
            o.hotspotStart = 0
            o.hotspotShare = hotspot.share
            o.hotspotWidth = hotspot.width
            o.hotspotSpeed = hotspot.speedPerSecond * 3600
        } else {
            o.hotspotShare = 0
        }
        o.hotKeyShare = 0
        o.writeFraction = Self.writeFraction(run.perOperation) ?? 0.5
        o.valueBytes = Double(valueSize)
        o.totalDataBytes = dataBytes
        o.initialPartitions = initial
        // An engine that resharded without copying a byte shared its files.
        let shared = (run.partitions?.bytesShared ?? 0) > 0 && (run.partitions?.bytesMoved ?? 0) == 0
        let (overhead, overheadNote) = Self.overheadSeconds(run, copyBytesPerSecond: copy)
        do throws(ReshardCostError) {
            o.capacity.reshardCost = try ReshardCostModel(dataMode: shared ? .shareFiles : .copy,
                                                          copyBytesPerSecond: copy, overheadSeconds: overhead)
        } catch {
            throw invalid("partitions.copyBytesPerSecond", Self.show(copy), error.description)
        }
        if let overheadNote { notes.append(overheadNote) }
        o.serialReshards = true
        o.splitsBySize = true
        o.initialHistogramResolvesKeys = !Self.orderedKeys(run)
        if let phase = run.load, let seconds = phase.seconds, let rate = phase.recordsPerSecond, seconds > 0, rate > 0 {
            guard seconds.isFinite, seconds <= 86_400 else {
                throw invalid("load.seconds", Self.show(seconds), "must be a finite number of seconds in 0...86400")
            }
            guard rate.isFinite, rate <= SimulationOptions.maxPeakOpsPerSecond else {
                throw invalid("load.recordsPerSecond", Self.show(rate), "must be a finite number in 0...1e12")
            }
            o.prelude = SimulationOptions.Prelude(seconds: max(1, Int(seconds.rounded())), opsPerSecond: rate)
        }
        o.sampleNoise = overrides.sampleNoise ?? EngineModel.sampleNoise
        // The series is what the engine served: its second-to-second variation is already in it.
        o.globalNoise = 0
        o.seed = overrides.seed
        let errors = o.validationErrors()
        guard errors.isEmpty else { throw invalid("run", "not replayable", errors.joined(separator: "; ")) }
        options = o
        self.notes = notes
    }

    /// Runs the simulation and sets its prediction against what the engine measured;
    /// `recordingActions` keeps one line per started action in the prediction's `actions`.
    public func predict(recordingActions: Bool = false) -> EngineRunPrediction {
        var o = options
        o.recordActions = recordingActions
        let sim = Simulator(rows: rows, options: o, policy: policy)
        let metrics = sim.run()
        let p = run.partitions
        return EngineRunPrediction(
            run: label, policy: policy.name,
            meanPartitions: .init(predicted: metrics.meanPartitions, measured: p?.mean),
            maxPartitions: .init(predicted: Double(metrics.maxPartitions), measured: p?.maximum.map(Double.init)),
            bytesMoved: .init(predicted: Double(metrics.bytesCommitted), measured: p?.bytesMoved),
            capacity: options.capacity.opsPerSecond, copyBytesPerSecond: options.capacity.reshardCost.copyBytesPerSecond,
            simulatedSeconds: metrics.simulatedSeconds, notes: notes, metrics: metrics, actions: sim.actionLog)
    }

    // MARK: - Reading the run

    /// Time each reshard took besides copying, as the run shows it: the series' in-flight counts
    /// summed over the intervals estimate the reshards' total time (a count sampled at a random
    /// moment is on average the total time in flight over the elapsed time), less the time to
    /// copy `bytesMoved` at the copy rate, over the reshards (splits, merges, moves). Falls back
    /// to ``ReshardCostModel/defaultOverheadSeconds`` when the run did no reshard or lacks the counts.
    /// Unit: s, in `0...60`; the note says where it came from.
    public static func overheadSeconds(_ run: EngineRun, copyBytesPerSecond copy: Double) -> (Double, String?) {
        let p = run.partitions
        let reshards = (p?.splits ?? 0) + (p?.merges ?? 0) + (p?.moves ?? 0)
        let series = run.series ?? []
        guard reshards > 0, !series.isEmpty, series.allSatisfy({ $0.reshardsInFlight != nil }),
              let first = series.first?.seconds, first.isFinite, first > 0,
              let bytes = p?.bytesMoved, bytes.isFinite, bytes >= 0 else {
            return (ReshardCostModel.defaultOverheadSeconds, nil)
        }
        let inFlight = Double(series.reduce(0) { $0 + max(0, $1.reshardsInFlight!) }) * first
        let perReshard = min(60, max(0, (inFlight - bytes / copy) / Double(reshards)))
        return (perReshard, "reshard time besides copying \(SimulationReport.fixed(perReshard, 2)) s (in-flight samples \(SimulationReport.fixed(inFlight, 0)) s over \(reshards) reshard\(reshards == 1 ? "" : "s"), copying \(SimulationReport.fixed(bytes / copy, 1)) s)")
    }

    /// Whether the run's keys are ordered key numbers (the first partition's histogram then
    /// cannot place them): `keyOrder`, else what augur-load picks for the distribution.
    static func orderedKeys(_ run: EngineRun) -> Bool {
        if let order = run.keyOrder { return order == "ordered" }
        let d = run.distribution ?? ""
        return d.hasPrefix("hotspot") || d.hasPrefix("moving hotspot") || d.hasPrefix("sequential")
    }

    /// Hotspot share, window width and speed (key-space fractions per second) of a distribution
    /// as augur-load describes it; nil for uniform keys (or a hot range covering every key).
    static func hotspot(_ text: String, label: String) throws(EngineRunError) -> (share: Double, width: Double, speedPerSecond: Double)? {
        let numbers = Self.numbers(in: text)
        func bad(_ reason: String) -> EngineRunError { .invalid(run: label, field: "distribution", value: "'\(text)'", reason: reason) }
        if text == "uniform" { return nil }
        let moving = text.hasPrefix("moving hotspot ")
        guard moving || text.hasPrefix("hotspot ") else {
            throw bad("the replay models uniform, hotspot and moving-hotspot keys (ordered); this distribution is not modelled")
        }
        guard numbers.count == (moving ? 3 : 2) else { throw bad("cannot read its percentages") }
        let share = numbers[0] / 100, width = numbers[1] / 100, speed = moving ? numbers[2] / 100 : 0
        guard share >= 0 && share <= 1 else { throw bad("the hot share \(show(numbers[0]))% must be in 0...100%") }
        guard width > 0 && width <= 1 else { throw bad("the hot key range \(show(numbers[1]))% must be in (0, 100]%") }
        guard speed >= 0 && speed * 3600 <= SimulationOptions.maxHotspotSpeed else {
            throw bad("the drift \(show(speed * 100))% per second must be in 0...\(show(SimulationOptions.maxHotspotSpeed / 36))%")
        }
        return width >= 1 ? nil : (share, width, speed)
    }

    /// The load rows and seconds per row: the measured series, or the target profile.
    static func load(_ run: EngineRun, label: String) throws(EngineRunError) -> ([Double], Double) {
        let series = run.series ?? []
        if series.isEmpty {
            guard let profile = run.profile else {
                throw .missing(run: label, field: "series", why: "the run has no measured series and no profile to replay")
            }
            let seconds = run.runSeconds ?? ((run.warmupSeconds ?? 0) + (run.measuredSeconds ?? 0))
            guard seconds.isFinite, seconds >= 1, seconds <= SimulationOptions.maxSecondsPerRow * 1000 else {
                throw .invalid(run: label, field: "runSeconds", value: show(seconds), reason: "must be a finite number of seconds ≥ 1")
            }
            let rows = try profileRows(profile, seconds: Int(seconds.rounded(.down)), label: label)
            return (rows, 1)
        }
        var rows: [Double] = []
        rows.reserveCapacity(series.count)
        var interval = 0.0
        for (k, s) in series.enumerated() {
            guard let end = s.seconds else {
                throw .missing(run: label, field: "series[\(k)].seconds", why: "every interval needs its end time")
            }
            guard let ops = s.opsPerSecond else {
                throw .missing(run: label, field: "series[\(k)].opsPerSecond", why: "every interval needs its measured ops/s")
            }
            guard ops.isFinite, ops >= 0, ops <= SimulationOptions.maxPeakOpsPerSecond else {
                throw .invalid(run: label, field: "series[\(k)].opsPerSecond", value: show(ops), reason: "must be a finite number in 0...1e12")
            }
            guard end.isFinite, end > 0 else {
                throw .invalid(run: label, field: "series[\(k)].seconds", value: show(end), reason: "must be a finite number > 0")
            }
            if k == 0 { interval = end }
            let expected = interval * Double(k + 1)
            guard abs(end - expected) <= 1e-6 * max(1, expected) else {
                throw .invalid(run: label, field: "series[\(k)].seconds", value: show(end),
                               reason: "intervals must be equal and consecutive (expected \(show(expected)) s)")
            }
            rows.append(ops)
        }
        guard interval >= 1, interval <= SimulationOptions.maxSecondsPerRow else {
            throw .invalid(run: label, field: "series[0].seconds", value: show(interval),
                           reason: "the simulator ticks once per second: the sample interval must be in 1...86400 s")
        }
        return (rows, interval)
    }

    /// One row per second of a profile as augur-load describes it: `constant R ops/s`,
    /// `ramp A→B ops/s over S s`, `spike B ops/s, P ops/s at A s for S s`, `diurnal L–H ops/s,
    /// period P s`.
    static func profileRows(_ text: String, seconds: Int, label: String) throws(EngineRunError) -> [Double] {
        let n = numbers(in: text)
        func bad(_ reason: String) -> EngineRunError { .invalid(run: label, field: "profile", value: "'\(text)'", reason: reason) }
        let rate: (Double) -> Double
        if text.hasPrefix("constant "), n.count == 1 {
            rate = { _ in n[0] }
        } else if text.hasPrefix("ramp "), n.count == 3 {
            rate = { t in t >= n[2] || n[2] <= 0 ? n[1] : n[0] + (n[1] - n[0]) * t / n[2] }
        } else if text.hasPrefix("spike "), n.count == 4 {
            rate = { t in t >= n[2] && t < n[2] + n[3] ? n[1] : n[0] }
        } else if text.hasPrefix("diurnal "), n.count == 3, n[2] > 0 {
            rate = { t in n[0] + (n[1] - n[0]) * (1 - Double.cos(2 * Double.pi * t / n[2])) / 2 }
        } else {
            throw bad("without a measured series the replay reads constant, ramp, spike and diurnal profiles only")
        }
        guard n.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= SimulationOptions.maxPeakOpsPerSecond }) else {
            throw bad("its numbers must be finite and in 0...1e12")
        }
        return (0..<seconds).map { rate(Double($0) + 0.5) }
    }

    /// Fraction of the run's operations that write (update, insert, read-modify-write,
    /// delete, batch), or nil without counts.
    static func writeFraction(_ operations: [EngineRun.Operation]?) -> Double? {
        guard let operations else { return nil }
        let total = operations.reduce(0) { $0 + max(0, $1.count) }
        guard total > 0 else { return nil }
        let writes = operations.filter { ["update", "insert", "read-modify-write", "delete", "batch"].contains($0.kind) }
            .reduce(0) { $0 + max(0, $1.count) }
        return Double(writes) / Double(total)
    }

    /// The numbers in a description (`90% of ops on 10% of keys` → 90, 10).
    static func numbers(in text: String) -> [Double] {
        var out: [Double] = []
        var token = ""
        func flush() {
            if let v = Double(token) { out.append(v) }
            token = ""
        }
        for ch in text {
            if ch.isASCII, ch.isNumber || ch == "." || ((ch == "e" || ch == "E" || ch == "-" || ch == "+") && !token.isEmpty) {
                token.append(ch)
            } else {
                flush()
            }
        }
        flush()
        return out
    }

    static func show(_ v: Double) -> String {
        v.isFinite && v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }

    static func mib(_ bytesPerSecond: Double) -> String { SimulationReport.fixed(bytesPerSecond / 1_048_576, 1) }
}
