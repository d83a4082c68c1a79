import AugurStats
import AugurTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Augur

/// The memtable against a dictionary model: nodes and value records share arena chunks from
/// opposite ends (Memtable.swift), so records of every size — empty, small, near a chunk's
/// free space, larger than a quarter chunk (an allocation of their own) — must come back intact
/// across many chunk boundaries, in key order both ways, newest sequence winning.
/// Replay one seed with AUGUR_SEED=<n>.
@Suite struct MemtableTests {
    static var seeds: [UInt64] {
        if let s = environmentValue("AUGUR_SEED"), let seed = UInt64(s) { return [seed] }
        return [1, 2, 0xA06A_2026]
    }

    struct Record: Equatable {
        var seq: UInt64
        var kind: RecordKind
        var value: [UInt8]
    }

    static func valueSize(_ rng: inout SplitMix64) -> Int {
        switch rng.next() % 100 {
        case 0..<10: return 0
        case 10..<80: return Int(rng.next() % 200)
        case 80..<95: return 1_000 + Int(rng.next() % 60_000)
        case 95..<98:   // either side of "large" (a quarter chunk)
            let quarter = Arena.chunkSize / 4
            return quarter - 64 + Int(rng.next() % 128)
        default:
            let quarter = Arena.chunkSize / 4
            return quarter + Int(rng.next() % UInt64(2 * quarter))
        }
    }

    static func entries(_ m: Memtable, forward: Bool) -> [([UInt8], Record)] {
        var c = Memtable.Cursor(m)
        var out: [([UInt8], Record)] = []
        if forward { c.seekToFirst() } else { c.seekToLast() }
        while c.isValid {
            let e = c.current
            out.append((Array(e.key), Record(seq: e.seq, kind: e.kind, value: Array(e.value))))
            if forward { c.next() } else { c.prev() }
        }
        return out
    }

    /// A memtable's chunks grow from 16 KiB by fours to 1 MiB, then 2 MiB (Arena): a few writes
    /// hold 16 KiB, a full memtable 2 MiB chunks after the first 1,360 KiB.
    @Test func chunksGrowFromSixteenKiB() {
        let m = Memtable()
        var sizes: [Int] = []
        let value = [UInt8](repeating: 0x5A, count: 200)
        for i in 0..<40_000 {
            Array("key\(100_000 + i)".utf8).withUnsafeBytes { k in
                value.withUnsafeBytes { m.apply(key: k, seq: UInt64(i + 1), kind: .put, value: $0) }
            }
            if sizes.last != m.approximateBytes { sizes.append(m.approximateBytes) }
        }
        let kib = 1 << 10
        #expect(Array(sizes.prefix(6)) == [16 * kib, 80 * kib, 336 * kib, 1360 * kib, 1360 * kib + (2 << 20), 1360 * kib + (4 << 20)],
                "\(sizes.prefix(7))")
    }

    /// The pool keeps full-size chunks ready (`ArenaChunkPool.reserve`): a take that leaves
    /// fewer than half of them has the refill lane map new ones, faulted in, so a writer's
    /// next chunks cost it no map and no first-touch zeroing. A pool of the test's own (the
    /// shared one serves every test running beside it).
    @Test func fullSizeChunksComeFromAReserveMadeInTheBackground() throws {
        let pool = ArenaChunkPool(reserve: 4)
        defer { pool.releaseAll() }
        #expect(pool.count == 0)
        let first = pool.take(size: Arena.chunkSize)          // empty: mapped here, and a refill queued
        pool.drainRefill()
        #expect(pool.count == 4, "\(pool.count) chunks after the first refill")
        var taken = [first]
        for _ in 0..<2 { taken.append(pool.take(size: Arena.chunkSize)) }
        #expect(pool.count == 2)                              // half the reserve left: no refill yet
        taken.append(pool.take(size: Arena.chunkSize))        // one left: a refill queued (it may run at once)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        for chunk in taken.dropFirst() {
            var vector = [UInt8](repeating: 0, count: Arena.chunkSize / page)
            #expect(mincore(chunk, Arena.chunkSize, &vector) == 0, "mincore: errno \(errno)")
            let resident = vector.filter { $0 & 1 != 0 }.count
            #expect(resident == vector.count, "\(resident) of \(vector.count) pages of a reserve chunk resident")
        }
        pool.drainRefill()                                    // the third take left 1 of 4: refilled
        #expect(pool.count == 4, "\(pool.count) chunks after the second refill")
        pool.give(taken.map { ($0, Arena.chunkSize) })
        #expect(pool.count == 8)
    }

    @Test(arguments: seeds)
    func recordsOfEverySizeMatchTheModel(seed: UInt64) {
        print("MemtableTests seed \(seed) (AUGUR_SEED=\(seed) replays it)")
        var rng = SplitMix64(seed: seed)
        let m = Memtable(seed: seed)
        var model: [[UInt8]: Record] = [:]
        var seq: UInt64 = 0
        for _ in 0..<6_000 {
            // Keys from a small space (overwrites), of 1-24 bytes (shared prefixes, lengths).
            let length = 1 + Int(rng.next() % 24)
            let key = (0..<length).map { i in UInt8(truncatingIfNeeded: i < 2 ? rng.next() % 4 : rng.next()) }
            let kind: RecordKind = rng.next() % 5 == 0 ? .delete : .put
            seq += 1
            // A fill byte and the sequence at both ends: a record overwritten by a neighbour shows.
            var value = kind == .delete ? [] : [UInt8](repeating: UInt8(truncatingIfNeeded: rng.next()), count: Self.valueSize(&rng))
            if value.count >= 16 {
                for i in 0..<8 {
                    value[i] = UInt8(truncatingIfNeeded: seq >> (8 * UInt64(i)))
                    value[value.count - 1 - i] = value[i]
                }
            }
            // Now and then a write arrives out of order, with an older sequence: it must lose.
            let applied = rng.next() % 20 == 0 && seq > 10 ? seq - 10 : seq
            key.withUnsafeBytes { k in value.withUnsafeBytes { v in m.apply(key: k, seq: applied, kind: kind, value: v) } }
            if let old = model[key], old.seq > applied { continue }
            model[key] = Record(seq: applied, kind: kind, value: value)
        }
        #expect(m.count == model.count, "seed \(seed)")
        #expect(m.approximateBytes >= Arena.chunkSize)
        for (key, want) in model {
            let got = key.withUnsafeBytes { k in m.lookup(k) }.map { Record(seq: $0.seq, kind: $0.kind, value: Array($0.value)) }
            #expect(got == want, "seed \(seed): key \(key)")
        }
        let sorted = model.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        let forward = Self.entries(m, forward: true)
        #expect(forward.map(\.0) == sorted.map(\.key), "seed \(seed): forward order")
        #expect(forward.map(\.1) == sorted.map(\.value), "seed \(seed): forward records")
        #expect(Self.entries(m, forward: false).map(\.0) == sorted.reversed().map(\.key), "seed \(seed): backward order")
        // Seeks land on the first key at or after the probe.
        for _ in 0..<500 {
            let probe = (0..<(1 + Int(rng.next() % 24))).map { i in UInt8(truncatingIfNeeded: i < 2 ? rng.next() % 4 : rng.next()) }
            var c = Memtable.Cursor(m)
            probe.withUnsafeBytes { c.seek(atLeast: $0) }
            let want = sorted.first { !$0.key.lexicographicallyPrecedes(probe) }?.key
            #expect((c.isValid ? Array(c.current.key) : nil) == want, "seed \(seed): seek \(probe)")
        }
    }

    /// A search orders nodes by their keys' 4-byte prefix, zero-padded, and reads the key only
    /// on a tie: keys of 1-18 bytes drawn from 0x00, 0x01, 0x7F, 0x80, 0xFE and 0xFF (short keys
    /// whose padding equals a real zero byte, ties at exactly 4 bytes, prefixes of each other)
    /// must be found, ordered and sought as unsigned bytes, shorter first.
    @Test(arguments: seeds)
    func keysAroundThePrefixKeepByteOrder(seed: UInt64) {
        print("MemtableTests seed \(seed) (AUGUR_SEED=\(seed) replays it)")
        var rng = SplitMix64(seed: seed)
        let alphabet: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]
        func key() -> [UInt8] {
            (0..<(1 + Int(rng.next() % 18))).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
        }
        let m = Memtable(seed: seed)
        var model: [[UInt8]: UInt64] = [:]
        for i in 1...4_000 {
            let k = key()
            k.withUnsafeBytes { kb in [UInt8]().withUnsafeBytes { m.apply(key: kb, seq: UInt64(i), kind: .put, value: $0) } }
            model[k] = UInt64(i)
        }
        let sorted = model.keys.sorted { $0.lexicographicallyPrecedes($1) }
        let inOrder = Self.entries(m, forward: true).map(\.0) == sorted
        #expect(inOrder, "seed \(seed): forward order")
        var wrong = 0
        for (k, seq) in model where k.withUnsafeBytes({ m.lookup($0)?.seq }) != seq { wrong += 1 }
        #expect(wrong == 0, "seed \(seed): \(wrong) keys not found at their sequence")
        for _ in 0..<2_000 {
            let probe = key()
            var c = Memtable.Cursor(m)
            probe.withUnsafeBytes { c.seek(atLeast: $0) }
            let want = sorted.first { !$0.lexicographicallyPrecedes(probe) }
            #expect((c.isValid ? Array(c.current.key) : nil) == want, "seed \(seed): seek \(probe)")
            probe.withUnsafeBytes { c.seek(before: $0) }
            let before = sorted.last { $0.lexicographicallyPrecedes(probe) }
            #expect((c.isValid ? Array(c.current.key) : nil) == before, "seed \(seed): seek before \(probe)")
            if (c.isValid ? Array(c.current.key) : nil) != before { return }
        }
    }

    /// `compareKeys` (whose first 8 bytes are compared inline as integers) orders keys as
    /// unsigned bytes, shorter first on a common prefix — around lengths 8 and 16 and with 0x00
    /// and 0xFF bytes, where an integer comparison could go wrong. (Planted: the 9-16 byte
    /// window read little-endian, caught.)
    @Test(arguments: seeds)
    func keyOrderIsUnsignedByteOrder(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let alphabet: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF]
        func key() -> [UInt8] {
            (0..<Int(rng.next() % 19)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
        }
        for _ in 0..<20_000 {
            let a = key()
            // Often b shares a's first bytes, so the inline part and the rest both decide.
            var b = rng.next() % 2 == 0 ? Array(a.prefix(Int(rng.next() % 19))) : key()
            // A tail of several bytes: keys that share a prefix then differ in more than one
            // byte of the inline windows (one differing byte orders the same in any byte order).
            if rng.next() % 3 == 0 { b += (0...Int(rng.next() % 8)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] } }
            let want = a == b ? 0 : (a.lexicographicallyPrecedes(b) ? -1 : 1)
            let got = compareKeys(a, b).signum()
            #expect(got == want, "seed \(seed): \(a) vs \(b)")
            if got != want { return }
        }
    }
}
