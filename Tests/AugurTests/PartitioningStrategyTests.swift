import Testing
@testable import Augur
import AugurPlanner
@_spi(Testing) import AugurSys
import AugurTestSupport

/// Hash and composite tables (issue 18, part 1): the partition-key layout FORMAT.md documents,
/// its limits, and what the layout changes for users (RandomizedModelTests runs the model
/// against every strategy).
@Suite struct PartitioningStrategyTests {
    static func key(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func partitionKeysAreTheDocumentedBytes() throws {
        let hash = KeyLayout(.hash(buckets: 16))
        let k = Self.key("user000123")
        let bucket = Int(CRC32C.checksum(k) % 16)
        let pk = try hash.partitionKey(k, maxKeySize: 1024)
        #expect(pk == [0, UInt8(bucket)] + k)
        #expect(hash.userKey(pk) == k)

        let composite = KeyLayout(.composite(prefixLength: 4, buckets: 200))
        let t = Self.key("acmeorder-17")
        let b = Int(CRC32C.checksum(Array(t[4...])) % 200)
        let cpk = try composite.partitionKey(t, maxKeySize: 1024)
        #expect(cpk == Array(t[..<4]) + [UInt8(b >> 8), UInt8(b & 0xff)] + Array(t[4...]))
        #expect(composite.userKey(cpk) == t)
        // A key exactly as long as the prefix: its bucket is that of the empty rest.
        let exact = try composite.partitionKey(Self.key("acme"), maxKeySize: 1024)
        #expect(exact == Self.key("acme") + [0, UInt8(CRC32C.checksum([UInt8]()) % 200)])
        #expect(composite.userKey(exact) == Self.key("acme"))
        #expect(try KeyLayout.range.partitionKey(t, maxKeySize: 1024) == t)
    }

    @Test func strategiesParseAndNameTheirLimits() {
        #expect(PartitioningStrategy(parsing: "range") == .range)
        #expect(PartitioningStrategy(parsing: "hash") == .hash(buckets: 16))
        #expect(PartitioningStrategy(parsing: "hash:64") == .hash(buckets: 64))
        #expect(PartitioningStrategy(parsing: "composite:4") == .composite(prefixLength: 4, buckets: 16))
        #expect(PartitioningStrategy(parsing: "composite:4:8") == .composite(prefixLength: 4, buckets: 8))
        for bad in ["", "hash:", "hash:x", "range:3", "composite", "composite:1:2:3", "tree"] {
            #expect(PartitioningStrategy(parsing: bad) == nil, "\(bad)")
        }
        for s in [PartitioningStrategy.range, .hash(buckets: 7), .composite(prefixLength: 3, buckets: 9)] {
            #expect(PartitioningStrategy(parsing: s.description) == s)
            #expect(s.problem == nil)
        }
        #expect(PartitioningStrategy.hash(buckets: 1).problem == "buckets 1 must be in 2...256")
        #expect(PartitioningStrategy.hash(buckets: 257).problem == "buckets 257 must be in 2...256")
        #expect(PartitioningStrategy.composite(prefixLength: 0, buckets: 4).problem == "prefixLength 0 must be in 1...64")
        #expect(PartitioningStrategy.composite(prefixLength: 65, buckets: 4).problem == "prefixLength 65 must be in 1...64")
    }

    @Test func badStrategiesAndKeysAreTypedErrors() throws {
        let engine = try Engine.open(at: "/db", options: RandomizedModelTests.options(CrashSimulatingFileSystem()))
        defer { try? engine.close() }
        #expect(throws: AugurError.invalidOption(name: "strategy", value: "hash:1", reason: "buckets 1 must be in 2...256")) {
            try engine.createTable("t", strategy: .hash(buckets: 1))
        }
        #expect(throws: AugurError.invalidOption(name: "partitions", value: "17", reason: "a hash table of 16 buckets starts with 1...16 partitions")) {
            try engine.createTable("t", strategy: .hash(buckets: 16), partitions: 17)
        }
        #expect(throws: AugurError.self) { try engine.createTable("t", strategy: .hash(buckets: 16), partitions: 0) }
        #expect(throws: AugurError.self) { try engine.createTable("t", strategy: .composite(prefixLength: 2, buckets: 4), partitions: 2) }
        #expect(throws: AugurError.self) { try engine.createTable("t", strategy: .range, partitions: 3) }
        #expect(try engine.tableNames().isEmpty)

        let c = try engine.createTable("c", strategy: .composite(prefixLength: 4, buckets: 4))
        #expect(throws: AugurError.keyTooShort(size: 3, minimum: 4)) { try c.put(Self.key("abc"), [1]) }
        #expect(throws: AugurError.keyTooShort(size: 3, minimum: 4)) { try c.get(Self.key("abc")) }
        #expect(throws: AugurError.keyTooShort(size: 3, minimum: 4)) { try c.delete(Self.key("abc")) }
        #expect(throws: AugurError.emptyKey) { try c.put([], [1]) }
        var batch = WriteBatch()
        batch.put(Self.key("abcd1"), [1], in: c)
        batch.put(Self.key("ab"), [2], in: c)
        #expect(throws: AugurError.keyTooShort(size: 2, minimum: 4)) { try engine.write(batch) }
        #expect(try c.get(Self.key("abcd1")) == nil, "a refused batch writes nothing")
        let limit = EngineOptions().maxKeySize
        #expect(throws: AugurError.keyTooLarge(size: limit - 1, limit: limit - 2)) {
            try c.put([UInt8](repeating: 0x61, count: limit - 1), [1])
        }
        try c.put([UInt8](repeating: 0x61, count: limit - 2), [1])
    }

    @Test func sequentialInsertsSpreadOverHashPartitionsAndSurviveReopen() throws {
        let fs = CrashSimulatingFileSystem()
        let options = RandomizedModelTests.options(fs)
        var engine = try Engine.open(at: "/db", options: options)
        let t = try engine.createTable("events", strategy: .hash(buckets: 16), partitions: 4)
        #expect(try t.partitionStats().map(\.lowerBound) == [[], [0, 4], [0, 8], [0, 12]])
        let keys = (0..<2000).map { Self.key(String(format: "event%08d", $0)) }
        for k in keys { try t.put(k, k) }
        try engine.flush()
        let records = try t.partitionStats().map(\.records)
        #expect(records.allSatisfy { $0 > 350 }, "\(records)")
        try engine.close()
        engine = try Engine.open(at: "/db", options: options)
        let reopened = try engine.table(named: "events")
        #expect(reopened.strategy == .hash(buckets: 16))
        #expect(try reopened.scan().map(\.key) == keys)
        #expect(try reopened.scan(range: KeyRange(from: keys[100], to: keys[110]), reverse: true).map(\.key) == keys[100..<110].reversed())
        #expect(try reopened.scan(range: KeyRange(from: keys[1990]), limit: 3).map(\.key) == Array(keys[1990..<1993]))
        #expect(try reopened.get(keys[1234]) == keys[1234])
        try engine.close()
    }

    @Test func compositeScansInsidePrefixesAndAcrossThem() throws {
        let engine = try Engine.open(at: "/db", options: RandomizedModelTests.options(CrashSimulatingFileSystem()))
        defer { try? engine.close() }
        let t = try engine.createTable("orders", strategy: .composite(prefixLength: 4, buckets: 8))
        var all: [[UInt8]] = []
        for tenant in ["acme", "blue", "cove"] {
            for i in 0..<200 { all.append(Self.key(tenant + String(format: "%06d", i))) }
        }
        for k in all.shuffled() { try t.put(k, k) }
        // Split between tenants and inside one (at a bucket of "blue").
        try t.splitPartition(at: Self.key("blue"))
        try t.splitPartition(at: Self.key("blue") + [0, 4])
        #expect(try t.partitionStats().count == 3)
        #expect(try t.scan().map(\.key) == all)
        #expect(try t.scan(range: .prefix(Self.key("blue"))).map(\.key) == Array(all[200..<400]))
        #expect(try t.scan(range: KeyRange(from: Self.key("acme000150"), to: Self.key("cove000010"))).map(\.key) == Array(all[150..<410]))
        #expect(try t.scan(range: KeyRange(from: Self.key("b"), to: Self.key("c")), limit: 5, reverse: true).map(\.key)
                    == Array(all[395..<400].reversed()))
        #expect(try t.scan(range: KeyRange(from: Self.key("d"))).isEmpty)
    }

    @Test func indexesAndBulkIngestSpeakUserKeys() throws {
        let engine = try Engine.open(at: "/db", options: RandomizedModelTests.options(CrashSimulatingFileSystem()))
        defer { try? engine.close() }
        let t = try engine.createTable("items", strategy: .hash(buckets: 8), partitions: 2)
        // Any order: the ingest re-keys and sorts.
        let input = (0..<500).map { i in KeyValue(key: Self.key(String(format: "item%05d", i)), value: [UInt8(i % 3)]) }.shuffled()
        let twice = input + [KeyValue(key: input[7].key, value: [9])]
        #expect(throws: AugurError.invalidOption(name: "records", value: formatKey(input[7].key), reason: "the key is given twice")) {
            try t.bulkIngest(twice)
        }
        #expect(try t.scan().isEmpty, "a refused ingest writes nothing")
        _ = try t.bulkIngest(input)
        #expect(try t.scan().map(\.key) == input.map(\.key).sorted { $0.lexicographicallyPrecedes($1) })
        let byColour = try t.createSecondaryIndex(name: "colour") { v in v.first.map { [$0] } }
        try byColour.waitUntilReady()
        let zeros = try byColour.scan(range: .prefix([0]))
        #expect(Set(zeros.map(\.primaryKey)) == Set(input.filter { $0.value == [0] }.map(\.key)))
        #expect(zeros.allSatisfy { $0.value == [0] })
    }
}

/// The strategy advisor inside the engine: the table's workload as the telemetry and the
/// sampler see it, saved in LOADHISTORY and read back by a read-only open (`augur advise`).
@Suite struct StrategyAdviceEngineTests {
    static func key(_ n: Int) -> [UInt8] { Array(String(format: "k%010d", n).utf8) }

    @Test func advisesFromTheLiveWorkloadAndFromTheSavedOneAfterReopen() throws {
        let fs = CrashSimulatingFileSystem()
        // The rates come from the telemetry's windows: a manual clock and collections the test
        // drives make them exact (on a loaded CI machine a real clock once gave 0 writes/s).
        let clock = ManualClock()
        var options = RandomizedModelTests.options(fs)
        options.clock = clock
        options.telemetry.collectInterval = .seconds(3600)
        var engine = try Engine.open(at: "/db", options: options)
        let t = try engine.createTable("log")
        #expect(throws: AugurError.noWorkloadRecorded(table: "log")) { try engine.adviseStrategy(table: "log") }
        _ = try engine.partitionHealth(table: "log")          // baseline of the exact counters
        clock.advance(by: .seconds(1))
        for i in 0..<20_000 { try t.put(Self.key(i), [1]) }
        for i in 0..<2000 { _ = try t.scan(range: KeyRange(from: Self.key(i * 9)), limit: 40) }
        _ = try engine.partitionHealth(table: "log")          // collects
        let live = try engine.strategyWorkload(table: "log")
        // Reads and writes are the window's exact totals (the split of reads into point reads
        // and scans follows the sampled operation types, which this short run may not have).
        #expect(live.writesPerSecond > 0 && live.pointReadsPerSecond + live.scansPerSecond > 0,
                "\(live.writesPerSecond) \(live.pointReadsPerSecond) \(live.scansPerSecond)")
        #expect(live.meanScanLength == 40)
        #expect(live.writeKeys.count > 300 && live.writeKeys.count < 1000, "1 in 32 of 20,000 keys: \(live.writeKeys.count)")
        #expect(live.writeKeys == live.writeKeys.sorted { $0.lexicographicallyPrecedes($1) }, "kept in arrival order")
        let advice = try engine.adviseStrategy(table: "log")
        #expect(advice.sequentialWriteShare == 1)
        try engine.close()

        var readOnly = options
        readOnly.readOnly = true
        engine = try Engine.open(at: "/db", options: readOnly)
        let saved = try engine.strategyWorkload(table: "log")
        #expect(saved.writeKeys == live.writeKeys)
        #expect(saved.meanScanLength == 40)
        #expect(try engine.adviseStrategy(table: "log").strategy == advice.strategy)
        try engine.close()
    }

    @Test func aMalformedSavedWorkloadIsIgnored() throws {
        let fs = CrashSimulatingFileSystem()
        let options = RandomizedModelTests.options(fs)
        var engine = try Engine.open(at: "/db", options: options)
        try engine.createTable("log")
        try engine.close()
        // A checksummed file whose workload names a key that is not hex.
        var bad = LoadHistoryFile.Workload(StrategyWorkload(writesPerSecond: 10, writeKeys: [[1]]), scans: 0, scannedRecords: 0)
        bad.writeKeys = ["not hex"]
        let file = LoadHistoryFile(sampleNanos: 1_000_000_000, stepNanos: 5_000_000_000, histories: ["log": []], workloads: ["log": bad])
        try fs.replaceFile(at: "/db/LOADHISTORY", with: file.encoded(), temporary: "/db/LOADHISTORY.tmp")
        engine = try Engine.open(at: "/db", options: options)
        #expect(throws: AugurError.noWorkloadRecorded(table: "log")) { try engine.adviseStrategy(table: "log") }
        try engine.close()
    }
}

/// The manifest edit that carries a table's strategy (docs/FORMAT.md, tag 16).
@Suite struct StrategyManifestEditTests {
    static func encoded(_ e: VersionEdit) -> [UInt8] {
        var w = ByteWriter()
        e.encode(into: &w)
        return w.bytes
    }

    static func decoded(_ bytes: [UInt8]) -> VersionEdit? {
        bytes.withUnsafeBytes { b in
            var r = ByteReader(b)
            return VersionEdit.decode(&r)
        }
    }

    @Test func rangeTablesKeepTheOriginalBytesAndStrategiesRoundTrip() {
        let range = Self.encoded(.createTable(id: 7, name: "t"))
        #expect(range == [1, 7, 0, 0, 0, 1, 0, 0, 0, UInt8(ascii: "t")], "tag 1, u32 id, string name — as before strategies")
        for s in [PartitioningStrategy.range, .hash(buckets: 2), .hash(buckets: 256), .composite(prefixLength: 64, buckets: 16)] {
            #expect(Self.decoded(Self.encoded(.createTable(id: 3, name: "x", strategy: s))) == .createTable(id: 3, name: "x", strategy: s))
        }
        let hash = Self.encoded(.createTable(id: 1, name: "h", strategy: .hash(buckets: 16)))
        #expect(hash == [16, 1, 0, 0, 0, 1, 0, 0, 0, UInt8(ascii: "h"), 1, 0, 0, 0, 0, 16, 0, 0, 0])
    }

    @Test func strategyFieldsOutOfTheirLimitsAreMalformed() {
        func edit(kind: UInt8, prefix: UInt32, buckets: UInt32) -> [UInt8] {
            var w = ByteWriter()
            w.u8(16); w.u32(1); w.string("t"); w.u8(kind); w.u32(prefix); w.u32(buckets)
            return w.bytes
        }
        #expect(Self.decoded(edit(kind: 1, prefix: 0, buckets: 16)) == .createTable(id: 1, name: "t", strategy: .hash(buckets: 16)))
        for (kind, prefix, buckets) in [(1, 0, 1), (1, 0, 257), (1, 4, 16), (2, 0, 16), (2, 65, 16), (2, 4, 0), (3, 0, 16), (0, 0, 16),
                                        (1, 0, UInt32.max)] as [(UInt8, UInt32, UInt32)] {
            #expect(Self.decoded(edit(kind: kind, prefix: prefix, buckets: buckets)) == nil, "kind \(kind) prefix \(prefix) buckets \(buckets)")
        }
        #expect(Self.decoded(Array(edit(kind: 1, prefix: 0, buckets: 16).dropLast())) == nil, "truncated")
    }
}

/// `Table.withValue`: the value in place, from the memtable and from a segment (issue 19).
@Suite struct WithValueTests {
    @Test func readsInPlaceFromEveryLayerAndChecksItsKey() throws {
        let engine = try Engine.open(at: "/db", options: RandomizedModelTests.options(CrashSimulatingFileSystem()))
        defer { try? engine.close() }
        for strategy in [PartitioningStrategy.range, .hash(buckets: 4)] {
            let t = try engine.createTable("t-\(strategy.kind)", strategy: strategy)
            try t.put(Array("a".utf8), Array("in the memtable".utf8))
            #expect(try t.withValue(Array("a".utf8)) { $0.map { String(decoding: $0, as: UTF8.self) } } == "in the memtable")
            try engine.flush()
            #expect(try t.withValue(Array("a".utf8)) { $0?.count } == 15, "from a segment")
            try t.put(Array("e".utf8), [])
            #expect(try t.withValue(Array("e".utf8)) { $0?.count } == 0, "an empty value is there, not absent")
            try t.delete(Array("a".utf8))
            #expect(try t.withValue(Array("a".utf8)) { $0 == nil }, "a tombstone hides the flushed value")
            #expect(try t.withValue(Array("zz".utf8)) { $0 == nil })
            #expect(throws: AugurError.emptyKey) { try t.withValue([]) { _ in 0 } }
        }
        let big = [UInt8](repeating: 1, count: EngineOptions().maxKeySize + 1)
        #expect(throws: AugurError.keyTooLarge(size: big.count, limit: EngineOptions().maxKeySize)) {
            try engine.table(named: "t-range").withValue(big) { _ in 0 }
        }
        let dropped = try engine.table(named: "t-hash")
        try engine.dropTable("t-hash")
        #expect(throws: AugurError.tableNotFound("t-hash")) { try dropped.withValue([1]) { _ in 0 } }
    }
}
