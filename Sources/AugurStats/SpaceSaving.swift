/// Weighted Space-Saving summary (Metwally, Agrawal, El Abbadi 2005) over key
/// hashes: `capacity` counters kept in a min-heap, O(log capacity) per update.
///
/// Guarantees, with `W` the total weight added and `min` = ``minimumCount``
/// (`0` while fewer than `capacity` distinct keys were seen, else the smallest
/// counter, and always `≤ W / capacity`):
/// - a monitored key's true weight lies in `[count − error, count]`;
/// - an unmonitored key's true weight is at most `min`;
/// - hence every key with true weight `> W / capacity` is monitored.
///
/// Thread-safety: value type, `Sendable`; mutate from one thread at a time.
public struct SpaceSavingSummary: Sendable {
    /// One monitored key.
    ///
    /// Thread-safety: value type, `Sendable`.
    public struct Entry: Sendable, Hashable {
        /// The key's 64-bit hash (the identity counted).
        public var keyHash: UInt64
        /// The key's first 8 bytes, big-endian (last seen for this hash).
        public var keyPrefix: UInt64
        /// Overestimate of the key's weight. Unit: operations (weighted).
        public var count: UInt64
        /// Maximum overestimation: true weight `≥ count − error`.
        public var error: UInt64
    }

    /// Number of counters. Unit: keys.
    public let capacity: Int
    /// Total weight added. Unit: operations (weighted).
    public private(set) var totalWeight: UInt64 = 0

    private var heap: [Entry] = []
    private var position: [UInt64: Int] = [:]

    /// Creates an empty summary with `capacity` counters (at least 1).
    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        heap.reserveCapacity(self.capacity)
        position.reserveCapacity(self.capacity)
    }

    /// Adds `weight` occurrences of the key.
    public mutating func add(keyHash: UInt64, keyPrefix: UInt64, weight: UInt64 = 1) {
        guard weight > 0 else { return }
        totalWeight &+= weight
        if let i = position[keyHash] {
            heap[i].count &+= weight
            heap[i].keyPrefix = keyPrefix
            siftDown(i)
        } else if heap.count < capacity {
            heap.append(Entry(keyHash: keyHash, keyPrefix: keyPrefix, count: weight, error: 0))
            position[keyHash] = heap.count - 1
            siftUp(heap.count - 1)
        } else {
            let evicted = heap[0]
            position[evicted.keyHash] = nil
            heap[0] = Entry(keyHash: keyHash, keyPrefix: keyPrefix, count: evicted.count &+ weight, error: evicted.count)
            position[keyHash] = 0
            siftDown(0)
        }
    }

    /// Upper bound on the weight of any key not in the summary.
    public var minimumCount: UInt64 { heap.count < capacity ? 0 : heap[0].count }

    /// Monitored keys, largest count first.
    public var entries: [Entry] {
        heap.sorted { $0.count != $1.count ? $0.count > $1.count : $0.keyHash < $1.keyHash }
    }

    /// The `k` largest entries.
    public func top(_ k: Int) -> [Entry] { Array(entries.prefix(max(0, k))) }

    /// The entry for `keyHash`, if monitored.
    public func entry(for keyHash: UInt64) -> Entry? {
        position[keyHash].map { heap[$0] }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        position[heap[a].keyHash] = a
        position[heap[b].keyHash] = b
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].count < heap[parent].count else { return }
            swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var smallest = i
            if l < n, heap[l].count < heap[smallest].count { smallest = l }
            if r < n, heap[r].count < heap[smallest].count { smallest = r }
            if smallest == i { return }
            swapAt(i, smallest)
            i = smallest
        }
    }
}

/// One heavy-hitter key of a partition with its guaranteed error bound.
///
/// Counts are in weighted sampled operations (each sampled vector stands for
/// `weight` operations), so they bound the *sampled* stream exactly; against the
/// true stream add the sampling error (relative standard deviation about
/// `1 / sqrt(count / weight)`).
///
/// Thread-safety: value type, `Sendable`.
public struct HeavyHitter: Sendable, Hashable {
    /// The key's 64-bit hash.
    public var keyHash: UInt64
    /// The key's first 8 bytes, big-endian.
    public var keyPrefix: UInt64
    /// Upper bound of the key's load. Unit: operations.
    public var estimatedCount: UInt64
    /// Lower bound of the key's load. Unit: operations.
    public var guaranteedCount: UInt64
    /// `estimatedCount / total load`.
    public var loadFraction: Double
    /// `guaranteedCount / total load`.
    public var guaranteedLoadFraction: Double
    /// Whether ``guaranteedLoadFraction`` exceeds ``CollectorOptions/singleKeyHotFraction``:
    /// a single hot key that no split can fix.
    public var isHotKey: Bool

    /// Maximum overestimation, `estimatedCount − guaranteedCount`.
    public var errorBound: UInt64 { estimatedCount - guaranteedCount }
}

/// Heavy hitters of one partition over the current and previous heavy-hitter epoch.
///
/// Thread-safety: value type, `Sendable`.
public struct HeavyHitterReport: Sendable, Hashable {
    /// The partition.
    public var partition: UInt64
    /// Total (weighted) load covered by the summaries. Unit: operations.
    public var totalWeight: UInt64
    /// Number of epochs covered (1 or 2).
    public var epochsCovered: Int
    /// Any key not in ``hitters`` carries at most this load. Unit: operations.
    public var unmonitoredBound: UInt64
    /// The top keys by ``HeavyHitter/estimatedCount``.
    public var hitters: [HeavyHitter]
    /// The heaviest key flagged as a hot key no split can fix, if any.
    public var hotKey: HeavyHitter?
}
