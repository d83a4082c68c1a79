import AugurPlanner

/// The key range `Table.scan(range:)` and `SecondaryIndex.scan(range:)` take: AugurPlanner's
/// `KeyRange`, named here so an application that imports only `Augur` can write
/// `KeyRange(from:to:)`, `.all` and `.prefix(_:)`. One type, not a copy.
public typealias KeyRange = AugurPlanner.KeyRange
