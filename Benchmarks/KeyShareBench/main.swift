// augur-keyshare-bench: the key-distribution forecast of issue 16 (part 3), scored where the
// truth is known.
//
// Workloads (augur-load's key distributions, 200 000 records, 64 buckets of key-space
// position, 5-s steps, operations per step on a diurnal curve — 10k to 60k, period 120 s):
//   moving-hotspot  hot 10 % of keys / 90 % of ops drifting 0.01 of the key space per second
//                   (make run's scenario; criterion 1), and at 0, 0.002 and 0.05 per second
//   moving-hotspot  other hot sizes at 0.01: 2 % / 80 %, 30 % / 70 %
//   hotspot         a fixed hot range (10 % / 90 %)
//   zipfian         YCSB's scrambled zipfian θ = 0.99 (stationary; criterion 2)
//   uniform
//
// Error: the share-weighted absolute error of a forecast, E = Σ_b |ŝ_b − s_b| (twice the
// total-variation distance; 0 perfect, 2 all load in the wrong buckets), averaged over the
// forecast origins t = warmup … T − H − 1, each forecasting step t + H. Truth: the realised
// shares of step t + H (what the histogram will count), and, second, the distribution's
// expected shares over that step (no sampling noise).
// Methods: the KeyShareForecaster (default options, the same for every workload); persistence
// (step t's shares); the best static mixture: w·persistence + (1 − w)·long-run mean, with the
// long-run mean the average of the shares of steps 0 … t and w ∈ {0, 0.02, …, 1} chosen in
// hindsight per workload and truth.
// Criteria at H = 6 (the controller's 30-s horizon in 5-s steps), realised truth:
//   1. moving-hotspot at 0.01/s: forecaster error ≤ 0.70 × persistence's;
//   2. zipfian: forecaster error ≤ persistence's.
//
// Usage: augur-keyshare-bench [--seed N] [--steps N] [--ops-low N] [--ops-high N] [--verbose]
import ArgumentParser
import AugurForecast
import AugurWorkload
import Foundation

struct Arguments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "augur-keyshare-bench",
                                                    abstract: "Scores the key-distribution forecast against persistence and the best static mixture.")
    @Option(help: "Seed of the key draws.") var seed: UInt64 = BenchSettings().seed
    @Option(help: "Steps per workload (at least warm-up + horizon + 10).") var steps: Int = BenchSettings().steps
    @Option(name: .customLong("ops-low"), help: "Operations per step at the diurnal trough.") var opsLow: Double = BenchSettings().opsLow
    @Option(name: .customLong("ops-high"), help: "Operations per step at the diurnal peak.") var opsHigh: Double = BenchSettings().opsHigh
    @Flag(help: "Print each method's weights per workload.") var verbose = false

    func validate() throws {
        let d = BenchSettings()
        let least = d.warmupSteps + d.horizon + 10
        guard steps >= least else { throw ValidationError("--steps \(steps) is below the least that scores anything, \(least)") }
        for (name, v) in [("--ops-low", opsLow), ("--ops-high", opsHigh)] where !(v.isFinite && v >= 1 && v <= 1e9) {
            throw ValidationError("\(name) \(v) must be a finite number of operations in 1...1e9")
        }
        guard opsLow <= opsHigh else { throw ValidationError("--ops-low \(opsLow) is above --ops-high \(opsHigh)") }
    }
}

let parsed = Arguments.parseOrExit()
var settings = BenchSettings()
settings.seed = parsed.seed
settings.steps = parsed.steps
settings.opsLow = parsed.opsLow
settings.opsHigh = parsed.opsHigh
let verbose = parsed.verbose

let scenarios: [Scenario] = [
    Scenario(name: "moving-hotspot 10%/90% 0.01/s", distribution: .movingHotspot(hotKeys: 0.1, hotOps: 0.9, speed: 0.01), criterion: .movingHotspot),
    Scenario(name: "moving-hotspot 10%/90% 0/s", distribution: .movingHotspot(hotKeys: 0.1, hotOps: 0.9, speed: 0)),
    Scenario(name: "moving-hotspot 10%/90% 0.002/s", distribution: .movingHotspot(hotKeys: 0.1, hotOps: 0.9, speed: 0.002)),
    Scenario(name: "moving-hotspot 10%/90% 0.05/s", distribution: .movingHotspot(hotKeys: 0.1, hotOps: 0.9, speed: 0.05)),
    Scenario(name: "moving-hotspot 2%/80% 0.01/s", distribution: .movingHotspot(hotKeys: 0.02, hotOps: 0.8, speed: 0.01)),
    Scenario(name: "moving-hotspot 30%/70% 0.01/s", distribution: .movingHotspot(hotKeys: 0.3, hotOps: 0.7, speed: 0.01)),
    Scenario(name: "hotspot 10%/90%", distribution: .hotspot(hotKeys: 0.1, hotOps: 0.9)),
    Scenario(name: "zipfian 0.99", distribution: .zipfian(theta: 0.99), criterion: .stationary),
    Scenario(name: "uniform", distribution: .uniform),
]

/// Σ_b |a_b − b_b|.
func shareError(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in a.indices { s += abs(a[i] - b[i]) }
    return s
}

func shares(_ counts: [Double]) -> [Double] {
    let total = counts.reduce(0, +)
    return total > 0 ? counts.map { $0 / total } : Array(repeating: 1 / Double(counts.count), count: counts.count)
}

struct Scores {
    var forecaster = 0.0
    var persistence = 0.0
    var mixture = 0.0
    var mixtureWeight = 0.0
    var ratio: Double { persistence > 0 ? forecaster / persistence : 0 }
}

struct Result {
    var scenario: Scenario
    var realised: Scores
    var expected: Scores
    var drift: KeyShareDrift
    var weights: [(name: String, weight: Double, error: Double?)]
}

@MainActor func evaluate(_ scenario: Scenario) throws -> Result {
    let s = settings
    let trace = TraceBuilder.build(scenario, settings: s)
    let forecaster = try KeyShareForecaster(bucketCount: s.buckets, horizon: s.horizon)
    let n = s.buckets
    var forecasts: [[Double]] = []
    var persistence: [[Double]] = []
    var longRun: [[Double]] = []
    var sum = [Double](repeating: 0, count: n)
    for t in 0..<s.steps {
        try forecaster.observe(counts: trace.counts[t])
        forecasts.append(try forecaster.forecast())
        let x = shares(trace.counts[t])
        persistence.append(x)
        for b in 0..<n { sum[b] += x[b] }
        longRun.append(sum.map { $0 / Double(t + 1) })
    }
    let origins = Array(s.warmupSteps..<(s.steps - s.horizon))
    func score(_ truth: (Int) -> [Double]) -> Scores {
        var r = Scores()
        for t in origins {
            let y = truth(t + s.horizon)
            r.forecaster += shareError(forecasts[t], y)
            r.persistence += shareError(persistence[t], y)
        }
        r.forecaster /= Double(origins.count)
        r.persistence /= Double(origins.count)
        r.mixture = .infinity
        for i in 0...50 {
            let w = Double(i) / 50
            var e = 0.0
            for t in origins {
                let y = truth(t + s.horizon)
                var d = 0.0
                for b in 0..<n { d += abs(w * persistence[t][b] + (1 - w) * longRun[t][b] - y[b]) }
                e += d
            }
            e /= Double(origins.count)
            if e < r.mixture { r.mixture = e; r.mixtureWeight = w }
        }
        return r
    }
    return Result(scenario: scenario,
                  realised: score { shares(trace.counts[$0]) },
                  expected: score { trace.expected[$0] },
                  drift: forecaster.drift, weights: forecaster.candidateWeights)
}

func f3(_ x: Double) -> String { String(format: "%.3f", x) }
func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }

print("augur-keyshare-bench: key-distribution forecast (issue 16), seed \(settings.seed)")
print("\(settings.buckets) buckets, \(settings.steps) steps of \(Int(settings.stepSeconds)) s, H = \(settings.horizon) steps, "
      + "\(Int(settings.opsLow))–\(Int(settings.opsHigh)) ops per step (diurnal, period \(Int(settings.periodSeconds)) s), "
      + "\(settings.records) records, origins \(settings.warmupSteps)…\(settings.steps - settings.horizon - 1)")
print("error = mean over origins of Σ_b |forecast share − true share| at t + H (0 perfect, 2 worst)")
print("")
let header = pad("workload", 31) + lpad("forecast", 9) + lpad("persist", 9) + lpad("mixture(w)", 13) + lpad("ratio", 7)
    + "  |" + lpad("forecast", 9) + lpad("persist", 9) + lpad("mixture(w)", 13) + lpad("ratio", 7)
    + "  |" + lpad("drift", 7) + lpad("true", 7) + lpad("conf", 6)
print(pad("", 31) + "  realised truth" + String(repeating: " ", count: 25) + "|  expected truth" + String(repeating: " ", count: 25) + "|  buckets/step")
print(header)
print(String(repeating: "-", count: header.count))
var results: [Result] = []
for scenario in scenarios {
    let r = try evaluate(scenario)
    results.append(r)
    func cols(_ x: Scores) -> String {
        lpad(f3(x.forecaster), 9) + lpad(f3(x.persistence), 9) + lpad("\(f3(x.mixture))(\(String(format: "%.2f", x.mixtureWeight)))", 13)
            + lpad(String(format: "%.2f", x.ratio), 7)
    }
    print(pad(scenario.name, 31) + cols(r.realised) + "  |" + cols(r.expected) + "  |"
          + lpad(String(format: "%.2f", r.drift.bucketsPerStep), 7)
          + lpad(String(format: "%.2f", scenario.trueDrift(stepSeconds: settings.stepSeconds, buckets: settings.buckets)), 7)
          + lpad(String(format: "%.2f", r.drift.confidence), 6))
    if verbose {
        print("    weights: " + r.weights.map { "\($0.name) \(String(format: "%.2f", $0.weight)) (err \($0.error.map(f3) ?? "-"))" }.joined(separator: ", "))
    }
}
print("")
var allPass = true
for r in results {
    switch r.scenario.criterion {
    case .movingHotspot:
        let pass = r.realised.ratio <= 0.70
        allPass = allPass && pass
        print("criterion 1 (\(r.scenario.name)): forecast/persistence = \(String(format: "%.2f", r.realised.ratio)) ≤ 0.70 "
              + "(\(String(format: "%.0f", (1 - r.realised.ratio) * 100)) % lower; expected truth: \(String(format: "%.2f", r.expected.ratio)))  \(pass ? "PASS" : "FAIL")")
    case .stationary:
        let pass = r.realised.forecaster <= r.realised.persistence
        allPass = allPass && pass
        print("criterion 2 (\(r.scenario.name)): forecast \(f3(r.realised.forecaster)) ≤ persistence \(f3(r.realised.persistence)) "
              + "(ratio \(String(format: "%.2f", r.realised.ratio)); expected truth: \(String(format: "%.2f", r.expected.ratio)))  \(pass ? "PASS" : "FAIL")")
    case .none: break
    }
}

// Timing: observe + forecast on 64 buckets at H = 6, cycling through the first workload's steps.
do {
    let trace = TraceBuilder.build(scenarios[0], settings: settings)
    let forecaster = try KeyShareForecaster(bucketCount: settings.buckets, horizon: settings.horizon)
    var out = [Double](repeating: 0, count: settings.buckets)
    let rounds = 200_000
    let clock = ContinuousClock()
    let started = clock.now
    for i in 0..<rounds { try forecaster.observe(counts: trace.counts[i % trace.counts.count]) }
    let observeTime = clock.now - started
    let forecastStart = clock.now
    var checksum = 0.0
    for _ in 0..<rounds {
        try out.withUnsafeMutableBufferPointer { (b) throws(KeyShareError) in try forecaster.forecast(into: b) }
        checksum += out[0]
    }
    let forecastTime = clock.now - forecastStart
    func ns(_ d: Duration) -> Double { Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9 }
    print("")
    print("timing: \(String(format: "%.0f", ns(observeTime) / Double(rounds))) ns per observe, "
          + "\(String(format: "%.0f", ns(forecastTime) / Double(rounds))) ns per forecast(into:) "
          + "(\(settings.buckets) buckets, H = \(settings.horizon), \(rounds) rounds; checksum \(String(format: "%.3f", checksum)))")
}
print(allPass ? "ALL PASS" : "SOME FAIL")
exit(allPass ? 0 : 1)
