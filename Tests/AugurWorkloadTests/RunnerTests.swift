import AugurForecast
@testable import AugurWorkload
import Foundation
import Testing
import AugurTestSupport

/// Runs `spec` against a fresh MemoryStore on a manual clock; `prepare` sets the runner up
/// before it loads (e.g. its steal counter).
func manualRun(_ spec: WorkloadSpec, _ configure: (inout RunConfiguration) -> Void,
               store setup: (MemoryStore, ManualClock) -> Void = { _, _ in },
               runner prepare: (WorkloadRunner, ManualClock) -> Void = { _, _ in }) throws -> (RunResult, MemoryStore) {
    let clock = ManualClock()
    let store = MemoryStore()
    store.clock = clock
    setup(store, clock)
    var config = RunConfiguration()
    configure(&config)
    let runner = WorkloadRunner(store: store, spec: spec, config: config, clock: clock)
    prepare(runner, clock)
    _ = try runner.load(batchSize: 500)
    return (try runner.run(), store)
}

@Suite("Rate profiles under a manual clock")
struct RateProfileTests {
    /// Each 1 s bucket holds the operations the profile asks for in that second (±2% + 3).
    ///
    /// Per-second buckets are checked with one thread: a manual clock jumps to whichever
    /// thread's deadline comes first, so with several threads completions land in buckets in
    /// racing order; with several threads only the total is checked.
    /// `integral(a, b)` is the number of operations the profile should deliver in [a, b),
    /// computed independently of `RateProfile` (closed forms).
    func checkDelivered(_ profile: RateProfile, seconds: Double, threads: Int = 1,
                        integral: (Double, Double) -> Double) throws {
        var spec = try WorkloadSpec.preset("c", recordCount: 100)
        spec.distribution = .uniform
        let seed = testSeed(21)
        let (result, _) = try manualRun(spec) { c in
            c.profile = profile
            c.loop = .open
            c.threads = threads
            c.stop = .duration(seconds: seconds)
            c.seed = seed
        }
        let expectedTotal = integral(0, seconds)
        #expect(abs(Double(result.operations) - expectedTotal) <= expectedTotal * 0.01 + 3, "\(profile.description): \(result.operations) ops, expected \(expectedTotal)")
        if threads > 1 { return }
        #expect(result.series.count == Int(seconds), "\(profile.description): \(result.series.count) buckets")
        var total = 0.0
        for s in result.series {
            let expected = integral(s.seconds - 1, s.seconds)
            let got = s.opsPerSecond
            total += got
            #expect(abs(got - expected) <= expected * 0.02 + 3, "\(profile.description) at \(s.seconds) s: \(got) ops, expected \(expected)")
        }
        #expect(abs(total - expectedTotal) <= expectedTotal * 0.01 + 3, "\(profile.description): total \(total) vs \(expectedTotal)")
    }

    @Test("constant") func constant() throws {
        try checkDelivered(.constant(500), seconds: 10) { a, b in 500 * (b - a) }
    }
    @Test("constant, 3 threads") func constantThreads() throws {
        try checkDelivered(.constant(900), seconds: 6, threads: 3) { a, b in 900 * (b - a) }
    }
    @Test("ramp") func ramp() throws {
        // 100 → 2000 over 15 s, then 2000: F(t) = 100t + 1900t²/30 for t ≤ 15.
        func F(_ t: Double) -> Double { t <= 15 ? 100 * t + 1900 * t * t / 30 : F(15) + 2000 * (t - 15) }
        try checkDelivered(.ramp(from: 100, to: 2000, seconds: 15), seconds: 20) { F($1) - F($0) }
    }
    @Test("spike") func spike() throws {
        func F(_ t: Double) -> Double { 200 * t + 2800 * Swift.min(3, Swift.max(0, t - 5)) }
        try checkDelivered(.spike(base: 200, peak: 3000, at: 5, seconds: 3), seconds: 12) { F($1) - F($0) }
    }
    @Test("diurnal") func diurnal() throws {
        // 100 at t = 0, 1500 at t = 10, period 20: F(t) = 800t − 1400·20/(4π)·sin(2πt/20).
        func F(_ t: Double) -> Double { 800 * t - 1400 * 20 / (4 * Double.pi) * sin(2 * Double.pi * t / 20) }
        let p = RateProfile.diurnal(low: 100, high: 1500, periodSeconds: 20)
        #expect(p.rate(atSeconds: 0) == 100 && abs(p.rate(atSeconds: 10)! - 1500) < 1e-9 && abs(p.rate(atSeconds: 5)! - 800) < 1e-9)
        try checkDelivered(p, seconds: 40) { F($1) - F($0) }
    }

    @Test("replay of a CSV column, time-compressed")
    func replay() throws {
        let path = NSTemporaryDirectory() + "augur-load-test-\(getpid()).csv"
        try "time,load\n0,10\n1,20\n2,40\n3,20\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let curve = try ReplayCurve.load(path: path, column: "load", secondsPerRow: 2, peakRate: 1000)
        #expect(curve.rates == [250, 500, 1000, 500])
        #expect(curve.rate(atSeconds: 1) == 375)  // halfway between rows 0 and 1
        #expect(curve.rate(atSeconds: 8) == 250)  // wraps around
        // Piecewise linear through 250, 500, 1000, 500 (2 s apart), wrapping: trapezoids.
        func r(_ t: Double) -> Double { curve.rate(atSeconds: t) }
        #expect(r(3) == 750 && r(6) == 500 && r(7) == 375)
        try checkDelivered(.replay(curve), seconds: 12) { a, b in
            // Exact for a piecewise-linear curve with knots at even seconds: Simpson per second.
            stride(from: a, to: b - 1e-9, by: 1).reduce(0) { $0 + (r($1) + 4 * r($1 + 0.5) + r($1 + 1)) / 6 }
        }
        let floored = try ReplayCurve.load(path: path, column: "load", secondsPerRow: 1, peakRate: 1000, lowRate: 100)
        #expect(floored.rates == [100, 400, 1000, 400])
    }

    /// A replay CSV from a FIFO (what a pipe or process substitution hands over): read to end of
    /// file as a regular file is. It was read with pread, which fails on a FIFO ("No such device
    /// or address"); `augur forecast --csv` read the same FIFO.
    @Test("a replay reads its CSV from a FIFO as from a file")
    func replayReadsAFIFO() throws {
        let fifo = NSTemporaryDirectory() + "augur-load-fifo-\(getpid())"
        unlink(fifo)
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        Self.writeToFIFO(fifo, "time,load\n0,10\n1,20\n2,40\n3,20\n", patience: 10)
        let curve = try ReplayCurve.load(path: fifo, column: "load", secondsPerRow: 2, peakRate: 1000)
        #expect(curve.rates == [250, 500, 1000, 500])
        // augur-load builds its scenario more than once (validation, the run, each policy): the
        // FIFO's text is kept, where a second read found no data rows.
        // Other text offered on the FIFO meanwhile is not read (it was, without the kept text).
        Self.writeToFIFO(fifo, "load\n1\n", patience: 2)
        let again = try ReplayCurve.load(path: fifo, column: "load", secondsPerRow: 1, peakRate: 2000)
        #expect(again.rates == [500, 1000, 2000, 1000])
    }

    /// Writes `text` into the FIFO at `path` from a thread of its own once a reader opens it,
    /// trying for `patience` seconds (a non-blocking open fails until then), so a test whose
    /// reader never comes leaves no thread blocked. SIGPIPE is blocked in that thread: a
    /// reader that stops early must fail the test, not kill the process.
    static func writeToFIFO(_ path: String, _ text: String, patience: Double) {
        Thread {
            var pipeSignal = sigset_t()
            sigemptyset(&pipeSignal)
            sigaddset(&pipeSignal, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
            let deadline = Date().addingTimeInterval(patience)
            var fd: Int32 = -1
            while fd < 0 && Date() < deadline {
                fd = open(path, O_WRONLY | O_NONBLOCK)
                if fd < 0 { usleep(5_000) }
            }
            guard fd >= 0 else { return }
            let bytes = Array(text.utf8)
            _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            close(fd)
        }.start()
    }

    @Test("a replay scales the rows the run plays, not rows it never reaches")
    func replayScalesThePlayedWindow() throws {
        let path = NSTemporaryDirectory() + "augur-load-window-\(getpid()).csv"
        // The column's maximum (100) lies after what a 3-second run at 1 s per row plays.
        try "load\n10\n20\n40\n20\n100\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let whole = try ReplayCurve.load(path: path, column: "load", secondsPerRow: 1, peakRate: 1000)
        #expect(whole.rates == [100, 200, 400, 200, 1000])
        // 3 s play rows 0…3 (row 3 is interpolated towards at the end): the peak is row 2.
        let played = try ReplayCurve.load(path: path, column: "load", secondsPerRow: 1, peakRate: 1000, scaledOverSeconds: 3)
        #expect(played.rates == [250, 500, 1000, 500])
        let floored = try ReplayCurve.load(path: path, column: "load", secondsPerRow: 1, peakRate: 1000, lowRate: 100,
                                           startRow: 1, scaledOverSeconds: 1.5)
        #expect(floored.rates == [100, 1000, 100])   // rows 20, 40, 20: the window's minimum is the floor
        // Longer than the data, or not a length at all: every row.
        for seconds in [60, Double.infinity, .nan, 0, -1] {
            let all = try ReplayCurve.load(path: path, column: "load", secondsPerRow: 1, peakRate: 1000, scaledOverSeconds: seconds)
            #expect(all.rates == whole.rates, "scaledOverSeconds \(seconds)")
        }
    }

    /// data/nyc_taxi_halfhourly.csv, shipped in the repository (MIT, notice in data/README.md).
    static var realLoadCurve: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data/nyc_taxi_halfhourly.csv").path
    }

    @Test("a real load curve replays as a rate curve")
    func realLoadCurveReplays() throws {
        let path = Self.realLoadCurve
        let curve = try ReplayCurve.load(path: path, column: "passengers", secondsPerRow: 0.5, peakRate: 800, rows: 48)
        #expect(curve.rates.count == 48)
        #expect(abs((curve.rates.max() ?? 0) - 800) < 1e-9)
        let values = try CSVSeries.column(named: "passengers", in: String(contentsOfFile: path, encoding: .utf8), file: path)
        let peak = values.prefix(48).max()!
        // Rows are 0.5 s apart, so each 1 s bucket holds the trapezoids of two segments.
        try checkDelivered(.replay(curve), seconds: 24) { a, b in
            var sum = 0.0
            var t = a
            while t < b - 1e-9 {
                let i = Int((t / 0.5).rounded()) % 48, j = (i + 1) % 48
                sum += 0.25 * (values[i] + values[j]) / peak * 800
                t += 0.5
            }
            return sum
        }
    }

    @Test("schedule: per-thread shares interleave and sum to the rate")
    func scheduleShares() {
        var a = OpenLoopSchedule(profile: .constant(1000), threads: 2, index: 0)
        var b = OpenLoopSchedule(profile: .constant(1000), threads: 2, index: 1)
        var times: [Double] = []
        while let t = a.next(before: 1) { times.append(t) }
        while let t = b.next(before: 1) { times.append(t) }
        #expect(times.count == 1000)
        times.sort()
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        #expect(gaps.allSatisfy { abs($0 - 0.001) < 1e-9 })
    }

    @Test("open loop corrects for coordinated omission; closed loop does not")
    func coordinatedOmission() throws {
        let seed = testSeed(22)
        var spec = try WorkloadSpec.preset("c", recordCount: 100)
        spec.distribution = .uniform
        func run(_ loop: LoopMode) throws -> RunResult {
            try manualRun(spec, { c in
                c.profile = .constant(1000)
                c.loop = loop
                c.stop = .duration(seconds: 5)
                c.seed = seed
            }, store: { store, _ in
                store.serviceNanoseconds = 10_000                  // 10 µs per operation
                store.stallAtNanoseconds = 2_000_000_000           // at t = 2 s ...
                store.stallNanoseconds = 200_000_000               // ... one 200 ms stall
            }).0
        }
        let open = try run(.open)
        let closed = try run(.closed)
        // Open: the ~200 operations scheduled during the stall wait for it (0–200 ms), so
        // ≥ 1% of 5000 see ≥ 100 ms.
        #expect(open.all.p99Microseconds > 100_000, "open p99 \(open.all.p99Microseconds) µs")
        #expect(open.all.maxMicroseconds >= 199_000)
        #expect(abs(Double(open.operations) - 5000) <= 5, "open loop still issues the scheduled operations: \(open.operations)")
        // Closed: the same operations run, but latency starts when each is actually issued, so
        // only the one stalled operation is slow and p99 stays at the service time.
        #expect(closed.all.p99Microseconds < 100, "closed p99 \(closed.all.p99Microseconds) µs")
        #expect(closed.all.maxMicroseconds >= 199_000)
        #expect(closed.all.p999Microseconds < 100, "closed p99.9 \(closed.all.p999Microseconds) µs")
        #expect(open.all.p999Microseconds > 150_000, "open p99.9 \(open.all.p999Microseconds) µs")
    }
}

@Suite("Runner")
struct RunnerTests {
    @Test("performs the requested mix against an in-memory store (YCSB A, B, E, F)")
    func performsMix() throws {
        let seed = testSeed(31)
        for (name, expected) in [("a", ["get": 0.5, "put": 0.5]), ("b", ["get": 0.95, "put": 0.05]),
                                 ("e", ["scan": 0.95, "put": 0.05]), ("f", ["get": 2.0 / 3, "put": 1.0 / 3])] {
            let spec = try WorkloadSpec.preset(name, recordCount: 2000)
            // An open loop for a fixed time, not a count of operations: each thread then draws
            // exactly its share of the schedule, so the counts (and χ²) are the seed's alone.
            // Stopped at a count, the two threads' split depended on how they raced, and under
            // a loaded machine the sum of two stream prefixes drifted past the 0.1 % bound.
            let (result, store) = try manualRun(spec, { c in
                c.threads = 2
                c.profile = .constant(2000)
                c.loop = .open
                c.warmupSeconds = 0
                c.stop = .duration(seconds: 10)
                c.seed = seed
            }, store: { s, _ in s.serviceNanoseconds = 1000 })
            // 2,000 ops/s for 10 s; the schedule's both ends may each hold one.
            #expect(abs(result.operations - 20_000) <= 2, "workload \(name): \(result.operations)")
            var counts = store.counts
            counts["write"] = nil   // the load phase
            let keys = expected.keys.sorted()
            #expect(Set(counts.keys) == Set(keys), "workload \(name): \(counts)")
            let (s, df) = chiSquare(observed: keys.map { counts[$0] ?? 0 }, expected: keys.map { expected[$0]! })
            #expect(s < chiSquareCritical(df: df), "workload \(name): χ²=\(s) \(counts)")
            let kinds = Set(result.perOperation.map(\.kind))
            switch name {
            case "e": #expect(kinds == ["scan", "insert"])
            case "f": #expect(kinds == ["read", "read-modify-write"])
            default: #expect(kinds == ["read", "update"])
            }
            #expect(result.perOperation.reduce(0) { $0 + $1.count } == result.operations)
        }
    }

    @Test("inserts create new keys; the load phase creates the records")
    func insertsAndLoad() throws {
        let seed = testSeed(32)
        let spec = try WorkloadSpec.preset("d", recordCount: 1000)
        let (result, store) = try manualRun(spec, { c in c.stop = .operations(10_000); c.seed = seed },
                                            store: { s, _ in s.serviceNanoseconds = 1000 })
        let inserts = result.perOperation.first { $0.kind == "insert" }?.count ?? 0
        #expect(store.count == 1000 + inserts, "\(store.count) keys after \(inserts) inserts")
        #expect(withinBinomial(inserts, of: 10_000, p: 0.05))
    }

    @Test("warm-up operations are not measured; the duration is honoured")
    func warmup() throws {
        let seed = testSeed(33)
        let spec = try WorkloadSpec.preset("c", recordCount: 100)
        let (result, _) = try manualRun(spec) { c in
            c.profile = .constant(1000)
            c.loop = .open
            c.warmupSeconds = 2
            c.stop = .duration(seconds: 3)
            c.seed = seed
        }
        #expect(abs(Double(result.operations) - 3000) <= 3, "measured \(result.operations)")
        #expect(result.measuredSeconds == 3)
        #expect(result.series.count == 5)
        #expect(result.series.prefix(2).allSatisfy(\.warmup) && !result.series[2].warmup)
        #expect(abs(result.throughput - 1000) < 2)
    }

    @Test("every operation kind has its own slot in a thread's counts, in allCases order")
    func kindOrdinals() {
        for (i, k) in OperationKind.allCases.enumerated() { #expect(k.ordinal == i, "\(k)") }
    }

    @Test("errors are counted per operation type and do not stop the run")
    func errors() throws {
        let seed = testSeed(34)
        let spec = try WorkloadSpec.preset("a", recordCount: 100)
        let clock = ManualClock()
        let store = MemoryStore()
        store.clock = clock
        store.serviceNanoseconds = 1000
        store.failEveryNth = 10
        var config = RunConfiguration()
        config.stop = .operations(1000)
        config.seed = seed
        let result = try WorkloadRunner(store: store, spec: spec, config: config, clock: clock).run()
        #expect(result.operations == 1000)
        #expect(result.errors == 100)
        #expect(result.firstError?.contains("test failure") == true)
    }

    @Test("partition metrics, reshard events and forecasts reach the series")
    func partitionTelemetry() throws {
        let seed = testSeed(35)
        let spec = try WorkloadSpec.preset("a", recordCount: 100)
        let (result, _) = try manualRun(spec, { c in
            c.profile = .constant(200)
            c.loop = .open
            c.stop = .duration(seconds: 10)
            c.seed = seed
        }, store: { s, _ in
            s.partitionsAt = { ns in ns < 3_000_000_000 ? 1 : ns < 7_000_000_000 ? 3 : 2 }
            s.forecastAt = { _ in IntervalForecast(predicted: 220, lower: 180, upper: 260) }
        })
        #expect(result.partitions.atStart == 1)
        #expect(result.partitions.atEnd == 2)
        #expect(result.partitions.maximum == 3)
        #expect(result.partitions.splits == 0)
        #expect(result.events.map(\.kind) == [.split, .merge])
        #expect(result.series.compactMap(\.partitions).count == result.series.count)
        #expect(result.series.allSatisfy { $0.forecast?.predicted == 220 })
        // MAPE of 220 against a measured 200 ops/s.
        #expect(abs((result.partitions.forecastError ?? 0) - 0.1) < 0.02)
    }

    @Test("bulk load writes batches of sequential keys")
    func bulkLoad() throws {
        let seed = testSeed(36)
        var spec = try WorkloadSpec.preset("bulkload", recordCount: 100_000)
        spec.kind = .bulkLoad(batchSize: 100)
        let (result, store) = try manualRun(spec, { c in c.stop = .operations(50); c.seed = seed },
                                            store: { s, _ in s.serviceNanoseconds = 1000 })
        #expect(result.perOperation.map(\.kind) == ["batch"])
        #expect(store.count == 5000)
        #expect(store.counts["write"] == 50)
    }

    @Test("time-series keys: series ‖ timestamp, appends and recent scans")
    func timeSeries() throws {
        let seed = testSeed(37)
        let spec = try WorkloadSpec.preset("timeseries", recordCount: 1000)
        let (result, store) = try manualRun(spec, { c in
            c.profile = .constant(1000)
            c.loop = .open
            c.stop = .duration(seconds: 3)
            c.seed = seed
        })
        let inserts = result.perOperation.first { $0.kind == "insert" }?.count ?? 0
        #expect(withinBinomial(inserts, of: result.operations, p: 0.95))
        #expect(store.count == inserts)
        #expect((store.counts["scan"] ?? 0) > 0)
    }

    @Test("configuration errors are reported before running")
    func badConfiguration() {
        var c = RunConfiguration()
        c.loop = .open
        #expect(throws: WorkloadError.self) { try c.validate() }
        c.profile = .constant(-5)
        #expect(throws: WorkloadError.invalidRate(name: "rate", value: -5)) { try c.validate() }
        c = RunConfiguration()
        c.threads = 0
        #expect(throws: WorkloadError.self) { try c.validate() }
    }
}
