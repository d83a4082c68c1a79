import AugurPlanner
import AugurSimulation
import Foundation
import Testing

/// `augur simulate --from-run`: reading augur-load runs, replaying them deterministically, and
/// refusing bad runs with an error that names the field.
@Suite struct EngineReplayTests {
    /// A diurnal series of `count` 1 s intervals, 5 000 to 40 000 ops/s with a 40 s period.
    static func series(count: Int = 60) -> [Double] {
        (0..<count).map { k in 5000 + 35000 * (1 - cos(2 * Double.pi * Double(k) / 40)) / 2 }
    }

    /// A run as augur-load --json writes it, trimmed to a few fields plus some the replay
    /// ignores. `fields` replaces or adds top-level fields; `partitions` those of `partitions`
    /// (raw JSON text each).
    static func runJSON(policy: String = "predictive", fields: [String: String] = [:], partitions: [String: String] = [:],
                        series: [Double] = series(), opsAt: [Int: String] = [:]) -> String {
        var p: [String: String] = ["atStart": "1", "atEnd": "6", "maximum": "7", "mean": "4.5", "splits": "3", "merges": "0",
                                   "moves": "1", "bytesMoved": "400000000", "overloadSeconds": "12.5",
                                   "measuredCapacity": "20000", "copyBytesPerSecond": "150000000"]
        for (k, v) in partitions { p[k] = v }
        let samples = series.enumerated().map { k, ops in
            "{\"seconds\": \(k + 1), \"opsPerSecond\": \(opsAt[k] ?? String(ops)), \"perOperation\": {}, \"errors\": 0, \"partitions\": 1, \"reshardsInFlight\": \(k % 20 == 0 ? 1 : 0), \"warmup\": \(k < 5)}"
        }
        var f: [String: String] = [
            "engine": "\"augur\"", "workload": "\"ycsb-a\"", "policy": "\"\(policy)\"",
            "distribution": "\"moving hotspot 90% of ops on 10% of keys, drifting 1% of the key space per second\"",
            "keySize": "16", "valueSize": "1000", "keyOrder": "\"ordered\"", "records": "200000",
            "profile": "\"diurnal 5000–40000 ops/s, period 40 s\"", "seed": "42", "warmupSeconds": "5",
            "measuredSeconds": "55", "runSeconds": "60", "throughput": "22000",
            "perOperation": "[{\"kind\": \"read\", \"count\": 600000}, {\"kind\": \"update\", \"count\": 600000}]",
            "load": "{\"records\": 200000, \"seconds\": 4.1, \"recordsPerSecond\": 48780}",
            "series": "[" + samples.joined(separator: ", ") + "]",
        ]
        for (k, v) in fields { f[k] = v }
        f["partitions"] = "{" + p.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
        return "{" + f.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
    }

    /// Decodes as `augur simulate` does (augur-load writes non-finite numbers as strings).
    static func decode(_ json: String) throws -> [EngineRun] {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(EngineRunFile.self, from: Data(json.utf8)).runs
    }

    @Test func readsAHandWrittenRunAndReplaysItWithTheEnginesModel() throws {
        let many = try Self.decode("[" + Self.runJSON(policy: "reactive") + ", " + Self.runJSON() + "]")
        #expect(many.map(\.policy) == ["reactive", "predictive"])
        let one = try Self.decode(Self.runJSON())
        #expect(one.count == 1 && one[0] == many[1])
        let run = one[0]
        #expect(run.partitions?.measuredCapacity == 20000 && run.partitions?.copyBytesPerSecond == 150_000_000)
        #expect(run.series?.count == 60 && run.series?[3].reshardsInFlight == 0 && run.load?.recordsPerSecond == 48780)

        let replay = try EngineReplay(run: run, index: 1)
        let o = replay.options
        #expect(replay.label == "run 1 (predictive)" && replay.policy == .predictive(PredictiveOptions()))
        #expect(replay.rows == Self.series())
        #expect(o.secondsPerRow == 1)
        // CapacityModel.measured()'s time constants with the measured capacity as fixed ops/s.
        #expect(o.capacity.opsPerSecond == 20000 && o.capacity.costBudget == nil && o.capacity.writeBytesPerSecond == .infinity)
        #expect(o.capacity.horizonNanos == 30_000_000_000 && o.capacity.cooldownNanos == 30_000_000_000)
        #expect(o.capacity.maxPartitionBytes == 256 << 20 && o.capacity.minPartitionBytes == 1 << 20)
        #expect(o.capacity.reshardCost.copyBytesPerSecond == 150_000_000 && o.capacity.reshardCost.dataMode == .copy)
        #expect(o.serialReshards && o.splitsBySize)
        // A record: CRC and kind (5), the key length in one varint byte, the value's in two.
        #expect(o.totalDataBytes == 200_000 * (16 + 1000 + 8) && o.initialPartitions == 1)
        #expect(o.hotspotShape == .window && o.hotspotStart == 0 && o.hotspotShare == 0.9 && o.hotspotWidth == 0.1)
        #expect(abs(o.hotspotSpeed - 36) < 1e-9, "1% of the key space per second is 36 key spaces per hour")
        #expect(o.writeFraction == 0.5 && o.valueBytes == 1000 && o.globalNoise == 0)
        #expect(o.forecastStepSeconds == 5 && o.forecastHorizonSteps == 6 && o.detectsSeasonality)
        #expect(o.histogramWindow == .engineMarks(markSeconds: 10, marksKept: 3) && o.recentSamples == 300)
        #expect(o.prelude == SimulationOptions.Prelude(seconds: 4, opsPerSecond: 48780))
        #expect(!o.initialHistogramResolvesKeys, "ordered keys all fall in the first partition's first bucket")
        // In flight in 3 samples of 1 s; 400 MB at 150 MB/s is 2.67 s of copying; 4 reshards.
        let overhead = o.capacity.reshardCost.overheadSeconds
        #expect(abs(overhead - (3 - 400.0 / 150) / 4) < 1e-9, "\(overhead)")
    }

    @Test func predictionIsDeterministicForASeed() throws {
        let runs = try Self.decode("[" + ["static", "reactive", "predictive"].map { Self.runJSON(policy: $0) }.joined(separator: ", ") + "]")
        for seed in [UInt64(1), 2] {
            for (i, run) in runs.enumerated() {
                let overrides = EngineReplay.Overrides(seed: seed)
                let a = try EngineReplay(run: run, index: i + 1, overrides: overrides).predict()
                let b = try EngineReplay(run: run, index: i + 1, overrides: overrides).predict()
                #expect(a == b, "seed \(seed) \(a.run): predictions differ\n\(a.metrics)\n\(b.metrics)")
                #expect(a.metrics.planViolations == 0 && a.metrics.rejectedActions == 0, "seed \(seed) \(a.run): \(a.metrics)")
                #expect(a.simulatedSeconds == 60 && a.meanPartitions.measured == 4.5 && a.bytesMoved.measured == 400_000_000)
                #expect(a.maxPartitions.ratio == a.maxPartitions.predicted / 7)
            }
        }
        let still = try EngineReplay(run: runs[0], index: 1).predict()
        #expect(still.meanPartitions.predicted == 1 && still.bytesMoved.predicted == 0, "static reshapes nothing at this size")
        let predictive = try EngineReplay(run: runs[2], index: 3).predict(recordingActions: true)
        #expect(predictive.metrics.splits > 0 && predictive.bytesMoved.predicted > 0, "\(predictive.metrics)")
        // The first split is at the data median: every record of the first partition falls in
        // one bucket of its whole-key-space histogram.
        #expect(predictive.actions.first?.contains("split at the data median") == true, "\(predictive.actions)")
    }

    /// The error a bad run gives, as `(field, description)`.
    static func failure(_ json: String, index: Int = 1) throws -> (String, String)? {
        let run = try decode(json)[0]
        do {
            _ = try EngineReplay(run: run, index: index)
            return nil
        } catch {
            switch error {
            case let .missing(_, field, _), let .invalid(_, field, _, _): return (field, error.description)
            default: return ("?", error.description)
            }
        }
    }

    /// A run with some fields replaced, and the field its error must name.
    struct BadRun: Sendable, CustomTestStringConvertible {
        var fields: [String: String] = [:]
        var partitions: [String: String] = [:]
        var opsAt: [Int: String] = [:]
        var field: String
        var says: String
        var testDescription: String { "\(field) \(says)" }
    }

    static let badRuns: [BadRun] = [
        BadRun(partitions: ["measuredCapacity": "null"], field: "partitions.measuredCapacity", says: "missing"),
        BadRun(partitions: ["measuredCapacity": "\"nan\""], field: "partitions.measuredCapacity", says: "is nan"),
        BadRun(partitions: ["measuredCapacity": "\"inf\""], field: "partitions.measuredCapacity", says: "is inf"),
        BadRun(partitions: ["measuredCapacity": "-3"], field: "partitions.measuredCapacity", says: "is -3"),
        BadRun(partitions: ["copyBytesPerSecond": "\"nan\""], field: "partitions.copyBytesPerSecond", says: "is nan"),
        BadRun(partitions: ["copyBytesPerSecond": "1"], field: "partitions.copyBytesPerSecond", says: "is 1"),
        BadRun(opsAt: [3: "\"inf\""], field: "series[3].opsPerSecond", says: "is inf"),
        BadRun(opsAt: [7: "-1"], field: "series[7].opsPerSecond", says: "is -1"),
        BadRun(fields: ["policy": "\"adaptive\""], field: "policy", says: "'adaptive'"),
        BadRun(fields: ["policy": "null"], field: "policy", says: "missing"),
        BadRun(fields: ["distribution": "\"zipfian θ=0.99\""], field: "distribution", says: "zipfian"),
        BadRun(fields: ["records": "null"], field: "records", says: "missing"),
        BadRun(fields: ["load": "{\"records\": 1, \"seconds\": \"inf\", \"recordsPerSecond\": 5}"], field: "load.seconds", says: "is inf"),
        BadRun(fields: ["engine": "\"rocksdb\""], field: "engine", says: "'rocksdb'"),
    ]

    @Test(arguments: badRuns)
    func badRunsAreRefusedByName(_ bad: BadRun) throws {
        let got = try Self.failure(Self.runJSON(fields: bad.fields, partitions: bad.partitions, opsAt: bad.opsAt))
        #expect(got?.0 == bad.field, "expected an error naming \(bad.field), got \(String(describing: got))")
        #expect(got?.1.contains(bad.field) == true && got?.1.contains(bad.says) == true && got?.1.hasPrefix("run 1") == true,
                "\(String(describing: got?.1))")
    }

    @Test func unevenOrEmptySeriesIsRefused() throws {
        var uneven = Self.runJSON()
        uneven = uneven.replacingOccurrences(of: "{\"seconds\": 10,", with: "{\"seconds\": 10.5,")
        #expect(try Self.failure(uneven)?.0 == "series[9].seconds")
        let empty = Self.runJSON(fields: ["series": "[]", "profile": "\"unthrottled\""])
        #expect(try Self.failure(empty)?.0 == "profile")
        // Without a series, a described profile is replayed instead.
        let described = try Self.decode(Self.runJSON(fields: ["series": "[]"]))[0]
        let replay = try EngineReplay(run: described, index: 1)
        #expect(replay.rows.count == 60 && abs(replay.rows[20] - 40000) < 1000 && abs(replay.rows[0] - 5000) < 100)
    }

    @Test func filesThatAreNotRunsDoNotDecode() {
        #expect(throws: DecodingError.self) { try Self.decode("\"hello\"") }
        #expect(throws: DecodingError.self) { try Self.decode("[1, 2]") }
        #expect((try? Self.decode("[]"))?.isEmpty == true, "an empty array decodes; the command reports it as no runs")
    }

    // MARK: - The engine model's parts

    /// A run that shared files and copied nothing is replayed with a sharing executor.
    @Test func sharedRunIsReplayedSharing() throws {
        let run = try #require(try Self.decode(Self.runJSON(partitions: ["bytesMoved": "0", "bytesShared": "400000000"])).first)
        let o = try EngineReplay(run: run, index: 1).options
        #expect(o.capacity.reshardCost.dataMode == .shareFiles)
    }

    @Test func windowHotspotIsYCSBsHotRange() {
        var o = SimulationOptions()
        o.hotspotShape = .window
        o.hotspotShare = 0.9
        o.hotspotWidth = 0.1
        o.hotspotStart = 0.95
        o.hotspotSpeed = 36
        let load = KeySpaceLoad(options: o)
        #expect(abs(load.mass(from: 0, to: 1, at: 0) - 1) < 1e-12)
        // At t = 0 the window wraps: [0.95, 1) ∪ [0, 0.05).
        #expect(abs(load.mass(from: 0.95, to: 1, at: 0) - 0.45) < 1e-12)
        #expect(abs(load.mass(from: 0, to: 0.05, at: 0) - 0.45) < 1e-12)
        #expect(abs(load.mass(from: 0.5, to: 0.6, at: 0) - 0.1 / 9) < 1e-12)
        // 10 s later it has drifted 10% of the key space: [0.05, 0.15).
        #expect(abs(load.mass(from: 0.05, to: 0.15, at: 10) - 0.9) < 1e-9)
        let masses = load.masses(edges: [0, 0.1, 0.5, 1], at: 10)
        #expect(abs(masses.reduce(0, +) - 1) < 1e-12 && masses[0] > 0.4)
    }

    /// One partition at a constant 1.2 × capacity, hot window far from the middle: with the
    /// first partition's histogram unable to place keys, the split goes to the data median.
    @Test func unresolvedFirstPartitionSplitsAtTheDataMedian() {
        var o = SimulationOptions()
        o.initialPartitions = 1
        o.peakMultiple = 1.2
        o.sampleNoise = 0
        o.globalNoise = 0
        o.hotspotShape = .window
        o.hotspotShare = 0.9
        o.hotspotWidth = 0.1
        o.hotspotStart = 0.05
        o.hotspotSpeed = 0
        o.totalDataBytes = 1 << 30
        o.recordActions = true
        let flat = [Double](repeating: 1, count: 2)
        let resolved = Simulator(rows: flat, options: o, policy: .reactive(ReactiveOptions()))
        _ = resolved.run()
        #expect(resolved.actionLog.first?.hasPrefix("t=9 split p1 @ ") == true, "\(resolved.actionLog)")
        #expect(resolved.actionLog.first?.contains(" @ 80 ") == false, "cut at the load median, in the hot window")
        o.initialHistogramResolvesKeys = false
        let unresolved = Simulator(rows: flat, options: o, policy: .reactive(ReactiveOptions()))
        _ = unresolved.run()
        #expect(unresolved.actionLog.first?.hasPrefix("t=9 split p1 @ 80 ") == true, "\(unresolved.actionLog)")
        #expect(unresolved.actionLog.first?.contains("split at the data median") == true)
    }

    /// Two overloaded partitions split at the same tick: in parallel both finish after one
    /// copy; on the engine's single reshard queue the second waits for the first.
    @Test func serialReshardsQueueBehindEachOther() throws {
        var o = SimulationOptions()
        o.initialPartitions = 2
        o.peakMultiple = 2.4
        o.hotspotShare = 0
        o.sampleNoise = 0
        o.globalNoise = 0
        o.totalDataBytes = 4 << 30
        o.capacity.reshardCost = try ReshardCostModel(dataMode: .copy, copyBytesPerSecond: 100 * 1_048_576, overheadSeconds: 0)
        let flat = [Double](repeating: 1, count: 2)
        let parallel = Simulator(rows: flat, options: o, policy: .reactive(ReactiveOptions())).run()
        o.serialReshards = true
        let serial = Simulator(rows: flat, options: o, policy: .reactive(ReactiveOptions())).run()
        // Each split copies 2 GiB at 100 MiB/s: 20.48 s → 21 s; issued at t = 9.
        #expect(parallel.splits == 2 && parallel.overloadPartitionSeconds == 2 * 30, "\(parallel)")
        // The second takes effect at ⌈9 + 40.96⌉ = 50.
        #expect(serial.splits == 2 && serial.overloadPartitionSeconds == 30 + 50, "\(serial)")
        #expect(parallel.bytesCommitted == 4 << 30 && serial.bytesCommitted == 4 << 30 && serial.bytesMoved == 4 << 30)
    }

    /// A prelude's load is in the partitions' samples when the profile starts, and out of the
    /// metrics. (It used to make the predictive policy split at once; a transient no longer
    /// does — see `PredictiveOptions.sustainWithoutForecastNanos` and the point-forecast gate.)
    @Test func preludeFeedsTelemetryButNotMetrics() {
        var o = SimulationOptions()
        o.initialPartitions = 1
        o.peakMultiple = 0.3
        o.sampleNoise = 0
        o.globalNoise = 0
        o.hotspotShare = 0
        o.totalDataBytes = 256 << 20
        o.capacity = CapacityModel.measured()
        o.capacity.costBudget = nil
        o.capacity.opsPerSecond = 1000
        o.detectsSeasonality = true
        o.forecastStepSeconds = 5
        let flat = [Double](repeating: 1, count: 1)
        let quiet = Simulator(rows: flat, options: o, policy: .predictive(PredictiveOptions())).run()
        #expect(quiet.splits == 0 && quiet.simulatedSeconds == 60)
        o.prelude = SimulationOptions.Prelude(seconds: 8, opsPerSecond: 3000)
        let loaded = Simulator(rows: flat, options: o, policy: .predictive(PredictiveOptions())).run()
        #expect(loaded.simulatedSeconds == 60, "\(loaded)")
        #expect(abs(loaded.totalOps - quiet.totalOps) < 1e-6 * quiet.totalOps, "the prelude's operations are not the profile's")
        var still = o
        still.prelude = SimulationOptions.Prelude(seconds: 4, opsPerSecond: 3000)
        let staticRun = Simulator(rows: flat, options: still, policy: .static).run()
        #expect(staticRun.splits == 0 && staticRun.meanPartitions == 1)
    }
}
