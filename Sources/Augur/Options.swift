import AugurSys
#if canImport(Glibc)
import Glibc
#endif

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

/// A source of engine time in nanoseconds. Pure modules take time as a parameter; the engine
/// takes it from here, so tests and simulations can run a day of load in seconds.
public protocol EngineClock: Sendable {
    /// Nanoseconds since an arbitrary fixed origin; never decreases.
    func now() -> UInt64
}

/// The monotonic system clock.
public struct SystemClock: EngineClock {
    public init() {}
    public func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

/// Named protocol steps where a crash test can stop the process (or a simulation can cut the
/// power). The crash harness fires them through `EngineOptions.crashPoint`.
public enum CrashPoint: String, Sendable, CaseIterable {
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
    public var durability: Durability = .sync
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
    /// Segment runs a partition may hold before a flush merges them all into one. Default 4.
    public var maxRunsPerPartition = 4
    /// Records between sparse-index entries in a segment. Default 16.
    public var segmentIndexInterval = 16
    /// The manifest is rewritten as a snapshot when it grows past this many bytes. Default 4 MiB.
    public var manifestRotationSize = 4 << 20
    /// Engine clock (telemetry windows, periodic sync bookkeeping).
    public var clock: any EngineClock = SystemClock()
    /// Called at every named protocol step; the crash harness kills the process from here.
    public var crashPoint: (@Sendable (CrashPoint) -> Void)? = nil

    /// Automatic partitioning: policy, capacity model, controller tick, shadow mode.
    public var partitioning = PartitioningOptions()
    /// How reshards copy byte ranges: backend (`.auto` picks io_uring, then copy_file_range,
    /// then pread/pwrite, and logs why once), queue depth 16, 1 MiB chunks, chunks in the page
    /// cache copied out of it and the others read direct, targets written direct (see
    /// `RangeCopier.Options`); the executor fdatasyncs each target itself after writing its
    /// footer.
    public var rangeCopy = RangeCopier.Options(syncTargets: false)
    /// Workload telemetry (key histograms, sampled workload vectors, rolling windows).
    public var telemetry = TelemetryOptions()
    /// Secondary index builds: workers, their pinning and NUMA placement.
    public var indexBuild = IndexBuildOptions()
    /// Debug-only planted bugs that the crash harness must catch (see `PlantedBug`).
    public var plantedBug: PlantedBug? = nil

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
        try check(maxRunsPerPartition >= 1, "maxRunsPerPartition", maxRunsPerPartition, "must be at least 1")
        try check(segmentIndexInterval >= 1, "segmentIndexInterval", segmentIndexInterval, "must be at least 1")
        try check(manifestRotationSize >= 1024, "manifestRotationSize", manifestRotationSize, "must be at least 1024")
        if let w = indexBuild.workers { try check(w >= 1 && w <= 1024, "indexBuild.workers", w, "must be in 1...1024") }
        if case .periodic(let d) = durability, d <= .zero {
            throw .invalidOption(name: "durability", value: "\(d)", reason: "periodic interval must be positive")
        }
    }
}

/// Known durability bugs that can be switched on so tests prove the crash harness notices
/// lost writes. Never set in production.
public enum PlantedBug: String, Sendable, CaseIterable {
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
