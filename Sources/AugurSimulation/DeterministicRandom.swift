import AugurSys
import RealModule
import AugurStats


/// Hash-based variates for the simulator: deterministic in their inputs.
extension SplitMix64 {
    /// Uniform in `[0, 1)` from 53 random bits.
    static func unit(_ bits: UInt64) -> Double { Double(bits >> 11) * 0x1p-53 }

    /// A standard normal variate from two hashes (Box–Muller), deterministic in its inputs.
    static func normal(_ a: UInt64, _ b: UInt64) -> Double {
        let u1 = max(unit(a), 0x1p-53)
        let u2 = unit(b)
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2)
    }
}
