import CAugurSys

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

/// The calling thread's kernel thread id, cached per thread (one TLS load after the first
/// call): a cheap identity for striping counters and naming clients.
@inlinable
public func currentThreadID() -> Int32 { caugur_thread_id() }

/// Length of the prefix of `count` bytes at `base` that ends with its last non-zero byte (0 if
/// all are zero), scanning backwards a word at a time: how WAL recovery finds the end of the
/// data in a mostly zero, preallocated file.
public func nonZeroPrefixLength(_ base: UnsafeRawPointer, count: Int) -> Int {
    count > 0 ? caugur_nonzero_prefix_length(base, count) : 0
}

/// Starts writeback of `length` bytes at `offset` of `descriptor` (sync_file_range with
/// SYNC_FILE_RANGE_WRITE): does not wait and is not a durability point, so a later fdatasync
/// finds those pages already written. A failure is ignored (it only loses the head start).
public func startWriteback(descriptor: Int32, offset: Int, length: Int) {
    _ = caugur_sync_file_range_write(descriptor, Int64(offset), Int64(length))
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

/// Runs each body on its own thread — real threads, not a pool of CPU-count width, which would
/// run them a few at a time — and returns when every one has finished. For the project's tests,
/// benchmarks and load generator, which need that much concurrency (`package`: not library
/// API). A thread that cannot be created stops the process: these callers cannot run without it.
package func runOnThreads(_ bodies: [() -> Void]) {
    final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
    var threads: [pthread_t] = []
    threads.reserveCapacity(bodies.count)
    for body in bodies {
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: errno \(rc)")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// Runs `body(i)` for i in 0..<count, each on its own thread (one alone runs on the caller's),
/// and returns when all have finished.
package func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    if count == 1 { body(0); return }
    runOnThreads((0..<count).map { i in { body(i) } })
}
