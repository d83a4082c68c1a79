/// The kind of an engine operation.
///
/// Thread-safety: `Sendable` enum.
public enum OperationType: UInt8, Sendable, Hashable, CaseIterable, BitwiseCopyable {
    /// Insert a new key.
    case store = 0
    /// Point read.
    case retrieve = 1
    /// Update an existing key.
    case modify = 2
    /// Delete a key.
    case delete = 3
    /// Range read (the vector's key is the scan's start key).
    case scan = 4

    /// Whether the operation reads (retrieve, scan) rather than writes.
    @inlinable
    public var isRead: Bool { self == .retrieve || self == .scan }

    /// The histogram counter the operation is counted in.
    @inlinable
    public var histogramAccess: HistogramAccess { isRead ? .read : .write }
}

/// One sampled operation, as pushed into a per-thread ring and folded by the
/// collector. 56 bytes, trivially copyable.
///
/// Thread-safety: value type, `Sendable`.
public struct WorkloadVector: Sendable, Hashable, BitwiseCopyable {
    /// The partition the operation hit.
    public var partition: UInt64
    /// 64-bit hash of the full key (``KeyHash/hash(_:)``).
    public var keyHash: UInt64
    /// The key's first 8 bytes as a big-endian integer, zero-padded.
    public var keyPrefix: UInt64
    /// Engine-clock time of the operation. Unit: nanoseconds.
    public var timestamp: UInt64
    /// The client (session, tenant) that issued the operation.
    public var clientID: UInt64
    /// Payload bytes of the operation. Unit: bytes.
    public var bytes: UInt64
    /// Number of operations this sample stands for (the sampling period when it
    /// was taken). Unit: operations.
    public var weight: UInt32
    /// The operation type.
    public var type: OperationType

    /// Creates a vector.
    public init(type: OperationType, partition: UInt64, keyHash: UInt64, keyPrefix: UInt64,
                timestamp: UInt64, clientID: UInt64, bytes: UInt64, weight: UInt32 = 1) {
        self.partition = partition
        self.keyHash = keyHash
        self.keyPrefix = keyPrefix
        self.timestamp = timestamp
        self.clientID = clientID
        self.bytes = bytes
        self.weight = weight
        self.type = type
    }

    /// Creates a vector for `key`, computing its hash and prefix.
    public init(type: OperationType, partition: UInt64, key: [UInt8], timestamp: UInt64,
                clientID: UInt64, bytes: UInt64, weight: UInt32 = 1) {
        let (h, p) = key.withUnsafeBytes { (KeyHash.hash($0), KeyPositionMap.window($0, from: 0)) }
        self.init(type: type, partition: partition, keyHash: h, keyPrefix: p, timestamp: timestamp,
                  clientID: clientID, bytes: bytes, weight: weight)
    }
}

/// The 64-bit key hash used by workload vectors and heavy hitters.
///
/// Thread-safety: stateless, pure functions.
public enum KeyHash {
    /// A fast, allocation-free 64-bit hash of `key` (8 bytes per step with a
    /// multiply-xorshift mix and a murmur3 finaliser). Not cryptographic.
    public static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        let k1: UInt64 = 0x9E37_79B9_7F4A_7C15
        let k2: UInt64 = 0xBF58_476D_1CE4_E5B9
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ (UInt64(truncatingIfNeeded: key.count) &* k1)
        var i = 0
        let n = key.count
        while i &+ 8 <= n {
            let w = key.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ (w &* k2)).rotatedLeft(by: 31) &* k1
            i &+= 8
        }
        if i < n {
            var w: UInt64 = 0
            var s: UInt64 = 0
            while i < n {
                w |= UInt64(key[i]) &<< s
                s &+= 8
                i &+= 1
            }
            h = (h ^ (w &* k2)).rotatedLeft(by: 31) &* k1
        }
        return mix(h)
    }

    /// Hash of a `[UInt8]` key.
    public static func hash(_ key: [UInt8]) -> UInt64 {
        key.withUnsafeBytes { hash($0) }
    }

    /// murmur3 64-bit finaliser (a bijection with full avalanche).
    @inlinable
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        z = (z ^ (z >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return z ^ (z >> 33)
    }
}

extension UInt64 {
    @inline(__always)
    func rotatedLeft(by n: UInt64) -> UInt64 { (self &<< n) | (self &>> (64 &- n)) }
}
