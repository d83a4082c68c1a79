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
/// `cpus` keeps the thread to a set of CPUs. Why: the lowered priority decides who gets a
/// CPU at a wake-up, not how long a background thread keeps one it already has. This kernel
/// does not preempt kernel code ("Dynamic Preempt: none"), and a writer that never sleeps is
/// never woken, so a background thread that lands on the writer's CPU holds it until it
/// blocks, yields or a tick ends its slice: 4-9 ms puts in a one-thread fillrandom. Kept to
/// CPUs of their own (`CPUAffinity.backgroundCPUs(amongAllowed:)`), the lanes leave the other
/// CPUs to the callers' threads, which the kernel's balancer moves there (docs/PERFORMANCE.md).
///
/// Thread-safety: all methods may be called from any thread.
public final class BackgroundLane: @unchecked Sendable {
    /// The thread's name (at most 15 bytes are shown by the kernel).
    public let name: String
    /// Steps the thread's nice value is raised by from the creating thread's (at most to 19).
    public let nice: Int32
    /// The CPUs the thread keeps to (kernel ids), or nil for the creating thread's.
    public let cpus: [Int]?
    private let core: Core
    private let fallback: DispatchQueue?

    /// Starts the lane's thread. `nice` is clamped to `0...19` (0: the creating thread's priority);
    /// `cpus`, when given, restricts the thread to those CPUs (an empty list restricts nothing):
    /// a placement of its own that never moves it.
    public convenience init(name: String, nice: Int, cpus: [Int]? = nil) {
        self.init(name: name, nice: nice,
                  placement: cpus.map { LanePlacement(home: $0, wide: [], adapts: false) } ?? .unrestricted)
    }

    /// Starts a lane whose thread keeps to `placement`'s CPUs: its home, or all of them while
    /// the placement is spread (`LanePlacement`).
    public init(name: String, nice: Int, placement: LanePlacement) {
        self.name = name
        self.nice = Int32(min(19, max(0, nice)))
        cpus = placement.home
        core = Core(name: name, nice: self.nice, placement: placement)
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

    /// Whether the thread keeps to `cpus` now (false without `cpus`, while its placement is
    /// spread, when the kernel refused the set — none of them allowed, or a seccomp profile —
    /// or on the fallback queue). Waits until the thread has started.
    public var placed: Bool {
        if fallback != nil { return false }
        sync {}
        return core.placed.load(ordering: .acquiring)
    }

    /// The CPUs the lane's thread may run on now, as the kernel says (`sched_getaffinity`).
    public var allowedCPUs: [Int] { sync { CPUAffinity.allowedCPUs() } }

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
    fileprivate final class Core: Sendable {
        struct Queue {
            var jobs: [@Sendable () -> Void] = []
            var head = 0
            var stopping = false
            var lowered = false
        }
        let name: String
        let nice: Int32
        let placement: LanePlacement
        /// The thread's kernel id once it runs (0 before).
        let tid = Atomic<Int32>(0)
        /// Whether the thread keeps to `cpus` now.
        let placed = Atomic<Bool>(false)
        let queue = Mutex(Queue())
        private let wake = DispatchSemaphore(value: 0)

        init(name: String, nice: Int32, placement: LanePlacement) {
            self.name = name
            self.nice = nice
            self.placement = placement
        }

        /// The thread's time on a CPU and time runnable but waiting for one, in nanoseconds
        /// (`/proc/self/task/TID/schedstat`); nil before it runs or where the kernel keeps none.
        func schedStat() -> (ran: UInt64, waited: UInt64)? {
            let id = tid.load(ordering: .acquiring)
            guard id != 0 else { return nil }
            let fd = open("/proc/self/task/\(id)/schedstat", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 96)
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return nil }
            let fields = buffer[..<n].split(separator: UInt8(ascii: " ")).prefix(2)
                .map { UInt64(String(decoding: $0, as: UTF8.self)) }
            guard fields.count == 2, let ran = fields[0], let waited = fields[1] else { return nil }
            return (ran, waited)
        }

        /// Restricts the thread (`tid`, or the calling thread before it is known) to `target`,
        /// or to `wide` when `target` is nil; a refused or empty set leaves it where it was.
        @discardableResult
        func move(to target: [Int]?, wide: [Int]) -> Bool {
            let set = target ?? wide
            guard !set.isEmpty else { placed.store(false, ordering: .releasing); return false }
            let ids = set.map { Int32(clamping: $0) }
            let ok = ids.withUnsafeBufferPointer {
                caugur_set_task_cpus(tid.load(ordering: .acquiring), $0.baseAddress, Int32($0.count))
            } == 0
            placed.store(ok && target != nil && target == placement.home, ordering: .releasing)
            return ok
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
            // A refused set (none of the CPUs allowed any more, a seccomp profile) leaves the
            // thread where it was: placement is a latency measure, never a reason to fail.
            self.tid.store(Int32(tid), ordering: .releasing)
            placement.join(self)
            defer { placement.leave(self) }
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

/// Where a set of lanes runs: on their home CPUs (`home`), or on every CPU their creator may
/// use (`wide`) while the placement is spread.
///
/// Why spread: lanes kept to a quarter of the CPUs get at most their weight's share of those
/// when callers keep every CPU busy (nice 10 against a writer: a tenth), where unrestricted
/// they got that share of every CPU. Writers then pay in write slowdowns and stalls. So an
/// engine calls `behind(now:)` whenever a writer sleeps or waits for background work that fell
/// behind (and a reshard when it starts and ends: it holds its sources' flushes), which spreads
/// its lanes at once, and `review(now:)` after each flush, which spreads
/// them too while they wait for a CPU longer than they run (`lanesStarved`) and otherwise brings them
/// home once nothing has been behind for `settleNanos` (`settle`). A placement that does not adapt
/// (an explicit CPU list) or has no home (no restriction) never moves a lane.
///
/// Thread-safety: all methods may be called from any thread; lanes join and leave from their
/// own threads, under the same lock as the moves, so a lane never misses one.
public final class LanePlacement: Sendable {
    /// The CPUs the lanes keep to when nothing is behind; nil: no restriction at all.
    public let home: [Int]?
    /// The CPUs they spread over: the creating thread's (`sched_getaffinity`).
    public let wide: [Int]
    /// Whether `behind` spreads the lanes (false: they stay home).
    public let adapts: Bool
    /// How long nothing must have been behind before `settle` brings the lanes home.
    public let settleNanos: UInt64

    private struct State {
        var cores: [ObjectIdentifier: BackgroundLane.Core] = [:]
        var spread = false
    }
    private let state = Mutex(State())
    private let spreadFlag = Atomic<Bool>(false)
    private let lastBehind = Atomic<UInt64>(0)
    /// The lanes' summed run and wait times at the last `review` that measured, nanoseconds.
    private let lastReview = Mutex<(wall: UInt64, ran: UInt64, waited: UInt64)?>(nil)
    /// Shortest interval a `review` measures the callers over.
    public static let reviewNanos: UInt64 = 1_000_000_000

    public init(home: [Int]?, wide: [Int] = CPUAffinity.allowedCPUs(), adapts: Bool, settleNanos: UInt64 = 10_000_000_000) {
        self.home = home?.isEmpty == true ? nil : home
        self.wide = wide
        self.adapts = adapts
        self.settleNanos = settleNanos
    }

    /// No restriction: lanes stay wherever their creator's CPUs let them run.
    public static let unrestricted = LanePlacement(home: nil, wide: [], adapts: false)

    /// Whether the lanes are spread over `wide` now.
    public var isSpread: Bool { spreadFlag.load(ordering: .acquiring) }

    /// Background work fell behind at `now` (monotonic nanoseconds): spreads the lanes if they
    /// are home. Cheap when already spread (an atomic store and load).
    public func behind(now: UInt64) {
        guard adapts, home != nil else { return }
        lastBehind.store(now, ordering: .relaxed)
        if spreadFlag.load(ordering: .acquiring) { return }
        state.withLock { st in
            guard !st.spread else { return }
            st.spread = true
            spreadFlag.store(true, ordering: .releasing)
            for core in st.cores.values { core.move(to: nil, wide: wide) }
        }
    }

    /// Brings spread lanes home once `now` is `settleNanos` past the last `behind`.
    public func settle(now: UInt64) {
        guard spreadFlag.load(ordering: .acquiring) else { return }
        let last = lastBehind.load(ordering: .relaxed)
        guard now >= last, now - last >= settleNanos else { return }
        state.withLock { st in
            guard st.spread else { return }
            st.spread = false
            spreadFlag.store(false, ordering: .releasing)
            for core in st.cores.values { core.move(to: home, wide: wide) }
        }
    }

    /// Whether lanes that ran `ran` and waited `waited` nanoseconds for a CPU (runnable, not
    /// running) over an interval of `interval` are starved: they waited at least 1.5 times as
    /// long as they ran, and at least a twentieth of the interval. Measured (fillrandom,
    /// `/proc/PID/task/*/schedstat` of the lanes over 3 s): one writer on two CPUs, lanes at
    /// home or spread, waited 0.5-0.6 times what they ran; two writers, 4.4 times at home and
    /// 3.0 spread — the callers then need the home CPUs too, and lanes kept there get only their
    /// weight's share of them where spread they get it of every CPU (the reshard bench's split
    /// right after its load: writers slept in slowdowns, p99.9 0.4-1.1 ms against 31-59 µs).
    public static func lanesStarved(ran: UInt64, waited: UInt64, interval: UInt64) -> Bool {
        Double(waited) >= 1.5 * Double(ran) && Double(waited) >= Double(interval) / 20
    }

    /// Measures the lanes' time on and waiting for a CPU since the last review (once
    /// `reviewNanos` have passed) and spreads them while they are starved (`lanesStarved`,
    /// which counts as `behind`), or else brings spread lanes home after `settleNanos`
    /// (`settle`). The engine calls it after each flush. Where the kernel keeps no schedstat,
    /// only `behind` spreads.
    public func review(now: UInt64) {
        guard adapts, home != nil else { return }
        // Most flushes come less than `reviewNanos` after the last measurement: read no
        // schedstat for them.
        if let last = lastReview.withLock({ $0 }), now <= last.wall || now - last.wall < Self.reviewNanos { return }
        var ran: UInt64 = 0, waited: UInt64 = 0
        let known = state.withLock { st in
            st.cores.values.allSatisfy { core in
                guard let t = core.schedStat() else { return false }
                ran &+= t.ran
                waited &+= t.waited
                return true
            }
        }
        guard known else { return }
        review(now: now, laneRanNanos: ran, laneWaitedNanos: waited)
    }

    /// `review` with the lanes' cumulative run and wait times given (nanoseconds).
    public func review(now: UInt64, laneRanNanos ran: UInt64, laneWaitedNanos waited: UInt64) {
        guard adapts, home != nil else { return }
        let starved: Bool? = lastReview.withLock { last in
            guard let before = last else { last = (now, ran, waited); return nil }
            guard now > before.wall, now - before.wall >= Self.reviewNanos else { return nil }
            last = (now, ran, waited)
            // A lane that joined or left since changes the sums: a negative step reads as 0.
            let dRan = ran >= before.ran ? ran - before.ran : 0
            let dWaited = waited >= before.waited ? waited - before.waited : 0
            return Self.lanesStarved(ran: dRan, waited: dWaited, interval: now - before.wall)
        }
        guard let starved else { return }
        if starved { behind(now: now) } else { settle(now: now) }
    }

    /// A lane's thread starts: placed where the others are.
    fileprivate func join(_ core: BackgroundLane.Core) {
        guard let home else { return }
        state.withLock { st in
            st.cores[ObjectIdentifier(core)] = core
            core.move(to: st.spread ? nil : home, wide: wide)
        }
    }

    /// A lane's thread exits.
    fileprivate func leave(_ core: BackgroundLane.Core) {
        guard home != nil else { return }
        _ = state.withLock { $0.cores.removeValue(forKey: ObjectIdentifier(core)) }
    }
}
