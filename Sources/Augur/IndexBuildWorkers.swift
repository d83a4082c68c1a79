// The workers that build secondary indexes (see IndexBuild.swift for what a task does): a
// `BuildWorkerPool` of one pinned thread per CPU, created at the first build. A partition's
// task goes to a worker on the NUMA node where its segment pages live (sampled with
// move_pages), or to any worker when they are not resident yet (first touch).
import AugurPlanner
import AugurSys
import Dispatch
import Logging
import Synchronization

/// Options of index builds.
public struct IndexBuildOptions: Sendable {
    /// Build workers; nil = one per CPU of the topology. Fewer than the CPUs uses the first
    /// ones, spread over the nodes in turn; more than the CPUs is refused.
    public var workers: Int? = nil
    /// The machine's NUMA topology; nil = detected (libnuma, then sysfs, then the affinity
    /// mask). Tests inject a synthetic one.
    public var topology: NumaTopology? = nil
    /// How workers pin themselves and allocate node-local buffers; nil = `LinuxNumaPlacement`.
    public var placement: (any NumaPlacement)? = nil
    /// An idle worker takes a task queued for another node after it waited this long; nil =
    /// never (strict locality).
    public var stealAfter: Duration? = .milliseconds(5)
    /// Bounds of the annealing that plans a reshape for a build (`requestResharding(table:forIndex:)`):
    /// engine-clock time and the random seed (same inputs and seed, same plan).
    public var planningTimeLimit: Duration = .milliseconds(250)
    public var planningSeed: UInt64 = 0x5EED
    /// Starting build and copy rates of the planner's cost model; each partition build refines
    /// the per-byte rate with what it measured.
    public var costModel = IndexBuildCostModel()
    /// The smallest partition a reshape for a build may create, in bytes (default 64 MiB:
    /// below that, per-partition costs outweigh balance).
    public var minimumPartitionBytes = 64 << 20
    public init() {}
}

/// What a build task knows of the worker running it, and its buffer allocator.
struct BuildWorkerContext {
    /// Worker number, 0-based.
    let index: Int
    /// NUMA node of the worker's CPU (-1 when unknown).
    let node: Int
    let allocateBuffer: (Int) -> NumaBuffer
}

/// Runs build tasks on the pool and collects their results. Thread-safe.
final class IndexBuildWorkers: Sendable {
    typealias Task = @Sendable (BuildWorkerContext) -> Result<Int, AugurError>
    private let options: IndexBuildOptions
    /// Told of workers whose pinning failed (`augur.build-workers`).
    private let logger: Logger
    private let pool = Mutex<BuildWorkerPool?>(nil)

    init(options: IndexBuildOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// The topology the pool runs on: the configured or detected one, cut to `workers` CPUs.
    static func topology(_ options: IndexBuildOptions) throws(AugurError) -> NumaTopology {
        let full = options.topology ?? NumaTopology.detect()
        guard let wanted = options.workers, wanted < full.cpus.count else {
            if let wanted = options.workers, wanted > full.cpus.count {
                throw .invalidOption(name: "indexBuild.workers", value: String(wanted),
                                     reason: "exceeds the \(full.cpus.count) CPUs of the topology")
            }
            return full
        }
        // Take CPUs round-robin over the nodes so a cut topology still spans them.
        var chosen: [Int: [Int]] = [:]
        var taken = 0, round = 0
        while taken < wanted {
            for node in full.nodes where taken < wanted && round < node.cpus.count {
                chosen[node.id, default: []].append(node.cpus[round])
                taken += 1
            }
            round += 1
        }
        return NumaTopology(nodes: full.nodes.compactMap { n in chosen[n.id].map { NumaTopology.Node(id: n.id, cpus: $0) } },
                            source: full.source)
    }

    private func startedPool() throws(AugurError) -> BuildWorkerPool {
        let options = self.options, logger = self.logger
        return try pool.withLock { (p: inout BuildWorkerPool?) throws(AugurError) -> BuildWorkerPool in
            if let p { return p }
            let topology = try Self.topology(options)
            do throws(BuildWorkerPoolError) {
                let stealing: BuildWorkerPool.StealPolicy = options.stealAfter.map { d in
                    .afterWaiting(nanoseconds: UInt64(max(0, nanoseconds(d))))
                } ?? .never
                let made = try BuildWorkerPool(topology: topology, placement: options.placement ?? LinuxNumaPlacement(),
                                               options: BuildWorkerPool.Options(stealing: stealing),
                                               logger: logger)
                p = made
                return made
            } catch {
                throw .invalidOption(name: "indexBuild", value: "\(topology)", reason: "cannot start build workers: \(error)")
            }
        }
    }

    /// Worker count once started (the configured or detected CPU count before).
    var workerCount: Int {
        if let p = pool.withLock({ $0 }) { return p.workerCount }
        return (try? Self.topology(options).cpus.count) ?? 1
    }

    /// Statistics of the pool (nil before the first build).
    var statistics: BuildWorkerPool.Statistics? { pool.withLock { $0?.statistics } }
    var workerStatistics: [BuildWorkerPool.WorkerStatistics] { pool.withLock { $0?.statistics.workers ?? [] } }

    /// The node where `segment`'s pages live, or nil (first touch).
    func preferredNode(_ segments: [Segment]) -> Int? {
        guard let largest = segments.max(by: { $0.dataLength < $1.dataLength }), largest.dataLength > 0 else { return nil }
        let placement = options.placement ?? LinuxNumaPlacement()
        return placement.preferredNode(forMappedRange: UnsafeRawBufferPointer(start: largest.data, count: largest.dataLength))
    }

    /// Runs every task once (in submission order per node) and returns their results in order.
    func run(_ tasks: [(preferredNode: Int?, task: Task)]) -> [Result<Int, AugurError>] {
        if tasks.isEmpty { return [] }
        let pool: BuildWorkerPool
        do throws(AugurError) { pool = try startedPool() } catch { return tasks.map { _ in .failure(error) } }
        let results = Mutex<[Result<Int, AugurError>?]>(Array(repeating: nil, count: tasks.count))
        let group = DispatchGroup()
        for (i, t) in tasks.enumerated() {
            group.enter()
            do throws(BuildWorkerPoolError) {
                try pool.submit(preferredNode: t.preferredNode) { worker in
                    let context = BuildWorkerContext(index: worker.index, node: worker.node,
                                                     allocateBuffer: { worker.allocateLocalBuffer(bytes: $0) })
                    let r = t.task(context)
                    results.withLock { $0[i] = r }
                    group.leave()
                }
            } catch {
                results.withLock { $0[i] = .failure(.engineClosed) }
                group.leave()
            }
        }
        group.wait()
        return results.withLock { $0.map { $0! } }
    }

    func shutdown() { pool.withLock { $0 }?.shutdown() }
}
