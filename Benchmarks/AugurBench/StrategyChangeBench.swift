import Augur
import Foundation

/// `augur-bench --workload strategy-change [--reshard-mib M]`: a live table of M MiB (16-byte
/// keys, 100-byte values, two range partitions) rewritten as hash:16 and back to range while a
/// putter and a getter run closed-loop: how long each rewrite takes, the cutover pause, and the
/// foreground latency during it against a baseline window of the same load before it.
enum StrategyChangeBench {
    static func run(dir: String, mebibytes: Int) throws {
        var o = EngineOptions()
        o.durability = .none
        let engine = try Engine.open(at: dir + "/strategy", options: o)
        let table = try engine.createTable("bench")
        let records = mebibytes * (1 << 20) / 130
        var start = ContinuousClock.now
        for i in shuffled(records, seed: 9) { try table.put(key(i), value) }
        try table.splitPartition(at: key(records / 2))
        try engine.flush()
        print(String(format: "strategy-change: loaded %d records (%.0f MiB of segments) in %.1f s", records,
                     Double(try table.partitionStats().reduce(0) { $0 + $1.bytes }) / 1048576, seconds(ContinuousClock.now - start)))
        for target in [PartitioningStrategy.hash(buckets: 16), .range] {
            start = ContinuousClock.now
            let stallsBefore = engine.writeStalls
            let (baseline, during, s) = try ReshardLatency.besideForeground(table: table, records: records) {
                try table.changeStrategy(to: target)
            }
            let took = seconds(ContinuousClock.now - start) - 3
            print(String(format: "strategy-change: %@ → %@ (%d → %d partitions): %d records, %.0f MiB written in %.2f s (%.0f MiB/s); %d records caught up; writes delayed up to %.0f µs each; cutover pause %.2f ms",
                         s.from.description, s.to.description, s.partitionsBefore, s.partitionsAfter, s.recordsRewritten,
                         Double(s.bytesWritten) / 1048576, took, Double(s.bytesWritten) / 1048576 / max(took, 0.001),
                         s.recordsCaughtUp, Double(s.writeDelayNanos) / 1000, Double(s.cutoverPauseNanos) / 1e6))
            let stalls = engine.writeStalls
            print(String(format: "strategy-change: %d catch-up rounds; %d write stalls (memtable full, flush behind), %.2f s in all; %d write slowdowns, %.2f s slept",
                         s.catchUpRounds, stalls.stalls - stallsBefore.stalls, Double(stalls.stalledNanos - stallsBefore.stalledNanos) / 1e9,
                         stalls.slowdowns - stallsBefore.slowdowns, Double(stalls.slowedNanos - stallsBefore.slowedNanos) / 1e9))
            print(String(format: "strategy-change: foreground p50/p99/p99.9/max µs  baseline %.1f / %.1f / %.1f / %.0f (%d ops)   during %.1f / %.1f / %.1f / %.0f (%d ops)   p99 ratio %.2f",
                         ReshardLatency.percentile(baseline, 0.5), ReshardLatency.percentile(baseline, 0.99),
                         ReshardLatency.percentile(baseline, 0.999), Double(baseline.max() ?? 0) / 1000, baseline.count,
                         ReshardLatency.percentile(during, 0.5), ReshardLatency.percentile(during, 0.99),
                         ReshardLatency.percentile(during, 0.999), Double(during.max() ?? 0) / 1000, during.count,
                         ReshardLatency.percentile(during, 0.99) / max(ReshardLatency.percentile(baseline, 0.99), 0.001)))
        }
        try engine.close()
    }
}
