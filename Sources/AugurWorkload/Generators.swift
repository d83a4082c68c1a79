// Transcendental functions from swift-numerics' RealModule (the same results as libm; libc
// stays in AugurSys).
import RealModule

/// ζ(n, θ) = Σ_{i=1..n} 1/i^θ. Exact up to ten million terms; beyond that the exact head is
/// extended with the Euler–Maclaurin tail (error far below 1e-9 relative for θ in (0, 1)).
public func zeta(_ n: UInt64, theta: Double) -> Double {
    let exactLimit: UInt64 = 10_000_000
    if n <= exactLimit { return zetaRange(from: 0, to: n, theta: theta, initial: 0) }
    let m = Double(exactLimit)
    let head = zetaRange(from: 0, to: exactLimit, theta: theta, initial: 0)
    let N = Double(n)
    // Σ_{i=m+1..N} f(i) ≈ ∫_m^N f + (f(N) − f(m))/2 + (f'(N) − f'(m))/12, f(x) = x^−θ.
    let integral = theta == 1 ? Double.log(N / m) : (Double.pow(N, 1 - theta) - Double.pow(m, 1 - theta)) / (1 - theta)
    let ends = (Double.pow(N, -theta) - Double.pow(m, -theta)) / 2
    let deriv = (-theta * Double.pow(N, -theta - 1) + theta * Double.pow(m, -theta - 1)) / 12
    return head + integral + ends + deriv
}

/// YCSB's incremental zeta: `initial` + Σ_{i=st..<n} 1/(i+1)^θ.
func zetaRange(from st: UInt64, to n: UInt64, theta: Double, initial: Double) -> Double {
    var sum = initial
    var i = st
    while i < n {
        sum += 1 / Double.pow(Double(i + 1), theta)
        i += 1
    }
    return sum
}

/// YCSB's `ZipfianGenerator` (Gray et al., "Quickly generating billion-record synthetic
/// databases", SIGMOD 1994): item 0 is the most popular, popularity ∝ 1/(rank+1)^θ. Like YCSB
/// it supports a growing item count (for the "latest" distribution) by extending ζ incrementally.
public struct ZipfianGenerator: Sendable {
    public static let ycsbConstant = 0.99
    public let base: UInt64
    public private(set) var items: UInt64
    public let theta: Double
    let zeta2theta: Double
    let alpha: Double
    public private(set) var zetan: Double
    var eta: Double

    /// Items `min...max` (inclusive, as YCSB), skew `theta`; `zetan` precomputed when known.
    public init(min: UInt64, max: UInt64, theta: Double = ycsbConstant, zetan: Double? = nil) {
        precondition(max >= min && theta > 0 && theta < 1)
        base = min
        items = max - min + 1
        self.theta = theta
        zeta2theta = zetaRange(from: 0, to: 2, theta: theta, initial: 0)
        alpha = 1 / (1 - theta)
        self.zetan = zetan ?? zeta(max - min + 1, theta: theta)
        eta = (1 - Double.pow(2 / Double(max - min + 1), 1 - theta)) / (1 - zeta2theta / self.zetan)
    }

    /// Items `0..<count`.
    public init(count: UInt64, theta: Double = ycsbConstant) {
        self.init(min: 0, max: count - 1, theta: theta)
    }

    /// A rank in `base ..< base + items` (YCSB `nextValue`).
    @inline(__always)
    public mutating func next(using rng: inout WorkloadRandom) -> UInt64 {
        next(itemCount: items, using: &rng)
    }

    /// YCSB `nextLong(itemcount)`: the item count may grow between calls (ζ is extended).
    public mutating func next(itemCount: UInt64, using rng: inout WorkloadRandom) -> UInt64 {
        if itemCount != items {
            if itemCount > items {
                zetan = zetaRange(from: items, to: itemCount, theta: theta, initial: zetan)
            } else {
                zetan = zeta(itemCount, theta: theta)
            }
            items = itemCount
            eta = (1 - Double.pow(2 / Double(items), 1 - theta)) / (1 - zeta2theta / zetan)
        }
        let u = rng.nextDouble()
        let uz = u * zetan
        if uz < 1 { return base }
        if uz < 1 + Double.pow(0.5, theta) { return base + 1 }
        let r = UInt64(Double(items) * Double.pow(eta * u - eta + 1, alpha))
        return base + Swift.min(r, items - 1)
    }
}

/// YCSB's `ScrambledZipfianGenerator`: zipfian ranks drawn over 10 billion items (ζ precomputed
/// as YCSB does for θ = 0.99), then spread over the key space with `fnvHash64(rank) % count`,
/// so the popular items are scattered instead of clustered at the start.
public struct ScrambledZipfianGenerator: Sendable {
    public static let itemCount: UInt64 = 10_000_000_000
    /// YCSB's precomputed ζ(10^10, 0.99).
    public static let zetan = 26.46902820178302
    public let min: UInt64
    public let count: UInt64
    var zipf: ZipfianGenerator

    public init(min: UInt64 = 0, count: UInt64, theta: Double = ZipfianGenerator.ycsbConstant) {
        precondition(count > 0)
        self.min = min
        self.count = count
        let z = theta == ZipfianGenerator.ycsbConstant ? Self.zetan : zeta(Self.itemCount + 1, theta: theta)
        zipf = ZipfianGenerator(min: 0, max: Self.itemCount, theta: theta, zetan: z)
    }

    @inline(__always)
    public mutating func next(using rng: inout WorkloadRandom) -> UInt64 {
        let rank = zipf.next(using: &rng)
        return min + fnvHash64(rank) % count
    }
}

/// YCSB's `SkewedLatestGenerator`: the most recently inserted items are the most popular
/// (`latest − zipf(latest)`).
public struct SkewedLatestGenerator: Sendable {
    var zipf: ZipfianGenerator

    public init(initialCount: UInt64, theta: Double = ZipfianGenerator.ycsbConstant) {
        zipf = ZipfianGenerator(count: Swift.max(initialCount, 2), theta: theta)
    }

    /// An item in `0..<count`, where `count` is the number of items inserted so far.
    @inline(__always)
    public mutating func next(count: UInt64, using rng: inout WorkloadRandom) -> UInt64 {
        if count <= 1 { return 0 }
        let maxItem = count - 1
        // YCSB: max − zipf.nextValue(max), ranks over 0..<max.
        let offset = zipf.next(itemCount: maxItem, using: &rng)
        return maxItem - offset
    }
}

/// YCSB's `HotspotIntegerGenerator`: a fraction `hotOps` of draws is uniform over the first
/// `hotKeys` fraction of `0..<count`, the rest uniform over the remainder.
public struct HotspotGenerator: Sendable {
    public let count: UInt64
    public let hotCount: UInt64
    public let hotOps: Double

    public init(count: UInt64, hotKeys: Double, hotOps: Double) {
        precondition(count > 0)
        self.count = count
        hotCount = Swift.min(count, Swift.max(1, UInt64((Double(count) * hotKeys).rounded())))
        self.hotOps = hotOps
    }

    /// An item; the hot set starts at `hotStart` (wrapping around the key space).
    @inline(__always)
    public func next(hotStart: UInt64 = 0, using rng: inout WorkloadRandom) -> UInt64 {
        let offset: UInt64
        if hotCount >= count || rng.nextDouble() < hotOps {
            offset = rng.nextInt(below: hotCount)
        } else {
            offset = hotCount + rng.nextInt(below: count - hotCount)
        }
        return (hotStart + offset) % count
    }
}

/// A hotspot whose hot range drifts through the key space: at time t seconds the hot set starts
/// at `(start + speed·t) mod 1` of the key space (`speed` is key-space fractions per second).
public struct MovingHotspotGenerator: Sendable {
    public let hotspot: HotspotGenerator
    public let start: Double
    public let speed: Double

    public init(count: UInt64, hotKeys: Double, hotOps: Double, speed: Double, start: Double = 0) {
        hotspot = HotspotGenerator(count: count, hotKeys: hotKeys, hotOps: hotOps)
        self.speed = speed
        self.start = start
    }

    /// First item of the hot range at `seconds` into the run.
    public func hotStart(atSeconds seconds: Double) -> UInt64 {
        var f = (start + speed * seconds).truncatingRemainder(dividingBy: 1)
        if f < 0 { f += 1 }
        return Swift.min(hotspot.count - 1, UInt64(f * Double(hotspot.count)))
    }

    @inline(__always)
    public func next(atSeconds seconds: Double, using rng: inout WorkloadRandom) -> UInt64 {
        hotspot.next(hotStart: hotStart(atSeconds: seconds), using: &rng)
    }
}
