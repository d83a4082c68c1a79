import AugurPlanner
import Testing

/// `KeyRange` is one type for the planner and the engine's scans: the engine-side spellings
/// (`from:to:`, `lowerBound`, `upperBound`, `prefix`) are views of `lower` and `upper`.
@Suite("KeyRange")
struct KeyRangeTests {
    @Test func anOpenLowerBoundIsTheEmptyKey() {
        #expect(KeyRange(from: nil, to: [5]) == KeyRange(lower: [], upper: [5]))
        #expect(KeyRange(from: [], to: [5]) == KeyRange(lower: [], upper: [5]))
        #expect(KeyRange() == .all)
        var r = KeyRange(from: [1], to: [2])
        #expect(r.lowerBound == [1] && r.upperBound == [2])
        r.lowerBound = nil
        r.upperBound = nil
        #expect(r == .all && r.lowerBound == nil && r.lower == [])
    }

    @Test func prefixCoversExactlyTheKeysThatStartWithIt() {
        #expect(KeyRange.prefix([0x61]) == KeyRange(from: [0x61], to: [0x62]))
        #expect(KeyRange.prefix([0x61, 0xFF]) == KeyRange(from: [0x61, 0xFF], to: [0x62]))
        #expect(KeyRange.prefix([0xFF, 0xFF]) == KeyRange(from: [0xFF, 0xFF], to: nil))
        #expect(KeyRange.prefix([]) == .all)
        let r = KeyRange.prefix([0x61, 0xFF])
        #expect(r.contains([0x61, 0xFF]) && r.contains([0x61, 0xFF, 0xFF, 0]))
        #expect(!r.contains([0x61, 0xFE, 0xFF]) && !r.contains([0x62]))
    }
}
