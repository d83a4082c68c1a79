/// Prediction-interval bounds from a sorted sample of one step's residuals (actual − forecast),
/// as offsets from the point forecast — honest from a handful of residuals on.
///
/// The bounds are empirical quantiles: load residuals are skewed and heavy-tailed, and the
/// empirical distribution absorbs that and any bias of the step. They are read at the
/// split-conformal positions p·(n + 1) of the n sorted residuals (type 6, interpolated), not
/// at 1 + p·(n − 1) (type 7): a new residual falls below the k-th smallest of n exchangeable
/// ones with probability k/(n + 1), so type 6 covers at the nominal rate for any n, while
/// type 7 covers (n − 1)/(n + 1) of it — 90% instead of 95% at n = 40, 94.7% at n = 672.
///
/// With few residuals a conformal bound may not exist: position p·(n + 1) must lie within the
/// n values, which takes n ≥ 9 for the 80% interval and n ≥ 39 for the 95% one (below, the
/// tail is beyond the smallest or largest residual, and the extreme value covers less than p).
/// Such a bound is the Student-t prediction interval mean ± t(n−1)·s·√(1 + 1/n) instead,
/// which covers at the nominal rate for independent normal residuals whatever n (it accounts
/// for the mean and s being estimated from the same n).
///
/// Finally each interval is at least 2·z·`floorScale` wide (z = 1.28 / 1.96; widened about its
/// centre), so a run of identical residuals (a series that has not moved yet) does not produce
/// a zero-width interval; the caller derives `floorScale` from the series' own variability.
///
/// Thread-safety: a plain value; `Sendable`.
struct IntervalEstimator: Sendable {
    /// Offsets from the point forecast, in the series' unit.
    struct Bounds: Sendable, Equatable {
        var lower80: Double
        var upper80: Double
        var lower95: Double
        var upper95: Double

        /// The bounds stretched by `factor` about the point (used for a step without enough
        /// residuals of its own, from a shorter step's).
        func scaled(by factor: Double) -> Bounds {
            Bounds(lower80: lower80 * factor, upper80: upper80 * factor,
                   lower95: lower95 * factor, upper95: upper95 * factor)
        }
    }

    /// Standard normal quantiles of 0.9 and 0.975.
    static let z80 = 1.2815515655446004
    static let z95 = 1.959963984540054

    /// Bounds from `sorted` (ascending, non-empty, finite). `floorScale` ≥ 0, series unit.
    /// `miss80` / `miss95`: the share of actuals each interval is built to leave outside —
    /// nominally 0.2 and 0.05; the ensemble moves them online to hold the realised coverage at
    /// the nominal rate (see `CoverageTargets`). The conformal bounds are read at miss/2 and
    /// 1 − miss/2; the Student-t fallback for few residuals stays at the nominal levels.
    @inline(__always)
    func bounds(sorted r: UnsafeBufferPointer<Double>, floorScale: Double,
                miss80: Double = 0.2, miss95: Double = 0.05) -> Bounds {
        floored(unfloored(sorted: r, miss80: miss80, miss95: miss95), floorScale: floorScale)
    }

    /// The part of `bounds` that depends only on the sample and the miss rates (the quantiles,
    /// or the Student-t fallback): a caller whose sample changes less often than `floorScale`
    /// can keep it, and `floored(_:floorScale:)` then gives the same bits as `bounds`.
    @inline(__always)
    func unfloored(sorted r: UnsafeBufferPointer<Double>, miss80: Double = 0.2, miss95: Double = 0.05) -> Bounds {
        var b = Bounds(lower80: Self.conformalQuantile(r, miss80 / 2), upper80: Self.conformalQuantile(r, 1 - miss80 / 2),
                       lower95: Self.conformalQuantile(r, miss95 / 2), upper95: Self.conformalQuantile(r, 1 - miss95 / 2))
        if r.count < Self.conformal95Minimum && r.count >= 2 { studentTWhereConformalIsMissing(&b, r) }
        return b
    }

    /// `unfloored` bounds widened to the floor and nested (the 95 % interval contains the 80 %).
    @inline(__always)
    func floored(_ unfloored: Bounds, floorScale: Double) -> Bounds {
        var b = unfloored
        Self.widen(&b.lower80, &b.upper80, halfWidth: Self.z80 * floorScale)
        Self.widen(&b.lower95, &b.upper95, halfWidth: Self.z95 * floorScale)
        b.lower95 = min(b.lower95, b.lower80)
        b.upper95 = max(b.upper95, b.upper80)
        return b
    }

    /// Type-6 quantile: position p·(n + 1) among the sorted values (1-based), interpolated and
    /// clamped to the smallest and largest value.
    @inline(__always)
    static func conformalQuantile(_ r: UnsafeBufferPointer<Double>, _ p: Double) -> Double {
        let position = p * Double(r.count + 1) - 1            // 0-based
        if position <= 0 { return r[0] }
        let lower = Int(position)
        if lower + 1 >= r.count { return r[r.count - 1] }
        return r[lower] + (position - Double(lower)) * (r[lower + 1] - r[lower])
    }

    /// Residuals from which both conformal intervals exist: 0.025·(n + 1) ≥ 1.
    static let conformal95Minimum = 39

    /// Whether position p·(n + 1) lies within the n values (else the conformal bound is only
    /// the extreme value, which covers less than p).
    @inline(__always)
    static func conformalExists(n: Int, _ p: Double) -> Bool {
        let position = p * Double(n + 1)
        return position >= 1 && position <= Double(n)
    }

    /// Few residuals (2 ≤ n < 39; warm-up only, so kept out of line): the Student-t bounds for
    /// the levels whose conformal bounds do not exist.
    @inline(never)
    private func studentTWhereConformalIsMissing(_ b: inout Bounds, _ r: UnsafeBufferPointer<Double>) {
        let n = r.count
        var mean = 0.0
        for v in r { mean += v }
        mean /= Double(n)
        var squares = 0.0
        for v in r { squares += (v - mean) * (v - mean) }
        let spread = (squares / Double(n - 1)).squareRoot() * (1 + 1 / Double(n)).squareRoot()
        let t80 = studentTQuantile(0.9, degreesOfFreedom: n - 1) * spread
        let t95 = studentTQuantile(0.975, degreesOfFreedom: n - 1) * spread
        if !Self.conformalExists(n: n, 0.1) {
            b.lower80 = mean - t80
            b.upper80 = mean + t80
        }
        if !Self.conformalExists(n: n, 0.025) {
            b.lower95 = mean - t95
            b.upper95 = mean + t95
        }
    }

    /// Widens [lower, upper] about its centre to at least 2·halfWidth (a biased interval keeps
    /// its bias).
    @inline(__always)
    private static func widen(_ lower: inout Double, _ upper: inout Double, halfWidth: Double) {
        guard upper - lower < 2 * halfWidth else { return }
        let centre = (lower + upper) / 2
        lower = centre - halfWidth
        upper = centre + halfWidth
    }
}

/// Quantile `p` of Student's t with ν ≥ 1 degrees of freedom: exact for ν = 1 and 2, otherwise
/// the Cornish-Fisher expansion in 1/ν (Abramowitz & Stegun 26.7.5), within 0.1% of the exact
/// value for ν ≥ 3 at the 90% and 97.5% points used here.
func studentTQuantile(_ p: Double, degreesOfFreedom nu: Int) -> Double {
    precondition(nu >= 1 && p > 0.5 && p < 1)
    if nu == 1 { return tangent(Double.pi * (p - 0.5)) }
    if nu == 2 { return (2 * p - 1) / (2 * p * (1 - p)).squareRoot() }
    let z = normalQuantile(p)
    let v = Double(nu)
    let z2 = z * z
    let g1 = z * (z2 + 1) / 4
    let g2 = z * ((5 * z2 + 16) * z2 + 3) / 96
    let g3 = z * (((3 * z2 + 19) * z2 + 17) * z2 - 15) / 384
    let g4 = z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / 92160
    return z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v)
}

/// Standard normal quantile for the two tail points the intervals use.
private func normalQuantile(_ p: Double) -> Double {
    switch p {
    case 0.9: return IntervalEstimator.z80
    case 0.975: return IntervalEstimator.z95
    default: preconditionFailure("normalQuantile supports 0.9 and 0.975, got \(p)")
    }
}
