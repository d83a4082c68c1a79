/// The reactive (CockroachDB-style) policy: acts on observed load only.
///
/// - Split: every moving mean of utilization over `smoothingNanos` within the last
///   `sustainNanos` is above `highWatermark` → 2-way split at
///   the load median of the histogram ("balanced sampled key"), unless the range (or its
///   parent) split less than `splitIntervalNanos` ago.
/// - Merge: two neighbours, both untouched for `mergeWindowNanos`, whose summed peaks over
///   that window stay below `mergeFraction × highWatermark`.
/// - Oversize partitions split at their data median.
///
/// Thread-safety: stateless.
enum ReactivePolicy {
    static func plan(_ ctx: inout PlanContext, options: ReactiveOptions) {
        let capacity = ctx.capacity
        let hw = capacity.highWatermark
        let interval = max(1, ctx.snapshot.sampleIntervalNanos)
        let needed = Int((options.sustainNanos + interval - 1) / interval)
        let width = min(needed, max(1, Int((options.smoothingNanos + interval - 1) / interval)))
        for (i, p) in ctx.partitions.enumerated() where p.state == .active {
            let sustained = needed > 0 && p.recent.count >= needed
                && Self.everyMovingMean(p.recent.suffix(needed).map { capacity.utilization($0) }, width: width, above: hw)
            if sustained {
                if !ctx.isFree(i) {
                    ctx.note(PlanFinding(code: .inFlight, partitions: [p.id], message: "\(p.id) over threshold but locked by an in-flight reshard"))
                    continue
                }
                if let last = ctx.ledger.lastSplitAt(p.id), ctx.now < last &+ options.splitIntervalNanos { continue }
                guard let key = ctx.profiles[i].loadQuantileKey(0.5),
                      let effect = ctx.splitEffect(i, cuts: [key], peak: ctx.outlooks[i].current, overloadAt: ctx.outlooks[i].overloadAt)
                else {
                    ctx.note(PlanFinding(code: .noSplitPoint, partitions: [p.id], message: "\(p.id) over threshold but its histogram gives no split key"))
                    continue
                }
                let mean = options.smoothingNanos > 0 ? "\(Fmt.seconds(options.smoothingNanos)) mean " : ""
                let msg = "\(mean)utilization above \(Fmt.f2(hw)) for \(Fmt.seconds(options.sustainNanos)) (now \(Fmt.f2(ctx.outlooks[i].current))): split at load median"
                ctx.propose(PlannedAction(action: .split(p.id, at: [key]), reason: ActionReason(code: .sustainedOverload, message: msg),
                                          score: ctx.outlooks[i].score, effect: effect),
                            priorityClass: 1, rank: ctx.outlooks[i].current)
            } else if p.sizeBytes > capacity.maxPartitionBytes, ctx.isFree(i) {
                proposeOversize(&ctx, i)
            }
        }

        // Merges.
        let limit = options.mergeFraction * hw
        var pairs: [(i: Int, combined: Double)] = []
        let parts = ctx.partitions
        for i in 0..<max(0, parts.count - 1) {
            let a = parts[i], b = parts[i + 1]
            guard a.state == .active, b.state == .active, ctx.isFree(i), ctx.isFree(i + 1) else { continue }
            guard !ctx.ledger.inMergeCooldown(a, now: ctx.now, cooldown: options.mergeWindowNanos),
                  !ctx.ledger.inMergeCooldown(b, now: ctx.now, cooldown: options.mergeWindowNanos) else { continue }
            guard let pa = a.peak(overAtLeast: options.mergeWindowNanos), let pb = b.peak(overAtLeast: options.mergeWindowNanos) else { continue }
            let combined = capacity.utilization(pa + pb)
            guard combined < limit, a.sizeBytes + b.sizeBytes <= capacity.maxPartitionBytes else { continue }
            pairs.append((i, combined))
        }
        for (i, combined) in pairs {
            let a = parts[i], b = parts[i + 1]
            let merged = PredictedPartition(range: KeyRange(lower: a.range.lower, upper: b.range.upper),
                                            predictedUtilization: combined, predictedBytes: a.sizeBytes + b.sizeBytes)
            let msg = "summed \(Fmt.seconds(options.mergeWindowNanos)) peaks \(Fmt.f2(combined)) < \(Fmt.f2(limit))"
            ctx.propose(PlannedAction(action: .merge(left: a.id, right: b.id), reason: ActionReason(code: .idle, message: msg),
                                      score: min(1, max(0, 1 - combined / limit)),
                                      effect: PredictedEffect(resulting: [merged], bytesToMove: ctx.capacity.reshardCost.predict(sourceBytes: [a.sizeBytes, b.sizeBytes]).copiedBytes)),
                        priorityClass: 4, rank: -combined)
        }
    }

    /// Whether every mean of `width` consecutive values of `values` exceeds `threshold`.
    static func everyMovingMean(_ values: [Double], width: Int, above threshold: Double) -> Bool {
        guard width >= 1, values.count >= width else { return false }
        var sum = values.prefix(width).reduce(0, +)
        if !(sum / Double(width) > threshold) { return false }
        for j in width..<values.count {
            sum += values[j] - values[j - width]
            if !(sum / Double(width) > threshold) { return false }
        }
        return true
    }

    /// Proposes a split of oversize partition `i` at its data median (both policies).
    static func proposeOversize(_ ctx: inout PlanContext, _ i: Int) {
        let p = ctx.partitions[i]
        guard let key = ctx.profiles[i].dataQuantileKey(0.5) else {
            ctx.note(PlanFinding(code: .noSplitPoint, partitions: [p.id], message: "\(p.id) oversize but no key splits its data"))
            return
        }
        let peak = ctx.outlooks[i].peakUpper
        let byteShares = ctx.profiles[i].byteShares(cuts: [key])
        let loadShares = ctx.profiles[i].loadShares(cuts: [key]) ?? byteShares
        let bytes = byteShares.map { UInt64((Double(p.sizeBytes) * $0).rounded()) }
        let children = [
            PredictedPartition(range: KeyRange(lower: p.range.lower, upper: key), predictedUtilization: peak * loadShares[0], predictedBytes: bytes[0]),
            PredictedPartition(range: KeyRange(lower: key, upper: p.range.upper), predictedUtilization: peak * loadShares[1], predictedBytes: bytes[1]),
        ]
        let msg = "size \(Fmt.bytes(p.sizeBytes)) > max \(Fmt.bytes(ctx.capacity.maxPartitionBytes)): split at data median"
        ctx.propose(PlannedAction(action: .split(p.id, at: [key]), reason: ActionReason(code: .oversize, message: msg), score: 1,
                                  effect: PredictedEffect(resulting: children, bytesToMove: ctx.capacity.reshardCost.predict(sourceBytes: [p.sizeBytes]).copiedBytes)),
                    priorityClass: 2, rank: Double(p.sizeBytes))
    }
}
