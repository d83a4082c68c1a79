// The engine's telemetry side: histograms for new partitions, partition health, the collector
// tick (exact totals, metrics, TELEMETRY.json and METRICS.prom) and reshard status for
// operators. Thread-safety: the tick runs on the telemetry queue; the rest on any thread.
import AugurPlanner
import AugurStats
import AugurSys
import Dispatch
import Logging
import Synchronization

extension Engine {
    func newHistogram(_ record: PartitionRecord) -> KeyHistogram {
        KeyHistogram(lowerBound: record.lowerBound, upperBound: record.upperBound, options: options.telemetry.histogram)
    }

    /// The smallest and largest key stored in `runs`: where a histogram should spread its
    /// buckets (`KeyPositionMap`'s focus).
    static func keySpan(of runs: [Segment]) -> (low: [UInt8], high: [UInt8])? {
        var span: (low: [UInt8], high: [UInt8])?
        for r in runs {
            guard let s = r.keySpan else { continue }
            if let current = span {
                span = (compareKeys(s.low, current.low) < 0 ? s.low : current.low,
                        compareKeys(s.high, current.high) > 0 ? s.high : current.high)
            } else {
                span = s
            }
        }
        return span
    }

    /// Per-partition health of `table`: range, size, records, rates per window, skew, entropy,
    /// hot ranges and hot keys. Rates are as of the last collector tick (≤ `collectInterval` old).
    public func partitionHealth(table name: String) throws(AugurError) -> [PartitionHealth] {
        let table = try self.table(named: name)
        guard let telemetry else {
            throw .invalidOption(name: "telemetry.enabled", value: "false", reason: "partition health needs telemetry")
        }
        let now = telemetry.collect(partitions: table.map.partitions)
        return table.map.partitions.map { health(table, $0, telemetry, now) }
    }

    /// A partition's telemetry health with its secondary indexes' build states.
    private func health(_ table: Table, _ p: Partition, _ telemetry: Telemetry, _ now: UInt64) -> PartitionHealth {
        var h = telemetry.health(table: table.name, partition: p, now: now)
        for d in table.indexDescriptors.withLock({ $0 }) { h.indexes.append(d.status(of: p)) }
        return h
    }

    /// Alias of `partitionHealth(table:)` under the name the seeds use.
    public func monitorPartitionHealth(table name: String) throws(AugurError) -> [PartitionHealth] {
        try partitionHealth(table: name)
    }

    /// The collector tick: drain, fold exact totals, refresh the metrics, and now and then write
    /// TELEMETRY.json and METRICS.prom.
    func collectTelemetry(force: Bool = false, closing: Bool = false) {
        guard let telemetry, closing || !isClosed else { return }
        let tables = allTables()
        let now = telemetry.collect(partitions: tables.flatMap { $0.map.partitions })
        refreshMetrics(tables: tables)
        let last = lastHealthFile.load(ordering: .relaxed)
        guard force || now &- last >= UInt64(nanoseconds(options.telemetry.healthFileInterval)) else { return }
        lastHealthFile.store(now, ordering: .relaxed)
        var file = TelemetryFile(engineTime: now, partitions: [])
        for t in tables {
            for p in t.map.partitions { file.partitions.append(health(t, p, telemetry, now)) }
        }
        file.forecastFallbacks = controller.map { c in c.lock.withLock { c.fallbacks() } }
        writeTelemetryFile(file)
        writeMetricsFile()
    }

    /// Written with a rename so readers never see half a file; not synced (it is advisory).
    private func writeTelemetryFile(_ file: TelemetryFile) {
        try? fileSystem.replaceFile(at: joinPath(path, TelemetryFile.name), with: encodeTelemetry(file),
                                    temporary: joinPath(path, TelemetryFile.name + ".tmp"))
    }
}

extension Engine {
    /// Every reshard of `table` requested since open, oldest first.
    public func reshardingStatus(table name: String) throws(AugurError) -> [ReshardStatus] {
        try checkOpen()
        return reshards.jobs.withLock { $0.map(\.current).filter { $0.table == name } }
    }
}
