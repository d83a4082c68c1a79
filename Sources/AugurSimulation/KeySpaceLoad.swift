#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How load is spread over key positions `[0, 1)` at a given time: a uniform base, a Gaussian
/// hotspot whose centre moves at a constant speed (wrapping around), and optionally one hot
/// key. ``mass(from:to:at:)`` gives the share of the table's load on `[a, b)`.
///
/// Thread-safety: immutable value type, `Sendable`.
public struct KeySpaceLoad: Sendable {
    /// Share on the moving hotspot.
    public let hotspotShare: Double
    /// Hotspot standard deviation, key-space fraction.
    public let hotspotWidth: Double
    /// Hotspot speed, key-space fractions per second.
    public let speedPerSecond: Double
    /// Hotspot centre at time 0.
    public let startPosition: Double
    /// Share on the hot key.
    public let hotKeyShare: Double
    /// Hot key position.
    public let hotKeyPosition: Double

    /// Creates the model from simulation options; the hotspot's start is drawn from `seed`.
    public init(options: SimulationOptions) {
        hotspotShare = options.hotspotShare
        hotspotWidth = options.hotspotWidth
        speedPerSecond = options.hotspotSpeed / 3600
        startPosition = SplitMix64.unit(SplitMix64.mix(options.seed ^ 0x4854_5350_4F54))
        hotKeyShare = options.hotKeyShare
        hotKeyPosition = options.hotKeyPosition
    }

    /// Hotspot centre at time `t` seconds.
    public func centre(at t: Double) -> Double {
        let c = (startPosition + speedPerSecond * t).truncatingRemainder(dividingBy: 1)
        return c < 0 ? c + 1 : c
    }

    /// Cumulative hotspot mass below position `x` (wrapped Gaussian, centre `c`).
    @inline(__always)
    func hotCDF(_ x: Double, centre c: Double) -> Double {
        var s = 0.0
        let inv = 1 / (hotspotWidth * 2.0.squareRoot())
        for k in -1...1 {
            let z = (x - c - Double(k)) * inv
            if z > 6 { s += 1 } else if z > -6 { s += 0.5 * erfc(-z) }
        }
        return s
    }

    /// Share of the table's load on key positions `[a, b)` at time `t`.
    public func mass(from a: Double, to b: Double, at t: Double) -> Double {
        guard b > a else { return 0 }
        let c = centre(at: t)
        return mass(from: a, to: b, centre: c)
    }

    /// Share of load on `[a, b)` for hotspot centre `c`.
    public func mass(from a: Double, to b: Double, centre c: Double) -> Double {
        guard b > a else { return 0 }
        let uniformShare = 1 - hotspotShare - hotKeyShare
        var m = uniformShare * (b - a)
        if hotspotShare > 0 {
            let total = hotCDF(1, centre: c) - hotCDF(0, centre: c)
            m += hotspotShare * (hotCDF(b, centre: c) - hotCDF(a, centre: c)) / total
        }
        if hotKeyShare > 0, a <= hotKeyPosition, hotKeyPosition < b { m += hotKeyShare }
        return m
    }

    /// Shares of the consecutive intervals between sorted `edges` (count − 1 values).
    public func masses(edges: [Double], at t: Double) -> [Double] {
        let c = centre(at: t)
        let uniformShare = 1 - hotspotShare - hotKeyShare
        let total = hotspotShare > 0 ? hotCDF(1, centre: c) - hotCDF(0, centre: c) : 1
        var prev = hotspotShare > 0 ? hotCDF(edges[0], centre: c) : 0
        var out: [Double] = []
        out.reserveCapacity(edges.count - 1)
        for k in 1..<edges.count {
            let cur = hotspotShare > 0 ? hotCDF(edges[k], centre: c) : 0
            var m = uniformShare * max(0, edges[k] - edges[k - 1]) + hotspotShare * max(0, cur - prev) / total
            if hotKeyShare > 0, edges[k - 1] <= hotKeyPosition, hotKeyPosition < edges[k] { m += hotKeyShare }
            out.append(m)
            prev = cur
        }
        return out
    }
}
