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
}
