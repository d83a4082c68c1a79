#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Giving up the CPU, from the engine's spin loops (libc stays in this module).
///
/// Thread-safety: stateless.
public enum ThreadPause {
    /// Lets another runnable thread have the CPU (sched_yield).
    public static func yield() { sched_yield() }

    /// Sleeps at least about `nanoseconds` (nanosleep; a sleep cut short by a signal is not
    /// resumed — callers re-check their condition). Non-positive values return at once.
    public static func sleep(nanoseconds: Int) {
        guard nanoseconds > 0 else { return }
        var ts = timespec(tv_sec: nanoseconds / 1_000_000_000, tv_nsec: nanoseconds % 1_000_000_000)
        _ = nanosleep(&ts, nil)
    }
}

/// Lexicographic comparison of `count` bytes as unsigned values (memcmp): < 0, 0 or > 0.
@inlinable
public func compareMemory(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Int32 {
    memcmp(a, b, count)
}
