import AugurStats
@_spi(Testing) import AugurSys
import AugurTestSupport
import Testing
@testable import Augur

/// The WAL's operation encoding (docs/FORMAT.md, "WAL segment"): version 2 writes varint
/// lengths; version-1 segments, written by Augur before 2026-12, must still replay. The
/// version-1 frames here are made by this file's own encoder, written from FORMAT.md, not by
/// the engine (which writes only the current version). Replay one seed with AUGUR_SEED=<n>.
@Suite struct WALFormatTests {
    static var seeds: [UInt64] {
        if let s = environmentValue("AUGUR_SEED"), let seed = UInt64(s) { return [seed] }
        return [3, 4, 0x3A1_2026]
    }

    /// Lengths on both sides of every varint width (1-5 bytes), and small ones.
    static let boundaries: [UInt32] = [0, 1, 2, 127, 128, 129, 16_383, 16_384, 2_097_151, 2_097_152,
                                       268_435_455, 268_435_456, UInt32.max - 1, UInt32.max]

    @Test("operations of every length round-trip through the writer and the decoder", arguments: seeds)
    func operationsRoundTrip(seed: UInt64) throws {
        print("WALFormatTests seed \(seed) (AUGUR_SEED=\(seed) replays it)")
        var rng = SplitMix64(seed: seed)
        for _ in 0..<200 {
            // A frame of 1-8 operations; lengths stay small enough to hold in memory, table ids
            // take every width.
            var ops: [(kind: RecordKind, table: UInt32, key: [UInt8], value: [UInt8])] = []
            for _ in 0..<(1 + Int(rng.next() % 8)) {
                let smallBoundaries = Self.boundaries.filter { $0 <= 16_384 }
                let klen = max(1, Int(rng.next() % 3 == 0 ? smallBoundaries.randomElement(using: &rng)! : UInt32(rng.next() % 300)))
                let vlen = Int(rng.next() % 3 == 0 ? smallBoundaries.randomElement(using: &rng)! : UInt32(rng.next() % 300))
                let table = rng.next() % 2 == 0 ? Self.boundaries.randomElement(using: &rng)! : UInt32(rng.next() % 200)
                ops.append((rng.next() % 4 == 0 ? .delete : .put, table,
                            (0..<klen).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                            (0..<vlen).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
            }
            let size = ops.reduce(0) { $0 + WALFormat.opSize(tableID: $1.table, keyCount: $1.key.count, valueCount: $1.value.count) }
            var buffer = [UInt8](repeating: 0xEE, count: size + 16)
            try buffer.withUnsafeMutableBytes { out in
                var w = WALPayloadWriter(base: out.baseAddress!)
                for op in ops { op.key.withUnsafeBytes { k in op.value.withUnsafeBytes { v in w.add(kind: op.kind, tableID: op.table, key: k, value: v) } } }
                #expect(w.offset == size, "opSize disagrees with the bytes written (seed \(seed))")
                var at = 0
                for (i, op) in ops.enumerated() {
                    guard case .operation(let h, _) = WALReplay.operation(UnsafeRawPointer(out.baseAddress!), at: at, end: size, version: 2) else {
                        Issue.record("operation \(i) did not decode (seed \(seed))")
                        return
                    }
                    #expect(h.kind == op.kind.rawValue && h.tableID == op.table && h.keyCount == op.key.count && h.valueCount == op.value.count)
                    #expect(h.size == 1 + Varint.size(op.table) + Varint.size(UInt32(op.key.count)) + Varint.size(UInt32(op.value.count)))
                    let key = Array(UnsafeRawBufferPointer(rebasing: out[(at + h.size)..<(at + h.size + h.keyCount)]))
                    let value = Array(UnsafeRawBufferPointer(rebasing: out[(at + h.size + h.keyCount)..<(at + h.size + h.keyCount + h.valueCount)]))
                    #expect(key == op.key && value == op.value, "operation \(i)'s bytes differ (seed \(seed))")
                    at += h.size + h.keyCount + h.valueCount
                }
                #expect(at == size)
                try #require(out[size] == 0xEE, "the writer wrote past its operations")
            }
        }
    }

    @Test("a varint takes the bytes Varint.size says, at every width boundary")
    func varintWidths() {
        for v in Self.boundaries {
            var buffer = [UInt8](repeating: 0, count: 8)
            let written = buffer.withUnsafeMutableBytes { out in
                var w = WALPayloadWriter(base: out.baseAddress!)
                w.add(kind: .put, tableID: v, key: UnsafeRawBufferPointer(start: nil, count: 0), value: UnsafeRawBufferPointer(start: nil, count: 0))
                return w.offset
            }
            #expect(written == 3 + Varint.size(v), "\(v)")
            let expected = v < 1 << 7 ? 1 : v < 1 << 14 ? 2 : v < 1 << 21 ? 3 : v < 1 << 28 ? 4 : 5
            #expect(Varint.size(v) == expected, "\(v)")
            var p = 1
            let decoded = buffer.withUnsafeBytes { Varint.read($0.baseAddress!, &p, 8) }
            #expect(decoded == v && p == 1 + expected, "\(v)")
        }
    }

    @Test("an operation header that overflows 32 bits, runs past 5 bytes or past the frame does not decode")
    func malformedHeaders() {
        func decode(_ bytes: [UInt8], end: Int? = nil) -> WALReplay.DecodedOperation {
            bytes.withUnsafeBytes { WALReplay.operation($0.baseAddress!, at: 0, end: end ?? bytes.count, version: 2) }
        }
        func isMalformed(_ d: WALReplay.DecodedOperation) -> Bool { if case .malformed = d { true } else { false } }
        func isPast(_ d: WALReplay.DecodedOperation) -> Bool { if case .headerPastFrame = d { true } else { false } }
        // kind, table 1, key length 1, value length 0, key "a": well formed.
        if case .operation(let h, _) = decode([1, 1, 1, 0, 0x61]) { #expect(h.size == 4) } else { Issue.record("a valid operation did not decode") }
        #expect(isMalformed(decode([1, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 1, 0, 0x61])))   // table id ≥ 2^32
        #expect(isMalformed(decode([1, 0x80, 0x80, 0x80, 0x80, 0x80, 0, 1, 0, 0x61])))   // a 6-byte varint
        #expect(isMalformed(decode([1, 1, 0x85, 0x85])))                              // key length cut off by the frame
        #expect(isPast(decode([1, 1, 1])))                                            // shorter than any header
        #expect(isMalformed(decode([3, 1, 1, 0, 0x61])))                              // unknown kind
        #expect(isMalformed(decode([1, 1, 0, 0, 0x61])))                              // empty key
        #expect(isMalformed(decode([1, 1, 2, 0, 0x61])))                              // key past the frame
        #expect(isMalformed(decode([1, 1, 1, 1, 0x61])))                              // value past the frame
        // Version 1's fixed 13-byte header.
        let v1: [UInt8] = [1, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0x61, 0x62, 0x63]
        v1.withUnsafeBytes { b in
            if case .operation(let h, _) = WALReplay.operation(b.baseAddress!, at: 0, end: 16, version: 1) {
                #expect(h.tableID == 7 && h.keyCount == 1 && h.valueCount == 2 && h.size == 13)
            } else {
                Issue.record("a valid version-1 operation did not decode")
            }
            #expect(isPast(WALReplay.operation(b.baseAddress!, at: 0, end: 12, version: 1)))
        }
    }

    // MARK: stores whose log an older Augur wrote

    func options(_ fs: any FileSystem) -> EngineOptions {
        var o = EngineOptions()
        o.fileSystem = fs
        o.durability = .sync
        o.walSegmentSize = 1 << 20
        return o
    }

    /// Writes random puts, deletes and batches over two tables (keys and values on both sides
    /// of the one- and two-byte varint limits) into a store that is closed without a flush, so
    /// every write lives only in the WAL.
    func writeStore(_ fs: CrashSimulatingFileSystem, seed: UInt64, model: inout ModelStore) throws {
        var rng = SplitMix64(seed: seed)
        let engine = try Engine.open(at: "/db", options: options(fs))
        let tables = [try engine.createTable("a"), try engine.createTable("b")]
        func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        for _ in 0..<400 {
            let t = Int(rng.next() % 2)
            let klen = [1, 5, 16, 127, 128, 200][Int(rng.next() % 6)]
            let key = bytes(klen)
            switch rng.next() % 10 {
            case 0:
                try tables[t].delete(key)
                model.delete(tables[t].name, key)
            case 1:
                var batch = WriteBatch()
                let other = bytes(3), otherValue = bytes(130)
                batch.put(key, [9], in: tables[t])
                batch.put(other, otherValue, in: tables[1 - t])
                try engine.write(batch)
                model.put(tables[t].name, key, [9])
                model.put(tables[1 - t].name, other, otherValue)
            default:
                let value = bytes([0, 1, 100, 127, 128, 16_383, 16_384, 20_000][Int(rng.next() % 8)])
                try tables[t].put(key, value)
                model.put(tables[t].name, key, value)
            }
        }
        try engine.close()
    }

    /// The versions named by the headers of the store's WAL segments, oldest first.
    func segmentVersions(_ fs: any FileSystem) throws -> [UInt32] {
        try fs.listDirectory("/db/wal").sorted().map { name in
            let h = try fs.open("/db/wal/" + name, mode: .readOnly)
            defer { h.close() }
            return UInt32(le: try h.read(at: 28, count: 4))
        }
    }

    @Test("a log an older Augur wrote (version 1) replays, and the log grows in version 2 after it", arguments: seeds)
    func version1LogReplays(seed: UInt64) throws {
        print("WALFormatTests seed \(seed) (AUGUR_SEED=\(seed) replays it)")
        let fs = CrashSimulatingFileSystem()
        var model = ModelStore()
        try writeStore(fs, seed: seed, model: &model)
        #expect(try segmentVersions(fs).allSatisfy { $0 == 2 })
        var rewritten = 0
        for name in try fs.listDirectory("/db/wal").sorted() { rewritten += try Version1Transcoder.rewrite(fs, "/db/wal/" + name) }
        #expect(rewritten == 400, "frames rewritten in version 1 (one per write): \(rewritten)")
        #expect(try segmentVersions(fs).allSatisfy { $0 == 1 })

        var engine = try Engine.open(at: "/db", options: options(fs))
        #expect(engine.recoveryReport.walRecordsApplied > 400)
        #expect(difference(model, try dumpStore(engine)) == nil, "seed \(seed)")
        // New writes go to a version-2 segment after the version-1 ones; both replay.
        try engine.table(named: "a").put([1, 2, 3], [4, 5, 6])
        model.put("a", [1, 2, 3], [4, 5, 6])
        try engine.close()
        let versions = try segmentVersions(fs)
        #expect(versions.last == 2 && versions.dropLast().allSatisfy { $0 == 1 }, "\(versions)")
        engine = try Engine.open(at: "/db", options: options(fs))
        #expect(difference(model, try dumpStore(engine)) == nil, "seed \(seed)")
        try engine.close()
    }

    /// A store written by `writeStore` and the path of its oldest WAL segment.
    func storeAndFirstSegment(seed: UInt64) throws -> (CrashSimulatingFileSystem, String) {
        let fs = CrashSimulatingFileSystem()
        var model = ModelStore()
        try writeStore(fs, seed: seed, model: &model)
        return (fs, "/db/wal/" + (try #require(try fs.listDirectory("/db/wal").sorted().first)))
    }

    @Test("a segment whose header names a version this Augur does not read is refused, naming it")
    func unknownVersionRefused() throws {
        let (fs, path) = try storeAndFirstSegment(seed: 5)
        try Version1Transcoder.patchHeader(fs, path, version: 3)
        #expect(throws: AugurError.corruption(file: path, offset: 0,
                                              reason: "the WAL segment's format version is 3; this Augur reads versions 1...2")) {
            _ = try Engine.open(at: "/db", options: options(fs))
        }
    }

    @Test("an intact frame (checksum right) whose operation does not parse is corruption, not a torn tail")
    func malformedOperationInIntactFrame() throws {
        let (fs, path) = try storeAndFirstSegment(seed: 6)
        // The first frame's key-length varint made 6 bytes long, then its checksum recomputed.
        let h = try fs.open(path, mode: .readWrite)
        let len = Int(UInt32(le: try h.read(at: 56 + 4, count: 4)))
        var frame = try h.read(at: 56, count: 24 + len)
        frame.replaceSubrange(26..<27, with: [0x80, 0x80, 0x80, 0x80, 0x80, 0x00])
        frame = Array(frame[0..<(24 + len)])  // the same frame length: the last 5 bytes go
        frame.replaceSubrange(0..<4, with: Version1Transcoder.maskedCRC(frame[8...]).le)
        try h.write(at: 56, frame)
        try h.sync()
        h.close()
        #expect(throws: AugurError.corruption(file: path, offset: 56, reason: "malformed operation 0; " + WALRecoveryMode.pointInTimeAdvice)) {
            _ = try Engine.open(at: "/db", options: options(fs))
        }
    }
}

/// Rewrites a WAL segment in version 1, from docs/FORMAT.md alone: the header's version, and
/// every frame's operations with fixed 13-byte headers (kind, u32 table id, u32 key length,
/// u32 value length). Frames move (they grow), so each is checksummed again, its durable
/// prefix is set to 0 (no claim), and a seal is written again at its new offset.
enum Version1Transcoder {
    static func maskedCRC<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        CRC32C.mask(Array(bytes).withUnsafeBytes { CRC32C.checksum($0) })
    }

    static func varint(_ b: [UInt8], _ at: inout Int) -> UInt32 {
        var v: UInt32 = 0, shift: UInt32 = 0
        while true {
            let byte = b[at]
            at += 1
            v |= UInt32(byte & 0x7F) << shift
            if byte < 0x80 { return v }
            shift += 7
        }
    }

    static func frame(seq: UInt64, count: UInt32, payload: [UInt8]) -> [UInt8] {
        var body = seq.le + count.le + UInt32(0).le + payload
        body = maskedCRC(body).le + UInt32(payload.count).le + body
        while body.count % 8 != 0 { body.append(0) }
        return body
    }

    static func patchHeader(_ fs: any FileSystem, _ path: String, version: UInt32, size: Int? = nil) throws {
        let h = try fs.open(path, mode: .readWrite)
        defer { h.close() }
        var header = try h.read(at: 0, count: 56)
        header.replaceSubrange(28..<32, with: version.le)
        if let size { header.replaceSubrange(40..<48, with: UInt64(size).le) }
        header.replaceSubrange(0..<4, with: maskedCRC(header[8..<56]).le)
        try h.write(at: 0, header)
        try h.sync()
    }

    /// Returns the number of batch frames rewritten.
    static func rewrite(_ fs: any FileSystem, _ path: String) throws -> Int {
        let h = try fs.open(path, mode: .readWrite)
        defer { h.close() }
        let size = try h.size()
        let old = try h.read(at: 0, count: size)
        var out = [UInt8]()
        var at = 56, frames = 0
        while at + 24 <= size {
            let len = Int(UInt32(le: Array(old[(at + 4)..<(at + 8)])))
            if len == 0 { break }
            let seq = UInt64(le: Array(old[(at + 8)..<(at + 16)]))
            let count = UInt32(le: Array(old[(at + 16)..<(at + 20)]))
            let payload = Array(old[(at + 24)..<(at + 24 + len)])
            if count == 0 {
                // The seal: kind 2, reason, its own (new) offset.
                let reason = UInt32(le: Array(payload[4..<8]))
                out += frame(seq: 0, count: 0, payload: UInt32(2).le + reason.le + UInt64(56 + out.count).le)
                break
            }
            var p = 0, v1 = [UInt8]()
            for _ in 0..<count {
                let kind = payload[p]
                p += 1
                let table = varint(payload, &p), k = Int(varint(payload, &p)), v = Int(varint(payload, &p))
                v1 += [kind] + table.le + UInt32(k).le + UInt32(v).le + payload[p..<(p + k + v)]
                p += k + v
            }
            out += frame(seq: seq, count: count, payload: v1)
            frames += 1
            at += (24 + len + 7) & ~7
        }
        // The frames grew: a segment that was nearly full gets a larger file (the header names
        // the size, as for a store reopened with another `walSegmentSize`).
        let newSize = max(size, (56 + out.count + 40 + 4095) / 4096 * 4096)
        if newSize > size { try h.truncate(size: newSize) }
        try h.write(at: 56, out + [UInt8](repeating: 0, count: newSize - 56 - out.count))
        try h.sync()
        try patchHeader(fs, path, version: 1, size: newSize)
        return frames
    }
}

extension FixedWidthInteger {
    var le: [UInt8] { withUnsafeBytes(of: self.littleEndian) { Array($0) } }
    init(le bytes: [UInt8]) {
        var v = Self.zero
        for (i, b) in bytes.prefix(MemoryLayout<Self>.size).enumerated() { v |= Self(b) << (8 * i) }
        self = v
    }
}
