/// Whether an access reads or writes its key.
///
/// Thread-safety: `Sendable` enum.
public enum HistogramAccess: UInt8, Sendable, Hashable {
    /// A read (retrieve, scan).
    case read = 0
    /// A write (store, modify, delete).
    case write = 1
}

/// Per-partition key histogram: `bucketCount` fixed buckets over the
/// partition's key range, each with four counters (reads, writes, bytes read,
/// bytes written), updated on every operation.
///
/// Bucketing is described in ``KeyPositionMap``. Counters live in stripes of
/// `bucketCount × 32` bytes, padded to whole 128-byte units (see
/// ``statsStripeBytes``): one private stripe per thread-slot index
/// `0..<options.stripeCount`, plus one shared stripe. A thread with a private
/// stripe is that stripe's only writer, so it adds with a relaxed atomic load
/// followed by a relaxed atomic store — no locked instruction, no cache-line
/// transfer. Threads without a slot (or whose slot index is beyond
/// `stripeCount`) add to the shared stripe with relaxed atomic
/// read-modify-write. Readers sum all stripes with relaxed loads, so a
/// snapshot taken during updates may miss in-flight increments but never sees
/// a torn value, and totals are exact once writers are quiescent.
///
/// Split, merge and boundary moves build *new* histograms whose counts are the
/// parents' counts re-bucketed (see ``HistogramSnapshot/rebucket(_:boundaries:bucketCount:)``),
/// seeded into the new histogram's shared stripe.
///
/// Thread-safety: `Sendable`. ``record(_:key:bytes:slot:)`` may be called
/// concurrently from any number of threads provided each ``StatsSlot`` is used by
/// one thread at a time (see ``StatsSlot``). ``snapshot()``, ``totals()`` and the
/// split/merge operations may run concurrently with recording; increments
/// racing with a split land in the parent only (quiesce writers or swap the
/// histogram first if those must be inherited).
///
/// Hot-path cost: no allocation, no ARC traffic, no locks, no call: for a key of
/// at least prefix + 8 bytes (prefix ≤ 8 bytes), two unaligned 8-byte loads
/// (the prefix compared as one masked word, then the window), one 64×64→128
/// multiply, two plain read-modify-writes (or two locked adds on the shared
/// stripe). ``record(_:key:bytes:slot:)`` is `@inlinable` and always inlined
/// into the caller; shorter keys and longer prefixes take an out-of-line path.
public final class KeyHistogram: @unchecked Sendable {
    /// The bucket layout.
    public let map: KeyPositionMap
    /// The options this histogram was created with.
    public let options: HistogramOptions

    // Hot-path copies of the layout, all trivial stored constants (no ARC). `@usableFromInline`
    // so that `record` can be inlined into the engine (another module): a call, its argument
    // shuffling and its prologue cost about as much as the update itself.
    @usableFromInline let counters: CounterBlock
    @usableFromInline let stripeStride: Int
    @usableFromInline let privateStripes: Int
    @usableFromInline let sharedStripeBase: Int
    @usableFromInline let prefixBytes: UnsafeMutableRawPointer
    @usableFromInline let prefixLength: Int
    @usableFromInline let lowValue: UInt64
    @usableFromInline let maxOffset: UInt64
    @usableFromInline let multiplier: UInt64
    @usableFromInline let lastBucket: Int
    /// Shortest key the loop-free path of `bucketIndex` takes: `prefixLength + 8` when the
    /// prefix fits in 8 bytes (a key that long holds the whole prefix and the 8-byte window),
    /// else `Int.max` (always the general path).
    @usableFromInline let fastMinKeyCount: Int
    /// The prefix bytes as the top bytes of a big-endian `UInt64`, and the mask selecting them
    /// (both 0 for an empty prefix).
    @usableFromInline let prefixWord: UInt64
    @usableFromInline let prefixMask: UInt64

    /// Creates an empty histogram for `[lowerBound, upperBound)`.
    ///
    /// - Parameters:
    ///   - lowerBound: inclusive lower key; empty is minus infinity.
    ///   - upperBound: exclusive upper key; nil is plus infinity.
    ///   - focus: the smallest and largest stored key, when known (see `KeyPositionMap`).
    public convenience init(lowerBound: [UInt8], upperBound: [UInt8]?, options: HistogramOptions = HistogramOptions(),
                            focus: (low: [UInt8], high: [UInt8])? = nil) {
        let map = KeyPositionMap(lowerBound: lowerBound, upperBound: upperBound, bucketCount: options.bucketCount, focus: focus)
        self.init(map: map, options: options, seed: nil)
    }

    /// Creates a histogram whose counts start at `snapshot`'s counts (for
    /// example a re-bucketed snapshot). `options.bucketCount` is taken from the snapshot.
    public convenience init(seededFrom snapshot: HistogramSnapshot, options: HistogramOptions = HistogramOptions()) {
        var o = options
        o.bucketCount = snapshot.map.bucketCount
        self.init(map: snapshot.map, options: o, seed: snapshot)
    }

    private init(map: KeyPositionMap, options: HistogramOptions, seed: HistogramSnapshot?) {
        precondition(options.stripeCount >= 0 && options.stripeCount <= 64, "stripeCount must be in 0...64")
        self.map = map
        self.options = options
        let perStripeUnit = statsStripeBytes / 8
        let raw = map.bucketCount * 4
        let stride = (raw + perStripeUnit - 1) / perStripeUnit * perStripeUnit
        self.stripeStride = stride
        self.privateStripes = options.stripeCount
        self.sharedStripeBase = options.stripeCount * stride
        self.counters = CounterBlock.allocate(count: (options.stripeCount + 1) * stride)
        self.prefixLength = map.prefix.count
        let prefixBytes = UnsafeMutableRawPointer.allocate(byteCount: max(1, map.prefix.count), alignment: 8)
        map.prefix.withUnsafeBytes { src in
            if src.count > 0 { prefixBytes.copyMemory(from: src.baseAddress!, byteCount: src.count) }
        }
        self.prefixBytes = prefixBytes
        self.lowValue = map.lowValue
        self.maxOffset = map.maxOffset
        self.multiplier = map.multiplier
        self.lastBucket = map.bucketCount - 1
        let l = map.prefix.count
        self.fastMinKeyCount = l <= 8 ? l + 8 : Int.max
        var word: UInt64 = 0
        for (i, byte) in map.prefix.prefix(8).enumerated() { word |= UInt64(byte) << UInt64(56 - 8 * i) }
        self.prefixWord = word
        self.prefixMask = l == 0 ? 0 : (l >= 8 ? UInt64.max : ~(UInt64.max >> UInt64(8 * l)))
        if let seed {
            for b in 0..<map.bucketCount {
                let base = sharedStripeBase + b * 4
                counters.store(base, seed.reads[b])
                counters.store(base + 1, seed.writes[b])
                counters.store(base + 2, seed.readBytes[b])
                counters.store(base + 3, seed.writeBytes[b])
            }
        }
    }

    deinit {
        counters.deallocate()
        prefixBytes.deallocate()
    }

    // MARK: - Hot path

    /// Counts one access to `key` carrying `bytes` bytes.
    ///
    /// Allocation-free, lock-free, no ARC. `slot` must be the calling thread's
    /// own slot (or ``StatsSlot/unregistered``).
    ///
    /// - Parameters:
    ///   - access: read or write.
    ///   - key: the key bytes; need not be in range (clamped to the edge bucket).
    ///   - bytes: payload size of the access. Unit: bytes.
    ///   - slot: the calling thread's slot.
    @inlinable @inline(__always)
    public func record(_ access: HistogramAccess, key: UnsafeRawBufferPointer, bytes: UInt64, slot: StatsSlot) {
        let b = bucketIndex(key)
        let cell = b &* 4 &+ Int(access.rawValue)
        let s = slot.index
        if UInt(bitPattern: s) < UInt(bitPattern: privateStripes) {
            let i = s &* stripeStride &+ cell
            counters.addSingleWriter(i, 1)
            counters.addSingleWriter(i &+ 2, bytes)
        } else {
            let i = sharedStripeBase &+ cell
            counters.addShared(i, 1)
            counters.addShared(i &+ 2, bytes)
        }
    }

    /// Convenience for ``record(_:key:bytes:slot:)`` taking a `[UInt8]` key
    /// (borrows the array's storage; no allocation).
    @inlinable
    public func record(_ access: HistogramAccess, key: [UInt8], bytes: UInt64, slot: StatsSlot) {
        key.withUnsafeBytes { record(access, key: $0, bytes: bytes, slot: slot) }
    }

    /// The bucket `key` is counted in (same computation as the hot path).
    public func bucket(for key: UnsafeRawBufferPointer) -> Int {
        bucketIndex(key)
    }

    /// The bucket `key` is counted in.
    public func bucket(for key: [UInt8]) -> Int {
        key.withUnsafeBytes { bucketIndex($0) }
    }

    /// Same result as ``KeyPositionMap/bucket(for:)``. Inlined into `record`: a key of at
    /// least `fastMinKeyCount` bytes (the common case) is bucketed with two unaligned loads —
    /// the prefix compared as one masked big-endian word, then the 8-byte window — and no loop;
    /// shorter keys and prefixes longer than 8 bytes take `offsetGeneral` (not inlined).
    @inlinable @inline(__always)
    func bucketIndex(_ key: UnsafeRawBufferPointer) -> Int {
        let x: UInt64
        if key.count >= fastMinKeyCount {
            let head = UInt64(bigEndian: key.loadUnaligned(fromByteOffset: 0, as: UInt64.self)) & prefixMask
            if head == prefixWord {
                let v = UInt64(bigEndian: key.loadUnaligned(fromByteOffset: prefixLength, as: UInt64.self))
                x = v <= lowValue ? 0 : min(v &- lowValue, maxOffset)
            } else {
                x = head < prefixWord ? 0 : maxOffset
            }
        } else {
            x = offsetGeneral(key)
        }
        let b = Int(truncatingIfNeeded: x.multipliedFullWidth(by: multiplier).high)
        return b < lastBucket ? b : lastBucket
    }

    /// The key's offset from `lowValue`, clamped to `0...maxOffset`, for any key length and
    /// prefix length (byte-wise prefix compare, zero-padded window).
    @usableFromInline @inline(never)
    func offsetGeneral(_ key: UnsafeRawBufferPointer) -> UInt64 {
        let l = prefixLength
        var x: UInt64
        if l == 0 {
            let v = KeyPositionMap.window(key, from: 0)
            x = v <= lowValue ? 0 : min(v &- lowValue, maxOffset)
        } else {
            let n = min(key.count, l)
            var i = 0
            var order = 0
            while i < n {
                let a = key[i]
                let p = prefixBytes.load(fromByteOffset: i, as: UInt8.self)
                if a != p { order = a < p ? -1 : 1; break }
                i &+= 1
            }
            if order == 0 && key.count < l { order = -1 }
            if order < 0 {
                x = 0
            } else if order > 0 {
                x = maxOffset
            } else {
                let v = KeyPositionMap.window(key, from: l)
                x = v <= lowValue ? 0 : min(v &- lowValue, maxOffset)
            }
        }
        return x
    }

    // MARK: - Readers

    /// Sums all stripes into a plain value snapshot. Cost: `bucketCount × 4 ×
    /// (stripeCount + 1)` relaxed loads plus four array allocations.
    public func snapshot() -> HistogramSnapshot {
        let n = map.bucketCount
        var reads = [UInt64](repeating: 0, count: n)
        var writes = [UInt64](repeating: 0, count: n)
        var readBytes = [UInt64](repeating: 0, count: n)
        var writeBytes = [UInt64](repeating: 0, count: n)
        for s in 0...privateStripes {
            let base = s * stripeStride
            for b in 0..<n {
                let i = base + b * 4
                reads[b] &+= counters.load(i)
                writes[b] &+= counters.load(i + 1)
                readBytes[b] &+= counters.load(i + 2)
                writeBytes[b] &+= counters.load(i + 3)
            }
        }
        return HistogramSnapshot(map: map, reads: reads, writes: writes, readBytes: readBytes, writeBytes: writeBytes)
    }

    /// Totals over all buckets and stripes (no allocation). Feed these to
    /// ``WorkloadCollector/observeCumulativeTotals(partition:totals:timestamp:)``
    /// for exact rates.
    public func totals() -> HistogramTotals {
        var t = HistogramTotals()
        for s in 0...privateStripes {
            let base = s * stripeStride
            for b in 0..<map.bucketCount {
                let i = base + b * 4
                t.reads &+= counters.load(i)
                t.writes &+= counters.load(i + 1)
                t.readBytes &+= counters.load(i + 2)
                t.writeBytes &+= counters.load(i + 3)
            }
        }
        return t
    }

    // MARK: - Split, merge, boundary move

    /// Splits into `[lo, key)` and `[key, hi)`; each child inherits the share of
    /// every bucket that overlaps its range (proportional to the overlap,
    /// integer counts by cumulative rounding, totals conserved exactly).
    ///
    /// - Precondition: `lowerBound < key < upperBound`.
    public func split(at key: [UInt8]) -> (KeyHistogram, KeyHistogram) {
        let parts = HistogramSnapshot.rebucket([snapshot()], boundaries: [key], bucketCount: map.bucketCount)
        return (KeyHistogram(seededFrom: parts[0], options: options), KeyHistogram(seededFrom: parts[1], options: options))
    }

    /// Histograms for the ranges `sources` are cut into at `boundaries` (adjacent sources, in
    /// key order), each focused on its stored keys when `focus` gives them; counts are
    /// inherited in proportion to the overlap and conserved exactly. What a reshard's
    /// targets start with.
    public static func rebucketed(_ sources: [KeyHistogram], boundaries: [[UInt8]],
                                  focus: [(low: [UInt8], high: [UInt8])?], options: HistogramOptions) -> [KeyHistogram] {
        let parts = HistogramSnapshot.rebucket(sources.map { $0.snapshot() }, boundaries: boundaries,
                                               bucketCount: sources[0].map.bucketCount, focus: focus)
        return parts.map { KeyHistogram(seededFrom: $0, options: options) }
    }

    /// Merges with the adjacent histogram on the right (`self.upperBound ==
    /// right.lowerBound`) into one histogram over the union.
    public func merged(with right: KeyHistogram) -> KeyHistogram {
        let parts = HistogramSnapshot.rebucket([snapshot(), right.snapshot()], boundaries: [], bucketCount: map.bucketCount)
        return KeyHistogram(seededFrom: parts[0], options: options)
    }

    /// Moves the boundary between two adjacent histograms to `newBoundary`,
    /// re-bucketing both neighbours. Totals are conserved exactly.
    ///
    /// - Precondition: `left.upperBound == right.lowerBound` and
    ///   `left.lowerBound < newBoundary < right.upperBound`.
    public static func movingBoundary(left: KeyHistogram, right: KeyHistogram, to newBoundary: [UInt8]) -> (KeyHistogram, KeyHistogram) {
        let parts = HistogramSnapshot.rebucket([left.snapshot(), right.snapshot()], boundaries: [newBoundary], bucketCount: left.map.bucketCount)
        return (KeyHistogram(seededFrom: parts[0], options: left.options), KeyHistogram(seededFrom: parts[1], options: right.options))
    }
}
