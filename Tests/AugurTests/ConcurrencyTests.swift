import Testing
import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport
import Dispatch
import Synchronization
import Foundation

/// Many threads at once: writers with their own keys writing increasing versions, readers that
/// must never see a key go back in time, batches across partitions, and a maintenance thread
/// flushing and splitting underneath — with group commit on. Then every final value is checked,
/// before and after a reopen and after a power cut.
@Suite struct ConcurrencyTests {
    @Test(arguments: [Durability.sync, Durability.none])
    func writersReadersFlushesAndSplits(durability: Durability) throws {
        let fs = CrashSimulatingFileSystem()
        var o = EngineOptions()
        o.fileSystem = fs
        o.durability = durability
        o.walSegmentSize = 256 << 10
        o.memtableFlushSize = 32 << 10
        o.maxRunsPerPartition = 3
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        let writers = 3, keysPerWriter = 40, versions = 60
        let stop = Atomic<Bool>(false)
        let failures = Mutex<[String]>([])
        @Sendable func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        @Sendable func key(_ w: Int, _ k: Int) -> [UInt8] { Array("\(two(k))-w\(w)".utf8) }
        @Sendable func encode(_ v: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(v).bigEndian) { Array($0) } + [UInt8](repeating: UInt8(v & 0xFF), count: 20) }
        @Sendable func decode(_ b: [UInt8]) -> Int { Int(b[0]) << 24 | Int(b[1]) << 16 | Int(b[2]) << 8 | Int(b[3]) }

        let writersDone = Atomic<Int>(0)
        let scans = Atomic<Int>(0), maintenanceRounds = Atomic<Int>(0), splitsDone = Atomic<Int>(0)
        runOnThreads(writers + 3) { thread in
            do {
                if thread < writers {
                    for v in 1...versions {
                        if v % 10 == 0 {
                            var batch = WriteBatch()
                            for k in 0..<keysPerWriter { batch.put(key(thread, k), encode(v), in: table) }
                            try engine.write(batch)
                        } else {
                            for k in 0..<keysPerWriter { try table.put(key(thread, k), encode(v)) }
                        }
                        // Read-your-writes.
                        let got = try table.get(key(thread, v % keysPerWriter)).map(decode)
                        if got != v { failures.withLock { $0.append("writer \(thread) wrote v\(v), read back \(String(describing: got))") } }
                    }
                } else if thread < writers + 2 {
                    var seen: [[UInt8]: Int] = [:]
                    while !stop.load(ordering: .relaxed) {
                        scans.add(1, ordering: .relaxed)
                        let rows = try table.scan(reverse: thread % 2 == 0)
                        for row in rows {
                            let v = decode(row.value)
                            if let before = seen[row.key], v < before {
                                failures.withLock { $0.append("\(formatKey(row.key)) went back from v\(before) to v\(v)") }
                            }
                            seen[row.key] = v
                        }
                        let sorted = rows.map(\.key)
                        let expected = thread % 2 == 0 ? sorted.sorted { $1.lexicographicallyPrecedes($0) } : sorted.sorted { $0.lexicographicallyPrecedes($1) }
                        if sorted != expected { failures.withLock { $0.append("scan out of order") } }
                    }
                } else {
                    var splits = 0, rounds = 0
                    while !stop.load(ordering: .relaxed) {
                        rounds += 1
                        try engine.flush()
                        if splits < 8 {
                            // One maintenance thread, distinct keys inside the table: every split
                            // must succeed (an error fails the test through the catch below).
                            try table.splitPartition(at: Array(two(5 * (splits + 1)).utf8))
                            splits += 1
                            splitsDone.store(splits, ordering: .relaxed)
                        }
                    }
                    maintenanceRounds.store(rounds, ordering: .relaxed)
                }
            } catch {
                failures.withLock { $0.append("thread \(thread): \(error)") }
            }
            if thread < writers, writersDone.add(1, ordering: .relaxed).newValue == writers {
                stop.store(true, ordering: .relaxed)
            }
        }
        stop.store(true, ordering: .relaxed)
        #expect(scans.load(ordering: .relaxed) > 2 && maintenanceRounds.load(ordering: .relaxed) >= 1,
                "readers and maintenance must overlap the writers (scans \(scans.load(ordering: .relaxed)), flush rounds \(maintenanceRounds.load(ordering: .relaxed)))")
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { Array($0.prefix(5)) })")
        #expect(try table.partitionStats().count == 1 + splitsDone.load(ordering: .relaxed))

        func checkAll(_ e: Engine, _ label: String) throws {
            let t = try e.table(named: "t")
            var wrong = 0
            for w in 0..<writers { for k in 0..<keysPerWriter where try t.get(key(w, k)).map(decode) != versions { wrong += 1 } }
            #expect(wrong == 0, "\(label): \(wrong) keys without their last version")
            #expect(coverageProblem(try t.partitionStats()) == nil, "\(label)")
        }
        try checkAll(engine, "live")
        let crashed = fs.crashClone(tearing: .sectors(4096), seed: 9)
        try engine.close()
        let reopened = try Engine.open(at: "/db", options: o)
        try checkAll(reopened, "reopened")
        try reopened.close()
        if durability == .sync {
            o.fileSystem = crashed
            let afterCrash = try Engine.open(at: "/db", options: o)
            try checkAll(afterCrash, "after power loss")
            try afterCrash.close()
        }
    }
}
