import Testing
@_spi(Testing) import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport

/// Point lookups in segment runs search the index by an 8-byte key prefix and read a key only
/// where prefixes tie. Keys built to tie — many sharing their first 8 bytes, short keys that
/// zero-pad to the same prefix as longer ones ("ab" and "ab\0") — are read back from whole
/// files and from the views a shared split makes (which start and end inside index groups),
/// against a model; absent keys between them must miss.
@Suite struct SegmentLookupTests {
    static var seeds: [UInt64] {
        if let s = environmentValue("AUGUR_SEED"), let seed = UInt64(s) { return [seed] }
        return [11, 12, 13]
    }

    /// A key from a few 8-byte stems (with 0x00 and 0xFF bytes), cut short or extended.
    static func key(_ r: inout RandomData) -> [UInt8] {
        let stems: [[UInt8]] = [
            [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], [0x61, 0x62, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00],
            [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
            [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x69],
        ]
        var k = stems[r.int(0..<stems.count)]
        if r.chance(0.3) {
            k = Array(k.prefix(r.int(1..<8)))            // a short key: zero-padded in its prefix
        } else {
            for _ in 0..<r.int(0..<4) { k.append([0x00, 0x01, 0x7F, 0xFF][r.int(0..<4)]) }
        }
        return k
    }

    @Test(arguments: seeds)
    func tiedPrefixesAreReadBackThroughFilesAndViews(seed: UInt64) throws {
        let fs = CrashSimulatingFileSystem()
        var o = ReshardTests.options(fs)
        o.segmentIndexInterval = 3
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        var r = RandomData(seed: seed)
        var model: [[UInt8]: [UInt8]] = [:]
        for i in 0..<1500 {
            let k = Self.key(&r)
            let v = Array("v\(i)".utf8)
            try table.put(k, v)
            model[k] = v
        }
        try engine.flush()
        var probes = Array(model.keys)
        for _ in 0..<1500 { probes.append(Self.key(&r)) }   // mostly absent
        func check(_ when: String) throws {
            for k in probes { #expect(try table.get(k) == model[k], "seed \(seed), \(when): key \(k)") }
        }
        try check("one whole file")
        // Split at keys inside index groups: each child views part of the file.
        let sorted = model.keys.sorted { $0.lexicographicallyPrecedes($1) }
        for cut in [sorted[sorted.count / 3 + 1], sorted[2 * sorted.count / 3 + 2]] {
            _ = try table.requestResharding(.split(at: cut)).wait()
        }
        let stats = try table.partitionStats()
        #expect(stats.count == 3 && stats.allSatisfy { $0.segmentFiles.count == 1 }, "\(stats.map(\.segmentFiles))")
        try check("three views of the file")
        try engine.close()
    }

    /// A segment file whose record fails validation at open is refused with a typed corruption
    /// error naming it — the path that frees a half-built file's key prefixes and filter (once:
    /// a throwing initializer of a fully initialized class runs its deinit).
    @Test func damagedRecordInASegmentIsCorruption() throws {
        let fs = CrashSimulatingFileSystem()
        var o = ReshardTests.options(fs)
        o.segmentIndexInterval = 3
        var engine: Engine? = try Engine.open(at: "/db", options: o)
        let table = try engine!.createTable("t")
        for i in 0..<300 { try table.put(Array("key\(1000 + i)".utf8), Array(repeating: UInt8(i & 0xFF), count: 40)) }
        try engine!.flush()
        try engine!.close()
        engine = nil
        let name = try #require(try fs.listDirectory("/db/seg").first)
        let path = "/db/seg/" + name
        let size = try fs.open(path, mode: .readOnly).size()
        try CorruptionRecoveryTests.flip(fs, path, at: size / 2)
        for _ in 0..<3 {
            do {
                let reopened = try Engine.open(at: "/db", options: o)
                try? reopened.close()
                Issue.record("opened a store whose segment \(name) has a damaged record")
            } catch {
                guard case .corruption(let file, _, _) = error else {
                    Issue.record("expected corruption, got \(error)")
                    return
                }
                #expect(file == path)
            }
        }
    }
}
