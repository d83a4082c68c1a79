/// Per-step order statistics over a sliding window, one window per forecast step, kept sorted
/// by merging batches.
///
/// Why: the ensemble's prediction intervals are needed at every observation (coverage is
/// scored against every issued interval), so quantiles must be cheap to read, and keeping an
/// exact sorted window with one insert and one delete per value costs two binary searches and
/// a third-of-the-window move each time — too slow for the per-observation budget.
///
/// Instead values arrive in batches of `batchSize` = capacity/16. When a batch is complete it
/// is sorted, and merged into the sorted window while the oldest batch (kept sorted from when it
/// arrived) is merged out. The window is therefore the last 16 complete batches — between
/// 15/16 and all of `capacity` values counting the batch still filling — and quantiles lag the
/// newest values by under 1/16 of the window. Cost per value: O(1) to push, plus its share of
/// one batch sort and one merge (two linear passes over the window), i.e. O(16 + batch) amortised;
/// nothing is allocated after init.
///
/// Warm-up: before the first batch is complete the window is empty, so the ensemble reads its
/// first residuals from the batch being filled (`sample`): while the window is empty that batch
/// is kept sorted by insertion on every push (at most `batchSize` moves, first batch only), and
/// its merge then finds it already sorted. A `growing` window then keeps only the newest half
/// of the batches seen until it is full (see `init`).
///
/// Thread-safety: not thread-safe; owned by one `EnsembleState`.
final class SlidingQuantiles {
    /// Batches in a full window.
    static let batchesPerWindow = 16

    let windows: Int
    let batchSize: Int
    let batchCount: Int
    /// Values in a full window (batchSize × batchCount ≤ the requested capacity).
    let windowSize: Int
    /// Per window: sorted values, the ring of sorted batches (oldest first from `oldest`), the
    /// batch being filled.
    private let sorted: UnsafeMutableBufferPointer<Double>
    private let batches: UnsafeMutableBufferPointer<Double>
    private let pending: UnsafeMutableBufferPointer<Double>
    /// One slot longer than a window, for the merge's end sentinel.
    private let scratch: UnsafeMutableBufferPointer<Double>
    private let counters: UnsafeMutableBufferPointer<Counters>

    private struct Counters {
        var sorted = 0
        var pending = 0
        /// Batches in the window, and the ring slot of the oldest.
        var fullBatches = 0
        var oldest = 0
        /// Batches ever completed (saturates at 2 × batchCount).
        var seen = 0
        /// Changes whenever what `sample` returns changes (see `generation`).
        var generation = 0
    }

    /// Whether the window holds only the newest half of the batches seen until it is full.
    let growing: Bool

    /// `growing`: keep the newest ⌈b/2⌉ of the b batches seen so far, up to the full window —
    /// for residuals whose spread shrinks as models warm up, so the first (largest) ones
    /// leave the window long before `capacity` values arrived. Otherwise every batch stays
    /// until the window is full.
    init(windows: Int, capacity: Int, growing: Bool = false) {
        self.windows = windows
        self.growing = growing
        batchSize = max(1, capacity / Self.batchesPerWindow)
        batchCount = max(1, capacity / batchSize)
        windowSize = batchSize * batchCount
        sorted = allocateFixed(windows * windowSize, 0.0)
        batches = allocateFixed(windows * windowSize, 0.0)
        pending = allocateFixed(windows * batchSize, 0.0)
        scratch = allocateFixed(windowSize + 1, 0.0)
        counters = allocateFixed(windows, Counters())
    }

    deinit {
        releaseFixed(sorted)
        releaseFixed(batches)
        releaseFixed(pending)
        releaseFixed(scratch)
        releaseFixed(counters)
    }

    /// Values in window `w`'s sorted part (excludes the batch being filled).
    @inline(__always)
    func count(_ w: Int) -> Int { counters[w].sorted }

    /// A number that changes whenever `sample(w)` changes (a push while the window is empty, a
    /// merge): what the ensemble reads from the sample can be kept until it does.
    @inline(__always)
    func generation(_ w: Int) -> Int { counters[w].generation }

    /// Appends finite `value` to window `w`.
    @inline(__always)
    func push(_ w: Int, _ value: Double) {
        let n = counters[w].pending
        let batch = pending.baseAddress! + w &* batchSize
        if counters[w].sorted == 0 {
            // Warm-up: keep the batch sorted so `sample` can read it.
            var j = n
            while j > 0 && batch[j &- 1] > value {
                batch[j] = batch[j &- 1]
                j &-= 1
            }
            batch[j] = value
            counters[w].generation &+= 1
        } else {
            batch[n] = value
        }
        counters[w].pending = n &+ 1
        if n &+ 1 == batchSize { mergeBatch(w) }
    }

    /// The values quantiles of window `w` are read from, ascending: the window, or while it is
    /// still empty, the batch being filled (the first residuals). Valid until the next push.
    @inline(__always)
    func sample(_ w: Int) -> UnsafeBufferPointer<Double> {
        let c = counters[w]
        if c.sorted > 0 {
            return UnsafeBufferPointer(start: sorted.baseAddress! + w &* windowSize, count: c.sorted)
        }
        return UnsafeBufferPointer(start: pending.baseAddress! + w &* batchSize, count: c.pending)
    }

    /// Type-7 (linear interpolation) sample quantile of window `w`, `p` in [0, 1].
    /// Requires `count(w) > 0`.
    @inline(__always)
    func quantile(_ w: Int, _ p: Double) -> Double {
        let n = counters[w].sorted
        let base = w &* windowSize
        let position = p * Double(n - 1)
        let lower = Int(position)
        if lower + 1 >= n { return sorted[base + n - 1] }
        let fraction = position - Double(lower)
        return sorted[base + lower] + fraction * (sorted[base + lower + 1] - sorted[base + lower])
    }

    /// Sorts the completed batch, merges it in and the oldest batch out (once the window is
    /// full), and files it in the batch ring.
    private func mergeBatch(_ w: Int) {
        var c = counters[w]
        let new = pending.baseAddress! + w * batchSize
        Self.insertionSort(new, batchSize)
        c.seen = min(c.seen + 1, 2 * batchCount)
        let keep = growing ? min(batchCount, (c.seen + 1) / 2) : batchCount
        let evict = c.fullBatches + 1 > keep
        let ring = batches.baseAddress! + w * windowSize
        let gone = ring + c.oldest * batchSize
        var free = c.oldest + c.fullBatches
        if free >= batchCount { free -= batchCount }
        c.sorted = Self.merge(sorted: sorted.baseAddress! + w * windowSize, count: c.sorted,
                              removing: gone, evict ? batchSize : 0,
                              inserting: new, batchSize, scratch: scratch.baseAddress!)
        // With the ring full the free slot is the evicted one, read by the merge above.
        copyDoubles(from: new, to: ring + free * batchSize, count: batchSize)
        if evict {
            c.oldest = c.oldest + 1 == batchCount ? 0 : c.oldest + 1
        } else {
            c.fullBatches += 1
        }
        c.pending = 0
        c.generation &+= 1
        counters[w] = c
    }

    /// old ∖ gone ∪ new, all ascending, every `gone` value present in `old`; `out` has one slot
    /// more than the window, for a sentinel. Two passes, each copying the
    /// run of values below its next edit with a simple loop (the branch predictor gets it right
    /// until the run ends) and then applying the edit: the first skips the old value equal to
    /// the next evicted one, the second inserts the next new value. That is about one
    /// mispredicted branch per edit — fewer than one pass deciding between two edit kinds, a
    /// binary search per edit, or a branch-free merge serialised on its index updates.
    /// Returns the new count.
    private static func merge(sorted old: UnsafeMutablePointer<Double>, count n: Int,
                              removing gone: UnsafeMutablePointer<Double>, _ e: Int,
                              inserting new: UnsafeMutablePointer<Double>, _ k: Int,
                              scratch out: UnsafeMutablePointer<Double>) -> Int {
        // Pass 1: old ∖ gone → out.
        var i = 0, o = 0
        for g in 0..<e {
            let key = gone[g]
            while old[i] < key {         // stops in range: key is present in old
                out[o] = old[i]
                o &+= 1
                i &+= 1
            }
            i &+= 1                      // old[i] == key: the evicted value, skip it
        }
        copyDoubles(from: old + i, to: out + o, count: n &- i)
        let kept = o &+ (n &- i)
        // Pass 2: out ∪ new → old. A +∞ sentinel after the survivors (values are finite) ends
        // each run without a bounds test.
        out[kept] = .infinity
        i = 0
        o = 0
        for j in 0..<k {
            let key = new[j]
            while out[i] < key {
                old[o] = out[i]
                o &+= 1
                i &+= 1
            }
            old[o] = key
            o &+= 1
        }
        copyDoubles(from: out + i, to: old + o, count: kept &- i)
        return kept &+ k
    }

    private static func insertionSort(_ values: UnsafeMutablePointer<Double>, _ n: Int) {
        guard n > 1 else { return }
        for i in 1..<n {
            let v = values[i]
            var j = i &- 1
            while j >= 0 && values[j] > v {
                values[j &+ 1] = values[j]
                j &-= 1
            }
            values[j &+ 1] = v
        }
    }
}

/// Block copy of non-overlapping doubles as one memcpy (`update(from:count:)` may loop per element).
@inline(__always)
private func copyDoubles(from source: UnsafeMutablePointer<Double>, to destination: UnsafeMutablePointer<Double>,
                         count: Int) {
    guard count > 0 else { return }
    UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count &* MemoryLayout<Double>.stride)
}

/// Type-7 quantile of an ascending, non-empty collection.
@inline(__always)
func sortedQuantile(_ values: ContiguousArray<Double>, _ p: Double) -> Double {
    let position = p * Double(values.count - 1)
    let lower = Int(position)
    let fraction = position - Double(lower)
    if lower + 1 >= values.count { return values[values.count - 1] }
    return values[lower] + fraction * (values[lower + 1] - values[lower])
}
