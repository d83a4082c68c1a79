// Reshaping a table's partitions for an index build: profile every partition (bytes, records,
// skew from its histogram, candidate split keys with the data before each from the sparse
// index), let `IndexBuildPlanner` anneal split points and worker assignment against the build's
// makespan (the copy time counted), and run the resulting reshapes through the reshard executor.
import AugurPlanner
import AugurStats
import Dispatch
import Synchronization

/// What `requestResharding(table:forIndex:)` planned.
public struct IndexReshape: Sendable, Equatable {
    public var table: String
    public var index: String
    public var workers: Int
    /// The planner's estimates (seconds): building the current partitions, and reshaping then
    /// building the new ones (reshard time included).
    public var predictedStaticMakespan: Double
    public var predictedAdaptiveMakespan: Double
    public var predictedReshardTime: Double
    public var bytesMoved: Int
    public var plans: [ReshardPlan]
    /// Annealing iterations run.
    public var iterations: Int
    public var partitionsBefore: Int
    public var partitionsAfter: Int
}

/// The reshards of an index reshape. Thread-safe.
public final class IndexReshapeJob: Sendable {
    public let reshape: IndexReshape
    public let jobs: [ReshardJob]

    init(reshape: IndexReshape, jobs: [ReshardJob]) {
        self.reshape = reshape
        self.jobs = jobs
    }

    /// Waits for every reshard; throws the first one's error.
    @discardableResult
    public func wait() throws(AugurError) -> [ReshardStatus] {
        var out: [ReshardStatus] = []
        var failure: AugurError? = nil
        for j in jobs {
            do throws(AugurError) { out.append(try j.wait()) } catch {
                if failure == nil { failure = error }
                out.append(j.current)
            }
        }
        if let failure { throw failure }
        return out
    }
}

extension Engine {
    /// Plans boundaries that minimise the build time of index `index` over `table` at the
    /// build workers' count (splitting large partitions, merging tiny ones, when the copy pays
    /// for itself) and starts the reshards. The index need not exist yet. Reads and writes go
    /// on; an index build running meanwhile builds the new partitions when they appear.
    public func requestResharding(table name: String, forIndex index: String) throws(AugurError) -> IndexReshapeJob {
        let table = try self.table(named: name)
        try indexes.validateIndexName(index)
        let partitions = table.map.partitions
        let profiles = partitions.map(indexes.buildProfile)
        let workers = indexes.workers.workerCount
        let model = indexes.costModel.withLock { $0 }
        let copyCost = reshardCostModel
        let deadline = options.clock.now() &+ UInt64(nanoseconds(options.indexBuild.planningTimeLimit))
        var planning = IndexBuildPlanningOptions()
        planning.seed = options.indexBuild.planningSeed
        planning.minPartitionBytes = UInt64(max(1, options.indexBuild.minimumPartitionBytes))
        // The engine runs a build's reshards before the build: the planner's objective must
        // say so. (`.overlapped` — building unchanged partitions while others copy — is a
        // planning mode only; an engine option offering it was removed, issue 17.)
        planning.scheduling = .beforeBuild
        let plan: IndexBuildPlan
        do throws(IndexBuildPlanningError) {
            plan = try IndexBuildPlanner.plan(partitions: profiles, workers: workers, model: model, copyCost: copyCost, options: planning,
                                              shouldStop: { [clock = options.clock] in clock.now() >= deadline })
        } catch {
            throw .invalidReshardPlan(plan: "reshape for index \(index)", reason: "\(error)")
        }
        var plans: [ReshardPlan] = []
        for r in plan.reshards {
            guard let first = partitions.first(where: { $0.id == r.sources.first?.rawValue }) else { continue }
            plans.append(.reshape(first: first.lowerBound, count: r.sources.count, boundaries: r.boundaries))
        }
        var jobs: [ReshardJob] = []
        for p in plans { jobs.append(try reshards.requestResharding(table, p)) }
        let reshape = IndexReshape(table: name, index: index, workers: workers,
                                   predictedStaticMakespan: plan.staticMakespanNanos / 1e9,
                                   predictedAdaptiveMakespan: plan.adaptiveMakespanNanos / 1e9,
                                   predictedReshardTime: plan.reshardNanos / 1e9, bytesMoved: Int(plan.bytesMoved),
                                   plans: plans, iterations: plan.iterations, partitionsBefore: partitions.count,
                                   partitionsAfter: plan.pieces.count)
        return IndexReshapeJob(reshape: reshape, jobs: jobs)
    }

    /// The planner's cost model as refined by the builds so far (start from it in another
    /// store of the same machine and data shape).
    public var indexBuildCostModel: IndexBuildCostModel { indexes.costModel.withLock { $0 } }
}

extension IndexBuilder {
    /// The planner's view of a partition: its size (the data its runs view: what a reshard of
    /// it copies or shares, not the size of files it shares with others), skew, and up to 64
    /// candidate split keys with the data before each.
    ///
    /// Candidates come from the sparse indexes of *all* its runs and each one's share is the
    /// sum over runs of the bytes before it: runs often cover different parts of the range
    /// (ingestion in key order, a split that flushed one side), and taking the largest run's
    /// distribution for the whole partition once put a cut where the planner thought it
    /// balanced two pieces and one got 80 % of the data.
    func buildProfile(_ p: Partition) -> BuildPartitionProfile {
        let view = p.view
        let runs = view.runs
        let bytes = UInt64(runs.reduce(0) { $0 + $1.dataLength })
        let records = UInt64(runs.reduce(0) { $0 + $1.recordCount })
        let skew = buildSkew(p)
        return BuildPartitionProfile(id: PartitionID(p.id), range: KeyRange(lower: p.lowerBound, upper: p.upperBound),
                                     bytes: bytes, records: records, skew: skew,
                                     cutCandidates: view.dataCuts(lower: p.lowerBound, upper: p.upperBound))
    }

    /// The skew the cost model is given for `p`: max/mean bucket load of its histogram (1 when
    /// it has seen no operations).
    func buildSkew(_ p: Partition) -> Double {
        let measured = p.histogram.snapshot().skew(metric: .operations)
        return measured.isFinite && measured >= 1 ? measured : 1
    }

    /// Feeds a finished partition build into the cost model (the per-byte rate as measured,
    /// with the skew the planner assumed for it, so estimate and refinement agree).
    func refineCostModel(_ p: Partition, bytes: Int, records: Int, nanos: UInt64) {
        guard nanos > 0, bytes > 0 else { return }
        let skew = buildSkew(p)
        costModel.withLock { m in
            m = (try? m.refined(observedBytes: UInt64(bytes), observedRecords: UInt64(records), skew: skew,
                                observedNanos: Double(nanos))) ?? m
        }
    }
}
