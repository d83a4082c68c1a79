/// A small HyperLogLog distinct counter: `2^precision` one-byte registers.
///
/// Bound: relative standard error `1.04 / sqrt(2^precision)` (≈ 13 % at the
/// default precision 6); below `2.5 × 2^precision` distinct values the
/// linear-counting correction applies, which is far more accurate (a handful
/// of clients are counted almost exactly). Registers merge by maximum, so a
/// union of sketches is exact as a sketch (same error as one sketch of the union).
///
/// Thread-safety: value type, `Sendable`; mutate from one thread at a time.
public struct HyperLogLog: Sendable, Hashable {
    /// Precision `p`: `2^p` registers. Unit: bits.
    public let precision: Int
    /// The registers.
    public private(set) var registers: [UInt8]

    /// Creates an empty sketch. `precision` is clamped to `4...16`.
    public init(precision: Int = 6) {
        self.precision = min(16, max(4, precision))
        self.registers = [UInt8](repeating: 0, count: 1 << self.precision)
    }

    /// Adds a value (hashed with ``KeyHash/mix(_:)`` first).
    public mutating func insert(_ value: UInt64) {
        let p = precision
        registers.withUnsafeMutableBufferPointer { HyperLogLog.insert(hash: KeyHash.mix(value), precision: p, into: $0) }
    }

    /// Merges `other` (same precision) into this sketch.
    public mutating func formUnion(_ other: HyperLogLog) {
        precondition(other.precision == precision, "precision mismatch")
        for i in registers.indices { registers[i] = max(registers[i], other.registers[i]) }
    }

    /// Estimated number of distinct values inserted.
    public var estimate: Double { HyperLogLog.estimate(registers) }

    /// Relative standard error of ``estimate``, `1.04 / sqrt(2^precision)`.
    public var relativeStandardError: Double { HyperLogLog.relativeError(precision: precision) }

    static func relativeError(precision: Int) -> Double {
        1.04 / Double(1 << precision).squareRoot()
    }

    @inline(__always)
    static func insert(hash: UInt64, precision p: Int, into regs: UnsafeMutableBufferPointer<UInt8>) {
        let idx = Int(truncatingIfNeeded: hash >> UInt64(64 - p))
        let w = hash << UInt64(p)
        let rank = UInt8(min(w.leadingZeroBitCount, 64 - p) + 1)
        if regs[idx] < rank { regs[idx] = rank }
    }

    static func estimate<C: Collection>(_ regs: C) -> Double where C.Element == UInt8 {
        let m = Double(regs.count)
        var sum = 0.0
        var zeros = 0
        for r in regs {
            sum += Double(sign: .plus, exponent: -Int(r), significand: 1)
            if r == 0 { zeros += 1 }
        }
        let alpha: Double
        switch regs.count {
        case 16: alpha = 0.673
        case 32: alpha = 0.697
        case 64: alpha = 0.709
        default: alpha = 0.7213 / (1 + 1.079 / m)
        }
        let raw = alpha * m * m / sum
        if raw <= 2.5 * m, zeros > 0 {
            return m * PureMath.ln(m / Double(zeros))
        }
        return raw
    }
}
