/// Every way bad input to index-build planning (``IndexBuildPlanner``, ``IndexBuildCostModel``)
/// is rejected.
///
/// Each case names the offending value and the limit it broke, so `description` can be shown to
/// a user as is. The planner never traps on bad input: it throws one of these instead.
///
/// Thread-safety: a plain value; `Sendable`.
public enum IndexBuildPlanningError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The worker count is below `minimum` (1).
    case invalidWorkerCount(workers: Int, minimum: Int)
    /// No partitions were given.
    case noPartitions
    /// A partition's range holds no key (`lower ≥ upper`). `index` is its 0-based position.
    case emptyRange(index: Int, partition: PartitionID, range: KeyRange)
    /// Partition `index` does not start where partition `index − 1` ends: the profiles must be in
    /// key order and adjacent (merges join neighbours).
    case notAdjacent(index: Int, partition: PartitionID, previousUpper: [UInt8]?, lower: [UInt8])
    /// The same partition id appears twice.
    case duplicatePartition(PartitionID)
    /// A skew is NaN, infinite or below `minimum` (1 = uniform).
    case invalidSkew(partition: PartitionID, skew: Double, minimum: Double)
    /// Cut candidate `index` (0-based) of `partition` is not strictly inside the partition's range.
    case candidateOutsideRange(partition: PartitionID, index: Int, key: [UInt8], range: KeyRange)
    /// Cut candidate `index` of `partition` is not strictly greater than the one before it.
    case candidatesNotIncreasing(partition: PartitionID, index: Int, key: [UInt8], previous: [UInt8])
    /// Cut candidate `index` of `partition` has a cumulative count (`what` is `"bytes"` or
    /// `"records"`) below the previous candidate's or above the partition's total. `value` is
    /// the candidate's count; `limit` describes the allowed interval.
    case candidateCountOutOfRange(partition: PartitionID, index: Int, what: String, value: UInt64, limit: String)
    /// A numeric option or model parameter is out of range. `limit` says what is allowed, in words.
    case invalidOption(name: String, value: Double, limit: String)

    public var description: String {
        switch self {
        case let .invalidWorkerCount(workers, minimum):
            return "worker count \(workers) is invalid: at least \(minimum) worker is needed"
        case .noPartitions:
            return "no partitions: at least one partition profile is needed"
        case let .emptyRange(index, partition, range):
            return "partition \(partition) (index \(index)) has an empty range \(range): lower must be below upper"
        case let .notAdjacent(index, partition, previousUpper, lower):
            return "partition \(partition) (index \(index)) starts at \(KeyFormat.lower(lower)) but the previous "
                + "partition ends at \(KeyFormat.upper(previousUpper)): partitions must be adjacent and in key order"
        case let .duplicatePartition(p):
            return "partition \(p) appears more than once"
        case let .invalidSkew(partition, skew, minimum):
            return "partition \(partition) has skew \(skew): it must be a finite number ≥ \(minimum)"
        case let .candidateOutsideRange(partition, index, key, range):
            return "cut candidate \(index) of partition \(partition) at \(KeyFormat.hex(key)) is not strictly inside \(range)"
        case let .candidatesNotIncreasing(partition, index, key, previous):
            return "cut candidate \(index) of partition \(partition) at \(KeyFormat.hex(key)) is not greater than "
                + "the previous candidate \(KeyFormat.hex(previous)): candidates must be strictly increasing"
        case let .candidateCountOutOfRange(partition, index, what, value, limit):
            return "cut candidate \(index) of partition \(partition) has \(what) before it = \(value): it must be \(limit)"
        case let .invalidOption(name, value, limit):
            return "option \(name) = \(value) is invalid: \(limit)"
        }
    }
}
