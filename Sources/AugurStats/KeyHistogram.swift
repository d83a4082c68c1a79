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
/// Hot-path cost: no allocation, no ARC traffic, no locks: a prefix compare,
/// one unaligned 8-byte load, one 64×64→128 multiply, two plain stores (or two
/// locked adds on the shared stripe).
public final class KeyHistogram: @unchecked Sendable {
    /// The bucket layout.
    public let map: KeyPositionMap
    /// The options this histogram was created with.
    public let options: HistogramOptions

    // Hot-path copies of the layout, all trivial stored constants (no ARC).
    private let counters: CounterBlock
    private let stripeStride: Int
    private let privateStripes: Int
    private let sharedStripeBase: Int
    private let prefixBytes: UnsafeMutableRawPointer
    private let prefixLength: Int
    private let lowValue: UInt64
    private let maxOffset: UInt64
    private let multiplier: UInt64
    private let lastBucket: Int

    /// Creates an empty histogram for `[lowerBound, upperBound)`.
    ///
    /// - Parameters:
    ///   - lowerBound: inclusive lower key; empty is minus infinity.
    ///   - upperBound: exclusive upper key; nil is plus infinity.
    public convenience init(lowerBound: [UInt8], upperBound: [UInt8]?, options: HistogramOptions = HistogramOptions()) {
        let map = KeyPositionMap(lowerBound: lowerBound, upperBound: upperBound, bucketCount: options.bucketCount)
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

    @inline(__always)
    private func bucketIndex(_ key: UnsafeRawBufferPointer) -> Int {
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
        let b = Int(truncatingIfNeeded: x.multipliedFullWidth(by: multiplier).high)
        return b < lastBucket ? b : lastBucket
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
