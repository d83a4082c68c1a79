// A table's partition keys (PartitioningStrategy): how a user key becomes the key the engine
// stores, routes and cuts ranges over, and back. Pure; the Table's entry points call it, so
// everything below them — WAL, memtables, segments, reshards, the controller's histograms —
// sees only partition keys and needs nothing per strategy.
//
//   range:      key
//   hash:       bucket(2, big-endian) ‖ key                  bucket = CRC-32C(key) mod B
//   composite:  key[0..<P] ‖ bucket(2) ‖ key[P...]           bucket = CRC-32C(key[P...]) mod B
//
// CRC-32C because an independent reader (docs/FORMAT.md) already has it and it never changes:
// the bucket of a stored record must be the same in every version.
import AugurPlanner
import AugurSys

public typealias PartitioningStrategy = AugurPlanner.PartitioningStrategy

struct KeyLayout: Sendable, Equatable {
    let strategy: PartitioningStrategy
    /// Bytes a partition key adds to the user key.
    let overhead: Int
    let prefixLength: Int
    let buckets: Int

    init(_ strategy: PartitioningStrategy) {
        self.strategy = strategy
        overhead = strategy == .range ? 0 : 2
        prefixLength = strategy.prefixLength
        buckets = strategy.buckets
    }

    static let range = KeyLayout(.range)

    var isIdentity: Bool { overhead == 0 }

    /// The bucket of a user key (of at least `prefixLength` bytes).
    @inline(__always)
    func bucket(of key: UnsafeRawBufferPointer) -> Int {
        let rest = UnsafeRawBufferPointer(rebasing: key[prefixLength...])
        return Int(CRC32C.checksum(rest) % UInt32(buckets))
    }

    /// The user-key checks that depend on the layout, with the user's sizes and limits.
    @inline(__always)
    func check(_ key: UnsafeRawBufferPointer, maxKeySize: Int) throws(AugurError) {
        if key.count == 0 { throw .emptyKey }
        if key.count > maxKeySize - overhead { throw .keyTooLarge(size: key.count, limit: maxKeySize - overhead) }
        if key.count < prefixLength { throw .keyTooShort(size: key.count, minimum: prefixLength) }
    }

    /// Writes the partition key of `key` into `out` (`key.count + overhead` bytes).
    @inline(__always)
    func encode(_ key: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        let b = bucket(of: key)
        let p = prefixLength
        if p > 0 { out.baseAddress!.copyMemory(from: key.baseAddress!, byteCount: p) }
        out[p] = UInt8(truncatingIfNeeded: b >> 8)
        out[p + 1] = UInt8(truncatingIfNeeded: b)
        if key.count > p { (out.baseAddress! + p + 2).copyMemory(from: key.baseAddress! + p, byteCount: key.count - p) }
    }

    /// Calls `body` with the partition key of `key`, after checking it; no heap allocation.
    @inline(__always)
    func withPartitionKey<R>(_ key: UnsafeRawBufferPointer, maxKeySize: Int,
                             _ body: (UnsafeRawBufferPointer) throws(AugurError) -> R) throws(AugurError) -> R {
        if isIdentity { return try body(key) }
        try check(key, maxKeySize: maxKeySize)
        return try withUnsafeTemporaryAllocation(byteCount: key.count + overhead, alignment: 1) { out in
            encode(key, into: out)
            return Result { () throws(AugurError) in try body(UnsafeRawBufferPointer(out)) }
        }.get()
    }

    /// The partition key of `key`, after checking it.
    func partitionKey(_ key: [UInt8], maxKeySize: Int) throws(AugurError) -> [UInt8] {
        if isIdentity { return key }
        return try key.withUnsafeBytes { k in
            Result { () throws(AugurError) in
                try check(k, maxKeySize: maxKeySize)
                return [UInt8](unsafeUninitializedCapacity: k.count + overhead) { out, n in
                    encode(k, into: UnsafeMutableRawBufferPointer(out))
                    n = k.count + overhead
                }
            }
        }.get()
    }

    /// The user key of a partition key the table stored.
    func userKey(_ pk: UnsafeRawBufferPointer) -> [UInt8] {
        if isIdentity { return Array(pk) }
        let p = prefixLength
        var key = [UInt8](repeating: 0, count: pk.count - overhead)
        key.withUnsafeMutableBytes { out in
            if p > 0 { out.baseAddress!.copyMemory(from: pk.baseAddress!, byteCount: p) }
            if pk.count > p + 2 { (out.baseAddress! + p).copyMemory(from: pk.baseAddress! + p + 2, byteCount: pk.count - p - 2) }
        }
        return key
    }

    func userKey(_ pk: [UInt8]) -> [UInt8] { pk.withUnsafeBytes { userKey($0) } }
}
