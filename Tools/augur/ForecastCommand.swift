import ArgumentParser
import AugurForecast
import AugurSys
import Foundation

/// `augur forecast`: rolling-origin backtest of the load forecaster on one CSV column.
///
/// Feeds the column in order; at K origins evenly spaced from floor(0.8·n) to n−H it writes
/// every model's and the ensemble's H forecasts with 80%/95% bounds, then prints per model the
/// MASE (scaled by the in-sample seasonal-naive MAE of the first 80% at the first period) and
/// the interval coverage.
///
/// Thread-safety: a command value, run once on the main thread.
public struct ForecastCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "forecast",
        abstract: "Backtest the load forecaster on a CSV column and write its forecasts.",
        discussion: """
        Exit status: 0 success; 64 bad arguments; 1 a failed run (unreadable CSV, unwritable \
        --output); \(ForecastCommand.undefinedScoreExitCode) the forecasts were written but MASE is undefined for the \
        series (its in-sample seasonal-naive error is zero, e.g. a constant series); 74 the printed \
        summary could not be written to standard output.
        """
    )

    /// Exit status when the forecasts CSV was written but no MASE could be computed.
    static let undefinedScoreExitCode: Int32 = 2

    @Option(name: .long, help: "CSV file with a header row.")
    public var csv: String

    @Option(name: .long, help: "Name of the column to forecast.")
    public var column: String

    @Option(name: .long, help: "Seasonal period in observations (repeat once for a second period). The first is the MASE period.")
    public var period: [Int] = []

    @Option(name: .long, help: "Forecast horizon H, in steps.")
    public var horizon: Int = 4

    @Option(name: .long, help: "Number of forecast origins K.")
    public var origins: Int = 30

    @Option(name: .long, help: "Score only this model: a member name or 'ensemble' (default: all of them). The CSV keeps its columns.")
    public var model: String?

    @Option(name: .long, help: "Where to write the forecasts CSV.")
    public var output: String = "forecasts.csv"

    public init() {}

    public func validate() throws {
        try FlagLimits.checkPath("csv", csv)
        try FlagLimits.checkPath("output", output)
        guard !period.isEmpty else { throw ValidationError("give at least one --period (the first is the MASE period)") }
        guard period.count <= 2 else { throw ValidationError("at most two --period values, got \(period.count)") }
        guard horizon > 0 else { throw ValidationError("--horizon must be at least 1, got \(horizon)") }
        // The ensemble's own limits, said in flags and as usage errors (64): they were exit 1
        // with the options' internal names ("option seasonalPeriods = 48.0 is invalid").
        guard horizon <= ForecastOptions.maximumHorizon else {
            throw ValidationError("--horizon must be at most \(ForecastOptions.maximumHorizon), got \(horizon)")
        }
        for p in period where !(2...ForecastOptions.maximumPeriod).contains(p) {
            throw ValidationError("--period must be 2…\(ForecastOptions.maximumPeriod), got \(p)")
        }
        if period.count == 2 && period[0] == period[1] { throw ValidationError("the two --period values must differ, got \(period[0]) twice") }
        guard origins > 0 else { throw ValidationError("--origins must be at least 1, got \(origins)") }
        if let model, !Backtest.modelNames.contains(model) {
            throw ValidationError("--model '\(model)' is not a model; the models are: \(Backtest.modelNames.joined(separator: ", "))")
        }
    }

    public func run() throws {
        let text: String
        do { text = try InputFile.text(csv) } catch { throw CommandFailure("--csv: \(error)") }
        do {
            let series = try CSVSeries.column(named: column, in: text, file: csv)
            var options = ForecastOptions()
            options.horizon = horizon
            options.seasonalPeriods = period
            let report = try Backtest.run(series: series, options: options, originCount: origins, model: model)
            try write(report, to: output)
            printSummary(report, count: series.count)
            if !Self.maseDefined(report) { throw ExitCode(Self.undefinedScoreExitCode) }
        } catch let error as CSVError {
            throw CommandFailure("\(error)")
        } catch let error as ForecastError {
            if case .invalidOriginCount(_, _, let maximum) = error {
                // The origins' span is what the horizon leaves of the last 20 %: name both flags
                // (a too-long --horizon used to read as a bad default --origins).
                throw CommandFailure("\(csv): --origins \(origins) is more than the \(maximum) origin(s) the last 20 % of the column leaves with --horizon \(horizon); lower --origins or --horizon")
            }
            throw CommandFailure("\(csv): \(error)")
        }
    }

    private func write(_ report: BacktestReport, to path: String) throws {
        var out = "origin,step,actual,model,forecast,lower80,upper80,lower95,upper95\n"
        out.reserveCapacity(report.rows.count * 96)
        func bound(_ v: Double?) -> String { v.map { "\($0)" } ?? "" }
        for r in report.rows {
            out += "\(r.origin),\(r.step),\(r.actual),\(r.model),\(r.forecast),"
            out += "\(bound(r.interval80?.lower)),\(bound(r.interval80?.upper)),"
            out += "\(bound(r.interval95?.lower)),\(bound(r.interval95?.upper))\n"
        }
        do {
            try OutputFile.write(out, to: path, inputs: [csv])
        } catch {
            throw CommandFailure("cannot write --output '\(path)': \(error)")
        }
    }

    private func printSummary(_ report: BacktestReport, count: Int) {
        print("series: \(column), \(count) observations; periods \(period.map(String.init).joined(separator: ", ")); "
              + "horizon \(horizon); \(report.origins.count) origins \(report.origins.first!)…\(report.origins.last!)")
        print("MASE scale (in-sample seasonal-naive MAE, period \(period[0]), first 80%): \(Self.fixed(report.scale, 3))")
        let defined = Self.maseDefined(report)
        if !defined {
            // Say which cause it is: a zero scale, or forecasts whose errors overflowed (values
            // near 1e308 gave infinite errors, and the old line claimed a zero scale).
            if report.scale > 0 && report.scale.isFinite {
                let bad = report.scores.filter { !$0.mase.isFinite }.map(\.model)
                print("MASE is undefined for \(bad.joined(separator: ", ")): their errors are not finite numbers "
                      + "(the series' values are too large for a Double's arithmetic, or those models' forecasts diverged)")
            } else {
                print("MASE is undefined for this series: its in-sample seasonal-naive MAE at period \(period[0]) is \(report.scale) "
                      + "(0: the first 80% repeats every \(period[0]) observations exactly or to within rounding, e.g. a constant series or "
                      + "a pure sine of that period; not finite: values too large)")
            }
        }
        print("model             forecasts   MASE    cover80  cover95")
        for s in report.scores {
            // The longest member name (log_holt_winters) and a space: a name cut short is not
            // one `--model` accepts.
            let name = s.model.padding(toLength: 17, withPad: " ", startingAt: 0)
            let n = String(s.count).leftPadded(9)
            let mase = defined ? Self.fixed(s.mase, 4) : "undef "
            print("\(name) \(n)   \(mase)  \(Self.percent(s.coverage80))   \(Self.percent(s.coverage95))")
        }
        // The tracked coverage and the alert are the ensemble's: shown when it is scored.
        if model == nil || model == ForecastEnsemble.ensembleName { printEnsembleTracking(report) }
        print("wrote \(report.rows.count) rows to \(output)")
    }

    private func printEnsembleTracking(_ report: BacktestReport) {
        let tracked = report.trackedCoverage.map { c in
            "step \(c.step) \(Int(c.level * 100))%: \(Self.percent(c.rate).trimmingCharacters(in: .whitespaces)) of \(c.total)"
        }
        print("ensemble coverage tracked at every observation up to the last origin: " + tracked.joined(separator: "; "))
        let alert = report.alert.breaches.map { "step \($0.step) \(Int($0.level * 100))%: \($0.misses)/\($0.window) misses ≥ \($0.criticalMisses)" }
        print("forecast-error alert: " + (report.alert.isRaised ? "RAISED (" + alert.joined(separator: "; ") + ")" : "not raised"))
    }

    /// MASE divides by the scale: a zero (or non-finite) scale leaves every score undefined.
    static func maseDefined(_ report: BacktestReport) -> Bool {
        report.scale > 0 && report.scale.isFinite && report.scores.allSatisfy { $0.mase.isFinite }
    }

    private static func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
    private static func percent(_ v: Double?) -> String { v.map { String(format: "%5.1f%%", $0 * 100) } ?? "    – " }
}

/// A failure already phrased for the user; ArgumentParser prints it and exits non-zero.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

private extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
