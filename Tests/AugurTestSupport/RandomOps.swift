import Augur
import AugurSys
import AugurStats

/// Key and value generators for randomized tests: a small key space with awkward bytes
/// (0x00, 0xFF, shared prefixes) so overwrites, deletes of present keys and boundary cases
/// are common.
public struct RandomData {
    public var rng: SplitMix64
    public init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    public mutating func int(_ range: Range<Int>) -> Int { Int.random(in: range, using: &rng) }
    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &rng) < p }

    public mutating func key() -> [UInt8] {
        let alphabet: [UInt8] = [0x00, 0x01, 0x41, 0x42, 0x61, 0x7F, 0x80, 0xFF]
        var k: [UInt8] = [alphabet[int(0..<alphabet.count)]]
        for _ in 0..<int(0..<4) { k.append(alphabet[int(0..<alphabet.count)]) }
        return k
    }

    public mutating func value() -> [UInt8] {
        let n = chance(0.05) ? int(200..<3000) : int(0..<64)
        let b = UInt8(truncatingIfNeeded: rng.next())
        return (0..<n).map { UInt8(truncatingIfNeeded: Int(b) &+ $0) }
    }

    public mutating func range() -> KeyRange {
        var lo: [UInt8]? = chance(0.3) ? nil : key()
        var hi: [UInt8]? = chance(0.3) ? nil : key()
        if let l = lo, let h = hi, !l.lexicographicallyPrecedes(h) { swap(&lo, &hi) }
        return KeyRange(from: lo, to: hi)
    }
}

/// Checks that a table's partitions are sorted and cover the key space with no gap or overlap.
public func coverageProblem(_ stats: [PartitionStats]) -> String? {
    guard let first = stats.first else { return "no partitions" }
    if !first.lowerBound.isEmpty { return "first partition does not start at the beginning" }
    for i in 1..<max(1, stats.count) where stats.count > 1 {
        if stats[i - 1].upperBound != stats[i].lowerBound { return "gap or overlap before partition \(stats[i].id)" }
    }
    if stats.last!.upperBound != nil { return "last partition is bounded" }
    return nil
}

/// Every record of every table in `engine`, for comparison with a `ModelStore`.
public func dumpStore(_ engine: Engine) throws -> ModelStore {
    var model = ModelStore()
    for name in try engine.tableNames() {
        model.tables[name] = [:]
        for kv in try engine.table(named: name).scan() { model.tables[name]![kv.key] = kv.value }
    }
    return model
}
