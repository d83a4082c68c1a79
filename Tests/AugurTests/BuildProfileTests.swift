import Testing
@testable import Augur
@_spi(Testing) import AugurSys
import AugurPlanner
import AugurTestSupport

/// Where a partition's data lies (`DataCuts.swift`): the index-build planner's cut candidates
/// must say how much data lies before each key, and the controller's data median must halve
/// the data, even when the partition's runs cover different parts of its range.
/// Taking the largest run's distribution for the whole partition made a CI run reshape a 60 %
/// partition into a piece holding 80 % of the table (SecondaryIndexTests.reshapeForBuild…).
@Suite struct BuildProfileTests {
    @Test func cutsAndMedianCountTheDataOfEveryRun() throws {
        let seed = UInt64.random(in: 0...UInt64(UInt32.max))
        print("BuildProfileTests seed \(seed)")
        var rng = RandomData(seed: seed)
        var o = ReshardTests.options(CrashSimulatingFileSystem())
        o.memtableFlushSize = 64 << 20
        o.maxRunsPerPartition = 8                       // keep the runs apart: no merge
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        // Three runs over disjoint, unequal parts of the range, in key order (as an ingestion
        // in key order leaves them), with value sizes differing between runs.
        let parts = [(0..<3000, 40), (3000..<4000, 200), (4000..<6000, 10)]
        for (keys, size) in parts {
            for i in keys { try table.put(ReshardTests.key(i), Array(repeating: UInt8(i & 0xFF), count: size + rng.int(0..<8))) }
            try engine.flush()
        }
        let partition = table.map.partitions[0]
        #expect(partition.view.runs.count == 3, "runs: \(partition.view.runs.count)")
        let profile = engine.indexes.buildProfile(partition)
        let records = try table.scan()
        #expect(profile.records == UInt64(records.count))
        let candidates = profile.cutCandidates
        #expect(candidates.count > 32 && candidates.count <= 64, "\(candidates.count) candidates")
        var previous: CutCandidate? = nil
        for c in candidates {
            if let previous {
                #expect(compareKeys(previous.key, c.key) < 0 && previous.bytesBefore <= c.bytesBefore)
            }
            previous = c
            // The truth from a scan: every record is stored once, so the data before a key is
            // the encoded size of the records before it.
            let before = records.prefix { compareKeys($0.key, c.key) < 0 }
            let bytes = before.reduce(0) { $0 + SegmentFormat.recordSize(keyCount: $1.key.count, valueCount: $1.value.count) }
            #expect(c.bytesBefore == UInt64(bytes), "\(formatKey(c.key)): \(c.bytesBefore) bytes before, scan says \(bytes)")
            let wantRecords = Double(before.count)
            #expect(abs(Double(c.recordsBefore) - wantRecords) <= 0.02 * Double(records.count),
                    "\(formatKey(c.key)): \(c.recordsBefore) records before, scan says \(before.count)")
        }
        // Spread over the whole range by data, not bunched in the largest run.
        let shares = candidates.map { Double($0.bytesBefore) / Double(profile.bytes) }
        #expect(shares.first! < 0.1 && shares.last! > 0.9, "shares from \(shares.first!) to \(shares.last!)")
        let widest = zip(shares.dropFirst(), shares).map { $0 - $1 }.max()!
        #expect(widest < 0.1, "a gap of \(widest) of the data without a candidate")
        // The controller's median split halves the data, not the largest run.
        let median = try #require(partition.view.dataMedianKey(lower: partition.lowerBound, upper: partition.upperBound))
        let share = Double(records.prefix { compareKeys($0.key, median) < 0 }
            .reduce(0) { $0 + SegmentFormat.recordSize(keyCount: $1.key.count, valueCount: $1.value.count) }) / Double(profile.bytes)
        #expect(abs(share - 0.5) < 0.05, "the data median \(formatKey(median)) has \(share) of the data before it")
        try engine.close()
    }
}
