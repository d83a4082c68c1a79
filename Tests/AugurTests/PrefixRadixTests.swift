import Testing
@testable import Augur
import AugurTestSupport

/// The radix table a run's point lookups start from (PrefixRadix.swift): for any target, every
/// slot before the candidates holds a smaller prefix and every slot after them a larger one —
/// on evenly spread, narrow, clustered, duplicated, shared-leading-bit, tiny and small prefix
/// sets — and on evenly spread prefixes the candidates are a handful of slots, not the whole
/// array.
@Suite struct PrefixRadixTests {
    static var seeds: [UInt64] {
        if let s = environmentValue("AUGUR_SEED"), let seed = UInt64(s) { return [seed] }
        return [1, 2, 3]
    }

    enum Spread: CaseIterable { case even, sharedLeadingBits, narrow, clustered, duplicated, allEqual, tiny, small }

    static func prefixes(_ spread: Spread, _ r: inout RandomData) -> [UInt64] {
        func u64() -> UInt64 { UInt64(UInt32(truncatingIfNeeded: r.int(0..<Int(UInt32.max)))) << 32 | UInt64(UInt32(truncatingIfNeeded: r.int(0..<Int(UInt32.max)))) }
        var p: [UInt64]
        switch spread {
        case .even: p = (0..<20_000).map { _ in u64() }
        case .sharedLeadingBits: p = (0..<20_000).map { _ in 0x7573_6572_0000_0000 | (u64() >> 40) }   // "user" + 24 bits
        case .narrow: p = (0..<20_000).map { _ in 0x0123_4567_89AB_0000 + UInt64(r.int(0..<1000)) }   // fewer free bits than buckets want
        case .clustered: p = (0..<20_000).map { i in (i % 5 == 0 ? u64() : 0x4000_0000_0000_0000 + UInt64(r.int(0..<1000))) }
        case .duplicated: p = (0..<20_000).map { _ in UInt64(r.int(0..<50)) << 56 }
        case .allEqual: p = Array(repeating: 0x6162_6300_0000_0000, count: 500)
        case .tiny: p = (0..<r.int(0..<4)).map { _ in u64() }
        case .small: p = (0..<r.int(4..<65)).map { _ in u64() }                                       // the smallest tables
        }
        p.sort()
        return p
    }

    @Test(arguments: seeds)
    func candidatesBracketEveryTarget(seed: UInt64) {
        var r = RandomData(seed: seed)
        for spread in Spread.allCases {
            let p = Self.prefixes(spread, &r)
            p.withUnsafeBufferPointer { buf in
                let radix = PrefixRadix(prefixes: buf.baseAddress ?? UnsafePointer(bitPattern: 8)!, count: p.count)
                // Every stored prefix, its neighbours, the extremes and random values.
                var targets: [UInt64] = [0, 1, .max, .max - 1]
                for v in p { targets += [v, v &- 1, v &+ 1] }
                for _ in 0..<2_000 { targets.append(p.isEmpty ? 0 : p[r.int(0..<p.count)] ^ UInt64(1) << UInt64(r.int(0..<64))) }
                var bad = 0
                for t in targets {
                    let (lo, hi) = radix.candidates(t)
                    let ok = lo >= 0 && hi < p.count && lo <= hi + 1
                        && (lo == 0 || p[lo - 1] < t) && (hi == p.count - 1 || p[hi + 1] > t)
                    if !ok { bad += 1; if bad <= 3 { Issue.record("seed \(seed), \(spread): target \(t) -> \(lo)...\(hi) of \(p.count)") } }
                }
                #expect(bad == 0, "seed \(seed), \(spread): \(bad) of \(targets.count) targets outside their candidates")
            }
        }
    }

    /// On evenly spread prefixes — and on ones that share their leading 32 bits — the search
    /// left after the table is a few slots: the table skips the shared bits.
    @Test(arguments: seeds)
    func evenPrefixesLeaveAFewSlots(seed: UInt64) {
        var r = RandomData(seed: seed)
        for spread in [Spread.even, .sharedLeadingBits] {
            let p = Self.prefixes(spread, &r)
            p.withUnsafeBufferPointer { buf in
                let radix = PrefixRadix(prefixes: buf.baseAddress!, count: p.count)
                var widest = 0, total = 0
                for v in p {
                    let (lo, hi) = radix.candidates(v)
                    widest = max(widest, hi - lo + 1)
                    total += hi - lo + 1
                }
                let mean = Double(total) / Double(p.count)
                #expect(mean <= 6, "seed \(seed), \(spread): \(mean) candidates a lookup on average")
                #expect(widest <= 24, "seed \(seed), \(spread): \(widest) candidates at most")
            }
        }
    }
}
