import Dispatch
import Synchronization

/// A change of partition shape. Every plan names a run of adjacent partitions (the sources)
/// and the boundaries the same key range should have afterwards; the executor treats all kinds
/// the same way (targets are concatenations of byte ranges of the sources).
public enum ReshardPlan: Sendable, Equatable, CustomStringConvertible {
    /// Split the partition holding `key` into `[lo, key)` and `[key, hi)`.
    case split(at: [UInt8])
    /// Split the partition holding the first key at every key given (all inside it).
    case splitMany(at: [[UInt8]])
    /// Merge the two partitions that meet at `boundary` (the right one's lower bound).
    case merge(boundary: [UInt8])
    /// Move the boundary between two neighbours from `from` to `to` (within their union).
    case moveBoundary(from: [UInt8], to: [UInt8])
    /// Replace the `count` adjacent partitions starting with the one whose lower bound is
    /// `first` (empty = the first partition) by partitions meeting at `boundaries` (strictly
    /// increasing, strictly inside their union). Splits, merges and moves in one step; the
    /// index-build planner's output.
    case reshape(first: [UInt8], count: Int, boundaries: [[UInt8]])

    public var description: String {
        switch self {
        case .split(let k): "split at \(formatKey(k))"
        case .splitMany(let ks): "split at \(ks.map(formatKey).joined(separator: ", "))"
        case .merge(let b): "merge at \(formatKey(b))"
        case .moveBoundary(let f, let t): "move boundary \(formatKey(f)) → \(formatKey(t))"
        case .reshape(let f, let c, let bs):
            "reshape \(c) partitions from \(f.isEmpty ? "the start" : formatKey(f)) at [\(bs.map(formatKey).joined(separator: ", "))]"
        }
    }
}

/// Where a reshard is.
public enum ReshardState: String, Sendable, Equatable, Codable {
    case queued, preparing, copying, cuttingOver, committed, aborted
}

/// Progress and outcome of one reshard, as `Engine.reshardingStatus(table:)` reports it.
public struct ReshardStatus: Sendable, Equatable {
    public var id: UInt64
    public var table: String
    public var plan: ReshardPlan
    public var state: ReshardState
    /// Bytes of segment data copied so far, and in all.
    public var bytesCopied: Int
    public var bytesTotal: Int
    /// Bytes of segment data the targets took over by viewing their sources' files instead of
    /// copying them (`ReshardDataMode.shareFiles`; 0 when copying). `bytesCopied + bytesShared`
    /// is what `ReshardCostModel` is given as the sources' viewed bytes.
    public var bytesShared: Int = 0
    /// Engine-clock nanoseconds.
    public var startedAt: UInt64
    public var finishedAt: UInt64?
    /// Bytes per second of the copy phase (0 until some bytes moved).
    public var throughput: Double
    /// Engine-clock nanoseconds of the copy phase (building the targets' runs, their fdatasyncs
    /// included; about 0 when sharing files), and of the whole run from leaving the queue to the
    /// end of the cutover (0 until it ends). The reshard cost model is refined with both.
    public var copyNanos: UInt64 = 0
    public var runNanos: UInt64 = 0
    /// How long writers on the sources were held back at cutover, nanoseconds: from the moment
    /// the sources' write gates were all held exclusive (or, in the rare fallback, queued for)
    /// until they were open again.
    public var cutoverPauseNanos: UInt64
    /// How long the cutover tried for the gates before that, while writers already inside them
    /// finished and new writers kept entering (not part of the pause).
    public var cutoverGateWaitNanos: UInt64 = 0
    public var error: AugurError?
    /// How the bytes moved: "io_uring", "copy_file_range" or "pread/pwrite".
    public var copyBackend: String = ""
    /// Partitions before and after.
    public var sources: [UInt64]
    public var targets: [UInt64]
}

/// A reshard requested with `Table.requestResharding(_:)`. Thread-safe.
public final class ReshardJob: Sendable {
    public let id: UInt64
    let status: Mutex<ReshardStatus>
    private let done = DispatchSemaphore(value: 0)

    init(status: ReshardStatus) {
        id = status.id
        self.status = Mutex(status)
    }

    /// The job's current status.
    public var current: ReshardStatus { status.withLock { $0 } }

    func update(_ body: (inout ReshardStatus) -> Void) { status.withLock { body(&$0) } }

    func finish() { done.signal() }

    /// Blocks until the job has committed or aborted; throws its error if it aborted.
    @discardableResult
    public func wait() throws(AugurError) -> ReshardStatus {
        done.wait()
        done.signal()            // later waiters pass too
        let s = current
        if let e = s.error { throw e }
        return s
    }
}
