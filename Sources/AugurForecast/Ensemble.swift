/// Online load forecaster for one series: feeds every observation to a set of model families
/// (seasonal naive, EWMA, damped Holt, Holt-Winters with one or two seasons and an AR(1)
/// residual term on the series and on its logarithm, seasonally differenced AR(p) by RLS),
/// each racing a small parameter grid, and combines their forecasts with weights that follow
/// each member's recent error; interval levels are recalibrated online (`CoverageTargets`). Each
/// observation costs bounded work independent of history and, once the periods are settled
/// (configured, or after `periodDetection.history` observations), allocates nothing (see
/// `EnsembleState`); `forecast()` only reads what the last observation issued.
///
///     var options = ForecastOptions()
///     options.horizon = 4
///     options.seasonalPeriods = [48, 336]            // or leave empty to detect
///     let forecaster = try ForecastEnsemble(options: options)
///     try forecaster.observe(opsPerSecond)           // once per sampling interval
///     let next = try forecaster.forecast()           // from the 1st observation: steps 1…4,
///                                                    // 80/95% bounds from the 9th
///     if forecaster.alert.isRaised { /* intervals are not trustworthy right now */ }
///
/// Warm-up: the ensemble forecasts from the first observation. Members join as their history
/// allows (EWMA and naive after one observation, damped Holt after two, AR after its settling
/// period), equal-weighted until they have `weighting.minimumSamples` errors; intervals appear
/// once step 1 has `intervals.minimumResiduals` residuals, widened while those are few (see
/// `IntervalEstimator`). Configured periods give the seasonal members from the start. Without
/// them, periods are detected from the history buffered so far at checkpoints of growing
/// length (`PeriodDetectionOptions`); a period found at two checkpoints in a row is adopted —
/// the models are rebuilt with it and the buffered history is replayed into them (a one-off,
/// O(history)) — and the check at `periodDetection.history` observations is final.
///
/// Seeding: a new series that continues an old one (a partition split off another) can be
/// given the old one's recent history, `ForecastEnsemble(options:history:)`.
///
/// Thread-safety: not thread-safe. One series per instance; confine each instance to one
/// thread or actor (it is deliberately not `Sendable`).
public final class ForecastEnsemble {
    /// Names of the members, in the order `memberForecasts()` reports them.
    public static let memberNames = ModelSet.Member.allCases.map(\.name)
    /// Name used for the combined forecast.
    public static let ensembleName = "ensemble"

    /// The options this ensemble was built with.
    public let options: ForecastOptions

    private var state: EnsembleState
    /// Every observation so far while periods may still change (reserved once, at init, to
    /// `periodDetection.history`; released when detection ends).
    private var detectionBuffer: ContiguousArray<Double> = []
    private var detecting: Bool
    /// Buffered history at which periods are checked next.
    private var nextCheck: Int
    /// What the previous checkpoint found (a change is adopted only when found twice in a row).
    private var previousDetection: [Int]?

    /// Throws the first invalid option (see `ForecastOptions.validate()`).
    public init(options: ForecastOptions) throws(ForecastError) {
        try options.validate()
        self.options = options
        state = EnsembleState(periods: options.seasonalPeriods.sorted(), options: options)
        detecting = options.seasonalPeriods.isEmpty
        nextCheck = min(options.periodDetection.firstCheck, options.periodDetection.history)
        if detecting { detectionBuffer.reserveCapacity(options.periodDetection.history) }
    }

    /// An ensemble that has already absorbed `history`, oldest first — the same state as
    /// `init(options:)` followed by `observe(contentsOf: history)`. Costs about 1 µs per value
    /// plus, without configured periods, the detection checkpoints the history passes.
    /// Throws an invalid option, or `.nonFinite` naming the first bad value's index.
    public convenience init(options: ForecastOptions, history: some Sequence<Double>) throws(ForecastError) {
        try self.init(options: options)
        try observe(contentsOf: history)
    }

    /// Observations absorbed so far.
    public var observationCount: Int { state.observationCount }

    /// Seasonal periods the seasonal members use now: the configured ones, or those detected
    /// so far (empty until one is found). See `isDetectingPeriods`.
    public var seasonalPeriods: [Int] { state.periods }

    /// True while periods are still being detected (none configured and fewer than
    /// `periodDetection.history` observations): `seasonalPeriods` may still change.
    public var isDetectingPeriods: Bool { detecting }

    /// Whether the latest forecast carries prediction intervals (every step has them once
    /// step 1 has `intervals.minimumResiduals` residuals).
    public var hasIntervals: Bool {
        state.observationCount > 0 && !state.ensembleIssue(slot: state.currentSlot, step: 1).lower80.isNaN
    }

    /// Absorbs the next observation. Throws `.nonFinite` (and changes nothing) for NaN or ±∞.
    /// Bounded work: O(1) and allocation-free, except at a detection checkpoint while periods
    /// are detected (O(n · n / minimumCycles) for n ≤ `periodDetection.history` buffered values,
    /// plus an O(n) replay when the periods change).
    public func observe(_ value: Double) throws(ForecastError) {
        guard value.isFinite else { throw .nonFinite(index: observationCount, value: value) }
        state.absorb(value)
        guard detecting else { return }
        detectionBuffer.append(value)
        if detectionBuffer.count >= nextCheck { checkPeriods() }
    }

    /// Absorbs observations in order; stops at the first non-finite one, reporting its 0-based
    /// index in the whole series.
    public func observe(contentsOf values: some Sequence<Double>) throws(ForecastError) {
        for value in values { try observe(value) }
    }

    /// The ensemble's forecast for steps 1…H after the observations seen so far.
    /// Throws `.emptySeries` before the first observation.
    public func forecast() throws(ForecastError) -> LoadForecast {
        guard observationCount > 0 else { throw .emptySeries }
        let slot = state.currentSlot
        var steps: [ForecastStep] = []
        steps.reserveCapacity(state.horizon)
        for h in 1...state.horizon {
            let e = state.ensembleIssue(slot: slot, step: h)
            steps.append(ForecastStep(
                step: h, point: e.point,
                interval80: e.lower80.isNaN ? nil : PredictionInterval(level: 0.8, lower: e.lower80, upper: e.upper80),
                interval95: e.lower95.isNaN ? nil : PredictionInterval(level: 0.95, lower: e.lower95, upper: e.upper95)))
        }
        return LoadForecast(model: Self.ensembleName, observationCount: state.observationCount, steps: steps)
    }

    /// Each warm member's forecast for steps 1…H, with intervals from its own residuals.
    /// Costs O(members · H · W log W) (sorting residual windows): for diagnostics and backtests.
    public func memberForecasts() -> [LoadForecast] {
        guard state.observationCount > 0 else { return [] }
        let slot = state.currentSlot
        let floorScale = state.floorScale
        var scratch = ContiguousArray<Double>()
        scratch.reserveCapacity(options.intervals.residualWindow)
        var result: [LoadForecast] = []
        for member in ModelSet.Member.allCases {
            let m = member.rawValue
            guard !state.memberIssue(slot: slot, member: m, step: 1).isNaN else { continue }
            var steps: [ForecastStep] = []
            var anchor: (step: Int, bounds: IntervalEstimator.Bounds)?
            for h in 1...state.horizon {
                let point = state.memberIssue(slot: slot, member: m, step: h)
                if let own = state.memberResiduals.bounds(row: m * state.horizon + h - 1,
                                                          minimum: options.intervals.minimumResiduals,
                                                          estimator: state.estimator, floorScale: floorScale,
                                                          scratch: &scratch) {
                    anchor = (h, own)
                }
                let bounds = anchor.map { $0.bounds.scaled(by: (Double(h) / Double($0.step)).squareRoot()) }
                steps.append(ForecastStep(
                    step: h, point: point,
                    interval80: bounds.map { PredictionInterval(level: 0.8, lower: point + $0.lower80, upper: point + $0.upper80) },
                    interval95: bounds.map { PredictionInterval(level: 0.95, lower: point + $0.lower95, upper: point + $0.upper95) }))
            }
            result.append(LoadForecast(model: member.name, observationCount: state.observationCount, steps: steps))
        }
        return result
    }

    /// All-time and recent coverage of the ensemble's intervals, per step and level. (When
    /// detected periods are adopted the history is replayed, and so is its coverage.)
    public var coverage: [IntervalCoverage] { state.monitor.coverage }

    /// Raised while actuals leave the ensemble's intervals significantly more often than the
    /// nominal 20% / 5% over the last `AlertOptions.window` forecasts of some step — scored on
    /// the intervals at the nominal quantiles of the residual window, before the adaptive
    /// calibration (`IntervalOptions.coverageAdaptationRate`) moves them: the issued intervals
    /// keep their coverage through a change of regime, but the change is still news.
    public var alert: ForecastAlert { state.alertMonitor.alert }

    /// A detection checkpoint: detect on the buffered history; adopt a change found at two
    /// checkpoints in a row, or at the final one; schedule the next checkpoint.
    private func checkPeriods() {
        let detection = options.periodDetection
        let count = detectionBuffer.count
        let isFinal = count >= detection.history
        let found = PeriodDetection.detect(detectionBuffer, options: detection)
        if found != state.periods && (isFinal || found == previousDetection) {
            adopt(found)
        }
        previousDetection = found
        if isFinal {
            detecting = false
            detectionBuffer = []
            previousDetection = nil
        } else {
            let grown = Int((Double(count) * detection.checkGrowth).rounded(.up))
            nextCheck = min(detection.history, max(count + 1, grown))
        }
    }

    /// One-off: rebuild the models with `periods` and replay the buffered history into them.
    private func adopt(_ periods: [Int]) {
        let fresh = EnsembleState(periods: periods, options: options)
        for value in detectionBuffer { fresh.absorb(value) }
        state = fresh
    }
}
