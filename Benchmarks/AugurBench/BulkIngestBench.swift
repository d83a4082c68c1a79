import Augur
import Foundation

/// `augur-bench --workload bulk-ingest [--records N]`: the same N records (16-byte keys,
/// 100-byte values, random order) loaded through `WriteBatch` (1,000 puts per batch, durability
/// none) and through `Table.bulkIngest` (sorted first; the sort is timed with it), each into a
/// fresh store; then the ingest again while two threads run YCSB-B's mix (95 % gets) on another
/// table of the store, their latency against a baseline window without it.
enum BulkIngestBench {
    /// The records of `order` in key order (`key` sorts like the integers it encodes).
    static func sortedRecords(_ order: [Int]) -> [KeyValue] {
        order.sorted().map { KeyValue(key: key($0), value: value) }
    }

    static func run(dir: String, records: Int) throws {
        var o = EngineOptions()
        o.durability = .none
        let order = shuffled(records, seed: 11)
        var start = ContinuousClock.now
        do {
            let engine = try Engine.open(at: dir + "/batches", options: o)
            let t = try engine.createTable("bench")
            var batch = WriteBatch()
            for i in order {
                batch.put(key(i), value, in: t)
                if batch.count == 1000 { try engine.write(batch); batch = WriteBatch() }
            }
            if !batch.isEmpty { try engine.write(batch) }
            try engine.flush()
            try engine.close()
        }
        let batches = seconds(ContinuousClock.now - start)
        start = ContinuousClock.now
        let sorted = sortedRecords(order)
        let sorting = seconds(ContinuousClock.now - start)
        start = ContinuousClock.now
        let ingestSummary: BulkIngestSummary
        do {
            let engine = try Engine.open(at: dir + "/ingest", options: o)
            let t = try engine.createTable("bench")
            ingestSummary = try t.bulkIngest(sorted)
            try engine.close()
        }
        let ingest = seconds(ContinuousClock.now - start)
        print(String(format: "bulk-ingest: %d records: WriteBatch ×1000 %.2f s (%.0f k records/s); bulkIngest %.2f s (%.0f k records/s, %d stages, %d partitions pre-created): %.2f× faster; with the sort of the input (%.2f s) %.2f×",
                     records, batches, Double(records) / batches / 1000, ingest, Double(records) / ingest / 1000,
                     ingestSummary.stages, ingestSummary.partitionsPreCreated, batches / ingest, sorting, batches / (ingest + sorting)))

        // The ingest beside a foreground load on another table.
        let engine = try Engine.open(at: dir + "/mixed", options: o)
        let fg = try engine.createTable("fg")
        let fgRecords = 200_000
        for i in 0..<fgRecords { try fg.put(key(i), value) }
        let bulk = try engine.createTable("bulk")
        let sortedAgain = sortedRecords(order)
        // YCSB-B's mix (95 % gets, 5 % puts) on two threads.
        let (baseline, during, took) = try ReshardLatency.besideForeground(table: fg, records: fgRecords, readsPer20: 19) {
            let start = ContinuousClock.now
            _ = try bulk.bulkIngest(sortedAgain)
            return seconds(ContinuousClock.now - start)
        }
        try engine.close()
        let p = ReshardLatency.percentile
        print(String(format: "bulk-ingest: beside YCSB-B (95/5, 2 threads): ingest %.2f s; foreground p50/p99/p99.9/max µs baseline %.1f / %.1f / %.1f / %.0f (%d ops)   during %.1f / %.1f / %.1f / %.0f (%d ops)   p99 ratio %.2f",
                     took, p(baseline, 0.5), p(baseline, 0.99), p(baseline, 0.999), Double(baseline.max() ?? 0) / 1000, baseline.count,
                     p(during, 0.5), p(during, 0.99), p(during, 0.999), Double(during.max() ?? 0) / 1000, during.count,
                     p(during, 0.99) / max(p(baseline, 0.99), 0.001)))
    }
}
