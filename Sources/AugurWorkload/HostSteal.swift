// CPU time the hypervisor took from this machine ("steal"), beside the latencies it distorts.
//
// Why: on a virtual machine every thread of the guest, the engine's and the harness's alike,
// stops while the host runs something else. A run of augur-load on the project's 2-CPU VM had
// seconds whose p99 jumped from ~80 µs to 80-90 ms; an independent process sampling every 4 ms
// stopped at the same moments for ~100 ms each, no thread of the engine used the CPU meanwhile,
// and /proc/stat's steal counter grew by ~100 ms in each of those gaps (docs/PERFORMANCE.md,
// "The 100 ms stalls are the host's"). A latency figure that includes such pauses says nothing
// about the engine, and a comparison of runs one after another (static, reactive, predictive)
// can be decided by which run the host paused. So every run records the steal of each sampled
// interval and in total, and tables show it beside p99.
import Foundation

/// Parsing of the kernel's steal counter. Reading /proc is the caller's (the tool's) job.
public enum HostSteal {
    /// Stolen time of all CPUs together, in clock ticks (USER_HZ), from the text of
    /// /proc/stat: the 8th number of the aggregate `cpu` line (user, nice, system, idle,
    /// iowait, irq, softirq, steal). nil when the line or the field is missing or not a number
    /// (a kernel before 2.6.11, not Linux).
    public static func stolenTicks(procStat text: String) -> UInt64? {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.first == "cpu" else { continue }
            guard fields.count > 8 else { return nil }
            return UInt64(fields[8])
        }
        return nil
    }

    /// An interval counts as paused by the host when more than this much CPU time of it was
    /// stolen: five ticks of the counter's 10 ms resolution. One ~100 ms pause of the machine
    /// shows as about 100 ms (the vCPU that was running; an idle one counts as idle), a quiet
    /// second as 0-20 ms.
    public static let pausedIntervalMilliseconds = 50.0
}

/// Host steal over a run's measured window (after warm-up).
public struct HostStealSummary: Sendable, Codable, Equatable {
    /// CPU time stolen from all CPUs together, in seconds (10 ms resolution).
    public var seconds: Double
    /// Sampled intervals with more than `HostSteal.pausedIntervalMilliseconds` stolen.
    public var pausedIntervals: Int
    /// The largest steal of one sampled interval, in milliseconds.
    public var worstIntervalMilliseconds: Double

    public init(seconds: Double, pausedIntervals: Int, worstIntervalMilliseconds: Double) {
        self.seconds = seconds
        self.pausedIntervals = pausedIntervals
        self.worstIntervalMilliseconds = worstIntervalMilliseconds
    }

    /// Summarises the measured intervals of `series`; nil when none of them has a steal figure
    /// (nothing was sampled).
    public init?(series: [IntervalSample]) {
        let stolen = series.filter { !$0.warmup }.compactMap(\.stolenMilliseconds)
        guard !stolen.isEmpty else { return nil }
        self.init(seconds: stolen.reduce(0, +) / 1000,
                  pausedIntervals: stolen.filter { $0 > HostSteal.pausedIntervalMilliseconds }.count,
                  worstIntervalMilliseconds: stolen.max() ?? 0)
    }

    /// "0.42 s (3 intervals over 50 ms, worst 110 ms)".
    public var text: String {
        String(format: "%.2f s (%d interval%@ over %.0f ms, worst %.0f ms)", seconds, pausedIntervals,
               pausedIntervals == 1 ? "" : "s", HostSteal.pausedIntervalMilliseconds, worstIntervalMilliseconds)
    }
}
