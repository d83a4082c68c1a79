import ArgumentParser
import Augur
import AugurPlanner
import AugurSys
import AugurWorkload
import Foundation

/// Everything a run needs, built from the command line.
public struct Scenario: Sendable {
    public var spec: WorkloadSpec
    public var config: RunConfiguration
    public var policy: PartitionPolicyRequest
    public var engine: EngineConfiguration
    public var load: Bool
    public var loadBatchSize: Int
    /// Load through the engine's bulk ingest instead of write batches.
    public var ingest = false
}

/// Options shared by `run`, `compare` and `policies`.
public struct LoadOptions: ParsableArguments {
    public init() {}

    // MARK: workload
    @Option(name: [.short, .long], help: ArgumentHelp("Workload: \(WorkloadSpec.names.joined(separator: ", ")).", valueName: "name"))
    public var workload = "a"

    @Option(help: ArgumentHelp("Request key distribution, overriding the workload's: \(KeyDistribution.names.joined(separator: ", ")).", valueName: "name"))
    public var distribution: String?

    @Option(parsing: .unconditional, help: "Records loaded before the run (and the key space requests draw from).")
    public var records = 100_000

    @Option(help: "Key size in bytes (at least 8; 12 for timeseries).")
    public var keySize = 16

    @Option(help: "Value size in bytes.")
    public var valueSize = 100

    @Flag(help: "YCSB records: 10 fields of 100 bytes (1000-byte values); --fields and --field-length change them.")
    public var ycsbFields = false

    @Option(help: "Fields per record with --ycsb-fields.")
    public var fields = 10

    @Option(help: "Bytes per field with --ycsb-fields.")
    public var fieldLength = 100

    @Option(help: ArgumentHelp("Key order: auto (ordered for hotspots, sequential and time series; hashed otherwise, as YCSB), hashed, ordered.", valueName: "order"))
    public var keyOrder = "auto"

    @Option(help: "Zipfian constant for zipfian and latest.")
    public var zipfianConstant = 0.99

    @Option(help: "Hotspot: fraction of the key space that is hot.")
    public var hotKeys = 0.1

    @Option(help: "Hotspot: fraction of operations that go to the hot keys.")
    public var hotOps = 0.9

    @Option(help: "Moving hotspot: key-space fractions the hot range drifts per second.")
    public var hotSpeed = 0.01

    @Option(help: "Longest scan (scan lengths are uniform in 1...this).")
    public var maxScanLength = 100

    @Option(help: "Puts per batch for bulkload and for the load phase.")
    public var batchSize = 1000

    @Option(help: "Series for the timeseries workload.")
    public var series = 100

    @Flag(help: "Skip loading --records before the run (the store already holds them).")
    public var noLoad = false

    @Flag(help: "Load --records through the engine's bulk ingest (sorted segment files, no WAL) instead of write batches (augur only).")
    public var ingest = false

    // MARK: rate
    @Option(help: ArgumentHelp("Rate profile: \(RateProfile.names.joined(separator: ", ")) (default: constant when --rate is given, else unthrottled).", valueName: "name"))
    public var profile: String?

    @Option(parsing: .unconditional, help: "Target ops/s: the constant rate, the start of a ramp, the base of a spike, the trough of diurnal, the floor of replay.")
    public var rate: Double?

    @Option(parsing: .unconditional, help: "Peak ops/s: the end of a ramp, the spike, the diurnal peak, the maximum of the rows a replay plays (the whole column with --operations).")
    public var peakRate: Double?

    @Option(parsing: .unconditional, help: "Ramp length, seconds (default: the whole run).")
    public var rampSeconds: Double?

    @Option(parsing: .unconditional, help: "Spike start, seconds from the start of the run.")
    public var spikeAt = 10.0

    @Option(parsing: .unconditional, help: "Spike length, seconds.")
    public var spikeSeconds = 5.0

    @Option(parsing: .unconditional, help: "Diurnal period, seconds (one compressed day).")
    public var period = 60.0

    @Option(help: "Replay: CSV file whose column becomes the rate curve.")
    public var csv: String?

    @Option(help: "Replay: CSV column.")
    public var column = "demand_mw"

    @Option(parsing: .unconditional, help: "Replay: seconds of run time per CSV row (time compression).")
    public var rowSeconds = 1.0

    @Option(help: "Replay: data rows to skip.")
    public var csvStartRow = 0

    @Option(help: ArgumentHelp("open (coordinated-omission corrected, needs a rate) or closed (default: open with a rate profile, else closed).", valueName: "mode"))
    public var loop: String?

    // MARK: run length
    @Option(name: [.short, .long], parsing: .unconditional, help: "Worker threads.")
    public var threads = 2

    @Option(name: [.short, .long], parsing: .unconditional, help: "Measured seconds after the warm-up (ignored with --operations).")
    public var duration = 30.0

    @Option(parsing: .unconditional, help: "Measured operations after the warm-up, instead of a duration.")
    public var operations: Int?

    @Option(parsing: .unconditional, help: "Warm-up seconds (run but not measured).")
    public var warmup = 5.0

    @Option(help: "Open loop: spin (yielding) this many microseconds before each intended start instead of sleeping through it (nanosleep overshoots by ~50-80 µs, which counts as latency).")
    public var spinUs = 0

    @Flag(help: "Reads take the value's length in place instead of a copy (Augur: Table.withValue; engines without one copy as before).")
    public var zeroCopyReads = false

    @Option(help: "Seconds per time-series sample.")
    public var sampleInterval = 1.0

    @Option(help: "Random seed (printed with the results).")
    public var seed: UInt64 = 42

    // MARK: engine
    @Option(help: ArgumentHelp("Engine: augur (the peers build adds lmdb and rocksdb).", valueName: "name"))
    public var engine = "augur"

    @Option(help: "Store directory (default: a temporary directory, removed afterwards).")
    public var dir: String?

    @Option(help: ArgumentHelp("Write durability: sync, periodic, none.", valueName: "mode"))
    public var durability = "periodic"

    @Option(help: "Sync interval for --durability periodic, milliseconds.")
    public var syncIntervalMs = 100

    @Option(help: "Memtable / write-buffer size, MiB.")
    public var memtableMb = 32

    @Option(help: "Augur: nice steps of the engine's background threads (flush, merge, reshard, WAL), 0...19; 0 runs them at the workers' priority.")
    public var backgroundNice = 10

    @Option(help: ArgumentHelp("Augur: CPUs the engine's background threads keep to: all (no restriction, the engine's default), auto (the last quarter of this process's CPUs, spread over all while the callers need them), or a list such as 1 or 2,3.", valueName: "cpus"))
    public var backgroundCpus = "all"

    @Option(help: ArgumentHelp("Partition policy: static (default), reactive or predictive (the engine's partitioning controller); set after the load phase. Not with `policies`, which runs each of --policies.", valueName: "name"))
    public var policy: String?

    @Option(help: ArgumentHelp("Augur: how the table places keys on partitions — range (default), hash[:B] (B buckets, default 16) or composite:P[:B] (range on the first P bytes, hash within).", valueName: "strategy"))
    public var strategy = "range"

    @Option(help: "Static policy: pre-split the key space into this many equal partitions (at most 1024).")
    public var partitions = 1
    /// The most partitions `--partitions` pre-splits.
    public static let maxPartitions = 1024

    @Option(help: "Operations per second one Augur partition sustains: what reactive and predictive plan with and what overload seconds are measured against under every policy (default: the engine's own capacity model).")
    public var capacity: Double?

    // MARK: output
    @Option(help: ArgumentHelp("Write the results as JSON to this file (- for standard output, replacing the table).", valueName: "path"))
    public var json: String?

    @Option(help: ArgumentHelp("Write a self-contained HTML report (inline SVG) to this file.", valueName: "path"))
    public var report: String?

    @Option(help: ArgumentHelp("Progress output: auto (a live line on a terminal, plain lines otherwise), live, plain, none.", valueName: "mode"))
    public var progress = "auto"

    @Option(help: "Seconds between plain progress lines.")
    public var progressInterval = 5.0

    public mutating func validate() throws {
        do {
            _ = try scenario()
        } catch {
            throw ValidationError(error.description)
        }
        if !["auto", "live", "plain", "none"].contains(progress) {
            throw ValidationError("invalid --progress \"\(progress)\"; valid modes: auto, live, plain, none")
        }
        // A store directory that is a file: `policies` printed Foundation's NSCocoaErrorDomain
        // dump for it (found from outside).
        if let dir, PosixFileSystem().fileExists(dir), !PosixFileSystem().isDirectory(dir) {
            throw ValidationError("--dir \(dir) exists and is not a directory")
        }
        // Where the results go is checked before a run of minutes, not when they are written:
        // a missing directory, or the replayed CSV itself (OutputFile refuses that too).
        for (flag, path) in [("--json", json), ("--report", report)] {
            guard let path, path != "-" else { continue }
            if path.isEmpty || path.hasSuffix("/") {
                throw ValidationError("\(flag) '\(path)' names no file")
            }
            let parent = parentDirectory(path)
            if !PosixFileSystem().isDirectory(parent) {
                throw ValidationError("\(flag) \(path): its directory \(parent) does not exist")
            }
            // A directory as --json used to fail only after the whole run (found from outside).
            if let refusal = OutputFile.refusal(for: path) {
                throw ValidationError("\(flag) \(path) is \(refusal); name a file")
            }
            if let csv, OutputFile.sameRegularFile(path, csv) {
                throw ValidationError("\(flag) \(path) is the --csv input file; refusing to write over it")
            }
        }
    }

    /// The run described by these options. Throws `WorkloadError` for bad values (unknown
    /// names, negative rates, a missing CSV file or column).
    public func scenario() throws(WorkloadError) -> Scenario {
        try scenario(policy: nil)
    }

    /// The run described by these options under `override` instead of --policy (the
    /// `policies` command): --partitions then pre-splits the static run only.
    public func scenario(policy override: PartitionPolicy?) throws(WorkloadError) -> Scenario {
        var spec = try WorkloadSpec.preset(workload, recordCount: UInt64(max(0, records)))
        if records < 1 || records > WorkloadLimits.maxRecords {
            throw .invalidOption(name: "records", value: String(records), reason: "must be in 1...\(WorkloadLimits.maxRecords)")
        }
        if let distribution {
            guard case .mixed = spec.kind else {
                throw .invalidOption(name: "distribution", value: distribution, reason: "workload \(workload) chooses its own keys")
            }
            spec.distribution = try Self.distribution(named: distribution, theta: zipfianConstant, hotKeys: hotKeys, hotOps: hotOps, hotSpeed: hotSpeed)
            if distribution.lowercased() == "sequential" || distribution.lowercased() == "hotspot" || distribution.lowercased() == "moving-hotspot" {
                spec.keyOrder = .ordered
            } else if spec.name != "fillseq" {
                spec.keyOrder = .hashed
            }
            spec.summary += " with \(spec.distribution.name) keys"
        } else {
            // Apply the skew parameters to the preset's distribution.
            switch spec.distribution {
            case .zipfian: spec.distribution = .zipfian(theta: zipfianConstant)
            case .latest: spec.distribution = .latest(theta: zipfianConstant)
            case .hotspot: spec.distribution = .hotspot(hotKeys: hotKeys, hotOps: hotOps)
            case .movingHotspot: spec.distribution = .movingHotspot(hotKeys: hotKeys, hotOps: hotOps, speed: hotSpeed)
            default: break
            }
        }
        switch keyOrder.lowercased() {
        case "auto": break
        case "hashed": spec.keyOrder = .hashed
        case "ordered": spec.keyOrder = .ordered
        default: throw .invalidOption(name: "key-order", value: keyOrder, reason: "valid orders: auto, hashed, ordered")
        }
        spec.keySize = keySize
        if ycsbFields && (fields < 1 || fields > 1024) {
            throw .invalidOption(name: "fields", value: String(fields), reason: "must be in 1...1024 fields")
        }
        if ycsbFields && (fieldLength < 0 || fieldLength > 16 << 20) {
            throw .invalidOption(name: "field-length", value: String(fieldLength), reason: "must be in 0...16777216 bytes")
        }
        spec.valueSize = ycsbFields ? fields * fieldLength : valueSize   // both bounded above: no overflow
        spec.maxScanLength = maxScanLength
        if case .bulkLoad = spec.kind { spec.kind = .bulkLoad(batchSize: batchSize) }
        if case .timeSeries = spec.kind { spec.kind = .timeSeries(series: series) }
        try spec.validate()
        if batchSize < 1 || batchSize > WorkloadLimits.maxBatchSize {
            throw .invalidOption(name: "batch-size", value: String(batchSize), reason: "must be in 1...\(WorkloadLimits.maxBatchSize)")
        }

        var config = RunConfiguration()
        config.threads = threads
        config.profile = try rateProfile()
        switch loop?.lowercased() {
        case nil: config.loop = config.profile.isThrottled ? .open : .closed
        case "open": config.loop = .open
        case "closed": config.loop = .closed
        default: throw .invalidOption(name: "loop", value: loop!, reason: "valid modes: open, closed")
        }
        config.warmupSeconds = warmup
        if let operations { config.stop = .operations(operations) } else { config.stop = .duration(seconds: duration) }
        config.sampleInterval = sampleInterval
        config.seed = seed
        config.zeroCopyReads = zeroCopyReads
        try config.validate()

        let pol: PartitionPolicy
        if let override {
            pol = override
        } else {
            let name = policy ?? PartitionPolicy.static.rawValue
            guard let named = PartitionPolicy(rawValue: name.lowercased()) else {
                throw .unknownPolicy(name, valid: PartitionPolicy.allCases.map(\.rawValue))
            }
            pol = named
        }
        // 1,024 at most: pre-splitting is one split after another (5,000 took 53 s and 1.1 GB
        // before a 1-second run, 65,536 did not finish), and no run here wants more.
        if partitions < 1 || partitions > Self.maxPartitions {
            throw .invalidOption(name: "partitions", value: String(partitions), reason: "must be in 1...\(Self.maxPartitions)")
        }
        if override == nil && pol != .static && partitions != 1 {
            throw .invalidOption(name: "partitions", value: String(partitions), reason: "pre-splitting applies to --policy static only")
        }
        let request = PartitionPolicyRequest(policy: pol, splitKeys: pol == .static ? spec.splitKeys(partitions: partitions) : [])

        if let capacity, !(capacity >= WorkloadLimits.minRate && capacity <= WorkloadLimits.maxRate) {
            throw .invalidOption(name: "capacity", value: String(capacity),
                                 reason: "must be positive and finite: \(WorkloadLimits.minRate)...\(Int(WorkloadLimits.maxRate)) operations per second per partition")
        }
        var engineConfig = EngineConfiguration()
        engineConfig.partitionCapacity = capacity
        engineConfig.directory = dir
        guard let d = EngineConfiguration.DurabilityMode(rawValue: durability.lowercased()) else {
            throw .invalidOption(name: "durability", value: durability, reason: "valid modes: sync, periodic, none")
        }
        engineConfig.durability = d
        if syncIntervalMs < 1 || syncIntervalMs > 3_600_000 {
            throw .invalidOption(name: "sync-interval-ms", value: String(syncIntervalMs), reason: "must be in 1...3600000 milliseconds")
        }
        engineConfig.syncIntervalMilliseconds = syncIntervalMs
        if memtableMb < 1 || memtableMb > 4096 { throw .invalidOption(name: "memtable-mb", value: String(memtableMb), reason: "must be in 1...4096") }
        engineConfig.memtableMiB = memtableMb
        if backgroundNice < 0 || backgroundNice > 19 { throw .invalidOption(name: "background-nice", value: String(backgroundNice), reason: "must be in 0...19") }
        engineConfig.backgroundNice = backgroundNice
        engineConfig.backgroundCPUs = try Self.parseBackgroundCPUs(backgroundCpus)
        guard let parsed = PartitioningStrategy(parsing: strategy.lowercased()) else {
            throw .invalidOption(name: "strategy", value: strategy, reason: "valid forms: range, hash, hash:B, composite:P, composite:P:B")
        }
        if let problem = parsed.problem { throw .invalidOption(name: "strategy", value: strategy, reason: problem) }
        if parsed.prefixLength > keySize {
            // Every key would be refused (keyTooShort): say so before the run, not per operation.
            throw .invalidOption(name: "strategy", value: strategy,
                                 reason: "a composite prefix of \(parsed.prefixLength) bytes is longer than the \(keySize)-byte keys (--key-size)")
        }
        engineConfig.strategy = parsed
        if case .hash(let buckets) = parsed, partitions > buckets {
            // A hash table is pre-split at bucket boundaries (equal bucket ranges): 100 over 16
            // buckets made 16 partitions while the note said "pre-split into 100 equal key ranges".
            throw .invalidOption(name: "partitions", value: String(partitions),
                                 reason: "\(strategy) pre-splits at bucket boundaries, so into at most \(buckets) partitions (one per bucket)")
        }
        try EngineRegistry.check(engine.lowercased())
        if spinUs < 0 || spinUs > 1_000_000 { throw .invalidOption(name: "spin-us", value: String(spinUs), reason: "must be in 0...1000000") }
        if !(progressInterval > 0 && progressInterval <= WorkloadLimits.maxSeconds) {
            throw .invalidOption(name: "progress-interval", value: String(progressInterval),
                                 reason: "must be a finite number of seconds in (0, \(Int(WorkloadLimits.maxSeconds))]")
        }
        if ingest && noLoad { throw .invalidOption(name: "ingest", value: "with --no-load", reason: "--ingest loads the records; --no-load skips loading") }
        var scenario = Scenario(spec: spec, config: config, policy: request, engine: engineConfig,
                                load: !noLoad && spec.recordCount > 0, loadBatchSize: batchSize)
        scenario.ingest = ingest
        return scenario
    }

    /// `--background-cpus`: auto, all, or CPU ids separated by commas (checked against this
    /// process's CPUs when the engine opens).
    static func parseBackgroundCPUs(_ text: String) throws(WorkloadError) -> BackgroundCPUs {
        switch text.lowercased() {
        case "auto": return .automatic
        case "all": return .unrestricted
        default:
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            var ids: [Int] = []
            for part in parts {
                guard let id = Int(part.trimmingCharacters(in: .whitespaces)), id >= 0, id < 1024 else {
                    throw .invalidOption(name: "background-cpus", value: text,
                                         reason: "must be auto, all, or CPU ids in 0...1023 separated by commas")
                }
                if ids.contains(id) {
                    throw .invalidOption(name: "background-cpus", value: text, reason: "names CPU \(id) twice")
                }
                ids.append(id)
            }
            // Checked here as a usage error (64): the engine's own refusal came only at its open (exit 1).
            let allowed = CPUAffinity.allowedCPUs()
            if !allowed.isEmpty, let outside = ids.first(where: { !allowed.contains($0) }) {
                throw .invalidOption(name: "background-cpus", value: text,
                                     reason: "CPU \(outside) is not one this process may run on (\(allowed.map(String.init).joined(separator: ", ")))")
            }
            return .cpus(ids)
        }
    }

    static func distribution(named name: String, theta: Double, hotKeys: Double, hotOps: Double, hotSpeed: Double) throws(WorkloadError) -> KeyDistribution {
        switch name.lowercased() {
        case "uniform": return .uniform
        case "zipfian": return .zipfian(theta: theta)
        case "latest": return .latest(theta: theta)
        case "hotspot": return .hotspot(hotKeys: hotKeys, hotOps: hotOps)
        case "moving-hotspot": return .movingHotspot(hotKeys: hotKeys, hotOps: hotOps, speed: hotSpeed)
        case "sequential": return .sequential
        default: throw .unknownDistribution(name, valid: KeyDistribution.names)
        }
    }

    /// Rate options the chosen profile does not use, said in the run's notes: `--profile
    /// constant --peak-rate 100` ran at --rate without a word, and a spike set after the run's
    /// end never came (found from outside).
    public var unusedRateOptions: [String] {
        let name = profileName
        var notes: [String] = []
        if name == "unthrottled" && rate != nil { notes.append("--rate is not used by profile unthrottled") }
        if (name == "unthrottled" || name == "constant") && peakRate != nil { notes.append("--peak-rate is not used by profile \(name)") }
        if name != "replay" && csv != nil { notes.append("--csv is used only by profile replay, not \(name)") }
        if name == "spike" && operations == nil && spikeAt >= warmup + duration {
            notes.append("the spike at \(formatNumber(spikeAt)) s starts after the run ends at \(formatNumber(warmup + duration)) s")
        }
        return notes
    }

    /// The rate profile run: --profile, else replay with --csv, constant with --rate, unthrottled.
    var profileName: String {
        profile?.lowercased() ?? (csv != nil ? "replay" : rate != nil ? "constant" : "unthrottled")
    }

    func rateProfile() throws(WorkloadError) -> RateProfile {
        func checkRate(_ name: String, _ v: Double?) throws(WorkloadError) {
            if let v, !v.isFinite || v < 0 { throw .invalidRate(name: name, value: v) }
        }
        try checkRate("rate", rate)
        try checkRate("peak-rate", peakRate)
        let name = profileName
        let runLength: Double = operations == nil ? warmup + duration : 60
        func need(_ v: Double?, _ flag: String) throws(WorkloadError) -> Double {
            guard let v else { throw .invalidOption(name: flag, value: "(missing)", reason: "profile \(name) needs --\(flag)") }
            return v
        }
        let p: RateProfile
        switch name {
        case "unthrottled":
            p = .unthrottled
        case "constant":
            p = .constant(try need(rate, "rate"))
        case "ramp":
            p = .ramp(from: rate ?? 0, to: try need(peakRate, "peak-rate"), seconds: rampSeconds ?? runLength)
        case "spike":
            let base = try need(rate, "rate")
            p = .spike(base: base, peak: peakRate ?? base * 5, at: spikeAt, seconds: spikeSeconds)
        case "diurnal":
            let peak = try need(peakRate, "peak-rate")
            p = .diurnal(low: rate ?? peak / 4, high: peak, periodSeconds: period)
        case "replay":
            guard let csv else { throw .invalidOption(name: "csv", value: "(missing)", reason: "profile replay needs --csv FILE (and --column)") }
            let peak = try need(peakRate, "peak-rate")
            // Scale the rows this run plays, not the whole column: `--peak-rate 60000` over a
            // day cut out of a year of data otherwise peaked at whatever share of the year's
            // maximum that day reached (~38k in make compare-replay's window). A run measured
            // by operations has no known length: the whole column then.
            p = .replay(try ReplayCurve.load(path: csv, column: column, secondsPerRow: rowSeconds, peakRate: peak,
                                             lowRate: rate, startRow: csvStartRow,
                                             scaledOverSeconds: operations == nil ? runLength : nil))
        default:
            throw .unknownProfile(profile ?? name, valid: RateProfile.names)
        }
        try p.validate()
        return p
    }
}
