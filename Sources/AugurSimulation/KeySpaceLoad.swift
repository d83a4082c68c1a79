import RealModule
import AugurStats

/// How load is spread over key positions `[0, 1)` at a given time: a uniform base, a hotspot
/// that moves at a constant speed (wrapping around), and optionally one hot key.
/// ``mass(from:to:at:)`` gives the share of the table's load on `[a, b)`.
///
/// The hotspot is either a Gaussian bump over a uniform base covering the whole key space
/// (``HotspotShape/gaussian``), or YCSB's hot range (``HotspotShape/window``, what augur-load's
/// `hotspot` and `moving-hotspot` distributions draw): `hotspotShare` of the load uniform on a
/// window of width `hotspotWidth` starting at the hotspot's position, the rest uniform on the
/// keys outside it.
///
/// Thread-safety: immutable value type, `Sendable`.
public struct KeySpaceLoad: Sendable {
    /// Share on the moving hotspot.
    public let hotspotShare: Double
    /// Hotspot standard deviation (Gaussian) or window width (window), key-space fraction.
    public let hotspotWidth: Double
    /// Shape of the hotspot.
    public let hotspotShape: HotspotShape
    /// Hotspot speed, key-space fractions per second.
    public let speedPerSecond: Double
    /// Hotspot centre (Gaussian) or first key of the hot window (window) at time 0.
    public let startPosition: Double
    /// Share on the hot key.
    public let hotKeyShare: Double
    /// Hot key position.
    public let hotKeyPosition: Double

    /// Creates the model from simulation options; the hotspot's start is
    /// `options.hotspotStart`, or drawn from `seed` when that is nil.
    public init(options: SimulationOptions) {
        hotspotShare = options.hotspotShare
        hotspotWidth = options.hotspotWidth
        hotspotShape = options.hotspotShape
        speedPerSecond = options.hotspotSpeed / 3600
        startPosition = options.hotspotStart ?? SplitMix64.unit(SplitMix64.mix(options.seed ^ 0x4854_5350_4F54))
        hotKeyShare = options.hotKeyShare
        hotKeyPosition = options.hotKeyPosition
    }

    /// Hotspot centre (Gaussian) or window start (window) at time `t` seconds.
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
            if z > 6 { s += 1 } else if z > -6 { s += 0.5 * Double.erfc(-z) }
        }
        return s
    }

    /// Share of the table's load on key positions `[a, b)` at time `t`.
    public func mass(from a: Double, to b: Double, at t: Double) -> Double {
        guard b > a else { return 0 }
        let c = centre(at: t)
        return mass(from: a, to: b, centre: c)
    }

    /// Length of `[a, b)` inside the hot window starting at `s` (wrapping past 1).
    @inline(__always)
    func windowOverlap(_ a: Double, _ b: Double, start s: Double) -> Double {
        func overlap(_ lo: Double, _ hi: Double) -> Double { max(0, min(b, hi) - max(a, lo)) }
        let end = s + hotspotWidth
        return end <= 1 ? overlap(s, end) : overlap(s, 1) + overlap(0, end - 1)
    }

    /// Share of the window-shaped load on `[a, b)` (hot range and its complement; no hot key).
    @inline(__always)
    func windowMass(_ a: Double, _ b: Double, start s: Double) -> Double {
        let inside = windowOverlap(a, b, start: s)
        let outside = max(0, (b - a) - inside)
        let coldShare = 1 - hotspotShare - hotKeyShare
        return hotspotShare * inside / hotspotWidth + (hotspotWidth < 1 ? coldShare * outside / (1 - hotspotWidth) : 0)
    }

    /// Share of load on `[a, b)` for hotspot centre (or window start) `c`.
    public func mass(from a: Double, to b: Double, centre c: Double) -> Double {
        guard b > a else { return 0 }
        if hotspotShape == .window {
            var m = windowMass(a, b, start: c)
            if hotKeyShare > 0, a <= hotKeyPosition, hotKeyPosition < b { m += hotKeyShare }
            return m
        }
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
        if hotspotShape == .window {
            return (1..<edges.count).map { mass(from: edges[$0 - 1], to: edges[$0], centre: c) }
        }
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

/// The shape of the moving hotspot's load (see ``KeySpaceLoad``).
///
/// Thread-safety: value type, `Sendable`.
public enum HotspotShape: String, Sendable, Hashable, Codable {
    /// A Gaussian bump (standard deviation `hotspotWidth`) over a uniform base on the whole key
    /// space: a smooth stand-in for real skew.
    case gaussian
    /// YCSB's hot range: `hotspotShare` of the load uniform on a window of width
    /// `hotspotWidth`, the rest uniform on the keys outside it (augur-load's `hotspot` and
    /// `moving-hotspot` distributions).
    case window
}
