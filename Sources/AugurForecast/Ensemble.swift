/// Online load forecaster for one series: feeds every observation to a set of model families
/// (seasonal naive, EWMA, damped Holt, Holt-Winters with one or two seasons and an AR(1)
/// residual term, seasonally differenced AR(p) by RLS), each racing a small parameter grid,
/// and combines their forecasts with weights that follow each member's recent error. Each
/// observation costs bounded work independent of history and allocates nothing (see
/// `EnsembleState`); `forecast()` only reads what the last observation issued.
///
///     var options = ForecastOptions()
///     options.horizon = 4
///     options.seasonalPeriods = [48, 336]            // or leave empty to detect
///     let forecaster = try ForecastEnsemble(options: options)
///     try forecaster.observe(opsPerSecond)           // once per sampling interval
///     let next = try forecaster.forecast()           // steps 1…4: point + 80/95% bounds
///     if forecaster.alert.isRaised { /* intervals are not trustworthy right now */ }
///
/// Without configured periods, the first `PeriodDetectionOptions.history` observations are
/// buffered, periods are detected from their autocorrelation, and the models are built and
/// replayed over that history (a one-off cost); until then `forecast()` throws
/// `.insufficientHistory`.
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

    private var state: EnsembleState?
    private var detectionBuffer: ContiguousArray<Double> = []

    /// Throws the first invalid option (see `ForecastOptions.validate()`).
    public init(options: ForecastOptions) throws(ForecastError) {
        try options.validate()
        self.options = options
        if options.seasonalPeriods.isEmpty {
            detectionBuffer.reserveCapacity(options.periodDetection.history)
        } else {
            state = EnsembleState(periods: options.seasonalPeriods.sorted(), options: options)
        }
    }

    /// Observations absorbed so far.
    public var observationCount: Int { state?.observationCount ?? detectionBuffer.count }

    /// Seasonal periods in use (configured or detected; empty if none were found); nil while
    /// still collecting history to detect them.
    public var seasonalPeriods: [Int]? { state?.periods }

    /// Absorbs the next observation. Throws `.nonFinite` (and changes nothing) for NaN or ±∞.
    public func observe(_ value: Double) throws(ForecastError) {
        guard value.isFinite else { throw .nonFinite(index: observationCount, value: value) }
        if let state {
            state.absorb(value)
            return
        }
        detectionBuffer.append(value)
        if detectionBuffer.count == options.periodDetection.history { startFromDetectionBuffer() }
    }

    /// Absorbs observations in order; stops at the first non-finite one, reporting its 0-based
    /// index in the whole series.
    public func observe(contentsOf values: some Sequence<Double>) throws(ForecastError) {
        for value in values { try observe(value) }
    }

    /// The ensemble's forecast for steps 1…H after the observations seen so far.
    /// Throws `.emptySeries` before the first observation and `.insufficientHistory` while
    /// periods are still being detected.
    public func forecast() throws(ForecastError) -> LoadForecast {
        guard observationCount > 0 else { throw .emptySeries }
        guard let state else {
            throw .insufficientHistory(count: observationCount, required: options.periodDetection.history)
        }
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
        guard let state, state.observationCount > 0 else { return [] }
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

    /// All-time and recent coverage of the ensemble's intervals, per step and level (empty
    /// while periods are still being detected).
    public var coverage: [IntervalCoverage] { state?.monitor.coverage ?? [] }

    /// Raised while actuals leave the ensemble's intervals significantly more often than the
    /// nominal 20% / 5% over the last `AlertOptions.window` forecasts of some step.
    public var alert: ForecastAlert { state?.monitor.alert ?? ForecastAlert(breaches: []) }

    /// One-off: detect periods on the buffered history, build the models and replay it.
    private func startFromDetectionBuffer() {
        let periods = PeriodDetection.detect(detectionBuffer, options: options.periodDetection)
        let fresh = EnsembleState(periods: periods, options: options)
        for value in detectionBuffer { fresh.absorb(value) }
        state = fresh
        detectionBuffer = []
    }
}
