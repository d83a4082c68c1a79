/// One key range of a table with what its saved history says about its load, and sorted sample
/// keys of its data (e.g. from segment sparse indexes) for cuts inside it.
///
/// Thread-safety: value type, `Sendable`.
public struct AdvisorRange: Sendable, Equatable {
    public var range: KeyRange
    /// Highest measured cost the history recorded for this range. Unit: seconds of work per
    /// second.
    public var peakCost: Double
    /// Highest operations per second recorded (reported only).
    public var peakOps: Double
    /// Sorted, distinct keys inside `range` where data lies; may be empty (then cuts inside the
    /// range go by key position).
    public var sampleKeys: [[UInt8]]

    public init(range: KeyRange, peakCost: Double, peakOps: Double, sampleKeys: [[UInt8]] = []) {
        self.range = range
        self.peakCost = peakCost
        self.peakOps = peakOps
        self.sampleKeys = sampleKeys
    }

    /// From a saved history. The forecast is seasonal-naive: the busiest recorded minute or
    /// sample is taken to recur (the history keeps a day of minutes, so that is the day's peak).
    public init(history: RangeLoadHistory, sampleKeys: [[UInt8]] = []) {
        let all = history.minutes + history.samples
        self.init(range: history.range, peakCost: all.map(\.costPerSecond).max() ?? 0,
                  peakOps: all.map(\.opsPerSecond).max() ?? 0, sampleKeys: sampleKeys)
    }

    /// Share of this range's load on keys below `key` (`0...1`): by sample keys when there are
    /// any (load assumed uniform over where the data is), else by key position.
    func fraction(below key: [UInt8]) -> Double {
        if !range.lower.lexicographicallyPrecedes(key) { return 0 }
        if !KeyOrder.less(key, range.upper) { return 1 }
        if !sampleKeys.isEmpty {
            var lo = 0, hi = sampleKeys.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if sampleKeys[mid].lexicographicallyPrecedes(key) { lo = mid + 1 } else { hi = mid }
            }
            return Double(lo) / Double(sampleKeys.count)
        }
        return KeyMath.position(of: key, in: range)
    }

    /// A key strictly inside the range with `fraction` of its load below it, if there is one.
    func key(atFraction f: Double) -> [UInt8]? {
        if !sampleKeys.isEmpty {
            let i = min(sampleKeys.count - 1, max(0, Int((f * Double(sampleKeys.count)).rounded())))
            let k = sampleKeys[i]
            return range.containsStrictly(k) ? k : nil
        }
        return KeyMath.key(atFraction: f, in: range)
    }
}

/// A recommended (or requested) layout of one table.
///
/// Thread-safety: value type, `Sendable`.
public struct PartitionAdvice: Sendable, Equatable {
    /// Cut keys, ascending: the partitions are `[−∞, cuts[0])`, …, `[cuts.last, +∞)`.
    public var cuts: [[UInt8]]
    public var partitions: Int { cuts.count + 1 }
    /// Predicted peak utilization of each partition (its share of the peak cost ÷ costBudget).
    public var predictedUtilization: [Double]
    /// Why, in words.
    public var reasons: [String]
}

/// A bad input to the advisor, naming the value and the limit.
public enum PartitionAdvisorError: Error, Equatable, CustomStringConvertible {
    case invalid(name: String, value: String, reason: String)

    public var description: String {
        switch self { case .invalid(let n, let v, let r): "\(n) = \(v): \(r)" }
    }
}

/// The partition advisor of a restore (issue 18): the layout a table should start with, from
/// the load its key ranges saw. Pure.
public enum PartitionAdvisor {
    /// Enough partitions that each one's predicted peak cost stays under `costBudget ×
    /// targetFill`, and no more: cold neighbouring ranges share a partition (greedy packing in key
    /// order); a range hotter than one partition is cut into ⌈peak ÷ per-partition⌉ pieces of equal
    /// load (at sample-key quantiles). A range whose cut cannot be found inside it stays whole and
    /// a reason says so. Above `maxPartitions`, `maxPartitions` pieces of equal load instead.
    public static func advise(ranges: [AdvisorRange], costBudget: Double, targetFill: Double,
                              maxPartitions: Int = 256) throws(PartitionAdvisorError) -> PartitionAdvice {
        try validate(ranges, costBudget: costBudget)
        guard targetFill > 0 && targetFill <= 1 else {
            throw .invalid(name: "targetFill", value: "\(targetFill)", reason: "must be in (0, 1]")
        }
        guard (1...4096).contains(maxPartitions) else {
            throw .invalid(name: "maxPartitions", value: "\(maxPartitions)", reason: "must be in 1...4096")
        }
        let perPartition = costBudget * targetFill
        let total = ranges.reduce(0) { $0 + $1.peakCost }
        guard total > 0 else {
            return PartitionAdvice(cuts: [], predictedUtilization: [0], reasons: ["no load recorded: one partition"])
        }
        var cuts: [[UInt8]] = []
        var reasons: [String] = []
        var pieceLoad = 0.0
        func close(at key: [UInt8]) {
            if !key.isEmpty, cuts.last.map({ $0.lexicographicallyPrecedes(key) }) ?? true { cuts.append(key) }
            pieceLoad = 0
        }
        for r in ranges {
            if r.peakCost > perPartition {
                if pieceLoad > 0 { close(at: r.range.lower) }
                let ways = Int((r.peakCost / perPartition).rounded(.up))
                var inside = 0
                for j in 1..<ways {
                    if let k = r.key(atFraction: Double(j) / Double(ways)), cuts.last.map({ $0.lexicographicallyPrecedes(k) }) ?? true,
                       r.range.lower.lexicographicallyPrecedes(k) {
                        cuts.append(k)
                        inside += 1
                    }
                }
                if inside < ways - 1 {
                    reasons.append("range from \(KeyFormat.lower(r.range.lower)) needs \(ways) partitions; its data allows \(inside + 1)")
                }
                // The hot range's last piece is full: the next range starts a new one.
                if let upper = r.range.upper { close(at: upper) }
            } else if pieceLoad > 0 && pieceLoad + r.peakCost > perPartition {
                close(at: r.range.lower)
                pieceLoad = r.peakCost
            } else {
                pieceLoad += r.peakCost
            }
        }
        if cuts.count + 1 > maxPartitions {
            var capped = try layout(ranges: ranges, partitions: maxPartitions, costBudget: costBudget)
            capped.reasons.insert("\(cuts.count + 1) partitions needed, capped at \(maxPartitions)", at: 0)
            return capped
        }
        let utilization = predictedUtilization(ranges: ranges, cuts: cuts, costBudget: costBudget)
        reasons.insert("peak \(fmt(total)) s/s over \(ranges.count) ranges against \(fmt(perPartition)) s/s per partition "
                       + "(budget \(fmt(costBudget)) × target fill \(fmt(targetFill))): \(cuts.count + 1) partitions", at: 0)
        return PartitionAdvice(cuts: cuts, predictedUtilization: utilization, reasons: reasons)
    }

    /// Exactly `partitions` pieces of (as near as the data allows) equal predicted peak load — a
    /// user's override; with no load at all, equal shares of the data.
    public static func layout(ranges: [AdvisorRange], partitions: Int, costBudget: Double) throws(PartitionAdvisorError) -> PartitionAdvice {
        try validate(ranges, costBudget: costBudget)
        guard (1...4096).contains(partitions) else {
            throw .invalid(name: "partitions", value: "\(partitions)", reason: "must be in 1...4096")
        }
        let total = ranges.reduce(0) { $0 + $1.peakCost }
        // Without load, every range weighs the same.
        let weights = total > 0 ? ranges.map(\.peakCost) : ranges.map { _ in 1.0 }
        let sum = weights.reduce(0, +)
        var cuts: [[UInt8]] = []
        var before = 0.0, i = 0
        for j in 1..<partitions {
            let target = sum * Double(j) / Double(partitions)
            while i < ranges.count - 1 && before + weights[i] < target { before += weights[i]; i += 1 }
            let r = ranges[i]
            let f = weights[i] > 0 ? (target - before) / weights[i] : 0
            let k: [UInt8]? = f <= 0 ? (r.range.lower.isEmpty ? nil : r.range.lower) : (f >= 1 ? r.range.upper : r.key(atFraction: f))
            if let k, !k.isEmpty, cuts.last.map({ $0.lexicographicallyPrecedes(k) }) ?? true { cuts.append(k) }
        }
        var reasons = ["\(partitions) partitions asked for, cut at equal shares of the \(total > 0 ? "peak load" : "data")"]
        if cuts.count + 1 < partitions { reasons.append("the data allows \(cuts.count + 1)") }
        return PartitionAdvice(cuts: cuts, predictedUtilization: predictedUtilization(ranges: ranges, cuts: cuts, costBudget: costBudget),
                               reasons: reasons)
    }

    /// Predicted peak utilization of each piece of the layout `cuts`.
    public static func predictedUtilization(ranges: [AdvisorRange], cuts: [[UInt8]], costBudget: Double) -> [Double] {
        let bounds: [[UInt8]?] = [[]] + cuts.map { Optional($0) } + [nil]
        return (0..<(bounds.count - 1)).map { p in
            let lo = bounds[p]!, hi = bounds[p + 1]
            var load = 0.0
            for r in ranges {
                let below = hi.map { r.fraction(below: $0) } ?? 1
                load += r.peakCost * max(0, below - r.fraction(below: lo))
            }
            return costBudget > 0 ? load / costBudget : 0
        }
    }

    private static func validate(_ ranges: [AdvisorRange], costBudget: Double) throws(PartitionAdvisorError) {
        guard costBudget > 0 && costBudget <= 64 else {
            throw .invalid(name: "costBudget", value: "\(costBudget)", reason: "must be in (0, 64] seconds per second")
        }
        guard let first = ranges.first else { throw .invalid(name: "ranges", value: "[]", reason: "at least one range") }
        guard first.range.lower.isEmpty else {
            throw .invalid(name: "ranges[0].lower", value: KeyFormat.lower(first.range.lower), reason: "the first range must start at minus infinity")
        }
        for (i, r) in ranges.enumerated() {
            guard r.peakCost.isFinite && r.peakCost >= 0, r.peakOps.isFinite && r.peakOps >= 0 else {
                throw .invalid(name: "ranges[\(i)].peak", value: "\(r.peakCost) s/s, \(r.peakOps) ops/s", reason: "must be finite and ≥ 0")
            }
            if i + 1 < ranges.count {
                guard let upper = r.range.upper, upper == ranges[i + 1].range.lower, r.range.lower.lexicographicallyPrecedes(upper) else {
                    throw .invalid(name: "ranges[\(i)].upper", value: KeyFormat.upper(r.range.upper),
                                   reason: "must equal the next range's lower bound and lie above its own")
                }
            } else if r.range.upper != nil {
                throw .invalid(name: "ranges[\(i)].upper", value: KeyFormat.upper(r.range.upper), reason: "the last range must end at plus infinity")
            }
        }
    }

    private static func fmt(_ v: Double) -> String { String(Double(Int((v * 100).rounded())) / 100) }
}
