// The strategy advisor (issue 18, part 1): which PartitioningStrategy suits a table's workload.
// Pure: it reads a StrategyWorkload (operation rates, scan lengths, sampled write keys in
// arrival order, sampled scans' first and last keys) and scores each strategy with a small cost
// model. The constants are costs relative to a point read, measured on the development machine
// with Benchmarks/strategies.sh (docs/PERFORMANCE.md); an application can measure its own and
// pass them in (StrategyCostModel):
//
//   point read               1
//   write                    `write`
//   scan of L records        range: seek + L·perRecord; hash: buckets·seek + L·perRecord·merge;
//                            composite: as hash, once per prefix the scan touches
//   sequential write         in a range table all land on one tail: × `rangeSequentialWrite`
//                            (below 1 where appending to one memtable is cheaper than hashing
//                            the appends over partitions, as measured here; above 1 where
//                            writers contend for the tail); per-prefix appends share that
//                            effect over the prefixes they spread to
//
// A strategy's score is the best strategy's cost over its own (1 for the best); ties go to
// range, then composite, then hash. The reasons say which measured figure decided.

/// What the advisor reads about one table.
///
/// Thread-safety: a plain value; `Sendable`.
public struct StrategyWorkload: Sendable, Equatable {
    /// Point reads, scans and writes (puts and deletes) per second, over the same window.
    public var pointReadsPerSecond: Double
    public var scansPerSecond: Double
    public var writesPerSecond: Double
    /// Records a scan returned, on average (0 without scans).
    public var meanScanLength: Double
    /// User keys of sampled writes, oldest first.
    public var writeKeys: [[UInt8]]
    /// First and last user keys of sampled scans that returned a record.
    public var scanSpans: [ScanSpan]

    public struct ScanSpan: Sendable, Equatable {
        public var first: [UInt8]
        public var last: [UInt8]
        public init(first: [UInt8], last: [UInt8]) {
            self.first = first
            self.last = last
        }
    }

    public init(pointReadsPerSecond: Double = 0, scansPerSecond: Double = 0, writesPerSecond: Double = 0,
                meanScanLength: Double = 0, writeKeys: [[UInt8]] = [], scanSpans: [ScanSpan] = []) {
        self.pointReadsPerSecond = pointReadsPerSecond
        self.scansPerSecond = scansPerSecond
        self.writesPerSecond = writesPerSecond
        self.meanScanLength = meanScanLength
        self.writeKeys = writeKeys
        self.scanSpans = scanSpans
    }
}

/// The advisor's cost constants (relative to one point read). The defaults are this machine's
/// (2 cores, Benchmarks/strategies.sh, docs/PERFORMANCE.md).
///
/// Thread-safety: a plain value; `Sendable`.
public struct StrategyCostModel: Sendable, Equatable {
    /// One write (put or delete).
    public var write = 3.7
    /// One positioned cursor of a scan (a seek into every layer of a partition).
    public var seek = 3.3
    /// One record a scan returns.
    public var perRecord = 0.22
    /// A bucketed scan's per-record cost over a range scan's (the merge across buckets).
    public var merge = 1.2
    /// A sequential write's cost in a range table over its cost spread by hashing.
    public var rangeSequentialWrite = 0.87
    /// Buckets of the hash and composite strategies the advisor proposes.
    public var buckets = PartitioningStrategy.defaultBuckets

    public init() {}
}

/// A recommendation and how it was reached.
///
/// Thread-safety: a plain value; `Sendable`.
public struct StrategyAdvice: Sendable, Equatable {
    public var strategy: PartitioningStrategy
    /// 1 for the recommendation; each strategy's cost relative to the best.
    public var scores: [(strategy: PartitioningStrategy, score: Double)]
    public var reasons: [String]
    /// What the advisor measured from the workload.
    public var sequentialWriteShare: Double
    public var prefixLength: Int?
    public var prefixSequentialShare: Double?
    public var scanShare: Double
    public var writeShare: Double

    public static func == (a: Self, b: Self) -> Bool {
        a.strategy == b.strategy && a.reasons == b.reasons
            && a.scores.map(\.strategy) == b.scores.map(\.strategy) && a.scores.map(\.score) == b.scores.map(\.score)
    }
}

/// Why the advisor cannot advise.
public enum StrategyAdviceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No operation has been seen: there is nothing to base a recommendation on.
    case noWorkload
    /// A rate or length that is negative or not finite.
    case invalidFigure(name: String, value: Double)

    public var description: String {
        switch self {
        case .noWorkload: "no operations recorded for the table yet: run its workload first"
        case .invalidFigure(let name, let value): "\(name) is \(value): it must be finite and not negative"
        }
    }
}

public enum StrategyAdvisor {
    /// Samples needed before sequentiality counts (fewer: treated as not sequential).
    public static let minimumWriteSamples = 16

    public static func advise(_ w: StrategyWorkload, costs: StrategyCostModel = StrategyCostModel()) throws(StrategyAdviceError) -> StrategyAdvice {
        for (name, v) in [("pointReadsPerSecond", w.pointReadsPerSecond), ("scansPerSecond", w.scansPerSecond),
                          ("writesPerSecond", w.writesPerSecond), ("meanScanLength", w.meanScanLength)] where !(v.isFinite && v >= 0) {
            throw .invalidFigure(name: name, value: v)
        }
        let total = w.pointReadsPerSecond + w.scansPerSecond + w.writesPerSecond
        guard total > 0 else { throw .noWorkload }
        let readShare = w.pointReadsPerSecond / total, scanShare = w.scansPerSecond / total, writeShare = w.writesPerSecond / total
        let sequential = sequentialShare(w.writeKeys)
        let prefix = bestPrefix(w.writeKeys, globalSequential: sequential)
        let buckets = Double(costs.buckets)
        let scanLength = max(1, w.meanScanLength)

        // Scans of a composite table stay inside one prefix when their first and last keys
        // share it; the others cross into a second prefix at least.
        let prefixesPerScan: Double = prefix.map { p in
            let spans = w.scanSpans
            guard !spans.isEmpty else { return 1 }
            let crossing = spans.filter { !$0.first.prefix(p.length).elementsEqual($0.last.prefix(p.length)) }.count
            return 1 + Double(crossing) / Double(spans.count)
        } ?? 1
        let perScanRecords = scanLength * costs.perRecord
        // A range table's appends: one tail for globally sequential writes; per-prefix appends
        // spread over as many tails as there are prefixes.
        let tailShare = max(sequential, prefix.map { $0.sequential / Double($0.distinct) } ?? 0)
        let rangeWrite = costs.write * (1 + (costs.rangeSequentialWrite - 1) * tailShare)
        var costOf: [(PartitioningStrategy, Double)] = [
            (.range, readShare + scanShare * (costs.seek + perScanRecords) + writeShare * rangeWrite),
        ]
        if let prefix {
            costOf.append((.composite(prefixLength: prefix.length, buckets: costs.buckets),
                           readShare + scanShare * (prefixesPerScan * buckets * costs.seek + perScanRecords * costs.merge) + writeShare * costs.write))
        }
        costOf.append((.hash(buckets: costs.buckets),
                       readShare + scanShare * (buckets * costs.seek + perScanRecords * costs.merge) + writeShare * costs.write))
        // The first of the cheapest, in the order range, composite, hash (ties keep locality).
        let best = costOf.reduce(costOf[0]) { $1.1 < $0.1 * (1 - 1e-12) ? $1 : $0 }
        let scores = costOf.map { (strategy: $0.0, score: best.1 / $0.1) }

        var reasons: [String] = []
        func pct(_ x: Double) -> String { "\(Int((x * 100).rounded())) %" }
        reasons.append("operations: \(pct(readShare)) point reads, \(pct(scanShare)) scans (mean length \(Int(scanLength.rounded()))), \(pct(writeShare)) writes")
        if w.writeKeys.count >= minimumWriteSamples {
            reasons.append("\(pct(sequential)) of sampled writes are in key order (\(w.writeKeys.count) samples)")
        } else if w.writesPerSecond > 0 {
            reasons.append("too few sampled writes (\(w.writeKeys.count)) to judge their order")
        }
        if let prefix {
            reasons.append("within each \(prefix.length)-byte key prefix (\(prefix.distinct) seen), \(pct(prefix.sequential)) of writes are in key order")
        }
        switch best.0 {
        case .range:
            if scanShare > 0 { reasons.append("a scan positions one cursor in a range table, \(costs.buckets) in a hashed one") }
            if tailShare >= 0.3 && costs.rangeSequentialWrite <= 1 {
                reasons.append("appending at a range table's tail costs \(costs.rangeSequentialWrite)× a hashed write here: no reason to spread it")
            } else if tailShare < 0.3 {
                reasons.append("writes are spread over the key space already")
            }
        case .hash:
            reasons.append("sequential writes would all land on a range table's last partition (\(costs.rangeSequentialWrite)× the cost of a hashed write); hashing spreads them over \(costs.buckets) buckets")
        case .composite(let p, _):
            reasons.append("ranges over the \(p)-byte prefix keep a prefix's scans together; hashing within it spreads each prefix's appends")
        }
        return StrategyAdvice(strategy: best.0, scores: scores, reasons: reasons, sequentialWriteShare: sequential,
                              prefixLength: prefix?.length, prefixSequentialShare: prefix?.sequential,
                              scanShare: scanShare, writeShare: writeShare)
    }

    /// How far consecutive keys go up rather than down: 0 for random order (half go up), 1 when
    /// every key is above the one before.
    static func sequentialShare(_ keys: [[UInt8]]) -> Double {
        guard keys.count >= minimumWriteSamples else { return 0 }
        var up = 0, pairs = 0
        for i in 1..<keys.count where keys[i] != keys[i - 1] {
            pairs += 1
            if keys[i - 1].lexicographicallyPrecedes(keys[i]) { up += 1 }
        }
        guard pairs > 0 else { return 0 }
        return min(1, max(0, (Double(up) / Double(pairs) - 0.5) / 0.5))
    }

    /// The shortest prefix under which writes are sequential per prefix though not overall: at
    /// least two prefixes, at least 8 samples per prefix on average, 80 % of in-prefix
    /// successors going up. Nil when no prefix qualifies.
    static func bestPrefix(_ keys: [[UInt8]], globalSequential: Double) -> (length: Int, distinct: Int, sequential: Double)? {
        guard keys.count >= minimumWriteSamples * 2, globalSequential < 0.5 else { return nil }
        let shortest = keys.map(\.count).min() ?? 0
        guard shortest >= 2 else { return nil }
        for length in 1...min(16, shortest - 1) where PartitioningStrategy.prefixLengthLimit.contains(length) {
            var last: [ArraySlice<UInt8>: [UInt8]] = [:]
            var up = 0, pairs = 0
            for k in keys {
                let p = k[..<length]
                if let before = last[p], before != k {
                    pairs += 1
                    if before.lexicographicallyPrecedes(k) { up += 1 }
                }
                last[p] = k
            }
            let distinct = last.count
            guard distinct >= 2, distinct * 8 <= keys.count, pairs > 0 else { continue }
            let share = min(1, max(0, (Double(up) / Double(pairs) - 0.5) / 0.5))
            if share >= 0.8 { return (length, distinct, share) }
        }
        return nil
    }
}
