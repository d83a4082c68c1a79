import Foundation
import Testing
@testable import AugurForecast

/// Statistical test of the early intervals: many seeded synthetic series, coverage pooled over
/// every forecast issued from the 12th observation on. Deterministic (fixed seeds), and with
/// 100 series per family a pooled rate moves by about a point between seed sets, far inside
/// the tolerance.
@Suite("Early intervals cover at their nominal rates")
struct EarlyCoverageTests {
    enum Family: Int, CaseIterable, CustomStringConvertible {
        case gaussian, poisson, levelShift
        var description: String { ["gaussian", "poisson", "level shift"][rawValue] }
    }

    /// One series of `family`, all parameters drawn from `seed`: a level, a cycle of period
    /// 8–40 of 0–4 σ, and
    /// * gaussian: normal noise of 2–10% of the level;
    /// * poisson: counts with mean level·(1 + c·sin), level 3–150;
    /// * levelShift: gaussian plus a shift of ±3–8 σ somewhere in observations 40–150.
    static func series(_ family: Family, seed: UInt64, count: Int) -> [Double] {
        var rng = SeededRandom(seed: seed &* 7919 &+ UInt64(family.rawValue))
        let period = Double(Int(rng.uniform(8, 40)))
        let phase = rng.uniform(0, 2 * Double.pi)
        let cycle = { (t: Int) in Foundation.sin(2 * Double.pi * Double(t) / period + phase) }
        switch family {
        case .gaussian, .levelShift:
            let level = rng.uniform(20, 500)
            let sigma = rng.uniform(0.02, 0.1) * level
            let amplitude = rng.uniform(0, 4) * sigma
            let shiftAt = family == .levelShift ? Int(rng.uniform(40, 150)) : count
            let shift = (rng.uniform() < 0.5 ? -1.0 : 1.0) * rng.uniform(3, 8) * sigma
            return (0..<count).map { t in
                level + amplitude * cycle(t) + sigma * rng.gaussian() + (t >= shiftAt ? shift : 0)
            }
        case .poisson:
            let level = rng.uniform(3, 150)
            let c = rng.uniform(0, 0.5)
            return (0..<count).map { t in rng.poisson(level * (1 + c * cycle(t))) }
        }
    }

    /// Hits and totals at 80% and 95%, over forecasts issued after `from`…`to` observations.
    struct Tally {
        var hits80 = 0, hits95 = 0, total = 0
        var rate80: Double { Double(hits80) / Double(total) }
        var rate95: Double { Double(hits95) / Double(total) }
    }

    @Test(arguments: Family.allCases)
    func coverageFromTheTwelfthObservation(family: Family) throws {
        let count = 200
        let seeds = UInt64(1)...100
        var all = Tally()
        var early = Tally()         // forecasts issued after 12…39 observations
        for seed in seeds {
            let y = Self.series(family, seed: seed, count: count)
            let ensemble = try ForecastEnsemble(options: ForecastOptions())   // no periods, horizon 4
            for t in 0..<count {
                if t >= 12 {
                    for step in try ensemble.forecast().steps where t + step.step - 1 < count {
                        let actual = y[t + step.step - 1]
                        let i80 = try #require(step.interval80, "\(family) seed \(seed) t \(t)")
                        let i95 = try #require(step.interval95, "\(family) seed \(seed) t \(t)")
                        all.total += 1
                        all.hits80 += i80.contains(actual) ? 1 : 0
                        all.hits95 += i95.contains(actual) ? 1 : 0
                        if t < 40 {
                            early.total += 1
                            early.hits80 += i80.contains(actual) ? 1 : 0
                            early.hits95 += i95.contains(actual) ? 1 : 0
                        }
                    }
                }
                try ensemble.observe(y[t])
            }
        }
        let summary = "\(family), seeds \(seeds): from 12 on 80% \(all.rate80) 95% \(all.rate95) (\(all.total)); "
            + "12…39: 80% \(early.rate80) 95% \(early.rate95) (\(early.total))"
        print(summary)
        for tally in [all, early] {
            #expect(abs(tally.rate80 - 0.8) <= 0.07, "\(summary)")
            #expect(abs(tally.rate95 - 0.95) <= 0.04, "\(summary)")
        }
    }
}
