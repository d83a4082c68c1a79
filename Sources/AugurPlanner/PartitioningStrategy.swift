/// How a table places its keys on partitions (issue 18, part 1).
///
/// Every strategy ends in ordered key ranges: the engine stores each record under a *partition
/// key* and cuts the partition-key space into ranges, so split, merge and boundary moves are the
/// same machinery for all three. What differs is the partition key:
///
/// - `.range`: the key itself. Neighbouring keys share a partition, so a scan reads one or a
///   few partitions, and sequential inserts all land on the last one.
/// - `.hash(buckets:)`: a two-byte bucket number, `CRC-32C(key) mod buckets`, then the key —
///   CockroachDB's hash-sharded indexes. Sequential inserts spread evenly over the buckets;
///   a partition holds a range of buckets (or part of one, after a load split inside it); a scan
///   reads every bucket and merges them in key order.
/// - `.composite(prefixLength:buckets:)`: the key's first `prefixLength` bytes (a tenant, a time
///   bucket), then the bucket of the rest of the key, then the rest. Ranges over prefixes, hash
///   within each: a scan inside one prefix merges that prefix's buckets only. Keys must be at
///   least `prefixLength` bytes long.
///
/// The layout is fixed when the table is created and kept in the manifest (docs/FORMAT.md).
///
/// Thread-safety: a plain value; `Sendable`.
public enum PartitioningStrategy: Sendable, Hashable, CustomStringConvertible {
    case range
    case hash(buckets: Int)
    case composite(prefixLength: Int, buckets: Int)

    /// Buckets when none are named: CockroachDB's default bucket count for hash-sharded indexes.
    public static let defaultBuckets = 16
    /// Limits of `buckets`: a scan merges one cursor per bucket.
    public static let bucketLimit = 2...256
    /// Limits of `prefixLength`.
    public static let prefixLengthLimit = 1...64

    /// `range`, `hash` or `composite`.
    public var kind: String {
        switch self {
        case .range: "range"
        case .hash: "hash"
        case .composite: "composite"
        }
    }

    /// Buckets per prefix (1 for `.range`).
    public var buckets: Int {
        switch self {
        case .range: 1
        case .hash(let b), .composite(_, let b): b
        }
    }

    /// Bytes of the key ranged over before the bucket (0 for `.hash`, the whole key for `.range`).
    public var prefixLength: Int {
        if case .composite(let p, _) = self { return p }
        return 0
    }

    /// `range`, `hash:16`, `composite:4:16` — the form `init(parsing:)` reads.
    public var description: String {
        switch self {
        case .range: "range"
        case .hash(let b): "hash:\(b)"
        case .composite(let p, let b): "composite:\(p):\(b)"
        }
    }

    /// Reads `range`, `hash`, `hash:B`, `composite:P` or `composite:P:B` (B defaults to
    /// `defaultBuckets`); nil when the text has none of these forms. Limits are checked by the
    /// engine when a table is created, so an out-of-range number is named there.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let numbers = parts.dropFirst().map { Int($0) }
        if numbers.contains(where: { $0 == nil }) { return nil }
        let n = numbers.map { $0! }
        switch (parts[0], n.count) {
        case ("range", 0): self = .range
        case ("hash", 0): self = .hash(buckets: Self.defaultBuckets)
        case ("hash", 1): self = .hash(buckets: n[0])
        case ("composite", 1): self = .composite(prefixLength: n[0], buckets: Self.defaultBuckets)
        case ("composite", 2): self = .composite(prefixLength: n[0], buckets: n[1])
        default: return nil
        }
    }

    /// The two bytes that start bucket `b`'s partition keys (after the prefix): u16 big-endian.
    public static func bucketBytes(_ b: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: b >> 8), UInt8(truncatingIfNeeded: b)] }

    /// Partition keys cutting a hash table into `count` equal bucket ranges (cut i starts bucket
    /// i·B/count; duplicates dropped when count exceeds B); none for the other strategies.
    public func bucketCuts(count: Int) -> [[UInt8]] {
        guard case .hash(let b) = self, count > 1 else { return [] }
        return Set((1..<count).map { $0 * b / count }).filter { $0 > 0 }.sorted().map(Self.bucketBytes)
    }

    /// Why the strategy's numbers are out of their limits, or nil.
    public var problem: String? {
        if case .composite(let p, _) = self, !Self.prefixLengthLimit.contains(p) {
            return "prefixLength \(p) must be in \(Self.prefixLengthLimit.lowerBound)...\(Self.prefixLengthLimit.upperBound)"
        }
        if self != .range, !Self.bucketLimit.contains(buckets) {
            return "buckets \(buckets) must be in \(Self.bucketLimit.lowerBound)...\(Self.bucketLimit.upperBound)"
        }
        return nil
    }
}
