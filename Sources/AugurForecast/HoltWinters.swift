/// Additive Holt-Winters with one or two seasonal cycles, a damped trend and an AR(1)
/// adjustment of the one-step residual — Taylor's (2003) double-seasonal method — run as a
/// bank of parameter settings raced side by side (see `ModelGrid` for the racing rule).
///
/// With seasons s₁ (e.g. daily) and s₂ (e.g. weekly), level ℓ, trend b, damping φ:
///
///     e      = y − (ℓ + φb + d[t−s₁] + w[t−s₂])          one-step residual
///     ℓ'     = α·(y − d[t−s₁] − w[t−s₂]) + (1−α)·(ℓ + φb)
///     b'     = β·(ℓ' − ℓ) + (1−β)·φb
///     d[t]   = δ'·(y − ℓ' − w[t−s₂]) + (1−δ')·d[t−s₁]      δ' = max(δ, 1/(visits of the slot + 1))
///     w[t]   = ω'·(y − ℓ' − d[t−s₁]) + (1−ω')·w[t−s₂]      ω' = max(ω, 1/(visits of the slot + 1))
///     ŷ(t+h) = ℓ' + (φ+…+φʰ)·b' + d[t+h−s₁] + w[t+h−s₂] + ρʰ·e
///
/// ρ, the lag-1 autocorrelation of the one-step residuals, is re-estimated at every
/// observation by exponentially forgetting least squares (clamped to ±0.99). Why: on
/// half-hourly load the seasonal components explain the shape, but consecutive residuals are
/// strongly correlated (weather persists). Taylor proposed the AR(1) term for this; on the
/// development part of his half-hourly series it roughly halved one-step error, for a handful
/// of flops.
///
/// Warm-up: the first `warmUpCycles × longest period` observations only accumulate per-phase
/// sums; at the end the level is their mean, the short season the mean deviation per phase of
/// s₁, and the long season what remains per phase of s₂ (exact when s₁ divides s₂).
///
/// Why a bank rather than a `ModelGrid` of single models: all members share the periods, the
/// seasonal phase and the warm-up, so those are kept once, and the per-member state is laid out
/// as parallel arrays the update loop walks contiguously — the largest grid in the ensemble
/// (16 members by default) then costs a few nanoseconds per member.
///
/// Thread-safety: not thread-safe; owned by one ensemble.
final class HoltWintersBank {
    struct Parameters: Sendable, Equatable {
        /// Level smoothing α in (0, 1].
        var level: Double
        /// Trend smoothing β in [0, 1]; 0 keeps the trend at its initial value (zero).
        var trend: Double
        /// Trend damping φ in (0, 1].
        var damping: Double
        /// Smoothing of the first (shorter) season, δ in [0, 1].
        var season1: Double
        /// Smoothing of the second (longer) season, ω in [0, 1]; ignored with one season.
        var season2: Double
        /// Forgetting factor of the residual AR(1) estimate, in (0, 1]; 1 never forgets.
        var residualForgetting: Double
    }

    let period1: Int
    /// 0 when there is a single season.
    let period2: Int
    private let selectionDecay: Double
    private let warmUpLength: Int

    // Shared by all members.
    private var phase1 = 0
    private var phase2 = 0
    private var warmUpRemaining: Int
    private var warmUpSum = 0.0
    private var scored = 0
    /// Values the current slot of each season has been built from: the warm-up's share
    /// (warm-up length ÷ period, the remainder's extra value ignored) plus one per completed
    /// cycle since. Sets the slots' start-up gain (see `observe`).
    private var slotVisits1: Int
    private var slotVisits2: Int

    // Per member (parallel buffers fixed at init; seasons member-major: member g's slot j at
    // g·s + j). During warm-up member 0's seasons hold the shared per-phase sums.
    private let parameterTable: UnsafeMutableBufferPointer<Parameters>
    private let state: UnsafeMutableBufferPointer<MemberState>
    private let season1: UnsafeMutableBufferPointer<Double>
    private let season2: UnsafeMutableBufferPointer<Double>
    /// Index of the member with the lowest recent one-step error.
    private(set) var best = 0

    private struct MemberState {
        var level = 0.0
        var trend = 0.0
        var lastResidual = 0.0
        var residualCross = 0.0
        var residualSquares = 0.0
        var residualAR = 0.0
        var meanSquaredError = 0.0
    }

    /// `periods`: one or two entries, ascending. `warmUpCycles` ≥ 1. `errorHalfLife`: half-life
    /// of the one-step squared error that picks the best member, in observations.
    init(periods: [Int], parameters: [Parameters], warmUpCycles: Int, errorHalfLife: Double) {
        precondition(periods.count == 1 || periods.count == 2)
        precondition(!parameters.isEmpty)
        period1 = periods[0]
        period2 = periods.count == 2 ? periods[1] : 0
        selectionDecay = decayFactor(halfLife: errorHalfLife)
        warmUpLength = warmUpCycles * max(period1, period2)
        warmUpRemaining = warmUpLength
        slotVisits1 = warmUpLength / period1
        slotVisits2 = period2 == 0 ? 0 : warmUpLength / period2
        parameterTable = .allocate(capacity: parameters.count)
        _ = parameterTable.initialize(from: parameters)
        state = allocateFixed(parameters.count, MemberState())
        season1 = allocateFixed(parameters.count * period1, 0.0)
        season2 = allocateFixed(parameters.count * max(period2, 1), 0.0)
    }

    deinit {
        releaseFixed(parameterTable)
        releaseFixed(state)
        releaseFixed(season1)
        releaseFixed(season2)
    }

    var isWarm: Bool { warmUpRemaining == 0 }

    /// Member `g`'s current estimate of the residual lag-1 autocorrelation ρ.
    func residualAutocorrelation(member g: Int) -> Double { state[g].residualAR }

    /// One-step forecast of member `g` (meaningful once warm).
    func oneStepForecast(member g: Int) -> Double {
        let s = state[g]
        var value = s.level + parameterTable[g].damping * s.trend + season1[g * period1 + phase1]
        if period2 != 0 { value += season2[g * period2 + phase2] }
        return value + s.residualAR * s.lastResidual
    }

    func observe(_ y: Double) {
        if warmUpRemaining > 0 {
            accumulateWarmUp(y)
            return
        }
        let p1 = period1, p2 = period2, i1 = phase1, i2 = phase2
        let decay = selectionDecay
        let firstScore = scored == 0
        var bestIndex = 0
        var bestError = Double.infinity
        // Walk each member's seasonal slot for this phase by pointer: member g's slot is
        // g·period further on.
        var d1 = season1.baseAddress! + i1
        var d2 = season2.baseAddress! + i2
        let twoSeasons = p2 != 0
        // A seasonal slot's smoothing starts as the running mean of the values it has seen
        // (gain 1/visits) and settles at the member's δ or ω once that is larger: one warm-up
        // cycle sets each slot from a handful of values (one, for the long season), and a
        // fixed small gain would carry that start's noise for 1/δ cycles — on count noise the
        // slow members, which the race prefers there, forecast with a season mostly made of
        // their first week. Shared by every member: the visit count is the bank's.
        let startGain1 = 1 / Double(slotVisits1 &+ 1)
        let startGain2 = twoSeasons ? 1 / Double(slotVisits2 &+ 1) : 0
        for g in 0..<state.count {
            let p = parameterTable[g]
            var m = state[g]
            let d = d1.pointee
            let w = twoSeasons ? d2.pointee : 0
            let dampedTrend = p.damping * m.trend
            let base = m.level + dampedTrend + d + w

            // Score the AR-adjusted forecast this member issued for y.
            let error = y - (base + m.residualAR * m.lastResidual)
            m.meanSquaredError = firstScore
                ? error * error
                : decay * m.meanSquaredError + (1 - decay) * error * error
            if m.meanSquaredError < bestError {
                bestError = m.meanSquaredError
                bestIndex = g
            }

            // AR(1) on the plain one-step residuals; smoothing uses them too.
            let residual = y - base
            m.residualCross = p.residualForgetting * m.residualCross + residual * m.lastResidual
            m.residualSquares = p.residualForgetting * m.residualSquares + m.lastResidual * m.lastResidual
            m.lastResidual = residual
            if m.residualSquares > 0 {
                m.residualAR = min(0.99, max(-0.99, m.residualCross / m.residualSquares))
            }

            let level = p.level * (y - d - w) + (1 - p.level) * (m.level + dampedTrend)
            m.trend = p.trend * (level - m.level) + (1 - p.trend) * dampedTrend
            let gain1 = max(p.season1, startGain1)
            d1.pointee = gain1 * (y - level - w) + (1 - gain1) * d
            if twoSeasons {
                let gain2 = max(p.season2, startGain2)
                d2.pointee = gain2 * (y - level - d) + (1 - gain2) * w
                d2 += p2
            }
            d1 += p1
            m.level = level
            state[g] = m
        }
        best = bestIndex
        scored += 1
        advancePhases()
        countVisits()
    }

    /// Forecasts of the best member for steps 1...out.count.
    func forecast(into out: UnsafeMutableBufferPointer<Double>) {
        forecast(member: best, into: out)
    }

    func forecast(member g: Int, into out: UnsafeMutableBufferPointer<Double>) {
        let s = state[g]
        let damping = parameterTable[g].damping
        var cumulativeDamping = 0.0
        var dampingPower = 1.0
        var arPower = 1.0
        var i1 = phase1
        var i2 = phase2
        for i in 0..<out.count {
            dampingPower *= damping
            cumulativeDamping += dampingPower
            arPower *= s.residualAR
            var value = s.level + cumulativeDamping * s.trend + season1[g * period1 + i1] + arPower * s.lastResidual
            if period2 != 0 {
                value += season2[g * period2 + i2]
                i2 = i2 + 1 == period2 ? 0 : i2 + 1
            }
            out[i] = value
            i1 = i1 + 1 == period1 ? 0 : i1 + 1
        }
    }

    @inline(__always)
    private func advancePhases() {
        phase1 = phase1 + 1 == period1 ? 0 : phase1 + 1
        if period2 != 0 { phase2 = phase2 + 1 == period2 ? 0 : phase2 + 1 }
    }

    /// After an update: a slot's visits grow by one each time its season comes round again.
    @inline(__always)
    private func countVisits() {
        if phase1 == 0 { slotVisits1 &+= 1 }
        if period2 != 0 && phase2 == 0 { slotVisits2 &+= 1 }
    }

    private func accumulateWarmUp(_ y: Double) {
        // Member 0's season slots double as the shared per-phase sums.
        season1[phase1] += y
        if period2 != 0 { season2[phase2] += y }
        warmUpSum += y
        advancePhases()
        warmUpRemaining -= 1
        guard warmUpRemaining == 0 else { return }

        // Turn the sums into initial components, once, and give every member a copy.
        let n = warmUpLength
        let level = warmUpSum / Double(n)
        for j in 0..<period1 {
            let occurrences = n / period1 + (j < n % period1 ? 1 : 0)
            season1[j] = season1[j] / Double(occurrences) - level
        }
        if period2 != 0 {
            for k in 0..<period2 {
                let occurrences = n / period2 + (k < n % period2 ? 1 : 0)
                season2[k] = season2[k] / Double(occurrences) - level - season1[k % period1]
            }
        }
        for g in 0..<state.count {
            state[g].level = level
            guard g > 0 else { continue }
            for j in 0..<period1 { season1[g * period1 + j] = season1[j] }
            if period2 != 0 { for k in 0..<period2 { season2[g * period2 + k] = season2[k] } }
        }
    }
}
