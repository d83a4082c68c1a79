import Augur
import Foundation

/// `augur-bench --workload memtable [--records N]`: the memtable alone, without the engine's WAL,
/// gates, telemetry and background threads around it — so a change to the skiplist is measured
/// where a full put's noise (flush threads, writeback IPIs, a shared host) cannot hide it.
///
/// Each round inserts N records of fillrandom's shape (16-byte keys, 100-byte values) in random
/// order into memtables of at most 32 MiB (the default flush size; a full one is replaced, as a
/// flush would), then looks up N present keys of the last full one (of the only one when N
/// records do not fill 32 MiB). Two key shapes, rounds
/// interleaved: `binary` keys begin with 8 random bytes (augur-load's hashed keys), `decimal`
/// keys are zero-padded decimal numbers sharing their first bytes (augur-bench's own, like many
/// applications' keys: a common prefix). Prints ns per insert and per lookup, each round and the
/// median.
enum MemtableBench {
    static let flushBytes = 32 << 20

    static func run(records: Int, rounds: Int = 5) {
        let n = max(1, records)
        let order = shuffled(n, seed: 42)
        let shapes = keyShapes(n)
        print("augur-bench memtable: \(n) inserts and \(n) lookups per round, 16-byte keys, 100-byte values, memtables of 32 MiB")
        var results: [String: (insert: [Double], lookup: [Double])] = [:]
        for round in 1...rounds {
            for shape in shapes {
                let (insert, lookup) = measure(shape.keys, order: order)
                results[shape.name, default: ([], [])].insert.append(insert)
                results[shape.name, default: ([], [])].lookup.append(lookup)
                print(String(format: "round %d  %-8@ insert %7.1f ns  lookup %7.1f ns", round, shape.name, insert, lookup))
            }
        }
        for shape in shapes {
            let r = results[shape.name]!
            print(String(format: "median   %-8@ insert %7.1f ns  lookup %7.1f ns", shape.name, median(r.insert), median(r.lookup)))
        }
    }

    /// `n` keys of each shape: `binary` keys begin with 8 hashed bytes (augur-load's), `decimal`
    /// keys are zero-padded decimal numbers sharing their first bytes (augur-bench's own).
    static func keyShapes(_ n: Int) -> [(name: String, keys: [[UInt8]])] {
        [("binary", (0..<n).map { i in
            var h = UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            return withUnsafeBytes(of: h.bigEndian) { Array($0) } + [UInt8](repeating: 0, count: 8)
         }),
         ("decimal", (0..<n).map(key))]
    }

    /// Nanoseconds per insert and per lookup.
    private static func measure(_ keys: [[UInt8]], order: [Int]) -> (Double, Double) {
        var memtable = Memtable()
        var first = 0                       // where `memtable`'s keys start in `order`
        // The last memtable filled to the flush size, and its keys: lookups go there, so that
        // every variant's lookups search a memtable of the same bytes (the last, partial one
        // holds however many records were left over).
        var full: (memtable: Memtable, keys: ArraySlice<Int>)? = nil
        var seq: UInt64 = 0
        let started = ContinuousClock.now
        value.withUnsafeBytes { v in
            for (j, i) in order.enumerated() {
                if memtable.approximateBytes >= flushBytes {
                    full = (memtable, order[first..<j])
                    memtable = Memtable()
                    first = j
                }
                seq += 1
                keys[i].withUnsafeBytes { memtable.apply(key: $0, seq: seq, kind: .put, value: v) }
            }
        }
        let inserted = seconds(ContinuousClock.now - started)
        let target = full ?? (memtable, order[first...])
        let probes = shuffled(order.count, seed: 7).map { target.keys[target.keys.startIndex + $0 % target.keys.count] }
        var found = 0
        let lookupStarted = ContinuousClock.now
        for i in probes where keys[i].withUnsafeBytes({ target.memtable.lookup($0) }) != nil { found += 1 }
        let looked = seconds(ContinuousClock.now - lookupStarted)
        precondition(found == probes.count, "memtable bench: \(probes.count - found) present keys not found")
        return (inserted * 1e9 / Double(order.count), looked * 1e9 / Double(probes.count))
    }

    /// The middle value (the upper one of an even count); FlushBench's medians too.
    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
}
