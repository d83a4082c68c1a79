import ArgumentParser
import AugurForecast
import AugurPlanner
import AugurSimulation
import AugurSys
import Foundation

/// `augur simulate`: runs the deterministic reshard simulator on a load profile read from a
/// CSV column and prints a table of metrics per policy (or JSON); or, with `--from-run`,
/// replays augur-load runs (the engine's own load, measured capacity and copy rate) and sets
/// the predicted partition counts and bytes moved against what the engine measured.
///
/// Thread-safety: a command value, run once on the main thread.
public struct SimulateCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate the reshard planner policies on a load profile and compare their metrics.",
        discussion: """
        Two modes. --csv FILE --column NAME: simulate the policies on a load profile from a CSV \
        column. --from-run FILE.json: replay each run of an augur-load --json file (one run or an \
        array, e.g. from `augur-load policies --json`) under the run's policy, on its measured \
        per-interval load with the capacity and copy rate the engine measured, and print the \
        predicted against the measured mean and largest partition count and bytes moved.
        """
    )

    @Option(name: .long, help: "Policy to run: static, reactive, predictive or all (with --from-run: the runs of that policy).")
    public var policy: String = "all"

    @Option(name: .long, help: "CSV file with a header row holding the load profile.")
    public var csv: String?

    @Option(name: .long, help: "Column of the CSV to use as the load profile.")
    public var column: String?

    @Option(name: .customLong("from-run"), help: "augur-load --json output to replay and predict (instead of --csv).")
    public var fromRun: String?

    @Option(name: .long, help: "With --from-run: ops/s one partition takes, instead of the run's measured capacity.")
    public var capacity: Double?

    @Option(name: .long, help: "With --from-run: relative noise of each partition's per-second utilization (default 0.05).")
    public var sampleNoise: Double?

    // The profile's flags are optional so that `--from-run`, which takes all of this from the
    // run, can refuse them instead of ignoring them; `makeOptions` lays the given ones over
    // `SimulationOptions`' defaults.
    @Option(name: .long, help: "With --csv: simulated seconds per CSV row (default 60).")
    public var secondsPerRow: Double?

    @Option(name: .long, help: "With --csv: rows per daily cycle, the forecasters' seasonal period (default 48; × --seconds-per-row, a multiple of \(SimulationOptions().forecastStepSeconds) s and at most \(SimulationOptions.maxSeasonalPeriodSteps) such steps).")
    public var rowsPerDay: Int?

    @Option(name: .long, help: "With --csv: simulate only the first N rows (default: all).")
    public var rows: Int?

    @Option(name: .long, help: "With --csv: peak total load as a multiple of one partition's ops capacity (default 6).")
    public var peakMultiple: Double?

    @Option(name: .long, help: "With --csv: hotspot speed in key-space fractions per simulated hour (default 0.5).")
    public var hotspotSpeed: Double?

    @Option(name: .long, help: "With --csv: share of the load on the moving hotspot (default 0.3).")
    public var hotspotShare: Double?

    @Option(name: .long, help: "With --csv: share of the load on one single hot key (default 0).")
    public var hotKeyShare: Double?

    @Option(name: .long, help: "Copy rate of one reshard, MiB/s (default: 230 with --csv; the run's measured rate with --from-run).")
    public var copyMibPerSecond: Double?

    @Option(name: .long, help: "With --csv: how reshards give targets their data, share (the engine's default: nothing is copied) or copy (every byte of every source).")
    public var reshardData: String?

    @Option(name: .long, help: "With --csv: time every reshard takes besides copying, seconds (default 0.5).")
    public var reshardOverheadSeconds: Double?

    @Option(name: .long, help: "Seed of the simulation's random choices.")
    public var seed: UInt64 = 1

    @Option(name: .long, help: "Write every started action, one line each, to this file.")
    public var trace: String?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    public var json = false

    public init() {}

    /// The flags only a `--csv` simulation reads, that were given.
    var csvFlagsGiven: [String] {
        [("seconds-per-row", secondsPerRow != nil), ("rows-per-day", rowsPerDay != nil), ("rows", rows != nil),
         ("peak-multiple", peakMultiple != nil), ("hotspot-speed", hotspotSpeed != nil), ("hotspot-share", hotspotShare != nil),
         ("hot-key-share", hotKeyShare != nil), ("reshard-data", reshardData != nil),
         ("reshard-overhead-seconds", reshardOverheadSeconds != nil)].filter(\.1).map { "--" + $0.0 }
    }

    public func validate() throws {
        for (flag, path) in [("csv", csv), ("from-run", fromRun), ("trace", trace)] {
            if let path { try FlagLimits.checkPath(flag, path) }
        }
        guard policy == "all" || PlannerPolicy.named(policy) != nil else {
            throw ValidationError("--policy must be static, reactive, predictive or all (got '\(policy)')")
        }
        let copy = SimulationOptions.copyBytesPerSecondRange
        if let copyMibPerSecond {
            try FlagLimits.check("copy-mib-per-second", copyMibPerSecond, copy.lowerBound / 1_048_576, copy.upperBound / 1_048_576, unit: "MiB/s")
        }
        if fromRun != nil {
            guard csv == nil && column == nil else { throw ValidationError("--from-run replaces --csv and --column: give one or the other") }
            if let capacity {
                try FlagLimits.check("capacity", capacity, 0, SimulationOptions.maxPeakOpsPerSecond, lowExclusive: true, unit: "ops/s")
            }
            if let sampleNoise { try FlagLimits.check("sample-noise", sampleNoise, 0, 1) }
            // A replay takes its rows, timing, load shape and reshard costs from the run: a
            // profile flag would be ignored, and the user would not know it.
            let ignored = csvFlagsGiven
            if !ignored.isEmpty {
                throw ValidationError("\(ignored.joined(separator: ", ")) \(ignored.count == 1 ? "is" : "are") for --csv: --from-run replays each run as it was measured (only --policy, --capacity, --sample-noise, --copy-mib-per-second, --seed, --trace and --json apply)")
            }
            return
        }
        guard csv != nil, column != nil else { throw ValidationError("give --csv FILE and --column NAME, or --from-run FILE.json") }
        if capacity != nil { throw ValidationError("--capacity is for --from-run (with --csv, --peak-multiple sets the load against capacity)") }
        if sampleNoise != nil { throw ValidationError("--sample-noise is for --from-run") }
        if let reshardData, ReshardDataMode(rawValue: reshardData) == nil {
            throw ValidationError("--reshard-data must be share or copy (got '\(reshardData)')")
        }
        if let reshardOverheadSeconds { try FlagLimits.check("reshard-overhead-seconds", reshardOverheadSeconds, 0, 86_400, unit: "s") }
        // Flag by flag first, so the message names the flag the user typed.
        let o = makeOptions()
        try FlagLimits.check("seconds-per-row", o.secondsPerRow, 1, SimulationOptions.maxSecondsPerRow, unit: "simulated seconds")
        try FlagLimits.check("rows-per-day", o.rowsPerDay, 2...65536, unit: "rows")
        if let rows { try FlagLimits.check("rows", rows, 1...Int.max) }
        try FlagLimits.check("peak-multiple", o.peakMultiple, 0, SimulationOptions.maxPeakMultiple, lowExclusive: true)
        try FlagLimits.check("hotspot-speed", o.hotspotSpeed, -SimulationOptions.maxHotspotSpeed, SimulationOptions.maxHotspotSpeed,
                             unit: "key spaces per hour")
        try FlagLimits.check("hotspot-share", o.hotspotShare, 0, 1)
        try FlagLimits.check("hot-key-share", o.hotKeyShare, 0, 1)
        try checkDailyCycle(o)
        let errors = o.validationErrors()
        if !errors.isEmpty { throw ValidationError(errors.joined(separator: "; ")) }
    }

    /// --rows-per-day × --seconds-per-row is the daily cycle the forecasters are given, in
    /// forecast steps: a whole number of them in 2...maxSeasonalPeriodSteps. Each flag alone
    /// passed its range and the options' check then named `forecastStepSeconds`, which no flag
    /// sets (--rows-per-day 65536 at the default 60 s a row is 196,608 steps).
    private func checkDailyCycle(_ o: SimulationOptions) throws {
        guard !o.detectsSeasonality else { return }
        let step = o.forecastStepSeconds, maxSteps = SimulationOptions.maxSeasonalPeriodSteps
        let day = Double(o.rowsPerDay) * o.secondsPerRow
        let flags = "--rows-per-day \(o.rowsPerDay) × --seconds-per-row \(FlagLimits.show(o.secondsPerRow))"
        let steps = day / Double(step)
        if steps > Double(maxSteps) {
            let most = Int((Double(maxSteps * step) / o.secondsPerRow).rounded(.down))
            throw ValidationError("\(flags) is a daily cycle of \(FlagLimits.show(day)) simulated s, more than the forecasters' \(maxSteps) steps of \(step) s; with --seconds-per-row \(FlagLimits.show(o.secondsPerRow)), --rows-per-day can be at most \(most)")
        }
        if steps < 2 {
            throw ValidationError("\(flags) is a daily cycle of \(FlagLimits.show(day)) simulated s, shorter than the forecasters' 2 steps of \(step) s; make it at least \(2 * step) s")
        }
        if steps != steps.rounded() {
            throw ValidationError("\(flags) is a daily cycle of \(FlagLimits.show(day)) simulated s, not a whole number of the forecasters' \(step)-s steps; make it a multiple of \(step) s")
        }
    }

    func makeOptions() -> SimulationOptions {
        var o = SimulationOptions()
        if let secondsPerRow { o.secondsPerRow = secondsPerRow }
        if let rowsPerDay { o.rowsPerDay = rowsPerDay }
        o.rows = rows
        if let peakMultiple { o.peakMultiple = peakMultiple }
        if let hotspotSpeed { o.hotspotSpeed = hotspotSpeed }
        if let hotspotShare { o.hotspotShare = hotspotShare }
        if let hotKeyShare { o.hotKeyShare = hotKeyShare }
        // Flags are checked in `validate`; a value it let through is a model the init accepts.
        if let cost = try? ReshardCostModel(dataMode: reshardData.flatMap(ReshardDataMode.init(rawValue:)) ?? .shareFiles,
                                            copyBytesPerSecond: copyMibPerSecond.map { $0 * 1_048_576 } ?? ReshardCostModel.defaultCopyBytesPerSecond,
                                            overheadSeconds: reshardOverheadSeconds ?? ReshardCostModel.defaultOverheadSeconds) {
            o.capacity.reshardCost = cost
        }
        o.seed = seed
        o.recordActions = trace != nil
        return o
    }

    /// `share files, 0.5 s each` or `copy at 230 MiB/s + 0.5 s each`.
    static func describe(_ cost: ReshardCostModel) -> String {
        let overhead = "\(FlagLimits.show(cost.overheadSeconds)) s each"
        switch cost.dataMode {
        case .shareFiles: return "share files, \(overhead)"
        case .copy: return "copy at \(FlagLimits.show(cost.copyBytesPerSecond / 1_048_576)) MiB/s + \(overhead)"
        }
    }

    public func run() throws {
        if let fromRun { return try replay(fromRun) }
        guard let csv, let column else { throw ValidationError("give --csv FILE and --column NAME, or --from-run FILE.json") }
        let text: String
        do { text = try InputFile.text(csv) } catch { throw CommandFailure("--csv: \(error)") }
        let series: [Double]
        do {
            series = try CSVSeries.column(named: column, in: text, file: csv)
        } catch {
            throw CommandFailure("\(error)")
        }
        // The rows the run simulates (--rows), checked as the simulator will use them: a
        // negative or non-finite row, or a first N rows all zero, used to trap in it.
        let used = rows.map { Array(series.prefix($0)) } ?? series
        if let problem = LoadTrace.problem(rows: used) {
            throw CommandFailure("\(csv): column '\(column)'\(rows.map { " (first \($0) rows)" } ?? ""): \(problem)")
        }
        let options = makeOptions()
        let policies = policy == "all" ? PlannerPolicy.all : [PlannerPolicy.named(policy)!]
        var results: [SimulationMetrics] = []
        var wall: [Double] = []
        var traceLines: [String] = []
        for p in policies {
            let start = Date()
            let sim = Simulator(rows: series, options: options, policy: p)
            results.append(sim.run())
            wall.append(Date().timeIntervalSince(start))
            traceLines += sim.actionLog.map { "\(p.name) \($0)" }
        }
        if let trace {
            do {
                try OutputFile.write(traceLines.joined(separator: "\n") + "\n", to: trace, inputs: [csv, fromRun].compactMap { $0 })
            } catch {
                throw CommandFailure("cannot write --trace '\(trace)': \(error)")
            }
        }
        let comparison = SimulationReport.compare(results)
        if json {
            struct Output: Encodable {
                var csv: String
                var column: String
                var rows: Int
                var secondsPerRow: Double
                var peakMultiple: Double
                var hotspotSpeed: Double
                var seed: UInt64
                var runs: [SimulationMetrics]
                var comparison: SimulationReport.Comparison?
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let out = Output(csv: csv, column: column, rows: options.rows.map { min($0, series.count) } ?? series.count,
                             secondsPerRow: options.secondsPerRow, peakMultiple: options.peakMultiple, hotspotSpeed: options.hotspotSpeed,
                             seed: seed, runs: results, comparison: comparison)
            print(String(decoding: try encoder.encode(out), as: UTF8.self))
            return
        }
        let usedRows = options.rows.map { min($0, series.count) } ?? series.count
        let seconds = results.first?.simulatedSeconds ?? 0
        print("profile: \(column) from \(csv), \(usedRows) rows × \(options.secondsPerRow) s = \(seconds) simulated s (\(String(format: "%.1f", Double(seconds) / 3600)) h)")
        print("peak \(options.peakMultiple)× one partition's capacity (\(Int(options.capacity.opsPerSecond)) ops/s); hotspot share \(options.hotspotShare), σ \(options.hotspotWidth), speed \(options.hotspotSpeed)/h; reshards \(Self.describe(options.capacity.reshardCost)); seed \(seed)")
        for line in SimulationReport.table(results) { print(line) }
        if let c = comparison { print(SimulationReport.summary(c)) }
        print("wall time: " + zip(results, wall).map { "\($0.policy) \(String(format: "%.1f", $1)) s" }.joined(separator: ", "))
    }
}
