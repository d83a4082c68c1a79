import AugurStats
import AugurTestSupport
import Testing
@_spi(Testing) import AugurSys
@_spi(Testing) @testable import Augur

/// The segment record encoding (docs/FORMAT.md, "Segment"): version 2 writes the key and value
/// lengths as varints; version-1 files, written by Augur before 2026-12, must still read, each
/// file by its own header's version. The version-1 files here come from `SegmentWriter`'s
/// testing parameter (`EngineOptions.segmentFormatVersion` for whole stores); malformed files
/// are built byte by byte. Replay one seed with AUGUR_SEED=<n>.
@Suite struct SegmentFormatTests {
    static var seeds: [UInt64] {
        if let s = environmentValue("AUGUR_SEED"), let seed = UInt64(s) { return [seed] }
        return [31, 32]
    }

    struct Record: Equatable {
        let kind: RecordKind
        let key: [UInt8]
        let value: [UInt8]
    }

    /// Writes `records` (sorted, unique keys) with `SegmentWriter` in `version` and opens the file.
    static func write(_ records: [Record], version: UInt32, interval: Int = 3, fs: any FileSystem = CrashSimulatingFileSystem(),
                      path: String = "/r.seg") throws -> Segment {
        let writer = try SegmentWriter(fileSystem: fs, path: path, indexInterval: interval, version: version)
        for r in records { try writer.add(kind: r.kind, key: r.key, value: r.value) }
        let size = try writer.finish()
        return try Segment(fileSystem: fs, path: path, name: lastPathComponent(path), expectedSize: size)
    }

    /// Random records whose key and value lengths include every varint width boundary that
    /// fits a test (0, 127, 128, 16383, 16384 value bytes; 1-, 127- and 128-byte keys).
    static func records(seed: UInt64) -> [Record] {
        var r = RandomData(seed: seed)
        let keyLengths = [1, 127, 128, 2, 16, 300]
        let valueLengths = [0, 1, 127, 128, 16383, 16384, 100, 129]
        var byKey: [[UInt8]: Record] = [:]
        for i in 0..<400 {
            let kn = i < 64 ? keyLengths[i % keyLengths.count] : r.int(1..<40)
            let vn = i < 64 ? valueLengths[(i / keyLengths.count) % valueLengths.count] : r.int(0..<300)
            let key = (0..<kn).map { _ in UInt8(r.int(0..<256)) }
            let value = (0..<vn).map { _ in UInt8(r.int(0..<256)) }
            byKey[key] = Record(kind: r.chance(0.2) ? .delete : .put, key: key, value: value)
        }
        return byKey.values.sorted { compareKeys($0.key, $1.key) < 0 }
    }

    @Test("a 16-byte key with a 100-byte value takes 123 bytes in version 2, 129 in version 1")
    func recordSizes() throws {
        #expect(SegmentFormat.recordSize(keyCount: 16, valueCount: 100) == 123)
        #expect(SegmentFormat.recordSize(keyCount: 16, valueCount: 100, version: 1) == 129)
        let seg = try Self.write([Record(kind: .put, key: Array(repeating: 7, count: 16), value: Array(repeating: 9, count: 100))], version: 2)
        #expect(seg.dataLength == 123 && seg.record(at: 0).size == 123)
    }

    @Test("records read back in both versions: cursors both ways, lookups, views", arguments: seeds, [UInt32(1), 2])
    func roundTrip(seed: UInt64, version: UInt32) throws {
        print("SegmentFormatTests.roundTrip seed \(seed) version \(version) (AUGUR_SEED=\(seed) replays it)")
        let records = Self.records(seed: seed)
        let seg = try Self.write(records, version: version)
        #expect(seg.file.version == version && seg.recordCount == records.count)
        let sizes = records.map { SegmentFormat.recordSize(keyCount: $0.key.count, valueCount: $0.value.count, version: version) }
        #expect(seg.dataLength == sizes.reduce(0, +), "seed \(seed)")
        func read(_ r: SegmentRecord) -> Record { Record(kind: r.kind, key: Array(r.key), value: Array(r.value)) }
        var cursor = Segment.Cursor(seg)
        cursor.seekToFirst()
        var forward: [Record] = []
        while cursor.isValid {
            #expect(cursor.current.size == sizes[forward.count], "seed \(seed): record \(forward.count)")
            forward.append(read(cursor.current))
            cursor.next()
        }
        #expect(forward == records, "seed \(seed): forward scan")
        cursor.seekToLast()
        var backward: [Record] = []
        while cursor.isValid { backward.append(read(cursor.current)); cursor.prev() }
        #expect(backward == records.reversed(), "seed \(seed): backward scan")
        for r in records {
            let found = r.key.withUnsafeBytes { k in seg.lookup(k, hash: KeyHash.hash(k)).map(read) }
            #expect(found == r, "seed \(seed): lookup of a \(r.key.count)-byte key")
            var absent = r.key
            absent.append(0)
            if !records.contains(where: { $0.key == absent }) {
                #expect(absent.withUnsafeBytes { seg.lookup($0) } == nil, "seed \(seed): absent key found")
            }
        }
        // A view from inside the data to inside it (index groups cut at both ends).
        let lo = records[records.count / 3 + 1].key, hi = records[2 * records.count / 3 + 2].key
        let view = try #require(seg.file.view(lowerBound: lo, upperBound: hi))
        let inside = records.filter { compareKeys($0.key, lo) >= 0 && compareKeys($0.key, hi) < 0 }
        #expect(view.recordCount == inside.count && view.keySpan?.low == inside.first?.key && view.keySpan?.high == inside.last?.key)
        var c = Segment.Cursor(view)
        c.seekToFirst()
        var seen: [Record] = []
        while c.isValid { seen.append(read(c.current)); c.next() }
        #expect(seen == inside, "seed \(seed): view")
    }

    /// `SegmentWriter` lays records out in a buffer of 1 MiB and 4 KiB, writes it when it holds
    /// 1 MiB, and grows it for a record larger than it: many records across the writes, and
    /// values of 1 MiB give or take the buffer's slack and of several MiB between small ones,
    /// must read back in order with the file's every byte accounted for. With an index entry per
    /// record the index and footer (24 KiB) are larger than the buffer's slack, so `finish` must
    /// make room for them too.
    @Test("records across the writer's buffer writes and larger than its buffer read back", arguments: seeds, [UInt32(1), 2])
    func recordsAcrossAndBeyondTheWritersBuffer(seed: UInt64, version: UInt32) throws {
        print("SegmentFormatTests.recordsAcrossAndBeyondTheWritersBuffer seed \(seed) version \(version) (AUGUR_SEED=\(seed) replays it)")
        var r = RandomData(seed: seed)
        let large = [(1 << 20) - 40, (1 << 20) + 4096, (1 << 20) + 4_000, 5 << 20, 1, (1 << 20) + 8192]
        var records: [Record] = []
        for i in 0..<3_000 {
            let size = i % 500 == 250 ? large[(i / 500) % large.count] : r.int(0..<2_000)
            let value = (0..<size).map { _ in UInt8(r.int(0..<256)) }
            var key = withUnsafeBytes(of: UInt32(i).bigEndian) { Array($0) }
            key += (0..<r.int(0..<20)).map { _ in UInt8(r.int(0..<256)) }
            records.append(Record(kind: r.chance(0.1) ? .delete : .put, key: key, value: value))
        }
        let seg = try Self.write(records, version: version, interval: 1)
        let sizes = records.map { SegmentFormat.recordSize(keyCount: $0.key.count, valueCount: $0.value.count, version: version) }
        #expect(seg.dataLength == sizes.reduce(0, +), "seed \(seed)")
        var cursor = Segment.Cursor(seg)
        cursor.seekToFirst()
        var i = 0
        var wrong = 0
        while cursor.isValid {
            let c = cursor.current
            if i >= records.count || Record(kind: c.kind, key: Array(c.key), value: Array(c.value)) != records[i] { wrong += 1 }
            i += 1
            cursor.next()
        }
        #expect(i == records.count && wrong == 0, "seed \(seed): \(i) records read, \(wrong) differ")
        // An index larger than the whole buffer: 140,000 small records, an entry each.
        let many: [Record] = (0..<140_000).map { (i: Int) -> Record in
            let key: [UInt8] = withUnsafeBytes(of: UInt32(i).bigEndian) { Array($0) }
            let value: [UInt8] = i % 7 == 0 ? [UInt8(i & 0xFF)] : []
            return Record(kind: .put, key: key, value: value)
        }
        let dense = try Self.write(many, version: version, interval: 1, path: "/dense.seg")
        #expect(dense.recordCount == many.count && dense.file.indexCount == many.count, "seed \(seed): a dense index")
        let probe = many[many.count - 3]
        let found = probe.key.withUnsafeBytes { dense.lookup($0) }.map { Record(kind: $0.kind, key: Array($0.key), value: Array($0.value)) }
        #expect(found == probe, "seed \(seed): a key near the end of a dense index")
    }

    /// A small version-2 file with one- and two-byte lengths.
    static func smallRecords() -> [Record] {
        [Record(kind: .put, key: [0x01], value: []),
         Record(kind: .put, key: Array("alpha".utf8), value: Array(repeating: 0x41, count: 130)),
         Record(kind: .delete, key: Array("beta".utf8), value: []),
         Record(kind: .put, key: Array("gamma".utf8), value: Array("g".utf8)),
         Record(kind: .put, key: Array(repeating: 0x70, count: 128), value: Array("long key".utf8)),
         Record(kind: .put, key: Array("zeta".utf8), value: Array(repeating: 0x00, count: 20))]
    }

    @Test("every single-byte change in a version-2 file's records is refused at open as corruption")
    func everyFlipInTheRecordsIsDetected() throws {
        let fs = CrashSimulatingFileSystem()
        let good = try Self.write(Self.smallRecords(), version: 2, interval: 2, fs: fs, path: "/good.seg")
        let bytes = try fs.open("/good.seg", mode: .readOnly).read(at: 0, count: good.fileSize)
        var undetected: [String] = []
        for at in SegmentFormat.headerSize..<(SegmentFormat.headerSize + good.dataLength) {
            // 0x03 turns a put (1) into a delete (2): only the CRC tells.
            for pattern: UInt8 in [0x01, 0x03, 0x80, 0xFF] {
                var damaged = bytes
                damaged[at] ^= pattern
                let reason = Self.reason(damaged)
                if reason == nil || reason!.hasPrefix("not corruption") { undetected.append("byte \(at) ^ \(pattern): \(reason ?? "opened")") }
            }
        }
        #expect(undetected.isEmpty, "a changed record not refused as corruption: \(undetected.prefix(20))")
    }

    /// A file of `version` whose data region is `bodies` (each a record without its CRC: kind,
    /// lengths, key, value), each record with a right CRC, indexed every record.
    static func handMade(_ bodies: [[UInt8]], version: UInt32 = 2) -> [UInt8] {
        var data: [UInt8] = []
        var index: [UInt64] = []
        for b in bodies {
            index.append(UInt64(data.count))
            var w = ByteWriter()
            w.u32(CRC32C.mask(CRC32C.checksum(b)))
            data += w.bytes + b
        }
        return SegmentFormat.header(version: version) + data
            + SegmentFormat.indexAndFooter(index: index, dataLength: data.count, recordCount: bodies.count, interval: 1, name: "m.seg")
    }

    static func open(_ bytes: [UInt8]) throws(AugurError) -> Segment {
        let fs = CrashSimulatingFileSystem()
        do {
            let h = try fs.open("/m.seg", mode: .createNew)
            try h.write(at: 0, bytes)
            h.close()
        } catch { Issue.record("\(error)") }
        return try Segment(fileSystem: fs, path: "/m.seg", name: "m.seg", expectedSize: bytes.count)
    }

    static func reason(_ bytes: [UInt8]) -> String? {
        do {
            _ = try open(bytes)
            return nil
        } catch {
            guard case .corruption(let file, _, let reason) = error, file == "/m.seg" else { return "not corruption: \(error)" }
            return reason
        }
    }

    @Test("malformed version-2 records with right checksums: overlong and oversized varints, truncation, empty key, unknown kind, unknown version")
    func malformedRecords() throws {
        // Well formed: kind 1, key length 1, value length 0, key "a"; and key length 1 written
        // in two bytes (not the shortest form, but at most 5 bytes: accepted).
        let a: [UInt8] = [1, 1, 0, 0x61]
        #expect(Self.reason(Self.handMade([a])) == nil)
        let long = try Self.open(Self.handMade([[1, 0x81, 0x00, 0x80, 0x01, 0x62] + Array(repeating: 0x76, count: 128)]))
        #expect(Array(long.record(at: 0).key) == [0x62] && long.record(at: 0).value.count == 128 && long.record(at: 0).size == 138)
        // A key length of six bytes, and one whose fifth byte overflows 32 bits.
        #expect(Self.reason(Self.handMade([a, [1, 0x81, 0x80, 0x80, 0x80, 0x80, 0x00, 0, 0x62]])) == "key length varint longer than 5 bytes")
        #expect(Self.reason(Self.handMade([a, [1, 0x81, 0x80, 0x80, 0x80, 0x1F, 0, 0x62]])) == "key length varint above UInt32.max")
        #expect(Self.reason(Self.handMade([a, [1, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x62]])) == "value length varint longer than 5 bytes")
        // The largest 5-byte value is a length, just past the data region.
        #expect(Self.reason(Self.handMade([a, [1, 1, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x62]])) == "record length out of bounds")
        // The data region ends inside the value length.
        #expect(Self.reason(Self.handMade([a, [1, 1, 0x80]])) == "truncated record header: the value length varint runs past the data region")
        #expect(Self.reason(Self.handMade([a, [1, 1]])) == "truncated record header")
        #expect(Self.reason(Self.handMade([[1, 0, 0]])) == "empty key")
        #expect(Self.reason(Self.handMade([[3, 1, 0, 0x61]])) == "unknown record kind")
        #expect(Self.reason(Self.handMade([a], version: 3)) == "unsupported segment version 3")
        // The same bytes read as version 1 are a record whose lengths run past the data region.
        #expect(Self.reason(Self.handMade([a + Array(repeating: 0, count: 9)], version: 1)) == "record length out of bounds")
    }

    static func versions(_ fs: any FileSystem, _ table: Table) throws -> [[UInt32]] {
        try table.partitionStats().map { p in
            try p.segmentFiles.map { name in
                let b = try fs.open("/db/seg/" + name, mode: .readOnly).read(at: 8, count: 4)
                return UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
            }
        }
    }

    /// A store an older Augur wrote (version-1 runs) goes on in version 2; a copying merge whose
    /// newest level joins a version-1 run of one source and a version-2 run of the other
    /// (runs are newest first) writes that target level in version 2 and copies the level of
    /// version-1 runs alone as version 1; everything reads back, and after a reopen.
    @Test("a copying reshard of runs of both versions", arguments: seeds)
    func copyReshardOfMixedVersions(seed: UInt64) throws {
        print("SegmentFormatTests.copyReshardOfMixedVersions seed \(seed) (AUGUR_SEED=\(seed) replays it)")
        var r = RandomData(seed: seed)
        let fs = CrashSimulatingFileSystem()
        var o = ReshardTests.options(fs, reshardData: .copy)
        o.segmentFormatVersion = 1
        var model: [[UInt8]: [UInt8]] = [:]
        func value() -> [UInt8] { (0..<r.int(0..<300)).map { _ in UInt8(r.int(0..<256)) } }
        do {
            let engine = try Engine.open(at: "/db", options: o)
            let table = try engine.createTable("t")
            for i in 0..<2000 { let v = value(); try table.put(ReshardTests.key(i), v); model[ReshardTests.key(i)] = v }
            try engine.flush()
            _ = try table.requestResharding(.split(at: ReshardTests.key(1000))).wait()
            #expect(try Self.versions(fs, table) == [[1], [1]])
            try engine.close()
        }
        o.segmentFormatVersion = 2
        var engine = try Engine.open(at: "/db", options: o)
        var table = try engine.table(named: "t")
        for i in stride(from: 1000, to: 2500, by: 3) { let v = value(); try table.put(ReshardTests.key(i), v); model[ReshardTests.key(i)] = v }
        for i in stride(from: 1001, to: 2000, by: 7) { try table.delete(ReshardTests.key(i)); model[ReshardTests.key(i)] = nil }
        try engine.flush()
        #expect(try Self.versions(fs, table) == [[1], [2, 1]])
        let merge = try table.requestResharding(.merge(boundary: ReshardTests.key(1000))).wait()
        #expect(merge.state == .committed)
        #expect(try Self.versions(fs, table) == [[2, 1]], "the mixed level is rewritten in version 2, the other copied")
        func check(_ when: String) throws {
            let rows = try table.scan()
            #expect(rows.count == model.count && rows.allSatisfy { model[$0.key] == $0.value }, "seed \(seed), \(when): scan")
            for i in 0..<2600 { #expect(try table.get(ReshardTests.key(i)) == model[ReshardTests.key(i)], "seed \(seed), \(when): key \(i)") }
        }
        try check("after the merge")
        try engine.close()
        engine = try Engine.open(at: "/db", options: o)
        table = try engine.table(named: "t")
        try check("after a reopen")
        try engine.close()
    }
}
