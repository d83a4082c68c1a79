import Foundation
import Testing
@testable import AugurForecast

@Suite("Interval bounds from few residuals")
struct IntervalEstimatorTests {
    static func bounds(_ residuals: [Double], floorScale: Double = 0) -> IntervalEstimator.Bounds {
        residuals.sorted().withUnsafeBufferPointer { IntervalEstimator().bounds(sorted: $0, floorScale: floorScale) }
    }

    @Test func studentTQuantilesMatchTheTables() {
        // (ν, t₀.₉, t₀.₉₇₅) from standard tables.
        let table: [(Int, Double, Double)] = [(1, 3.078, 12.706), (2, 1.886, 4.303), (3, 1.638, 3.182),
                                              (5, 1.476, 2.571), (7, 1.415, 2.365), (10, 1.372, 2.228),
                                              (20, 1.325, 2.086), (38, 1.304, 2.024)]
        for (nu, t90, t975) in table {
            #expect(abs(studentTQuantile(0.9, degreesOfFreedom: nu) - t90) < 0.002, "ν \(nu)")
            #expect(abs(studentTQuantile(0.975, degreesOfFreedom: nu) - t975) < 0.004, "ν \(nu)")
        }
    }

    @Test func conformalBoundsExistFromNineAndThirtyNineResiduals() {
        #expect(!IntervalEstimator.conformalExists(n: 8, 0.1) && IntervalEstimator.conformalExists(n: 9, 0.1))
        #expect(!IntervalEstimator.conformalExists(n: 38, 0.025) && IntervalEstimator.conformalExists(n: 39, 0.025))
    }

    /// Draw n residuals and one more from the same distribution, many times: the share of new
    /// ones inside the bounds is the coverage a forecaster with n residuals gets.
    static func coverage(n: Int, seed: UInt64, repeats: Int, draw: (inout SeededRandom) -> Double) -> (Double, Double) {
        var rng = SeededRandom(seed: seed)
        var hits80 = 0
        var hits95 = 0
        for _ in 0..<repeats {
            let b = bounds((0..<n).map { _ in draw(&rng) })
            let next = draw(&rng)
            if b.lower80 <= next && next <= b.upper80 { hits80 += 1 }
            if b.lower95 <= next && next <= b.upper95 { hits95 += 1 }
        }
        return (Double(hits80) / Double(repeats), Double(hits95) / Double(repeats))
    }

    @Test(arguments: [3, 8, 12, 20, 38, 39, 40, 60])
    func normalResidualsAreCoveredAtTheNominalRateForAnyCount(n: Int) {
        let seed = UInt64(100 + n)
        let (c80, c95) = Self.coverage(n: n, seed: seed, repeats: 5_000) { $0.gaussian() }
        // Binomial standard error over 5,000 repeats: 0.6 and 0.3 points.
        #expect(abs(c80 - 0.8) < 0.025, "seed \(seed) n \(n): 80% covered \(c80)")
        #expect(abs(c95 - 0.95) < 0.012, "seed \(seed) n \(n): 95% covered \(c95)")
    }

    @Test(arguments: [39, 60, 200])
    func skewedResidualsAreCoveredOnceTheConformalBoundsExist(n: Int) {
        // Exponential residuals: a symmetric rule would miss the long tail; order statistics do not.
        let seed = UInt64(300 + n)
        let (c80, c95) = Self.coverage(n: n, seed: seed, repeats: 5_000) { -Foundation.log(max($0.uniform(), 1e-300)) }
        #expect(abs(c80 - 0.8) < 0.025, "seed \(seed) n \(n): 80% covered \(c80)")
        #expect(abs(c95 - 0.95) < 0.012, "seed \(seed) n \(n): 95% covered \(c95)")
    }

    @Test func typeSixNotTypeSevenAtForty() {
        // Of 40 sorted values, type 7 would read positions 1.975 and 39.025 (1-based), which
        // cover about 37/41 ≈ 90%; type 6 reads 0.025·41 = 1.025 and 0.975·41 = 39.975: 95%.
        let residuals = (1...40).map(Double.init)
        let b = Self.bounds(residuals)
        #expect(isClose(b.upper95, 39 + 0.975, tolerance: 1e-12), "\(b)")
        #expect(isClose(b.lower95, 1 + 0.025, tolerance: 1e-12), "\(b)")
        #expect(isClose(b.upper80, 36.9, tolerance: 1e-12) && isClose(b.lower80, 4.1, tolerance: 1e-12), "\(b)")
    }

    @Test func identicalResidualsGetTheFloorAndBiasIsKept() {
        let flat = Self.bounds(Array(repeating: 0, count: 12), floorScale: 2)
        #expect(isClose(flat.upper80 - flat.lower80, 2 * IntervalEstimator.z80 * 2, tolerance: 1e-12))
        #expect(isClose(flat.upper95 - flat.lower95, 2 * IntervalEstimator.z95 * 2, tolerance: 1e-12))
        #expect(flat.lower80 == -flat.upper80)
        // Residuals all near +10 (the forecast runs 10 low): widened about 10, not about 0.
        let biased = Self.bounds((0..<50).map { 10 + 0.001 * Double($0) }, floorScale: 1)
        #expect(biased.lower95 > 7 && biased.upper95 < 13 && biased.lower95 < biased.lower80, "\(biased)")
        // A wide sample is not touched by a small floor.
        let wide = Self.bounds((0..<50).map { Double($0) - 25 }, floorScale: 0.1)
        #expect(wide == Self.bounds((0..<50).map { Double($0) - 25 }, floorScale: 0))
    }

    @Test func longerStepsScaleAboutThePoint() {
        let b = IntervalEstimator.Bounds(lower80: -2, upper80: 1, lower95: -4, upper95: 3)
        #expect(b.scaled(by: 2) == IntervalEstimator.Bounds(lower80: -4, upper80: 2, lower95: -8, upper95: 6))
    }
}
