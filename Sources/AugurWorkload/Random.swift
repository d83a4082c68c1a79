import AugurStats
/// Seedable pseudo-random numbers for workload generation.
///
/// Every generator in this module takes its randomness from a `WorkloadRandom` so a run is
/// reproducible from its seed (each runner thread derives its own stream from the run's seed).
public struct WorkloadRandom: RandomNumberGenerator, Sendable {
    // xoshiro256**: fast, 256-bit state, good statistical quality.
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A stream for `seed`; `stream` selects an independent sub-stream (one per thread).
    public init(seed: UInt64, stream: UInt64 = 0) {
        var sm = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A double uniform in [0, 1).
    @inline(__always)
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// An integer uniform in `0..<bound` (`bound` > 0), without modulo bias.
    @inline(__always)
    public mutating func nextInt(below bound: UInt64) -> UInt64 {
        precondition(bound > 0)
        let m = next().multipliedFullWidth(by: bound)
        var high = m.high
        var low = m.low
        if low < bound {
            let threshold = (0 &- bound) % bound
            while low < threshold {
                let m2 = next().multipliedFullWidth(by: bound)
                high = m2.high
                low = m2.low
            }
        }
        return high
    }
}

/// YCSB's 64-bit FNV-1a-style hash of a long (`Utils.fnvhash64`): used to scramble zipfian
/// ranks over the key space and to turn insert order into hashed key order.
@inline(__always)
public func fnvHash64(_ value: UInt64) -> UInt64 {
    var v = value
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for _ in 0..<8 {
        let octet = v & 0xFF
        v >>= 8
        hash ^= octet
        hash = hash &* 1_099_511_628_211
    }
    // Java's Math.abs on the signed value (Long.MIN_VALUE stays as is, then is taken unsigned).
    let signed = Int64(bitPattern: hash)
    return signed < 0 && signed != .min ? UInt64(-signed) : UInt64(bitPattern: signed)
}
