// augur-bench: engine micro-benchmarks in the manner of LevelDB's db_bench.
//
// Workloads (run in this order, on one store):
//   fillseq      N puts, keys in increasing order, durability none, 1 thread
//   fillrandom   N puts, keys in random order, durability none, 1 thread (fresh store)
//   readrandom   N gets of random existing keys, 1 thread
//   readseq      one full scan in key order
//   fillsync     puts with durability sync (group commit), 1 and 2 threads, fixed duration
//   telemetry    ingest with telemetry on and off, 1 and 2 threads, interleaved rounds in one run
//   checkpoint   (--workload checkpoint) a backup of --reshard-mib MiB under a putter and a getter:
//                its time, the cut writers may wait for, foreground latency; verify and restore
//   bulk-ingest  (--workload bulk-ingest) N records through WriteBatch ×1000 against bulkIngest, then
//                the ingest beside YCSB-B (95 % gets) on another table
//   reshard      (--workload reshard) foreground latency during a split, cutover pauses
//   memtable     (--workload memtable) the skiplist alone: N random inserts into 32 MiB memtables
//                and N lookups, binary and decimal keys (MemtableBench.swift)
//   flush        (--workload flush) one memtable of N records flushed to a run: wall and CPU time
//                per record, binary and decimal keys (FlushBench.swift)
//   index-build  (--workload index-build) index build with 60% of the data in one partition:
//                static partitions against a reshape planned for the build (IndexBuildBench.swift)
//
// Keys are 16 bytes, values 100 bytes. Usage: augur-bench --help
import Augur
import AugurPlanner
import AugurSys
import Foundation

import ArgumentParser
import Logging

/// Which part runs: everything but reshard and index-build (`all`), or one of them.
enum Workload: String, CaseIterable, ExpressibleByArgument {
    case all, telemetry, reshard, checkpoint
    case bulkIngest = "bulk-ingest"
    case indexBuild = "index-build"
    case ingestTelemetryOn = "ingest-telemetry-on"
    case ingestTelemetryOff = "ingest-telemetry-off"
    case strategyChange = "strategy-change"
    case memtable, flush
}

extension ReshardDataMode: ExpressibleByArgument {}

/// How the copier writes reshard targets.
enum ReshardWrites: String, CaseIterable, ExpressibleByArgument {
    case direct, buffered
}

/// The command line: a bad number, an unknown workload or flag is an error naming it (exit 64),
/// never a silent default.
struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "augur-bench", abstract: "Engine micro-benchmarks (see the top of main.swift).")

    @Option(help: "Records per workload.")
    var records = 1_000_000
    @Option(name: .customLong("dir"),
            help: "Directory the run's scratch directory is made in (a new augur-bench-XXXXXX, removed afterwards; nothing else in it is touched). Default: $TMPDIR.")
    var parent = NSTemporaryDirectory()
    @Option(help: "Seconds each fillsync round runs.")
    var syncSeconds = 3.0
    @Option(help: "Which workload to run.")
    var workload = Workload.all
    @Option(name: .customLong("reshard-mib"), help: "reshard: MiB of data in the partition that splits; checkpoint: MiB of data backed up; strategy-change: MiB of the table rewritten.")
    var reshardMiB = 1024
    @Option(help: "index-build: build workers.")
    var workers = 2
    @Option(help: "reshard: split/merge cycles.")
    var reshardCycles = 20
    @Option(name: .customLong("wal-segment-mib"), help: "reshard: WAL segment size in MiB.")
    var walSegmentMiB = 64
    @Option(help: "reshard: how the copier writes targets (default: the engine's).")
    var reshardWrites: ReshardWrites?
    @Option(help: "reshard: share the sources' files (the engine's default) or copy them.")
    var reshardData: ReshardDataMode = .shareFiles
    @Option(help: "reshard: steps the engine's background threads' nice value is raised by, 0...19 (default: the engine's).")
    var backgroundNice: Int?
    @Option(name: .customLong("write-slowdown-mib"),
            help: "reshard: active-memtable MiB past which writers are slowed (default: the engine's, 64; at the stall limit, 128, nothing is slowed).")
    var writeSlowdownMiB: Int?
    @Flag(help: "reshard: background threads kept to CPUs of their own (EngineOptions.backgroundCPUs = .automatic) instead of the engine's default, every CPU.")
    var automaticBackground = false
    @Option(help: "reshard: seconds the foreground runs before its 5-s baseline window, so the baseline is its steady state (flushes and merges of its own writes under way), not the first seconds after the load's flush.")
    var reshardWarmup: Double = 10

    func validate() throws {
        guard records >= 1 && records <= 1_000_000_000 else { throw ValidationError("--records must be 1…1000000000, got \(records)") }
        guard syncSeconds > 0 && syncSeconds <= 3600 else { throw ValidationError("--sync-seconds must be in (0, 3600], got \(syncSeconds)") }
        guard reshardMiB >= 1 && reshardMiB <= 1 << 20 else { throw ValidationError("--reshard-mib must be 1…1048576, got \(reshardMiB)") }
        guard workers >= 1 && workers <= 1024 else { throw ValidationError("--workers must be 1…1024, got \(workers)") }
        guard reshardCycles >= 1 && reshardCycles <= 100_000 else { throw ValidationError("--reshard-cycles must be 1…100000, got \(reshardCycles)") }
        guard walSegmentMiB >= 1 && walSegmentMiB <= 4096 else { throw ValidationError("--wal-segment-mib must be 1…4096, got \(walSegmentMiB)") }
        if let n = backgroundNice, !(0...19).contains(n) { throw ValidationError("--background-nice must be 0…19, got \(n)") }
        guard reshardWarmup.isFinite && reshardWarmup >= 0 && reshardWarmup <= 3600 else {
            throw ValidationError("--reshard-warmup must be a number of seconds in 0…3600, got \(reshardWarmup)")
        }
        if let n = writeSlowdownMiB, !(32...128).contains(n) { throw ValidationError("--write-slowdown-mib must be 32…128 (flush size to stall limit), got \(n)") }
    }
}

StandardStream.exitWithAnErrorWhenOutputIsLost()
let config = Config.parseOrExit()
// The engine's routine lines (flushes, merges, reshards) at AUGUR_LOG_LEVEL=debug, as in the tools.
LoggingSystem.bootstrap(ToolLogging.standardError(defaultLevel: .notice))
/// The run's own scratch directory: always a new one, made here, so that removing it when the
/// run ends can never take anything the user had at `--dir` (it used to be `--dir` itself, and a
/// run removed whatever was there).
let scratchDirectory: String = {
    let fs = PosixFileSystem()
    do {
        if !fs.isDirectory(config.parent) {
            try FileManager.default.createDirectory(atPath: config.parent, withIntermediateDirectories: true)
        }
        return try fs.makeTemporaryDirectory(prefix: "augur-bench", in: config.parent)
    } catch {
        StandardStream.error("augur-bench: cannot make a scratch directory in --dir \(config.parent): \(error)\n")
        exit(73)
    }
}()

func key(_ i: Int) -> [UInt8] {
    // Zero-padded decimal: 16 bytes, sorted like the integers.
    var k = [UInt8](repeating: 0, count: 16)
    var v = UInt64(i)
    for j in (0..<16).reversed() {
        k[j] = UInt8(ascii: "0") + UInt8(v % 10)
        v /= 10
    }
    return k
}

let value = [UInt8]((0..<100).map { UInt8(truncatingIfNeeded: $0 &* 7) })

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

func report(_ name: String, _ ops: Int, _ d: Duration, _ extra: String = "") {
    let s = seconds(d)
    let padded = name + String(repeating: " ", count: max(0, 14 - name.count))
    print(padded + String(format: "%10.0f ops/s  %8.3f µs/op  %9d ops  %7.2f s  ", Double(ops) / s, s * 1e6 / Double(ops), ops, s) + extra)
}

func shuffled(_ n: Int, seed: UInt64) -> [Int] {
    var a = Array(0..<n)
    var state = seed
    for i in stride(from: n - 1, to: 0, by: -1) {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let j = Int((state >> 33) % UInt64(i + 1))
        a.swapAt(i, j)
    }
    return a
}

/// Per-thread operation counts, written once by each thread.
final class Counts: @unchecked Sendable {
    private var values: [Int]
    private let lock = NSLock()
    init(_ n: Int) { values = Array(repeating: 0, count: n) }
    func set(_ i: Int, _ v: Int) { lock.lock(); values[i] = v; lock.unlock() }
    var total: Int { lock.lock(); defer { lock.unlock() }; return values.reduce(0, +) }
}

/// Telemetry overhead: the same ingest with telemetry on and off, rounds interleaved (and the
/// order alternated) so machine noise hits both alike; the medians are compared.
@MainActor func telemetryOverhead(rounds: Int, count: Int, keys: [[UInt8]], order: [Int], dir: String) throws {
    for threads in [1, 2] {
        var on: [Double] = [], off: [Double] = []
        for r in 0..<rounds {
            for telemetry in (r % 2 == 0 ? [true, false] : [false, true]) {
                let rate = try ingest(path: dir + "/tele", threads: threads, count: count, telemetry: telemetry,
                                      keys: keys, order: order)
                if telemetry { on.append(rate) } else { off.append(rate) }
            }
        }
        let medOn = on.sorted()[rounds / 2], medOff = off.sorted()[rounds / 2]
        print(String(format: "telemetry/%dt   on %9.0f ops/s   off %9.0f ops/s   overhead %+.1f%%   (median of %d interleaved rounds of %d puts)",
                     threads, medOn, medOff, (medOff - medOn) / medOff * 100, rounds, count))
        // The spread, so a reader can tell the effect from the noise: range of each side, and the
        // overhead of each round's on/off pair (run back to back, so they share the machine's mood).
        let paired = zip(on, off).map { (($1 - $0) / $1 * 100) }.sorted()
        print(String(format: "               on %.0f–%.0f   off %.0f–%.0f   per-round overhead median %+.1f%%, quartiles %+.1f%% … %+.1f%%, range %+.1f%% … %+.1f%%",
                     on.min()!, on.max()!, off.min()!, off.max()!, paired[rounds / 2], paired[rounds / 4],
                     paired[(3 * rounds) / 4], paired.first!, paired.last!))
    }
}

func openStore(_ path: String, _ durability: Durability, telemetry: Bool = true) throws -> Engine {
    var o = EngineOptions()
    o.durability = durability
    o.telemetry.enabled = telemetry
    return try Engine.open(at: path, options: o)
}

/// Puts `count` random keys from `threads` threads into a fresh store; returns ops/s.
func ingest(path: String, threads: Int, count: Int, telemetry: Bool, keys: [[UInt8]], order: [Int]) throws -> Double {
    let e = try openStore(path, .none, telemetry: telemetry)
    let table = try e.createTable("bench")
    let per = count / threads
    let begin = ContinuousClock.now
    DispatchQueue.concurrentPerform(iterations: threads) { tid in
        for j in (tid * per)..<((tid + 1) * per) { try! table.put(keys[order[j]], value) }
    }
    let elapsed = seconds(ContinuousClock.now - begin)
    try e.close()
    try? FileManager.default.removeItem(atPath: path)
    return Double(per * threads) / elapsed
}

// The scratch directory goes with the run however it ends: a reshard or checkpoint run leaves
// gigabytes there, and a bench stopped with ^C (or by a driver's SIGTERM) used to leave them
// behind. A stop signal removes it and exits 128 + the signal; a second one kills at once
// (StopSignals). An error removes it too (below). Only SIGKILL leaves it.
let scratch = scratchDirectory
do {
    try StopSignals.install()
    Thread {
        while true {
            if let signal = StopSignals.received {
                print("augur-bench: stopped by signal \(signal); removing \(scratch)")
                try? FileManager.default.removeItem(atPath: scratch)
                fflush(nil)         // what the run printed so far, and this line, before _exit
                _exit(128 + signal)
            }
            usleep(50_000)
        }
    }.start()
} catch {
    print("augur-bench: no stop-signal handler (\(error)); a stopped run leaves \(scratch) behind")
}

do {
    if config.workload == .ingestTelemetryOn || config.workload == .ingestTelemetryOff {
        // One single-threaded ingest, for instruction counting under callgrind (deterministic
        // where wall-clock comparisons drown in the noise of a shared machine).
        try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        let n = config.records
        let rate = try ingest(path: scratchDirectory + "/ingest", threads: 1, count: n, telemetry: config.workload == .ingestTelemetryOn,
                              keys: (0..<n).map(key), order: shuffled(n, seed: 42))
        print(String(format: "%@: %.0f puts/s", config.workload.rawValue, rate))
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        exit(0)
    }
    if config.workload == .memtable {
        MemtableBench.run(records: config.records)
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        exit(0)
    }
    if config.workload == .flush {
        try FlushBench.run(records: config.records, directory: scratchDirectory)
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        exit(0)
    }
    if config.workload == .telemetry {
        try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        let n = min(config.records, 300_000)
        try telemetryOverhead(rounds: 11, count: n, keys: (0..<n).map(key), order: shuffled(n, seed: 42), dir: scratchDirectory)
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        exit(0)
    }
    if config.workload == .indexBuild {
        try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        try IndexBuildBench.run(dir: scratchDirectory, records: config.records, workers: config.workers)
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        exit(0)
    }
    if config.workload == .bulkIngest {
        try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        try BulkIngestBench.run(dir: scratchDirectory, records: config.records)
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        exit(0)
    }
    if config.workload == .checkpoint {
        try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        try CheckpointBench.run(dir: scratchDirectory, mebibytes: config.reshardMiB)
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        exit(0)
    }
    if config.workload == .strategyChange {
        try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        try StrategyChangeBench.run(dir: scratchDirectory, mebibytes: config.reshardMiB)
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        exit(0)
    }
    if config.workload == .reshard {
        try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        try ReshardLatency.run(dir: scratchDirectory, mebibytes: config.reshardMiB, cycles: config.reshardCycles,
                               walSegmentMiB: config.walSegmentMiB,
                               directWrites: config.reshardWrites.map { $0 == .direct }, data: config.reshardData,
                               backgroundNice: config.backgroundNice, writeSlowdownMiB: config.writeSlowdownMiB,
                               automaticBackground: config.automaticBackground, warmupSeconds: config.reshardWarmup)
        try? FileManager.default.removeItem(atPath: scratchDirectory)
        exit(0)
    }
    let n = config.records
    let keys = (0..<n).map(key)
    print("augur-bench: \(n) records, 16-byte keys, 100-byte values, store under \(scratchDirectory)")
    try? FileManager.default.removeItem(atPath: scratchDirectory)
    try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)

    // fillseq
    var engine = try openStore(scratchDirectory + "/seq", .none)
    var t = try engine.createTable("bench")
    var start = ContinuousClock.now
    for k in keys { try t.put(k, value) }
    report("fillseq", n, ContinuousClock.now - start)
    try engine.close()

    // fillrandom (fresh store)
    let order = shuffled(n, seed: 42)
    engine = try openStore(scratchDirectory + "/random", .none)
    t = try engine.createTable("bench")
    start = ContinuousClock.now
    for i in order { try t.put(keys[i], value) }
    report("fillrandom", n, ContinuousClock.now - start)

    // readrandom
    let reads = shuffled(n, seed: 7)
    var found = 0
    start = ContinuousClock.now
    for i in reads where try t.get(keys[i]) != nil { found += 1 }
    report("readrandom", n, ContinuousClock.now - start, "(\(found) found; memtable + segments)")

    // readrandom after flush: every read served from mapped segments
    try engine.flush()
    found = 0
    start = ContinuousClock.now
    for i in reads where try t.get(keys[i]) != nil { found += 1 }
    report("readrandom", n, ContinuousClock.now - start, "(\(found) found; after flush, from segments)")

    // readseq
    start = ContinuousClock.now
    let rows = try t.scan()
    report("readseq", rows.count, ContinuousClock.now - start)
    try engine.close()

    // fillsync: durability sync with group commit, 1 and 2 threads
    for threads in [1, 2] {
        let e = try openStore(scratchDirectory + "/sync\(threads)", .sync)
        let table = try e.createTable("bench")
        let deadline = ContinuousClock.now + .milliseconds(Int(config.syncSeconds * 1000))
        let counts = Counts(threads)
        let begin = ContinuousClock.now
        DispatchQueue.concurrentPerform(iterations: threads) { tid in
            var i = tid
            var done = 0
            while ContinuousClock.now < deadline {
                try! table.put(key(i), value)
                i += threads
                done += 1
            }
            counts.set(tid, done)
        }
        let total = counts.total
        report("fillsync/\(threads)t", total, ContinuousClock.now - begin, "(durability sync, group commit)")
        try e.close()
    }

    try telemetryOverhead(rounds: 5, count: min(n, 300_000), keys: keys, order: order, dir: scratchDirectory)
    if config.workload == .all {
        try ReshardLatency.run(dir: scratchDirectory, mebibytes: min(config.reshardMiB, 256))
    }
    try? FileManager.default.removeItem(atPath: scratchDirectory)
} catch {
    print("augur-bench failed: \(error)")
    try? FileManager.default.removeItem(atPath: scratch)
    exit(1)
}
