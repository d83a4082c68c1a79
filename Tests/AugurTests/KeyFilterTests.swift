import Testing
@_spi(Testing) import Augur
import AugurStats
import AugurSys
import AugurTestSupport

/// The segment key filter: never a false negative, about 1 % false positives at 10 bits a key,
/// and keys that differ only in a trailing zero byte or in length hash apart.
@Suite struct KeyFilterTests {
    static func hash(_ k: [UInt8]) -> UInt64 { KeyHash.hash(k) }

    @Test func noFalseNegativesAndFewFalsePositives() {
        let seed = UInt64(environmentValue("AUGUR_SEED") ?? "") ?? 77
        var rng = SplitMix64(seed: seed)
        func key() -> [UInt8] { (0..<(4 + Int(rng.next() % 20))).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
        let filter = KeyFilter(keys: 50_000)
        var inserted = Set<[UInt8]>()
        while inserted.count < 50_000 { inserted.insert(key()) }
        for k in inserted { filter.insert(Self.hash(k)) }
        let missed = inserted.filter { !filter.mayContain(Self.hash($0)) }.count
        #expect(missed == 0, "seed \(seed)")
        var tried = 0, passed = 0
        while tried < 100_000 {
            let k = key()
            if inserted.contains(k) { continue }
            tried += 1
            if filter.mayContain(Self.hash(k)) { passed += 1 }
        }
        let rate = Double(passed) / Double(tried)
        #expect(rate < 0.02, "false positives \(rate) at \(KeyFilter.bitsPerKey) bits a key, seed \(seed)")
    }

    @Test func similarKeysHashApart() {
        let keys: [[UInt8]] = [[0x61, 0x62], [0x61, 0x62, 0x00], [0x61, 0x62, 0x00, 0x00], [0x00], [], [0x62, 0x61],
                               Array(repeating: 0, count: 8), Array(repeating: 0, count: 9), Array(repeating: 0, count: 16)]
        #expect(Set(keys.map(Self.hash)).count == keys.count)
        let empty = KeyFilter(keys: 0)
        let passes = empty.mayContain(Self.hash([0x61]))
        #expect(!passes)
    }
}
