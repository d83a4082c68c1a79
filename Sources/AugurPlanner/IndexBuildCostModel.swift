/// A key at which a partition could be split for an index build, with the data to its left.
///
/// The engine derives these from the segments' sparse indexes (every indexed record is a
/// possible cut; the counts come from the index offsets). A partition's candidates are strictly
/// increasing keys strictly inside its range, with non-decreasing cumulative counts that never
/// exceed the partition's totals.
///
/// Thread-safety: immutable value type, `Sendable`.
public struct CutCandidate: Sendable, Hashable {
    /// The split key: the right piece starts at it. Strictly inside the partition's range.
    public var key: [UInt8]
    /// Data in `[range.lower, key)`. Unit: bytes.
    public var bytesBefore: UInt64
    /// Records in `[range.lower, key)`. Unit: records.
    public var recordsBefore: UInt64

    /// Creates a candidate.
    public init(key: [UInt8], bytesBefore: UInt64, recordsBefore: UInt64) {
        self.key = key
        self.bytesBefore = bytesBefore
        self.recordsBefore = recordsBefore
    }
}

/// What the index-build planner knows about one partition.
///
/// Thread-safety: immutable value type, `Sendable`.
public struct BuildPartitionProfile: Sendable, Hashable {
    /// The partition.
    public var id: PartitionID
    /// Its key range.
    public var range: KeyRange
    /// Data it holds (segment runs plus memtables). Unit: bytes.
    public var bytes: UInt64
    /// Records it holds. Unit: records.
    public var records: UInt64
    /// Skew of the partition, `≥ 1`: largest over mean bucket load of its histogram
    /// (`HistogramSnapshot.skew()` in AugurStats); `1` = uniform. Dimensionless. Pieces cut from
    /// the partition inherit it (see ``IndexBuildCostModel``).
    public var skew: Double
    /// Keys at which it could be split, strictly increasing and strictly inside `range`.
    public var cutCandidates: [CutCandidate]

    /// Creates a profile.
    public init(id: PartitionID, range: KeyRange, bytes: UInt64, records: UInt64, skew: Double = 1,
                cutCandidates: [CutCandidate] = []) {
        self.id = id
        self.range = range
        self.bytes = bytes
        self.records = records
        self.skew = skew
        self.cutCandidates = cutCandidates
    }
}

/// Estimates how long building a secondary index over some data takes. All times are
/// nanoseconds of one build worker. What reshaping for the build copies, and how long that
/// takes, is ``ReshardCostModel``'s (the one copy-cost model).
///
/// Build time of a partition (or piece) with `b` bytes, `r` records and skew `s`:
///
///     nanosPerPartition + (b × nanosPerByte + r × nanosPerRecord) × (1 + skewPenalty × (s − 1))
///
/// i.e. build ≈ read (per byte) + extract the index key, sort, write the entry (per record) + a
/// fixed cost per partition (open, fdatasync the index file, commit it to the manifest). The
/// per-record sort cost is really `O(log r)`; over the partition sizes that matter (10⁵–10⁸
/// records) it is folded into a constant. Skew stretches the variable part: hot ranges are
/// where concurrent writes land and the build must catch up with them.
///
/// Defaults (this machine, 2 cores, shared): an in-memory micro-benchmark of the build's core
/// (extract a 16-byte key from each 100-byte record, sort 2 M entries, write them) measured
/// 158–188 ns/record under load; 250 ns/record adds the record cursor and CRC checks. Reading
/// is ≈ 1 ns/byte (≈ 1 GiB/s). The skew penalty (0.05) is an
/// unmeasured prior. ``refined(observedBytes:observedRecords:skew:observedNanos:)`` corrects the
/// per-byte rate from builds as they run.
///
/// Thread-safety: immutable value type, `Sendable`.
public struct IndexBuildCostModel: Sendable, Hashable {
    /// Build cost per byte of data (reading it). Unit: ns/byte. Default `1.0`.
    public var nanosPerByte: Double
    /// Build cost per record (extract the key, sort, write the entry). Unit: ns/record.
    /// Default `250`.
    public var nanosPerRecord: Double
    /// Fixed build cost per partition. Unit: ns. Default `2_000_000` (2 ms).
    public var nanosPerPartition: Double
    /// Relative slow-down per unit of skew above 1. Dimensionless, `≥ 0`. Default `0.05`.
    public var skewPenalty: Double
    /// Weight of a new observation in ``refined(observedBytes:observedRecords:skew:observedNanos:)``
    /// (exponential weighting). Dimensionless, in `(0, 1]`. Default `0.3`.
    public var refinementWeight: Double

    /// Creates a model; every parameter has the documented default.
    public init(nanosPerByte: Double = 1.0,
                nanosPerRecord: Double = 250,
                nanosPerPartition: Double = 2_000_000,
                skewPenalty: Double = 0.05,
                refinementWeight: Double = 0.3) {
        self.nanosPerByte = nanosPerByte
        self.nanosPerRecord = nanosPerRecord
        self.nanosPerPartition = nanosPerPartition
        self.skewPenalty = skewPenalty
        self.refinementWeight = refinementWeight
    }

    /// Throws ``IndexBuildPlanningError/invalidOption(name:value:limit:)`` for the first
    /// parameter out of range (every rate finite and `≥ 0`, `refinementWeight` in `(0, 1]`).
    public func validate() throws(IndexBuildPlanningError) {
        let rates: [(String, Double)] = [
            ("nanosPerByte", nanosPerByte), ("nanosPerRecord", nanosPerRecord),
            ("nanosPerPartition", nanosPerPartition), ("skewPenalty", skewPenalty),
        ]
        for (name, value) in rates where !(value.isFinite && value >= 0) {
            throw .invalidOption(name: name, value: value, limit: "must be finite and ≥ 0")
        }
        if !(refinementWeight > 0 && refinementWeight <= 1) {
            throw .invalidOption(name: "refinementWeight", value: refinementWeight, limit: "must be in (0, 1]")
        }
    }

    /// The factor skew `s` applies to the variable build cost: `1 + skewPenalty × (s − 1)`.
    @inlinable
    public func skewFactor(_ skew: Double) -> Double { 1 + skewPenalty * (skew - 1) }

    /// The variable part of the build cost (no per-partition constant). Unit: ns.
    @inlinable
    public func variableBuildNanos(bytes: UInt64, records: UInt64, skew: Double) -> Double {
        (Double(bytes) * nanosPerByte + Double(records) * nanosPerRecord) * skewFactor(skew)
    }

    /// Estimated build time of one partition or piece. Unit: ns.
    @inlinable
    public func estimate(bytes: UInt64, records: UInt64, skew: Double) -> Double {
        nanosPerPartition + variableBuildNanos(bytes: bytes, records: records, skew: skew)
    }

    /// A model whose `nanosPerByte` blends in the rate measured by a running or finished build.
    ///
    /// The measured per-byte rate is what `nanosPerByte` would have to be for the model to
    /// predict `observedNanos` for this work, the per-record rate and skew factor held fixed:
    /// `max(0, observedNanos ÷ skewFactor − records × nanosPerRecord) ÷ bytes`. The result's
    /// rate is `(1 − refinementWeight) × nanosPerByte + refinementWeight × measured`; every other
    /// parameter is unchanged. Feed it the progress of builds as they run (cumulative or per
    /// interval; the fixed per-partition cost must not be in `observedNanos`).
    ///
    /// - Parameters:
    ///   - observedBytes: data built. Unit: bytes. Must be > 0.
    ///   - observedRecords: records built. Unit: records.
    ///   - skew: skew of the data built (`≥ 1`).
    ///   - observedNanos: worker time it took. Unit: ns. Finite, `≥ 0`.
    public func refined(observedBytes: UInt64, observedRecords: UInt64, skew: Double = 1,
                        observedNanos: Double) throws(IndexBuildPlanningError) -> IndexBuildCostModel {
        if observedBytes == 0 {
            throw .invalidOption(name: "observedBytes", value: 0, limit: "must be > 0")
        }
        if !(observedNanos.isFinite && observedNanos >= 0) {
            throw .invalidOption(name: "observedNanos", value: observedNanos, limit: "must be finite and ≥ 0")
        }
        if !(skew.isFinite && skew >= 1) {
            throw .invalidOption(name: "skew", value: skew, limit: "must be finite and ≥ 1")
        }
        let perByteNanos = observedNanos / skewFactor(skew) - Double(observedRecords) * nanosPerRecord
        let measured = max(0, perByteNanos) / Double(observedBytes)
        var next = self
        next.nanosPerByte = (1 - refinementWeight) * nanosPerByte + refinementWeight * measured
        return next
    }
}
