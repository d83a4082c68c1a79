import Augur
import Foundation

/// `augur-bench --workload flush [--records N]`: one memtable's flush alone, where the flush
/// lane spends its time. Each round puts N records of fillrandom's shape (16-byte keys,
/// 100-byte values) in random order into a fresh store whose flush size holds them all (so no
/// flush runs during the puts), syncs the WAL (its fdatasync is then not the flush's), and
/// times `Engine.flush()`: the memtable walked in key order and written as one segment run,
/// the run's fdatasync and the manifest edit. Two key shapes, rounds interleaved, as in
/// `--workload memtable`: `binary` keys begin with 8 hashed bytes (augur-load's), `decimal`
/// keys are zero-padded decimal numbers sharing their first bytes.
///
/// Then the same records as four runs, merged by one flush (of a single overwrite): a merge's
/// cost per record, which the merge lane pays for every byte a partition holds, again and again.
///
/// Prints each flush's wall time and the calling thread's CPU time (the flush runs on the
/// caller), per record and as MiB read per second of CPU, and the medians.
enum FlushBench {
    /// Runs a merging flush reads (`--workload flush`'s second part).
    static let mergedRuns = 4

    static func run(records: Int, directory: String, rounds: Int = 5) throws {
        let n = max(Self.mergedRuns, records)
        let order = shuffled(n, seed: 42)
        let shapes = MemtableBench.keyShapes(n)
        print("augur-bench flush: \(n) records per flush, 16-byte keys, 100-byte values, one partition; then the same records as \(Self.mergedRuns) runs merged by a flush")
        for runs in [1, Self.mergedRuns] {
            let what = runs == 1 ? "flush" : "merge"
            var results: [String: (wall: [Double], cpu: [Double], rate: [Double])] = [:]
            for round in 1...rounds {
                for shape in shapes {
                    let (wall, cpu, bytes) = try measure(shape.keys, order: order, runs: runs, path: directory + "/flush-\(shape.name)")
                    let rate = Double(bytes) / 1_048_576 / cpu
                    results[shape.name, default: ([], [], [])].wall.append(wall * 1e9 / Double(n))
                    results[shape.name, default: ([], [], [])].cpu.append(cpu * 1e9 / Double(n))
                    results[shape.name, default: ([], [], [])].rate.append(rate)
                    print(String(format: "round %d  %@ %-8@ %@ %6.1f MiB  %7.1f ms wall %7.1f ms cpu  %6.1f ns/record cpu  %6.0f MiB/s cpu",
                                 round, what, shape.name, runs == 1 ? "memtable" : "runs    ", Double(bytes) / 1_048_576,
                                 wall * 1e3, cpu * 1e3, cpu * 1e9 / Double(n), rate))
                }
            }
            for shape in shapes {
                let r = results[shape.name]!
                print(String(format: "median   %@ %-8@ %6.1f ns/record wall  %6.1f ns/record cpu  %6.0f MiB/s cpu",
                             what, shape.name, MemtableBench.median(r.wall), MemtableBench.median(r.cpu), MemtableBench.median(r.rate)))
            }
        }
    }

    /// The timed flush's wall and CPU seconds, and the bytes it read: with `runs` 1 a memtable
    /// of every record; else the records as `runs` runs (a flush each, untimed) and a
    /// memtable of one overwrite, which the timed flush merges with all of them (at most
    /// `runs` runs per partition; `RunMergePolicy` merges every run of equal ones).
    private static func measure(_ keys: [[UInt8]], order: [Int], runs: Int, path: String) throws -> (Double, Double, Int) {
        try? FileManager.default.removeItem(atPath: path)
        var o = EngineOptions()
        o.durability = .none
        o.telemetry.enabled = false
        // Room for every record in one memtable: nothing flushes, slows or stalls during the puts.
        let room = max(64 << 20, keys.count * 256)
        o.memtableFlushSize = room
        o.memtableBudgetBytes = 2 * room
        o.maxWALBytes = 8 * room
        o.maxRunsPerPartition = runs
        let e = try Engine.open(at: path, options: o)
        let table = try e.createTable("bench")
        let bytes: Int
        if runs == 1 {
            for i in order { try table.put(keys[i], value) }
            bytes = try table.partitionStats().reduce(0) { $0 + $1.memtableBytes }
        } else {
            let per = order.count / runs
            for r in 0..<runs {
                for i in order[(r * per)..<(r == runs - 1 ? order.count : (r + 1) * per)] { try table.put(keys[i], value) }
                try e.flush()
            }
            bytes = try table.partitionStats().reduce(0) { $0 + $1.bytes }
            try table.put(keys[order[0]], value)
        }
        try e.syncWAL()
        let cpuStart = threadCPUSeconds()
        let started = ContinuousClock.now
        try e.flush()
        let wall = seconds(ContinuousClock.now - started)
        let cpu = threadCPUSeconds() - cpuStart
        try e.close()
        try? FileManager.default.removeItem(atPath: path)
        return (wall, cpu, bytes)
    }

    private static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
