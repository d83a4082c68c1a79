import Testing
@testable import AugurStats

@Suite("Key position interpolation")
struct KeyPositionMapTests {
    @Test("empty lo and nil hi: the first byte decides, buckets are 1/64 of the byte space")
    func fullRange() {
        let m = KeyPositionMap(lowerBound: [], upperBound: nil, bucketCount: 64)
        #expect(m.prefix.isEmpty)
        #expect(m.lowValue == 0 && m.highValue == .max)
        #expect(m.bucket(for: []) == 0)
        #expect(m.bucket(for: [0x03, 0xFF, 0xFF]) == 0)
        #expect(m.bucket(for: [0x04]) == 1)
        #expect(m.bucket(for: [0x80]) == 32)
        #expect(m.bucket(for: [UInt8](repeating: 0xFF, count: 8)) == 63)
        #expect(m.bucket(for: [UInt8](repeating: 0xFF, count: 20)) == 63)
        #expect(m.position(of: [0x80]) == 0.5)
        #expect(m.position(of: []) == 0)
        #expect(m.lowerBoundKey(ofBucket: 1) == [0x04])
        #expect(m.lowerBoundKey(ofBucket: 64) == nil)
    }

    @Test("common prefix is stripped; short keys are zero-padded")
    func commonPrefix() {
        let m = KeyPositionMap(lowerBound: Array("user0".utf8), upperBound: Array("user9".utf8), bucketCount: 64)
        #expect(m.prefix == Array("user".utf8))
        #expect(m.lowValue == UInt64(0x30) << 56)
        #expect(m.highValue == UInt64(0x39) << 56)
        // position of "user5" = 5/9 of the range → bucket ⌊64·5/9⌋ = 35
        #expect(m.bucket(for: Array("user5".utf8)) == 35)
        #expect(m.bucket(for: Array("user5\u{0}\u{0}".utf8)) == 35)
        #expect(abs(m.position(of: Array("user5".utf8)) - 5.0 / 9.0) < 1e-12)
        #expect(m.bucket(for: Array("user0".utf8)) == 0)
        // "user8z…": (8 + 0x7A/256) / 9 of the range → bucket 60
        #expect(m.bucket(for: Array("user8zzzzzzzzzzzzzzzz".utf8)) == 60)
        #expect(m.bucket(for: Array("user8".utf8) + [UInt8](repeating: 0xFF, count: 12)) == 63)
        // out of range: clamped
        #expect(m.bucket(for: Array("user".utf8)) == 0)
        #expect(m.bucket(for: Array("usea".utf8)) == 0)
        #expect(m.bucket(for: Array("usez".utf8)) == 63)
        #expect(m.bucket(for: Array("user9".utf8)) == 63)
    }

    @Test("lo is a prefix of hi")
    func loPrefixOfHi() {
        let m = KeyPositionMap(lowerBound: Array("ab".utf8), upperBound: Array("abc".utf8), bucketCount: 64)
        #expect(m.prefix == Array("ab".utf8))
        #expect(m.lowValue == 0)
        #expect(m.bucket(for: Array("ab".utf8)) == 0)
        #expect(m.bucket(for: [0x61, 0x62, 0x01]) == 0)
        #expect(m.bucket(for: Array("ab1".utf8)) == 31)  // ⌊64·0x31/0x63⌋
        #expect(m.bucket(for: Array("abb".utf8)) == 63)  // ⌊64·0x62/0x63⌋
        #expect(m.bucket(for: Array("abbzzzzzzzzzzzz".utf8)) == 63)
    }

    @Test("open hi with a lower bound of leading 0xFF bytes")
    func openHiAllOnesPrefix() {
        let m = KeyPositionMap(lowerBound: [0xFF, 0xFF, 0x00], upperBound: nil, bucketCount: 64)
        #expect(m.prefix == [0xFF, 0xFF])
        #expect(m.bucket(for: [0xFF, 0xFF, 0x80]) == 32)
        #expect(m.bucket(for: [0xFF, 0xFF]) == 0)
        #expect(m.bucket(for: [0xFF, 0xFE, 0xFF]) == 0)  // below range
        #expect(m.bucket(for: [UInt8](repeating: 0xFF, count: 12)) == 63)
    }

    @Test("keys longer than the 8-byte window and bounds differing in the first byte")
    func narrowRange() {
        let m = KeyPositionMap(lowerBound: Array("k".utf8), upperBound: Array("l".utf8), bucketCount: 64)
        #expect(m.prefix.isEmpty)
        #expect(m.bucket(for: [0x6B, 0x80]) == 32)
        #expect(m.bucket(for: [0x6B, 0x80, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]) == 32)
        #expect(m.bucket(for: [0x6B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]) == 63)
    }

    @Test("a range narrower than the bucket count leaves top buckets empty but stays exact")
    func tinyRange() {
        let lo: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        let hi: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 13]
        let m = KeyPositionMap(lowerBound: lo, upperBound: hi, bucketCount: 64)
        for last in UInt8(10)...UInt8(12) {
            let k = [1, 2, 3, 4, 5, 6, 7, 8, 9, last]
            let b = m.bucket(for: k)
            #expect(m.interval(ofBucket: b).contains(k), "key \(hex(k)) bucket \(b) interval \(m.interval(ofBucket: b))")
        }
        #expect(m.bucket(for: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) < m.bucket(for: [1, 2, 3, 4, 5, 6, 7, 8, 9, 12]))
    }

    @Test("property: every in-range key lies in its bucket's interval, buckets are monotone, hot path agrees", arguments: [1, 7, 64, 256])
    func exactIntervals(bucketCount: Int) {
        let seed = testSeed(0xB0C5 &+ UInt64(bucketCount))
        var rng = SeededRandom(seed: seed)
        for _ in 0..<60 {
            // Random range: shared prefix of 0–10 bytes, random tails, sometimes open.
            let prefix = rng.bytes(Int.random(in: 0...10, using: &rng))
            var a = prefix + rng.bytes(Int.random(in: 0...12, using: &rng))
            var b: [UInt8]? = prefix + rng.bytes(Int.random(in: 1...12, using: &rng))
            if Bool.random(using: &rng) && Bool.random(using: &rng) { b = nil }
            if let bb = b, !a.lexicographicallyPrecedes(bb) { swap(&a, &b!) }
            if let bb = b, !a.lexicographicallyPrecedes(bb) { continue }
            let m = KeyPositionMap(lowerBound: a, upperBound: b, bucketCount: bucketCount)
            let h = KeyHistogram(lowerBound: a, upperBound: b, options: HistogramOptions(bucketCount: bucketCount, stripeCount: 1))
            var keys: [[UInt8]] = [a]
            for _ in 0..<200 {
                // keys in range: interpolate by sharing a random-length prefix with a or b
                var k: [UInt8]
                let src = Bool.random(using: &rng) ? a : (b ?? a + [0xFF])
                let keep = Int.random(in: 0...src.count, using: &rng)
                k = Array(src[0..<keep]) + rng.bytes(Int.random(in: 0...12, using: &rng))
                if k.lexicographicallyPrecedes(a) { continue }
                if let bb = b, !k.lexicographicallyPrecedes(bb) { continue }
                keys.append(k)
            }
            keys.sort { $0.lexicographicallyPrecedes($1) }
            var previous = 0
            for k in keys {
                let bucket = m.bucket(for: k)
                #expect(h.bucket(for: k) == bucket, "seed \(seed): hot path disagrees for \(hex(k))")
                #expect(bucket >= previous, "seed \(seed): not monotone at \(hex(k)) in [\(hex(a)), \(hex(b)))")
                previous = bucket
                let iv = m.interval(ofBucket: bucket)
                #expect(iv.contains(k), "seed \(seed): key \(hex(k)) not in bucket \(bucket) \(iv) of [\(hex(a)), \(hex(b)))")
                let p = m.position(of: k)
                #expect(p >= 0 && p <= 1, "seed \(seed): position \(p)")
            }
        }
    }
}
