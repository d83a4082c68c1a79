import AugurForecast
import AugurPlanner
import AugurStats
import AugurSys
import Logging

/// When a write is acknowledged relative to its WAL bytes reaching stable storage.
public enum Durability: Sendable, Equatable {
    /// Acknowledge after fdatasync of the WAL. Concurrent writers share one sync (group commit).
    case sync
    /// Acknowledge at once; a background task syncs the WAL every `interval`. A crash loses at
    /// most about one interval of writes.
    case periodic(Duration)
    /// Never sync on the write path (the OS writes back eventually; `close()` syncs).
    case none
}

/// What recovery may discard from the write-ahead log (RocksDB's `WALRecoveryMode` is the
/// model). A *torn tail* is a bad frame with nothing after it that proves it was once complete
/// and synced: a write that was in flight when the process died or the power went, so never
/// acknowledged. It is in the newest WAL segment, or in the one before it when that segment's
/// seal was still pending (then the newest, which nothing synced, is set aside with it; see
/// docs/FORMAT.md). Anything else — a bad frame before valid frames written after it was
/// synced, a bad frame before a seal, a bad frame in an older sealed segment, a missing,
/// truncated or extended segment — is *corruption*.
public enum WALRecoveryMode: String, Sendable, CaseIterable {
    /// Refuse to open on corruption *and* on a torn tail (every frame ever written must be
    /// intact). For stores closed cleanly, or when any loss must be looked at by a person.
    case absoluteConsistency = "absolute-consistency"
    /// The default. Drop a torn tail (its bytes are copied to `lost/` first and the drop is in
    /// `RecoveryReport.walTornTail`); refuse to open on corruption, with a typed error naming the
    /// file and offset. Never loses an acknowledged write without refusing.
    case tolerateTornTail = "tolerate-torn-tail"
    /// Recover to the last consistent point before the first corruption: replay stops there,
    /// and the rest of that segment and every later segment are moved to `lost/` (named in
    /// `RecoveryReport.walSetAside`). May discard acknowledged writes — for a person who has
    /// seen the corruption error and chooses to keep what is intact.
    case pointInTime = "point-in-time"

    /// Ends the reason of a refusal for damage to the log (not for an I/O failure, a newer
    /// format, or a torn tail a strict mode refuses): what the operator can choose instead.
    public static let pointInTimeAdvice =
        "a point-in-time recovery (WALRecoveryMode.pointInTime) keeps every write before the damage and moves the rest to lost/"
}

/// A source of engine time in nanoseconds. Pure modules take time as a parameter; the engine
/// takes it from here, so tests and simulations can run a day of load in seconds.
public protocol EngineClock: Sendable {
    /// Nanoseconds since an arbitrary fixed origin; never decreases.
    func now() -> UInt64
}

/// The monotonic system clock.
public struct SystemClock: EngineClock {
    public init() {}
    public func now() -> UInt64 { MonotonicClock.nanos() }
}

/// Named protocol steps where a crash test can stop the process (or a simulation can cut the
/// power). The crash harness fires them through `EngineOptions.crashPoint`.
@_spi(Testing) public enum CrashPoint: String, Sendable, CaseIterable {
    case walAppend = "wal.append"
    case walSync = "wal.sync"
    case walRoll = "wal.roll"
    case flushSegmentWritten = "flush.segment-written"
    case flushManifestCommitted = "flush.manifest-committed"
    case manifestAppend = "manifest.append"
    case manifestRotated = "manifest.rotated"
    case currentRenamed = "current.renamed"
    case reshardPrepared = "reshard.prepare"
    case reshardCopied = "reshard.copy"
    case reshardTargetsSynced = "reshard.target-fsync"
    case reshardDirectorySynced = "reshard.directory-fsync"
    case reshardCommitted = "reshard.commit"
    case reshardMapSwapped = "reshard.map-swap"
    case reshardRolledBack = "reshard.rollback"
    case obsoleteFileRemoved = "file.removed"
    case recoveryReplayed = "recovery.replayed"
    case indexBuildStarted = "index.build-started"
    case indexBuildWritten = "index.build-written"
    case indexBuildCommitted = "index.build-committed"
}

/// Options for `Engine.open`. Every number has its unit in its name or doc comment.
public struct EngineOptions: Sendable {
    /// The file system: `PosixFileSystem()` in production; fault-injecting or crash-simulating
    /// ones in tests.
    public var fileSystem: any FileSystem = PosixFileSystem()
    /// Create the directory and an empty store when missing. Default true.
    public var createIfMissing = true
    /// Open for reading only: recovery reads CURRENT, the manifest, the segments and the WAL
    /// and writes nothing — no LOCK taken or created, no new WAL segment, no torn tail cut, no
    /// file removed, no telemetry written — so it works on a read-only mount, a full disk and a
    /// store another process has open (it then sees that store as of its last synced writes).
    /// Every write, flush, reshard and index build throws `writesDisabled`. Default false.
    public var readOnly = false
    public var durability: Durability = .sync
    /// What WAL recovery may discard (see `WALRecoveryMode`). Default `.tolerateTornTail`.
    public var walRecovery: WALRecoveryMode = .tolerateTornTail
    /// Largest key in bytes. Default 4 KiB.
    public var maxKeySize = 4096
    /// Largest value in bytes. Default 16 MiB.
    public var maxValueSize = 16 << 20
    /// Size of each preallocated WAL segment file in bytes. Default 64 MiB. A write batch
    /// must fit in one segment.
    public var walSegmentSize = 64 << 20
    /// A partition's memtable is flushed to a segment when its arena exceeds this many bytes.
    /// Default 32 MiB.
    public var memtableFlushSize = 32 << 20
    /// Active-memtable bytes at which a writer waits for its partition's flush to take the
    /// memtable (a write stall, counted with its reason in `Engine.writeStalls`): what bounds a
    /// partition's memory when writes outpace flushing. nil (default): 4 × `memtableFlushSize`
    /// (at least 4 MiB: memtables are counted in whole arena chunks, 1 MiB past the first
    /// 336 KiB). Must be at least
    /// `memtableFlushSize`.
    public var writeStallMemtableBytes: Int? = nil
    /// Active-memtable bytes past which a partition's writers are slowed before they would
    /// stall: each write is then held to a rate that falls from the flushes' measured speed
    /// here to nothing at `writeStallMemtableBytes`, in sleeps of 1-2 ms (counted in
    /// `Engine.writeStalls.slowdowns`; see WritePacing.swift). nil (default): a third of the
    /// way from `memtableFlushSize` to the stall limit (2 × `memtableFlushSize` with the
    /// default limit and a flush size of at least 1 MiB). Must be in
    /// `memtableFlushSize`...`writeStallMemtableBytes`; equal to the stall limit, nothing is
    /// slowed.
    public var writeSlowdownMemtableBytes: Int? = nil
    /// Memtable bytes all partitions together may hold (active and frozen, index layers
    /// included) before the flush lane flushes the largest. nil (default): 8 ×
    /// `memtableFlushSize` (256 MiB). Without it memory grew with the partition count: every
    /// partition's memtable fills toward the flush size, and a store of hundreds of partitions
    /// held hundreds of them. Checked at every WAL roll, so it may be passed by about one WAL
    /// segment of writes; memtables are counted in whole arena chunks (16 KiB growing to 1 MiB),
    /// and an empty memtable's first chunk (16 KiB) is not counted. Must be at least
    /// `memtableFlushSize`.
    public var memtableBudgetBytes: Int? = nil
    /// WAL bytes the engine keeps before it flushes the partitions whose unflushed writes hold
    /// the oldest segment (RocksDB's `max_total_wal_size`). nil (default): 2 × the memtable
    /// budget, at least 4 WAL segments (512 MiB). Without it one put into a partition that was
    /// then left alone kept every later segment on disk, and a reopen replayed all of them.
    /// Checked at every roll; segments an earlier open made are counted at today's
    /// `walSegmentSize`. Must be at least 2 × `walSegmentSize` (the current segment and one
    /// sealed).
    public var maxWALBytes: Int? = nil
    /// The memory budget in effect (`memtableBudgetBytes` or its default).
    /// (A full memtable grows in 1 MiB arena chunks: the default is never under eight of them.)
    var effectiveMemtableBudget: Int { memtableBudgetBytes ?? Self.saturatingTimes(8, max(memtableFlushSize, Arena.chunkSize)) }
    /// The stall limit in effect (`writeStallMemtableBytes` or its default). A memtable's size is
    /// counted in whole arena chunks (16 KiB growing to 1 MiB): with a flush size below a chunk
    /// (tests, the crash harness) four flush sizes could be under the memtable's first chunks,
    /// and every write would wait for a flush.
    var effectiveWriteStallBytes: Int {
        writeStallMemtableBytes ?? Self.saturatingTimes(4, max(memtableFlushSize, Arena.chunkSize))
    }
    /// The slowdown mark in effect (`writeSlowdownMemtableBytes` or a third of the way from the
    /// flush size to the stall limit).
    var effectiveWriteSlowdownBytes: Int {
        let stall = effectiveWriteStallBytes
        return writeSlowdownMemtableBytes ?? memtableFlushSize + max(0, stall - memtableFlushSize) / 3
    }
    /// The WAL bound in effect (`maxWALBytes` or its default).
    var effectiveMaxWALBytes: Int {
        maxWALBytes ?? max(Self.saturatingTimes(2, effectiveMemtableBudget), Self.saturatingTimes(4, walSegmentSize))
    }

    /// `a × b`, or `Int.max` where that overflows (a huge flush size must not trap).
    static func saturatingTimes(_ a: Int, _ b: Int) -> Int {
        let (r, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? .max : r
    }
    /// Segment runs a partition may hold; a flush that would exceed it merges its memtable
    /// with the newest runs (`RunMergePolicy`: the fewest bytes written per run removed).
    /// Default 6: each run a get passes costs it one probe of the run's key filter, and each run
    /// more lets a partition's merges rewrite its bytes fewer times (10 M random puts: 4.7-5.1
    /// bytes written per byte put at 4 runs, 4.1-4.7 at 6; docs/PERFORMANCE.md, issue 19).
    public var maxRunsPerPartition = 6
    /// Steps by which the nice value of the engine's background threads — flushes and merges,
    /// reshards, the WAL's population of fresh segments — is raised above the opening thread's,
    /// each a thread of its own (`BackgroundLane`), in `0...19`; `0` runs them at the same
    /// priority. Default 10: a foreground thread that wakes while background work has the CPU
    /// gets it back at once instead of after the background thread's time slice (stalls of
    /// 4-15 ms of a writer on 2 cores), and background work still gets every idle cycle and
    /// about a tenth of a busy core. Work writers wait for (the WAL's seals and spare segments,
    /// its write-behind) keeps the writers' priority.
    public var backgroundNice = 10
    /// CPUs the engine's background threads keep to (`BackgroundCPUs`). Default
    /// `.unrestricted`. `.automatic` keeps them to the last quarter of the CPUs the opening
    /// thread may run on (the second of two), so a flush or a WAL step does not hold the CPU a
    /// caller's thread is running on for a tick, and spreads them over every CPU while the
    /// callers need those CPUs too (writers wait in slowdowns or stalls, or the lanes wait for
    /// a CPU longer than they run; `LanePlacement`). It lowers a one-thread writer's longest
    /// put, but is not the default: in the reshard bench the p99.9 during the split was 16-39×
    /// its baseline in three of six runs with it before a reshard spread the lanes; since, it
    /// is within 2× of the load's steady state in 8 of 12 runs, against 15 of 18 without it,
    /// and with flushes at twice the speed in all ten runs since, three of them with it
    /// (docs/PERFORMANCE.md, issue 19).
    public var backgroundCPUs: BackgroundCPUs = .unrestricted
    /// The placement of an engine's lanes, `backgroundCPUs` resolved against the calling
    /// (opening) thread's CPUs. `validate` has checked the list at open; should the kernel's set
    /// have changed since, the lanes run unrestricted rather than fail. Only `.automatic`
    /// adapts: its lanes spread over every CPU while writers wait for background work
    /// (`LanePlacement`); an explicit list is kept as given.
    func makeLanePlacement() -> LanePlacement {
        let allowed = CPUAffinity.allowedCPUs()
        let home = (try? backgroundCPUs.resolve(allowed: allowed)) ?? nil
        return LanePlacement(home: home, wide: allowed, adapts: backgroundCPUs == .automatic)
    }
    /// Records between sparse-index entries in a segment. Default 4: a point lookup then walks
    /// at most 3 records after the index search instead of 15 (readrandom, 1 M records, 1
    /// thread: +15-25 % over 16 in three alternating pairs), for an index of 2 bytes per record
    /// on disk and 2.5 more in memory (the key prefixes of `SegmentFile`, and its radix table
    /// over them, `PrefixRadix`: about 2 bytes per index entry, at most 16 MiB a file).
    public var segmentIndexInterval = 4
    /// The manifest is rewritten as a snapshot when it grows past this many bytes. Default 4 MiB.
    public var manifestRotationSize = 4 << 20
    /// Engine clock (telemetry windows, periodic sync bookkeeping).
    public var clock: any EngineClock = SystemClock()
    /// Called at every named protocol step; the crash harness kills the process from here.
    /// Testing only (`@_spi(Testing) import Augur`): not part of the release API.
    @_spi(Testing) public var crashPoint: (@Sendable (CrashPoint) -> Void)? = nil

    /// Automatic partitioning: policy, capacity model, controller tick, shadow mode.
    public var partitioning = PartitioningOptions()
    /// How a reshard gives its targets their data: `.shareFiles` (the default) makes each
    /// target's runs views of its sources' files bounded to the target's key range, so a split,
    /// merge or boundary move writes no data (the peers' way: CockroachDB and TiKV split a
    /// range by editing metadata); `.copy` writes every target's runs anew from byte ranges of
    /// the sources' (`rangeCopy`). Shared files are freed when every partition viewing them
    /// has merged its part into its own runs (see docs/ARCHITECTURE.md, Reshard executor).
    public var reshardData: ReshardDataMode = .shareFiles
    /// The copy-cost model the engine starts from (copy rate, per-reshard overhead; its data
    /// mode is set to `reshardData`), then refines with every committed reshard: e.g.
    /// `engine.reshardCostModel` of another store on this machine. nil: the defaults of
    /// `ReshardCostModel` (230 MiB/s, 0.5 s).
    public var reshardCostModel: ReshardCostModel? = nil
    /// How reshards copy byte ranges (`reshardData = .copy`): backend (`.auto` picks io_uring, then copy_file_range,
    /// then pread/pwrite, and logs why once), queue depth 16, 1 MiB chunks, chunks in the page
    /// cache copied out of it and the others read direct, targets written direct (see
    /// `RangeCopier.Options`); the executor fdatasyncs each target itself after writing its
    /// footer.
    public var rangeCopy = RangeCopier.Options(syncTargets: false)
    /// Workload telemetry (key histograms, sampled workload vectors, rolling windows).
    public var telemetry = TelemetryOptions()
    /// Secondary index builds: workers, their pinning and NUMA placement.
    public var indexBuild = IndexBuildOptions()
    /// Makes the engine's loggers, one per label: `augur.engine` (background errors),
    /// `augur.recovery` (what opening the store cut, removed or rolled back), `augur.reshard`
    /// (commits and aborts), `augur.build-workers` (index build workers that could not pin).
    /// Each carries the metadata `store` (the directory). Default: swift-log's
    /// `Logger(label:)`, which logs wherever the application bootstrapped `LoggingSystem`
    /// (standard error at `info` without a bootstrap); the engine never bootstraps it. Range
    /// copy fallbacks go to `RangeCopier.setLogger` (`augur.copy`, process-wide).
    public var makeLogger: @Sendable (_ label: String) -> Logger = { Logger(label: $0) }
    /// Debug-only planted bugs that the crash harness must catch (see `PlantedBug`).
    /// Testing only (`@_spi(Testing) import Augur`): a release user cannot switch on a bug.
    @_spi(Testing) public var plantedBug: PlantedBug? = nil
    /// The segment format version new runs are written in: 2 (the current), or 1 to make the
    /// files an engine older than segment version 2 wrote. Copying reshards of slices of both
    /// versions write version 2. Testing only (`@_spi(Testing) import Augur`).
    @_spi(Testing) public var segmentFormatVersion: UInt32 = 2

    public init() {}

    func validate() throws(AugurError) {
        func check(_ ok: Bool, _ name: String, _ value: Int, _ reason: String) throws(AugurError) {
            if !ok { throw .invalidOption(name: name, value: String(value), reason: reason) }
        }
        try check(maxKeySize >= 1 && maxKeySize <= 1 << 20, "maxKeySize", maxKeySize, "must be in 1...1048576")
        try check(maxValueSize >= 0 && maxValueSize <= 1 << 30, "maxValueSize", maxValueSize, "must be in 0...1073741824")
        try check(walSegmentSize >= 64 << 10, "walSegmentSize", walSegmentSize, "must be at least 65536")
        try check(walSegmentSize <= 1 << 30, "walSegmentSize", walSegmentSize, "must be at most 1073741824")
        try check(memtableFlushSize >= 4096, "memtableFlushSize", memtableFlushSize, "must be at least 4096")
        if let stall = writeStallMemtableBytes {
            try check(stall >= memtableFlushSize, "writeStallMemtableBytes", stall, "must be at least memtableFlushSize (\(memtableFlushSize))")
        }
        if let slowdown = writeSlowdownMemtableBytes {
            try check(slowdown >= memtableFlushSize, "writeSlowdownMemtableBytes", slowdown,
                      "must be at least memtableFlushSize (\(memtableFlushSize))")
            let stall = effectiveWriteStallBytes
            try check(slowdown <= stall, "writeSlowdownMemtableBytes", slowdown, "must be at most writeStallMemtableBytes (\(stall))")
        }
        if let budget = memtableBudgetBytes {
            try check(budget >= memtableFlushSize, "memtableBudgetBytes", budget, "must be at least memtableFlushSize (\(memtableFlushSize))")
        }
        if let wal = maxWALBytes {
            try check(wal >= 2 * walSegmentSize, "maxWALBytes", wal, "must be at least 2 × walSegmentSize (\(Self.saturatingTimes(2, walSegmentSize)))")
        }
        try check(maxRunsPerPartition >= 1, "maxRunsPerPartition", maxRunsPerPartition, "must be at least 1")
        try OptionLimits.int("backgroundNice", backgroundNice, 0...19)
        _ = try backgroundCPUs.resolve(allowed: CPUAffinity.allowedCPUs())
        try check(segmentIndexInterval >= 1, "segmentIndexInterval", segmentIndexInterval, "must be at least 1")
        try check(SegmentFormat.readableVersions.contains(segmentFormatVersion), "segmentFormatVersion",
                  Int(segmentFormatVersion), "must be in \(SegmentFormat.readableVersions)")
        try check(manifestRotationSize >= 1024, "manifestRotationSize", manifestRotationSize, "must be at least 1024")
        if let w = indexBuild.workers { try check(w >= 1 && w <= 1024, "indexBuild.workers", w, "must be in 1...1024") }
        try OptionLimits.interval("indexBuild.planningTimeLimit", indexBuild.planningTimeLimit)
        if let d = indexBuild.stealAfter { try OptionLimits.interval("indexBuild.stealAfter", d) }
        if case .periodic(let d) = durability, d <= .zero {
            throw .invalidOption(name: "durability", value: "\(d)", reason: "periodic interval must be positive")
        }
        if case .periodic(let d) = durability { try OptionLimits.interval("durability.periodic", d) }
        if telemetry.enabled { try telemetry.validate() }     // disabled: nothing reads them
        try partitioning.validate()
    }
}

/// Where the engine's background threads (flushes, merges, reshards, the WAL's lanes) may run.
public enum BackgroundCPUs: Sendable, Hashable {
    /// The last quarter (at least one) of the CPUs the opening thread may run on; no
    /// restriction when it may run on only one (`CPUAffinity.backgroundCPUs(amongAllowed:)`).
    case automatic
    /// Wherever the scheduler puts them (the opening thread's CPUs).
    case unrestricted
    /// Exactly these CPUs (the kernel's ids), each one the opening thread may run on.
    case cpus([Int])

    /// The CPUs for `BackgroundLane`, or nil for no restriction, given the CPUs the opening
    /// thread may run on (`allowed`; empty when the kernel would not say, which restricts
    /// nothing and accepts any list). Throws for an empty list, a repeated or negative id, or
    /// one outside `allowed`.
    public func resolve(allowed: [Int]) throws(AugurError) -> [Int]? {
        switch self {
        case .unrestricted: return nil
        case .automatic: return CPUAffinity.backgroundCPUs(amongAllowed: allowed)
        case .cpus(let list):
            let shown = "\(list)"
            guard !list.isEmpty else {
                throw .invalidOption(name: "backgroundCPUs", value: shown, reason: "must name at least one CPU")
            }
            if let bad = list.first(where: { $0 < 0 || $0 >= 1024 }) {
                throw .invalidOption(name: "backgroundCPUs", value: String(bad), reason: "must be a CPU id in 0...1023")
            }
            guard Set(list).count == list.count else {
                throw .invalidOption(name: "backgroundCPUs", value: shown, reason: "must not name a CPU twice")
            }
            if !allowed.isEmpty, let bad = list.first(where: { !allowed.contains($0) }) {
                throw .invalidOption(name: "backgroundCPUs", value: String(bad),
                                     reason: "must be one of the CPUs the opening thread may run on (\(allowed))")
            }
            return list.sorted()
        }
    }
}

/// Range checks behind `EngineOptions.validate()`. The nested options end in preconditions
/// (KeyPositionMap, KeyHistogram, WorkloadRecorder, WorkloadCollector, RollingWindow) or in
/// integer conversions of durations and nanosecond sums that trap on overflow; a caller's bad
/// number must be a typed error naming the option, the value and the limit instead.
enum OptionLimits {
    /// Longest timer interval or step (tick, collect, health file, periodic sync): one day.
    static let maxInterval: Duration = .seconds(86_400)
    /// Shortest: a millisecond (a timer firing more often would be a busy loop, not a tick).
    static let minInterval: Duration = .milliseconds(1)
    /// Longest horizon, cooldown or window: a year of nanoseconds (sums of these with engine
    /// time stay far from UInt64.max).
    static let maxNanos: UInt64 = 365 * 86_400 * 1_000_000_000

    static func int(_ name: String, _ v: Int, _ range: ClosedRange<Int>) throws(AugurError) {
        if !range.contains(v) { throw .invalidOption(name: name, value: String(v), reason: "must be in \(range.lowerBound)...\(range.upperBound)") }
    }

    /// `v` finite and in `range` (`(low, high]` when `lowExclusive`).
    static func double(_ name: String, _ v: Double, _ range: ClosedRange<Double>, lowExclusive: Bool = false) throws(AugurError) {
        let ok = v.isFinite && (lowExclusive ? v > range.lowerBound : v >= range.lowerBound) && v <= range.upperBound
        if !ok {
            let low = lowExclusive ? "(\(range.lowerBound)" : "[\(range.lowerBound)"
            throw .invalidOption(name: name, value: String(v), reason: "must be a finite number in \(low), \(range.upperBound)]")
        }
    }

    static func nanos(_ name: String, _ v: UInt64, min: UInt64 = 0) throws(AugurError) {
        if v < min || v > maxNanos { throw .invalidOption(name: name, value: String(v), reason: "must be in \(min)...\(maxNanos) nanoseconds") }
    }

    static func interval(_ name: String, _ d: Duration) throws(AugurError) {
        if d < minInterval || d > maxInterval {
            throw .invalidOption(name: name, value: "\(d)", reason: "must be between \(minInterval) and \(maxInterval)")
        }
    }
}

extension TelemetryOptions {
    func validate() throws(AugurError) {
        try OptionLimits.int("telemetry.histogram.bucketCount", histogram.bucketCount, 1...4096)
        try OptionLimits.int("telemetry.histogram.stripeCount", histogram.stripeCount, 0...64)
        try OptionLimits.int("telemetry.threadSlots.maxSlots", threadSlots.maxSlots, 1...64)
        try OptionLimits.int("telemetry.sampling.samplingPeriod", Int(sampling.samplingPeriod), 1...(1 << 30))
        try OptionLimits.int("telemetry.sampling.ringCapacity", sampling.ringCapacity, 2...(1 << 24))
        if collector.tiers.isEmpty {
            throw .invalidOption(name: "telemetry.collector.tiers", value: "[]", reason: "needs at least one window tier")
        }
        for (i, tier) in collector.tiers.enumerated() {
            try OptionLimits.nanos("telemetry.collector.tiers[\(i)].bucketNanos", tier.bucketNanos, min: 1)
            try OptionLimits.int("telemetry.collector.tiers[\(i)].bucketCount", tier.bucketCount, 1...1_000_000)
        }
        try OptionLimits.int("telemetry.collector.distinctClientPrecision", collector.distinctClientPrecision, 4...12)
        try OptionLimits.int("telemetry.collector.heavyHitterCapacity", collector.heavyHitterCapacity, 1...65536)
        try OptionLimits.nanos("telemetry.collector.heavyHitterEpochNanos", collector.heavyHitterEpochNanos, min: 1)
        try OptionLimits.double("telemetry.collector.singleKeyHotFraction", collector.singleKeyHotFraction, 0...1)
        try OptionLimits.double("telemetry.statistics.hotFactor", statistics.hotFactor, 1...1e9, lowExclusive: true)
        try OptionLimits.interval("telemetry.collectInterval", collectInterval)
        try OptionLimits.interval("telemetry.healthFileInterval", healthFileInterval)
    }
}

extension PartitioningOptions {
    func validate() throws(AugurError) {
        try OptionLimits.interval("partitioning.tick", tick)
        try OptionLimits.interval("partitioning.forecastStep", forecastStep)
        try OptionLimits.interval("partitioning.historySaveInterval", historySaveInterval)
        if nanoseconds(forecastStep) < nanoseconds(tick) {
            throw .invalidOption(name: "partitioning.forecastStep", value: "\(forecastStep)",
                                 reason: "must be at least one tick (\(tick)): a step averages whole samples")
        }
        try OptionLimits.interval("partitioning.forecastAlertWindow", forecastAlertWindow)
        let alertSteps = PartitionController.steps(of: forecastAlertWindow, step: UInt64(nanoseconds(forecastStep)))
        if alertSteps > 10_000 {
            throw .invalidOption(name: "partitioning.forecastAlertWindow", value: "\(forecastAlertWindow)",
                                 reason: "must be at most 10000 forecast steps of \(forecastStep) (is \(alertSteps))")
        }
        if seasonalPeriods.count > 2 {
            throw .invalidOption(name: "partitioning.seasonalPeriods", value: "\(seasonalPeriods)", reason: "at most two periods")
        }
        let step = UInt64(nanoseconds(forecastStep))
        for period in seasonalPeriods {
            let steps = PartitionController.steps(of: period, step: step)
            if period <= .zero || steps < 2 || steps > ForecastOptions.maximumPeriod {
                throw .invalidOption(name: "partitioning.seasonalPeriods", value: "\(period)",
                                     reason: "must be between 2 and \(ForecastOptions.maximumPeriod) forecast steps of \(forecastStep) (is \(steps))")
            }
        }
        if seasonalPeriods.count == 2,
           PartitionController.steps(of: seasonalPeriods[0], step: step) == PartitionController.steps(of: seasonalPeriods[1], step: step) {
            throw .invalidOption(name: "partitioning.seasonalPeriods", value: "\(seasonalPeriods)", reason: "the two periods must differ")
        }
        try capacity.validate(name: "partitioning.capacity")
        try policy.validate(name: "partitioning.policy")
        try Self.checkForecastHorizon(policy: policy, capacity: capacity, forecastStep: forecastStep, name: "partitioning.capacity")
    }

    /// The predictive policy forecasts each partition's load and the table's key distribution
    /// `capacity.horizonNanos` ahead in steps of `forecastStep`: at most
    /// `KeyShareOptions.maximumHorizon` (256) steps. Why a limit: beyond it the key-share
    /// forecast cannot be built (the policy would plan without it, silently), and each
    /// partition's load forecaster keeps every forecast it issued until it is scored — about
    /// 15 × steps² numbers (8 MB at 256 steps, 2 GB at 4096) per partition. `name` prefixes
    /// the option name in the error.
    static func checkForecastHorizon(policy: PlannerPolicy, capacity: CapacityModel, forecastStep: Duration,
                                     name: String) throws(AugurError) {
        guard case .predictive = policy else { return }
        // As the controller counts them (both values are within their limits here).
        let steps = PartitionController.horizonSteps(capacity.horizonNanos, step: UInt64(nanoseconds(forecastStep)))
        let limit = KeyShareOptions.maximumHorizon
        if steps > limit {
            throw .invalidOption(name: "\(name).horizonNanos", value: String(capacity.horizonNanos),
                                 reason: "must be at most \(limit) forecast steps of \(forecastStep) with the predictive policy (is \(steps) steps)")
        }
    }
}

extension CapacityModel {
    /// The planner's own checks (`validationErrors`) plus the limits that keep its arithmetic
    /// finite. `name` prefixes the option names in the error.
    func validate(name: String) throws(AugurError) {
        // Infinity is "no limit of this kind" (the measured default); NaN, zero, negative and
        // finite values past the bounds are errors.
        if opsPerSecond != .infinity { try OptionLimits.double("\(name).opsPerSecond", opsPerSecond, 0...1e12, lowExclusive: true) }
        if writeBytesPerSecond != .infinity {
            try OptionLimits.double("\(name).writeBytesPerSecond", writeBytesPerSecond, 0...1e15, lowExclusive: true)
        }
        if let costBudget { try OptionLimits.double("\(name).costBudget", costBudget, 0...64, lowExclusive: true) }
        try OptionLimits.double("\(name).highWatermark", highWatermark, 0...1, lowExclusive: true)
        try OptionLimits.double("\(name).lowWatermark", lowWatermark, 0...highWatermark, lowExclusive: true)
        if lowWatermark >= highWatermark {
            throw .invalidOption(name: "\(name).lowWatermark", value: String(lowWatermark), reason: "must be below highWatermark (\(highWatermark))")
        }
        if maxPartitionBytes == 0 || minPartitionBytes >= maxPartitionBytes {
            throw .invalidOption(name: "\(name).minPartitionBytes", value: String(minPartitionBytes),
                                 reason: "must be below maxPartitionBytes (\(maxPartitionBytes)), which must be positive")
        }
        try OptionLimits.nanos("\(name).horizonNanos", horizonNanos)
        try OptionLimits.nanos("\(name).cooldownNanos", cooldownNanos)
        try OptionLimits.int("\(name).maxConcurrentReshards", maxConcurrentReshards, 1...1024)
        if let problem = validationErrors().first {
            throw .invalidOption(name: name, value: "\(self)", reason: problem)
        }
    }
}

extension PlannerPolicy {
    func validate(name: String) throws(AugurError) {
        switch self {
        case .static: break
        case .reactive(let o):
            try OptionLimits.nanos("\(name).sustainNanos", o.sustainNanos)
            if o.smoothingNanos > 60_000_000_000 {
                throw .invalidOption(name: "\(name).smoothingNanos", value: String(o.smoothingNanos),
                                     reason: "must be in 0...60000000000 nanoseconds (at most a minute: a longer mean hides the overload it confirms)")
            }
            try OptionLimits.nanos("\(name).splitIntervalNanos", o.splitIntervalNanos)
            try OptionLimits.nanos("\(name).mergeWindowNanos", o.mergeWindowNanos)
            try OptionLimits.double("\(name).mergeFraction", o.mergeFraction, 0...1)
        case .predictive(let o):
            try OptionLimits.double("\(name).intervalLevel", o.intervalLevel, 0...1, lowExclusive: true)
            try OptionLimits.double("\(name).noIntervalMargin", o.noIntervalMargin, 0...1e6)
            try OptionLimits.int("\(name).currentSamples", o.currentSamples, 1...100_000)
            try OptionLimits.double("\(name).targetFill", o.targetFill, 0...1, lowExclusive: true)
            try OptionLimits.int("\(name).maxSplitWays", o.maxSplitWays, 2...1024)
            try OptionLimits.nanos("\(name).mergeWindowNanos", o.mergeWindowNanos)
            try OptionLimits.double("\(name).troughTolerance", o.troughTolerance, 0...1e6)
            try OptionLimits.double("\(name).hotKeyFraction", o.hotKeyFraction, 0...1)
            try OptionLimits.double("\(name).appendFraction", o.appendFraction, 0...1)
            try OptionLimits.int("\(name).precreateCount", o.precreateCount, 0...1024)
            try OptionLimits.nanos("\(name).splitIntervalNanos", o.splitIntervalNanos)
            try OptionLimits.nanos("\(name).sustainWithoutForecastNanos", o.sustainWithoutForecastNanos)
            try OptionLimits.double("\(name).splitProbability", o.splitProbability, 0...1, lowExclusive: true)
        }
    }
}

/// Known durability bugs that can be switched on so tests prove the crash harness notices
/// lost writes. Never set in production.
@_spi(Testing) public enum PlantedBug: String, Sendable, CaseIterable {
    /// Skip the directory fsync after renaming CURRENT into place.
    case skipCurrentDirectorySync = "skip-current-dir-sync"
    /// Acknowledge `sync` writes without syncing the WAL.
    case skipWALSync = "skip-wal-sync"
    /// Recovery takes any WAL checksum failure for a torn tail (corruption campaign).
    case corruptionAsTornTail = "corruption-as-torn-tail"
}

/// A clock that moves only when told to: for tests and simulations. Thread-safe.
public final class ManualClock: EngineClock, @unchecked Sendable {
    private let lock = PThreadMutex()
    private var nanos: UInt64
    public init(startNanos: UInt64 = 1_000_000_000) { nanos = startNanos }
    public func now() -> UInt64 { lock.withLock { nanos } }
    public func advance(by d: Duration) {
        let (s, a) = d.components
        lock.withLock { nanos &+= UInt64(s) &* 1_000_000_000 &+ UInt64(a / 1_000_000_000) }
    }
}
