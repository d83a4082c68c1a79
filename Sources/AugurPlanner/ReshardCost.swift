/// The data-movement cost model shared by the planner's predictions and the simulator's
/// executor: which bytes a reshard copies.
///
/// - split / pre-create: every child except the one holding the most data is copied
///   (the largest child stays in place);
/// - merge: the smaller side is copied into the larger;
/// - boundary move: the data between the old and the new boundary is copied;
/// - activate: nothing.
///
/// Thread-safety: stateless.
public enum ReshardCost {
    /// Bytes copied by splitting into children of the given sizes.
    public static func split(childBytes: [UInt64]) -> UInt64 {
        let total = childBytes.reduce(0, +)
        return total - (childBytes.max() ?? 0)
    }

    /// Bytes copied by merging partitions of sizes `a` and `b`.
    public static func merge(_ a: UInt64, _ b: UInt64) -> UInt64 { min(a, b) }

    /// Bytes copied by a boundary move that transfers `movedBytes` of data.
    public static func move(movedBytes: UInt64) -> UInt64 { movedBytes }
}
