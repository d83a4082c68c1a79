import AugurPlanner

/// Which bytes the simulated executor copies for a reshard.
///
/// The planner estimates a reshard's cost with ``ReshardCost`` (a split leaves its largest
/// child in place, a merge copies the smaller side into the larger). The engine's executor
/// (`Sources/Augur/Reshard.swift`) instead builds every target from slices of the sources'
/// runs, so it writes every byte of every target: a split of a partition of S bytes copies S,
/// a merge of a and b copies a + b, a boundary move between a and b rewrites both (a + b), and
/// a pre-create copies its source — that is its `.copy` mode. In its default mode
/// (`ReshardDataMode.shareFiles`) targets view the sources' files and nothing is copied.
/// Activation copies nothing in any model.
///
/// Thread-safety: value type, `Sendable`.
public enum ReshardCopyModel: String, Sendable, Hashable, Codable {
    /// ``ReshardCost``, the planner's own estimate.
    case largestChildStays
    /// The engine's executor copying: every target is written in full.
    case everyTargetByte
    /// The engine's executor sharing files: no byte is copied.
    case sharedFiles

    /// Bytes a split or pre-create of a partition into children of `childBytes` copies.
    public func split(childBytes: [UInt64]) -> UInt64 {
        switch self {
        case .largestChildStays: return ReshardCost.split(childBytes: childBytes)
        case .everyTargetByte: return childBytes.reduce(0, +)
        case .sharedFiles: return 0
        }
    }

    /// Bytes a merge of partitions of `a` and `b` bytes copies.
    public func merge(_ a: UInt64, _ b: UInt64) -> UInt64 {
        switch self {
        case .largestChildStays: return ReshardCost.merge(a, b)
        case .everyTargetByte: return a + b
        case .sharedFiles: return 0
        }
    }

    /// Bytes a boundary move between partitions of `a` and `b` bytes copies when
    /// `movedBytes` change sides.
    public func move(movedBytes: UInt64, between a: UInt64, and b: UInt64) -> UInt64 {
        switch self {
        case .largestChildStays: return ReshardCost.move(movedBytes: movedBytes)
        case .everyTargetByte: return a + b
        case .sharedFiles: return 0
        }
    }
}
