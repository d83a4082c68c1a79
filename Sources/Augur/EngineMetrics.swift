// The engine's metrics (issue 17): counters, gauges and timers reported through swift-metrics
// to whatever backend the application bootstrapped (`MetricsSystem.bootstrap`; the engine never
// does, and without a backend the handles are no-ops), and kept here as plain values so that
// `Engine.metricsText()` and `<dir>/METRICS.prom` (MetricsSnapshot.swift) work with no backend.
// docs/METRICS.md lists every metric and where it is counted.
//
// Nothing on the per-operation path. Reads and writes are the partitions' key-histogram totals
// that telemetry keeps anyway (`Telemetry.operationTotals`), and overload, forecast error,
// write stalls and partitions are figures others already keep; all are read on the telemetry
// collector's tick (`refresh`) and the swift-metrics counters moved by the difference. Rare
// events are counted where they happen: a WAL fdatasync, a flush, the end of a reshard, a
// background error.
//
// Thread-safety: `Sendable`. The values sit under one mutex held only to update or copy them;
// swift-metrics handles are thread-safe.
import AugurStats
import AugurSys
import Metrics
import Synchronization

final class EngineMetrics: Sendable {
    let store: String
    private let dimensions: [(String, String)]
    private let values: Mutex<MetricsSnapshot>
    /// One gauge per table (dimension `table`), made when the table is first seen.
    private let partitionGauges = Mutex<[String: Gauge]>([:])

    private let writes, reads, writtenBytes, readBytes, flushedBytes, merges, boundFlushes: Counter
    private let reshardsCommitted, reshardsAborted, reshardCopiedBytes, reshardSharedBytes: Counter
    private let writeStalls, writeSlowdowns, backgroundErrors: Counter
    private let overloadSeconds, writeStallSeconds, writeSlowdownSeconds: FloatingPointCounter
    private let walSync, flush: Metrics.Timer
    private let forecastError: Gauge

    init(store: String) {
        self.store = store
        let d = [("store", store)]
        dimensions = d
        values = Mutex(MetricsSnapshot(store: store))
        writes = Counter(label: MetricName.writes, dimensions: d)
        reads = Counter(label: MetricName.reads, dimensions: d)
        writtenBytes = Counter(label: MetricName.writtenBytes, dimensions: d)
        readBytes = Counter(label: MetricName.readBytes, dimensions: d)
        flushedBytes = Counter(label: MetricName.flushedBytes, dimensions: d)
        merges = Counter(label: MetricName.merges, dimensions: d)
        boundFlushes = Counter(label: MetricName.boundFlushes, dimensions: d)
        reshardsCommitted = Counter(label: MetricName.reshardsCommitted, dimensions: d)
        reshardsAborted = Counter(label: MetricName.reshardsAborted, dimensions: d)
        reshardCopiedBytes = Counter(label: MetricName.reshardCopiedBytes, dimensions: d)
        reshardSharedBytes = Counter(label: MetricName.reshardSharedBytes, dimensions: d)
        writeStalls = Counter(label: MetricName.writeStalls, dimensions: d)
        writeSlowdowns = Counter(label: MetricName.writeSlowdowns, dimensions: d)
        backgroundErrors = Counter(label: MetricName.backgroundErrors, dimensions: d)
        overloadSeconds = FloatingPointCounter(label: MetricName.overloadSeconds, dimensions: d)
        writeStallSeconds = FloatingPointCounter(label: MetricName.writeStallSeconds, dimensions: d)
        writeSlowdownSeconds = FloatingPointCounter(label: MetricName.writeSlowdownSeconds, dimensions: d)
        walSync = Metrics.Timer(label: MetricName.walSync, dimensions: d, preferredDisplayUnit: .seconds)
        flush = Metrics.Timer(label: MetricName.flush, dimensions: d, preferredDisplayUnit: .seconds)
        forecastError = Gauge(label: MetricName.forecastError, dimensions: d)
    }

    // MARK: events, counted where they happen

    /// A WAL fdatasync returned after `nanos`.
    func walSynced(nanos: UInt64) {
        values.withLock { $0.walSyncs &+= 1; $0.walSyncNanos &+= nanos }
        walSync.recordNanoseconds(nanos)
    }

    /// A flush wrote one frozen memtable as a run of `bytes` (0: nothing left to write), merging
    /// existing runs into it when `merged`.
    func flushed(nanos: UInt64, bytes: UInt64, merged: Bool) {
        values.withLock {
            $0.flushes &+= 1
            $0.flushNanos &+= nanos
            $0.flushedBytes &+= bytes
            if merged { $0.merges &+= 1 }
        }
        flush.recordNanoseconds(nanos)
        flushedBytes.increment(by: bytes)
        if merged { merges.increment() }
    }

    /// The flush lane flushed `count` partitions for the log or memory bound (Flusher.enforceBounds).
    func boundsFlushed(_ count: Int) {
        guard count > 0 else { return }
        values.withLock { $0.boundFlushes &+= UInt64(count) }
        boundFlushes.increment(by: count)
    }

    /// The merge lane merged a partition's runs into one run of `bytes` (counted with the
    /// flushes' bytes written and merges).
    func mergedRuns(bytes: UInt64) {
        values.withLock {
            $0.flushedBytes &+= bytes
            $0.merges &+= 1
        }
        flushedBytes.increment(by: bytes)
        merges.increment()
    }

    /// A reshard ended: committed (having copied and shared those bytes) or aborted.
    func reshardFinished(committed: Bool, bytesCopied: Int, bytesShared: Int) {
        let copied = UInt64(max(0, bytesCopied)), shared = UInt64(max(0, bytesShared))
        values.withLock {
            if committed {
                $0.reshardsCommitted &+= 1
                $0.reshardCopiedBytes &+= copied
                $0.reshardSharedBytes &+= shared
            } else {
                $0.reshardsAborted &+= 1
            }
        }
        if committed {
            reshardsCommitted.increment()
            reshardCopiedBytes.increment(by: copied)
            reshardSharedBytes.increment(by: shared)
        } else {
            reshardsAborted.increment()
        }
    }

    func backgroundErrorRecorded() {
        values.withLock { $0.backgroundErrors &+= 1 }
        backgroundErrors.increment()
    }

    // MARK: figures kept elsewhere, read on the tick

    /// What the tick read: cumulative figures (the counters move by what they grew since the last
    /// refresh) and gauges.
    struct Reading {
        var operations: HistogramTotals?
        var overloadSeconds: Double?
        var forecastError: Double?
        var stalls: WriteStallStats
        var partitions: [String: Int]
    }

    /// Takes `reading` into the values and moves the swift-metrics handles by the growth.
    func refresh(_ reading: Reading) {
        let (before, after): (MetricsSnapshot, MetricsSnapshot) = values.withLock { v in
            let before = v
            // Two refreshes may race (the tick and `metricsSnapshot`): a reading older than the
            // values never moves them back, so no growth is counted twice.
            if let ops = reading.operations {
                let o = v.operations ?? HistogramTotals()
                v.operations = HistogramTotals(reads: max(o.reads, ops.reads), writes: max(o.writes, ops.writes),
                                               readBytes: max(o.readBytes, ops.readBytes), writeBytes: max(o.writeBytes, ops.writeBytes))
            }
            if let o = reading.overloadSeconds { v.overloadSeconds = max(v.overloadSeconds, o) }
            v.forecastError = reading.forecastError
            v.writeStalls = max(v.writeStalls, UInt64(max(0, reading.stalls.stalls)))
            v.writeStallNanos = max(v.writeStallNanos, reading.stalls.stalledNanos)
            v.writeSlowdowns = max(v.writeSlowdowns, UInt64(max(0, reading.stalls.slowdowns)))
            v.writeSlowdownNanos = max(v.writeSlowdownNanos, reading.stalls.slowedNanos)
            v.partitions = reading.partitions
            return (before, v)
        }
        /// Moves `counter` by `now - then` (nothing when it did not grow).
        func grow(_ counter: Counter, _ now: UInt64, _ then: UInt64) { if now > then { counter.increment(by: now - then) } }
        if let ops = after.operations {
            let old = before.operations ?? HistogramTotals()
            grow(writes, ops.writes, old.writes)
            grow(reads, ops.reads, old.reads)
            grow(writtenBytes, ops.writeBytes, old.writeBytes)
            grow(readBytes, ops.readBytes, old.readBytes)
        }
        if after.overloadSeconds > before.overloadSeconds { overloadSeconds.increment(by: after.overloadSeconds - before.overloadSeconds) }
        grow(writeStalls, after.writeStalls, before.writeStalls)
        if after.writeStallNanos > before.writeStallNanos {
            writeStallSeconds.increment(by: Double(after.writeStallNanos - before.writeStallNanos) / 1e9)
        }
        grow(writeSlowdowns, after.writeSlowdowns, before.writeSlowdowns)
        if after.writeSlowdownNanos > before.writeSlowdownNanos {
            writeSlowdownSeconds.increment(by: Double(after.writeSlowdownNanos - before.writeSlowdownNanos) / 1e9)
        }
        if let e = after.forecastError { forecastError.record(e) }
        partitionGauges.withLock { gauges in
            for (table, count) in after.partitions {
                let gauge = gauges[table] ?? Gauge(label: MetricName.partitions, dimensions: dimensions + [("table", table)])
                gauges[table] = gauge
                gauge.record(count)
            }
            for (table, gauge) in gauges where after.partitions[table] == nil {
                gauge.destroy()
                gauges[table] = nil
            }
        }
    }

    /// The values as of the last refresh and the events since.
    var snapshot: MetricsSnapshot { values.withLock { $0 } }

    /// Gives the handles back to the backend (at close).
    func destroy() {
        for c in [writes, reads, writtenBytes, readBytes, flushedBytes, merges, boundFlushes, reshardsCommitted, reshardsAborted,
                  reshardCopiedBytes, reshardSharedBytes, writeStalls, writeSlowdowns, backgroundErrors] { c.destroy() }
        overloadSeconds.destroy()
        writeStallSeconds.destroy()
        writeSlowdownSeconds.destroy()
        walSync.destroy()
        flush.destroy()
        forecastError.destroy()
        partitionGauges.withLock { gauges in
            for g in gauges.values { g.destroy() }
            gauges.removeAll()
        }
    }
}

extension Engine {
    /// The engine's metrics in the Prometheus text format (docs/METRICS.md): counters since
    /// open, gauges as of now. Needs no metrics backend; the same values go to swift-metrics.
    /// Operation counts need telemetry (`TelemetryOptions.enabled`).
    public func metricsText() -> String { metricsSnapshot().prometheusText }

    /// The engine's metric values now (what `metricsText()` renders).
    public func metricsSnapshot() -> MetricsSnapshot {
        let tables = allTables()
        // Fold the histograms now, as `partitionHealth` does, so the counts are not a tick old.
        if let telemetry, !isClosed { _ = telemetry.collect(partitions: tables.flatMap { $0.map.partitions }) }
        refreshMetrics(tables: tables)
        return metrics.snapshot
    }

    /// Reads what others count (operations, overload, forecast error, stalls, partitions) into
    /// the metrics. On the telemetry tick and when asked; never on an operation's path.
    func refreshMetrics(tables: [Table]) {
        let published = controller.map { c in c.published.withLock { $0 } }
        var partitions: [String: Int] = [:]
        for t in tables { partitions[t.name] = t.map.partitions.count }
        metrics.refresh(EngineMetrics.Reading(operations: telemetry?.operationTotals(), overloadSeconds: published?.overloadSeconds,
                                              forecastError: published?.forecastError, stalls: flusher.stallMeter.stats,
                                              partitions: partitions))
    }

    /// `<dir>/METRICS.prom`, replaced with a rename; not synced and never an error (advisory,
    /// like TELEMETRY.json).
    func writeMetricsFile() {
        try? fileSystem.replaceFile(at: joinPath(path, MetricsSnapshot.fileName), with: Array(metrics.snapshot.prometheusText.utf8),
                                    temporary: joinPath(path, MetricsSnapshot.fileName + ".tmp"))
    }
}
