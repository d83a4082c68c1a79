#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CAugurSys
import Dispatch
import Synchronization

/// A serial executor for background work (flushes, merges, reshards, the WAL's write-behind
/// and seals) on one dedicated thread whose CPU priority is lowered by `nice`.
///
/// Why not a dispatch queue: on a machine with as many busy foreground threads as cores, the
/// scheduler gives a background thread of equal weight its full share, and a foreground thread
/// runnable behind it waited 4-10 ms (perf sched_switch stacks of augur-load's writer: preempted
/// by the flush, the merge, the seal). Linux keeps a nice value per thread, so a thread of its
/// own can run at a lower weight — nice 10 weighs 110 against a foreground thread's 1024 — and
/// yields the CPU to a woken foreground thread at once, while it still gets every idle cycle.
/// A dispatch queue's worker threads are shared and reused; lowering one's priority would leak
/// into whatever the pool runs on it next, and only a privileged process may raise it back.
///
/// `async` runs jobs in submission order; `sync` runs a job after every job submitted before it
/// and waits for it (`sync {}` drains). Like a serial dispatch queue, `sync` from a job of the
/// same lane deadlocks. The thread exits once the lane is released and its jobs have run.
/// Should the thread not start (the process is out of threads), the lane runs its jobs on a
/// serial dispatch queue at the process's priority instead (`priorityLowered` is then false).
///
/// Thread-safety: all methods may be called from any thread.
public final class BackgroundLane: @unchecked Sendable {
    /// The thread's name (at most 15 bytes are shown by the kernel).
    public let name: String
    /// Steps the thread's nice value is raised by from the creating thread's (at most to 19).
    public let nice: Int32
    private let core: Core
    private let fallback: DispatchQueue?

    /// Starts the lane's thread. `nice` is clamped to `0...19` (0: the creating thread's priority).
    public init(name: String, nice: Int) {
        self.name = name
        self.nice = Int32(min(19, max(0, nice)))
        core = Core(name: name, nice: self.nice)
        fallback = core.start() ? nil : DispatchQueue(label: name)
    }

    deinit { core.stop() }

    /// Whether the thread runs with its priority lowered (false with `nice` 0, when the creating
    /// thread already ran at 19, when `setpriority` was refused — e.g. by a seccomp profile —
    /// or on the fallback queue).
    /// Waits until the thread has tried.
    public var priorityLowered: Bool {
        if fallback != nil { return false }
        sync {}
        return core.queue.withLock { $0.lowered }
    }

    /// Runs `job` on the lane's thread after the jobs submitted before it.
    public func async(_ job: @escaping @Sendable () -> Void) {
        if let fallback { fallback.async(execute: job); return }
        core.submit(job)
    }

    /// Runs `job` on the lane's thread after the jobs submitted before it, and returns when it
    /// has run.
    public func sync(_ job: @escaping @Sendable () -> Void) {
        if let fallback { fallback.sync(execute: job); return }
        let done = DispatchSemaphore(value: 0)
        core.submit { job(); done.signal() }
        done.wait()
    }

    /// `sync` for a job with a result: runs `job` on the lane's thread and returns what it
    /// returned.
    public func sync<Value>(_ job: @escaping @Sendable () -> Value) -> Value {
        let result = HandOff<Value>()
        sync { result.value = job() }
        return result.value!
    }

    /// A job's result, handed from the lane's thread to the caller. Thread-safe by hand-over:
    /// written once by the job before `sync` returns (its semaphore orders the write before
    /// the read), read only after.
    private final class HandOff<Value>: @unchecked Sendable {
        var value: Value?
    }

    /// The calling thread's kernel id (gettid).
    public static var currentThreadID: Int32 { caugur_thread_id() }

    /// The calling thread's nice value.
    public static var currentThreadNice: Int32 {
        getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(caugur_thread_id()))
    }

    // MARK: - Internals

    /// State shared with the thread, which holds its own reference: the lane's owner may go
    /// away while jobs are still queued. `wake` is signalled once per job and once by `stop`, so
    /// each wake-up of the thread finds a job to run, or none and the lane stopping.
    private final class Core: Sendable {
        struct Queue {
            var jobs: [@Sendable () -> Void] = []
            var head = 0
            var stopping = false
            var lowered = false
        }
        let name: String
        let nice: Int32
        let queue = Mutex(Queue())
        private let wake = DispatchSemaphore(value: 0)

        init(name: String, nice: Int32) {
            self.name = name
            self.nice = nice
        }

        /// Whether the thread started.
        func start() -> Bool {
            var thread = pthread_t()
            var attr = pthread_attr_t()
            pthread_attr_init(&attr)
            defer { pthread_attr_destroy(&attr) }
            pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
            let retained = Unmanaged.passRetained(self).toOpaque()
            let rc = pthread_create(&thread, &attr, { raw in
                let core = Unmanaged<Core>.fromOpaque(raw!).takeRetainedValue()
                core.run()
                return nil
            }, retained)
            if rc != 0 {
                Unmanaged<Core>.fromOpaque(retained).release()
                return false
            }
            return true
        }

        func submit(_ job: @escaping @Sendable () -> Void) {
            queue.withLock { $0.jobs.append(job) }
            wake.signal()
        }

        func stop() {
            queue.withLock { $0.stopping = true }
            wake.signal()
        }

        private func run() {
            _ = caugur_set_thread_name(name)
            // A thread's nice value is per thread on Linux (`PRIO_PROCESS` with a thread id),
            // inherited from the thread that created it: lowered by `nice` steps from there, so
            // a process started under `nice` keeps its background below its foreground.
            let tid = id_t(caugur_thread_id())
            let which = __priority_which_t(PRIO_PROCESS.rawValue)
            let target = min(19, getpriority(which, tid) + nice)
            let ok = nice > 0 && target > getpriority(which, tid) && setpriority(which, tid, target) == 0
            queue.withLock { $0.lowered = ok }
            while true {
                wake.wait()
                let job: (@Sendable () -> Void)? = queue.withLock { q in
                    guard q.head < q.jobs.count else { return nil }   // the stop's wake-up, every job run
                    let job = q.jobs[q.head]
                    q.head += 1
                    if q.head == q.jobs.count { q.jobs.removeAll(keepingCapacity: true); q.head = 0 }
                    return job
                }
                guard let job else { return }
                job()
            }
        }
    }
}
