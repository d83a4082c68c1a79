@testable import AugurWorkload
import Foundation
import Synchronization

/// Upper critical value of χ²(df) at significance α = 0.001 (Wilson–Hilferty; z = 3.090).
func chiSquareCritical(df: Int, z: Double = 3.090) -> Double {
    let k = Double(df)
    let a = 2 / (9 * k)
    return k * pow(1 - a + z * a.squareRoot(), 3)
}

/// Pearson's χ² of observed counts against expected probabilities; cells with expectation
/// below 5 are pooled into one.
func chiSquare(observed: [Int], expected probabilities: [Double]) -> (statistic: Double, df: Int) {
    precondition(observed.count == probabilities.count)
    let n = Double(observed.reduce(0, +))
    var stat = 0.0, cells = 0
    var pooledO = 0.0, pooledE = 0.0
    for (o, p) in zip(observed, probabilities) {
        let e = p * n
        if e < 5 { pooledO += Double(o); pooledE += e; continue }
        stat += (Double(o) - e) * (Double(o) - e) / e
        cells += 1
    }
    if pooledE > 0 {
        stat += (pooledO - pooledE) * (pooledO - pooledE) / Swift.max(pooledE, 1e-9)
        cells += 1
    }
    return (stat, Swift.max(1, cells - 1))
}

/// |observed − expected| ≤ z standard deviations of a binomial proportion (z = 4).
func withinBinomial(_ hits: Int, of n: Int, p: Double, z: Double = 4) -> Bool {
    let sd = (p * (1 - p) / Double(n)).squareRoot()
    return abs(Double(hits) / Double(n) - p) <= z * sd + 1e-12
}

/// An in-memory store (sorted keys) that counts what it was asked to do. It can advance a
/// manual clock per operation (service time), stall once, and fake partition telemetry.
final class MemoryStore: KeyValueStore, @unchecked Sendable {
    let engineName = "memory"
    private let lock = NSLock()
    private var keys: [[UInt8]] = []
    private var values: [[UInt8]: [UInt8]] = [:]
    private(set) var counts: [String: Int] = [:]
    var clock: ManualClock?
    var serviceNanoseconds: UInt64 = 0
    /// When the clock first reaches this, the operation in progress takes `stallNanoseconds`.
    var stallAtNanoseconds: UInt64? = nil
    var stallNanoseconds: UInt64 = 0
    /// Partition count as a function of the clock (nil: none reported).
    var partitionsAt: (@Sendable (UInt64) -> Int)? = nil
    var forecastAt: (@Sendable (UInt64) -> IntervalForecast)? = nil
    /// Write stalls so far and the last one's reason, by time (nil: the store says nothing).
    var stallsAt: (@Sendable (UInt64) -> (count: Int, lastReason: String?))? = nil
    var failEveryNth = 0
    private var lastPartitions: Int? = nil
    private var opNumber = 0

    var count: Int { lock.withLock { keys.count } }

    private func tick(_ name: String) throws {
        lock.lock()
        counts[name, default: 0] += 1
        opNumber += 1
        let fail = failEveryNth > 0 && opNumber % failEveryNth == 0
        var extra: UInt64 = serviceNanoseconds
        if let clock, let at = stallAtNanoseconds, clock.nanoseconds() >= at {
            extra += stallNanoseconds
            stallAtNanoseconds = nil
        }
        lock.unlock()
        if extra > 0 { clock?.advance(byNanoseconds: extra) }
        if fail { throw WorkloadError.invalidOption(name: "injected", value: name, reason: "test failure") }
    }

    private func index(of key: [UInt8]) -> (Int, Bool) {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if keys[mid].lexicographicallyPrecedes(key) { lo = mid + 1 } else { hi = mid }
        }
        return (lo, lo < keys.count && keys[lo] == key)
    }

    private func putLocked(_ key: [UInt8], _ value: [UInt8]) {
        let (i, found) = index(of: key)
        if !found { keys.insert(key, at: i) }
        values[key] = value
    }

    func put(_ key: [UInt8], _ value: [UInt8]) throws {
        try tick("put")
        lock.withLock { putLocked(key, value) }
    }

    func get(_ key: [UInt8]) throws -> [UInt8]? {
        try tick("get")
        return lock.withLock { values[key] }
    }

    func delete(_ key: [UInt8]) throws {
        try tick("delete")
        lock.withLock {
            let (i, found) = index(of: key)
            if found { keys.remove(at: i); values[key] = nil }
        }
    }

    func scan(from start: [UInt8], limit: Int) throws -> Int {
        try tick("scan")
        return lock.withLock {
            let (i, _) = index(of: start)
            return Swift.min(limit, keys.count - i)
        }
    }

    func write(_ operations: [BatchOperation]) throws {
        try tick("write")
        lock.withLock {
            for op in operations {
                switch op {
                case .put(let k, let v): putLocked(k, v)
                case .delete(let k):
                    let (i, found) = index(of: k)
                    if found { keys.remove(at: i); values[k] = nil }
                }
            }
        }
    }

    func partitionMetrics() -> PartitionMetrics {
        guard let partitionsAt, let clock else { return PartitionMetrics() }
        let now = clock.nanoseconds()
        let n = partitionsAt(now)
        var events: [ReshardEvent] = []
        lock.withLock {
            if let last = lastPartitions, last != n {
                events.append(ReshardEvent(kind: n > last ? .split : .merge, detail: "\(last) → \(n)", inferred: false))
            }
            lastPartitions = n
        }
        var m = PartitionMetrics(partitions: n, splits: 0, merges: 0, moves: 0, bytesMoved: 0, reshardsInFlight: 0,
                                 overloadSeconds: 0, forecast: forecastAt?(now), events: events)
        if let stalls = stallsAt?(now) {
            m.writeStalls = stalls.count
            m.writeStallSeconds = Double(stalls.count) * 0.5
            m.lastWriteStallReason = stalls.lastReason
            m.writeSlowdowns = stalls.count * 10
            m.writeSlowdownSeconds = Double(stalls.count) * 0.01
        }
        return m
    }
}

extension NSLock {
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
