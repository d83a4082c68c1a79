// A radix table over a run's sorted key prefixes: where a point lookup's binary search starts.
//
// Why: a run of 1 M records has 250 k index slots; the binary search over their 8-byte prefixes
// (2 MB) took ~18 probes, the lower half of them cache misses, before it read a record. The
// prefixes of one run are sorted, so their leading bits (after the bits every prefix of the run
// shares) say which narrow stretch of slots can hold a given prefix: one load from this table
// (two adjacent words) narrows the search to a bucket of about two slots on keys spread evenly
// (hashed, random, sequential numbers), and to a bucket's worth on any other distribution — never
// worse than the full search by more than the one load. The same idea as RadixSpline's radix
// layer, without the spline: the bucket is searched, not interpolated.
//
// Memory, not format: built at open with the prefixes, 4 bytes per bucket, about 2 bytes per
// index slot (half a byte per record at the default interval of 4).

/// Buckets of a sorted array of 8-byte prefixes by their leading bits.
/// Thread-safety: immutable after init. Not copyable: it owns its table and frees it once.
struct PrefixRadix: ~Copyable {
    /// `table[b]` = the first slot whose bucket is ≥ b; `(1 << bits) + 1` entries.
    private let table: UnsafeMutablePointer<Int32>
    /// Leading bits every prefix of the array shares (0 when it has fewer than two distinct).
    private let skip: UInt64
    /// Bits that name a bucket, after `skip`.
    private let bits: UInt64
    private let first: UInt64, last: UInt64
    private let count: Int

    /// The most bucket bits: 2^22 buckets (16 MiB of table) serve 8 M slots at two a bucket.
    static let maxBits = 22

    /// Buckets `prefixes[0..<count]` (sorted ascending, duplicates allowed) at about
    /// `slotsPerBucket` slots a bucket when they are spread evenly.
    init(prefixes: UnsafePointer<UInt64>, count: Int, slotsPerBucket: Int = 2) {
        precondition(count >= 0 && slotsPerBucket >= 1)
        self.count = count
        first = count > 0 ? prefixes[0] : 0
        last = count > 0 ? prefixes[count - 1] : 0
        let shared = (first ^ last).leadingZeroBitCount          // 64 when all are equal
        skip = shared == 64 ? 0 : UInt64(shared)
        let wanted = count / slotsPerBucket
        let room = shared == 64 ? 0 : 64 - shared
        // A file of more than 2^31 slots (a run of over 8 G records) is searched without the
        // table: its entries are 32-bit.
        bits = UInt64(wanted < 2 || count > Int(Int32.max) ? 0 : min(Self.maxBits, room, Int.bitWidth - 1 - wanted.leadingZeroBitCount))
        let buckets = 1 << Int(bits)
        table = .allocate(capacity: buckets + 1)
        var b = 0
        for slot in 0..<(bits == 0 ? 0 : count) {
            let own = bucket(prefixes[slot])
            while b <= own { table[b] = Int32(slot); b += 1 }
        }
        while b <= buckets { table[b] = Int32(truncatingIfNeeded: count); b += 1 }   // unread when bits is 0
    }

    deinit { table.deallocate() }

    /// The bucket of a prefix that shares the array's leading `skip` bits.
    @inline(__always)
    private func bucket(_ prefix: UInt64) -> Int {
        Int(truncatingIfNeeded: (prefix &<< skip) &>> (64 &- bits))
    }

    /// The slots `[lo, hi]` that may hold `target`'s prefix: every slot before `lo` holds a
    /// smaller prefix and every slot after `hi` a larger one (`lo` = `hi` + 1 when none is
    /// equal to or in the bucket of `target`).
    @inline(__always)
    func candidates(_ target: UInt64) -> (lo: Int, hi: Int) {
        if target < first { return (0, -1) }
        if target > last { return (count, count - 1) }
        if bits == 0 { return (0, count - 1) }
        // first ≤ target ≤ last: target shares their leading `skip` bits.
        let b = bucket(target)
        return (Int(table[b]), Int(table[b + 1]) - 1)
    }
}
