// Update-cost benchmark: ns per observation for the whole ensemble of one series.
//
//     swift build -c release -j 1 --product augur-forecast-bench
//     .build/release/augur-forecast-bench [observations] [repeats]
//
// The series is synthetic half-hourly-like load (daily + weekly cycle, AR(1) noise from a
// fixed-seed generator) with periods 48 and 336, horizon 4 — the configuration the engine
// uses. The warm-up (first weeks: model warm-up, residual windows filling) is fed first and
// excluded, so the figure is the steady-state cost. Each repeat builds a fresh ensemble; the
// best and median repeat are printed, both as wall time (ContinuousClock) and as this thread's
// CPU time (CLOCK_THREAD_CPUTIME_ID), which excludes time the thread was descheduled — the
// machine's two cores are shared, so wall time alone overstates the cost under load. Nothing
// is asserted.
import ArgumentParser
import AugurForecast
import AugurSys
import AugurStats
#if canImport(Glibc)
import Glibc
#endif

func threadCPUNanoseconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
}

extension SplitMix64 {
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

func syntheticLoad(count: Int, seed: UInt64) -> [Double] {
    var rng = SplitMix64(seed: seed)
    var noise = 0.0
    var y: [Double] = []
    y.reserveCapacity(count)
    for t in 0..<count {
        let day = Double(t % 48) / 48
        let week = Double(t % 336) / 336
        // Piecewise-smooth shapes without libm: parabola bumps.
        let daily = 1000 * (1 - 4 * (day - 0.5) * (day - 0.5))
        let weekly = t % 336 >= 240 ? -800.0 : 200 * week
        noise = 0.8 * noise + 100 * (rng.uniform() - 0.5)
        y.append(20_000 + daily + weekly + noise)
    }
    return y
}

/// `[observations] [repeats]`: a bad or out-of-range number is an error naming it (exit 64).
struct Arguments: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "augur-forecast-bench", abstract: "The ensemble's update cost per observation.")

    @Argument(help: "Observations measured per repeat (after the warm-up).")
    var observations = 200_000
    @Argument(help: "Repeats (a fresh ensemble each).")
    var repeats = 5

    func validate() throws {
        guard (1...100_000_000).contains(observations) else { throw ValidationError("observations must be 1…100000000, got \(observations)") }
        guard (1...1000).contains(repeats) else { throw ValidationError("repeats must be 1…1000, got \(repeats)") }
    }
}

let arguments = Arguments.parseOrExit()
let measured = arguments.observations
let repeats = arguments.repeats
let warmUp = 336 * 6
let series = syntheticLoad(count: warmUp + measured, seed: 42)

var options = ForecastOptions()
options.horizon = 4
options.seasonalPeriods = [48, 336]

var perObservation: [Double] = []
var cpuPerObservation: [Double] = []
var checksum = 0.0
let clock = ContinuousClock()
for _ in 0..<repeats {
    let ensemble = try ensembleOrDie(options)
    for value in series[..<warmUp] { try ensemble.observe(value) }
    let cpuStart = threadCPUNanoseconds()
    let elapsed = try clock.measure {
        for value in series[warmUp...] { try ensemble.observe(value) }
    }
    cpuPerObservation.append((threadCPUNanoseconds() - cpuStart) / Double(measured))
    checksum += try ensemble.forecast().steps[0].point
    let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    perObservation.append(ns / Double(measured))
}
perObservation.sort()
cpuPerObservation.sort()

func ensembleOrDie(_ options: ForecastOptions) throws -> ForecastEnsemble { try ForecastEnsemble(options: options) }
func format(_ v: Double) -> String { String(Double(Int(v * 10)) / 10) }

print("ensemble update (observe) cost, periods [48, 336], horizon 4, \(measured) observations × \(repeats) repeats")
print("wall time  best: \(format(perObservation.first!)) ns/observation   median: \(format(perObservation[perObservation.count / 2])) ns/observation")
print("CPU time   best: \(format(cpuPerObservation.first!)) ns/observation   median: \(format(cpuPerObservation[cpuPerObservation.count / 2])) ns/observation")

// The planner's read path: forecast() after every observation (it allocates the returned
// array of H steps, so this includes one small heap allocation per call).
var withForecast: [Double] = []
for _ in 0..<repeats {
    let ensemble = try ensembleOrDie(options)
    for value in series[..<warmUp] { try ensemble.observe(value) }
    let cpuStart = threadCPUNanoseconds()
    for value in series[warmUp...] {
        try ensemble.observe(value)
        checksum += try ensemble.forecast().steps[3].point
    }
    withForecast.append((threadCPUNanoseconds() - cpuStart) / Double(measured))
}
withForecast.sort()
print("observe + forecast() CPU time   best: \(format(withForecast.first!)) ns/observation   median: \(format(withForecast[withForecast.count / 2])) ns/observation")
print("(checksum \(checksum))")
