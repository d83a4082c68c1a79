#if canImport(Glibc)
import Glibc
#endif
import Testing
import Foundation
import Augur
import AugurPlanner
@_spi(Testing) import AugurSys
import AugurTestSupport

/// The partitioning controller against a live engine under a manual clock.
@Suite struct ControllerTests {
    func options(_ policy: PlannerPolicy, shadow: Bool = false) -> (EngineOptions, ManualClock) {
        let clock = ManualClock()
        var o = EngineOptions()
        o.fileSystem = CrashSimulatingFileSystem()
        o.durability = .none
        o.clock = clock
        o.telemetry.collectInterval = .seconds(3600)
        o.partitioning.policy = policy
        o.partitioning.shadow = shadow
        o.partitioning.runsOnTimer = false
        o.partitioning.capacity = CapacityModel(opsPerSecond: 1000, minPartitionBytes: 0)
        return (o, clock)
    }

    /// Drives `seconds` ticks of `opsPerSecond` puts spread over keys k0000…k1999.
    func drive(_ engine: Engine, _ table: Table, _ clock: ManualClock, seconds: Int, opsPerSecond: Int) throws -> [PartitioningDecision] {
        var decisions: [PartitioningDecision] = []
        var n = 0
        for _ in 0..<seconds {
            for _ in 0..<opsPerSecond {
                n += 1
                let k = (n &* 7919) % 2000
                try table.put(Array("k\(k < 1000 ? "0" : "")\(k)".utf8), [1, 2, 3, 4])
            }
            clock.advance(by: .seconds(1))
            decisions += engine.controllerTick()
        }
        return decisions
    }

    @Test func reactiveSplitsAfterSustainedOverload() throws {
        let (o, clock) = options(.reactive(ReactiveOptions()))
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        _ = engine.controllerTick()
        // 5 s over capacity: not yet (reactive waits 10 consecutive seconds).
        var d = try drive(engine, table, clock, seconds: 5, opsPerSecond: 2500)
        #expect(d.isEmpty, "reactive acted before the threshold held for 10 s: \(d.map(\.action))")
        d = try drive(engine, table, clock, seconds: 8, opsPerSecond: 2500)
        #expect(d.contains { $0.kind == "split" && $0.executed }, "\(d.map(\.action)) \(d.map { $0.error ?? "" })")
        try waitForReshards(engine)
        #expect(try table.partitionStats().count >= 2)
        #expect(coverageProblem(try table.partitionStats()) == nil)
        try engine.close()
    }

    @Test func shadowModeLogsAndExecutesNothing() throws {
        let (o, clock) = options(.reactive(ReactiveOptions()), shadow: true)
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        _ = engine.controllerTick()
        let d = try drive(engine, table, clock, seconds: 15, opsPerSecond: 2500)
        #expect(!d.isEmpty && d.allSatisfy { !$0.executed })
        #expect(try table.partitionStats().count == 1, "shadow mode must not reshape")
        try engine.close()
        let log = String(decoding: try o.fileSystem.readFile("/db/decisions.jsonl"), as: UTF8.self)
        let lines = log.split(separator: "\n")
        #expect(lines.count == d.count)
        #expect(lines.allSatisfy { $0.contains("\"executed\":false") && $0.contains("\"reason\"") && $0.contains("\"time\"") })
    }

    @Test func predictiveActsBeforeSustainedOverload() throws {
        let (o, clock) = options(.predictive(PredictiveOptions()))
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        _ = engine.controllerTick()
        // Load ramps from 50% to well over capacity.
        var decisions: [PartitioningDecision] = []
        var firstSplitAt: Int? = nil
        for s in 0..<40 {
            decisions += try drive(engine, table, clock, seconds: 1, opsPerSecond: 500 + 60 * s)
            if firstSplitAt == nil, decisions.contains(where: { $0.kind == "split" && $0.executed }) { firstSplitAt = s }
        }
        try waitForReshards(engine)
        let split = try #require(firstSplitAt, "predictive never split: \(decisions.map(\.action))")
        // Capacity 1000 × high watermark 0.8 is crossed at s ≈ 5; reactive would need 10 s more.
        #expect(split < 15, "predictive split at s=\(split): \(decisions.map { "\($0.action) \($0.reason) \($0.error ?? "")" })")
        #expect(try table.partitionStats().count >= 2)
        #expect(try engine.currentPlan(table: "t").isEmpty == false)
        try engine.close()
    }

    @Test func staticNeverReshapes() throws {
        let (o, clock) = options(.static)
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        let d = try drive(engine, table, clock, seconds: 15, opsPerSecond: 3000)
        #expect(d.isEmpty)
        #expect(try table.partitionStats().count == 1)
        try engine.close()
    }

    /// A partition over `maxPartitionBytes` splits at its data median, even when its data sits
    /// near one end of its key range: the planner's key, from histogram buckets interpolated
    /// by key position, cut this table 91/9 (at the first 0xF0 key) before the engine took
    /// the median from its runs.
    @Test func anOversizePartitionSplitsAtItsDataMedian() throws {
        var (o, clock) = options(.static)
        o.partitioning.capacity = CapacityModel(opsPerSecond: 1_000_000, maxPartitionBytes: 128 << 10, minPartitionBytes: 0)
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        _ = engine.controllerTick()
        let value = [UInt8](repeating: 7, count: 40)
        for i in 0..<3000 { try table.put(Array(String(format: "a%05d", i).utf8), value) }
        for i in 0..<300 { try table.put([0xF0] + Array(String(format: "%05d", i).utf8), value) }
        try engine.flush()
        clock.advance(by: .seconds(1))
        let d = engine.controllerTick()
        let split = try #require(d.first { $0.kind == "split" }, "no split: \(d.map(\.action))")
        #expect(split.executed && split.reasonCode == "oversize", "\(split)")
        try waitForReshards(engine)
        let stats = try table.partitionStats()
        #expect(stats.count == 2 && coverageProblem(stats) == nil)
        let largest = Double(stats.map(\.records).max() ?? 0) / 3300
        #expect(largest <= 0.55, "the larger side holds \(largest) of the records: \(stats.map(\.records))")
        try engine.close()
    }

    func waitForReshards(_ engine: Engine) throws {
        for name in try engine.tableNames() {
            for _ in 0..<2000 {
                if try engine.reshardingStatus(table: name).allSatisfy({ $0.state == .committed || $0.state == .aborted }) { break }
                usleep(1000)
            }
        }
    }
}
