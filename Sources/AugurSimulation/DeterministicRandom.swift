import RealModule

/// SplitMix64: a tiny, fast, seedable generator; identical sequences on every platform.
///
/// Thread-safety: value type; not shared (each user owns its copy).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// The SplitMix64 finalizer: a stateless hash of `x`.
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` from 53 random bits.
    public static func unit(_ bits: UInt64) -> Double { Double(bits >> 11) * 0x1p-53 }

    /// A standard normal variate from two hashes (Box–Muller), deterministic in its inputs.
    public static func normal(_ a: UInt64, _ b: UInt64) -> Double {
        let u1 = max(unit(a), 0x1p-53)
        let u2 = unit(b)
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2)
    }
}
