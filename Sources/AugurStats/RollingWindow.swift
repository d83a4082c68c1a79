/// Per-type operation rates.
///
/// Thread-safety: value type, `Sendable`.
public struct OperationRates: Sendable, Hashable {
    /// Stores per second.
    public var store: Double = 0
    /// Retrieves per second.
    public var retrieve: Double = 0
    /// Modifies per second.
    public var modify: Double = 0
    /// Deletes per second.
    public var delete: Double = 0
    /// Scans per second.
    public var scan: Double = 0

    /// Creates zero rates.
    public init() {}

    /// The rate of one type. Unit: operations per second.
    public subscript(type: OperationType) -> Double {
        get {
            switch type {
            case .store: return store
            case .retrieve: return retrieve
            case .modify: return modify
            case .delete: return delete
            case .scan: return scan
            }
        }
        set {
            switch type {
            case .store: store = newValue
            case .retrieve: retrieve = newValue
            case .modify: modify = newValue
            case .delete: delete = newValue
            case .scan: scan = newValue
            }
        }
    }

    /// Sum over all types.
    public var total: Double { store + retrieve + modify + delete + scan }
}

/// Rates of one partition over one rolling window (for example the last 5
/// minutes).
///
/// Thread-safety: value type, `Sendable`.
public struct WindowRates: Sendable, Hashable {
    /// The tier (bucket width × bucket count).
    public var tier: WindowTier
    /// Length of time the rates are averaged over: from the start of the oldest
    /// bucket in the window (or the partition's first observation, if later) to
    /// `now`. Unit: nanoseconds. Rates are 0 when this is 0.
    public var coveredNanos: UInt64
    /// Operations in the window (exact where exact counts were fed, else
    /// weighted sample estimates). Unit: operations.
    public var operations: Double
    /// Per-type rates. Where exact counts exist, sampled per-type counts are
    /// rescaled to the exact read and write totals; a bucket with exact counts
    /// but no samples of a class contributes to ``readsPerSecond`` /
    /// ``writesPerSecond`` only. Unit: operations per second.
    public var operationsPerSecond: OperationRates
    /// Reads (retrieve + scan) per second.
    public var readsPerSecond: Double
    /// Writes (store + modify + delete) per second.
    public var writesPerSecond: Double
    /// Payload bytes per second. Unit: bytes per second.
    public var bytesPerSecond: Double
    /// `reads / (reads + writes)`, or nil without operations.
    public var readFraction: Double?
    /// Estimated distinct clients seen in the window's *sampled* vectors (a
    /// lower-bias estimate of the true count when sampling skips light clients),
    /// HyperLogLog with relative standard error ``distinctClientsRelativeError``.
    public var distinctClients: Double
    /// Relative standard error of ``distinctClients``.
    public var distinctClientsRelativeError: Double
    /// Whether every bucket with data in the window took its counts from the
    /// exact counter feed (so rates are exact, not sampled estimates).
    public var countsAreExact: Bool
    /// Number of sampled vectors folded into the window.
    public var sampledVectors: UInt64
}

/// One bucket of a tier's time series (for forecasters).
///
/// Thread-safety: value type, `Sendable`.
public struct WindowBucketSample: Sendable, Hashable {
    /// Start of the bucket. Unit: nanoseconds of the engine clock.
    public var start: UInt64
    /// Reads in the bucket. Unit: operations.
    public var reads: Double
    /// Writes in the bucket. Unit: operations.
    public var writes: Double
    /// Bytes in the bucket. Unit: bytes.
    public var bytes: Double
    /// Whether the counts came from the exact feed.
    public var exact: Bool
}

/// Ring of time buckets for one tier of one partition. Rollover and expiry
/// are driven by the timestamps passed in: a bucket is addressed by its epoch
/// `timestamp / bucketNanos` and reused (reset) when a newer epoch maps to the
/// same slot; data older than the window is dropped.
///
/// Thread-safety: value type; confined to the collector's lock.
struct TierState {
    let tier: WindowTier
    let hllPrecision: Int
    let registersPerBucket: Int

    var epochs: [UInt64]           // UInt64.max = empty
    var typeCounts: [UInt64]       // bucketCount × 5, weighted sampled operations
    var sampledBytes: [UInt64]     // weighted sampled bytes
    var sampledVectors: [UInt64]
    var exactReads: [UInt64]
    var exactWrites: [UInt64]
    var exactBytes: [UInt64]
    var hll: [UInt8]               // bucketCount × registersPerBucket

    static let typeCount = OperationType.allCases.count

    init(tier: WindowTier, hllPrecision: Int) {
        precondition(tier.bucketNanos > 0 && tier.bucketCount > 0, "a tier needs a positive bucket width and count")
        self.tier = tier
        self.hllPrecision = hllPrecision
        self.registersPerBucket = 1 << hllPrecision
        let n = tier.bucketCount
        epochs = [UInt64](repeating: .max, count: n)
        typeCounts = [UInt64](repeating: 0, count: n * TierState.typeCount)
        sampledBytes = [UInt64](repeating: 0, count: n)
        sampledVectors = [UInt64](repeating: 0, count: n)
        exactReads = [UInt64](repeating: 0, count: n)
        exactWrites = [UInt64](repeating: 0, count: n)
        exactBytes = [UInt64](repeating: 0, count: n)
        hll = [UInt8](repeating: 0, count: n * registersPerBucket)
    }

    /// The slot of `epoch`, resetting a stale slot; nil when `epoch` is older
    /// than what the slot already holds (expired data).
    mutating func slot(forEpoch e: UInt64) -> Int? {
        let s = Int(e % UInt64(tier.bucketCount))
        let held = epochs[s]
        if held == e { return s }
        if held == .max || held < e {
            reset(s)
            epochs[s] = e
            return s
        }
        return nil
    }

    private mutating func reset(_ s: Int) {
        for t in 0..<TierState.typeCount { typeCounts[s * TierState.typeCount + t] = 0 }
        sampledBytes[s] = 0
        sampledVectors[s] = 0
        exactReads[s] = 0
        exactWrites[s] = 0
        exactBytes[s] = 0
        let base = s * registersPerBucket
        for r in 0..<registersPerBucket { hll[base + r] = 0 }
    }

    /// Folds one vector; false when it is too old for the window.
    mutating func add(_ v: WorkloadVector, clientHash: UInt64) -> Bool {
        guard let s = slot(forEpoch: v.timestamp / tier.bucketNanos) else { return false }
        let w = UInt64(v.weight)
        typeCounts[s * TierState.typeCount + Int(v.type.rawValue)] &+= w
        sampledBytes[s] &+= v.bytes &* w
        sampledVectors[s] &+= 1
        let p = hllPrecision
        let base = s * registersPerBucket
        let m = registersPerBucket
        hll.withUnsafeMutableBufferPointer { buf in
            HyperLogLog.insert(hash: clientHash, precision: p,
                               into: UnsafeMutableBufferPointer(rebasing: buf[base..<(base + m)]))
        }
        return true
    }

    /// Adds exact counter deltas at `timestamp`; false when too old.
    mutating func addExact(timestamp: UInt64, reads: UInt64, writes: UInt64, bytes: UInt64) -> Bool {
        guard let s = slot(forEpoch: timestamp / tier.bucketNanos) else { return false }
        exactReads[s] &+= reads
        exactWrites[s] &+= writes
        exactBytes[s] &+= bytes
        return true
    }

    /// Adds `share` of `other`'s buckets (same tier) into this one (inheritance).
    mutating func absorb(_ other: TierState, share: Double) {
        func scaled(_ x: UInt64) -> UInt64 { UInt64((Double(x) * share).rounded()) }
        for o in 0..<other.tier.bucketCount where other.epochs[o] != .max {
            guard let s = slot(forEpoch: other.epochs[o]) else { continue }
            for t in 0..<TierState.typeCount {
                typeCounts[s * TierState.typeCount + t] &+= scaled(other.typeCounts[o * TierState.typeCount + t])
            }
            sampledBytes[s] &+= scaled(other.sampledBytes[o])
            sampledVectors[s] &+= scaled(other.sampledVectors[o])
            exactReads[s] &+= scaled(other.exactReads[o])
            exactWrites[s] &+= scaled(other.exactWrites[o])
            exactBytes[s] &+= scaled(other.exactBytes[o])
            for r in 0..<registersPerBucket {
                hll[s * registersPerBucket + r] = max(hll[s * registersPerBucket + r], other.hll[o * registersPerBucket + r])
            }
        }
    }

    /// Epoch range `[low, high]` of the window ending at `now`.
    func windowEpochs(now: UInt64) -> (low: UInt64, high: UInt64) {
        let high = now / tier.bucketNanos
        let span = UInt64(tier.bucketCount - 1)
        return (high >= span ? high - span : 0, high)
    }

    struct BucketValues {
        var types: [Double]
        var reads: Double
        var writes: Double
        var bytes: Double
        var exact: Bool
        var hasData: Bool
    }

    /// Counts of slot `s`; exact mode when the bucket's epoch is at or after `exactStartEpoch`.
    func values(slot s: Int, exactStartEpoch: UInt64?) -> BucketValues {
        var types = (0..<TierState.typeCount).map { Double(typeCounts[s * TierState.typeCount + $0]) }
        let sampledReads = types[Int(OperationType.retrieve.rawValue)] + types[Int(OperationType.scan.rawValue)]
        let sampledWrites = types[Int(OperationType.store.rawValue)] + types[Int(OperationType.modify.rawValue)]
            + types[Int(OperationType.delete.rawValue)]
        if let x = exactStartEpoch, epochs[s] >= x {
            let r = Double(exactReads[s])
            let w = Double(exactWrites[s])
            let readScale = sampledReads > 0 ? r / sampledReads : 0
            let writeScale = sampledWrites > 0 ? w / sampledWrites : 0
            for t in OperationType.allCases {
                types[Int(t.rawValue)] *= t.isRead ? readScale : writeScale
            }
            return BucketValues(types: types, reads: r, writes: w, bytes: Double(exactBytes[s]), exact: true,
                                hasData: r + w > 0 || sampledVectors[s] > 0 || exactBytes[s] > 0)
        }
        return BucketValues(types: types, reads: sampledReads, writes: sampledWrites, bytes: Double(sampledBytes[s]),
                            exact: false, hasData: sampledVectors[s] > 0)
    }

    /// Rates over the window ending at `now`.
    func rates(now: UInt64, firstSeen: UInt64, exactStart: UInt64?) -> WindowRates {
        let (low, high) = windowEpochs(now: now)
        let exactEpoch = exactStart.map { $0 / tier.bucketNanos }
        var types = [Double](repeating: 0, count: TierState.typeCount)
        var reads = 0.0, writes = 0.0, bytes = 0.0
        var vectors: UInt64 = 0
        var dataBuckets = 0, exactBuckets = 0
        var union = [UInt8](repeating: 0, count: registersPerBucket)
        for s in 0..<tier.bucketCount {
            let e = epochs[s]
            guard e != .max, e >= low, e <= high else { continue }
            let v = values(slot: s, exactStartEpoch: exactEpoch)
            for t in 0..<TierState.typeCount { types[t] += v.types[t] }
            reads += v.reads
            writes += v.writes
            bytes += v.bytes
            vectors &+= sampledVectors[s]
            if v.hasData {
                dataBuckets += 1
                if v.exact { exactBuckets += 1 }
            }
            for r in 0..<registersPerBucket { union[r] = max(union[r], hll[s * registersPerBucket + r]) }
        }
        let start = max(low * tier.bucketNanos, firstSeen)
        let covered = now > start ? now - start : 0
        let seconds = Double(covered) / 1e9
        func rate(_ x: Double) -> Double { seconds > 0 ? x / seconds : 0 }
        var opRates = OperationRates()
        for t in OperationType.allCases { opRates[t] = rate(types[Int(t.rawValue)]) }
        let ops = reads + writes
        return WindowRates(
            tier: tier, coveredNanos: covered, operations: ops, operationsPerSecond: opRates,
            readsPerSecond: rate(reads), writesPerSecond: rate(writes), bytesPerSecond: rate(bytes),
            readFraction: ops > 0 ? reads / ops : nil,
            distinctClients: vectors > 0 ? HyperLogLog.estimate(union) : 0,
            distinctClientsRelativeError: HyperLogLog.relativeError(precision: hllPrecision),
            countsAreExact: dataBuckets > 0 && exactBuckets == dataBuckets,
            sampledVectors: vectors)
    }

    /// The window's buckets, oldest first, one per epoch (empty epochs as zeros).
    func series(now: UInt64, exactStart: UInt64?) -> [WindowBucketSample] {
        let (low, high) = windowEpochs(now: now)
        let exactEpoch = exactStart.map { $0 / tier.bucketNanos }
        var out: [WindowBucketSample] = []
        out.reserveCapacity(Int(high - low + 1))
        var e = low
        while e <= high {
            let s = Int(e % UInt64(tier.bucketCount))
            if epochs[s] == e {
                let v = values(slot: s, exactStartEpoch: exactEpoch)
                out.append(WindowBucketSample(start: e * tier.bucketNanos, reads: v.reads, writes: v.writes, bytes: v.bytes, exact: v.exact))
            } else {
                out.append(WindowBucketSample(start: e * tier.bucketNanos, reads: 0, writes: 0, bytes: 0,
                                              exact: exactEpoch.map { e >= $0 } ?? false))
            }
            e += 1
        }
        return out
    }
}
