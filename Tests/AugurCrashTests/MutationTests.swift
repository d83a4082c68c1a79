// The corruption campaign's tools do what they say: each mutation changes exactly what it
// names, the anatomy finds the regions docs/FORMAT.md describes, and the plan is a function of
// the seed that covers every combination.
@_spi(Testing) import AugurCrashHarness
import AugurSys
import Testing
import AugurStats

@Suite struct MutationTests {
    static func bytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    static func bitsDiffering(_ a: [UInt8], _ b: [UInt8]) -> Int {
        zip(a, b).map { ($0 ^ $1).nonzeroBitCount }.reduce(0, +)
    }

    @Test func flipChangesExactlyOneBit() {
        let seed = UInt64.random(in: 1...UInt64(Int64.max))
        print("flipChangesExactlyOneBit seed \(seed)")
        var rng = SplitMix64(seed: seed)
        for round in 0..<200 {
            let original = Self.bytes(1 + Int(rng.next() % 300), seed: rng.next())
            let offset = Int(rng.next() % UInt64(original.count)), bit = Int(rng.next() % 8)
            let out = Mutation.flipBit(offset: offset, bit: bit).applied(to: original)!
            #expect(out.count == original.count, "seed \(seed) round \(round)")
            #expect(Self.bitsDiffering(original, out) == 1, "seed \(seed) round \(round)")
            #expect(out[offset] ^ original[offset] == UInt8(1) << UInt8(bit), "seed \(seed) round \(round)")
        }
    }

    @Test func zeroRangeZeroesExactlyTheRangeClippedAtTheEnd() {
        let original = [UInt8](repeating: 0xAB, count: 100)
        let out = Mutation.zeroRange(offset: 10, count: 5).applied(to: original)!
        #expect(out.count == 100)
        #expect(out[10..<15].allSatisfy { $0 == 0 })
        #expect(out[..<10].allSatisfy { $0 == 0xAB } && out[15...].allSatisfy { $0 == 0xAB })
        let clipped = Mutation.zeroRange(offset: 95, count: 50).applied(to: original)!
        #expect(clipped.count == 100 && clipped[95...].allSatisfy { $0 == 0 } && clipped[..<95].allSatisfy { $0 == 0xAB })
    }

    @Test func truncateShortensAndExtendGrows() {
        let original = Self.bytes(64, seed: 3)
        #expect(Mutation.truncate(size: 10).applied(to: original)! == Array(original[..<10]))
        #expect(Mutation.truncate(size: 0).applied(to: original)! == [])
        #expect(Mutation.truncate(size: 64).applied(to: original)! == original)
        let zeros = Mutation.extendZeros(count: 7).applied(to: original)!
        #expect(zeros.count == 71 && Array(zeros[..<64]) == original && zeros[64...].allSatisfy { $0 == 0 })
        let noise = Mutation.extendGarbage(count: 13, seed: 9).applied(to: original)!
        #expect(noise.count == 77 && Array(noise[..<64]) == original)
        #expect(noise == Mutation.extendGarbage(count: 13, seed: 9).applied(to: original)!, "noise is seeded")
        #expect(noise[64...].contains { $0 != 0 })
        #expect(Mutation.delete.applied(to: original) == nil && Mutation.swap(other: "x").applied(to: original) == nil)
    }

    @Test func directoryMutationsDeleteSwapAndRewriteInPlace() throws {
        let dir = ScratchDirectory("augur-mutation")
        let fs = PosixFileSystem()
        func write(_ name: String, _ bytes: [UInt8]) throws {
            let h = try fs.open(joinPath(dir.path, name), mode: .create)
            defer { h.close() }
            try h.write(at: 0, bytes)
        }
        try write("a", [1, 2, 3])
        try write("b", [4, 5])
        try Mutation.swap(other: "b").apply(to: "a", in: dir.path)
        #expect(try fs.readFile(joinPath(dir.path, "a")) == [4, 5])
        #expect(try fs.readFile(joinPath(dir.path, "b")) == [1, 2, 3])
        try Mutation.truncate(size: 1).apply(to: "b", in: dir.path)
        #expect(try fs.readFile(joinPath(dir.path, "b")) == [1])
        try Mutation.delete.apply(to: "a", in: dir.path)
        #expect(!fs.fileExists(joinPath(dir.path, "a")))
        #expect(throws: HarnessError.self) { try Mutation.delete.apply(to: "a", in: dir.path) }
    }

    static func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    /// Two WAL frames (payloads of 5 and 8 bytes) then zeros: the header, length, payload and
    /// tail ranges are where FORMAT.md puts them.
    @Test func walAnatomyFollowsTheFormat() {
        var wal: [UInt8] = []
        for len in [5, 8] {
            wal += Self.le32(0x1234) + Self.le32(len) + [UInt8](repeating: 1, count: 16) + [UInt8](repeating: 7, count: len)
            while wal.count % 8 != 0 { wal.append(0) }
        }
        let dataEnd = wal.count
        wal += [UInt8](repeating: 0, count: 64)
        let a = FileAnatomy(kind: .wal, bytes: wal)
        #expect(a.ranges[.length] == [4..<8, 36..<40])
        #expect(a.ranges[.payload] == [24..<29, 56..<64])
        #expect(a.ranges[.header] == [0..<4, 8..<24, 32..<36, 40..<56])
        #expect(a.ranges[.tail] == [dataEnd..<wal.count])
        #expect(a.recordCount == 2)
    }

    /// A segment file cut short by a killed flush ends in record bytes, which read as footer
    /// offsets and lengths near 2⁶³: the anatomy keeps the header and footer and does not trap
    /// (it trapped on `dataOffset + dataLength` overflowing, killing the whole test run).
    @Test func aSegmentWhoseFooterIsRecordBytesIsParsedWithoutATrap() {
        for fill: UInt8 in [0x7F, 0x41, 0xFF] {
            var bytes = [UInt8](repeating: fill, count: 200)
            bytes.replaceSubrange(0..<8, with: Array("AUGURSEG".utf8))
            let a = FileAnatomy(kind: .segment, bytes: bytes)
            #expect(a.ranges[.header] == [0..<32], "fill \(fill)")
            #expect(a.ranges[.footer] == [136..<200], "fill \(fill)")
            #expect(a.ranges[.index] == nil && a.recordCount == 0, "fill \(fill)")
        }
    }

    @Test func manifestAnatomyFollowsTheFormat() {
        var m: [UInt8] = []
        for len in [3, 10] { m += Self.le32(0xBEEF) + Self.le32(len) + [UInt8](repeating: 9, count: len) }
        let a = FileAnatomy(kind: .manifest, bytes: m)
        #expect(a.ranges[.checksum] == [0..<4, 11..<15])
        #expect(a.ranges[.length] == [4..<8, 15..<19])
        #expect(a.ranges[.payload] == [8..<11, 19..<29])
    }

    @Test func fileKinds() {
        #expect(StoreFileKind.of("CURRENT") == .current)
        #expect(StoreFileKind.of("MANIFEST-000004") == .manifest)
        #expect(StoreFileKind.of("wal/000000000003.wal") == .wal)
        #expect(StoreFileKind.of("seg/3-17.seg") == .segment)
        #expect(StoreFileKind.of("TELEMETRY.json") == .advisory)
        #expect(StoreFileKind.of("LOCK") == nil && StoreFileKind.of("CURRENT.tmp") == nil)
    }

    /// The plan is a function of the seed, and its first `combinationCount` cases hit every
    /// (base, kind, region, mutation) combination once.
    @Test func planIsSeededAndCoversEveryCombination() {
        var wal: [UInt8] = Self.le32(1) + Self.le32(4) + [UInt8](repeating: 1, count: 16) + [2, 2, 2, 2]
        wal += [UInt8](repeating: 0, count: 100)
        let manifest = Self.le32(1) + Self.le32(2) + [5, 5]
        let anatomy: [String: FileAnatomy] = [
            "CURRENT": FileAnatomy(kind: .current, bytes: Array("MANIFEST-000001\n".utf8)),
            "MANIFEST-000001": FileAnatomy(kind: .manifest, bytes: manifest),
            "wal/000000000001.wal": FileAnatomy(kind: .wal, bytes: wal),
            "wal/000000000002.wal": FileAnatomy(kind: .wal, bytes: wal),
        ]
        let bases = BaseFamily.allCases.map { BaseLayout(family: $0, anatomy: anatomy) }
        let n = CorruptionPlan.combinationCount(bases)
        // CURRENT: 3 + 3 whole-file (one file: no swap); MANIFEST: 9 + 3; WAL: 12 + 4; per base.
        #expect(n == BaseFamily.allCases.count * (6 + 12 + 16))
        let seed = UInt64.random(in: 1...UInt64(Int64.max))
        print("planIsSeededAndCoversEveryCombination seed \(seed)")
        let cases = CorruptionPlan.cases(n, seed: seed, bases: bases)
        let again = CorruptionPlan.cases(n, seed: seed, bases: bases)
        #expect(cases.map(\.description) == again.map(\.description), "seed \(seed)")
        let combos = Set(cases.map { "\($0.family) \($0.kind) \($0.region?.rawValue ?? "-") \($0.mutation.kind)" })
        #expect(combos.count == n, "seed \(seed)")
        for c in cases {
            if let r = c.region, let o = c.mutation.offset {
                #expect(anatomy[c.file]!.ranges[r]!.contains { $0.contains(o) }, "seed \(seed) \(c)")
            }
        }
    }
}
