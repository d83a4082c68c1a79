import Foundation
import Synchronization
import Testing
@_spi(Testing) @testable import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport

/// Bulk ingest through staged segment files (issue 18): readable after every stage and after
/// reopen, replaces older values and is replaced by later writes, refuses bad input with
/// nothing visible, and a crash at any step leaves each stage whole or absent.
@Suite struct BulkIngestTests {
    static func options(_ fs: any FileSystem) -> EngineOptions {
        var o = EngineOptions()
        o.fileSystem = fs
        o.durability = .sync
        o.telemetry.enabled = false
        return o
    }

    static func key(_ i: Int) -> [UInt8] { Array(String(format: "k%06d", i).utf8) }
    static func value(_ i: Int, _ tag: UInt8 = 0x49) -> [UInt8] { Array("v\(i)-".utf8) + [UInt8](repeating: tag, count: 100) }
    static func records(_ range: Range<Int>, tag: UInt8 = 0x49) -> [KeyValue] { range.map { KeyValue(key: key($0), value: value($0, tag)) } }
    /// Which stage each record of `records` lands in with `stageBytes` (the ingest's rule: a
    /// stage takes records while it holds fewer than `stageBytes`).
    static func stages(_ records: [KeyValue], stageBytes: Int) -> [Int] {
        var out: [Int] = [], stage = 0, bytes = 0
        for r in records {
            if bytes >= stageBytes { stage += 1; bytes = 0 }
            out.append(stage)
            bytes += r.key.count + r.value.count
        }
        return out
    }

    @Test func ingestedRecordsAreReadableInPreCreatedPartitionsAndAfterReopen() throws {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        let t = try engine.createTable("t")
        for i in 0..<100 { try t.put(Array("a\(i)".utf8), [1]) }          // data below the ingest's range
        var o = BulkIngestOptions()
        o.stageBytes = 64 << 10
        o.preSplitBytes = 400 << 10
        let input = Self.records(0..<20_000)
        let s = try t.bulkIngest(input, options: o)
        #expect(s.records == 20_000 && s.stages == Set(Self.stages(input, stageBytes: o.stageBytes)).count, "\(s)")
        #expect(s.partitionsPreCreated == 5, "\(s)")
        #expect(try t.partitionStats().count == 6)
        #expect(try t.scan().count == 20_100)
        for i in stride(from: 0, to: 20_000, by: 97) { #expect(try t.get(Self.key(i)) == Self.value(i)) }
        let log = String(decoding: try fs.readFile("/db/decisions.jsonl"), as: UTF8.self)
        #expect(log.contains("bulk-ingest-precreate"), "\(log)")
        try engine.close()
        let again = try Engine.open(at: "/db", options: Self.options(fs))
        defer { try? again.close() }
        let rt = try again.table(named: "t")
        #expect(try rt.scan().count == 20_100)
        #expect(try rt.get(Self.key(19_999)) == Self.value(19_999))
    }

    /// The rule: an ingested record replaces what was written before its stage activated (in a
    /// memtable or in a run) and is replaced by what is written after; so after a reopen too.
    @Test func ingestedRecordsAreNewerThanEarlierWritesAndOlderThanLaterOnes() throws {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        let t = try engine.createTable("t")
        try t.put(Self.key(1), [0x01])
        try engine.flush()                                  // key 1's old value in a run
        try t.put(Self.key(2), [0x02])                      // key 2's old value in the memtable
        var o = BulkIngestOptions()
        o.preSplitBytes = nil
        _ = try t.bulkIngest(Self.records(0..<10), options: o)
        #expect(try t.get(Self.key(1)) == Self.value(1) && t.get(Self.key(2)) == Self.value(2))
        try t.put(Self.key(3), [0x03])
        try t.delete(Self.key(4))
        #expect(try t.get(Self.key(3)) == [0x03] && t.get(Self.key(4)) == nil)
        try engine.flush()
        #expect(try t.get(Self.key(3)) == [0x03] && t.get(Self.key(4)) == nil && t.get(Self.key(5)) == Self.value(5))
        try t.put(Self.key(5), [0x05])                      // in the WAL only, replayed over the ingested run
        try engine.close()
        let again = try Engine.open(at: "/db", options: Self.options(fs))
        defer { try? again.close() }
        let rt = try again.table(named: "t")
        #expect(try rt.get(Self.key(1)) == Self.value(1) && rt.get(Self.key(2)) == Self.value(2))
        #expect(try rt.get(Self.key(3)) == [0x03] && rt.get(Self.key(4)) == nil && rt.get(Self.key(5)) == [0x05])
        #expect(try rt.scan().count == 9)
    }

    @Test func badInputIsRefusedWithNothingVisible() throws {
        let fs = CrashSimulatingFileSystem()
        let engine = try Engine.open(at: "/db", options: Self.options(fs))
        defer { try? engine.close() }
        let t = try engine.createTable("t")
        try t.put(Self.key(5), [5])
        let filesBefore = try fs.listDirectory("/db/seg").sorted()
        var swapped = Self.records(0..<3000)
        swapped.swapAt(1500, 1501)
        var duplicate = Self.records(0..<10)
        duplicate[4] = duplicate[3]
        let cases: [([KeyValue], String)] = [
            (swapped, "records[1501]"), (duplicate, "records[4]"),
            (Self.records(0..<10) + [KeyValue(key: [], value: [1])], "emptyKey"),
            (Self.records(0..<10) + [KeyValue(key: Array("z".utf8), value: [UInt8](repeating: 0, count: (16 << 20) + 1))], "valueTooLarge"),
        ]
        for (input, expected) in cases {
            do {
                _ = try t.bulkIngest(input)
                Issue.record("\(expected): ingested anyway")
            } catch {
                switch error {
                case .invalidOption(let name, _, let reason): #expect(name == expected && reason.contains("ascending"), "\(error)")
                case .emptyKey: #expect(expected == "emptyKey")
                case .valueTooLarge: #expect(expected == "valueTooLarge")
                default: Issue.record("\(expected): \(error)")
                }
            }
            #expect(try t.scan().count == 1 && t.get(Self.key(5)) == [5])
            #expect(try t.partitionStats().count == 1, "refused input must not pre-create partitions")
        }
        var bad = BulkIngestOptions()
        bad.stageBytes = 10
        #expect(throws: AugurError.self) { _ = try t.bulkIngest(Self.records(0..<10), options: bad) }
        engine.drainBackgroundWork()
        #expect(try fs.listDirectory("/db/seg").sorted() == filesBefore)
        #expect(try t.bulkIngest([KeyValue]()).records == 0)
    }

    /// A power cut before every file-system step of an ingest in several stages: the store opens
    /// with each stage's records all there or none, and the earlier data intact.
    @Test func aCrashAtEveryStepLeavesEachStageWholeOrAbsent() throws {
        let base = CrashSimulatingFileSystem()
        let hook = StepHookFileSystem(base)
        let engine = try Engine.open(at: "/db", options: Self.options(hook))
        let t = try engine.createTable("t")
        for i in 0..<50 { try t.put(Array("a\(i)".utf8), [1]) }
        var o = BulkIngestOptions()
        o.stageBytes = 64 << 10
        o.preSplitBytes = 150 << 10
        let input = Self.records(0..<2400)
        let stageOf = Self.stages(input, stageBytes: o.stageBytes)
        let stageCount = Set(stageOf).count
        #expect(stageCount >= 3)
        hook.capture(under: "/db")
        let s = try t.bulkIngest(input, options: o)
        let crashes = hook.stopCapturing()
        try engine.close()
        #expect(s.stages == stageCount && crashes.count > 4 * stageCount, "\(s), \(crashes.count) steps")
        var partial = Set<Int>()
        for (step, crashed) in crashes.enumerated() {
            let e = try Engine.open(at: "/db", options: Self.options(crashed))
            let ct = try e.table(named: "t")
            var present = [Int](repeating: 0, count: stageCount)
            for (i, r) in input.enumerated() where try ct.get(r.key) == r.value { present[stageOf[i]] += 1 }
            for stage in 0..<stageCount {
                let size = stageOf.filter { $0 == stage }.count
                #expect(present[stage] == 0 || present[stage] == size, "step \(step): stage \(stage) has \(present[stage]) of \(size)")
                if present[stage] == size { partial.insert(stage) }
            }
            #expect(try (0..<50).allSatisfy { try ct.get(Array("a\($0)".utf8)) == [1] }, "step \(step): earlier data lost")
            try e.close()
        }
        #expect(partial.count == stageCount, "some stage never showed up in a crash image: \(partial)")
    }

    /// A full disk part-way: the ingest throws, each stage is whole or absent, and the file of
    /// the stage that failed is gone (no leftover for a later sweep to find).
    @Test func aFullDiskPartWayLeavesWholeStagesAndNoLeftovers() throws {
        let faults = FaultInjectingFileSystem(wrapping: CrashSimulatingFileSystem())
        let engine = try Engine.open(at: "/db", options: Self.options(faults))
        let t = try engine.createTable("t")
        var o = BulkIngestOptions()
        o.stageBytes = 64 << 10
        o.preSplitBytes = nil
        let input = Self.records(0..<3000)
        let stageOf = Self.stages(input, stageBytes: o.stageBytes)
        faults.add(FaultRule(.write, path: "/db/seg/*", nth: 4, errno: .noSpace, persistent: true))
        #expect(throws: AugurError.self) { _ = try t.bulkIngest(input, options: o) }
        faults.clearRules()
        var present = [Int](repeating: 0, count: Set(stageOf).count)
        for (i, r) in input.enumerated() where try t.get(r.key) == r.value { present[stageOf[i]] += 1 }
        for (stage, count) in present.enumerated() {
            let size = stageOf.filter { $0 == stage }.count
            #expect(count == 0 || count == size, "stage \(stage): \(count) of \(size)")
        }
        #expect(present.contains(0), "the full disk stopped no stage")
        try engine.close()
        let again = try Engine.open(at: "/db", options: Self.options(faults))
        defer { try? again.close() }
        #expect(again.recoveryReport.filesRemoved.isEmpty, "left behind: \(again.recoveryReport.filesRemoved)")
    }

    /// A manifest commit that fails after its record was written (the fdatasync fails): the
    /// record may be on disk, so the stage's file must stay — reopening then finds every file
    /// the manifest names (deleting it at once made the store refuse to open: tried).
    @Test func aFailedActivationCommitKeepsTheFileItMayHaveNamed() throws {
        let base = CrashSimulatingFileSystem()
        let faults = FaultInjectingFileSystem(wrapping: base)
        let engine = try Engine.open(at: "/db", options: Self.options(faults))
        let t = try engine.createTable("t")
        var o = BulkIngestOptions()
        o.preSplitBytes = nil
        faults.add(FaultRule(.sync, path: "/db/MANIFEST-*", errno: .ioError))
        #expect(throws: AugurError.self) { _ = try t.bulkIngest(Self.records(0..<500), options: o) }
        faults.clearRules()
        try engine.close()
        let again = try Engine.open(at: "/db", options: Self.options(base))
        defer { try? again.close() }
        let count = try again.table(named: "t").scan().count
        #expect(count == 0 || count == 500, "\(count)")
    }

    @Test func writersGoOnDuringAnIngest() throws {
        let dir = TemporaryDirectory()
        let engine = try Engine.open(at: dir.child("db"), options: Self.options(PosixFileSystem()))
        defer { try? engine.close() }
        let t = try engine.createTable("t")
        let written = Mutex([Int](repeating: 0, count: 2))
        let failures = Mutex<[String]>([])
        var o = BulkIngestOptions()
        o.stageBytes = 256 << 10
        o.preSplitBytes = 1 << 20
        let options = o
        runOnThreads(3) { thread in
            do {
                if thread == 2 {
                    _ = try t.bulkIngest(Self.records(0..<50_000), options: options)
                } else {
                    for n in 0..<3000 {
                        try t.put(Array("w\(thread)-\(n)".utf8), Self.value(n))
                        written.withLock { $0[thread] = n + 1 }
                    }
                }
            } catch { failures.withLock { $0.append("\(thread): \(error)") } }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        #expect(try t.scan().count == 56_000)
        #expect(try t.partitionStats().count > 1)
    }

    @Test func aTableWithSecondaryIndexesIsRefused() throws {
        let engine = try Engine.open(at: "/db", options: Self.options(CrashSimulatingFileSystem()))
        defer { try? engine.close() }
        let t = try engine.createTable("t")
        _ = try t.createSecondaryIndex(name: "v", key: { value in Array(value.prefix(2)) })
        #expect {
            _ = try t.bulkIngest(Self.records(0..<10))
        } throws: { error in
            guard case AugurError.invalidOption(let name, let value, _) = error else { return false }
            return name == "table" && value == "t"
        }
    }
}
