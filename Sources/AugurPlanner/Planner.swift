/// The reshard planner: a pure function from a table snapshot, a capacity model and the time
/// to a plan. No I/O, no clocks, no state between calls (cooldowns and intervals come from
/// the snapshot's history).
///
///     let planner = Planner(policy: .predictive(PredictiveOptions()))
///     let plan = planner.plan(snapshot, capacity: CapacityModel(), now: engineClockNanos)
///     for a in plan.actions { executor.submit(a.action) }   // highest priority first
///
/// Guarantees (checked by ``PlanValidator``): applying all actions leaves the key space tiled
/// without gaps or overlaps; no partition is in two actions or in an action while locked by an
/// in-flight reshard; in-flight plus planned reshards never exceed
/// `CapacityModel.maxConcurrentReshards`; the predictive policy never merges a partition
/// touched within `CapacityModel.cooldownNanos` nor moves a boundary moved within it; the
/// reactive policy never splits a range twice within `ReactiveOptions.splitIntervalNanos`.
///
/// Thread-safety: immutable value type, `Sendable`; `plan` may run concurrently.
public struct Planner: Sendable {
    /// The policy.
    public let policy: PlannerPolicy
    /// Whether `.static` still splits partitions above `CapacityModel.maxPartitionBytes` (the
    /// other policies always do).
    public let splitsBySize: Bool

    /// Creates a planner running `policy`.
    public init(policy: PlannerPolicy, splitsBySize: Bool = false) {
        self.policy = policy
        self.splitsBySize = splitsBySize
    }

    /// Plans reshards for `snapshot` at engine time `now` (ns).
    public func plan(_ snapshot: TableSnapshot, capacity: CapacityModel, now: UInt64) -> Plan {
        let level: Double, margin: Double, samples: Int
        if case let .predictive(o) = policy {
            (level, margin, samples) = (o.intervalLevel, o.noIntervalMargin, o.currentSamples)
        } else {
            let defaults = PredictiveOptions()
            (level, margin, samples) = (defaults.intervalLevel, defaults.noIntervalMargin, defaults.currentSamples)
        }
        var ctx = PlanContext(snapshot: snapshot, capacity: capacity, now: now, level: level,
                              noIntervalMargin: margin, currentSamples: samples)
        switch policy {
        case .static:
            guard splitsBySize else { break }
            for (i, p) in ctx.partitions.enumerated() where p.state == .active && p.sizeBytes > capacity.maxPartitionBytes && ctx.isFree(i) {
                ReactivePolicy.proposeOversize(&ctx, i)
            }
        case let .reactive(options):
            ReactivePolicy.plan(&ctx, options: options)
        case let .predictive(options):
            PredictivePolicy.plan(&ctx, options: options)
        }
        return ctx.assemble(policy: policy.name)
    }
}
