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

/// A thread-specific pointer slot whose destructor runs on every exiting thread that stored a
/// non-nil value (a pthread key).
///
/// `delete()` stops destructors from starting for threads that exit afterwards; values still
/// stored are not destroyed (their owner frees them). `deinit` deletes if `delete()` was not
/// called.
///
/// Thread-safety: `value` and `setValue` act on the calling thread's slot; `delete()` is called
/// once, by the owner, when no thread uses the slot any more.
public final class ThreadExitSlot: @unchecked Sendable {
    private let key: pthread_key_t
    private var deleted = false

    /// nil when the process has no thread-specific key left (PTHREAD_KEYS_MAX).
    public init?(destructor: @convention(c) (UnsafeMutableRawPointer?) -> Void) {
        var k = pthread_key_t()
        guard pthread_key_create(&k, destructor) == 0 else { return nil }
        key = k
    }

    /// The calling thread's value.
    public var value: UnsafeMutableRawPointer? { pthread_getspecific(key) }

    /// Sets the calling thread's value.
    public func setValue(_ value: UnsafeMutableRawPointer?) { _ = pthread_setspecific(key, value) }

    public func delete() {
        guard !deleted else { return }
        deleted = true
        pthread_key_delete(key)
    }

    deinit { delete() }
}
