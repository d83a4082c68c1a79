import AugurSys
import Synchronization

/// The runner's source of time. Everything in the runner that reads or waits for time goes
/// through this, so tests drive a whole run with `ManualClock` in microseconds of real time.
public protocol WorkloadClock: Sendable {
    /// Monotonic nanoseconds since an arbitrary origin.
    func nanoseconds() -> UInt64
    /// Blocks until `nanoseconds() >= deadline` (returns at once when it already is).
    func sleep(untilNanoseconds deadline: UInt64)
}

/// CLOCK_MONOTONIC and nanosleep (AugurSys' `MonotonicClock` and `ThreadPause`). nanosleep overshoots by the kernel's timer slack (about
/// 50–80 µs on Linux), which an open loop counts as latency; `spinNanoseconds` > 0 sleeps until
/// that long before the deadline and then yields in a loop, trading CPU for punctuality.
public struct SystemWorkloadClock: WorkloadClock {
    public var spinNanoseconds: UInt64
    public init(spinNanoseconds: UInt64 = 0) { self.spinNanoseconds = spinNanoseconds }

    @inline(__always)
    public func nanoseconds() -> UInt64 { MonotonicClock.nanos() }

    public func sleep(untilNanoseconds deadline: UInt64) {
        while true {
            let now = nanoseconds()
            if now >= deadline { return }
            let wait = deadline - now
            if spinNanoseconds > 0 && wait <= spinNanoseconds {
                ThreadPause.yield()
                continue
            }
            let nap = wait - (spinNanoseconds > 0 ? spinNanoseconds : 0)
            ThreadPause.sleep(nanoseconds: Int(clamping: nap))
        }
    }
}

/// A clock that only moves when told to. `sleep(untilNanoseconds:)` jumps the clock forward to
/// the deadline (time passes instantly), so an open-loop run at 1,000 ops/s for 60 s takes as
/// long as its 60,000 operations. Thread-safe; the clock never goes backwards.
public final class ManualClock: WorkloadClock {
    private let now = Mutex<UInt64>(0)

    public init(startNanoseconds: UInt64 = 0) {
        now.withLock { $0 = startNanoseconds }
    }

    public func nanoseconds() -> UInt64 { now.withLock { $0 } }

    public func sleep(untilNanoseconds deadline: UInt64) {
        now.withLock { $0 = Swift.max($0, deadline) }
    }

    /// Moves the clock forward (e.g. a fake store's service time).
    public func advance(byNanoseconds delta: UInt64) {
        now.withLock { $0 &+= delta }
    }
}
