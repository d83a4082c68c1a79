// NUMA-aware pinned worker threads for secondary index builds (issue 9).
//
// One pthread per CPU of a `NumaTopology`, each pinned to its CPU at start through a
// `NumaPlacement`. Work is submitted with a preferred node (the node holding the partition's
// mapped pages, see `NumaPlacement.preferredNode(forMappedRange:)`) and runs on a worker of that
// node; work without a node (or for a node without workers) runs on whichever worker is free
// first, which then places the pages it touches ("first touch").
//
// Scheduling (one mutex; each worker sleeps on its own condition variable, no busy waiting):
//   * a worker takes, in order: the head of its node's queue, the head of the shared queue, and
//     — only with `StealPolicy.afterWaiting(d)` — the oldest head of another node's queue that
//     has waited at least `d`. An idle worker that sees foreign work not yet old enough sleeps
//     with a timeout at its deadline;
//   * submit wakes one idle worker of the preferred node (any idle worker for shared work); when
//     stealing is on and the node's queue goes from empty to non-empty with no idle worker of
//     its own, it also wakes one idle worker of every other node so one of them arms a timer;
//     a worker that steals wakes another idle worker if foreign work is left.
import CAugurSys
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Errors of `BuildWorkerPool`.
public enum BuildWorkerPoolError: Error, Equatable, Sendable {
    /// `submit` after `shutdown()`.
    case shutDown
    /// pthread_create failed while starting the workers (the ones started were stopped).
    case threadCreationFailed(Errno)
}

/// What a work item knows about the worker running it. Valid only inside the work closure (the
/// scratch buffer belongs to the worker thread), hence not `Sendable`.
public struct WorkerContext {
    /// The worker's position in the pool (0 ..< workerCount), in topology order.
    public let index: Int
    /// The CPU the worker was meant to be pinned to.
    public let cpu: Int
    /// The node of that CPU.
    public let node: Int
    /// What the pin actually achieved.
    public let pinning: BuildWorkerPool.Pinning
    /// The worker's kernel thread id.
    public let threadID: Int32
    /// The node the running item asked for (nil: any). Differs from `node` when the item was
    /// stolen or its node has no worker.
    public let preferredNode: Int?
    let worker: BuildWorkerPool.Worker
    let placement: any NumaPlacement

    /// A node-local scratch buffer of at least `bytes` bytes, reused by the worker's later items
    /// (allocated on first use or when a larger one is asked for; contents are left over from
    /// the previous item). Valid until the work closure returns.
    public func scratch(bytes: Int) -> UnsafeMutableRawBufferPointer {
        if let s = worker.scratch, s.count >= bytes { return s.bytes }
        worker.scratch = nil
        let rounded = (max(bytes, 1) + NumaPages.size - 1) / NumaPages.size * NumaPages.size
        let buffer = placement.allocateBuffer(bytes: rounded, node: node)
        worker.scratch = buffer
        return buffer.bytes
    }

    /// A new buffer on this worker's node that may outlive the item (e.g. a built index block
    /// handed on to the writer).
    public func allocateLocalBuffer(bytes: Int) -> NumaBuffer {
        placement.allocateBuffer(bytes: bytes, node: node)
    }
}

@available(*, unavailable)
extension WorkerContext: Sendable {}

/// A pool of pinned worker threads, one per CPU of a topology, for CPU-bound build work.
///
/// Thread-safety: `submit`, `statistics` and `pinFailures` from any thread; `waitForAll()` from
/// any thread except a worker (a worker waiting for itself would deadlock; it checks).
/// `shutdown()` from a worker detaches the threads instead of joining them. Dropping the pool
/// shuts it down (queued work still runs).
public final class BuildWorkerPool: @unchecked Sendable {
    /// What a worker's pinning achieved.
    public enum Pinning: Equatable, Sendable {
        /// Pinned to its CPU.
        case cpu(Int)
        /// Pinning to the CPU failed; bound to the CPUs of its node instead.
        case node(Int)
        /// Both failed; runs wherever the scheduler puts it.
        case unpinned
    }

    /// When a worker may run an item queued for another node.
    public enum StealPolicy: Equatable, Sendable {
        /// Never: an item for a node with workers runs on that node. Idle workers of other nodes
        /// stay idle. Strict locality.
        case never
        /// An idle worker takes the oldest item of another node's queue once it has waited this
        /// long (reading remote memory beats leaving a CPU idle on a skewed build).
        case afterWaiting(nanoseconds: UInt64)
    }

    /// Pool options.
    public struct Options: Sendable {
        /// Default: `.afterWaiting(nanoseconds: 5_000_000)` (5 ms).
        public var stealing: StealPolicy

        public init(stealing: StealPolicy = .afterWaiting(nanoseconds: 5_000_000)) {
            self.stealing = stealing
        }
    }

    /// One worker's counters.
    public struct WorkerStatistics: Equatable, Sendable {
        public let index: Int
        public let cpu: Int
        public let node: Int
        public let pinning: Pinning
        /// Items this worker ran.
        public var itemsRun: Int
        /// Of those, items queued for another node (stolen).
        public var itemsStolen: Int
        /// Time spent inside work closures (CLOCK_MONOTONIC).
        public var busyNanoseconds: UInt64
    }

    /// A snapshot of the pool's counters.
    public struct Statistics: Equatable, Sendable {
        public let workers: [WorkerStatistics]
        /// Workers whose pin to their CPU failed (logged once each).
        public let pinFailures: Int
        public let itemsSubmitted: Int
        /// Items queued or running.
        public let itemsOutstanding: Int
    }

    /// The label of the pool's default logger.
    public static let loggerLabel = "augur.build-workers"

    public let topology: NumaTopology
    public let options: Options
    private let core: Core

    /// Starts one worker per CPU of `topology` and returns once every worker has tried to pin
    /// itself (so `pinFailures` is final).
    ///
    /// - Parameters:
    ///   - topology: whose CPUs get a worker each (`NumaTopology.detect()` in production).
    ///   - placement: pins threads and allocates buffers (`LinuxNumaPlacement()` in production).
    ///   - logger: gets one warning per worker whose pinning failed (CPU, node, errno, fallback).
    /// - Precondition: the topology has at least one CPU.
    public init(topology: NumaTopology = .detect(),
                placement: any NumaPlacement = LinuxNumaPlacement(),
                options: Options = Options(),
                logger: Logger = Logger(label: BuildWorkerPool.loggerLabel)) throws(BuildWorkerPoolError) {
        precondition(!topology.cpus.isEmpty, "BuildWorkerPool: the topology has no CPU")
        self.topology = topology
        self.options = options
        core = Core(topology: topology, placement: placement, options: options, logger: logger)
        try core.start()
    }

    deinit { core.shutdown() }

    /// The number of workers (one per CPU of the topology).
    public var workerCount: Int { core.workers.count }

    /// Queues `work` for a worker of `preferredNode`, or for any worker when `preferredNode` is
    /// nil or has no worker in the topology. FIFO per queue.
    public func submit(preferredNode: Int?, _ work: @escaping @Sendable (WorkerContext) -> Void) throws(BuildWorkerPoolError) {
        try core.submit(preferredNode: preferredNode, work)
    }

    /// Blocks until every item submitted so far (and any submitted meanwhile) has run.
    public func waitForAll() { core.waitForAll() }

    /// Stops accepting work, lets the queued items run, and joins the threads. Idempotent; a
    /// concurrent second call returns once the first has joined the threads.
    public func shutdown() { core.shutdown() }

    /// A consistent snapshot of the counters.
    public var statistics: Statistics { core.statistics() }

    /// Workers whose pin to their CPU failed.
    public var pinFailures: Int { core.statistics().pinFailures }

    // MARK: - internals

    /// Per-thread state owned by one worker thread (the scratch buffer is touched only by it).
    final class Worker: @unchecked Sendable {
        let index: Int
        let cpu: Int
        let node: Int
        let slot: Int
        let cond: UnsafeMutablePointer<pthread_cond_t>
        var thread = pthread_t()
        var threadID: Int32 = 0
        var scratch: NumaBuffer?
        // Guarded by Core.mutex:
        var pinning: Pinning = .unpinned
        var itemsRun = 0
        var itemsStolen = 0
        var busyNanoseconds: UInt64 = 0
        var isIdle = false

        init(index: Int, cpu: Int, node: Int, slot: Int) {
            self.index = index
            self.cpu = cpu
            self.node = node
            self.slot = slot
            cond = .allocate(capacity: 1)
            cond.initialize(to: pthread_cond_t())
            var attr = pthread_condattr_t()
            pthread_condattr_init(&attr)
            pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
            precondition(pthread_cond_init(cond, &attr) == 0)
            pthread_condattr_destroy(&attr)
        }

        deinit {
            pthread_cond_destroy(cond)
            cond.deallocate()
        }
    }

    struct Item {
        let work: @Sendable (WorkerContext) -> Void
        let preferredNode: Int?
        let enqueuedAt: UInt64
    }

    /// A FIFO over an array (amortised O(1)).
    struct Queue {
        private var items: [Item] = []
        private var head = 0
        var isEmpty: Bool { head == items.count }
        var first: Item? { isEmpty ? nil : items[head] }
        mutating func append(_ item: Item) { items.append(item) }
        mutating func removeFirst() -> Item {
            let item = items[head]
            head += 1
            if head == items.count { items.removeAll(keepingCapacity: true); head = 0 }
            else if head >= 64 && head * 2 >= items.count { items.removeFirst(head); head = 0 }
            return item
        }
    }

    final class StartBox {
        let core: Core
        let worker: Worker
        init(core: Core, worker: Worker) { self.core = core; self.worker = worker }
    }

    /// Thread-safety: the `let`s are immutable after init; every `var` below `mutex` is read and
    /// written only with `mutex` held (waits on `doneCond` release it).
    final class Core: @unchecked Sendable {
        let placement: any NumaPlacement
        let options: Options
        let logger: Logger
        let workers: [Worker]
        /// Node id of each slot (nodes that have at least one worker).
        let slotNodes: [Int]
        let slotOfNode: [Int: Int]

        let mutex: UnsafeMutablePointer<pthread_mutex_t>
        /// Signalled when outstanding reaches 0 and when a worker finished starting.
        let doneCond: UnsafeMutablePointer<pthread_cond_t>
        // Guarded by mutex:
        var nodeQueues: [Queue]
        var sharedQueue = Queue()
        var idle: [[Int]]  // per slot, worker indices sleeping without a claimed wakeup
        var outstanding = 0
        var submitted = 0
        var started = 0
        var pinFailures = 0
        var stopping = false
        var joined = false
        var threadsCreated = 0

        init(topology: NumaTopology, placement: any NumaPlacement, options: Options, logger: Logger) {
            self.placement = placement
            self.options = options
            self.logger = logger
            var slotNodes: [Int] = []
            var workers: [Worker] = []
            for node in topology.nodes where !node.cpus.isEmpty {
                let slot = slotNodes.count
                slotNodes.append(node.id)
                for cpu in node.cpus { workers.append(Worker(index: workers.count, cpu: cpu, node: node.id, slot: slot)) }
            }
            self.slotNodes = slotNodes
            self.workers = workers
            slotOfNode = Dictionary(uniqueKeysWithValues: slotNodes.enumerated().map { ($1, $0) })
            nodeQueues = Array(repeating: Queue(), count: slotNodes.count)
            idle = Array(repeating: [], count: slotNodes.count)
            mutex = .allocate(capacity: 1)
            mutex.initialize(to: pthread_mutex_t())
            precondition(pthread_mutex_init(mutex, nil) == 0)
            doneCond = .allocate(capacity: 1)
            doneCond.initialize(to: pthread_cond_t())
            precondition(pthread_cond_init(doneCond, nil) == 0)
        }

        deinit {
            pthread_cond_destroy(doneCond)
            doneCond.deallocate()
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
        }

        @inline(__always) func lock() { pthread_mutex_lock(mutex) }
        @inline(__always) func unlock() { pthread_mutex_unlock(mutex) }

        static func now() -> UInt64 {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
        }

        func start() throws(BuildWorkerPoolError) {
            for worker in workers {
                let box = Unmanaged.passRetained(StartBox(core: self, worker: worker)).toOpaque()
                let rc = pthread_create(&worker.thread, nil, { raw in
                    let box = Unmanaged<StartBox>.fromOpaque(raw!).takeRetainedValue()
                    box.core.run(box.worker)
                    return nil
                }, box)
                if rc != 0 {
                    Unmanaged<StartBox>.fromOpaque(box).release()
                    shutdown()
                    throw .threadCreationFailed(Errno(rawValue: rc))
                }
                lock(); threadsCreated += 1; unlock()
            }
            lock()
            while started < workers.count { pthread_cond_wait(doneCond, mutex) }
            unlock()
        }

        var isWorkerThread: Bool {
            let tid = caugur_thread_id()
            lock(); defer { unlock() }
            return workers.contains { $0.threadID == tid }
        }

        // MARK: worker side

        func run(_ worker: Worker) {
            let pinning = pin(worker)
            lock()
            worker.threadID = caugur_thread_id()
            worker.pinning = pinning
            started += 1
            pthread_cond_broadcast(doneCond)
            while let (item, stolen) = nextItem(for: worker) {
                unlock()
                let context = WorkerContext(index: worker.index, cpu: worker.cpu, node: worker.node, pinning: pinning,
                                            threadID: worker.threadID, preferredNode: item.preferredNode,
                                            worker: worker, placement: placement)
                let t0 = Core.now()
                item.work(context)
                let busy = Core.now() &- t0
                lock()
                worker.itemsRun += 1
                if stolen { worker.itemsStolen += 1 }
                worker.busyNanoseconds &+= busy
                outstanding -= 1
                if outstanding == 0 { pthread_cond_broadcast(doneCond) }
            }
            unlock()
            worker.scratch = nil
        }

        /// Pins the calling worker; on failure logs one line, counts it and falls back to the node.
        private func pin(_ worker: Worker) -> Pinning {
            let pinError: NumaPlacementError
            do {
                try placement.pinCurrentThread(toCPU: worker.cpu)
                return .cpu(worker.cpu)
            } catch {
                pinError = error
            }
            let outcome: Pinning
            let fallback: String
            do {
                try placement.runCurrentThread(onNode: worker.node)
                outcome = .node(worker.node)
                fallback = "bound to the CPUs of node \(worker.node) instead"
            } catch {
                outcome = .unpinned
                fallback = "\(error); continuing unpinned"
            }
            lock(); pinFailures += 1; unlock()
            logger.warning("build worker \(worker.index) (node \(worker.node)): \(pinError); \(fallback)",
                           metadata: ["cpu": "\(worker.cpu)", "node": "\(worker.node)"])
            return outcome
        }

        /// Called and returns with the mutex held. nil: stop.
        private func nextItem(for worker: Worker) -> (Item, stolen: Bool)? {
            while true {
                if !nodeQueues[worker.slot].isEmpty { return (nodeQueues[worker.slot].removeFirst(), false) }
                if !sharedQueue.isEmpty { return (sharedQueue.removeFirst(), false) }
                var deadline: UInt64? = nil
                if case .afterWaiting(let wait) = options.stealing {
                    let now = Core.now()
                    var oldest: (slot: Int, at: UInt64)? = nil
                    for slot in nodeQueues.indices where slot != worker.slot {
                        if let head = nodeQueues[slot].first, oldest == nil || head.enqueuedAt < oldest!.at {
                            oldest = (slot, head.enqueuedAt)
                        }
                    }
                    if let oldest {
                        if oldest.at &+ wait <= now {
                            let item = nodeQueues[oldest.slot].removeFirst()
                            if nodeQueues.indices.contains(where: { $0 != worker.slot && !nodeQueues[$0].isEmpty }) {
                                wakeOneIdle(excludingSlot: nil)
                            }
                            return (item, true)
                        }
                        deadline = oldest.at &+ wait
                    }
                }
                if stopping { return nil }
                worker.isIdle = true
                idle[worker.slot].append(worker.index)
                if let deadline {
                    var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
                    pthread_cond_timedwait(worker.cond, mutex, &ts)
                } else {
                    pthread_cond_wait(worker.cond, mutex)
                }
                if worker.isIdle {
                    // Timed out or woke spuriously: still on the idle list.
                    worker.isIdle = false
                    idle[worker.slot].removeAll { $0 == worker.index }
                }
            }
        }

        /// Wakes one idle worker of `slot` (claims it: removes it from the idle list). Mutex held.
        @discardableResult
        private func wakeIdle(inSlot slot: Int) -> Bool {
            guard let index = idle[slot].popLast() else { return false }
            let worker = workers[index]
            worker.isIdle = false
            pthread_cond_signal(worker.cond)
            return true
        }

        private func wakeOneIdle(excludingSlot excluded: Int?) {
            for slot in idle.indices where slot != excluded {
                if wakeIdle(inSlot: slot) { return }
            }
        }

        // MARK: caller side

        func submit(preferredNode: Int?, _ work: @escaping @Sendable (WorkerContext) -> Void) throws(BuildWorkerPoolError) {
            let item = Item(work: work, preferredNode: preferredNode, enqueuedAt: Core.now())
            lock(); defer { unlock() }
            if stopping { throw .shutDown }
            submitted += 1
            outstanding += 1
            if let preferredNode, let slot = slotOfNode[preferredNode] {
                let wasEmpty = nodeQueues[slot].isEmpty
                nodeQueues[slot].append(item)
                if !wakeIdle(inSlot: slot), wasEmpty, options.stealing != .never {
                    for other in idle.indices where other != slot { wakeIdle(inSlot: other) }
                }
            } else {
                sharedQueue.append(item)
                wakeOneIdle(excludingSlot: nil)
            }
        }

        func waitForAll() {
            precondition(!isWorkerThread, "BuildWorkerPool.waitForAll() called from a worker (it would wait for itself)")
            lock()
            while outstanding > 0 { pthread_cond_wait(doneCond, mutex) }
            unlock()
        }

        /// Stops the pool. From a worker thread (the pool's last reference dropped inside a work
        /// item) the threads are detached instead of joined: each exits once the queues are
        /// drained, keeping this core alive until then.
        func shutdown() {
            let onWorker = isWorkerThread
            lock()
            if stopping {
                while !onWorker && !joined { pthread_cond_wait(doneCond, mutex) }
                unlock()
                return
            }
            let created = threadsCreated
            stopping = true
            for slot in idle.indices { while wakeIdle(inSlot: slot) {} }
            unlock()
            for worker in workers.prefix(created) {
                if onWorker { pthread_detach(worker.thread) } else { pthread_join(worker.thread, nil) }
            }
            lock()
            joined = true
            pthread_cond_broadcast(doneCond)
            unlock()
        }

        func statistics() -> Statistics {
            lock(); defer { unlock() }
            return Statistics(
                workers: workers.map {
                    WorkerStatistics(index: $0.index, cpu: $0.cpu, node: $0.node, pinning: $0.pinning,
                                     itemsRun: $0.itemsRun, itemsStolen: $0.itemsStolen, busyNanoseconds: $0.busyNanoseconds)
                },
                pinFailures: pinFailures, itemsSubmitted: submitted, itemsOutstanding: outstanding)
        }
    }
}
