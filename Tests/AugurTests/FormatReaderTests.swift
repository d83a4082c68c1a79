import AugurPlanner
import AugurStats
import AugurTestSupport
import Foundation
import Testing
@_spi(Testing) import Augur
@_spi(Testing) import AugurSys

/// Where python3 is, if anywhere (the suite's condition; a property of the suite itself would be
/// a circular reference for the macro).
let formatReaderPython: String? = ["/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// docs/FORMAT.md is what outside readers build from, so it must describe the stores the engine
/// really writes. `Tools/format-reader/augur_format_reader.py` was written from the document
/// alone (never from the sources); here it reads stores the engine made — a range table split
/// twice (bounded runs of shared files) with a secondary index, a hash and a composite table,
/// overwrites, deletes and empty values, some data in runs and some only in the WAL, the log
/// also rewritten in version 1; dropped tables and indexes; copies taken in the middle of
/// reshards — and must find exactly what the engine holds, with no error. On copies with torn
/// WAL tails the engine's reopening decides: the reader finds what it recovers, or reports an
/// error where it refuses. Replay one seed with AUGUR_SEED=<n>.
/// Needs python3 (Debian's, on every machine the project runs on; the test says so when it is
/// missing instead of passing).
@Suite(.enabled(if: formatReaderPython != nil, "python3 is not installed: the format reader is a Python program"))
struct FormatReaderTests {
    static var python: String? { formatReaderPython }

    static var reader: String {
        let here = URL(fileURLWithPath: #filePath)
        return here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tools/format-reader/augur_format_reader.py").path
    }

    static var seeds: [UInt64] {
        if let s = environmentValue("AUGUR_SEED"), let seed = UInt64(s) { return [seed] }
        return [21, 0xF0_2026]
    }

    /// Runs the reader on `store`; returns its exit status, its tables (name → hex key → hex
    /// value; none when it wrote no JSON) and its output. It must not crash (a Python traceback).
    static func run(_ store: String, into json: String) throws -> (status: Int32, tables: [String: [String: String]], output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python!)
        p.arguments = [reader, store, "--json", json]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self)
        #expect(!output.contains("Traceback"), "the reader crashed:\n\(output.suffix(3_000))")
        guard let bytes = FileManager.default.contents(atPath: json) else { return (p.terminationStatus, [:], output) }
        let parsed = try JSONSerialization.jsonObject(with: bytes)
        return (p.terminationStatus, parsed as? [String: [String: String]] ?? [:], output)
    }

    /// Runs the reader on `store`, which must read without error.
    static func read(_ store: String, into json: String) throws -> (tables: [String: [String: String]], output: String) {
        let r = try run(store, into: json)
        #expect(r.status == 0, "the reader found errors:\n\(r.output.suffix(3_000))")
        return (r.tables, r.output)
    }

    /// The number the reader printed after `prefix` on the line starting with `line`.
    static func figure(_ output: String, line: String, after prefix: String) -> Int? {
        guard let l = output.split(separator: "\n").first(where: { $0.hasPrefix(line) }),
              let r = l.range(of: prefix) else { return nil }
        return Int(l[r.upperBound...].prefix { $0.isNumber })
    }

    /// Every table of an open engine as the reader gives it (name → hex user key → hex value).
    static func contents(_ engine: Engine) throws -> [String: [String: String]] {
        var out: [String: [String: String]] = [:]
        for name in try engine.tableNames() {
            out[name] = Dictionary(uniqueKeysWithValues: try engine.table(named: name).scan().map { (hex($0.key), hex($0.value)) })
        }
        return out
    }

    /// The reader's tables without its index entries.
    static func tablesOnly(_ found: [String: [String: String]]) -> [String: [String: String]] {
        found.filter { !$0.key.hasPrefix("#index:") }
    }

    /// The entry keys FORMAT.md gives for an index as the engine stores it (hex entry key → "").
    static func storedEntries(_ index: SecondaryIndex) throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try index.storedEntries().map { (hex(entryKey($0.indexKey, $0.primaryKey)), "") })
    }

    /// A model's index entries under `extract` (hex entry key → "").
    static func entries(_ model: [[UInt8]: [UInt8]], _ extract: ([UInt8]) -> [UInt8]?) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in model { if let i = extract(v) { out[hex(entryKey(i, k))] = "" } }
        return out
    }

    static func copy(_ from: String, _ to: String) throws {
        try FileManager.default.copyItem(atPath: from, toPath: to)
    }

    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    /// The entry key FORMAT.md gives for an index entry: escape(index key) ++ 00 01 ++ primary key.
    static func entryKey(_ indexKey: [UInt8], _ primaryKey: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for b in indexKey { out.append(b); if b == 0 { out.append(0xFF) } }
        return out + [0x00, 0x01] + primaryKey
    }

    /// A directory for a store and the store's path in it; prints the seed, to replay it.
    static func start(_ seed: UInt64) -> (dir: TemporaryDirectory, store: String) {
        print("FormatReaderTests seed \(seed) (AUGUR_SEED=\(seed) replays it)")
        let dir = TemporaryDirectory("augur-format")
        return (dir, dir.child("db"))
    }

    @Test("an independent reader built from FORMAT.md finds what the engine holds", arguments: seeds)
    func readerMatchesTheEngine(seed: UInt64) throws {
        let (dir, store) = Self.start(seed)
        var rng = SplitMix64(seed: seed)
        var o = EngineOptions()
        o.durability = .sync
        o.walSegmentSize = 64 << 10          // several segments: rolls, seals, trims
        // Large enough that the splits' shared files are still read through bounded runs at the
        // end (a flush of a target merges them away).
        o.memtableFlushSize = 4 << 20
        o.telemetry.enabled = false          // nothing writes behind the copy below
        let engine = try Engine.open(at: store, options: o)
        let tables = [try engine.createTable("r"),
                      try engine.createTable("h", strategy: .hash(buckets: 4)),
                      try engine.createTable("c", strategy: .composite(prefixLength: 2, buckets: 4))]
        // Index key: the value's first byte when it is below 0x40 (0x00 included: escaped).
        _ = try tables[0].createSecondaryIndex(name: "first") { v in v.first.flatMap { $0 < 0x40 ? [$0] : nil } }
        var model: [[[UInt8]: [UInt8]]] = [[:], [:], [:]]
        func key(_ t: Int) -> [UInt8] {
            // Short keys over few byte values (overwrites), some with 0x00; composite keys ≥ 2 bytes.
            let n = (t == 2 ? 2 : 1) + Int(rng.next() % 4)
            return (0..<n).map { _ in UInt8(rng.next() % 6) * 0x33 / 5 }
        }
        func write(_ count: Int) throws {
            for _ in 0..<count {
                let t = Int(rng.next() % 3)
                let k = key(t)
                if rng.next() % 6 == 0 {
                    try tables[t].delete(k)
                    model[t][k] = nil
                } else {
                    let v = (0..<Int(rng.next() % 400)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    try tables[t].put(k, v)
                    model[t][k] = v
                }
            }
        }
        try write(3_000)
        try engine.flush()                   // runs for every table
        try tables[0].requestResharding(.split(at: [0x33])).wait()
        try write(2_000)
        try tables[0].requestResharding(.split(at: [0x99, 0x33])).wait()
        try write(2_000)                     // some of it only in the WAL
        engine.drainBackgroundWork()

        func expect(_ found: [String: [String: String]], _ when: String) {
            for (t, name) in ["r", "h", "c"].enumerated() {
                let want = Dictionary(uniqueKeysWithValues: model[t].map { (Self.hex($0.key), Self.hex($0.value)) })
                let got = found[name] ?? [:]
                let same = got == want   // not inside #expect: it would print both tables
                #expect(same, "\(when): table \(name): reader \(got.count) keys, engine \(want.count) (seed \(seed))")
            }
            var entries: [String: String] = [:]
            for (k, v) in model[0] { if let f = v.first, f < 0x40 { entries[Self.hex(Self.entryKey([f], k))] = "" } }
            let same = (found["#index:first"] ?? [:]) == entries
            #expect(same, "\(when): index entries: reader \(found["#index:first"]?.count ?? 0), expected \(entries.count) (seed \(seed))")
        }
        // The store as it is while open: a copy taken with the background work drained.
        let open = dir.child("open-copy")
        try FileManager.default.copyItem(atPath: store, toPath: open)
        let whileOpen = try Self.read(open, into: dir.child("open.json"))
        expect(whileOpen.tables, "while open")
        // Some runs are views of shared files ("partitions P, runs R (bounded B)").
        let bounded = whileOpen.output.split(separator: "\n").first { $0.hasPrefix("partitions ") }
            .flatMap { $0.split(separator: "bounded ").last?.dropLast() }.flatMap { Int($0) }
        #expect((bounded ?? 0) > 0, "no bounded run in the open store: \(whileOpen.output.prefix(400))")
        // Some of what it found lies only in the WAL ("WAL ops N, above flush mark M, …").
        let applied = whileOpen.output.split(separator: "\n").first { $0.hasPrefix("WAL ops ") }
            .flatMap { $0.split(separator: ",").dropFirst().first?.split(separator: " ").last }.flatMap { Int($0) }
        #expect((applied ?? 0) > 0, "no WAL operation above a flush mark in the open store: \(whileOpen.output.suffix(800))")
        // The same log as an older Augur wrote it (version 1, fixed-width operation headers;
        // rewritten by WALFormatTests' transcoder, itself written from FORMAT.md).
        let v1 = dir.child("v1-copy")
        try FileManager.default.copyItem(atPath: open, toPath: v1)
        let posix = PosixFileSystem()
        var rewritten = 0
        for name in try posix.listDirectory(joinPath(v1, "wal")).sorted() {
            rewritten += try Version1Transcoder.rewrite(posix, joinPath(joinPath(v1, "wal"), name))
        }
        #expect(rewritten > 0)
        let version1 = try Self.read(v1, into: dir.child("v1.json"))
        #expect(version1.output.contains(" v1 "), "\(version1.output.prefix(800))")
        expect(version1.tables, "with the log in version 1")
        try engine.close()
        let closed = try Self.read(store, into: dir.child("closed.json"))
        expect(closed.tables, "after close")
    }

    /// Runs of both segment versions in one store — an older Augur's version-1 runs (written
    /// here with the testing option), then version-2 runs over them, a split of the two —
    /// and the reader finds what the engine does.
    @Test("the reader reads segments of both versions", arguments: seeds)
    func readerReadsBothSegmentVersions(seed: UInt64) throws {
        let (dir, store) = Self.start(seed)
        var rng = SplitMix64(seed: seed)
        var o = EngineOptions()
        o.telemetry.enabled = false
        o.reshardData = .copy
        var model: [String: String] = [:]
        func write(_ table: Table, _ count: Int) throws {
            for _ in 0..<count {
                let k = Array("k\(rng.next() % 3000)".utf8)
                let v = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                try table.put(k, v)
                model[Self.hex(k)] = Self.hex(v)
            }
        }
        for version: UInt32 in [1, 2] {
            o.segmentFormatVersion = version
            let engine = try Engine.open(at: store, options: o)
            let table = version == 1 ? try engine.createTable("r") : try engine.table(named: "r")
            try write(table, 2_000)
            try engine.flush()
            if version == 2 { _ = try table.requestResharding(.split(at: Array("k2".utf8))).wait() }
            try engine.close()
        }
        let found = try Self.read(store, into: dir.child("both.json"))
        let same = found.tables["r"] == model
        #expect(same, "reader \(found.tables["r"]?.count ?? 0) keys, engine \(model.count) (seed \(seed))")
    }

    /// Dropped tables and indexes: a table with an index dropped, another dropped alone, an
    /// index dropped and a new one of the same name built, a new table under a dropped one's
    /// name — while their writes are still in runs and in the WAL. Once with the drop edits in
    /// the manifest, once with a manifest so small that every commit rotates it (its snapshot
    /// no longer names the dropped ids, which the WAL still holds).
    @Test("the reader leaves out dropped tables and indexes", arguments: seeds)
    func readerLeavesOutDroppedTablesAndIndexes(seed: UInt64) throws {
        let (dir, _) = Self.start(seed)
        for rotation in [4 << 20, 1024] {
            let store = dir.child("db-\(rotation)")
            var rng = SplitMix64(seed: seed)
            var o = EngineOptions()
            o.durability = .sync
            o.walSegmentSize = 64 << 10
            o.memtableFlushSize = 4 << 20
            o.manifestRotationSize = rotation
            o.telemetry.enabled = false
            let engine = try Engine.open(at: store, options: o)
            var tables = ["a": try engine.createTable("a"), "b": try engine.createTable("b", strategy: .hash(buckets: 4)),
                          "c": try engine.createTable("c")]
            let first: IndexKeyExtractor = { v in v.first.flatMap { $0 < 0x40 ? [$0] : nil } }
            let last: @Sendable ([UInt8]) -> [UInt8]? = { v in v.last.flatMap { $0 >= 0xC0 ? [$0] : nil } }
            try tables["a"]!.createSecondaryIndex(name: "first", key: first).waitUntilReady()
            try tables["b"]!.createSecondaryIndex(name: "length", key: { v in [UInt8(v.count & 0x0F)] }).waitUntilReady()
            var model: [String: [[UInt8]: [UInt8]]] = ["a": [:], "b": [:], "c": [:]]
            func write(_ count: Int) throws {
                let names = model.keys.sorted()
                for _ in 0..<count {
                    let name = names[Int(rng.next() % UInt64(names.count))]
                    let k = (0..<1 + Int(rng.next() % 3)).map { _ in UInt8(rng.next() % 6) * 0x33 / 5 }
                    if rng.next() % 6 == 0 {
                        try tables[name]!.delete(k)
                        model[name]![k] = nil
                    } else {
                        let v = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                        try tables[name]!.put(k, v)
                        model[name]![k] = v
                    }
                }
            }
            try write(2_000)
            try engine.flush()                   // runs and index runs of every table
            try write(1_000)                     // and writes above the flush marks, in the WAL
            try tables["a"]!.dropSecondaryIndex(name: "first")
            try engine.dropTable("b")            // with its index "length"
            model["b"] = nil
            try write(500)
            tables["b"] = try engine.createTable("b", strategy: .composite(prefixLength: 1, buckets: 2))
            model["b"] = [:]
            try tables["a"]!.createSecondaryIndex(name: "first", key: last).waitUntilReady()
            try engine.dropTable("c")
            model["c"] = nil
            try write(1_000)
            engine.drainBackgroundWork()

            let when = rotation == 1024 ? "manifest rotated at every commit" : "drop edits in the manifest"
            func expect(_ found: (tables: [String: [String: String]], output: String), _ when: String) {
                let want = model.mapValues { t in Dictionary(uniqueKeysWithValues: t.map { (Self.hex($0.key), Self.hex($0.value)) }) }
                let got = Self.tablesOnly(found.tables)
                let same = got == want   // not inside #expect: it would print both tables
                #expect(same, "\(when): reader tables \(got.mapValues(\.count)), engine \(want.mapValues(\.count)) (seed \(seed))")
                let indexes = found.tables.keys.filter { $0.hasPrefix("#index:") }.sorted()
                #expect(indexes == ["#index:first"], "\(when): the reader's indexes (seed \(seed))")
                let entries = Self.entries(model["a"]!, last)
                let sameEntries = found.tables["#index:first"] == entries
                #expect(sameEntries, "\(when): index entries: reader \(found.tables["#index:first"]?.count ?? 0), expected \(entries.count) (seed \(seed))")
                // The WAL still holds writes to the dropped ids, and the reader skipped them.
                #expect((Self.figure(found.output, line: "WAL ops ", after: "dropped ids ") ?? 0) > 0,
                        "\(when): no WAL operation of a dropped id: \(found.output.suffix(800))")
                // Drops the manifest records: all four (tables b and c, index first and b's
                // index), or fewer where a rotation's snapshot folded them away.
                let dropped = ["dropped tables ", "dropped indexes "].compactMap { Self.figure(found.output, line: "dropped tables ", after: $0) }
                #expect(rotation == 1024 ? dropped.count == 2 && dropped.reduce(0, +) < 4 : dropped == [2, 2],
                        "\(when): drops \(dropped): \(found.output.prefix(800))")
            }
            // Open, background work drained.
            let open = dir.child("open-copy-\(rotation)")
            try Self.copy(store, open)
            let whileOpen = try Self.read(open, into: open + ".json")
            expect(whileOpen, "\(when), while open")
            // The engine reopening the same copy holds what the reader found.
            let reopenedCopy = open + "-reopened"
            try Self.copy(open, reopenedCopy)
            let reopened = try Engine.open(at: reopenedCopy, options: o)
            let engineTables = try Self.contents(reopened)
            let sameTables = Self.tablesOnly(whileOpen.tables) == engineTables
            #expect(sameTables, "\(when): reader \(whileOpen.tables.mapValues(\.count)), reopened engine \(engineTables.mapValues(\.count)) (seed \(seed))")
            let stored = try Self.storedEntries(try reopened.table(named: "a").attachSecondaryIndex(name: "first", key: last))
            let sameStored = whileOpen.tables["#index:first"] == stored
            #expect(sameStored, "\(when): index entries: reader \(whileOpen.tables["#index:first"]?.count ?? 0), reopened engine \(stored.count) (seed \(seed))")
            try reopened.close()
            try engine.close()
            expect(try Self.read(store, into: dir.child("closed-\(rotation).json")), "\(when), after close")
        }
    }

    /// Stores copied in the middle of reshards — the process stopped at a named step (the
    /// crash points), right after more writes were acknowledged: prepared (targets not
    /// written), copied or synced (target files that no partition names yet), and committed
    /// before the cut-over. The reader finds what the writes left, and so does the engine
    /// reopening the copy (rolling back the reshards that did not commit).
    @Test("the reader reads stores copied in the middle of a reshard", arguments: seeds, ReshardDataMode.allCases)
    func readerReadsAnInterruptedReshard(seed: UInt64, data: ReshardDataMode) throws {
        let (dir, store) = Self.start(seed)
        final class Capture: @unchecked Sendable {
            let lock = PThreadMutex()
            var rng: SplitMix64
            var model: [[UInt8]: [UInt8]] = [:]
            var table: Table?
            var armed: CrashPoint?
            var copies: [(point: CrashPoint, path: String, model: [[UInt8]: [UInt8]])] = []
            init(seed: UInt64) { rng = SplitMix64(seed: seed) }
            /// Random writes to the range table, acknowledged before they return.
            func write(_ count: Int) throws {
                let table = lock.withLock { self.table! }
                for _ in 0..<count {
                    let (k, v, delete) = lock.withLock { () -> ([UInt8], [UInt8], Bool) in
                        let k = (0..<1 + Int(rng.next() % 3)).map { _ in UInt8(rng.next() % 6) * 0x33 / 5 }
                        return (k, (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, rng.next() % 6 == 0)
                    }
                    if delete { try table.delete(k) } else { try table.put(k, v) }
                    lock.withLock { model[k] = delete ? nil : v }
                }
            }
        }
        let capture = Capture(seed: seed)
        var o = EngineOptions()
        o.durability = .sync
        o.walSegmentSize = 64 << 10
        o.memtableFlushSize = 4 << 20
        o.telemetry.enabled = false
        o.reshardData = data
        o.crashPoint = { point in
            guard capture.lock.withLock({ () -> Bool in
                defer { if capture.armed == point { capture.armed = nil } }
                return capture.armed == point
            }) else { return }
            // The reshard waits here: writes reach the sources (and the WAL), then the copy.
            try! capture.write(50)
            let path = dir.child("at-\(point.rawValue)")
            try! Self.copy(store, path)
            capture.lock.withLock { capture.copies.append((point, path, capture.model)) }
        }
        let first: IndexKeyExtractor = { v in v.first.flatMap { $0 < 0x40 ? [$0] : nil } }
        let engine = try Engine.open(at: store, options: o)
        let table = try engine.createTable("r")
        _ = try engine.createTable("h", strategy: .hash(buckets: 4))
        try table.createSecondaryIndex(name: "first", key: first).waitUntilReady()
        capture.lock.withLock { capture.table = table }
        try capture.write(1_500)
        try engine.flush()                   // runs for the reshards to share or copy
        try capture.write(500)
        let steps: [(CrashPoint, ReshardPlan)] = [(.reshardPrepared, .split(at: [0x66])), (.reshardCopied, .split(at: [0x33])),
                                                  (.reshardTargetsSynced, .merge(boundary: [0x33])),
                                                  (.reshardCommitted, .split(at: [0x99]))]
        for (point, plan) in steps {
            capture.lock.withLock { capture.armed = point }
            let job = try table.requestResharding(plan).wait()
            #expect(job.state == .committed, "\(point): \(job)")
            try capture.write(300)
        }
        try engine.close()
        // The crash-point hook holds `capture` (and the directory), `capture` holds the table,
        // the table its engine, the engine the hook: without this the cycle kept the temporary
        // directory alive past the test, and every run left four of them in /tmp.
        let copies = capture.lock.withLock { () -> [(point: CrashPoint, path: String, model: [[UInt8]: [UInt8]])] in
            capture.table = nil
            return capture.copies
        }
        #expect(copies.map(\.point) == steps.map(\.0), "steps that fired: \(copies.map(\.point))")

        for (point, path, model) in copies {
            let when = "\(data) at \(point.rawValue)"
            let found = try Self.read(path, into: path + ".json")
            let want = Dictionary(uniqueKeysWithValues: model.map { (Self.hex($0.key), Self.hex($0.value)) })
            let same = found.tables["r"] == want
            #expect(same, "\(when): reader \(found.tables["r"]?.count ?? 0) keys, acknowledged \(want.count) (seed \(seed))")
            let entries = Self.entries(model, { v in v.first.flatMap { $0 < 0x40 ? [$0] : nil } })
            let sameEntries = found.tables["#index:first"] == entries
            #expect(sameEntries, "\(when): index entries: reader \(found.tables["#index:first"]?.count ?? 0), expected \(entries.count) (seed \(seed))")
            // The copy is mid-reshard: a prepared plan is pending until the commit record.
            let pending = Self.figure(found.output, line: "pending reshards ", after: "pending reshards ")
            #expect(pending == (point == .reshardCommitted ? 0 : 1), "\(when): \(found.output.prefix(1_000))")
            // The engine reopening the same copy holds what the reader found.
            let reopenedCopy = path + "-reopened"
            try Self.copy(path, reopenedCopy)
            var reopenOptions = o
            reopenOptions.crashPoint = nil
            let reopened = try Engine.open(at: reopenedCopy, options: reopenOptions)
            #expect(reopened.recoveryReport.reshardsRolledBack.isEmpty == (point == .reshardCommitted), "\(when): \(reopened.recoveryReport)")
            let engineTables = try Self.contents(reopened)
            let sameTables = Self.tablesOnly(found.tables) == engineTables
            #expect(sameTables, "\(when): reader \(found.tables.mapValues(\.count)), reopened engine \(engineTables.mapValues(\.count)) (seed \(seed))")
            let index = try reopened.table(named: "r").attachSecondaryIndex(name: "first", key: first)
            try index.waitUntilReady()
            let stored = try Self.storedEntries(index)
            let sameStored = found.tables["#index:first"] == stored
            #expect(sameStored, "\(when): index entries: reader \(found.tables["#index:first"]?.count ?? 0), reopened engine \(stored.count) (seed \(seed))")
            try reopened.close()
        }
    }

    /// The last data frame of a WAL segment file: its offset and its length (24-byte header
    /// and payload), walking the frames FORMAT.md lays out after the 56-byte header.
    static func lastDataFrame(_ bytes: [UInt8]) -> (offset: Int, length: Int)? {
        func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        var at = 56, last: (Int, Int)? = nil
        while at + 24 <= bytes.count {
            let n = u32(at + 4)
            if n == 0 || at + 24 + n > bytes.count { break }
            if u32(at + 16) > 0 { last = (at, 24 + n) }
            at += (24 + n + 7) & ~7
        }
        return last
    }

    /// The offset of a WAL segment file's seal (the marker frame of kind 2 after its frames).
    static func seal(_ bytes: [UInt8]) -> Int? {
        func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        var at = 56
        while at + 24 <= bytes.count {
            let n = u32(at + 4)
            if n == 0 || at + 24 + n > bytes.count { return nil }
            if u32(at + 16) == 0 && n == 16 && u32(at + 24) == 2 { return at }
            at += (24 + n + 7) & ~7
        }
        return nil
    }

    /// Torn WAL tails on copies of a store closed (the last two cases) or cut by a crash just
    /// after its close sealed the log: the newest segment's last frame cut short,
    /// the last frame of the segment before it cut short (the newest synced after it, or — under
    /// durability `none` — never synced) or lost whole, and either segment truncated mid-frame.
    /// The engine reopening the copy is the truth: the reader finds what it recovers, or
    /// reports an error where it refuses.
    @Test("the reader agrees with recovery on torn WAL tails", arguments: seeds)
    func readerAgreesOnTornWALTails(seed: UInt64) throws {
        let (dir, _) = Self.start(seed)
        var rng = SplitMix64(seed: seed)
        // Two closed stores, keyed by whether every write was synced (durability sync or none).
        var stores: [Bool: String] = [:]
        var options: [Bool: EngineOptions] = [:]
        for synced in [true, false] {
            var o = EngineOptions()
            o.durability = synced ? .sync : .none
            o.walSegmentSize = 64 << 10
            o.memtableFlushSize = 4 << 20
            o.telemetry.enabled = false
            let store = dir.child(synced ? "db-sync" : "db-none")
            let engine = try Engine.open(at: store, options: o)
            let tables = [try engine.createTable("r"), try engine.createTable("h", strategy: .hash(buckets: 4))]
            for i in 0..<1_800 {
                let t = tables[Int(rng.next() % 2)]
                let k = (0..<1 + Int(rng.next() % 3)).map { _ in UInt8(rng.next() % 6) * 0x33 / 5 }
                if rng.next() % 6 == 0 { try t.delete(k) } else {
                    try t.put(k, (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
                }
                if i == 300 { try engine.flush() }   // runs and flush marks under the WAL
            }
            try engine.close()
            // The store as a crash just after the close sealed its log leaves it: the close's
            // manifest record (`walClosed`, the last) dropped. After it, a torn end is
            // corruption (a clean close leaves none): the last two cases keep it.
            try Self.copy(store, store + "-closed")
            try CorruptionRecoveryTests.dropCloseRecord(PosixFileSystem(), store: store)
            stores[synced] = store
            options[synced] = o
        }
        let segments = try FileManager.default.contentsOfDirectory(atPath: stores[true]! + "/wal").sorted()
        #expect(segments.count >= 3, "\(segments)")
        enum Damage { case zeroFrom, truncateAt }
        // (name, synced store, segment from the newest, damage, cut at a frame's start instead
        // of inside it, the close's manifest record kept)
        let cases: [(String, Bool, Int, Damage, Bool, Bool)] = [
            ("newest torn", true, 0, .zeroFrom, false, false),
            ("older torn, newest synced after it", true, 1, .zeroFrom, false, false),
            ("older torn, newest never synced", false, 1, .zeroFrom, false, false),
            ("older's last frame lost whole", true, 1, .zeroFrom, true, false),
            ("newest truncated", true, 0, .truncateAt, false, false),
            ("older truncated", true, 1, .truncateAt, false, false),
            ("newest torn after a clean close", true, 0, .zeroFrom, false, true),
            ("older torn after a clean close, newest never synced", false, 1, .zeroFrom, false, true),
        ]
        for (i, (name, synced, back, damage, whole, recorded)) in cases.enumerated() {
            let copies = [dir.child("case\(i)-reader"), dir.child("case\(i)-engine")]
            let source = stores[synced]! + (recorded ? "-closed" : "")
            let wal = try FileManager.default.contentsOfDirectory(atPath: source + "/wal").sorted()
            let segment = wal[wal.count - 1 - back]
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: source + "/wal/" + segment)))
            let frame = try #require(Self.lastDataFrame(bytes), "\(name): no frame in \(segment)")
            // Inside the frame, past its length word (a cut there leaves no seal-like rest).
            let cut = whole ? frame.offset : frame.offset + 8 + Int(rng.next() % UInt64(frame.length - 8))
            switch damage {
            case .zeroFrom: for j in cut..<bytes.count { bytes[j] = 0 }
            case .truncateAt: bytes.removeSubrange(cut...)
            }
            // Never synced: a power cut before the close, so the newest has no `closed` seal
            // either (one there would prove the segment before it sealed, FORMAT.md).
            var newest: (name: String, bytes: [UInt8])? = nil
            if !synced && back == 1 {
                let name = wal[wal.count - 1]
                var b = try [UInt8](Data(contentsOf: URL(fileURLWithPath: source + "/wal/" + name)))
                let seal = try #require(Self.seal(b), "\(name) of a closed store has no seal")
                for j in seal..<seal + 40 { b[j] = 0 }
                newest = (name, b)
            }
            for c in copies {
                try Self.copy(source, c)
                try Data(bytes).write(to: URL(fileURLWithPath: c + "/wal/" + segment))
                if let newest { try Data(newest.bytes).write(to: URL(fileURLWithPath: c + "/wal/" + newest.name)) }
            }
            let when = "\(name) (\(segment) from \(cut), frame at \(frame.offset), seed \(seed))"
            let found = try Self.run(copies[0], into: copies[0] + ".json")
            do {
                let engine = try Engine.open(at: copies[1], options: options[synced]!)
                let report = engine.recoveryReport
                let held = try Self.contents(engine)
                try engine.close()
                print("FormatReaderTests \(when): the engine opened: torn tail \(report.walTornTail.map { "\($0)" } ?? "none"), set aside \(report.walSetAside)")
                #expect(found.status == 0, "\(when): the engine opened, the reader found errors:\n\(found.output.suffix(2_000))")
                let same = found.tables == held
                #expect(same, "\(when): reader \(found.tables.mapValues(\.count)), engine \(held.mapValues(\.count))")
                // The cases whose outcome FORMAT.md states outright.
                // Lost whole too: the synced successor proves the seal had been durable.
                if back == 1 && damage == .zeroFrom { #expect(!synced, "\(when): the engine opened") }
                if damage == .zeroFrom && !whole { #expect(report.walTornTail != nil, "\(when): no torn tail reported") }
                if back == 1 { #expect(!report.walSetAside.isEmpty, "\(when): nothing set aside") }
                #expect(damage == .zeroFrom, "\(when): the engine opened a truncated segment")
                #expect(!recorded, "\(when): the engine opened a torn log after a clean close")
            } catch let error as AugurError {
                print("FormatReaderTests \(when): the engine refused: \(error)")
                guard case .corruption = error else { Issue.record("\(when): \(error)"); continue }
                #expect(found.status != 0, "\(when): the engine refused (\(error)), the reader found no error:\n\(found.output.suffix(2_000))")
                #expect(damage == .truncateAt || synced && back == 1 || recorded, "\(when): the engine refused: \(error)")
            }
        }
    }
}
