// SplitMix64 (Steele, Lea, Flood 2014): the project's one seedable 64-bit generator, for
// seeded simulations, planning searches, benchmarks and tests. Tiny and fast, with identical
// sequences on every platform; not for anything that needs unpredictability. It lives in
// AugurStats, the lowest module (pure, no dependencies), so every other module — the pure
// planner and forecaster as well as AugurSys — uses this one.

/// Deterministic 64-bit generator (SplitMix64) for seeded simulations and tests.
///
/// Thread-safety: value type; each user owns its copy.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// Uniform in `[0, 1)` from the next 53 random bits.
    @inlinable
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// The SplitMix64 finalizer: a stateless hash of `x`.
    @inlinable
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
