// Dropping a secondary index while writers run and while it builds: the other indexes stay
// exact, nothing is left behind. Split from SecondaryIndexTests.swift (issue 17: files under
// about 500 lines); the suite's helpers are there.
import Testing
@_spi(Testing) import Augur
@_spi(Testing) import AugurSys
import AugurPlanner
import AugurTestSupport
import Synchronization
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

extension SecondaryIndexTests {
    /// Files in seg/ that the table's runs and index runs do not account for.
    static func strayFiles(_ fs: any FileSystem, _ table: Table) throws -> Int {
        // Distinct names: after a reshard that shared files, several runs view one file. A
        // flush queued earlier may still hold a partition (and its files) or be writing a run.
        table.drainBackgroundWork()
        let referenced = Set(try table.partitionStats().flatMap(\.segmentFiles))
        return try fs.listDirectory("/db/seg").count - referenced.count
    }

    /// Dropping one of two indexes while a writer runs: the other stays exact, the dropped one's
    /// handles throw, its files go (now and after a reopen, and after a power cut right after the
    /// drop), and its name can be used again at once.
    @Test(arguments: seeds)
    func dropWhileWritingKeepsTheOtherIndexExact(seed: UInt64) throws {
        print("SecondaryIndexTests.drop seed \(seed) (AUGUR_SEED=\(seed) replays it)")
        var rng = RandomData(seed: seed)
        let fs = CrashSimulatingFileSystem()
        var o = Self.options(fs)
        o.durability = .sync
        var engine = try Engine.open(at: "/db", options: o)
        var table = try engine.createTable("t")
        for i in 0..<1_500 { try table.put(Array("k\(String(padded(rng.int(0..<3_000))))".utf8), Self.value(&rng)) }
        try table.splitPartition(at: Array("k\(String(padded(1_500)))".utf8))
        let colour = try table.createSecondaryIndex(name: "colour", key: Self.colour)
        let length = try table.createSecondaryIndex(name: "length", key: Self.lengthClass)
        try colour.waitUntilReady()
        try length.waitUntilReady()
        for i in 0..<300 { try table.put(Array("k\(String(padded(rng.int(0..<3_000))))".utf8), Self.value(&rng)) }
        try engine.flush()
        for i in 0..<300 { try table.put(Array("k\(String(padded(rng.int(0..<3_000))))".utf8), Self.value(&rng)) }
        // Unflushed entries of both indexes are in memtables and the WAL now.
        let writer = table
        let stop = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
        let writes = Atomic<Int>(0)
        DispatchQueue.global().async {
            defer { done.signal() }
            var r = RandomData(seed: seed &+ 1000)
            while !stop.load(ordering: .relaxed) {
                let k = Array("k\(String(padded(r.int(0..<3_000))))".utf8)
                if r.chance(0.2) { try! writer.delete(k) } else { try! writer.put(k, Self.value(&r)) }
                writes.add(1, ordering: .relaxed)
            }
        }
        while writes.load(ordering: .relaxed) < 200 { usleep(1_000) }
        try table.dropSecondaryIndex(name: "colour")
        let afterDrop = writes.load(ordering: .relaxed)
        while writes.load(ordering: .relaxed) < afterDrop + 200 { usleep(1_000) }
        stop.store(true, ordering: .relaxed)
        done.wait()

        let gone = AugurError.indexNotFound(table: "t", index: "colour")
        #expect(throws: gone) { try colour.scan() }
        #expect(throws: gone) { try colour.status() }
        #expect(throws: gone) { try colour.waitUntilReady() }
        #expect(throws: gone) { try table.index(named: "colour") }
        #expect(throws: gone) { try table.dropSecondaryIndex(name: "colour") }
        #expect(table.secondaryIndexNames == ["length"])
        try Self.check(length, Self.lengthClass, "seed \(seed): the other index after the drop")
        try engine.flush()
        #expect(try Self.strayFiles(fs, table) == 0, "seed \(seed): the dropped index's files are still on disk")
        let stats = try table.partitionStats()
        #expect(stats.allSatisfy { $0.indexSegmentCount > 0 }, "length's runs remain: \(stats.map { ($0.id, $0.records, $0.segmentCount, $0.indexSegmentCount) })")

        // A power cut now: the drop is durable, WAL entries of the dropped index are skipped.
        let crashed = fs.crashClone(tearing: .none, seed: seed)
        let base = try table.scan()
        try engine.close()
        for (name, disk) in [("clean reopen", fs), ("after a power cut", crashed)] {
            engine = try Engine.open(at: "/db", options: Self.options(disk))
            table = try engine.table(named: "t")
            #expect(try table.scan() == base, "seed \(seed), \(name): base data")
            #expect(table.secondaryIndexNames == ["length"], "seed \(seed), \(name)")
            // Only "length" needs an extractor: writes work once it is attached.
            let l = try table.attachSecondaryIndex(name: "length", key: Self.lengthClass)
            try Self.check(l, Self.lengthClass, "seed \(seed), \(name)")
            try engine.flush()                    // background flushes of replayed data done
            #expect(try Self.strayFiles(disk, table) == 0, "seed \(seed), \(name): files of the dropped index remain")
            try table.put("x", "c=red")
            try engine.close()
        }

        // The name is free again, for an index with another key.
        engine = try Engine.open(at: "/db", options: Self.options(fs))
        table = try engine.table(named: "t")
        try table.attachSecondaryIndex(name: "length", key: Self.lengthClass)
        let renamed = try table.createSecondaryIndex(name: "colour", key: Self.lengthClass)
        try Self.check(renamed, Self.lengthClass, "seed \(seed): a new index under the dropped name")
        try table.dropSecondaryIndex(name: "length")
        try table.dropSecondaryIndex(name: "colour")
        #expect(table.secondaryIndexNames.isEmpty)
        try table.put("y", "c=blue")
        try engine.flush()
        #expect(try table.partitionStats().allSatisfy { $0.indexSegmentCount == 0 })
        try engine.close()
        engine = try Engine.open(at: "/db", options: Self.options(fs))
        table = try engine.table(named: "t")
        try table.put("z", "c=green")             // no index left: nothing to attach
        // The open flushes replayed memtables in the background; a flush waits for it (it takes
        // the same maintenance locks), so a run it is writing is not counted as a stray file.
        try engine.flush()
        let onDisk = try fs.listDirectory("/db/seg").sorted()
        let accounted = try table.partitionStats().map { ($0.id, $0.segmentCount, $0.indexSegmentCount) }
        #expect(try Self.strayFiles(fs, table) == 0, "seed \(seed): files left after dropping every index: \(onDisk) vs \(accounted)")
        try engine.close()
    }

    /// Dropping an index while its build runs stops the build; nothing of it stays.
    @Test func dropDuringBuild() throws {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        let table = try engine.createTable("t")
        var rng = RandomData(seed: 5)
        for i in 0..<4_000 { try table.put(Array("k\(String(padded(i)))".utf8), Self.value(&rng)) }
        for k in [1_000, 2_000, 3_000] { try table.splitPartition(at: Array("k\(String(padded(k)))".utf8)) }
        let index = try table.createSecondaryIndex(name: "colour", key: Self.colour)
        try table.dropSecondaryIndex(name: "colour")
        #expect(throws: AugurError.indexNotFound(table: "t", index: "colour")) { try index.waitUntilReady() }
        // Let a build still winding down finish its current part (it discards it).
        let again = try table.createSecondaryIndex(name: "colour", key: Self.colour)
        try Self.check(again, Self.colour, "rebuilt after a drop during the build")
        try table.dropSecondaryIndex(name: "colour")
        try engine.close()
        let reopened = try Engine.open(at: "/db", options: Self.options(fs))
        let t = try reopened.table(named: "t")
        #expect(t.secondaryIndexNames.isEmpty)
        #expect(try Self.strayFiles(fs, t) == 0, "files of the dropped builds remain")
        #expect(try t.partitionStats().allSatisfy { $0.indexSegmentCount == 0 })
        try reopened.close()
    }
}
