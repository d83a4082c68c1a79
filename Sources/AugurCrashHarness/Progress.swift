// Progress of a long run, on stderr every few seconds (the summary goes to stdout at the end),
// and the stop request every loop polls: a run stopped with SIGINT or SIGTERM ends its loop,
// prints the partial summary with its seed and exits non-zero (see `StopSignals`).
import AugurSys

public struct ProgressReporter: Sendable {
    public var label: String
    /// 0: silent.
    public var intervalMilliseconds: Int
    let start = monotonicMilliseconds()
    var last = monotonicMilliseconds()

    public init(label: String, intervalMilliseconds: Int) {
        self.label = label
        self.intervalMilliseconds = intervalMilliseconds
    }

    /// Prints a line when the interval has passed since the last one.
    public mutating func tick(done: Int, of total: Int, unit: String, failures: Int, extra: String = "") {
        guard intervalMilliseconds > 0 else { return }
        let now = monotonicMilliseconds()
        guard now - last >= intervalMilliseconds else { return }
        last = now
        let seconds = Double(now - start) / 1000
        let rate = seconds > 0 ? Double(done) / seconds : 0
        let line = "augur-crash \(label): \(done)/\(total) \(unit), \(format1(rate))/s, \(failures) failures so far, \(Int(seconds)) s\(extra.isEmpty ? "" : ", " + extra)\n"
        // One write(2) to fd 2: a whole line even when a child shares the terminal.
        StandardStream.error(line)
    }
}

/// The stop signal received, if any (SIGINT, SIGTERM once `StopSignals.install()` ran).
public var stopRequested: Int32? { StopSignals.received }
