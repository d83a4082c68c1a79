import AugurStats
import AugurTestSupport
import Testing
@_spi(Testing) import AugurSys
@_spi(Testing) @testable import Augur

/// `MergedCursor` against a model: one to five sources (memtables and segment runs, newest
/// first) over a small key space, so most keys are in several sources and ties are the rule.
/// Forward from a start key and backward from an end key, the cursor must yield each key
/// once, in order, with the newest source's record (tombstones included), and its `key`,
/// `kind`, `value` and `record` must agree. The cursor keeps each source's current key and
/// refreshes it when that source moves (MergedCursor.swift); a key left stale after a move, or
/// a source not moved past a tie, shows here. Replay one seed with AUGUR_SEED=<n>.
@Suite struct MergedCursorTests {
    static var seeds: [UInt64] {
        if let s = environmentValue("AUGUR_SEED"), let seed = UInt64(s) { return [seed] }
        return [41, 42, 43]
    }

    struct Record: Equatable {
        let kind: RecordKind
        let value: [UInt8]
    }

    /// One source's records (sorted keys) as a memtable or a segment on `fs`.
    static func source(_ records: [[UInt8]: Record], asSegment: Bool, name: String, fs: any FileSystem) throws -> SourceCursor {
        let sorted = records.sorted { compareKeys($0.key, $1.key) < 0 }
        if asSegment {
            let writer = try SegmentWriter(fileSystem: fs, path: "/" + name, indexInterval: 4)
            for (k, r) in sorted { try writer.add(kind: r.kind, key: k, value: r.value) }
            let size = try writer.finish()
            return .segment(Segment.Cursor(try Segment(fileSystem: fs, path: "/" + name, name: name, expectedSize: size)))
        }
        let m = Memtable()
        for (i, (k, r)) in sorted.reversed().enumerated() {   // not in key order: inserts land between nodes
            k.withUnsafeBytes { kb in r.value.withUnsafeBytes { m.apply(key: kb, seq: UInt64(i + 1), kind: r.kind, value: $0) } }
        }
        return .memtable(Memtable.Cursor(m))
    }

    @Test(arguments: seeds)
    func newestRecordOfEachKeyInOrderBothWays(seed: UInt64) throws {
        print("MergedCursorTests seed \(seed) (AUGUR_SEED=\(seed) replays it)")
        var r = RandomData(seed: seed)
        for round in 0..<60 {
            let fs = CrashSimulatingFileSystem()
            let count = r.int(1..<6)
            var contents: [[[UInt8]: Record]] = []
            for s in 0..<count {
                var records: [[UInt8]: Record] = [:]
                // Now and then an empty source (a source that starts exhausted).
                for _ in 0..<(r.chance(0.1) ? 0 : r.int(1..<120)) {
                    let kind: RecordKind = r.chance(0.2) ? .delete : .put
                    // The source's number at the front of each value: whose record came out shows.
                    records[r.key()] = Record(kind: kind, value: kind == .delete ? [] : [UInt8(s)] + r.value())
                }
                contents.append(records)
            }
            // The model: each key's record from the newest (first) source holding it.
            var model: [[UInt8]: Record] = [:]
            for records in contents.reversed() { for (k, v) in records { model[k] = v } }
            let sortedKeys = model.keys.sorted { compareKeys($0, $1) < 0 }
            func cursor(reverse: Bool) throws -> MergedCursor {
                let sources = try contents.enumerated().map { s, records in
                    try Self.source(records, asSegment: r.chance(0.5), name: "r\(round)-\(s)\(reverse ? "b" : "f").seg", fs: fs)
                }
                return MergedCursor(sources: sources, reverse: reverse)
            }
            func drain(_ c: inout MergedCursor) -> [([UInt8], Record)] {
                var out: [([UInt8], Record)] = []
                while c.isValid {
                    let record = c.record
                    #expect(Array(record.key) == Array(c.key) && record.kind == c.kind && Array(record.value) == Array(c.value),
                            "seed \(seed) round \(round): the accessors disagree")
                    out.append((Array(record.key), Record(kind: record.kind, value: Array(record.value))))
                    c.advance()
                }
                return out
            }
            let start: [UInt8]? = r.chance(0.3) ? nil : r.key()
            var forward = try cursor(reverse: false)
            forward.position(start: start, end: nil)
            let wantForward = sortedKeys.filter { k in start.map { compareKeys(k, $0) >= 0 } ?? true }
            let gotForward = drain(&forward)
            #expect(gotForward.map(\.0) == wantForward, "seed \(seed) round \(round): forward keys from \(start.map { "\($0)" } ?? "the first")")
            #expect(gotForward.map(\.1) == wantForward.map { model[$0]! }, "seed \(seed) round \(round): forward records")
            let end: [UInt8]? = r.chance(0.3) ? nil : r.key()
            var backward = try cursor(reverse: true)
            backward.position(start: nil, end: end)
            let wantBackward = sortedKeys.reversed().filter { k in end.map { compareKeys(k, $0) < 0 } ?? true }
            let gotBackward = drain(&backward)
            #expect(gotBackward.map(\.0) == wantBackward, "seed \(seed) round \(round): backward keys before \(end.map { "\($0)" } ?? "the end")")
            #expect(gotBackward.map(\.1) == wantBackward.map { model[$0]! }, "seed \(seed) round \(round): backward records")
            if gotForward.map(\.0) != wantForward || gotBackward.map(\.0) != wantBackward { return }
        }
    }
}
