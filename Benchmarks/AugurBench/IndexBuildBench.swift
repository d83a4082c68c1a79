import Augur
import AugurPlanner
import Foundation

/// `augur-bench --workload index-build [--records N] [--workers W]`: an index build over a table
/// whose first partition holds 60% of the records (four partitions: 60 / 13.3 / 13.3 / 13.3 %),
/// static partitions against a reshape planned for the build, at W workers. Two identical
/// stores are loaded (so neither build pays for the other's index), the static one first; its
/// build calibrates the cost model the adaptive store's planner starts from. Makespan = wall
/// time from the request to the index being ready, reshard time included for the adaptive run.
enum IndexBuildBench {
    static let colours = ["red", "green", "blue", "cyan", "magenta", "yellow", "black", "white", "orange", "purple"]

    static func value(_ i: Int) -> [UInt8] {
        var h = UInt64(i) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        let text = "c=\(colours[Int(h % 10)])-\(h % 100_000);" + String(repeating: "x", count: 100)
        return Array(text.utf8.prefix(100))
    }

    static let extractor: IndexKeyExtractor = { v in
        guard v.starts(with: Array("c=".utf8)) else { return nil }
        return Array(v.dropFirst(2).prefix { $0 != UInt8(ascii: ";") })
    }

    static func load(_ path: String, records n: Int, workers: Int, model: IndexBuildCostModel?) throws -> (Engine, Table) {
        var o = EngineOptions()
        o.durability = .none
        o.indexBuild.workers = workers
        if let model { o.indexBuild.costModel = model }
        let e = try Engine.open(at: path, options: o)
        let t = try e.createTable("t")
        for f in [0.6, 0.6 + 0.4 / 3, 0.6 + 0.8 / 3] { try t.splitPartition(at: key(Int(Double(n) * f))) }
        var batch = WriteBatch()
        for i in 0..<n {
            batch.put(key(i), value(i), in: t)
            if batch.count == 1000 { try e.write(batch); batch = WriteBatch() }
        }
        if !batch.isEmpty { try e.write(batch) }
        try e.flush()
        return (e, t)
    }

    static func describe(_ t: Table) throws -> String {
        let s = try t.partitionStats()
        let total = Double(s.reduce(0) { $0 + $1.records })
        return s.map { String(format: "%.1f%%", 100 * Double($0.records) / total) }.joined(separator: " ")
    }

    static func run(dir: String, records n: Int, workers: Int) throws {
        print("index-build: \(n) records (16-byte keys, 100-byte values), \(workers) build workers")
        var clock = ContinuousClock.now
        let (a, ta) = try load(dir + "/static", records: n, workers: workers, model: nil)
        print(String(format: "  load (static store):   %.1f s; partitions %@", seconds(ContinuousClock.now - clock), try describe(ta)))
        clock = ContinuousClock.now
        let staticIndex = try ta.createSecondaryIndex(name: "colour", key: extractor)
        try staticIndex.waitUntilReady()
        let staticTime = seconds(ContinuousClock.now - clock)
        let staticEntries = try staticIndex.status().partitions.reduce(0) { $0 + $1.recordsScanned }
        let calibrated = a.indexBuildCostModel
        try a.close()
        print(String(format: "  static build:          %.2f s makespan, %.0f records/s (%d records read)",
                     staticTime, Double(n) / staticTime, staticEntries))

        clock = ContinuousClock.now
        let (b, tb) = try load(dir + "/adaptive", records: n, workers: workers, model: calibrated)
        print(String(format: "  load (adaptive store): %.1f s", seconds(ContinuousClock.now - clock)))
        clock = ContinuousClock.now
        let job = try b.requestResharding(table: "t", forIndex: "colour")
        try job.wait()
        let reshardTime = seconds(ContinuousClock.now - clock)
        let adaptiveIndex = try tb.createSecondaryIndex(name: "colour", key: extractor)
        try adaptiveIndex.waitUntilReady()
        let adaptiveTime = seconds(ContinuousClock.now - clock)
        let r = job.reshape
        print(String(format: "  reshape plan:          %d reshards, %d → %d partitions, %.0f MiB moved, %d iterations; predicted static %.2f s, adaptive %.2f s (reshard %.2f s)",
                     r.plans.count, r.partitionsBefore, r.partitionsAfter, Double(r.bytesMoved) / 1048576, r.iterations,
                     r.predictedStaticMakespan, r.predictedAdaptiveMakespan, r.predictedReshardTime))
        print(String(format: "  adaptive build:        %.2f s makespan (reshard %.2f s + build %.2f s), %.0f records/s; partitions %@",
                     adaptiveTime, reshardTime, adaptiveTime - reshardTime, Double(n) / adaptiveTime, try describe(tb)))
        print(String(format: "  adaptive vs static:    %.1f%% shorter (target ≥ 40%%; ceiling at %d workers with linear build cost: %.1f%%)",
                     100 * (1 - adaptiveTime / staticTime), workers, 100 * (1 - max(1.0 / Double(workers), 0) / 0.6)))
        try b.close()
    }
}
