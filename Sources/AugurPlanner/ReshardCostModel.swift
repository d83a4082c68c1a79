// The one copy-cost model of a reshard: which bytes the executor copies, which it shares, and
// how long that takes. The controller's planner, the simulator and the index-build planner all
// predict with it; the engine refines its rate and overhead from every reshard it measures.
//
// Thread-safety: every type here is an immutable value, `Sendable`.

/// How a reshard gives its targets their data (`EngineOptions.reshardData`).
public enum ReshardDataMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// Targets view their sources' segment files within their own key ranges: no data is
    /// written; a shared file is unlinked once no partition views it.
    case shareFiles = "share"
    /// Targets get new segment files copied from byte ranges of the sources' (io_uring,
    /// copy_file_range or pread/pwrite): the sources' files go at once.
    case copy
}

/// One source partition of a reshard, as the cost model needs it.
public struct ReshardSource: Sendable, Hashable {
    /// The data the partition's runs hold: the sum of their data regions, and for a run that is
    /// a view of a shared file only the bytes it views (not the file). The executor flushes the
    /// sources first, so a prediction made before that should add the memtables' bytes (what
    /// the engine reports as a partition's size does). Unit: bytes.
    public var viewedBytes: UInt64

    /// Creates a source holding `viewedBytes`.
    public init(viewedBytes: UInt64) { self.viewedBytes = viewedBytes }
}

/// What the model predicts for one reshard.
public struct ReshardCostPrediction: Sendable, Hashable {
    /// Bytes written into new segment files. Unit: bytes.
    public var copiedBytes: UInt64
    /// Bytes handed to the targets as views of the sources' files. Unit: bytes.
    public var sharedBytes: UInt64
    /// Time the reshard takes: the fixed overhead plus `copiedBytes` at the copy rate. Unit: s.
    public var seconds: Double

    /// Creates a prediction.
    public init(copiedBytes: UInt64, sharedBytes: UInt64, seconds: Double) {
        self.copiedBytes = copiedBytes
        self.sharedBytes = sharedBytes
        self.seconds = seconds
    }
}

/// One reshard as the engine measured it, to refine the model with.
public struct MeasuredReshard: Sendable, Hashable {
    /// Bytes the executor copied (`ReshardStatus.bytesCopied`). Unit: bytes.
    public var copiedBytes: UInt64
    /// Time from the first byte copied to the last (0 when nothing was copied). Unit: s.
    public var copySeconds: Double
    /// Time of the whole reshard: flush of the sources, prepare, copy, commit, cutover. Unit: s.
    public var totalSeconds: Double

    /// Creates a measurement.
    public init(copiedBytes: UInt64, copySeconds: Double, totalSeconds: Double) {
        self.copiedBytes = copiedBytes
        self.copySeconds = copySeconds
        self.totalSeconds = totalSeconds
    }
}

/// Every way a rate, overhead or measurement given to ``ReshardCostModel`` is rejected.
public enum ReshardCostError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A parameter or measurement is NaN, infinite or outside its range; `limit` says what is
    /// allowed, in words.
    case invalidValue(name: String, value: Double, limit: String)

    public var description: String {
        switch self {
        case let .invalidValue(name, value, limit): return "\(name) = \(value) is invalid: \(limit)"
        }
    }
}

/// What a reshard costs, as the engine's executor (`Sources/Augur/Reshard.swift`) does it.
///
/// **Bytes.** Whatever the plan (split, N-way split, merge, boundary move, reshape), the
/// executor builds every target afresh from the sources' runs cut at the targets' bounds, and
/// the targets' ranges tile the sources' union. So every byte the sources view goes to exactly
/// one target:
///
/// - `.copy`: copied = Σ sources' ``ReshardSource/viewedBytes``; nothing is shared (there is no
///   "largest child stays in place": every target is a new file);
/// - `.shareFiles`: copied = 0; shared = the same sum (the targets' runs are narrowed views).
///
/// Given the bytes the sources view once the executor has flushed them, this is exact: the
/// executor's `bytesCopied` and `bytesShared` equal it (`ReshardCostExecutorTests`). Bytes the
/// planner adds for an action (`PredictedEffect.bytesToMove`) come from it too.
///
/// **Time.** `overheadSeconds + copied ÷ copyBytesPerSecond`. The overhead is the part that
/// does not scale with copied bytes: flushing the sources, the prepare and commit records, the
/// fsyncs, the cutover.
///
/// **Refinement** (``refined(by:)``): exponentially weighted moving averages with weight
/// `refinementWeight` (α). Every measured reshard updates the overhead with its time outside
/// the copy (`totalSeconds − copySeconds`); one that copied at least
/// ``minimumBytesForRate`` updates the rate with its measured rate (`copiedBytes ÷
/// copySeconds`) — smaller copies time mostly their setup. The engine feeds every committed
/// reshard (`Engine.reshardCostModel`).
public struct ReshardCostModel: Sendable, Hashable {
    /// How the executor gives targets their data. Default `.shareFiles` (the engine's).
    public var dataMode: ReshardDataMode
    /// Copy rate. Unit: bytes/s, finite and > 0. Default ``defaultCopyBytesPerSecond``.
    public private(set) var copyBytesPerSecond: Double
    /// Time every reshard takes besides copying. Unit: s, finite and ≥ 0. Default
    /// ``defaultOverheadSeconds``.
    public private(set) var overheadSeconds: Double
    /// Weight of a new measurement in ``refined(by:)``. Dimensionless, in `(0, 1]`. Default
    /// ``defaultRefinementWeight``.
    public let refinementWeight: Double
    /// Reshards this model has been refined with.
    public private(set) var measuredReshards: Int = 0

    /// 230 MiB/s: the engine's reshard copy rate measured under load (`augur-bench --workload
    /// reshard --reshard-data copy`: 234 and 223 MiB/s, docs/PERFORMANCE.md "Reshards that share
    /// files"); RangeCopier alone reaches 585–928 MiB/s. Unit: bytes/s.
    public static let defaultCopyBytesPerSecond = 230.0 * 1_048_576
    /// 0.5 s: a reshard that copies nothing took 0.29 s with an idle memtable and 2.47 s with a
    /// full one to flush (same section). Unit: s.
    public static let defaultOverheadSeconds = 0.5
    /// 0.3: a measurement's weight; the model follows a changed machine within a few reshards.
    public static let defaultRefinementWeight = 0.3
    /// Copies smaller than this (1 MiB) do not update the rate. Unit: bytes.
    public static let minimumBytesForRate: UInt64 = 1 << 20

    /// The defaults, for `dataMode`.
    public init(dataMode: ReshardDataMode = .shareFiles) {
        self.dataMode = dataMode
        copyBytesPerSecond = Self.defaultCopyBytesPerSecond
        overheadSeconds = Self.defaultOverheadSeconds
        refinementWeight = Self.defaultRefinementWeight
    }

    /// A model with the given rate and overhead. Throws ``ReshardCostError/invalidValue(name:value:limit:)``
    /// for a rate that is not finite and > 0, an overhead not finite and ≥ 0, or a weight outside `(0, 1]`.
    public init(dataMode: ReshardDataMode, copyBytesPerSecond: Double, overheadSeconds: Double,
                refinementWeight: Double = Self.defaultRefinementWeight) throws(ReshardCostError) {
        try Self.check("copyBytesPerSecond", copyBytesPerSecond, positive: true)
        try Self.check("overheadSeconds", overheadSeconds, positive: false)
        if !(refinementWeight > 0 && refinementWeight <= 1) {
            throw .invalidValue(name: "refinementWeight", value: refinementWeight, limit: "must be in (0, 1]")
        }
        self.dataMode = dataMode
        self.copyBytesPerSecond = copyBytesPerSecond
        self.overheadSeconds = overheadSeconds
        self.refinementWeight = refinementWeight
    }

    /// What a reshard of `sources` costs (see the type's description).
    public func predict(sources: [ReshardSource]) -> ReshardCostPrediction {
        var total: UInt64 = 0
        for s in sources { total &+= s.viewedBytes }
        return predict(viewedBytes: total, reshards: 1)
    }

    /// What `reshards` reshards cost whose sources view `viewedBytes` in all (each source in
    /// one reshard): the bytes are those of one reshard of all the sources, the time has
    /// `reshards` overheads. Allocates nothing (the index-build planner calls it per move).
    public func predict(viewedBytes: UInt64, reshards: Int) -> ReshardCostPrediction {
        let copied = dataMode == .copy ? viewedBytes : 0
        return ReshardCostPrediction(copiedBytes: copied, sharedBytes: viewedBytes - copied,
                                     seconds: Double(reshards) * overheadSeconds + Double(copied) / copyBytesPerSecond)
    }

    /// ``predict(sources:)`` for sources given by their viewed bytes.
    public func predict(sourceBytes: [UInt64]) -> ReshardCostPrediction {
        predict(viewedBytes: sourceBytes.reduce(0, &+), reshards: 1)
    }

    /// The model after one more measured reshard (see the type's description). Throws
    /// ``ReshardCostError/invalidValue(name:value:limit:)`` for a time that is not finite and
    /// ≥ 0, or a copy time longer than the whole.
    public func refined(by m: MeasuredReshard) throws(ReshardCostError) -> ReshardCostModel {
        try Self.check("copySeconds", m.copySeconds, positive: false)
        try Self.check("totalSeconds", m.totalSeconds, positive: false)
        if m.copySeconds > m.totalSeconds {
            throw .invalidValue(name: "copySeconds", value: m.copySeconds, limit: "must not exceed totalSeconds (\(m.totalSeconds))")
        }
        var next = self
        let w = refinementWeight
        next.overheadSeconds = (1 - w) * overheadSeconds + w * (m.totalSeconds - m.copySeconds)
        if m.copiedBytes >= Self.minimumBytesForRate && m.copySeconds > 0 {
            next.copyBytesPerSecond = (1 - w) * copyBytesPerSecond + w * (Double(m.copiedBytes) / m.copySeconds)
        }
        next.measuredReshards = measuredReshards + 1
        return next
    }

    private static func check(_ name: String, _ value: Double, positive: Bool) throws(ReshardCostError) {
        if positive ? !(value.isFinite && value > 0) : !(value.isFinite && value >= 0) {
            throw .invalidValue(name: name, value: value, limit: positive ? "must be finite and > 0" : "must be finite and ≥ 0")
        }
    }
}
