/// Counter totals of a histogram (or a delta between two totals).
///
/// Thread-safety: value type, `Sendable`.
public struct HistogramTotals: Sendable, Hashable {
    /// Read operations. Unit: operations.
    public var reads: UInt64
    /// Write operations. Unit: operations.
    public var writes: UInt64
    /// Bytes carried by reads. Unit: bytes.
    public var readBytes: UInt64
    /// Bytes carried by writes. Unit: bytes.
    public var writeBytes: UInt64

    /// Creates totals.
    public init(reads: UInt64 = 0, writes: UInt64 = 0, readBytes: UInt64 = 0, writeBytes: UInt64 = 0) {
        self.reads = reads
        self.writes = writes
        self.readBytes = readBytes
        self.writeBytes = writeBytes
    }

    /// Reads + writes. Unit: operations.
    public var operations: UInt64 { reads &+ writes }
    /// Read + written bytes. Unit: bytes.
    public var bytes: UInt64 { readBytes &+ writeBytes }

    /// What the counters grew by since `base`, or nil when any of them is below its value in
    /// `base` (a counter that went backwards: a new histogram, not traffic). The one rule by
    /// which cumulative totals become deltas (the collector's exact counts, the engine's
    /// operation totals).
    public func growth(since base: HistogramTotals) -> HistogramTotals? {
        guard reads >= base.reads, writes >= base.writes, readBytes >= base.readBytes, writeBytes >= base.writeBytes else { return nil }
        return HistogramTotals(reads: reads - base.reads, writes: writes - base.writes,
                               readBytes: readBytes - base.readBytes, writeBytes: writeBytes - base.writeBytes)
    }

    /// Adds `other`'s counters (wrapping, like the histogram's own counters).
    public static func += (lhs: inout HistogramTotals, rhs: HistogramTotals) {
        lhs.reads &+= rhs.reads
        lhs.writes &+= rhs.writes
        lhs.readBytes &+= rhs.readBytes
        lhs.writeBytes &+= rhs.writeBytes
    }
}

/// What "load" means for statistics.
///
/// Thread-safety: `Sendable` enum.
public enum LoadMetric: Sendable, Hashable {
    /// Reads + writes.
    case operations
    /// Reads only.
    case reads
    /// Writes only.
    case writes
    /// Bytes read + written.
    case bytes
    /// `perOperation × operations + perByte × bytes` (a cost model).
    case weighted(perOperation: Double, perByte: Double)
}

/// A plain-value copy of a ``KeyHistogram``'s counters, for pure planners.
///
/// Thread-safety: immutable value type, `Sendable`.
public struct HistogramSnapshot: Sendable, Hashable {
    /// The bucket layout (range, prefix, bucket bounds).
    public let map: KeyPositionMap
    /// Per-bucket read operations.
    public let reads: [UInt64]
    /// Per-bucket write operations.
    public let writes: [UInt64]
    /// Per-bucket bytes read.
    public let readBytes: [UInt64]
    /// Per-bucket bytes written.
    public let writeBytes: [UInt64]

    /// Creates a snapshot; all arrays must have `map.bucketCount` elements.
    public init(map: KeyPositionMap, reads: [UInt64], writes: [UInt64], readBytes: [UInt64], writeBytes: [UInt64]) {
        let n = map.bucketCount
        precondition(reads.count == n && writes.count == n && readBytes.count == n && writeBytes.count == n,
                     "counter arrays must have bucketCount elements")
        self.map = map
        self.reads = reads
        self.writes = writes
        self.readBytes = readBytes
        self.writeBytes = writeBytes
    }

    /// The counts added since `earlier` (a snapshot of the same histogram): the load of a
    /// recent window rather than of the histogram's whole life. Nil when the maps differ.
    public func since(_ earlier: HistogramSnapshot) -> HistogramSnapshot? {
        guard earlier.map == map else { return nil }
        func d(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] { zip(a, b).map { $0 >= $1 ? $0 - $1 : 0 } }
        return HistogramSnapshot(map: map, reads: d(reads, earlier.reads), writes: d(writes, earlier.writes),
                                 readBytes: d(readBytes, earlier.readBytes), writeBytes: d(writeBytes, earlier.writeBytes))
    }

    /// An empty snapshot over `map`.
    public init(emptyOver map: KeyPositionMap) {
        let z = [UInt64](repeating: 0, count: map.bucketCount)
        self.init(map: map, reads: z, writes: z, readBytes: z, writeBytes: z)
    }

    /// Number of buckets.
    public var bucketCount: Int { map.bucketCount }

    /// Sum of every counter.
    public var totals: HistogramTotals {
        HistogramTotals(reads: reads.reduce(0, &+), writes: writes.reduce(0, &+),
                        readBytes: readBytes.reduce(0, &+), writeBytes: writeBytes.reduce(0, &+))
    }

    /// Per-bucket load under `metric`.
    public func load(_ metric: LoadMetric) -> [Double] {
        (0..<bucketCount).map { load(ofBucket: $0, metric) }
    }

    /// Load of bucket `i` under `metric`.
    public func load(ofBucket i: Int, _ metric: LoadMetric) -> Double {
        switch metric {
        case .operations: return Double(reads[i] &+ writes[i])
        case .reads: return Double(reads[i])
        case .writes: return Double(writes[i])
        case .bytes: return Double(readBytes[i] &+ writeBytes[i])
        case let .weighted(perOperation, perByte):
            return perOperation * Double(reads[i] &+ writes[i]) + perByte * Double(readBytes[i] &+ writeBytes[i])
        }
    }

    /// The key interval bucket `i` covers (exact: bucket `i` counted exactly
    /// the keys of this interval).
    public func interval(ofBucket i: Int) -> KeyInterval {
        map.interval(ofBucket: i)
    }
}
