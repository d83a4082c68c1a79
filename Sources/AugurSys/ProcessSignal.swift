// Signal numbers and names for the project's tools and tests, and a signal sent to the calling
// process as a fault would send it (the crash harness's child raises one to prove the parent
// reports it). `package` only.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

package enum ProcessSignal {
    package static let interrupt = SIGINT
    package static let terminate = SIGTERM
    package static let kill = SIGKILL
    package static let abort = SIGABRT
    package static let bus = SIGBUS
    package static let segmentationFault = SIGSEGV
    package static let illegalInstruction = SIGILL
    package static let trap = SIGTRAP
    package static let floatingPointException = SIGFPE

    /// "SIGKILL", "SIGBUS"…, for the signals above; "signal N" for any other.
    package static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGKILL: "SIGKILL"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGSEGV: "SIGSEGV"
        case SIGILL: "SIGILL"
        case SIGTRAP: "SIGTRAP"
        case SIGFPE: "SIGFPE"
        default: "signal \(signal)"
        }
    }

    /// Restores the default action of `signal` (undoing a handler, such as the Swift runtime's
    /// crash handler) and raises it in the calling thread. Returns only when that action does
    /// not end the process (SIGCHLD, SIGWINCH…) or the signal is blocked.
    package static func raiseWithDefaultAction(_ signal: Int32) {
        _ = Glibc.signal(signal, SIG_DFL)
        _ = raise(signal)
    }
}
