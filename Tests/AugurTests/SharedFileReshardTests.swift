import Testing
@_spi(Testing) import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport

/// Reshards that share segment files (`ReshardDataMode.shareFiles`, the default): targets view
/// their sources' files within their own ranges, nothing is copied, and a shared file lives
/// exactly as long as some partition views it.
@Suite struct SharedFileReshardTests {
    static func key(_ i: Int) -> [UInt8] { Array("key\(1000 + i)".utf8) }

    /// Options on `fs` with at most two runs a partition.
    static func twoRunOptions(_ fs: CrashSimulatingFileSystem) -> EngineOptions {
        var o = ReshardTests.options(fs)
        o.maxRunsPerPartition = 2
        return o
    }

    /// Puts keys `0..<count` ("old<i>") into `table` and flushes them into one file: its name.
    static func loadOneFile(_ engine: Engine, _ table: Table, count: Int, model: inout [[UInt8]: [UInt8]],
                            fs: CrashSimulatingFileSystem) throws -> Set<String> {
        for i in 0..<count { let v = Array("old\(i)".utf8); try table.put(key(i), v); model[key(i)] = v }
        try engine.flush()
        return Set(try fs.listDirectory("/db/seg"))
    }

    /// The partition holding `range` rewrites it: deletes every second key, overwrites every
    /// fourth, two flushes — the second merges all its runs, tombstones dropped (a flush merges
    /// the old slice only once the newer run is larger than it, see RunMergePolicy: hence the
    /// long new values).
    static func rewrite(_ range: Range<Int>, _ engine: Engine, _ table: Table, model: inout [[UInt8]: [UInt8]]) throws {
        for i in stride(from: range.lowerBound, to: range.upperBound, by: 2) { try table.delete(key(i)); model[key(i)] = nil }
        for i in stride(from: range.lowerBound + 1, to: range.upperBound, by: 4) {
            let v = Array("new\(i)".utf8) + Array(repeating: 0x2E, count: 100); try table.put(key(i), v); model[key(i)] = v
        }
        try engine.flush()
        let last = key(range.upperBound - 1)
        try table.put(last, Array("last".utf8)); model[last] = Array("last".utf8)
        try engine.flush()
    }

    /// Every key of `keys` reads as `model` has it, and a scan returns exactly the model
    /// (`reverse`: a reverse scan too, the same keys backwards).
    static func expectModel(_ t: Table, _ model: [[UInt8]: [UInt8]], keys: Range<Int>, reverse: Bool = true, _ when: String) throws {
        for i in keys { #expect(try t.get(key(i)) == model[key(i)], "\(when): key \(i)") }
        let rows = try t.scan()
        #expect(rows.count == model.count && rows.allSatisfy { model[$0.key] == $0.value }, "\(when): scan of \(rows.count) rows")
        if reverse { #expect(try t.scan(reverse: true).map(\.key) == rows.map(\.key).reversed(), "\(when): reverse scan") }
    }

    /// A split shares its parent's file. One child then deletes and overwrites keys and merges
    /// its runs (the full merge drops its tombstones); merging the children back must not bring
    /// back what that child deleted or overwrote — before and after a reopen — although the
    /// other child still views the parent's file, which holds the old records. (A merge that
    /// gave the merged partition the whole file again, instead of each side's slice, would.)
    /// The parent's file goes once no partition views it.
    @Test func mergeAfterOneChildRewroteItsPartKeepsItsDeletes() throws {
        let fs = CrashSimulatingFileSystem()
        let o = Self.twoRunOptions(fs)
        var engine = try Engine.open(at: "/db", options: o)
        var table = try engine.createTable("t")
        var model: [[UInt8]: [UInt8]] = [:]
        let parentFiles = try Self.loadOneFile(engine, table, count: 400, model: &model, fs: fs)
        #expect(parentFiles.count == 1)

        let split = try table.requestResharding(.split(at: Self.key(200))).wait()
        #expect(split.bytesCopied == 0 && split.bytesShared > 0, "\(split)")
        #expect(Set(try fs.listDirectory("/db/seg")) == parentFiles, "a shared split writes no segment")
        var stats = try table.partitionStats()
        #expect(stats.count == 2 && stats.allSatisfy { Set($0.segmentFiles) == parentFiles })
        #expect(stats.map(\.records) == [200, 200], "each child counts only its slice: \(stats.map(\.records))")

        try Self.rewrite(200..<400, engine, table, model: &model)
        stats = try table.partitionStats()
        #expect(Set(stats[1].segmentFiles).isDisjoint(with: parentFiles), "the right child merged away its view")
        #expect(Set(stats[0].segmentFiles) == parentFiles)
        #expect(parentFiles.isSubset(of: Set(try fs.listDirectory("/db/seg"))), "the left child still views the parent's file")

        let merge = try table.requestResharding(.merge(boundary: Self.key(200))).wait()
        #expect(merge.bytesCopied == 0, "\(merge)")
        func check(_ t: Table, _ when: String) throws { try Self.expectModel(t, model, keys: 0..<400, when) }
        try check(table, "after the merge")
        try engine.close()
        engine = try Engine.open(at: "/db", options: o)
        table = try engine.table(named: "t")
        try check(table, "after a reopen")
        #expect(engine.recoveryReport.filesRemoved.isEmpty)

        // Once the merged partition merges its runs, nothing views the parent's file: it goes.
        try table.put(Self.key(0), Array("x".utf8)); model[Self.key(0)] = Array("x".utf8)
        try engine.flush()
        try table.put(Self.key(1), Array("y".utf8)); model[Self.key(1)] = Array("y".utf8)
        try engine.flush()
        engine.drainBackgroundWork()
        #expect(Set(try fs.listDirectory("/db/seg")).isDisjoint(with: parentFiles), "the parent's file outlived its last view")
        try check(table, "after the last view went")
        try engine.close()
    }

    /// A split merged back has the runs it had before the split, not each one twice: the two
    /// children's views of one file lie next to each other in it and become one run again
    /// (SharedRunOrder.swift), after the newer run one child flushed meanwhile. Before and after
    /// a reopen, every key reads as written. (Planted: the sources' runs listed one source after
    /// the other, as before — 7 runs, not 4.)
    @Test func aSplitMergedBackJoinsItsChildrensViews() throws {
        let fs = CrashSimulatingFileSystem()
        var o = ReshardTests.options(fs)
        o.maxRunsPerPartition = 8      // no merges: the runs are the three flushes
        var engine = try Engine.open(at: "/db", options: o)
        var table = try engine.createTable("t")
        var model: [[UInt8]: [UInt8]] = [:]
        for round in 0..<3 {
            for i in stride(from: round, to: 400, by: round + 1) {
                let v = Array("r\(round)-\(i)".utf8); try table.put(Self.key(i), v); model[Self.key(i)] = v
            }
            try engine.flush()
        }
        let before = try #require(try table.partitionStats().first)
        #expect(before.segmentCount == 3)

        try table.requestResharding(.split(at: Self.key(200))).wait()
        #expect(try table.partitionStats().map(\.segmentCount) == [3, 3])
        for i in stride(from: 300, to: 400, by: 7) {
            let v = Array("after-\(i)".utf8); try table.put(Self.key(i), v); model[Self.key(i)] = v
        }
        try engine.flush()
        #expect(try table.partitionStats().map(\.segmentCount) == [3, 4])

        let merge = try table.requestResharding(.merge(boundary: Self.key(200))).wait()
        #expect(merge.bytesCopied == 0, "\(merge)")
        func check(_ t: Table, _ when: String) throws {
            let stats = try t.partitionStats()
            #expect(stats.map(\.segmentCount) == [4], "\(when): \(stats.map(\.segmentCount)) runs")
            #expect(Set(stats[0].segmentFiles).isSuperset(of: before.segmentFiles), "\(when): the parent's files are viewed")
            // Records of every run: the three flushes' and the child's, each once.
            #expect(stats[0].records == before.records + 15, "\(when): \(stats[0].records) records, not \(before.records + 15)")
            try Self.expectModel(t, model, keys: 0..<400, when)
        }
        try check(table, "after the merge")
        try engine.close()
        engine = try Engine.open(at: "/db", options: o)
        table = try engine.table(named: "t")
        try check(table, "after a reopen")
        #expect(engine.recoveryReport.filesRemoved.isEmpty)
        try engine.close()
    }

    /// Views of one file join only where nothing of the file lies between them: split in three,
    /// the middle child deletes and overwrites its part and merges its view away; merged back,
    /// the outer children's views of the parent's file are not next to each other (the middle's
    /// old records lie between), so they stay two runs and nothing the middle child deleted or
    /// overwrote comes back — before and after a reopen. (The run count is not checked: the
    /// merged partition's three runs are past the bound, and the merge lane may merge them.)
    /// (Planted: joining views of one file whatever lies between them brought back the
    /// middle's deleted keys.)
    @Test func viewsWithRecordsBetweenThemStayApart() throws {
        let fs = CrashSimulatingFileSystem()
        let o = Self.twoRunOptions(fs)
        var engine = try Engine.open(at: "/db", options: o)
        var table = try engine.createTable("t")
        var model: [[UInt8]: [UInt8]] = [:]
        let parentFiles = try Self.loadOneFile(engine, table, count: 300, model: &model, fs: fs)
        try table.requestResharding(.split(at: Self.key(100))).wait()
        try table.requestResharding(.split(at: Self.key(200))).wait()
        try Self.rewrite(100..<200, engine, table, model: &model)
        var stats = try table.partitionStats()
        #expect(stats.count == 3 && Set(stats[1].segmentFiles).isDisjoint(with: parentFiles), "the middle child merged away its view")
        #expect(Set(stats[0].segmentFiles) == parentFiles && Set(stats[2].segmentFiles) == parentFiles)

        try table.requestResharding(.merge(boundary: Self.key(200))).wait()
        try table.requestResharding(.merge(boundary: Self.key(100))).wait()
        func check(_ t: Table, _ when: String) throws { try Self.expectModel(t, model, keys: 0..<300, reverse: false, when) }
        #expect(try table.partitionStats().count == 1)
        try check(table, "after the merges")
        try engine.close()
        engine = try Engine.open(at: "/db", options: o)
        table = try engine.table(named: "t")
        try check(table, "after a reopen")
        try engine.close()
    }

    /// A boundary move and an N-way split share too; dropping the table removes every file,
    /// shared or not, once nothing reads them.
    @Test func moveAndSplitManyShareAndDropTableRemovesSharedFiles() throws {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: ReshardTests.options(fs))
        // The table's handle stays in this scope: a handle of a dropped table still reads its
        // old partitions, so their files go once it is gone.
        try {
            let table = try engine.createTable("t")
            let model = try ReshardTests.load(engine, table, count: 900)
            let files = Set(try fs.listDirectory("/db/seg"))
            let recordsBefore = try table.partitionStats().map(\.records).reduce(0, +)
            let many = try table.requestResharding(.splitMany(at: [Self.key(300), Self.key(600)])).wait()
            let move = try table.requestResharding(.moveBoundary(from: Self.key(300), to: Self.key(450))).wait()
            #expect(many.bytesCopied == 0 && move.bytesCopied == 0)
            #expect(Set(try fs.listDirectory("/db/seg")) == files, "sharing reshards write no segment")
            let stats = try table.partitionStats()
            #expect(stats.count == 3 && stats.map(\.records).reduce(0, +) == recordsBefore,
                    "each record counted once across the views: \(stats.map(\.records)), \(recordsBefore) before")
            for (k, v) in model { #expect(try table.get(k) == v) }
            #expect(try table.scan().count == model.count)
            try engine.createTable("other")
            try engine.dropTable("t")
        }()
        // A flush queued during the load still holds its partition until it has run.
        engine.drainBackgroundWork()
        let left = try fs.listDirectory("/db/seg")
        #expect(left.isEmpty, "files of a dropped table stay: \(left)")
        try engine.close()
    }

    /// Space: once more than half of a shared file is read by no partition (the others merged
    /// their parts away), the next flush of a partition still viewing a slice of it merges its
    /// runs into a file of its own — even below `maxRunsPerPartition` — so the file goes.
    /// Without that rule a quiet partition would keep its parent's whole file for ever.
    @Test func aMostlyUnviewedSharedFileIsMergedAwayAtTheNextFlush() throws {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: Self.twoRunOptions(fs))
        let table = try engine.createTable("t")
        var model: [[UInt8]: [UInt8]] = [:]
        let parentFiles = try Self.loadOneFile(engine, table, count: 400, model: &model, fs: fs)
        try table.requestResharding(.splitMany(at: [Self.key(100), Self.key(200), Self.key(300)])).wait()
        // Three of the four children merge their slices away (two flushes each: the second
        // exceeds maxRunsPerPartition, and the first wrote more than the slice holds, so
        // RunMergePolicy merges the slice too); the first child stays quiet.
        for round in 0..<2 {
            for child in [100, 200, 300] {
                for i in child..<(child + 60) {
                    let v = Array("r\(round)-\(i)".utf8) + Array(repeating: 0x2E, count: 50); try table.put(Self.key(i), v); model[Self.key(i)] = v
                }
            }
            try engine.flush()
        }
        var stats = try table.partitionStats()
        #expect(stats.dropFirst().allSatisfy { Set($0.segmentFiles).isDisjoint(with: parentFiles) })
        #expect(Set(stats[0].segmentFiles) == parentFiles, "the quiet child still views a quarter of its parent's file")
        #expect(parentFiles.isSubset(of: Set(try fs.listDirectory("/db/seg"))))
        // One write and a flush: one run plus the new one is within maxRunsPerPartition, but
        // the file is three quarters unviewed, so the flush merges and the file goes.
        try table.put(Self.key(5), Array("new".utf8)); model[Self.key(5)] = Array("new".utf8)
        try engine.flush()
        stats = try table.partitionStats()
        #expect(stats[0].segmentCount == 1 && Set(stats[0].segmentFiles).isDisjoint(with: parentFiles), "\(stats[0].segmentFiles)")
        // The last view of the file is dropped on ReadEpochs' release queue, after the flush.
        engine.drainBackgroundWork()
        #expect(Set(try fs.listDirectory("/db/seg")).isDisjoint(with: parentFiles), "the mostly unviewed file stays")
        for i in 0..<400 { #expect(try table.get(Self.key(i)) == model[Self.key(i)], "key \(i)") }
        try engine.close()
    }
}
