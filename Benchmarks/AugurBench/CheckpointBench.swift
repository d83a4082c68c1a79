import Augur
import Foundation


/// `augur-bench --workload checkpoint [--reshard-mib M]`: a backup of M MiB while a putter and a
/// getter run closed-loop, then its restore.
///
/// 1. fill one table with M MiB (16-byte keys, 100-byte values), flush most of it, leave the
///    rest in the WAL (a checkpoint copies both);
/// 2. foreground latency for a baseline window, then while `checkpoint(to:)` runs; the cut (the
///    part writers can wait for) and the whole checkpoint are timed;
/// 3. `Backup.verify` and `Backup.restore` (the backed-up layout, then 4 partitions) timed.
enum CheckpointBench {
    static func run(dir: String, mebibytes: Int) throws {
        var o = EngineOptions()
        o.durability = .periodic(.milliseconds(100))
        let engine = try Engine.open(at: dir + "/source", options: o)
        let table = try engine.createTable("bench")
        let records = mebibytes * (1 << 20) / 130
        for (n, i) in shuffled(records, seed: 7).enumerated() {
            try table.put(key(i), value)
            if n == records * 9 / 10 { try engine.flush() }
        }
        let p = ReshardLatency.percentile
        for linking in [false, true] {
            let target = dir + (linking ? "/linked" : "/backup")
            let (baseline, during, summary) = try ReshardLatency.besideForeground(table: table, records: records) {
                try engine.checkpoint(to: target, linkingFiles: linking)
            }
            let mib = Double(summary.bytes) / 1048576
            print(String(format: "checkpoint%@: %.0f MiB written (%d segment files, %d linked; %d WAL segments) in %.2f s; the cut (writers may wait) %.2f ms",
                         linking ? " --link" : "", mib, summary.segmentFiles, summary.linkedFiles, summary.walSegments, summary.seconds,
                         summary.cutSeconds * 1000))
            print(String(format: "checkpoint%@: foreground p50/p99/p99.9/max µs  baseline %.1f / %.1f / %.1f / %.0f (%d ops)   during %.1f / %.1f / %.1f / %.0f (%d ops)",
                         linking ? " --link" : "",
                         p(baseline, 0.5), p(baseline, 0.99), p(baseline, 0.999), Double(baseline.max() ?? 0) / 1000, baseline.count,
                         p(during, 0.5), p(during, 0.99), p(during, 0.999), Double(during.max() ?? 0) / 1000, during.count))
        }
        try engine.close()
        var start = ContinuousClock.now
        _ = try Backup.verify(at: dir + "/backup")
        print(String(format: "checkpoint: verify %.2f s", seconds(ContinuousClock.now - start)))
        var quiet = EngineOptions()
        quiet.telemetry.enabled = false
        for (name, layout) in [("backed-up layout", RestoreLayout.asBackedUp), ("4 partitions", .partitions(4))] {
            start = ContinuousClock.now
            let r = try Backup.restore(from: dir + "/backup", to: dir + "/restored", layout: layout, options: quiet)
            print(String(format: "checkpoint: restore (%@) %.2f s, %d partitions", name, seconds(ContinuousClock.now - start),
                         r.tables.first?.partitions ?? 0))
            try FileManager.default.removeItem(atPath: dir + "/restored")
        }
    }
}
