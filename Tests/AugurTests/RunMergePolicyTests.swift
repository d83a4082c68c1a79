import Testing
@_spi(Testing) import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport
import AugurStats

/// Which runs a flush merges (`RunMergePolicy`), and what a merge of only the newest runs must
/// keep in the engine.
@Suite struct RunMergePolicyTests {
    /// Replays `flushes` through the policy; returns bytes written per byte flushed and the
    /// largest run count seen.
    static func replay(_ flushes: [Int], maxRuns: Int) -> (amplification: Double, mostRuns: Int) {
        var runs: [Int] = []
        var written = 0
        var mostRuns = 0
        for f in flushes {
            let j = RunMergePolicy.newestRunsToMerge(flushBytes: f, runBytes: runs, maxRuns: maxRuns)
            let merged = f + runs.prefix(j).reduce(0, +)
            written += merged
            runs = [merged] + runs.dropFirst(j)
            mostRuns = max(mostRuns, runs.count)
        }
        return (Double(written) / Double(flushes.reduce(0, +)), mostRuns)
    }

    @Test func nothingIsMergedBelowTheBound() {
        #expect(RunMergePolicy.newestRunsToMerge(flushBytes: 10, runBytes: [], maxRuns: 4) == 0)
        #expect(RunMergePolicy.newestRunsToMerge(flushBytes: 10, runBytes: [5, 50, 500], maxRuns: 4) == 0)
        #expect(RunMergePolicy.newestRunsToMerge(flushBytes: 10, runBytes: [5], maxRuns: 1) == 1)
        #expect(RunMergePolicy.newestRunsToMerge(flushBytes: 10, runBytes: [], maxRuns: 1) == 0)
    }

    /// Three small young runs above one large old one: merging the young ones frees the most
    /// slots per byte written, and the old run is left alone (merging everything was the rule
    /// before, and rewrote the old run every fourth flush).
    @Test func aForcedMergeLeavesTheLargeOldRunAlone() {
        #expect(RunMergePolicy.newestRunsToMerge(flushBytes: 1, runBytes: [1, 1, 1, 10], maxRuns: 4) == 3)
        // A young run as large as the old one: merging only the newest is cheapest.
        #expect(RunMergePolicy.newestRunsToMerge(flushBytes: 1, runBytes: [1, 8, 9, 10], maxRuns: 4) == 1)
        // Too many runs (a lowered bound): at least enough are merged to meet it.
        #expect(RunMergePolicy.newestRunsToMerge(flushBytes: 1, runBytes: [1, 1, 100, 100, 100], maxRuns: 2) >= 4)
    }

    /// What merging every run writes for the same flushes (the rule before the policy).
    static func fullMergeAmplification(_ flushes: [Int], maxRuns: Int) -> Double {
        var runs = 0, written = 0, total = 0
        for f in flushes {
            total += f
            if runs + 1 > maxRuns { written += total; runs = 1 } else { written += f; runs += 1 }
        }
        return Double(written) / Double(flushes.reduce(0, +))
    }

    /// Seeded random flush sizes (as a memtable's real flushes vary, 0.4–2.5 × the mean): the
    /// bound always holds, and on average over 200 partitions the policy writes at most 85 %
    /// (20 flushes) and 80 % (40 flushes) of what merging every run wrote. Per partition it can
    /// lose to merging everything when full merges happen to fall well (a simulation of 3,000
    /// partitions: up to 1.14× at 4 runs and 20 flushes), so the check is on the mean (there
    /// 0.67–0.75 at 20 flushes and 0.57–0.64 at 40 for 2, 4 and 6 runs).
    @Test func randomFlushesStayBoundedAndWriteLessThanFullMerges() {
        let seed = testSeed(0x5EED_3E26)
        var rng = SplitMix64(seed: seed)
        for maxRuns in [2, 4, 6] {
            for (count, limit) in [(20, 0.85), (40, 0.80)] {
                var ratios = 0.0
                let partitions = 200
                for _ in 0..<partitions {
                    let flushes = (0..<count).map { _ in 400 + Int(rng.next() % 2100) }
                    let policy = Self.replay(flushes, maxRuns: maxRuns)
                    #expect(policy.mostRuns <= maxRuns, "seed \(seed): \(policy.mostRuns) runs with a bound of \(maxRuns)")
                    ratios += policy.amplification / Self.fullMergeAmplification(flushes, maxRuns: maxRuns)
                }
                let mean = ratios / Double(partitions)
                #expect(mean <= limit, "seed \(seed), \(count) flushes, \(maxRuns) runs: \(mean) of full merges' bytes")
            }
        }
    }

    /// A merge of only the newest runs keeps its tombstones: a key put in the old run and
    /// deleted in a newer one stays deleted after the newer runs merge above the old run, and
    /// after a reopen. (With tombstones dropped in every merge, the key came back — tried.)
    @Test func aPartialMergeKeepsTheDeletesOfOlderRuns() throws {
        let fs = CrashSimulatingFileSystem()
        var o = ReshardTests.options(fs)
        o.maxRunsPerPartition = 2
        var engine = try Engine.open(at: "/db", options: o)
        var table = try engine.createTable("t")
        func key(_ i: Int) -> [UInt8] { Array("key\(10_000 + i)".utf8) }
        // A large old run (2.5 MB: larger than a near-empty memtable's arena chunks, which is
        // what such a memtable counts as).
        for i in 0..<20_000 { try table.put(key(i), Array(repeating: UInt8(i & 0xFF), count: 100)) }
        try engine.flush()
        // A small newer run holding the deletes.
        for i in stride(from: 0, to: 20_000, by: 1_000) { try table.delete(key(i)) }
        try engine.flush()
        #expect(try table.partitionStats().map(\.segmentCount) == [2])
        // A third flush must merge: the newest run with the small memtable is far cheaper than
        // rewriting the old run, so the old run stays below.
        try table.put(key(50_000), Array("new".utf8))
        try engine.flush()
        let files = try table.partitionStats()[0]
        #expect(files.segmentCount == 2, "a partial merge: \(files.segmentFiles)")
        func check(_ t: Table, _ when: String) throws {
            for i in stride(from: 0, to: 20_000, by: 1_000) { #expect(try t.get(key(i)) == nil, "\(when): deleted key \(i) is back") }
            #expect(try t.get(key(1)) == Array(repeating: 1, count: 100), "\(when)")
            #expect(try t.get(key(50_000)) == Array("new".utf8), "\(when)")
            #expect(try t.scan().count == 20_000 - 20 + 1, "\(when)")
        }
        try check(table, "after the partial merge")
        try engine.close()
        engine = try Engine.open(at: "/db", options: o)
        table = try engine.table(named: "t")
        try check(table, "after a reopen")
        try engine.close()
    }
}
