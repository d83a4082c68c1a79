/// The ensemble's members: one parameter grid per model family, built once the seasonal
/// periods are known.
///
/// Concrete fields rather than an array of existentials: every call is statically dispatched
/// and specialised, which is what keeps the per-observation cost within budget.
///
/// Thread-safety: not thread-safe; owned by one ensemble.
struct ModelSet {
    /// Member order used throughout the ensemble (and in `ForecastEnsemble.memberNames`).
    enum Member: Int, CaseIterable {
        case seasonalNaive, ewma, dampedHolt, holtWinters, logHoltWinters, autoRegressive

        var name: String {
            switch self {
            case .seasonalNaive: return "seasonal_naive"
            case .ewma: return "ewma"
            case .dampedHolt: return "damped_holt"
            case .holtWinters: return "holt_winters"
            case .logHoltWinters: return "log_holt_winters"
            case .autoRegressive: return "autoregressive"
            }
        }
    }

    /// The shortest first period whose trend members learn a smooth first season
    /// (`ModelGridOptions.holtWintersSmoothTrendMembers`): the kernel's five slots then span
    /// at most about a fifth of the cycle (5/24); over more of a short cycle (12 months: elnino
    /// and short_long, +14 % and +11 % with every member smooth) it blurs the profile it pools.
    /// Chosen between the benchmark's periods of 12 and of 24 or more; nothing between was
    /// measured.
    static let smoothSeasonMinimumPeriod = 24

    private let seasonalNaive: ModelGrid<SeasonalNaive>
    private let ewma: ModelGrid<EWMA>
    private let dampedHolt: ModelGrid<DampedHolt>
    /// nil without a seasonal period.
    private let holtWinters: HoltWintersBank?
    /// Holt-Winters on log(1 + max(y, 0)): seasonal swings that scale with the level and
    /// count noise whose spread grows with the rate become additive and even there. nil
    /// without a seasonal period.
    private let logHoltWinters: HoltWintersBank?
    private let autoRegressive: ModelGrid<AutoRegressive>

    /// `periods`: ascending, zero to two entries, already validated. `horizon`: the steps the
    /// ensemble forecasts (the Holt-Winters banks race their members at its last one too).
    init(periods: [Int], grids g: ModelGridOptions, horizon: Int) {
        let halfLife = g.errorHalfLife
        // Without a season, seasonal naive degenerates to the last value (period 1).
        seasonalNaive = ModelGrid(members: (periods.isEmpty ? [1] : periods).map { SeasonalNaive(period: $0) },
                                  errorHalfLife: halfLife)
        ewma = ModelGrid(members: g.ewmaAlpha.map { EWMA(alpha: $0) }, errorHalfLife: halfLife)
        var holt: [DampedHolt] = []
        for a in g.holtAlpha {
            for b in g.holtBeta {
                for d in g.holtDamping { holt.append(DampedHolt(alpha: a, beta: b, damping: d)) }
            }
        }
        dampedHolt = ModelGrid(members: holt, errorHalfLife: halfLife)
        if periods.isEmpty {
            holtWinters = nil
            logHoltWinters = nil
        } else {
            var parameters: [HoltWintersBank.Parameters] = []
            let smoothTrendMembers = g.holtWintersSmoothTrendMembers && periods[0] >= Self.smoothSeasonMinimumPeriod
            let season2Grid = periods.count == 2 ? g.holtWintersSeason2 : [0]
            for b in g.holtWintersTrend {
                for a in g.holtWintersAlpha {
                    for d in g.holtWintersSeason1 {
                        for w in season2Grid {
                            parameters.append(HoltWintersBank.Parameters(
                                level: a, trend: b, damping: g.holtWintersDamping, season1: d,
                                season2: w, residualForgetting: g.holtWintersResidualForgetting,
                                smoothSeason1: smoothTrendMembers && b > 0))
                        }
                    }
                }
            }
            // Day-of-week members (a second season per cycle of the first), without a trend:
            // after the per-phase members, so the race breaks ties as before.
            if periods.count == 2 {
                for a in g.holtWintersAlpha {
                    for d in g.holtWintersSeason1 {
                        for w in g.holtWintersCoarseSeason2 {
                            parameters.append(HoltWintersBank.Parameters(
                                level: a, trend: 0, damping: g.holtWintersDamping, season1: d,
                                season2: w, residualForgetting: g.holtWintersResidualForgetting, coarseSeason2: true))
                        }
                    }
                }
            }
            let horizonHalfLife = g.holtWintersHorizonErrorHalfLifePerStep * Double(horizon)
            holtWinters = HoltWintersBank(periods: periods, parameters: parameters,
                                          warmUpCycles: g.holtWintersWarmUpCycles, errorHalfLife: halfLife,
                                          horizon: horizon, horizonErrorHalfLife: horizonHalfLife)
            logHoltWinters = HoltWintersBank(periods: periods, parameters: parameters,
                                             warmUpCycles: g.holtWintersWarmUpCycles, errorHalfLife: halfLife,
                                             horizon: horizon, horizonErrorHalfLife: horizonHalfLife)
        }
        // Difference at the longest season; without one, fit the levels themselves (an AR(p)
        // with intercept tracks a level and, with p ≥ 2, a smooth cycle not yet detected).
        let lag = periods.last ?? 0
        autoRegressive = ModelGrid(
            members: g.autoRegressiveForgetting.map {
                AutoRegressive(order: g.autoRegressiveOrder, differencingLag: lag, forgetting: $0,
                               settleObservations: g.autoRegressiveSettle)
            },
            errorHalfLife: halfLife)
    }

    func observe(_ value: Double) {
        seasonalNaive.observe(value)
        ewma.observe(value)
        dampedHolt.observe(value)
        holtWinters?.observe(value)
        logHoltWinters?.observe(Self.logScale(value))
        autoRegressive.observe(value)
    }

    func isWarm(_ member: Member) -> Bool {
        switch member {
        case .seasonalNaive: return seasonalNaive.isWarm
        case .ewma: return ewma.isWarm
        case .dampedHolt: return dampedHolt.isWarm
        case .holtWinters: return holtWinters?.isWarm ?? false
        case .logHoltWinters: return logHoltWinters?.isWarm ?? false
        case .autoRegressive: return autoRegressive.isWarm
        }
    }

    /// Forecasts of a warm member for steps 1...out.count.
    func forecast(_ member: Member, into out: UnsafeMutableBufferPointer<Double>) {
        switch member {
        case .seasonalNaive: seasonalNaive.forecast(into: out)
        case .ewma: ewma.forecast(into: out)
        case .dampedHolt: dampedHolt.forecast(into: out)
        case .holtWinters: holtWinters?.forecast(into: out)
        case .logHoltWinters:
            logHoltWinters?.forecast(into: out)
            for i in 0..<out.count { out[i] = Self.linearScale(out[i]) }
        case .autoRegressive: autoRegressive.forecast(into: out)
        }
    }

    @inline(__always)
    static func logScale(_ y: Double) -> Double { naturalLog(1 + max(y, 0)) }

    @inline(__always)
    static func linearScale(_ z: Double) -> Double { naturalExp(min(z, 700)) - 1 }
}
