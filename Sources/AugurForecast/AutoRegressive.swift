/// AR(p) with intercept on the (optionally seasonally differenced) series, fitted online by
/// recursive least squares with exponential forgetting.
///
///     z(t)   = y(t) − y(t−s)          (s = differencing lag; s = 0 means z = y)
///     z(t)   = c + a₁z(t−1) + … + a_p z(t−p) + ε
///     ŷ(t+h) = y(t+h−s) + ẑ(t+h)      iterating the recursion over the horizon
///
/// Each update costs O((p+1)²) and allocates nothing. Regressors are divided by a scale fixed
/// from the first p differences so the RLS prior (P₀ = `priorVariance`·I) means the same on
/// any unit (ops/s or MW). When a direction of P stops being excited (e.g. a constant
/// series), dividing by λ would grow P without bound; the update skips the division once P's
/// diagonal passes `maximumVariance`.
///
/// An explosive fit (a root of the AR polynomial well outside the unit circle) reports itself not
/// warm until the fit settles again, so the ensemble leaves it out: fitted on a few steps of a
/// geometric ramp — a moving hotspot entering a range triples its load step after step — the
/// recursion learns z(t) ≈ 3·z(t−1) and forecast 25 M ops/s six steps ahead of 37 k, which
/// carried the ensemble to 0.8 M and split the range four ways every few seconds.
///
/// Why seasonal differencing: it removes the level and the longest season in one subtraction,
/// leaving a short-memory process that a low-order AR captures — a cheap online stand-in for
/// a seasonal ARIMA.
///
/// Thread-safety: a value type; one series per instance, confine mutation to one thread.
struct AutoRegressive: OnlineForecastModel, Sendable {
    static let priorVariance = 1.0e4
    static let maximumVariance = 1.0e8

    let order: Int
    let differencingLag: Int
    let forgetting: Double
    private let settleObservations: Int

    private var levels: RingBuffer          // y, last max(s, 1) values
    private var differences: RingBuffer     // z, last p values
    private var seen = 0
    private var fitted = 0
    private var explosive = false
    private var scale = 1.0
    private var inverseScale = 1.0
    private var coefficients: ContiguousArray<Double>   // [c, a₁, …, a_p]
    private var covariance: ContiguousArray<Double>     // (p+1)×(p+1), row-major
    private var regressor: ContiguousArray<Double>      // scratch, p+1
    private var gain: ContiguousArray<Double>           // scratch, p+1

    /// `settleObservations`: RLS updates required after the first regression before the model
    /// reports itself warm.
    init(order: Int, differencingLag: Int, forgetting: Double, settleObservations: Int) {
        self.order = order
        self.differencingLag = differencingLag
        self.forgetting = forgetting
        self.settleObservations = settleObservations
        let k = order + 1
        levels = RingBuffer(capacity: max(differencingLag, 1))
        differences = RingBuffer(capacity: max(order, 1))
        coefficients = ContiguousArray(repeating: 0, count: k)
        covariance = ContiguousArray(repeating: 0, count: k * k)
        for i in 0..<k { covariance[i * k + i] = Self.priorVariance }
        regressor = ContiguousArray(repeating: 0, count: k)
        gain = ContiguousArray(repeating: 0, count: k)
    }

    var isWarm: Bool { fitted >= settleObservations && !explosive }

    /// Largest modulus a root of the AR recursion may have (in the `z` domain). Unit roots and
    /// repeated ones (levels, linear and quadratic trends) stay under it; a fit whose six-step
    /// forecast grows geometrically by more than ρ⁶ ≈ 1.5 does not.
    static let stabilityRadius = 1.067

    /// Whether the AR recursion z(t) = Σ aᵢ·z(t−i) with `coefficients` (a₁…a_p) has a root of
    /// modulus ≥ `stabilityRadius`, or a non-finite coefficient. Schur–Cohn step-down on the
    /// coefficients scaled by ρ^−i (which divides every root by ρ): all reflection coefficients
    /// under 1 in magnitude ⇔ all roots inside the circle of radius ρ. O(p²) flops,
    /// allocation-free (a stack buffer of p doubles) — an impulse-response test of 64 steps
    /// cost a third of the whole ensemble's update.
    static func isExplosive(_ coefficients: UnsafeBufferPointer<Double>) -> Bool {
        let p = coefficients.count
        guard p > 0 else { return false }
        // Shortcut (99.6 % of the calls on augur-forecast-bench's series): with Σ|aᵢ| < 1 no root
        // has modulus ≥ 1 (for |z| ≥ 1, |Σ aᵢ·z^(p−i)| ≤ |z|^(p−1)·Σ|aᵢ| < |z|^p), far inside
        // `stabilityRadius`, so the step-down below could only answer false — and costs a
        // chain of divisions. A non-finite coefficient fails the comparison and is caught below.
        var absoluteSum = 0.0
        for a in coefficients { absoluteSum += abs(a) }
        if absoluteSum < 1 { return false }
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * p) { buffer in
            // c[i−1] = −aᵢ/ρⁱ: the monic polynomial 1 + c₁x + … + c_p x^p in x = 1/z.
            let c = UnsafeMutableBufferPointer(rebasing: buffer[0..<p])
            let next = UnsafeMutableBufferPointer(rebasing: buffer[p..<(2 * p)])
            var scale = 1.0
            for i in 0..<p {
                scale /= stabilityRadius
                c[i] = -coefficients[i] * scale
            }
            var m = p
            while m > 0 {
                let k = c[m - 1]
                guard k.isFinite, abs(k) < 1 else { return true }
                let denominator = 1 - k * k
                for i in 0..<(m - 1) { next[i] = (c[i] - k * c[m - 2 - i]) / denominator }
                for i in 0..<(m - 1) { c[i] = next[i] }
                m -= 1
            }
            return false
        }
    }

    /// The fitted model in data units: z(t) = intercept + Σ coefficients[i−1]·z(t−i).
    var fittedCoefficients: (intercept: Double, coefficients: [Double]) {
        (coefficients[0] * scale, Array(coefficients[1...]))
    }

    /// Prediction of the next z from the current regressors (scaled units).
    @inline(__always)
    private func predictScaledDifference() -> Double {
        var value = coefficients[0]
        for i in 1...order { value += coefficients[i] * differences[age: i - 1] * inverseScale }
        return value
    }

    @inline(__always)
    private var seasonalBase: Double {
        differencingLag == 0 ? 0 : levels[age: differencingLag - 1]
    }

    func oneStepForecast() -> Double {
        seasonalBase + predictScaledDifference() * scale
    }

    mutating func observe(_ y: Double) {
        defer {
            levels.push(y)
            seen += 1
        }
        // z needs y(t−s): nothing to difference during the first s observations.
        guard seen >= differencingLag else { return }
        let z = y - seasonalBase
        if differences.count == order {
            if fitted == 0 { fixScale() }
            update(target: z * inverseScale)
            fitted += 1
            if fitted >= settleObservations {
                explosive = coefficients.withUnsafeBufferPointer { Self.isExplosive(UnsafeBufferPointer(rebasing: $0[1...])) }
            }
        }
        differences.push(z)
    }

    private mutating func fixScale() {
        var sum = 0.0
        for age in 0..<order { sum += abs(differences[age: age]) }
        let meanAbs = sum / Double(order)
        scale = meanAbs > 0 && meanAbs.isFinite ? meanAbs : 1
        inverseScale = 1 / scale
    }

    /// One recursive-least-squares step: θ += K·(target − θᵀx), P = (P − K·xᵀP)/λ.
    private mutating func update(target: Double) {
        let k = order + 1
        let forgetting = self.forgetting
        // The regressors are written here, before the buffer closures below: reading the
        // differences ring inside them would need a copy of it (a retain and a release per
        // observation).
        regressor[0] = 1
        for i in 1..<k { regressor[i] = differences[age: i - 1] * inverseScale }
        // Raw buffers: a handful of k×k loops per observation, where copy-on-write checks on
        // every element write would cost more than the arithmetic.
        regressor.withUnsafeMutableBufferPointer { x in
            gain.withUnsafeMutableBufferPointer { gain in
                coefficients.withUnsafeMutableBufferPointer { theta in
                    covariance.withUnsafeMutableBufferPointer { p in
                        var denominator = forgetting
                        var prediction = 0.0
                        for r in 0..<k {
                            var sum = 0.0
                            for c in 0..<k { sum += p[r &* k &+ c] * x[c] }
                            gain[r] = sum                          // P·x for now
                            denominator += x[r] * sum
                            prediction += theta[r] * x[r]
                        }
                        let error = target - prediction
                        for r in 0..<k {
                            gain[r] /= denominator
                            theta[r] += gain[r] * error
                        }
                        // P is symmetric, so xᵀP = (P·x)ᵀ = denominator·Kᵀ.
                        var largest = 0.0
                        for r in 0..<k {
                            for c in 0..<k { p[r &* k &+ c] -= gain[r] * gain[c] * denominator }
                            largest = max(largest, p[r &* k &+ r])
                        }
                        if largest < Self.maximumVariance {
                            let inverseForgetting = 1 / forgetting
                            for i in 0..<(k * k) { p[i] *= inverseForgetting }
                        }
                    }
                }
            }
        }
    }

    func forecast(into out: UnsafeMutableBufferPointer<Double>) {
        let horizon = out.count
        // Pass 1: the z path (raw units), reading earlier steps of the path where needed.
        for i in 0..<horizon {
            var value = coefficients[0]
            for lag in 1...order {
                let back = i - lag            // index into the path; < 0 means observed history
                let z = back >= 0 ? out[back] : differences[age: -back - 1]
                value += coefficients[lag] * z * inverseScale
            }
            out[i] = value * scale
        }
        guard differencingLag > 0 else { return }
        // Pass 2: undo the differencing in step order, so y(t+h−s) is ready when h > s.
        for i in 0..<horizon {
            let back = i - differencingLag
            out[i] += back >= 0 ? out[back] : levels[age: -back - 1]
        }
    }
}
