import Testing
@testable import Augur
@_spi(Testing) import AugurSys

/// After `close` returns, the store's seg/ holds exactly the files its manifest names — even
/// when a view of a run a flush merged away outlives the close (another thread's reclamation
/// drops it a moment later). augur-crash's power-loss check found such leftovers under load:
/// "the first recovery left unreferenced files behind".
@Suite struct CloseSweepTests {
    @Test func closeLeavesOnlyTheFilesTheManifestNames() throws {
        let fs = CrashSimulatingFileSystem()
        var o = ReshardTests.options(fs)
        o.maxRunsPerPartition = 1                      // every flush merges the partition's run away
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        for i in 0..<200 { try table.put(ReshardTests.key(i), Array(repeating: 7, count: 50)) }
        try engine.flush()
        // A view that outlives the merge and the close: it keeps the first run's file mapped.
        var held: PartitionView? = table.map.partitions[0].view
        let firstRun = try #require(held?.runs.first?.name)
        for i in 200..<400 { try table.put(ReshardTests.key(i), Array(repeating: 8, count: 50)) }
        try engine.flush()
        #expect(try table.partitionStats()[0].segmentFiles != [firstRun], "the second flush did not merge the first run away")
        try engine.close()
        let left = try fs.listDirectory("/db/seg")
        #expect(!left.contains(firstRun), "close left the merged-away run \(firstRun) in seg/: \(left.sorted())")
        held = nil                                      // its own removal now finds nothing
        _ = held

        let reopened = try Engine.open(at: "/db", options: o)
        #expect(reopened.recoveryReport.filesRemoved.isEmpty, "recovery removed \(reopened.recoveryReport.filesRemoved)")
        #expect(try reopened.table(named: "t").scan().count == 400)
        try reopened.close()
    }
}
