// One workload of the key-share benchmark: the load per bucket of key-space position, step by
// step, as the engine's key histogram would count it — realised from generated operations, and
// expected (the distribution's exact shares, averaged over the step).
import AugurStats
import AugurWorkload
import Foundation

/// A named key distribution of augur-load, with the criterion it is held to.
struct Scenario {
    enum Criterion { case none, movingHotspot, stationary }

    var name: String
    var distribution: KeyDistribution
    var criterion: Criterion = .none

    /// The true drift of the hot range in buckets per step (0 for stationary ones).
    func trueDrift(stepSeconds: Double, buckets: Int) -> Double {
        if case .movingHotspot(_, _, let speed) = distribution { return speed * stepSeconds * Double(buckets) }
        return 0
    }
}

/// Bench-wide settings (one configuration for every scenario).
struct BenchSettings {
    var seed: UInt64 = 16
    var steps = 240
    var stepSeconds = 5.0
    var horizon = 6
    var buckets = 64
    var records: UInt64 = 200_000
    /// Operations per step follow the scenario's diurnal shape between these (period 120 s).
    var opsLow = 10_000.0
    var opsHigh = 60_000.0
    var periodSeconds = 120.0
    /// Origins before this step are not scored (every method has seen this much history).
    var warmupSteps = 12
    /// Draws used to estimate the expected shares of distributions without a closed form.
    var expectationDraws = 4_000_000
}

/// Step-by-step bucket loads of one scenario.
struct ScenarioTrace {
    /// counts[t][b]: operations on bucket b during step t.
    var counts: [[Double]]
    /// expected[t][b]: the distribution's share of bucket b averaged over step t.
    var expected: [[Double]]
}

enum TraceBuilder {
    /// Builds the trace exactly as augur-load would load the engine: the workload's keys
    /// (`WorkloadSpec.key`: ordered for hotspots, FNV-hashed for zipfian and uniform), drawn by
    /// `RequestGenerator.nextKeynum(atSeconds:)` at evenly spaced intended times, bucketed by a
    /// `KeyPositionMap` of 64 buckets over the table's whole key range focused on the stored
    /// keys — what a single partition's histogram counts after load.
    static func build(_ scenario: Scenario, settings s: BenchSettings) -> ScenarioTrace {
        var spec = WorkloadSpec(name: scenario.name, summary: scenario.name, mix: .init(read: 0.5, update: 0.5),
                                distribution: scenario.distribution, recordCount: s.records)
        spec.keySize = 16
        let count = Int(spec.keySpace)
        var low = spec.key(0), high = spec.key(0)
        for k in 1..<UInt64(count) {
            let key = spec.key(k)
            if key.lexicographicallyPrecedes(low) { low = key }
            if high.lexicographicallyPrecedes(key) { high = key }
        }
        let map = KeyPositionMap(lowerBound: [], upperBound: nil, bucketCount: s.buckets, focus: (low, high))
        var bucketOf = [Int32](repeating: 0, count: count)
        for k in 0..<count { bucketOf[k] = Int32(map.bucket(for: spec.key(UInt64(k)))) }

        let shared = WorkloadSharedState(spec: spec)
        var generator = RequestGenerator(spec: spec, shared: shared, seed: s.seed, threadIndex: 0)
        var counts: [[Double]] = []
        counts.reserveCapacity(s.steps)
        for t in 0..<s.steps {
            let start = Double(t) * s.stepSeconds
            let middle = start + s.stepSeconds / 2
            let ops = Int((s.opsLow + (s.opsHigh - s.opsLow) * (1 - cos(2 * Double.pi * middle / s.periodSeconds)) / 2).rounded())
            var c = [Double](repeating: 0, count: s.buckets)
            for i in 0..<ops {
                let at = start + (Double(i) + 0.5) / Double(ops) * s.stepSeconds
                c[Int(bucketOf[Int(generator.nextKeynum(atSeconds: at))])] += 1
            }
            counts.append(c)
        }
        return ScenarioTrace(counts: counts, expected: expectedShares(scenario, spec: spec, bucketOf: bucketOf, settings: s))
    }

    /// The distribution's exact shares per step. Hotspots (ordered keys, so each bucket is a
    /// contiguous run of key numbers): the hot set's overlap with each bucket, averaged over 50
    /// instants of the step. Uniform: bucket sizes. Zipfian (hashed, no closed form over
    /// buckets): estimated once from `expectationDraws` draws — stationary, so one vector serves
    /// every step.
    static func expectedShares(_ scenario: Scenario, spec: WorkloadSpec, bucketOf: [Int32], settings s: BenchSettings) -> [[Double]] {
        let count = bucketOf.count
        var sizes = [Double](repeating: 0, count: s.buckets)
        for b in bucketOf { sizes[Int(b)] += 1 }
        switch scenario.distribution {
        case .hotspot(let hotKeys, let hotOps), .movingHotspot(let hotKeys, let hotOps, _):
            var speed = 0.0
            if case .movingHotspot(_, _, let v) = scenario.distribution { speed = v }
            let generator = MovingHotspotGenerator(count: UInt64(count), hotKeys: hotKeys, hotOps: hotOps, speed: speed)
            // First key number of each bucket (ordered keys: bucketOf is non-decreasing).
            var first = [Int](repeating: count, count: s.buckets + 1)
            for k in stride(from: count - 1, through: 0, by: -1) { first[Int(bucketOf[k])] = k }
            for b in stride(from: s.buckets - 1, through: 0, by: -1) where first[b] > first[b + 1] { first[b] = first[b + 1] }
            precondition(zip(bucketOf, bucketOf.dropFirst()).allSatisfy { $0 <= $1 }, "hotspot keys must be ordered")
            let hotCount = Int(generator.hotspot.hotCount)
            let instants = 50
            return (0..<s.steps).map { t in
                var share = [Double](repeating: 0, count: s.buckets)
                for i in 0..<instants {
                    let at = (Double(t) + (Double(i) + 0.5) / Double(instants)) * s.stepSeconds
                    let h = Int(generator.hotStart(atSeconds: at))
                    // The hot set is [h, h + hotCount) modulo count: at most two intervals.
                    let pieces = h + hotCount <= count ? [(h, h + hotCount)] : [(h, count), (0, h + hotCount - count)]
                    for b in 0..<s.buckets {
                        let lo = first[b], hi = first[b + 1]
                        var hot = 0
                        for (a, e) in pieces { hot += max(0, min(hi, e) - max(lo, a)) }
                        let cold = hi - lo - hot
                        let p = hotCount >= count ? Double(hot) / Double(count)
                            : hotOps * Double(hot) / Double(hotCount) + (1 - hotOps) * Double(cold) / Double(count - hotCount)
                        share[b] += p / Double(instants)
                    }
                }
                return share
            }
        case .uniform:
            let share = sizes.map { $0 / Double(count) }
            return Array(repeating: share, count: s.steps)
        default:
            let shared = WorkloadSharedState(spec: spec)
            var generator = RequestGenerator(spec: spec, shared: shared, seed: s.seed ^ 0xE4EC7ED, threadIndex: 1)
            var share = [Double](repeating: 0, count: s.buckets)
            for _ in 0..<s.expectationDraws { share[Int(bucketOf[Int(generator.nextKeynum(atSeconds: 0))])] += 1 }
            let total = Double(s.expectationDraws)
            return Array(repeating: share.map { $0 / total }, count: s.steps)
        }
    }
}
