@testable import AugurWorkload
import Foundation
import Testing

@Suite("Host steal: the host's pauses beside the latencies they distort")
struct HostStealTests {
    @Test("the aggregate cpu line's 8th number is the steal; anything else is nil")
    func parsesProcStat() {
        let stat = """
            cpu  8810520 1023400 712951 4972483 211285 0 39767 17900 0 0
            cpu0 4405260 511700 356475 2486241 105642 0 19883 8950 0 0
            intr 123 4 5
            """
        #expect(HostSteal.stolenTicks(procStat: stat) == 17900)
        // The per-CPU lines are not the aggregate, even when they come first.
        #expect(HostSteal.stolenTicks(procStat: "cpu0 1 2 3 4 5 6 7 99\ncpu 1 2 3 4 5 6 7 42\n") == 42)
        // A kernel without the field, a damaged number, no cpu line, nothing at all.
        #expect(HostSteal.stolenTicks(procStat: "cpu  1 2 3 4 5 6 7\n") == nil)
        #expect(HostSteal.stolenTicks(procStat: "cpu  1 2 3 4 5 6 7 -8 0 0\n") == nil)
        #expect(HostSteal.stolenTicks(procStat: "cpu  1 2 3 4 5 6 7 1e3\n") == nil)
        #expect(HostSteal.stolenTicks(procStat: "intr 1 2 3\n") == nil)
        #expect(HostSteal.stolenTicks(procStat: "") == nil)
    }

    /// A steal counter driven by the run's manual clock: 10 ms per second, plus one pause of
    /// 100 ms at 3.5 s (inside the interval that ends at 4 s).
    static func counter(_ clock: ManualClock) -> @Sendable () -> Double? {
        { let t = Double(clock.nanoseconds()) / 1e9; return 0.01 * t + (t >= 3.5 ? 0.1 : 0) }
    }

    /// A 5-s open-loop run after 1 s of warm-up, at 1,000 ops/s, with one operation that takes
    /// 80 ms at 3.6 s.
    static func run(stolen: ((ManualClock) -> @Sendable () -> Double?)?) throws -> RunResult {
        try manualRun(try WorkloadSpec.preset("c", recordCount: 100), { c in
            c.profile = .constant(1000)
            c.loop = .open
            c.warmupSeconds = 1
            c.stop = .duration(seconds: 5)
        }, store: { store, _ in
            store.stallAtNanoseconds = 3_600_000_000
            store.stallNanoseconds = 80_000_000
        }, runner: { runner, clock in runner.stolenSeconds = stolen?(clock) }).0
    }

    @Test("each interval gets the steal that happened in it and its longest operation; the run sums its measured intervals")
    func perIntervalAndTotal() throws {
        let r = try Self.run(stolen: Self.counter)
        #expect(r.series.count == 6)
        let stolen = r.series.map { $0.stolenMilliseconds ?? -1 }
        for (k, ms) in stolen.enumerated() {
            // Sampled when the first operation of the next interval ends: a millisecond late at most.
            let expected = k == 3 ? 110.0 : 10.0
            #expect(abs(ms - expected) < 0.5, "interval \(k): \(ms) ms stolen, expected \(expected)")
        }
        // The interval of the stall has the run's longest operation, and says so beside its steal.
        let longest = r.series.map { $0.maxMicroseconds ?? -1 }
        #expect(abs(longest[3] - 80_000) <= 800, "\(longest)")
        #expect(longest.enumerated().allSatisfy { $0.offset == 3 || (0..<1000).contains($0.element) }, "\(longest)")
        let summary = try #require(r.hostSteal)
        // Warm-up (interval 0) left out: 5 × 10 ms + the 100 ms pause.
        #expect(abs(summary.seconds - 0.15) < 0.002, "\(summary.seconds)")
        #expect(summary.pausedIntervals == 1)
        #expect(abs(summary.worstIntervalMilliseconds - 110) < 0.5)
        #expect(r.table().contains("host CPU stolen"))
        #expect(r.json().contains("\"stolenMilliseconds\""))
        #expect(HTMLReport.render(r).contains("Host steal"))
    }

    @Test("without a steal counter nothing is claimed: no figure per interval, none in total, none in the JSON")
    func notMeasured() throws {
        let r = try Self.run(stolen: nil)
        #expect(r.series.allSatisfy { $0.stolenMilliseconds == nil })
        #expect(r.hostSteal == nil)
        #expect(!r.json().contains("stolenMilliseconds") && !r.json().contains("hostSteal"))
        #expect(!HTMLReport.render(r).contains("Host steal"))
        // A counter that cannot be read (no /proc/stat) is the same as none.
        let unreadable = try Self.run(stolen: { _ in { nil } })
        #expect(unreadable.hostSteal == nil && unreadable.series.allSatisfy { $0.stolenMilliseconds == nil })
    }

    @Test("the policy table shows each run's steal and names the runs the host paused")
    func comparisonNamesPausedRuns() {
        func run(_ policy: PartitionPolicy, paused: Int) -> RunResult {
            var r = RunResult(engine: "augur", workload: "ycsb-a", workloadSummary: "", mix: "", distribution: "", keySize: 16,
                              valueSize: 100, keyOrder: "ordered", records: 1, threads: 1, loop: "open", profile: "", seed: 1,
                              warmupSeconds: 0, measuredSeconds: 1, runSeconds: 1, operations: 1, errors: 0, firstError: nil,
                              throughput: 1, all: OperationSummary(kind: "all", histogram: makeHistogram(precise: true), errors: 0, seconds: 1),
                              perOperation: [], partitions: PartitionSummary(), series: [], events: [], load: nil)
            r.policy = policy
            r.hostSteal = HostStealSummary(seconds: paused == 0 ? 0.02 : 0.31, pausedIntervals: paused,
                                           worstIntervalMilliseconds: paused == 0 ? 10 : 110)
            return r
        }
        let table = PolicyComparison(runs: [run(.static, paused: 0), run(.reactive, paused: 0), run(.predictive, paused: 3)]).table()
        #expect(table.contains("host stolen s"))
        #expect(table.contains("0.31") && table.contains("0.02"))
        #expect(table.contains("host pauses (its latency percentiles include them): predictive 0.31 s (3 intervals over 50 ms, worst 110 ms)"))
        #expect(!table.contains("static 0.02 s ("))
        let quiet = PolicyComparison(runs: [run(.static, paused: 0), run(.predictive, paused: 0)]).table()
        #expect(!quiet.contains("host pauses"))
    }
}
