import Foundation
@testable import AugurForecast
import AugurStats

/// Deterministic generator for tests (SplitMix64); every test prints its seed on failure.
struct SeededRandom {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [0, 1).
    mutating func uniform() -> Double { generator.unit() }

    /// Standard normal (Box-Muller).
    mutating func gaussian() -> Double {
        let u1 = max(uniform(), 1e-300)
        let u2 = uniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// Uniform in [a, b).
    mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * uniform() }

    /// Poisson(λ) by multiplying uniforms (Knuth): O(λ) draws, fine for the λ ≤ a few hundred
    /// the tests use.
    mutating func poisson(_ lambda: Double) -> Double {
        let limit = Foundation.exp(-lambda)
        var k = 0.0
        var product = uniform()
        while product > limit {
            k += 1
            product *= uniform()
        }
        return k
    }
}

/// Forecasts for steps 1...steps from any online model.
func path(_ model: some OnlineForecastModel, steps: Int) -> [Double] {
    [Double](unsafeUninitializedCapacity: steps) { buffer, count in
        model.forecast(into: UnsafeMutableBufferPointer(rebasing: buffer[0..<steps]))
        count = steps
    }
}

/// Forecasts for steps 1...steps from a Holt-Winters bank's best member.
func path(_ bank: HoltWintersBank, steps: Int) -> [Double] {
    [Double](unsafeUninitializedCapacity: steps) { buffer, count in
        bank.forecast(into: UnsafeMutableBufferPointer(rebasing: buffer[0..<steps]))
        count = steps
    }
}

/// Daily (period p1) and weekly (period p2) pattern plus a level, with optional noise.
func doubleSeasonal(count: Int, p1: Int = 24, p2: Int = 168, noise: Double = 0, seed: UInt64 = 1) -> [Double] {
    var rng = SeededRandom(seed: seed)
    return (0..<count).map { t in
        let daily = 10 * Foundation.sin(2 * Double.pi * Double(t % p1) / Double(p1))
            + 4 * Foundation.cos(4 * Double.pi * Double(t % p1) / Double(p1))
        let weekly = (t % p2) >= 5 * p1 ? -8.0 : 3 * Foundation.sin(2 * Double.pi * Double(t % p2) / Double(p2))
        return 100 + daily + weekly + noise * rng.gaussian()
    }
}

func isClose(_ a: Double, _ b: Double, tolerance: Double) -> Bool {
    abs(a - b) <= tolerance * max(1, abs(a), abs(b))
}
