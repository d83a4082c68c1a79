@testable import AugurStats
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seed for randomized tests: `AUGUR_TEST_SEED` if set, else the given default.
/// Every randomized expectation prints the seed it ran with.
func testSeed(_ fallback: UInt64) -> UInt64 {
    if let raw = getenv("AUGUR_TEST_SEED"), let v = UInt64(String(cString: raw)) { return v }
    return fallback
}

/// The project's SplitMix64 with a byte helper.
struct SeededRandom: RandomNumberGenerator {
    private var generator: SplitMix64
    init(seed: UInt64) { generator = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { generator.next() }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &self) } }
}

/// Zipf(θ) sampler over ranks `1...n` by inverse CDF (binary search).
struct ZipfGenerator {
    let cdf: [Double]
    init(n: Int, theta: Double) {
        var c = [Double](repeating: 0, count: n)
        var sum = 0.0
        for i in 0..<n {
            sum += 1 / pow(Double(i + 1), theta)
            c[i] = sum
        }
        cdf = c.map { $0 / sum }
    }
    /// A rank in `0..<n` (0 is the most frequent).
    func next<R: RandomNumberGenerator>(using rng: inout R) -> Int {
        let u = Double.random(in: 0..<1, using: &rng)
        var lo = 0, hi = cdf.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cdf[mid] > u { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}


/// A box for results written by test threads (each thread writes its own index).
final class UnsafeResults<T>: @unchecked Sendable {
    var values: [T]
    init(_ values: [T]) { self.values = values }
}

extension Array where Element == UInt8 {
    func lexLess(_ other: [UInt8]) -> Bool { lexicographicallyPrecedes(other) }
}

/// Hex for failure messages.
func hex(_ k: [UInt8]?) -> String {
    guard let k else { return "+inf" }
    return k.isEmpty ? "<empty>" : k.map { String(format2($0)) }.joined()
}

private func format2(_ b: UInt8) -> String {
    let s = String(b, radix: 16)
    return s.count == 1 ? "0" + s : s
}

/// Exact load-weighted quantile: the smallest key `k` with load(keys ≤ k) > f·T.
/// `sorted` must be sorted by key, keys unique.
func exactQuantile(_ sorted: [(key: [UInt8], load: Double)], fraction f: Double) -> [UInt8] {
    let total = sorted.reduce(0) { $0 + $1.load }
    let target = f * total
    var cum = 0.0
    for e in sorted {
        cum += e.load
        if cum > target { return e.key }
    }
    return sorted.last!.key
}

/// Aggregates (key, load) pairs by key and sorts them.
func aggregate(_ pairs: [([UInt8], Double)]) -> [(key: [UInt8], load: Double)] {
    var d: [[UInt8]: Double] = [:]
    for (k, l) in pairs { d[k, default: 0] += l }
    return d.map { (key: $0.key, load: $0.value) }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
}
