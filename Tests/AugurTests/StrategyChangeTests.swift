import Foundation
import Testing
@_spi(Testing) @testable import Augur
import AugurPlanner
@_spi(Testing) import AugurSys
import AugurTestSupport
import Synchronization

/// Changing a live table's strategy (issue 18, part 1; StrategyChange.swift): an online rewrite
/// that loses no acknowledged write, never shows a reader a wrong value, survives reopen, and
/// refuses what it cannot do with a typed error and the table as it was.
@Suite struct StrategyChangeTests {
    static func key(_ n: Int) -> [UInt8] { Array(String(format: "k%06d", n).utf8) }

    /// How `rows` differ from `expected`, the first few keys named; nil when they do not.
    static func difference(_ rows: [KeyValue], _ expected: [[UInt8]: [UInt8]]) -> String? {
        let got = Dictionary(rows.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        var out: [String] = []
        if got.count != rows.count { out.append("a key returned twice") }
        for (k, v) in expected where got[k] != v { out.append("\(String(decoding: k, as: UTF8.self)): \(got[k].map { "\($0.prefix(2))…" } ?? "missing")") }
        for k in got.keys where expected[k] == nil { out.append("\(formatKey(k)): unexpected") }
        return out.isEmpty ? nil : "\(out.count) differences: " + out.prefix(4).joined(separator: ", ")
    }

    /// Acknowledged writes of one writer thread (each writer owns its keys, so its last
    /// acknowledged operation on a key is the key's state).
    final class Acknowledged: @unchecked Sendable {
        let lock = PThreadMutex()
        var values: [[UInt8]: [UInt8]] = [:]
        var deleted: Set<[UInt8]> = []
        var failures: [String] = []
    }

    @Test func aLiveTableChangesStrategyWhileWritersAndReadersRun() throws {
        let seed = UInt64.random(in: 1...UInt64.max >> 1)
        print("StrategyChangeTests seed \(seed)")
        var r = RandomData(seed: seed)
        let fs = CrashSimulatingFileSystem()
        var options = RandomizedModelTests.options(fs)
        options.memtableFlushSize = 32 << 10
        var engine = try Engine.open(at: "/db", options: options)
        let table = try engine.createTable("t")
        // Threads of their own (the global queue runs as many items as there are CPUs: on two,
        // the writers would starve the reader). Keys 0..<3000 are loaded and then only read
        // (their values are known at every moment); keys 3000..<5000 belong to two writers,
        // 1000 each.
        var stable: [[UInt8]: [UInt8]] = [:]
        for n in 0..<3000 {
            let v = r.value()
            stable[Self.key(n)] = v
            try table.put(Self.key(n), v)
        }
        try table.splitPartition(at: Self.key(1500))
        let stop = Atomic<Bool>(false)
        let acked = [Acknowledged(), Acknowledged()]
        let readFailures = Mutex<[String]>([])
        let readCount = Atomic<Int>(0)
        let stableKeys = stable
        let group = DispatchGroup()
        for w in 0..<2 {
            let writerSeed = r.rng.next()
            group.enter()
            Thread {
                defer { group.leave() }
                var rw = RandomData(seed: writerSeed)
                let a = acked[w]
                while !stop.load(ordering: .relaxed) {
                    let k = Self.key(3000 + w * 1000 + rw.int(0..<1000))
                    do {
                        if rw.chance(0.8) {
                            let v = rw.value()
                            try table.put(k, v)
                            a.lock.withLock { a.values[k] = v; a.deleted.remove(k) }
                        } else {
                            try table.delete(k)
                            a.lock.withLock { a.values[k] = nil; a.deleted.insert(k) }
                        }
                    } catch {
                        a.lock.withLock { a.failures.append("\(error)") }
                    }
                }
            }.start()
        }
        let readerSeed = r.rng.next()
        group.enter()
        Thread {
            defer { group.leave() }
            var rr = RandomData(seed: readerSeed)
            while !stop.load(ordering: .relaxed) {
                let k = Self.key(rr.int(0..<3000))
                do {
                    let got = try table.get(k)
                    if got != stableKeys[k] { readFailures.withLock { $0.append("get \(String(decoding: k, as: UTF8.self)) saw \(got?.count ?? -1) bytes") } }
                    if rr.chance(0.05) {
                        let lo = rr.int(0..<2900)
                        let rows = try table.scan(range: KeyRange(lower: Self.key(lo), upper: Self.key(lo + 50)))
                        if rows.map(\.key) != (lo..<(lo + 50)).map(Self.key) {
                            readFailures.withLock { $0.append("scan from \(lo) returned \(rows.count) rows") }
                        }
                    }
                    readCount.add(1, ordering: .relaxed)
                } catch {
                    readFailures.withLock { $0.append("\(error)") }
                }
            }
        }.start()
        var summaries: [StrategyChangeSummary] = []
        let steps: [(PartitioningStrategy, Int?)] = [(.hash(buckets: 8), nil), (.composite(prefixLength: 2, buckets: 4), 3), (.range, 2)]
        for (strategy, partitions) in steps {
            Thread.sleep(forTimeInterval: 0.05)
            summaries.append(try table.changeStrategy(to: strategy, partitions: partitions))
            #expect(table.strategy == strategy)
        }
        Thread.sleep(forTimeInterval: 0.05)
        stop.store(true, ordering: .relaxed)
        group.wait()

        #expect(readFailures.withLock { $0 }.isEmpty, "seed \(seed): \(readFailures.withLock { $0.prefix(3) })")
        #expect(readCount.load(ordering: .relaxed) > 0)
        for a in acked { #expect(a.failures.isEmpty, "seed \(seed): \(a.failures.prefix(3))") }
        #expect(summaries.map(\.to) == steps.map(\.0))
        #expect(summaries[0].partitionsBefore == 2 && summaries[0].partitionsAfter == 4)
        #expect(summaries[1].partitionsAfter == 3)
        #expect(summaries[2].partitionsAfter == 2)
        #expect(summaries.allSatisfy { $0.recordsRewritten >= 3000 }, "\(summaries.map(\.recordsRewritten))")

        var expected = stable
        for a in acked { for (k, v) in a.values { expected[k] = v } }
        func check(_ t: Table, _ context: String) throws {
            let rows = try t.scan()
            #expect(rows.count == expected.count, "seed \(seed) \(context): \(rows.count) rows, expected \(expected.count)")
            #expect(Self.difference(rows, expected) == nil, "seed \(seed) \(context)")
            for a in acked { for k in a.deleted where expected[k] == nil { #expect(try t.get(k) == nil, "seed \(seed) \(context)") } }
            #expect(coverageProblem(try t.partitionStats()) == nil)
        }
        try check(table, "live")
        try engine.close()
        engine = try Engine.open(at: "/db", options: options)
        let reopened = try engine.table(named: "t")
        #expect(reopened.strategy == .range)
        try check(reopened, "reopened")
        // And back to hash after the reopen, then once more from the manifest alone.
        try reopened.changeStrategy(to: .hash(buckets: 16))
        try engine.close()
        engine = try Engine.open(at: "/db", options: options)
        #expect(try engine.table(named: "t").strategy == .hash(buckets: 16))
        try check(try engine.table(named: "t"), "hash after reopen")
        try engine.close()
    }

    /// Closing the engine while a change runs: the change ends (done, or `engineClosed`), close
    /// returns, and the store reopens with every record under one strategy.
    @Test(arguments: [0.0, 0.005, 0.02, 0.08, 0.3, 2.0])
    func closingDuringAChangeLeavesTheOldTableOrTheNew(after seconds: Double) throws {
        let fs = CrashSimulatingFileSystem()
        var options = RandomizedModelTests.options(fs)
        options.memtableFlushSize = 64 << 10
        var engine = try Engine.open(at: "/db", options: options)
        let t = try engine.createTable("t")
        var expected: [[UInt8]: [UInt8]] = [:]
        for n in 0..<20_000 {
            let v = Array(repeating: UInt8(n & 0xff), count: 40)
            try t.put(Self.key(n), v)
            expected[Self.key(n)] = v
        }
        let outcome = Mutex<String>("not finished")
        let done = DispatchSemaphore(value: 0)
        Thread {
            do {
                try t.changeStrategy(to: .hash(buckets: 8))
                outcome.withLock { $0 = "changed" }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
            done.signal()
        }.start()
        Thread.sleep(forTimeInterval: seconds)
        try engine.close()
        done.wait()
        let ended = outcome.withLock { $0 }
        print("closed \(seconds) s into a strategy change: it ended \(ended)")
        #expect(ended == "changed" || ended == "\(AugurError.engineClosed)", "\(ended)")
        engine = try Engine.open(at: "/db", options: options)
        let reopened = try engine.table(named: "t")
        #expect(reopened.strategy == .range || reopened.strategy == .hash(buckets: 8))
        #expect(ended != "changed" || reopened.strategy == .hash(buckets: 8))
        #expect(Self.difference(try reopened.scan(), expected) == nil, "after \(seconds) s: \(ended)")
        #expect(coverageProblem(try reopened.partitionStats()) == nil)
        try engine.close()
    }

    @Test func refusalsAreTypedAndLeaveTheTableAsItWas() throws {
        let fs = CrashSimulatingFileSystem()
        let options = RandomizedModelTests.options(fs)
        let engine = try Engine.open(at: "/db", options: options)
        defer { try? engine.close() }
        let t = try engine.createTable("t")
        for n in 0..<500 { try t.put(Self.key(n), [UInt8(n & 0xff)]) }
        try t.put(Array("ab".utf8), [1])     // 2 bytes: shorter than a 4-byte composite prefix
        let before = try t.scan()
        #expect(throws: AugurError.invalidOption(name: "strategy", value: "hash:1", reason: "buckets 1 must be in 2...256")) {
            try t.changeStrategy(to: .hash(buckets: 1))
        }
        #expect(throws: AugurError.invalidOption(name: "partitions", value: "9", reason: "a hash:8 table is rewritten into 1...8 partitions")) {
            try t.changeStrategy(to: .hash(buckets: 8), partitions: 9)
        }
        #expect(throws: AugurError.self) { try t.changeStrategy(to: .range, partitions: 0) }
        #expect(throws: AugurError.invalidOption(name: "strategy", value: "composite:4:16",
                                                 reason: "key \"ab\" has 2 bytes; a composite key has at least 4 bytes (its prefix length)")) {
            try t.changeStrategy(to: .composite(prefixLength: 4, buckets: 16))
        }
        #expect(t.strategy == .range)
        #expect(try t.scan() == before)
        let files = try fs.listDirectory("/db/seg").count
        // The aborted rewrite left no file behind (its chunk was removed), and writes go on.
        try engine.flush()
        try t.put(Self.key(9999), [9])
        #expect(try t.get(Self.key(9999)) == [9])
        #expect(try fs.listDirectory("/db/seg").count <= files + 1)

        // No change: nothing rewritten.
        let same = try t.changeStrategy(to: .range)
        #expect(same.recordsRewritten == 0 && same.bytesWritten == 0)

        // A table with a secondary index.
        let i = try engine.createTable("i")
        try i.put("a1", "x")
        _ = try i.createSecondaryIndex(name: "byValue") { value in value }
        #expect(throws: AugurError.invalidOption(name: "table", value: "i", reason: "a table with secondary indexes cannot change strategy (their entries name partition keys); drop its indexes first")) {
            try i.changeStrategy(to: .hash(buckets: 4))
        }
        #expect(try i.get("a1") == "x")
        try i.dropSecondaryIndex(name: "byValue")
        try i.changeStrategy(to: .hash(buckets: 4))
        #expect(try i.get("a1") == "x")

        // A dropped table.
        try engine.dropTable("i")
        #expect(throws: AugurError.tableNotFound("i")) { try i.changeStrategy(to: .range) }
    }
}

/// Power loss at every crash point a strategy change passes: the store reopens with every
/// acknowledged record, under the old strategy or the new one, never a mix. Writes arrive during
/// the change (from the crash-point hook, after its prepare and after each file it writes), so
/// the catch-up and the cutover's tail carry records the old layout encoded.
@Suite struct StrategyChangePowerLossTests {
    final class Capture: @unchecked Sendable {
        let lock = PThreadMutex()
        let fs: CrashSimulatingFileSystem
        var armedAt = -1
        /// Count only this point's occurrences (nil: every point's).
        var armedPoint: CrashPoint?
        var occurrences = 0
        /// The power-cut store, where it was cut, and the states it may hold: the acknowledged
        /// one, and with the write in flight then.
        var captured: (fs: CrashSimulatingFileSystem, point: CrashPoint, allowed: [[[UInt8]: [UInt8]]])?
        var expected: [[UInt8]: [UInt8]] = [:]
        var inFlight: [[UInt8]: [UInt8]]?
        var table: Table?
        var engine: Engine?
        var round = 0
        var writing = false
        init(fs: CrashSimulatingFileSystem) { self.fs = fs }

        func hit(_ point: CrashPoint) {
            let write: Bool = lock.withLock {
                if armedPoint == nil || armedPoint == point { occurrences += 1 }
                if captured == nil && occurrences == armedAt && (armedPoint == nil || armedPoint == point) {
                    captured = (fs.crashClone(tearing: .sectors(512), seed: UInt64(occurrences)), point, [expected] + (inFlight.map { [$0] } ?? []))
                }
                guard table != nil, !writing, point == .reshardPrepared || point == .reshardCopied else { return false }
                writing = true
                round += 1
                return true
            }
            guard write, let table else { return }
            let r = lock.withLock { round }
            func apply(_ k: [UInt8], _ v: [UInt8]?) {
                lock.withLock { inFlight = expected; inFlight![k] = v }
                if let v { try! table.put(k, v) } else { try! table.delete(k) }
                lock.withLock { expected[k] = v; inFlight = nil }
            }
            for i in 0..<12 {
                apply(StrategyChangeTests.key((r * 37 + i * 53) % 600), i % 4 == 3 ? nil : [UInt8(r), UInt8(i)] + Array(repeating: 0xEE, count: 10))
            }
            if point == .reshardPrepared, let engine = lock.withLock({ engine }) {
                // Deletes of records in the runs being rewritten, each flushed: with at most 3
                // runs a partition, flushes merge — and must not merge into the runs the rewrite
                // reads, or a merge down to the oldest run drops the tombstone with its record.
                for j in 0..<5 {
                    for i in 0..<4 { apply(StrategyChangeTests.key(1 + j * 40 + i * 9), nil) }
                    try! engine.flush()
                }
            }
            lock.withLock { writing = false }
        }
    }

    static let changes: [(PartitioningStrategy, PartitioningStrategy)] = [
        (.range, .hash(buckets: 4)), (.hash(buckets: 8), .composite(prefixLength: 2, buckets: 4)), (.hash(buckets: 4), .range),
    ]

    @Test(arguments: changes.indices)
    func everyCrashPointLeavesTheOldTableOrTheNew(change: Int) throws {
        let (from, to) = Self.changes[change]
        var points: [String] = []
        // Every occurrence of every point, in order; then each of the protocol's own points by
        // its own count (background flushes and file removals the hook's flushes start shift
        // the overall order a little from run to run, so the first pass may step over one).
        var passes: [CrashPoint?] = [nil, .reshardPrepared, .reshardCopied, .reshardTargetsSynced, .reshardCommitted, .reshardMapSwapped]
        var armed = passes.removeFirst()
        var occurrence = 1
        while true {
            let fs = CrashSimulatingFileSystem()
            let capture = Capture(fs: fs)
            var options = PowerLossTests.options(fs, capture: PowerLossTests.CrashCapture(fs: fs))
            options.crashPoint = { capture.hit($0) }
            // No background flush: the crash points counted are the strategy change's own, in
            // the same order every time.
            options.memtableFlushSize = 4 << 20
            let engine = try Engine.open(at: "/db", options: options)
            let t = try engine.createTable("t", strategy: from)
            var expected: [[UInt8]: [UInt8]] = [:]
            for n in 0..<400 {
                let v = Array(repeating: UInt8(n & 0xff), count: 20 + n % 50)
                try t.put(StrategyChangeTests.key(n), v)
                expected[StrategyChangeTests.key(n)] = v
                if n == 300 { try engine.flush() }
            }
            for n in stride(from: 0, to: 400, by: 7) {          // tombstones over flushed records
                try t.delete(StrategyChangeTests.key(n))
                expected[StrategyChangeTests.key(n)] = nil
            }
            capture.lock.withLock {
                capture.occurrences = 0
                capture.armedAt = occurrence
                capture.armedPoint = armed
                capture.expected = expected
                capture.table = t
                capture.engine = engine
            }
            try t.changeStrategy(to: to)
            let (captured, final) = capture.lock.withLock {
                capture.table = nil
                capture.engine = nil
                return (capture.captured, capture.expected)
            }
            #expect(StrategyChangeTests.difference(try t.scan(), final) == nil, "live, after the change")
            try engine.close()
            guard let (crashed, point, acknowledged) = captured else {
                if passes.isEmpty { break }
                armed = passes.removeFirst()
                occurrence = 1
                continue
            }
            points.append(point.rawValue)
            var reopenOptions = PowerLossTests.options(crashed, capture: PowerLossTests.CrashCapture(fs: crashed))
            reopenOptions.crashPoint = nil
            let check = try Engine.open(at: "/db", options: reopenOptions)
            let table = try check.table(named: "t")
            #expect(table.strategy == from || table.strategy == to, "at \(point.rawValue)")
            let rows = try table.scan()
            #expect(acknowledged.contains { StrategyChangeTests.difference(rows, $0) == nil },
                    "crash at \(point.rawValue) (occurrence \(occurrence)): \(rows.count) rows, expected \(acknowledged[0].count): \(StrategyChangeTests.difference(rows, acknowledged[0]) ?? "")")
            #expect(coverageProblem(try table.partitionStats()) == nil)
            // Every stored key is encoded in the table's layout (a record of the old layout
            // replayed into the new partitions may be invisible to scans and gets).
            let foreign = try table.scanPartitionKeys(range: .all).filter { r in
                (try? table.partitionKey(for: table.layout.userKey(r.key))) != r.key
            }
            #expect(foreign.isEmpty, "crash at \(point.rawValue): \(foreign.count) records in another layout, e.g. \(foreign.first.map { formatKey($0.key) } ?? "")")
            try check.close()
            occurrence += 1
        }
        print("strategy change \(from) → \(to): crashed at \(points.count) points: \(points)")
        #expect(points.contains("reshard.prepare") && points.contains("reshard.commit") && points.contains("reshard.map-swap"))
    }
}

/// The manifest edit that changes a table's strategy (docs/FORMAT.md, tag 17).
@Suite struct SetStrategyEditTests {
    @Test func roundTripsAndRefusesFieldsOutOfTheirLimits() {
        for s in [PartitioningStrategy.range, .hash(buckets: 2), .composite(prefixLength: 3, buckets: 256)] {
            let e = VersionEdit.setStrategy(tableID: 5, strategy: s)
            #expect(StrategyManifestEditTests.decoded(StrategyManifestEditTests.encoded(e)) == e)
        }
        #expect(StrategyManifestEditTests.encoded(.setStrategy(tableID: 1, strategy: .hash(buckets: 16)))
                == [17, 1, 0, 0, 0, 1, 0, 0, 0, 0, 16, 0, 0, 0])
        func edit(kind: UInt8, prefix: UInt32, buckets: UInt32) -> [UInt8] {
            var w = ByteWriter()
            w.u8(17); w.u32(1); w.u8(kind); w.u32(prefix); w.u32(buckets)
            return w.bytes
        }
        for (kind, prefix, buckets) in [(0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 3, 16), (2, 0, 16), (2, 65, 16), (3, 0, 16)] as [(UInt8, UInt32, UInt32)] {
            #expect(StrategyManifestEditTests.decoded(edit(kind: kind, prefix: prefix, buckets: buckets)) == nil,
                    "kind \(kind) prefix \(prefix) buckets \(buckets)")
        }
        var state = ManifestState()
        #expect(state.apply(.setStrategy(tableID: 9, strategy: .range)) == "strategy of unknown table id 9")
        _ = state.apply(.createTable(id: 9, name: "t", strategy: .hash(buckets: 4)))
        #expect(state.apply(.setStrategy(tableID: 9, strategy: .range)) == nil)
        #expect(state.strategies[9] == nil)
        #expect(state.apply(.setStrategy(tableID: 9, strategy: .composite(prefixLength: 2, buckets: 8))) == nil)
        #expect(state.snapshot.contains(.createTable(id: 9, name: "t", strategy: .composite(prefixLength: 2, buckets: 8))))
    }
}
