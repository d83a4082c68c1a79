import Augur
import AugurPlanner
import AugurWorkload
import Foundation
import Synchronization

/// The Augur engine behind the load generator's `KeyValueStore`: one table ("usertable") in one
/// store directory.
///
/// Partition counters come from the engine (`Engine.partitioningCounters(table:)`): partition
/// count, splits, merges and moves committed, bytes moved, reshards in flight, overload
/// partition-seconds and the forecaster's one-step error and latest forecast.
/// Thread-safety: immutable after init except the counters and `closed`, each in its own `Mutex`;
/// `Engine` and `Table` are thread-safe.
public final class AugurStore: KeyValueStore, @unchecked Sendable {
    public let engineName = "augur"
    public let engine: Engine
    public let table: Table
    public let directory: String
    let removeOnClose: Bool
    private let lastPartitionCount = Mutex<Int?>(nil)
    private let lastCounters = Mutex<PartitioningCounters?>(nil)
    private let closed = Mutex(false)

    /// Opens (creating when missing) the store in `directory`; `removeOnClose` deletes the
    /// directory in `close()` (temporary stores).
    public init(directory: String, options: EngineOptions, strategy: PartitioningStrategy = .range, removeOnClose: Bool) throws {
        self.directory = directory
        self.removeOnClose = removeOnClose
        engine = try Engine.open(at: directory, options: options)
        do {
            if (try engine.tableNames()).contains("usertable") {
                table = try engine.table(named: "usertable")
            } else {
                table = try engine.createTable("usertable", strategy: strategy)
            }
        } catch {
            try? engine.close()
            throw error
        }
    }

    public func put(_ key: [UInt8], _ value: [UInt8]) throws { try table.put(key, value) }
    public func get(_ key: [UInt8]) throws -> [UInt8]? { try table.get(key) }
    public func readLength(_ key: [UInt8]) throws -> Int? { try table.withValue(key) { $0?.count } }
    public func delete(_ key: [UInt8]) throws { try table.delete(key) }

    public func scan(from start: [UInt8], limit: Int) throws -> Int {
        try table.scan(range: KeyRange(from: start, to: nil), limit: limit).count
    }

    public func ingest(_ records: [(key: [UInt8], value: [UInt8])]) throws {
        _ = try table.bulkIngest(records.map { KeyValue(key: $0.key, value: $0.value) })
    }

    public func write(_ operations: [BatchOperation]) throws {
        var batch = WriteBatch()
        for op in operations {
            switch op {
            case .put(let k, let v): batch.put(k, v, in: table)
            case .delete(let k): batch.delete(k, in: table)
            }
        }
        // The engine limits a batch to one WAL segment; split large batches.
        do {
            try engine.write(batch)
        } catch {
            guard case .batchTooLarge = error, operations.count > 1 else { throw error }
            let half = operations.count / 2
            try write(Array(operations[..<half]))
            try write(Array(operations[half...]))
        }
    }

    public var supportedPolicies: [PartitionPolicy] { PartitionPolicy.allCases }

    /// Sets the engine's partitioning policy: `static` keeps the layout (a request with split
    /// keys pre-splits the table there); `reactive` and `predictive` switch the engine's
    /// controller on. Every policy gets `capacity` (nil: the engine's own), so overload
    /// seconds are measured against the same capacity whichever policy runs.
    public func apply(_ request: PartitionPolicyRequest) throws {
        for key in cuts(request.splitKeys) {
            do {
                try table.splitPartition(at: key)
            } catch {
                if case .invalidSplitKey = error { continue }
                throw error
            }
        }
        switch request.policy {
        case .static: try engine.setPartitioningPolicy(.static, capacity: capacity)
        case .reactive: try engine.setPartitioningPolicy(.reactive(ReactiveOptions()), capacity: capacity)
        case .predictive: try engine.setPartitioningPolicy(.predictive(PredictiveOptions()), capacity: capacity)
        }
        lastPartitionCount.withLock { $0 = try? table.partitionStats().count }
    }

    /// Where to pre-split, as partition keys: the workload's equal key-space cuts in a range
    /// table (its keys in a composite one), equal bucket ranges in a hash table.
    func cuts(_ splitKeys: [[UInt8]]) -> [[UInt8]] {
        switch table.strategy {
        case .range: return splitKeys
        case .hash: return table.strategy.bucketCuts(count: splitKeys.count + 1)
        case .composite: return splitKeys.compactMap { try? table.partitionKey(for: $0) }
        }
    }

    /// Capacity model the controller plans with (and measures overload against) when a policy
    /// is applied; nil leaves the engine's own (`EngineOptions.partitioning.capacity`).
    public var capacity: CapacityModel? = nil

    public func partitionMetrics() -> PartitionMetrics {
        guard let c = try? engine.partitioningCounters(table: table.name) else { return PartitionMetrics() }
        var events: [ReshardEvent] = []
        lastCounters.withLock { last in
            if let previous = last {
                for _ in 0..<max(0, c.splits - previous.splits) { events.append(ReshardEvent(kind: .split, detail: "split (\(c.partitions) partitions)", inferred: false)) }
                for _ in 0..<max(0, c.merges - previous.merges) { events.append(ReshardEvent(kind: .merge, detail: "merge (\(c.partitions) partitions)", inferred: false)) }
                for _ in 0..<max(0, c.moves - previous.moves) { events.append(ReshardEvent(kind: .move, detail: "boundary move", inferred: false)) }
            }
            last = c
        }
        var m = PartitionMetrics(partitions: c.partitions, splits: c.splits, merges: c.merges, moves: c.moves,
                                bytesMoved: Int64(c.bytesMoved), reshardsInFlight: c.reshardsInFlight,
                                overloadSeconds: c.overloadSeconds, forecastError: c.forecastError,
                                forecast: c.forecast.map { IntervalForecast(predicted: $0.point, lower: $0.lower, upper: $0.upper) },
                                events: events)
        m.bytesShared = Int64(c.bytesShared)
        m.measuredCapacity = c.measuredCapacity
        m.copyBytesPerSecond = c.copyBytesPerSecond
        m.forecastFallbacks = c.fallbackEntries
        let stalls = engine.writeStalls
        m.writeStalls = stalls.stalls
        m.writeStallSeconds = Double(stalls.stalledNanos) / 1e9
        m.lastWriteStallReason = stalls.lastReason
        m.writeSlowdowns = stalls.slowdowns
        m.writeSlowdownSeconds = Double(stalls.slowedNanos) / 1e9
        return m
    }

    public func flush() throws { try engine.flush() }

    public func close() throws {
        let already = closed.withLock { c in defer { c = true }; return c }
        if already { return }
        defer { if removeOnClose { try? FileManager.default.removeItem(atPath: directory) } }
        try engine.close()
    }
}
