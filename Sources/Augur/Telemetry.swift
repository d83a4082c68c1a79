// Workload telemetry inside the engine: every operation bumps its partition's KeyHistogram
// (relaxed, per-thread-striped counters) and offers a workload vector to the sampler; a
// collector tick on a background queue drains the sampled vectors, feeds exact per-partition
// totals into rolling windows, and periodically writes partition health to
// <dir>/TELEMETRY.json so `augur stats` can read it without opening (and locking) the store.
//
// Hot-path cost: one thread-local load for the thread's slot (a C `__thread` cache in front of
// the pthread key), one histogram update (~5 ns), one sampler countdown (~4 ns), one relaxed
// load of the coarse clock. No allocation, no call into libc.
import AugurStats
import CAugurSys
import AugurSys
import Dispatch
import Synchronization

/// Telemetry knobs. Every number has its unit in its name or doc comment.
public struct TelemetryOptions: Sendable {
    /// Record telemetry on every operation. Default true.
    public var enabled = true
    /// Buckets and per-thread stripes of each partition's key histogram.
    public var histogram = HistogramOptions()
    /// Threads that get a private histogram stripe and sampler ring (the rest share one).
    public var threadSlots = ThreadSlotOptions()
    /// Workload-vector sampling: mean period (1 in N operations), ring capacity.
    public var sampling = SamplingOptions()
    /// Rolling windows (1 s × 300, 1 min × 60, 15 min × 96), heavy hitters, client sketches.
    public var collector = CollectorOptions()
    /// How often the collector drains samples and folds exact counters. Default 100 ms.
    public var collectInterval: Duration = .milliseconds(100)
    /// How often partition health is written to `<dir>/TELEMETRY.json`. Default 5 s.
    public var healthFileInterval: Duration = .seconds(5)
    /// Hot-range threshold: buckets above this multiple of the mean load. Default 2.
    public var statistics = LoadStatisticsOptions()
    /// Hot keys are reported only once the sketch has seen at least this many (weighted)
    /// operations of the partition: a handful of samples proves nothing. Default 1,000.
    public var minimumOperationsForHotKeys: UInt64 = 1000

    public init() {}
}

/// One rolling window of a partition's load.
public struct WindowHealth: Sendable, Codable, Equatable {
    /// "5m", "1h" or "1d".
    public var window: String
    public var coveredSeconds: Double
    public var operationsPerSecond: Double
    public var storesPerSecond: Double
    public var retrievesPerSecond: Double
    public var deletesPerSecond: Double
    public var scansPerSecond: Double
    public var bytesPerSecond: Double
    /// Reads / (reads + writes); nil without operations.
    public var readFraction: Double?
    /// Estimated distinct clients (threads) in the window's sampled operations.
    public var distinctClients: Double
    /// True when the counts came from exact counters rather than samples.
    public var exact: Bool
}

/// A contiguous key range carrying more than its share of a partition's load.
public struct HotRangeHealth: Sendable, Codable, Equatable {
    public var lowerBound: [UInt8]
    public var upperBound: [UInt8]?
    /// Fraction of the partition's operations in this range.
    public var loadFraction: Double
    /// Peak bucket load over the mean bucket load.
    public var peakToMean: Double
}

/// A key the heavy-hitter sketch saw often (identified by its first 8 bytes and a hash).
public struct HotKeyHealth: Sendable, Codable, Equatable {
    public var keyPrefix: [UInt8]
    public var keyHash: UInt64
    /// Estimated fraction of the partition's sampled operations, and the guaranteed lower bound.
    public var loadFraction: Double
    public var guaranteedLoadFraction: Double
    /// A single key hot enough that no split can spread its load.
    public var isHotKey: Bool
}

/// What `Engine.partitionHealth(table:)` reports for one partition.
public struct PartitionHealth: Sendable, Codable, Equatable {
    public var table: String
    public var id: UInt64
    public var lowerBound: [UInt8]
    public var upperBound: [UInt8]?
    /// Bytes in segments plus memtable bytes.
    public var bytes: Int
    /// Records in segments plus keys in memtables.
    public var records: Int
    public var segmentCount: Int
    public var windows: [WindowHealth]
    /// Max bucket load over mean bucket load (1 = even).
    public var skew: Double
    /// Shannon entropy of the bucket loads normalised to [0, 1] (1 = even).
    public var entropy: Double
    public var hotRanges: [HotRangeHealth]
    public var hotKeys: [HotKeyHealth]
    /// The key that splits the partition's load in half (histogram estimate), if any load.
    public var medianKey: [UInt8]?
    /// Operations per histogram bucket since the partition was created (or inherited).
    public var bucketOperations: [UInt64]
    /// Build state of each secondary index's part in this partition.
    public var indexes: [IndexPartitionStatus] = []
}

/// The file `augur stats` reads.
public struct TelemetryFile: Sendable, Codable, Equatable {
    /// Engine-clock time of the snapshot, nanoseconds.
    public var engineTime: UInt64
    public var partitions: [PartitionHealth]
    /// Ranges planned by the reactive rules right now because their forecast intervals stopped
    /// covering (absent in files written before it existed, and without a controller).
    public var forecastFallbacks: [ForecastFallback]?
    public static let name = "TELEMETRY.json"
}

/// Per-thread telemetry identity, kept in thread-specific storage as a plain cell (no
/// reference counting on the hot path). The cell holds a +1 reference to the registry, given
/// back with the slot when the thread exits — or when its `Telemetry` goes first (see
/// `liveTelemetryCells`).
struct ThreadTelemetryCell {
    let slot: StatsSlot
    let clientID: UInt64
    let registry: Unmanaged<StatsSlotRegistry>
}

/// Source of `Telemetry.instanceID`: ids are never reused, so a thread's cached cell can never
/// be mistaken for the cell of a later engine (0 marks an empty cache entry).
private let nextTelemetryInstanceID = Atomic<UInt64>(1)

/// Every cell not yet freed: its address → the `instanceID` of the `Telemetry` it belongs to.
/// A cell is freed exactly once, by whoever removes it from here: the thread-exit destructor, or
/// the owning `Telemetry`'s deinit for threads still alive then (`pthread_key_delete` runs no
/// destructors, so without this their cells — and the registry each one retains — would leak with
/// every engine opened and dropped). Keyed by address *and* instance, because a freed cell's
/// address can be reused for another instance's cell. Touched only when a thread first records
/// for an engine, at thread exit and at deinit: never on the hot path.
private let liveTelemetryCells = Mutex<[UInt: UInt64]>([:])

/// Gives back everything a cell holds and frees it. The caller has just removed it from
/// `liveTelemetryCells`, so no one else can.
private func freeTelemetryCell(_ raw: UnsafeMutableRawPointer) {
    let cell = raw.assumingMemoryBound(to: ThreadTelemetryCell.self)
    if cell.pointee.slot.isRegistered { cell.pointee.registry.takeUnretainedValue().release(cell.pointee.slot) }
    cell.pointee.registry.release()
    cell.deinitialize(count: 1)
    cell.deallocate()
}

extension Engine {
    /// Identifies this engine's telemetry among the per-thread cells (nil without telemetry).
    @_spi(Testing) public var telemetryInstanceID: UInt64? { telemetry?.instanceID }

    /// Per-thread telemetry cells of the engine with that id still allocated (tests: closing and
    /// dropping an engine frees the cells of threads that are still alive).
    @_spi(Testing) public static func telemetryThreadCells(instance: UInt64) -> Int {
        liveTelemetryCells.withLock { $0.values.filter { $0 == instance }.count }
    }

    /// Returns once the WAL's background work queued so far (a rolled segment's seal, the next
    /// segment made ahead) has run: the fault matrix attributes faults to operations.
    @_spi(Testing) public func drainWALBackground() { wal.drainBackground() }

    /// Returns once the reshards, flushes and merges queued so far have run (tests: a queued
    /// flush holds its partition, and with it the files it reads, until it has run — on a
    /// thread of lower priority that can be a while on a busy machine).
    @_spi(Testing) public func drainBackgroundWork() {
        reshards.queue.sync {}
        flusher.drain()
        wal.drainBackground()
        ReadEpochs.shared.drain()
    }

    /// Runs `job` on the maintenance lane after what is queued there (tests: a job that waits
    /// holds every flush back, as a long merge does).
    @_spi(Testing) public func enqueueMaintenance(_ job: @escaping @Sendable () -> Void) { flusher.queue.async(job) }

    /// Runs `job` on the merge lane after what is queued there (tests: a job that waits holds
    /// every merge the flushes leave to the lane back, as a long merge does).
    @_spi(Testing) public func enqueueMergeLaneJob(_ job: @escaping @Sendable () -> Void) { flusher.mergeQueue.async(job) }

    /// Runs `hook` on the merge lane between each merge's write and its commit (tests: a slow
    /// merge); nil removes it.
    @_spi(Testing) public func setBeforeMergeCommit(_ hook: (@Sendable () -> Void)?) { flusher.beforeMergeCommit.withLock { $0 = hook } }

    /// Returns once the flushes queued so far have run (not the merges they leave).
    @_spi(Testing) public func drainFlushLane() { flusher.queue.sync {} }

    /// Nanoseconds of maintenance charged so far to each partition of `table`, in key order
    /// (tests: when a flush's work reaches the partition's cost).
    @_spi(Testing) public func maintenanceNanos(table name: String) throws(AugurError) -> [UInt64] {
        try table(named: name).map.partitions.map { $0.cost.totals().maintenance }
    }
}

/// Thread-safety: immutable after init (only `let`s); what it points to is thread-safe itself
/// (atomics, slot registry, recorder, collector; per-thread cells through `exitSlot`).
final class Telemetry: @unchecked Sendable {
    let options: TelemetryOptions
    let registry: StatsSlotRegistry
    let recorder: WorkloadRecorder
    let collector: WorkloadCollector
    let clock: any EngineClock
    /// Engine time refreshed by the collector tick: the hot path reads it instead of a clock.
    let coarseNow: Atomic<UInt64>
    // A `let`: a class's stored `var` would pay a dynamic exclusivity check on every access.
    /// Each thread's cell, given back at thread exit; nil when the process is out of
    /// thread-specific keys — then every thread records through `sharedCell`, unregistered
    /// (allocated only in that case).
    private let exitSlot: ThreadExitSlot?
    private let sharedCell: UnsafeMutablePointer<ThreadTelemetryCell>?
    /// Key of this instance in the thread-local cell cache (`caugur_telemetry_cached_cell`).
    let instanceID: UInt64
    /// Operations since open over every partition, gone ones included (`operationTotals`).
    private let operations = Mutex<OperationFold>(OperationFold())

    init(options: TelemetryOptions, clock: any EngineClock) {
        self.options = options
        self.clock = clock
        registry = StatsSlotRegistry(options: options.threadSlots)
        recorder = WorkloadRecorder(slots: registry, options: options.sampling)
        collector = WorkloadCollector(options: options.collector)
        coarseNow = Atomic(clock.now())
        instanceID = nextTelemetryInstanceID.wrappingAdd(1, ordering: .relaxed).oldValue
        // Thread exit gives the thread's slot back.
        exitSlot = ThreadExitSlot { value in
            guard let value else { return }
            // Runs on the exiting thread: drop its cached pointer before the cell is freed, in
            // case another thread-exit destructor still records.
            caugur_telemetry_forget_cell(value)
            // Not dereferenced before it is ours: a deinit racing this exit may have freed it.
            let ours = liveTelemetryCells.withLock { $0.removeValue(forKey: UInt(bitPattern: value)) != nil }
            if ours { freeTelemetryCell(value) }
        }
        if exitSlot == nil {
            let shared = UnsafeMutablePointer<ThreadTelemetryCell>.allocate(capacity: 1)
            shared.initialize(to: ThreadTelemetryCell(slot: .unregistered, clientID: 0, registry: Unmanaged.passRetained(registry)))
            sharedCell = shared
        } else {
            sharedCell = nil
        }
    }

    deinit {
        // No destructor starts for this key after the delete; cells of threads still alive are
        // freed here (their cached pointers stay in those threads' caches under this instance's
        // id, which is never asked for again).
        exitSlot?.delete()
        let id = instanceID
        let mine: [UInt] = liveTelemetryCells.withLock { cells in
            let addresses = cells.filter { $0.value == id }.map(\.key)
            for a in addresses { cells.removeValue(forKey: a) }
            return addresses
        }
        for a in mine { freeTelemetryCell(UnsafeMutableRawPointer(bitPattern: a)!) }
        if let sharedCell { freeTelemetryCell(UnsafeMutableRawPointer(sharedCell)) }
    }

    /// The calling thread's cell: a thread-local load and compare when this instance was the
    /// last one the thread used, else the pthread key (`threadSlow`).
    @inline(__always)
    private func thread() -> UnsafePointer<ThreadTelemetryCell> {
        if let p = caugur_telemetry_cached_cell(instanceID) {
            return UnsafePointer(p.assumingMemoryBound(to: ThreadTelemetryCell.self))
        }
        return threadSlow()
    }

    @inline(never)
    private func threadSlow() -> UnsafePointer<ThreadTelemetryCell> {
        let raw: UnsafeMutableRawPointer
        guard let exitSlot else {
            let shared = sharedCell!            // allocated at init exactly when exitSlot is nil
            caugur_telemetry_cache_cell(instanceID, UnsafeMutableRawPointer(shared))
            return UnsafePointer(shared)
        }
        if let p = exitSlot.value {
            raw = p
        } else {
            let cell = UnsafeMutablePointer<ThreadTelemetryCell>.allocate(capacity: 1)
            cell.initialize(to: ThreadTelemetryCell(slot: registry.acquire() ?? .unregistered,
                                                    clientID: UInt64(currentThreadID()),
                                                    registry: Unmanaged.passRetained(registry)))
            let id = instanceID
            liveTelemetryCells.withLock { $0[UInt(bitPattern: cell)] = id }
            exitSlot.setValue(cell)
            raw = UnsafeMutableRawPointer(cell)
        }
        caugur_telemetry_cache_cell(instanceID, raw)
        return UnsafePointer(raw.assumingMemoryBound(to: ThreadTelemetryCell.self))
    }

    /// The hot path: histogram counters, the operation's cost (`costNanos`: wall time from
    /// routing to done, lock waits included) plus a sampled workload vector.
    @inline(__always)
    func record(_ type: OperationType, _ partition: Partition, key: UnsafeRawBufferPointer, bytes: Int, costNanos: UInt64) {
        let t = thread().pointee
        partition.cost.add(.foreground, nanos: costNanos, slot: t.slot)
        // Spelled out rather than `type.histogramAccess`: the cross-module getter was not
        // inlined (a call per operation).
        let access: HistogramAccess = (type == .retrieve || type == .scan) ? .read : .write
        partition.histogram.record(access, key: key, bytes: UInt64(bytes), slot: t.slot)
        recorder.record(type, partition: partition.id, key: key, timestamp: coarseNow.load(ordering: .relaxed),
                        clientID: t.clientID, bytes: UInt64(bytes), slot: t.slot)
    }

    /// Starts a partition's exact-counter series at its current totals (zero for a new
    /// partition; the inherited counts for a split child, which are not new traffic).
    func register(_ partitions: [Partition]) {
        let now = clock.now()
        for p in partitions {
            collector.observeCumulativeTotals(partition: p.id, totals: p.histogram.totals(), timestamp: now)
        }
    }

    /// One collector tick: refresh the coarse clock, drain samples, fold exact totals.
    func collect(partitions: [Partition]) -> UInt64 {
        let now = clock.now()
        coarseNow.store(now, ordering: .relaxed)
        _ = collector.drain(recorder)
        var totals: [(Partition, HistogramTotals)] = []
        totals.reserveCapacity(partitions.count)
        for p in partitions {
            let t = p.histogram.totals()
            collector.observeCumulativeTotals(partition: p.id, totals: t, timestamp: now)
            totals.append((p, t))
        }
        operations.withLock { fold in for (p, t) in totals { fold.add(p, t) } }
        return now
    }

    /// Reads, writes and their bytes since open over every partition, as of the last `collect`
    /// (or the departure of a partition): exact — each partition counts what its histogram grew
    /// beyond `initialTotals`, so a reshard's inherited counts are not counted twice.
    func operationTotals() -> HistogramTotals { operations.withLock { $0.sum } }

    /// A partition leaves (its table was dropped): its last counts are folded in, then forgotten.
    func remove(_ p: Partition) {
        let t = p.histogram.totals()
        operations.withLock { $0.add(p, t); $0.remove(p.id) }
        collector.removePartition(p.id)
    }

    /// Targets of a reshard inherit each source's window history in proportion to the share of
    /// that source's histogram load falling in the target's range; the sources' history is then
    /// dropped.
    func inherit(children: [Partition], fromAll parents: [Partition]) {
        let now = clock.now()
        for child in children {
            var shares: [PartitionShare] = []
            for parent in parents {
                let overlapsParent = (parent.upperBound.map { compareKeys(child.lowerBound, $0) < 0 } ?? true)
                    && (child.upperBound.map { compareKeys(parent.lowerBound, $0) < 0 } ?? true)
                guard overlapsParent else { continue }
                let total = Double(parent.histogram.totals().operations)
                // The part of the parent's histogram inside the child's range.
                var inside = parent.histogram
                if compareKeys(child.lowerBound, parent.lowerBound) > 0 { inside = inside.split(at: child.lowerBound).1 }
                if let upper = child.upperBound, parent.upperBound.map({ compareKeys(upper, $0) < 0 }) ?? true {
                    inside = inside.split(at: upper).0
                }
                let share = total > 0 ? Double(inside.totals().operations) / total : 1.0 / Double(children.count)
                shares.append(PartitionShare(partition: parent.id, share: share))
            }
            collector.inherit(child: child.id, from: shares, now: now)
        }
        for parent in parents { remove(parent) }
        register(children)
    }

    func health(table: String, partition p: Partition, now: UInt64) -> PartitionHealth {
        let v = p.view
        let memBytes = v.memtableBytes, memRecords = v.memtableRecords
        let snapshot = p.histogram.snapshot()
        let names = ["5m", "1h", "1d"]
        var windows: [WindowHealth] = []
        if let w = collector.workload(partition: p.id, now: now) {
            for (i, rates) in w.windows.enumerated() {
                let o = rates.operationsPerSecond
                windows.append(WindowHealth(
                    window: i < names.count ? names[i] : "tier\(i)",
                    coveredSeconds: Double(rates.coveredNanos) / 1e9,
                    operationsPerSecond: rates.readsPerSecond + rates.writesPerSecond,
                    storesPerSecond: o.store + o.modify, retrievesPerSecond: o.retrieve,
                    deletesPerSecond: o.delete, scansPerSecond: o.scan,
                    bytesPerSecond: rates.bytesPerSecond, readFraction: rates.readFraction,
                    distinctClients: rates.distinctClients, exact: rates.countsAreExact))
            }
        }
        var hotKeys: [HotKeyHealth] = []
        if let report = collector.heavyHitters(partition: p.id, now: now, top: 5),
           report.totalWeight >= options.minimumOperationsForHotKeys {
            for h in report.hitters {
                var prefix = [UInt8](repeating: 0, count: 8)
                for i in 0..<8 { prefix[i] = UInt8(truncatingIfNeeded: h.keyPrefix >> (56 - 8 * UInt64(i))) }
                while prefix.last == 0 { prefix.removeLast() }
                hotKeys.append(HotKeyHealth(keyPrefix: prefix, keyHash: h.keyHash, loadFraction: h.loadFraction,
                                            guaranteedLoadFraction: h.guaranteedLoadFraction, isHotKey: h.isHotKey))
            }
        }
        let buckets = zip(snapshot.reads, snapshot.writes).map { $0 &+ $1 }
        let hot = snapshot.hotRanges(metric: .operations, options: options.statistics).map {
            HotRangeHealth(lowerBound: $0.interval.lower, upperBound: $0.interval.upper,
                           loadFraction: $0.loadFraction, peakToMean: $0.peakToMean)
        }
        return PartitionHealth(
            table: table, id: p.id, lowerBound: p.lowerBound, upperBound: p.upperBound,
            bytes: v.runs.reduce(0) { $0 + $1.storedBytes } + memBytes,
            records: v.runs.reduce(0) { $0 + $1.recordCount } + memRecords, segmentCount: v.runs.count,
            windows: windows, skew: snapshot.skew(metric: .operations),
            entropy: snapshot.entropy(metric: .operations).normalized, hotRanges: hot, hotKeys: hotKeys,
            medianKey: snapshot.quantile(0.5, metric: .operations)?.estimate, bucketOperations: buckets)
    }
}

extension Table {
    /// The engine's `drainBackgroundWork` (tests that hold only the table).
    @_spi(Testing) public func drainBackgroundWork() { engine.drainBackgroundWork() }
}

/// The engine-wide operation totals and each live partition's totals when last folded.
struct OperationFold {
    var sum = HistogramTotals()
    var seen: [UInt64: HistogramTotals] = [:]
    /// Partitions removed: a collect that listed one before it went must not count it again from
    /// its initial totals (ids are never reused; 8 bytes a reshard source).
    var gone: Set<UInt64> = []

    mutating func remove(_ id: UInt64) {
        seen[id] = nil
        gone.insert(id)
    }

    /// Adds what `p`'s histogram grew to `totals` since it was last folded (or made).
    mutating func add(_ p: Partition, _ totals: HistogramTotals) {
        if gone.contains(p.id) { return }
        let base = seen[p.id] ?? p.initialTotals
        seen[p.id] = totals
        if let grown = totals.growth(since: base) { sum += grown }
    }
}
