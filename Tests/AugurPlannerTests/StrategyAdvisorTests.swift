@testable import AugurPlanner
import Testing

/// The strategy advisor's rules (issue 18, part 1): what it measures from the key samples, and
/// which strategy its cost model picks for the workload shapes the benchmark runs.
@Suite struct StrategyAdvisorTests {
    /// A 16-byte big-endian key number, as augur-load writes keys.
    static func key(_ n: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: n >> (56 - 8 * UInt64($0))) } + [UInt8](repeating: 0, count: 8) }

    /// series (4 bytes) ‖ timestamp (8 bytes).
    static func seriesKey(_ series: UInt32, _ ts: UInt64) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: series >> (24 - 8 * UInt32($0))) } + (0..<8).map { UInt8(truncatingIfNeeded: ts >> (56 - 8 * UInt64($0))) }
    }

    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func measuresSequentialWritesOverallAndPerPrefix() {
        var rng = SplitMix(state: 7)
        print("StrategyAdvisorTests seed 7")
        let ascending = (0..<1000).map { Self.key(UInt64($0)) }
        let random = (0..<1000).map { _ in Self.key(rng.next()) }
        #expect(StrategyAdvisor.sequentialShare(ascending) == 1)
        #expect(StrategyAdvisor.sequentialShare(random) < 0.1)
        #expect(StrategyAdvisor.sequentialShare(Array(ascending.prefix(10))) == 0, "too few samples count as unordered")
        // 50 series, each appended in time order, interleaved at random.
        var next = [UInt64](repeating: 0, count: 50)
        let series = (0..<1500).map { _ -> [UInt8] in
            let s = Int(rng.next() % 50)
            next[s] += 1 + rng.next() % 5
            return Self.seriesKey(UInt32(s), 1_000_000 + next[s])
        }
        #expect(StrategyAdvisor.sequentialShare(series) < 0.5)
        let prefix = StrategyAdvisor.bestPrefix(series, globalSequential: StrategyAdvisor.sequentialShare(series))
        #expect(prefix?.length == 4 && prefix?.distinct == 50, "\(String(describing: prefix))")
        #expect(StrategyAdvisor.bestPrefix(random, globalSequential: 0) == nil)
        #expect(StrategyAdvisor.bestPrefix(ascending, globalSequential: 1) == nil, "globally sequential is not per-prefix")
    }

    /// Costs of a machine where writers contend for a range table's tail.
    static var contended: StrategyCostModel {
        var c = StrategyCostModel()
        c.rangeSequentialWrite = 2
        return c
    }

    @Test func sequentialInsertsGoWhereTheMeasuredTailCostSendsThem() throws {
        let fill = StrategyWorkload(writesPerSecond: 50_000, writeKeys: (0..<2048).map { Self.key(UInt64($0)) })
        // Measured here: appending at one tail is cheaper than hashing the appends.
        let here = try StrategyAdvisor.advise(fill)
        #expect(here.strategy == .range)
        #expect(here.reasons.contains { $0.contains("no reason to spread it") }, "\(here.reasons)")
        let contended = try StrategyAdvisor.advise(fill, costs: Self.contended)
        #expect(contended.strategy == .hash(buckets: 16))
        #expect(contended.reasons.contains { $0.contains("in key order") })
        // The score is the cost ratio: range pays the tail factor on every write.
        let range = contended.scores.first { $0.strategy == .range }!.score
        #expect(abs(range - 1 / Self.contended.rangeSequentialWrite) < 1e-9)
    }

    @Test func scansAndPointReadsKeepTheRangeTable() throws {
        var rng = SplitMix(state: 11)
        let randomKeys = (0..<2048).map { _ in Self.key(rng.next()) }
        let scans = StrategyWorkload(scansPerSecond: 9_500, writesPerSecond: 500, meanScanLength: 50, writeKeys: randomKeys)
        #expect(try StrategyAdvisor.advise(scans, costs: Self.contended).strategy == .range)
        let reads = StrategyWorkload(pointReadsPerSecond: 100_000, writeKeys: [])
        let r = try StrategyAdvisor.advise(reads)
        #expect(r.strategy == .range, "a tie keeps the range table")
        #expect(r.scores.allSatisfy { $0.score == 1 })
    }

    @Test func fewAppendingTenantsWithLocalScansGetTheCompositeStrategy() throws {
        var rng = SplitMix(state: 5)
        print("StrategyAdvisorTests seed 5")
        var clock: [UInt64] = [0, 0]
        let tenants: [[UInt8]] = [Array("acme".utf8), Array("blue".utf8)]
        let keys = (0..<2048).map { _ -> [UInt8] in
            let t = Int(rng.next() % 2)
            clock[t] += 1
            return tenants[t] + Self.key(clock[t])
        }
        let spans = (0..<50).map { i in StrategyWorkload.ScanSpan(first: tenants[i % 2] + Self.key(1), last: tenants[i % 2] + Self.key(40)) }
        let w = StrategyWorkload(scansPerSecond: 100, writesPerSecond: 9_900, meanScanLength: 40, writeKeys: keys, scanSpans: spans)
        let a = try StrategyAdvisor.advise(w, costs: Self.contended)
        // The shortest prefix that tells the tenants apart: their first byte.
        #expect(a.strategy == .composite(prefixLength: 1, buckets: 16), "\(a.scores)")
        #expect(a.prefixLength == 1 && a.prefixSequentialShare == 1)
        // The same tenants scanning across each other: every scan touches a second prefix.
        let crossing = (0..<50).map { _ in StrategyWorkload.ScanSpan(first: tenants[0] + Self.key(1), last: tenants[1] + Self.key(1)) }
        var across = w
        across.scanSpans = crossing
        let b = try StrategyAdvisor.advise(across, costs: Self.contended)
        #expect(b.scores.first { $0.strategy == .composite(prefixLength: 1, buckets: 16) }!.score < 1)
    }

    @Test func refusesEmptyAndNonFiniteWorkloads() {
        #expect(throws: StrategyAdviceError.noWorkload) { try StrategyAdvisor.advise(StrategyWorkload()) }
        #expect(throws: StrategyAdviceError.invalidFigure(name: "writesPerSecond", value: -1)) {
            try StrategyAdvisor.advise(StrategyWorkload(writesPerSecond: -1))
        }
        #expect(throws: StrategyAdviceError.self) { try StrategyAdvisor.advise(StrategyWorkload(scansPerSecond: .nan)) }
        #expect(throws: StrategyAdviceError.self) { try StrategyAdvisor.advise(StrategyWorkload(pointReadsPerSecond: .infinity)) }
    }
}
