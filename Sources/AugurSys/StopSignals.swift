// SIGINT / SIGTERM as a request to stop, for long runs that must still report what they found
// (the crash harness). The handler is C (`caugur_stop_*`): it only records the signal; the
// run's loops poll `received` and end with a partial summary. A second signal kills at once.
import CAugurSys

public enum StopSignals {
    /// Installs the handlers for SIGINT and SIGTERM.
    public static func install() throws(Errno) {
        let rc = caugur_stop_signals_install()
        if rc != 0 { throw Errno(rawValue: rc) }
    }

    /// The first stop signal received (SIGINT or SIGTERM), or nil.
    public static var received: Int32? {
        let s = caugur_stop_signal_received()
        return s == 0 ? nil : s
    }

    /// Forgets a received signal (tests that send one to themselves).
    public static func reset() { caugur_stop_signal_reset() }
}
