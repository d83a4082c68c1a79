// The engine's metric values at one moment, and their text exposition: the Prometheus text
// format (version 0.0.4) that `Engine.metricsText()` returns, `<dir>/METRICS.prom` holds and
// `augur stats --metrics` prints. Every metric is named in `MetricName` and described once, in
// `MetricsSnapshot.families` (docs/METRICS.md lists them with where each is counted).
//
// Pure values: no locks, no I/O. Thread-safety: a value type.
import AugurStats

/// The names of the engine's metrics, shared by the swift-metrics handles (EngineMetrics.swift)
/// and the text exposition. Every one carries the label `store` (the store's directory).
public enum MetricName {
    public static let writes = "augur_writes_total"
    public static let reads = "augur_reads_total"
    public static let writtenBytes = "augur_written_bytes_total"
    public static let readBytes = "augur_read_bytes_total"
    public static let walSync = "augur_wal_sync_seconds"
    public static let flush = "augur_flush_seconds"
    public static let flushedBytes = "augur_flushed_bytes_total"
    public static let merges = "augur_merges_total"
    public static let boundFlushes = "augur_bound_flushes_total"
    public static let reshardsCommitted = "augur_reshards_committed_total"
    public static let reshardsAborted = "augur_reshards_aborted_total"
    public static let reshardCopiedBytes = "augur_reshard_copied_bytes_total"
    public static let reshardSharedBytes = "augur_reshard_shared_bytes_total"
    public static let partitions = "augur_partitions"
    public static let forecastError = "augur_forecast_error_ratio"
    public static let overloadSeconds = "augur_overload_seconds_total"
    public static let writeStalls = "augur_write_stalls_total"
    public static let writeStallSeconds = "augur_write_stall_seconds_total"
    public static let writeSlowdowns = "augur_write_slowdowns_total"
    public static let writeSlowdownSeconds = "augur_write_slowdown_seconds_total"
    public static let backgroundErrors = "augur_background_errors_total"
}

/// What the engine has counted since it opened (counters) and what it measures now (gauges).
/// Durations are in nanoseconds here and in seconds in the exposition.
public struct MetricsSnapshot: Sendable, Equatable {
    /// The file the engine rewrites on the telemetry tick (every `healthFileInterval`, and at
    /// close), next to TELEMETRY.json.
    public static let fileName = "METRICS.prom"

    /// The store's directory (the `store` label).
    public var store: String
    /// Operations since open from the partitions' key histograms; nil without telemetry (then
    /// nothing counts them, and the exposition leaves them out).
    public var operations: HistogramTotals?
    public var walSyncs: UInt64 = 0
    public var walSyncNanos: UInt64 = 0
    public var flushes: UInt64 = 0
    public var flushNanos: UInt64 = 0
    public var flushedBytes: UInt64 = 0
    public var merges: UInt64 = 0
    /// Flushes (of a partition's memtable and frozen layers) made for the log or memory bound (`maxWALBytes`, `memtableBudgetBytes`) rather
    /// than for the memtable's own size.
    public var boundFlushes: UInt64 = 0
    public var reshardsCommitted: UInt64 = 0
    public var reshardsAborted: UInt64 = 0
    public var reshardCopiedBytes: UInt64 = 0
    public var reshardSharedBytes: UInt64 = 0
    /// Partitions of each table now.
    public var partitions: [String: Int] = [:]
    /// The controller's mean absolute percentage error of one-step forecasts, as a fraction;
    /// nil before the first forecast or without telemetry.
    public var forecastError: Double?
    /// Partition-seconds spent above capacity (the controller's measure).
    public var overloadSeconds: Double = 0
    public var writeStalls: UInt64 = 0
    public var writeStallNanos: UInt64 = 0
    /// Writes slowed before the stall limit (WritePacing.swift), and the time they slept.
    public var writeSlowdowns: UInt64 = 0
    public var writeSlowdownNanos: UInt64 = 0
    public var backgroundErrors: UInt64 = 0

    public init(store: String) { self.store = store }

    /// One metric of the exposition: name, type, meaning and samples.
    public struct Family: Sendable, Equatable {
        public enum Kind: String, Sendable { case counter, gauge, summary }
        /// A sample: the suffix added to the family's name (`_sum`, `_count` of a summary), labels
        /// beyond `store`, and the value.
        public struct Sample: Sendable, Equatable {
            public var suffix = ""
            public var labels: [(String, String)] = []
            public var value: Double

            public static func == (a: Self, b: Self) -> Bool {
                a.suffix == b.suffix && a.value == b.value && a.labels.elementsEqual(b.labels) { $0 == $1 }
            }
        }
        public var name: String
        public var kind: Kind
        public var help: String
        public var samples: [Sample]
    }

    /// Every metric with its current samples, in exposition order.
    public var families: [Family] {
        func counter(_ name: String, _ help: String, _ value: Double?) -> Family {
            Family(name: name, kind: .counter, help: help, samples: value.map { [Family.Sample(value: $0)] } ?? [])
        }
        func summary(_ name: String, _ help: String, count: UInt64, nanos: UInt64) -> Family {
            Family(name: name, kind: .summary, help: help, samples: [
                Family.Sample(suffix: "_sum", value: Double(nanos) / 1e9), Family.Sample(suffix: "_count", value: Double(count))])
        }
        let ops = operations
        return [
            counter(MetricName.writes, "Write operations (puts and deletes; each operation of a batch counts once).",
                    ops.map { Double($0.writes) }),
            counter(MetricName.reads, "Read operations (gets; a scan counts once per partition it visits).",
                    ops.map { Double($0.reads) }),
            counter(MetricName.writtenBytes, "Key and value bytes of write operations.", ops.map { Double($0.writeBytes) }),
            counter(MetricName.readBytes, "Key and value bytes of read operations.", ops.map { Double($0.readBytes) }),
            summary(MetricName.walSync, "WAL fdatasyncs (group commits, periodic and flush syncs, seals) and their duration.",
                    count: walSyncs, nanos: walSyncNanos),
            summary(MetricName.flush, "Memtable flushes to segment runs and their duration (WAL sync, write, manifest commit).",
                    count: flushes, nanos: flushNanos),
            counter(MetricName.flushedBytes, "Bytes of segment runs written by flushes.", Double(flushedBytes)),
            counter(MetricName.merges, "Flushes that merged existing runs into the new one.", Double(merges)),
            counter(MetricName.boundFlushes, "Flushes made to keep the WAL under maxWALBytes or the memtables under memtableBudgetBytes.",
                    Double(boundFlushes)),
            counter(MetricName.reshardsCommitted, "Reshards (splits, merges, moves, reshapes) committed.", Double(reshardsCommitted)),
            counter(MetricName.reshardsAborted, "Reshards that failed or were refused after being queued.", Double(reshardsAborted)),
            counter(MetricName.reshardCopiedBytes, "Segment bytes committed reshards copied.", Double(reshardCopiedBytes)),
            counter(MetricName.reshardSharedBytes, "Segment bytes committed reshards shared with their sources instead of copying.",
                    Double(reshardSharedBytes)),
            Family(name: MetricName.partitions, kind: .gauge, help: "Partitions of the table.",
                   samples: partitions.sorted { $0.key < $1.key }.map { Family.Sample(labels: [("table", $0.key)], value: Double($0.value)) }),
            Family(name: MetricName.forecastError, kind: .gauge,
                   help: "Mean absolute percentage error of the controller's one-step load forecasts so far, as a fraction.",
                   samples: forecastError.map { [Family.Sample(value: $0)] } ?? []),
            counter(MetricName.overloadSeconds, "Partition-seconds spent above capacity, as the controller measured them.",
                    overloadSeconds),
            counter(MetricName.writeStalls, "Writes that waited for their partition's flush.", Double(writeStalls)),
            counter(MetricName.writeStallSeconds, "Time writes waited for flushes.", Double(writeStallNanos) / 1e9),
            counter(MetricName.writeSlowdowns, "Writes that slept because their partition's flush fell behind (before the stall limit).",
                    Double(writeSlowdowns)),
            counter(MetricName.writeSlowdownSeconds, "Time writes slept in write slowdowns.", Double(writeSlowdownNanos) / 1e9),
            counter(MetricName.backgroundErrors, "Errors of background work (flushes, WAL syncs and segment creation).",
                    Double(backgroundErrors)),
        ]
    }

    /// The Prometheus text format: for each metric a `# HELP` and a `# TYPE` line, then one
    /// `name{store="…",…} value` line per sample. Metrics without a value yet (operations
    /// without telemetry, the forecast error before a forecast) have no sample line.
    public var prometheusText: String {
        var out = ""
        let store = Self.escape(store)
        for f in families {
            out += "# HELP \(f.name) \(f.help)\n# TYPE \(f.name) \(f.kind.rawValue)\n"
            for s in f.samples {
                var labels = "store=\"\(store)\""
                for (k, v) in s.labels { labels += ",\(k)=\"\(Self.escape(v))\"" }
                out += "\(f.name)\(s.suffix){\(labels)} \(Self.format(s.value))\n"
            }
        }
        return out
    }

    /// A label value with backslash, double quote and line feed escaped.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// Whole numbers without a fraction; `+Inf`, `-Inf` and `NaN` as Prometheus spells them.
    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 9.0e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
