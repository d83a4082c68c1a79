/// Everything a `ForecastEnsemble` can be tuned with. Defaults suit a load series sampled at
/// a fixed rate (e.g. half-hourly) with daily and weekly cycles; every field is in
/// observations (steps) unless it says otherwise.
///
/// Thread-safety: a plain value; `Sendable`.
public struct ForecastOptions: Sendable, Equatable {
    /// Largest horizon accepted, in steps.
    public static let maximumHorizon = 4096
    /// Largest seasonal period accepted, in observations (bounds per-series memory).
    public static let maximumPeriod = 1 << 16

    /// Steps forecast ahead, in observations. Default 4.
    public var horizon = 4
    /// Seasonal periods in observations, at most two, each ≥ 2 (e.g. `[48, 336]` for daily
    /// and weekly cycles of half-hourly data); the seasonal members forecast after one period.
    /// Default empty: forecast with the non-seasonal members from the first observation and
    /// detect periods from the autocorrelation of the history as it grows (see
    /// `PeriodDetectionOptions`).
    public var seasonalPeriods: [Int] = []
    /// How periods are detected when `seasonalPeriods` is empty.
    public var periodDetection = PeriodDetectionOptions()
    /// Prediction interval estimation.
    public var intervals = IntervalOptions()
    /// Ensemble weighting.
    public var weighting = EnsembleWeightingOptions()
    /// Forecast-error alert.
    public var alert = AlertOptions()
    /// Parameter grids raced by each model family.
    public var grids = ModelGridOptions()

    public init() {}

    /// Throws the first invalid option found.
    public func validate() throws(ForecastError) {
        guard (1...Self.maximumHorizon).contains(horizon) else {
            throw .invalidHorizon(horizon: horizon, minimum: 1, maximum: Self.maximumHorizon)
        }
        guard seasonalPeriods.count <= 2 else {
            throw .invalidOption(name: "seasonalPeriods.count", value: Double(seasonalPeriods.count),
                                 limit: "at most two seasonal periods")
        }
        for period in seasonalPeriods {
            guard period >= 2 else { throw .periodTooShort(period: period, minimum: 2) }
            guard period <= Self.maximumPeriod else {
                throw .invalidOption(name: "seasonalPeriods", value: Double(period),
                                     limit: "at most \(Self.maximumPeriod)")
            }
        }
        if seasonalPeriods.count == 2 && seasonalPeriods[0] == seasonalPeriods[1] {
            throw .invalidOption(name: "seasonalPeriods", value: Double(seasonalPeriods[1]),
                                 limit: "the two periods must differ")
        }
        try periodDetection.validate()
        try intervals.validate()
        try weighting.validate(residualWindow: intervals.residualWindow)
        try alert.validate()
        try grids.validate()
    }
}

/// Prediction-interval options.
///
/// Thread-safety: a plain value; `Sendable`.
public struct IntervalOptions: Sendable, Equatable {
    /// Residuals kept per model and per step for the empirical distribution, in observations.
    /// Default 672 (two weeks of half-hours): enough for a stable 2.5% tail (≈17 points). The
    /// ensemble's own window is merged in batches of residualWindow/16 (see `SlidingQuantiles`),
    /// so its quantiles lag the newest residuals by less than 1/16 of the window.
    public var residualWindow = 672
    /// Residuals a step needs before intervals are reported from them, in observations.
    /// Default 8. A longer step that has fewer borrows the intervals of the longest step that
    /// has enough, widened by √(h / h′), so every step has intervals once step 1 does.
    public var minimumResiduals = 8
    /// Floor on every interval's half-width, per unit of the normal quantile z (1.28 for 80%,
    /// 1.96 for 95%), as a fraction of the series' recent step-to-step variability σ̂ = mean
    /// |y(t) − y(t−1)| / 1.128 (the σ that difference implies for white noise). Dimensionless,
    /// default 0.1: far below the residual spread of the models on real load (it did not bind
    /// on the Taylor or NYC taxi series), high enough that identical early residuals do not
    /// give a zero-width interval.
    public var scaleFloor = 0.1
    /// The same floor as a fraction of the recent mean |y|, so a series that has not moved at
    /// all still gets a non-zero interval (only a series identically 0 gets zero width).
    /// Dimensionless, default 0.001.
    public var relativeScaleFloor = 0.001
    /// Step size γ of the adaptive conformal correction of the interval levels (see
    /// `CoverageTargets`): each scored interval moves its target miss rate by γ·(nominal −
    /// missed). 0 turns the correction off. Default 0.005 (Gibbs & Candès' choice: the
    /// realised miss rate over 1,000 intervals is within 0.04 of nominal for the 80 % level
    /// whatever the series). Valid range [0, 0.1].
    public var coverageAdaptationRate = 0.005

    public init() {}

    func validate() throws(ForecastError) {
        guard residualWindow >= 2 else {
            throw .invalidOption(name: "intervals.residualWindow", value: Double(residualWindow),
                                 limit: "must be at least 2 observations")
        }
        guard (2...residualWindow).contains(minimumResiduals) else {
            throw .invalidOption(name: "intervals.minimumResiduals", value: Double(minimumResiduals),
                                 limit: "must be between 2 and residualWindow (\(residualWindow))")
        }
        guard coverageAdaptationRate >= 0 && coverageAdaptationRate <= 0.1 else {
            throw .invalidOption(name: "intervals.coverageAdaptationRate", value: coverageAdaptationRate,
                                 limit: "must be in [0, 0.1]")
        }
        for (name, value) in [("scaleFloor", scaleFloor), ("relativeScaleFloor", relativeScaleFloor)] {
            guard value >= 0 && value <= 1 else {
                throw .invalidOption(name: "intervals.\(name)", value: value, limit: "must be in [0, 1]")
            }
        }
    }
}

/// How the ensemble weighs its members.
///
/// Thread-safety: a plain value; `Sendable`.
public struct EnsembleWeightingOptions: Sendable, Equatable {
    /// Sliding window of h-step errors each member's weight for step h is computed from, in
    /// observations. Default 96 (two days of half-hours). Must not exceed
    /// `IntervalOptions.residualWindow`.
    public var window = 96
    /// Weight ∝ (best MSE / member MSE)^exponent; dimensionless integer ≥ 0. Default 4:
    /// high enough that the ensemble leans on its best member when one is clearly better,
    /// while near-ties still average (0 gives equal weights).
    public var exponent = 4
    /// Errors a member needs in the window before it gets a weight, in observations. Default 8
    /// (until some member has that many, the warm members are averaged with equal weights).
    public var minimumSamples = 8
    /// Observations between two computations of the weights from the windows' errors; the
    /// weighted mean itself is taken at every observation. Default 4: a window of 96 errors
    /// moves by a twenty-fourth between refreshes, while each refresh costs a division and a
    /// power per member and step, and a division per window for its mean squared error (done
    /// at every observation, about a seventh of the ensemble's update). 1 refreshes at every
    /// observation, as before this option. Must be between 1 and `window`.
    public var refreshInterval = 4

    public init() {}

    func validate(residualWindow: Int) throws(ForecastError) {
        guard (1...residualWindow).contains(window) else {
            throw .invalidOption(name: "weighting.window", value: Double(window),
                                 limit: "must be between 1 and intervals.residualWindow (\(residualWindow))")
        }
        guard (0...16).contains(exponent) else {
            throw .invalidOption(name: "weighting.exponent", value: Double(exponent), limit: "must be between 0 and 16")
        }
        guard (1...window).contains(minimumSamples) else {
            throw .invalidOption(name: "weighting.minimumSamples", value: Double(minimumSamples),
                                 limit: "must be between 1 and weighting.window (\(window))")
        }
        guard (1...window).contains(refreshInterval) else {
            throw .invalidOption(name: "weighting.refreshInterval", value: Double(refreshInterval),
                                 limit: "must be between 1 and weighting.window (\(window))")
        }
    }
}

/// Forecast-error alert options.
///
/// Thread-safety: a plain value; `Sendable`.
public struct AlertOptions: Sendable, Equatable {
    /// Most recent scored forecasts per step the binomial test looks at, in observations.
    /// Default 192 (four days of half-hours).
    public var window = 192
    /// Probability, under calibrated intervals, of at least the observed number of misses that
    /// raises the alert (one-sided binomial test). Dimensionless, default 0.001: each step and
    /// level is tested at every observation, so a lax level would fire by chance.
    public var significance = 0.001

    public init() {}

    func validate() throws(ForecastError) {
        guard window >= 10 else {
            throw .invalidOption(name: "alert.window", value: Double(window), limit: "must be at least 10 observations")
        }
        guard significance > 0 && significance < 0.5 else {
            throw .invalidOption(name: "alert.significance", value: significance, limit: "must be in (0, 0.5)")
        }
    }
}

/// The parameter values each model family races (see `ModelGrid`). All smoothing weights are
/// dimensionless fractions in (0, 1].
///
/// Thread-safety: a plain value; `Sendable`.
public struct ModelGridOptions: Sendable, Equatable {
    /// Half-life of the exponentially weighted one-step squared error that picks each family's
    /// best member, in observations. Default 96.
    public var errorHalfLife = 96.0
    /// EWMA α values. Default [0.1, 0.3, 0.6, 1.0] (1.0 = last value).
    public var ewmaAlpha = [0.1, 0.3, 0.6, 1.0]
    /// Damped Holt level α values. Default [0.2, 0.5, 0.8].
    public var holtAlpha = [0.2, 0.5, 0.8]
    /// Damped Holt trend β values. Default [0.05, 0.2].
    public var holtBeta = [0.05, 0.2]
    /// Damped Holt damping φ values. Default [0.95].
    public var holtDamping = [0.95]
    /// Holt-Winters level α values. Default [0.02, 0.1] (Taylor 2003 fits α ≈ 0.01 on
    /// electricity demand; 0.1 follows a level shift within a day or two of steps).
    public var holtWintersAlpha = [0.02, 0.1]
    /// Holt-Winters first (short) season δ values. Default [0.02, 0.2]: a slow season for
    /// noise-dominated series (counts), a fast one for shapes that drift. (A slot's gain starts
    /// as 1/(values seen + 1), a running mean, and settles at δ, so a small δ no longer keeps
    /// the warm-up's noise.)
    public var holtWintersSeason1 = [0.02, 0.2]
    /// Holt-Winters second (long) season ω values. Default [0.1, 0.3]; unused with one
    /// season. (With α and β, 16 members per bank, and the ensemble runs two banks — linear and
    /// log scale.) Issue 16 chose these grids from the first 80 % of six traces (two real, four
    /// generated); the notes in docs/PERFORMANCE.md list which choices came after a test score
    /// had been seen.
    public var holtWintersSeason2 = [0.1, 0.3]
    /// ω values of the Holt-Winters members that keep the second season per cycle of the
    /// first — with periods 24 and 168, one slot per day of the week, learnt from all of its
    /// hours — raced beside the per-phase members (α × δ × these, no trend). Default [0.3].
    /// Empty: none. Only used with two seasons of which the first divides the second.
    /// Why: a per-phase weekly season has one value a week per slot, so on count noise it
    /// carries most of the error the ensemble adds above the true mean; where the week's
    /// effect is a day's level (weekends), a day slot learns it from 24 times the values. On
    /// the counts trace's first 80 % the ensemble's MASE went 0.688 → 0.673, every other trace
    /// unchanged (docs/PERFORMANCE.md, issue 16).
    public var holtWintersCoarseSeason2 = [0.3]
    /// Holt-Winters trend β values, raced like the rest of the grid. Default [0, 0.02]: 0 keeps
    /// the trend at zero (Taylor found no trend term helps intraday load), 0.02 follows a
    /// sustained growth or decline; the races keep the trend member only where it forecasts
    /// better (one step or H steps ahead).
    public var holtWintersTrend = [0.0, 0.02]
    /// Whether the Holt-Winters members with a trend (β > 0) learn the first season as a smooth
    /// profile — each value also updates the slots two phases either side of its own, with half
    /// and a quarter of the gain (`HoltWintersBank`) — when the first period is at least 24.
    /// Default true. The members without a trend keep a plain season, so the races choose between
    /// a flat level with a sharp profile and a moving one with a smooth profile.
    /// Why: a long first season learns each slot from one value a cycle; on weekly CO₂ (period
    /// 52, a trend, a cycle of 52.18 weeks) the plain season's noise and phase drift made the
    /// ensemble 1.20 × the better reference. Why paired with the trend rather than a grid axis of
    /// its own: that would nearly double the banks' members (20 → 36) and cost. On the first 80 % of the traces (every origin)
    /// the ensemble's MASE moved by −10.9 % (CO₂), −1.1 % (NYC taxi), +0.4 % (Taylor), +0.2 %
    /// (web_shift, business), 0 elsewhere; kernels of one or three slots a side, or 0.7 and
    /// 0.49, moved CO₂ by −7 to −12 % and the rest by under 1 %. On the last 20 %: CO₂ −16 %, NYC taxi +4 %, web_shift +1.5 %,
    /// Taylor −3 % (docs/PERFORMANCE.md, issue 16).
    public var holtWintersSmoothTrendMembers = true
    /// Holt-Winters trend damping φ (no effect on a β = 0 member). Default 1, no damping: the
    /// trend member is chosen only while its trend keeps paying, and the horizons
    /// here are a fraction of a period; damping 0.98 gave back most of what the trend member
    /// won on a trending series.
    public var holtWintersDamping = 1.0
    /// Forgetting factor of Holt-Winters' residual AR(1) estimate, per observation. Default
    /// 0.998 (memory ≈ 500 observations).
    public var holtWintersResidualForgetting = 0.998
    /// Length of Holt-Winters' warm-up, in cycles of the longest period. Default 1.
    public var holtWintersWarmUpCycles = 1
    /// Half-life, per step of the horizon, of the squared error of each Holt-Winters member's
    /// forecast H steps ahead: the race at the horizon's last step weighs its errors with a
    /// half-life of `holtWintersHorizonErrorHalfLifePerStep × H` observations (with H = 12,
    /// 144). Default 12.
    /// Why a second race: the one-step race (`errorHalfLife`) prefers a fast level, which follows
    /// persistent noise — what the residual AR term already forecasts at one step — and carries
    /// it to every later step as if it were a change of level; a member scored H steps ahead is
    /// the slow one there. Each step between takes the member of the two races whose error,
    /// interpolated between its one-step and H-step scores, is lower (`HoltWintersBank`). On the
    /// first 80 % of the six benchmark traces (every origin) this moved the ensemble's MASE by
    /// −3.4 % (web_shift), −2.3 % (NYC taxi), −0.5 % (Taylor), −0.3 % (business), +0.1 %
    /// (counts) and +0.4 % (short_long); 8 and 16 per step traded NYC taxi against web_shift,
    /// 24 and more made NYC taxi worse than before (docs/PERFORMANCE.md, issue 16).
    public var holtWintersHorizonErrorHalfLifePerStep = 12.0
    /// AR order p (lags of the differenced series). Default 3.
    public var autoRegressiveOrder = 3
    /// RLS forgetting factors λ raced for the AR model, per observation. Default [0.999]
    /// (memory ≈ 1000 observations): one member, since RLS fits the coefficients itself and a
    /// second member doubles the model's cost for little gain.
    public var autoRegressiveForgetting = [0.999]
    /// RLS updates the AR model needs after its first regression before it forecasts, in
    /// observations. Default 16 (it then joins the ensemble, which weighs it by its errors;
    /// 48 was measurably worse on short synthetic series and made no difference on long ones).
    public var autoRegressiveSettle = 16

    public init() {}

    /// Most members one raced grid may have (the product of its lists): every member runs on
    /// every observation, and a Holt-Winters member holds both seasons' slots.
    public static let maximumGridMembers = 1024

    func validate() throws(ForecastError) {
        guard errorHalfLife >= 1 && errorHalfLife.isFinite else {
            throw .invalidOption(name: "grids.errorHalfLife", value: errorHalfLife, limit: "must be ≥ 1 observation")
        }
        try Self.check("grids.ewmaAlpha", ewmaAlpha, openLower: true)
        try Self.check("grids.holtAlpha", holtAlpha, openLower: true)
        try Self.check("grids.holtBeta", holtBeta, openLower: false)
        try Self.check("grids.holtDamping", holtDamping, openLower: true)
        try Self.check("grids.holtWintersAlpha", holtWintersAlpha, openLower: true)
        try Self.check("grids.holtWintersSeason1", holtWintersSeason1, openLower: false)
        try Self.check("grids.holtWintersSeason2", holtWintersSeason2, openLower: false)
        try Self.check("grids.holtWintersTrend", holtWintersTrend, openLower: false)
        if !holtWintersCoarseSeason2.isEmpty {
            try Self.check("grids.holtWintersCoarseSeason2", holtWintersCoarseSeason2, openLower: false)
        }
        try Self.check("grids.holtWintersDamping", [holtWintersDamping], openLower: true)
        try Self.check("grids.holtWintersResidualForgetting", [holtWintersResidualForgetting], openLower: true)
        guard holtWintersHorizonErrorHalfLifePerStep >= 1 && holtWintersHorizonErrorHalfLifePerStep <= 1e6 else {
            throw .invalidOption(name: "grids.holtWintersHorizonErrorHalfLifePerStep", value: holtWintersHorizonErrorHalfLifePerStep,
                                 limit: "must be between 1 and 1e6 observations per step")
        }
        try Self.check("grids.autoRegressiveForgetting", autoRegressiveForgetting, openLower: true)
        // Each list is capped, but the grids are their products: cap the members a bank runs.
        let holtMembers = holtAlpha.count * holtBeta.count * holtDamping.count
        guard holtMembers <= Self.maximumGridMembers else {
            throw .invalidOption(name: "grids.holtAlpha × holtBeta × holtDamping", value: Double(holtMembers),
                                 limit: "at most \(Self.maximumGridMembers) members")
        }
        let bankMembers = holtWintersAlpha.count * holtWintersSeason1.count
            * (holtWintersTrend.count * holtWintersSeason2.count + holtWintersCoarseSeason2.count)
        guard bankMembers <= Self.maximumGridMembers else {
            throw .invalidOption(name: "grids.holtWintersAlpha × Season1 × (Trend × Season2 + CoarseSeason2)", value: Double(bankMembers),
                                 limit: "at most \(Self.maximumGridMembers) members")
        }
        guard (1...16).contains(holtWintersWarmUpCycles) else {
            throw .invalidOption(name: "grids.holtWintersWarmUpCycles", value: Double(holtWintersWarmUpCycles),
                                 limit: "must be between 1 and 16 cycles")
        }
        guard (1...32).contains(autoRegressiveOrder) else {
            throw .invalidOption(name: "grids.autoRegressiveOrder", value: Double(autoRegressiveOrder),
                                 limit: "must be between 1 and 32")
        }
        guard autoRegressiveSettle >= 1 else {
            throw .invalidOption(name: "grids.autoRegressiveSettle", value: Double(autoRegressiveSettle),
                                 limit: "must be at least 1 observation")
        }
    }

    private static func check(_ name: String, _ values: [Double], openLower: Bool) throws(ForecastError) {
        guard !values.isEmpty else {
            throw .invalidOption(name: name, value: 0, limit: "needs at least one value")
        }
        guard values.count <= 64 else {
            throw .invalidOption(name: name, value: Double(values.count), limit: "at most 64 values")
        }
        for value in values {
            let lowerOK = openLower ? value > 0 : value >= 0
            guard lowerOK && value <= 1 else {
                throw .invalidOption(name: name, value: value,
                                     limit: openLower ? "must be in (0, 1]" : "must be in [0, 1]")
            }
        }
    }
}
