// Transcendental functions from swift-numerics' RealModule (pure computation, no I/O, no libc).
import RealModule

/// Standard normal helpers for turning forecast intervals into exceedance probabilities.
///
/// Thread-safety: stateless.
public enum NormalDistribution {
    /// Two-sided z value of a central interval at `level` (0.8 → 1.2816, 0.95 → 1.96); other
    /// levels are interpolated between a few tabulated points.
    public static func z(level: Double) -> Double {
        if level == 0.95 { return 1.9600 }
        if level == 0.8 { return 1.2816 }
        let table = zTable
        if level <= table[0].0 { return table[0].1 }
        for i in 1..<table.count where level <= table[i].0 {
            let (l0, z0) = table[i - 1]
            let (l1, z1) = table[i]
            return z0 + (z1 - z0) * (level - l0) / (l1 - l0)
        }
        return table.last!.1
    }

    private static let zTable: [(Double, Double)] = [(0.5, 0.6745), (0.8, 1.2816), (0.9, 1.6449), (0.95, 1.9600), (0.99, 2.5758)]

    /// P(X > threshold) for X normal with `mean` and standard deviation `sigma`: the chance a
    /// load forecast as `mean` ± `sigma` crosses `threshold` (scores, split and merge rules).
    public static func exceedance(of threshold: Double, mean: Double, sigma: Double) -> Double {
        1 - cdf((threshold - mean) / sigma)
    }

    /// Φ(x), the standard normal CDF, via the C library's `erfc`.
    public static func cdf(_ x: Double) -> Double {
        if x.isNaN { return 0.5 }
        if x > 9 { return 1 }
        if x < -9 { return 0 }
        return 0.5 * Double.erfc(-x / 2.0.squareRoot())
    }
}
