/// The per-observation machinery behind `ForecastEnsemble`. Its buffers are fixed at init
/// (see `allocateFixed`), so the hot path neither allocates nor pays copy-on-write checks.
///
/// Per observation, in bounded work that does not grow with history and without allocating:
/// 1. score the forecasts issued 1…H observations ago against the new actual (members'
///    residuals, the ensemble's residuals, coverage of the ensemble's intervals);
/// 2. update every model;
/// 3. issue each warm member's forecasts for steps 1…H;
/// 4. combine them: point = Σ wₘ·ŷₘ / Σ wₘ over the warm members, with wₘ ∝ (min MSE / MSEₘ)^k
///    over a sliding window of that step's errors (the weights recomputed every
///    `weighting.refreshInterval` observations), and 80%/95% bounds from the ensemble's own
///    step-h residuals (`IntervalEstimator`: empirical quantiles, kept honest while there are
///    few); a step with fewer than `minimumResiduals` borrows the longest shorter step's
///    bounds × √(h / h′).
///
/// Issued forecasts live in rings indexed by issue count mod H (issue count c = observations
/// seen when issued; step h of issue c targets observation c + h − 1), so scoring needs no
/// search. NaN marks "nothing issued".
///
/// Thread-safety: not thread-safe; owned by one `ForecastEnsemble`.
final class EnsembleState {
    static let memberCount = ModelSet.Member.allCases.count
    /// Values stored per issued ensemble step: point, lower80, upper80, lower95, upper95 (the
    /// issued, adaptively calibrated bounds), then the same four bounds at the nominal levels
    /// (what the alert scores).
    static let ensembleFields = 9

    let horizon: Int
    let periods: [Int]
    private let minimumResiduals: Int
    private let minimumWeightSamples: Int
    private let weightExponent: Int
    let estimator: IntervalEstimator
    private let scaleFloor: Double
    private let relativeScaleFloor: Double
    /// Memory of the variability averages below, in observations.
    private let variabilityWindow: Int
    private let inverseVariabilityWindow: Double
    /// Running means (exact over the first `variabilityWindow` observations, then exponential)
    /// of |y(t) − y(t−1)| and of |y(t)|, for the interval floor.
    private var meanAbsoluteChange = 0.0
    private var meanAbsoluteLevel = 0.0
    private var lastValue = 0.0

    private let models: ModelSet
    private(set) var observationCount = 0
    /// [slot][member][step]
    private let issued: UnsafeMutableBufferPointer<Double>
    /// Rows member·H + (step − 1).
    let memberResiduals: ResidualWindows
    /// [slot][step][field]
    private let ensembleIssued: UnsafeMutableBufferPointer<Double>
    /// One window per step.
    private let ensembleResiduals: SlidingQuantiles
    /// Coverage of the issued intervals.
    let monitor: CoverageMonitor
    /// Coverage of the nominal-level intervals, for the alert: adaptive calibration keeps the
    /// issued intervals' miss rate near nominal even when the errors change, so a test on them
    /// would stay quiet; a test on the nominal-level intervals still says "the errors are no
    /// longer what the residual window describes".
    let alertMonitor: CoverageMonitor
    /// Per step, the miss rates its 80 % / 95 % intervals are built for (adaptive conformal).
    private let coverageTargets: CoverageTargets
    /// [step − 1][member]: the combination weights, recomputed from the rows' windows every
    /// `refreshInterval` observations (`refreshWeights`). Between refreshes the windows move by
    /// a few errors of `weighting.window`; the refresh is what costs (a division and a power
    /// per member and step), the weighted mean at every observation does not.
    private let weights: UnsafeMutableBufferPointer<Double>
    private let refreshInterval: Int
    /// Observations until the next refresh (0: refresh before the next combination).
    private var untilRefresh = 0
    /// Per step, the nominal-level bounds before the floor, and the generation of the step's
    /// residual window they were read from: the window changes once per batch, the floor at
    /// every observation, so the quantiles are re-read only when the window changed.
    private let nominalUnfloored: UnsafeMutableBufferPointer<IntervalEstimator.Bounds>
    private let nominalGeneration: UnsafeMutableBufferPointer<Int>

    init(periods: [Int], options: ForecastOptions) {
        horizon = options.horizon
        self.periods = periods
        minimumResiduals = options.intervals.minimumResiduals
        minimumWeightSamples = options.weighting.minimumSamples
        weightExponent = options.weighting.exponent
        refreshInterval = options.weighting.refreshInterval
        estimator = IntervalEstimator()
        scaleFloor = options.intervals.scaleFloor
        relativeScaleFloor = options.intervals.relativeScaleFloor
        variabilityWindow = options.intervals.residualWindow
        inverseVariabilityWindow = 1 / Double(options.intervals.residualWindow)
        models = ModelSet(periods: periods, grids: options.grids, horizon: options.horizon)
        let m = Self.memberCount
        issued = allocateFixed(horizon * m * horizon, Double.nan)
        memberResiduals = ResidualWindows(rows: m * horizon, capacity: options.intervals.residualWindow,
                                          weightWindow: options.weighting.window)
        ensembleIssued = allocateFixed(horizon * horizon * Self.ensembleFields, Double.nan)
        ensembleResiduals = SlidingQuantiles(windows: horizon, capacity: options.intervals.residualWindow,
                                             growing: true)
        monitor = CoverageMonitor(horizon: horizon, options: options.alert)
        alertMonitor = CoverageMonitor(horizon: horizon, options: options.alert)
        coverageTargets = CoverageTargets(horizon: horizon, rate: options.intervals.coverageAdaptationRate)
        weights = allocateFixed(horizon * m, 1.0)
        nominalUnfloored = allocateFixed(horizon, IntervalEstimator.Bounds(lower80: 0, upper80: 0, lower95: 0, upper95: 0))
        nominalGeneration = allocateFixed(horizon, -1)
    }

    deinit {
        releaseFixed(issued)
        releaseFixed(ensembleIssued)
        releaseFixed(weights)
        releaseFixed(nominalUnfloored)
        releaseFixed(nominalGeneration)
    }

    /// Slot of the forecasts issued after the latest observation: observationCount mod H, kept
    /// incrementally so that scoring needs no integer division (tens of cycles each) per step.
    private(set) var currentSlot = 0

    /// Ensemble step `step` (1-based) issued at `slot`: point, and bounds (NaN when none).
    func ensembleIssue(slot: Int, step: Int) -> (point: Double, lower80: Double, upper80: Double,
                                                  lower95: Double, upper95: Double) {
        let b = (slot * horizon + step - 1) * Self.ensembleFields
        return (ensembleIssued[b], ensembleIssued[b + 1], ensembleIssued[b + 2], ensembleIssued[b + 3],
                ensembleIssued[b + 4])
    }

    /// Every interval is at least 2·z times this wide (series unit): the larger of
    /// `scaleFloor` × the σ implied by the mean absolute successive difference (E|Δy| = 2σ/√π
    /// for white noise) and `relativeScaleFloor` × the mean |y|.
    var floorScale: Double {
        max(scaleFloor * meanAbsoluteChange * (Double.pi.squareRoot() / 2), relativeScaleFloor * meanAbsoluteLevel)
    }

    /// Member forecast issued at `slot` for `step` (NaN when the member was not warm).
    func memberIssue(slot: Int, member: Int, step: Int) -> Double {
        issued[(slot * Self.memberCount + member) * horizon + step - 1]
    }

    func absorb(_ y: Double) {
        let t = observationCount
        let m = Self.memberCount
        let fields = Self.ensembleFields

        // 1. Score forecasts issued h observations ago (issue count t − h + 1) for this actual.
        var slot = currentSlot                  // (t − h + 1) mod H, from h = 1 down
        for h in 1...horizon {
            let c = t - h + 1
            if c < 1 { break }
            defer { slot = slot == 0 ? horizon &- 1 : slot &- 1 }
            let memberForecasts = issued.baseAddress! + (slot &* m &* horizon &+ h &- 1)
            for member in 0..<m {
                let residual = y - memberForecasts[member &* horizon]
                if residual.isFinite { memberResiduals.push(row: member &* horizon &+ (h &- 1), residual: residual) }
            }
            let e = ensembleIssued.baseAddress! + (slot &* horizon &+ h &- 1) &* fields
            let residual = y - e[0]
            guard residual.isFinite else { continue }
            ensembleResiduals.push(h &- 1, residual)
            if !e[1].isNaN {
                let inside80 = e[1] <= y && y <= e[2]
                let inside95 = e[3] <= y && y <= e[4]
                monitor.record(step: h, levelIndex: 0, inside: inside80)
                monitor.record(step: h, levelIndex: 1, inside: inside95)
                coverageTargets.record(step: h, inside80: inside80, inside95: inside95)
                alertMonitor.record(step: h, levelIndex: 0, inside: e[5] <= y && y <= e[6])
                alertMonitor.record(step: h, levelIndex: 1, inside: e[7] <= y && y <= e[8])
            }
        }

        // 2. Update every model, and the variability the interval floor is scaled by.
        models.observe(y)
        if t >= variabilityWindow {
            meanAbsoluteChange += (abs(y - lastValue) - meanAbsoluteChange) * inverseVariabilityWindow
            meanAbsoluteLevel += (abs(y) - meanAbsoluteLevel) * inverseVariabilityWindow
        } else {
            if t > 0 { meanAbsoluteChange += (abs(y - lastValue) - meanAbsoluteChange) / Double(t) }
            meanAbsoluteLevel += (abs(y) - meanAbsoluteLevel) / Double(t &+ 1)
        }
        lastValue = y
        observationCount = t + 1
        currentSlot = currentSlot &+ 1 == horizon ? 0 : currentSlot &+ 1

        // 3. Issue member forecasts.
        slot = currentSlot
        for raw in 0..<m {
            let member = ModelSet.Member(rawValue: raw).unsafelyUnwrapped
            let row = issued.baseAddress! + (slot &* m &+ raw) &* horizon
            if models.isWarm(member) {
                models.forecast(member, into: UnsafeMutableBufferPointer(start: row, count: horizon))
            } else {
                row.update(repeating: .nan, count: horizon)
            }
        }

        // 4. Combine them and attach the ensemble's own intervals.
        if untilRefresh == 0 {
            refreshWeights(slot: slot)
            untilRefresh = refreshInterval
        }
        untilRefresh &-= 1
        let floor = floorScale
        var anchorStep = 0                      // longest step so far with its own bounds
        var anchor = IntervalEstimator.Bounds(lower80: 0, upper80: 0, lower95: 0, upper95: 0)
        var nominalAnchor = anchor
        for h in 1...horizon {
            let point = combine(slot: slot, step: h)
            let base = (slot * horizon + h - 1) * fields
            ensembleIssued[base] = point
            let sample = ensembleResiduals.sample(h - 1)
            var bounds = anchor
            var nominal = nominalAnchor
            if sample.count >= minimumResiduals {
                let target = coverageTargets.misses(step: h)
                anchor = estimator.bounds(sorted: sample, floorScale: floor, miss80: target.miss80,
                                          miss95: target.miss95)
                nominalAnchor = estimator.floored(nominalQuantiles(step: h, sample: sample), floorScale: floor)
                anchorStep = h
                bounds = anchor
                nominal = nominalAnchor
            } else if anchorStep > 0 {
                let stretch = (Double(h) / Double(anchorStep)).squareRoot()
                bounds = anchor.scaled(by: stretch)
                nominal = nominalAnchor.scaled(by: stretch)
            }
            if !point.isNaN && anchorStep > 0 {
                ensembleIssued[base + 1] = point + bounds.lower80
                ensembleIssued[base + 2] = point + bounds.upper80
                ensembleIssued[base + 3] = point + bounds.lower95
                ensembleIssued[base + 4] = point + bounds.upper95
                ensembleIssued[base + 5] = point + nominal.lower80
                ensembleIssued[base + 6] = point + nominal.upper80
                ensembleIssued[base + 7] = point + nominal.lower95
                ensembleIssued[base + 8] = point + nominal.upper95
            } else {
                for f in 1..<fields { ensembleIssued[base + f] = .nan }
            }
        }
    }

    /// The nominal-level bounds of step `h` before the floor, from `sample` (that step's
    /// residual window), re-read only when the window changed since the last call.
    @inline(__always)
    private func nominalQuantiles(step h: Int, sample: UnsafeBufferPointer<Double>) -> IntervalEstimator.Bounds {
        let generation = ensembleResiduals.generation(h &- 1)
        if nominalGeneration[h &- 1] != generation {
            nominalUnfloored[h &- 1] = estimator.unfloored(sorted: sample)
            nominalGeneration[h &- 1] = generation
        }
        return nominalUnfloored[h &- 1]
    }

    /// Recomputes every step's member weights from the rows' windows: wₘ = (best MSE / MSEₘ)^k
    /// among the members that are warm (forecast issued at `slot`) and have
    /// `minimumWeightSamples` errors; the others get 0. Until some member has that many, every
    /// member gets 1 and `combine` averages the warm ones.
    private func refreshWeights(slot: Int) {
        let m = Self.memberCount
        for h in 1...horizon {
            let forecasts = issued.baseAddress! + (slot &* m &* horizon &+ h &- 1)   // stride: horizon
            let row = weights.baseAddress! + (h &- 1) &* m
            var bestMSE = Double.infinity
            var eligible = false
            // First pass: each ready member's MSE into its slot of the table (−1: not ready),
            // so the division is done once per member.
            for member in 0..<m {
                guard isReady(member, step: h, forecasts) else { row[member] = -1; continue }
                let mse = memberResiduals.meanSquaredError(row: member &* horizon &+ h &- 1)
                row[member] = mse
                eligible = true
                bestMSE = min(bestMSE, mse)
            }
            for member in 0..<m {
                guard eligible else { row[member] = 1; continue }
                let mse = row[member]
                guard mse >= 0 else { row[member] = 0; continue }
                if bestMSE == 0 {
                    row[member] = mse == 0 ? 1 : 0
                } else {
                    row[member] = integerPower(bestMSE / mse, weightExponent)
                }
            }
        }
    }

    /// Whether `member` has a step-`h` forecast at this issue and enough errors for a weight.
    @inline(__always)
    private func isReady(_ member: Int, step h: Int, _ forecasts: UnsafeMutablePointer<Double>) -> Bool {
        !forecasts[member &* horizon].isNaN
            && memberResiduals.weightSamples(row: member &* horizon &+ h &- 1) >= minimumWeightSamples
    }

    /// Weighted mean of the members' step-`h` forecasts issued at `slot` (the weights of the
    /// last refresh; a member without a forecast at this issue is left out).
    @inline(__always)
    private func combine(slot: Int, step h: Int) -> Double {
        let m = Self.memberCount
        let forecasts = issued.baseAddress! + (slot &* m &* horizon &+ h &- 1)   // stride: horizon
        let row = weights.baseAddress! + (h &- 1) &* m
        var weightSum = 0.0
        var total = 0.0
        for member in 0..<m {
            let f = forecasts[member &* horizon]
            guard !f.isNaN else { continue }
            let w = row[member]
            weightSum += w
            total += w * f
        }
        return weightSum > 0 ? total / weightSum : .nan
    }
}

/// Adaptive conformal inference (Gibbs & Candès, NeurIPS 2021), per forecast step and level:
/// the miss rate an interval is built for moves after every scored interval,
/// missₜ₊₁ = missₜ + γ·(nominal − outsideₜ), so a run of misses narrows the quantile pair
/// read from the residual window (wider interval) and a run of hits widens it back. Over any
/// stretch of T scored intervals the realised miss rate is within (max − min target)/(γT) of
/// nominal whatever the series does — the guarantee the plain residual window lacks when the
/// noise changes (a holiday, a level shift, counts whose spread grows with the rate).
/// Targets are clamped to [nominal/10, 2·nominal]; γ = 0 leaves them at the nominal rate.
///
/// Thread-safety: not thread-safe; owned by one `EnsembleState`.
final class CoverageTargets {
    static let nominal80 = 0.2
    static let nominal95 = 0.05
    private let rate: Double
    /// [step − 1][level]: the current target miss rates.
    private let targets: UnsafeMutableBufferPointer<Double>

    init(horizon: Int, rate: Double) {
        self.rate = rate
        targets = allocateFixed(horizon * 2, 0.0)
        for h in 0..<horizon {
            targets[2 * h] = Self.nominal80
            targets[2 * h + 1] = Self.nominal95
        }
    }

    deinit { releaseFixed(targets) }

    @inline(__always)
    func misses(step h: Int) -> (miss80: Double, miss95: Double) {
        (targets[2 &* (h &- 1)], targets[2 &* (h &- 1) &+ 1])
    }

    @inline(__always)
    func record(step h: Int, inside80: Bool, inside95: Bool) {
        let i = 2 &* (h &- 1)
        targets[i] = Self.adapted(targets[i], nominal: Self.nominal80, inside: inside80, rate: rate)
        targets[i &+ 1] = Self.adapted(targets[i &+ 1], nominal: Self.nominal95, inside: inside95, rate: rate)
    }

    @inline(__always)
    private static func adapted(_ target: Double, nominal: Double, inside: Bool, rate: Double) -> Double {
        let moved = target + rate * (nominal - (inside ? 0 : 1))
        return min(2 * nominal, max(nominal / 10, moved))
    }
}

/// xⁿ by squaring (n ≥ 0): two multiplications for the default n = 4, where pow() would cost
/// more than the rest of the weighting and a plain loop is a chain of n dependent products.
/// The common exponents are unrolled: the loop's data-dependent branches cost more than the
/// products in the ensemble's combine, which calls this for every member and step.
@inline(__always)
func integerPower(_ x: Double, _ n: Int) -> Double {
    switch n {
    case 4: let x2 = x * x; return x2 * x2
    case 2: return x * x
    case 1: return x
    default: break
    }
    var result = 1.0
    var base = x
    var e = n
    while e > 0 {
        if e & 1 == 1 { result *= base }
        base *= base
        e >>= 1
    }
    return result
}
