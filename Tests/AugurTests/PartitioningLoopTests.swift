#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import Augur
import AugurPlanner
@_spi(Testing) import AugurSys
import AugurTestSupport
import AugurStats

/// The controller loop's rules in the live engine (issue 14): inherited counts are not load,
/// splits never leave a side without data, history follows key ranges through reshards and
/// reopen, cold neighbours merge, overload is counted under every policy.
@Suite struct PartitioningLoopTests {
    func options(_ policy: PlannerPolicy, fs: CrashSimulatingFileSystem = CrashSimulatingFileSystem()) -> (EngineOptions, ManualClock) {
        let clock = ManualClock()
        var o = EngineOptions()
        o.fileSystem = fs
        o.durability = .none
        o.clock = clock
        o.telemetry.collectInterval = .seconds(3600)
        o.partitioning.policy = policy
        o.partitioning.runsOnTimer = false
        // A fixed capacity keeps the test deterministic (measured cost depends on the machine).
        o.partitioning.capacity = CapacityModel(opsPerSecond: 1000, minPartitionBytes: 0, horizonNanos: 30_000_000_000,
                                                cooldownNanos: 20_000_000_000)
        return (o, clock)
    }

    /// One second of `ops` operations on keys `k0000`…`k(keys-1)` (reads and writes alternate), then a tick.
    func second(_ engine: Engine, _ table: Table, _ clock: ManualClock, ops: Int, keys: Int = 2000, n: inout Int) throws -> [PartitioningDecision] {
        for _ in 0..<ops {
            n += 1
            let k = (n &* 7919) % keys
            let key = Array(String(format: "k%04d", k).utf8)
            if n % 2 == 0 { try table.put(key, [1, 2, 3, 4]) } else { _ = try table.get(key) }
        }
        clock.advance(by: .seconds(1))
        return engine.controllerTick()
    }

    func load(_ table: Table, keys: Int = 2000) throws {
        for k in 0..<keys { try table.put(Array(String(format: "k%04d", k).utf8), [0]) }
    }

    /// A store with table "t" holding keys k0000…k1999 in a flushed run, after its first tick.
    func loadedStore(_ o: EngineOptions) throws -> (Engine, Table) {
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        try load(table)
        try engine.flush()
        _ = engine.controllerTick()
        return (engine, table)
    }

    func settle(_ engine: Engine) throws {
        for name in try engine.tableNames() {
            for _ in 0..<5000 {
                if try engine.reshardingStatus(table: name).allSatisfy({ $0.state == .committed || $0.state == .aborted }) { break }
                usleep(1000)
            }
        }
    }

    func savedHistory(_ fs: CrashSimulatingFileSystem) throws -> [[String: Any]] {
        let bytes = try fs.readFile("/db/LOADHISTORY")
        let text = String(decoding: bytes, as: UTF8.self)
        let json = try #require(text.range(of: "\ncrc32c ", options: .backwards)).lowerBound
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text[..<json].utf8)) as? [String: Any])
        let tables = try #require(object["tables"] as? [[String: Any]])
        return try #require(tables.first?["ranges"] as? [[String: Any]])
    }

    /// Tried without the fix (a new partition's series starting from zero totals): each child's
    /// first sample counted its inherited histogram counts as one second of load (several
    /// thousand ops/s against 1,500 offered), which used to make fresh children split again.
    /// Also tried without the second fix (children planned on inherited samples, shared out by
    /// whole histograms): with background work at lowered priority beside three busy loops, 6
    /// of 10 runs split a child after the load fell — one holding 5 % of the keys had inherited
    /// 726 ops/s of its parent's 750 — and 0 of 10 with it.
    @Test func inheritedCountsAreNotNewLoad() throws {
        let fs = CrashSimulatingFileSystem()
        var (o, clock) = options(.predictive(PredictiveOptions(splitIntervalNanos: 0, sustainWithoutForecastNanos: 0)), fs: fs)
        o.partitioning.capacity.cooldownNanos = 600_000_000_000   // no merges in this test
        let (engine, table) = try loadedStore(o)
        var n = 0
        var d: [PartitioningDecision] = []
        for _ in 0..<6 { d += try second(engine, table, clock, ops: 1500, n: &n) }
        #expect(d.contains { $0.kind == "split" && $0.executed }, "no split under 1.5× capacity: \(d.map(\.action))")
        try settle(engine)
        // Well under capacity now: once the current load (the mean of the last three samples)
        // holds only low-load seconds, nothing may split — each child sees its share of 300
        // ops/s. The first two ticks may still legitimately split: a child holding 60 % of the
        // 1,500 ops/s runs at 0.9 of capacity, and (900 + 900 + 180) / 3 with the 25 % margin
        // is over the 0.8 watermark. Which split that is depends on when the reshard finished
        // (on a loaded machine, a tick later), so the partition count is taken after them.
        for _ in 0..<2 { _ = try second(engine, table, clock, ops: 300, n: &n) }
        try settle(engine)
        let parts = try table.partitionStats().count
        var after: [PartitioningDecision] = []
        for _ in 0..<5 { after += try second(engine, table, clock, ops: 300, n: &n) }
        #expect(!after.contains { $0.kind == "split" }, "split again after the load fell: \(after.map { $0.action + " " + $0.reason })")
        #expect(try table.partitionStats().count == parts)
        try engine.close()
        for r in try savedHistory(fs) {
            let ops = try #require((r["samples"] as? [String: Any])?["ops"] as? [Double])
            #expect(ops.allSatisfy { $0 <= 1600 }, "a sample above the offered load: \(ops)")
        }
    }

    /// Tried without the fix (cut keys taken as the planner gave them): the histogram of the
    /// whole key space put every `k…` key in one bucket, the cuts fell above all data, and the
    /// split made partitions with no record.
    @Test func splitsNeverLeaveAnEmptySide() throws {
        let (o, clock) = options(.predictive(PredictiveOptions()))
        let (engine, table) = try loadedStore(o)
        var n = 0
        var d: [PartitioningDecision] = []
        for _ in 0..<40 { d += try second(engine, table, clock, ops: 3000, n: &n) }
        try settle(engine)
        let stats = try table.partitionStats()
        #expect(stats.count >= 2, "no split: \(d.map(\.action))")
        for p in stats { #expect(p.records > 0, "empty partition \(p) after \(d.map(\.action))") }
        #expect(coverageProblem(stats) == nil)
        try engine.close()
    }

    /// Tried without carrying history (each new partition starting empty): the children's saved
    /// samples covered only the seconds after the split.
    @Test func historyFollowsSplitsAndReopen() throws {
        let fs = CrashSimulatingFileSystem()
        var (o, clock) = options(.predictive(PredictiveOptions()), fs: fs)
        o.partitioning.capacity.cooldownNanos = 600_000_000_000
        var engine = try Engine.open(at: "/db", options: o)
        var table = try engine.createTable("t")
        try load(table)
        try engine.flush()
        var n = 0
        _ = engine.controllerTick()
        for _ in 0..<20 { _ = try second(engine, table, clock, ops: 600, n: &n) }
        for _ in 0..<10 { _ = try second(engine, table, clock, ops: 2500, n: &n) }
        try settle(engine)
        for _ in 0..<3 { _ = try second(engine, table, clock, ops: 2500, n: &n) }
        #expect(try table.partitionStats().count >= 2, "no split")
        try engine.close()
        let ranges = try savedHistory(fs)
        #expect(ranges.count >= 2)
        for r in ranges {
            let ops = try #require((r["samples"] as? [String: Any])?["ops"] as? [Double])
            #expect(ops.count >= 30, "a range's history starts at its split: \(ops.count) samples")
            // The first 20 s carried ~600 ops/s for the whole table: each range holds its share.
            #expect(ops.prefix(15).allSatisfy { $0 < 700 }, "inherited history is scaled to the range's share")
        }
        let total = ranges.compactMap { ($0["samples"] as? [String: Any])?["ops"] as? [Double] }
            .map { $0[5] }.reduce(0, +)
        #expect(abs(total - 600) < 120, "shares of an old second sum to what the table saw (\(total))")

        // Reopen: the history continues where it was saved.
        engine = try Engine.open(at: "/db", options: o)
        table = try engine.table(named: "t")
        _ = engine.controllerTick()
        for _ in 0..<5 { _ = try second(engine, table, clock, ops: 100, n: &n) }
        let note = try engine.partitioningCounters(table: "t").historyNote
        #expect(note == nil, "\(note ?? "")")
        try engine.close()
        for r in try savedHistory(fs) {
            let ops = try #require((r["samples"] as? [String: Any])?["ops"] as? [Double])
            #expect(ops.count >= 35, "reopen forgot the history: \(ops.count) samples")
        }
    }

    @Test func damagedHistoryIsIgnoredAndReported() throws {
        let fs = CrashSimulatingFileSystem()
        let (o, clock) = options(.reactive(ReactiveOptions()), fs: fs)
        var engine = try Engine.open(at: "/db", options: o)
        var table = try engine.createTable("t")
        var n = 0
        for _ in 0..<3 { _ = try second(engine, table, clock, ops: 10, n: &n) }
        try engine.close()
        var bytes = try fs.readFile("/db/LOADHISTORY")
        bytes[bytes.count / 2] ^= 0x20
        let h = try fs.open("/db/LOADHISTORY", mode: .readWrite)
        try h.write(at: 0, bytes)
        try h.sync()
        h.close()
        engine = try Engine.open(at: "/db", options: o)
        table = try engine.table(named: "t")
        let note = try #require(try engine.partitioningCounters(table: "t").historyNote)
        #expect(note.contains("LOADHISTORY ignored"), "\(note)")
        #expect(try table.get("k0000") == nil || true)
        try engine.close()
    }

    /// A merge of cold neighbours once the load has fallen and the forecast says it stays low;
    /// the merged range keeps the history of both. Tried with the old merge rule (the summed
    /// 95 % upper bounds under the low watermark): wide intervals after the collapse kept every
    /// pair apart for the whole trough.
    @Test func coldNeighboursMergeInATrough() throws {
        let fs = CrashSimulatingFileSystem()
        let (o, clock) = options(.predictive(PredictiveOptions()), fs: fs)
        let (engine, table) = try loadedStore(o)
        var n = 0
        var d: [PartitioningDecision] = []
        for _ in 0..<20 { d += try second(engine, table, clock, ops: 2500, n: &n) }
        try settle(engine)
        let peak = try table.partitionStats().count
        #expect(peak >= 2, "no split at the peak: \(d.map(\.action))")
        // The forecast issued before the collapse may still split in the first trough seconds:
        // count from the largest layout the run reached.
        var trough: [PartitioningDecision] = []
        var most = peak
        for _ in 0..<240 {
            trough += try second(engine, table, clock, ops: 40, n: &n)
            try settle(engine)
            most = max(most, try table.partitionStats().count)
        }
        let plan = try engine.currentPlan(table: "t")
        #expect(trough.contains { $0.kind == "merge" && $0.executed }, "no merge in the trough: \(trough.map(\.action)) \(plan)")
        let end = try table.partitionStats().count
        #expect(end < most, "\(most) → \(end): \(trough.map(\.action))")
        #expect(coverageProblem(try table.partitionStats()) == nil)
        try engine.close()
        for r in try savedHistory(fs) {
            let ops = try #require((r["samples"] as? [String: Any])?["ops"] as? [Double])
            #expect(ops.count >= 250, "every range, merged or not, holds the table's whole history: \(ops.count)")
            #expect(ops.dropLast(240).contains { $0 > 100 }, "the peak is in the merged range's history")
        }
    }

    /// Issue 16 in the engine: a hotspot drifting through the key space (1 % of the keys per
    /// second, 1,500 ops/s against a capacity of 1,000). The table's key-share forecast sees it
    /// move, so the predictive policy splits a range the hotspot is heading for while that range
    /// is still cold — which nothing else does: without the key-share forecast a range is only
    /// split once its own load is above the low watermark (tried: no such split in 150 s).
    @Test func rangesAheadOfAMovingHotspotSplitBeforeItArrives() throws {
        let (o, clock) = options(.predictive(PredictiveOptions()))
        let keys = 2000, width = 200, speed = 20          // keys, hot keys, keys per second
        // Ordered binary keys, as augur-load's ordered workloads write them: key positions are
        // then proportional to item numbers (decimal ASCII keys use 10 of 256 values per byte,
        // so a 64-bucket grid sees them in a handful of buckets and cannot measure a drift).
        func key(_ k: Int) -> [UInt8] { [0x6B] + withUnsafeBytes(of: UInt32(k).bigEndian) { Array($0) } }
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        for k in 0..<keys { try table.put(key(k), [0]) }
        try engine.flush()
        _ = engine.controllerTick()
        var rng = UInt64(16)
        func next() -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: rng >> 33)
        }
        var ahead: [String] = []
        for t in 0..<150 {
            let start = (speed * t) % keys
            for _ in 0..<1500 {
                let k = next() % 10 < 9 ? (start + next() % width) % keys : next() % keys
                if next() % 2 == 0 { try table.put(key(k), [1, 2, 3, 4]) } else { _ = try table.get(key(k)) }
            }
            let before = try table.partitionStats()
            clock.advance(by: .seconds(1))
            for d in engine.controllerTick() where d.executed && d.kind == "split" {
                guard let p = before.first(where: { d.partitions.contains($0.id) }) else { continue }
                func inside(_ k: Int) -> Bool {
                    let bytes = key(k)
                    return !bytes.lexicographicallyPrecedes(p.lowerBound) && (p.upperBound.map { bytes.lexicographicallyPrecedes($0) } ?? true)
                }
                // Cold now: no hot key inside; heading there: the hot window within 30 s is.
                let hotNow = (0..<width).contains { inside((start + $0) % keys) }
                let hotSoon = (0..<width).contains { inside((start + speed * 30 + $0) % keys) }
                if !hotNow && hotSoon { ahead.append("t=\(t)s: \(d.action) — \(d.reason)") }
            }
            try settle(engine)
        }
        let plan = try engine.currentPlan(table: "t")
        #expect(!ahead.isEmpty, "no range was split ahead of the hotspot: \(plan)")
        print("split ahead of the hotspot: \(ahead.count), first: \(ahead.first ?? "-")")
        #expect(coverageProblem(try table.partitionStats()) == nil)
        try engine.close()
    }

    /// Overload is measured for `.static` too (it used to count only when a policy planned).
    /// Issue 18, "when forecasts go wrong": steady load with a little noise, then a regime in
    /// which the load jumps between 50 and 1,500 ops/s from one step to the next, then steady
    /// again. The range's forecast intervals stop covering in the jumpy regime: the controller
    /// withholds its forecast (a `forecast-fallback` decision, the counters, TELEMETRY.json) and
    /// trusts it again once they cover (`forecast-restored`). Capacity is far above the load, so
    /// the one partition stays one range throughout.
    @Test func forecastsThatStopCoveringFallBackToReactiveRulesAndReturn() throws {
        let fs = CrashSimulatingFileSystem()
        var (o, clock) = options(.predictive(PredictiveOptions()), fs: fs)
        o.partitioning.capacity = CapacityModel(opsPerSecond: 1_000_000, minPartitionBytes: 0, horizonNanos: 30_000_000_000,
                                                cooldownNanos: 20_000_000_000)
        o.partitioning.forecastAlertWindow = .seconds(200)  // 40 steps of 5 s
        // TELEMETRY.json from the collector timer (real time), written when engine time moved.
        o.telemetry.collectInterval = .milliseconds(20)
        o.telemetry.healthFileInterval = .milliseconds(1)
        let (engine, table) = try loadedStore(o)
        // A fixed seed (it used to be a new random one per run): with some seeds the steady
        // phase's noise (±30 of 400) alone makes the intervals miss often enough to raise the
        // alert — seed 15875373695801802741 fails the first check every time, 1 of the 22 seeds
        // tried — a false alarm a statistical alert has at some rate, not a controller bug.
        let seed = testSeed(0x5EED_F0CA)
        var rng = SplitMix64(seed: seed)
        var n = 0
        var log: [PartitioningDecision] = []
        func step(_ ops: Int) throws { for _ in 0..<5 { log += try second(engine, table, clock, ops: ops, n: &n) } }
        func fallbacks() throws -> [ForecastFallback] { try engine.partitioningCounters(table: "t").forecastFallbacks }

        for _ in 0..<80 { try step(400 + Int.random(in: -30...30, using: &rng)) }
        #expect(try fallbacks().isEmpty, "steady load must keep the forecast: \(log.map(\.reason))")
        #expect(!log.contains { $0.kind == "forecast-fallback" })

        var wild = 0
        while try fallbacks().isEmpty && wild < 60 {
            try step(Bool.random(using: &rng) ? 50 : 1500)
            wild += 1
        }
        let entered = try fallbacks()
        #expect(entered.count == 1, "no fallback after \(wild) jumpy steps")
        let fallback = try #require(log.first { $0.kind == "forecast-fallback" })
        #expect(fallback.reasonCode == "forecast-fallback" && fallback.executed && fallback.reason.contains("outside"), "\(fallback)")
        #expect(entered.first?.reason.contains("critical") == true)
        // `augur stats` shows it: move engine time a millisecond so the collector rewrites
        // TELEMETRY.json, and wait for it.
        clock.advance(by: .milliseconds(1))
        var shown: [ForecastFallback]? = nil
        for _ in 0..<500 where shown?.isEmpty ?? true {
            usleep(10_000)
            if let bytes = try? fs.readFile("/db/TELEMETRY.json") { shown = try? TelemetryFile.decode(bytes).forecastFallbacks }
        }
        #expect(shown?.map(\.partition) == entered.map(\.partition), "TELEMETRY.json: \(String(describing: shown))")

        var calm = 0
        while try !fallbacks().isEmpty && calm < 200 {
            try step(400 + Int.random(in: -30...30, using: &rng))
            calm += 1
        }
        #expect(try fallbacks().isEmpty, "still falling back after \(calm) steady steps")
        let restored = log.filter { $0.kind == "forecast-restored" }
        #expect(restored.count == 1 && restored.first?.partitions == fallback.partitions, "\(log.map(\.action))")
        #expect(try engine.partitioningCounters(table: "t").fallbackEntries == 1)
        #expect(try table.partitionStats().count == 1)
        print("fallback after \(wild) jumpy steps, restored after \(calm) steady steps")
        try engine.close()
        let lines = String(decoding: try fs.readFile("/db/decisions.jsonl"), as: UTF8.self)
        #expect(lines.contains("\"forecast-fallback\"") && lines.contains("\"forecast-restored\""))
    }

    /// Writes only to the four lowest keys: the planner reads every write landing in one bucket
    /// as appends at the top and proposes pre-creation every tick; the executor refuses it (the
    /// recent writes start below the data median). Tried without the fix (refusals keyed by the
    /// rendered action, whose predicted utilization follows the load): logged 11 times in
    /// 125 s, often a second apart.
    @Test func aRepeatedRefusalIsLoggedOncePerMinute() throws {
        let (o, clock) = options(.predictive(PredictiveOptions()))
        let (engine, table) = try loadedStore(o)
        var n = 0
        var d: [PartitioningDecision] = []
        // Under capacity (no split), at a rate that changes every second.
        for s in 0..<125 { d += try second(engine, table, clock, ops: 100 + 60 * (s % 5), keys: 4, n: &n) }
        let refused = d.filter { $0.kind == "precreate" && $0.error != nil }
        #expect((1...3).contains(refused.count), "at most one refusal a minute, logged \(refused.count) times in 125 s: \(refused.map(\.action))")
        for (a, b) in zip(refused, refused.dropFirst()) { #expect(b.time - a.time >= 60_000_000_000) }
        #expect(!d.contains { $0.executed }, "\(d.map(\.action))")
        try engine.close()
    }

    @Test func staticCountsOverload() throws {
        let (o, clock) = options(.static)
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        var n = 0
        _ = engine.controllerTick()
        for _ in 0..<5 { _ = try second(engine, table, clock, ops: 2500, n: &n) }
        let c = try engine.partitioningCounters(table: "t")
        #expect(c.overloadSeconds >= 4, "\(c.overloadSeconds)")
        #expect(c.partitions == 1)
        try engine.close()
    }
}
