// BuildWorkerPool's internals: the worker threads (`Worker`), the queues and the one mutex
// every scheduling decision takes (`Core`). The scheduling rules are in BuildWorkerPool.swift's
// header; this file holds the code that carries them out. Threading: every `var` of `Core` and
// the `Guarded by Core.mutex` fields of `Worker` are read and written only with `Core.mutex`
// held; a worker's scratch buffer only by its own thread.
import CAugurSys
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension BuildWorkerPool {
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
