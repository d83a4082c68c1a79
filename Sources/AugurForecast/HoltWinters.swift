/// Additive Holt-Winters with one or two seasonal cycles, a damped trend and an AR(1)
/// adjustment of the one-step residual — Taylor's (2003) double-seasonal method — run as a
/// bank of parameter settings raced side by side (see `ModelGrid` for the racing rule; the
/// bank also races its members H steps ahead, below).
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
/// seasonal phase and the warm-up, so those are kept once, and the members are updated four at
/// a time: their parameters and state are `SIMD4` lanes (without day-of-week or smooth-season
/// members, member g is in lane g mod 4 of group g / 4; a group that is not full repeats its first member in its
/// spare lanes, which never compete), and the seasons are laid out slot-major, so one phase's slots of a group are one
/// vector. Every lane computes exactly the scalar recurrence above, in the same order, so the
/// forecasts are the scalar bank's bit for bit; the 16 per-phase members of the default grid cost four
/// passes of the loop instead of sixteen (the bank was a quarter of the ensemble's update).
///
/// Day-of-week members (`Parameters.coarseSeason2`, when s₁ divides s₂) keep w per cycle of the
/// first season, c = ⌊(t mod s₂) ÷ s₁⌋, updated at every phase of it:
///
///     w[c]   = ω''·(y − ℓ' − d[t−s₁]) + (1−ω'')·w[c]      ω'' = max(ω ÷ s₁, 1/(values seen + 1))
///
/// They sit in groups of their own after the per-phase members (`memberAtPosition`), so one
/// group reads one layout of the second season; `best` and the `member:` arguments are indices
/// into the parameters as given.
///
/// Smooth-season members (`Parameters.smoothSeason1`, when s₁ ≥ 5) learn the first season as
/// a smooth profile: after the update above, each value also updates the two slots on either
/// side of its phase toward the value's own deseasonalised level, with the kernel's share of
/// the gain δ' of the value's own slot (½ at a distance of one slot, ¼ at two;
/// `smoothingKernel`) — each slot is written five times a cycle:
///
///     d[(t±i) mod s₁] ← d[(t±i) mod s₁] + κᵢ·δ'·(y − ℓ' − w[t−s₂] − d[(t±i) mod s₁])      i = 1, 2
///
/// (the value's own second-season slot, not the neighbours': it is the first season that is
/// assumed smooth; reading each neighbour's weekly slot, itself learnt from one value a week,
/// added that slot's noise and did worse on NYC taxi and business, docs/PERFORMANCE.md)
///
/// Why: a slot of a long first season (weekly data with a yearly cycle; minutes within a day)
/// is visited once a cycle, so it learns from few values and a season that drifts in phase (52
/// weeks a year for a 52.18-week cycle) smears; where the profile is smooth, its neighbours'
/// values are nearly its own, and a slot learns from five phases a cycle (2.5 times the weight
/// of its own value alone). Where it is not (a working day that
/// starts within a slot), the plain members forecast better and the races keep them. They sit
/// in groups of their own, after the plain ones of the same layout of the second season.
///
/// Two races (with a horizon H > 1): `best` is the member with the lowest recent one-step
/// error, `bestAtHorizon` the one with the lowest recent error H steps ahead — each member's
/// H-step forecast is kept for H observations and scored when its value arrives, with a memory
/// that grows with H (`ModelGridOptions.holtWintersHorizonErrorHalfLifePerStep`). The bank
/// forecasts step 1 with `best`, and each later step h with whichever of the two has the lower
/// error interpolated between its two scores, e₁ + (h−1)/(H−1)·(e_H − e₁) — so step H is
/// `bestAtHorizon`'s. Why: the one-step race prefers a fast level, which follows persistent
/// noise (what ρ·e already forecasts at one step) and carries it to every later step as a
/// change of level; scored H steps ahead, the slow member wins where that noise decays.
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
        /// Whether the second season is kept per cycle of the first — a day-of-week effect:
        /// period₂ ÷ period₁ slots, each learnt from every phase of its cycle — instead of per
        /// phase. Only with two seasons of which the first divides the second; ignored
        /// otherwise.
        var coarseSeason2: Bool = false
        /// Whether each value also updates the first season's slots within two phases of its
        /// own (see the type's notes): a smooth seasonal profile. Ignored with a first period
        /// below 5, where the kernel's five slots would not be distinct.
        var smoothSeason1: Bool = false
    }

    typealias Lanes = SIMD4<Double>
    static let laneCount = 4

    let period1: Int
    /// 0 when there is a single season.
    let period2: Int
    /// Members (parameter settings); the groups hold them four by four.
    let memberCount: Int
    private let groupCount: Int
    private let selectionDecay: Double
    private let warmUpLength: Int

    // Shared by all members.
    private var phase1 = 0
    private var phase2 = 0
    private var warmUpRemaining: Int
    private var warmUpSum = 0.0
    private var scored = 0
    /// Values the current slot of each season has been built from so far: the warm-up's
    /// share (warm-up length ÷ period, counted from phase 0, so exact for every slot) plus one
    /// per completed cycle since. Sets the slots' start-up gain (see `observe`).
    private var slotVisits1: Int
    private var slotVisits2: Int

    /// Per group: the lanes' parameters, with the complements the updates use.
    private struct GroupParameters {
        var alpha: Lanes, keepLevel: Lanes
        var beta: Lanes, keepTrend: Lanes
        var damping: Lanes
        var delta: Lanes
        var omega: Lanes
        var forgetting: Lanes
    }

    private struct GroupState {
        var level = Lanes()
        var trend = Lanes()
        var lastResidual = Lanes()
        var residualCross = Lanes()
        var residualSquares = Lanes()
        var residualAR = Lanes()
        var meanSquaredError = Lanes()
        /// Exponentially weighted squared error of the forecast H steps ahead (0 until scored).
        var horizonSquaredError = Lanes()
    }

    private let parameterTable: UnsafeMutableBufferPointer<GroupParameters>
    /// Per group: whether its members keep the second season per cycle of the first.
    private let coarseGroup: UnsafeMutableBufferPointer<Bool>
    /// Whether any group does (false when period₁ does not divide period₂).
    private let anyCoarse: Bool
    /// Per group: whether its members learn a smooth first season.
    private let smoothGroup: UnsafeMutableBufferPointer<Bool>
    /// Whether any group does.
    private let anySmooth: Bool
    /// A smooth-season member's share of a slot's gain for the slots one and two phases away.
    static let smoothingKernel = (adjacent: 0.5, second: 0.25)
    /// Lane positions (group·4 + lane): the member each holds, or -1 for a spare lane.
    private let memberAtPosition: UnsafeMutableBufferPointer<Int>
    /// Each member's lane position.
    private let positionOfMember: UnsafeMutableBufferPointer<Int>
    private let state: UnsafeMutableBufferPointer<GroupState>
    /// Slot-major: slot j of group k at j·groupCount + k.
    private let season1: UnsafeMutableBufferPointer<Lanes>
    private let season2: UnsafeMutableBufferPointer<Lanes>
    /// The warm-up's per-phase sums, turned into the initial seasons at its end.
    private let warmUpSums1: UnsafeMutableBufferPointer<Double>
    private let warmUpSums2: UnsafeMutableBufferPointer<Double>
    /// Index of the member with the lowest recent one-step error.
    private(set) var best = 0
    /// Index of the member with the lowest recent error `horizon` steps ahead (`best` until
    /// the first such error is scored, and always with a horizon of 1).
    private(set) var bestAtHorizon = 0

    /// The step the second race scores (1: no second race).
    let horizon: Int
    private let horizonDecay: Double
    /// Per group: φ + φ² + … + φᴴ, the trend's multiplier H steps ahead.
    private let horizonDamping: UnsafeMutableBufferPointer<Lanes>
    /// Each group's forecast for H steps ahead, issued at each of the last H observations:
    /// row `horizonRow` holds those issued H observations ago (the ones due now), then is
    /// overwritten with the ones issued now. Group-major within a row.
    private let issuedAtHorizon: UnsafeMutableBufferPointer<Lanes>
    private var horizonRow = 0
    /// H mod each period: how far ahead of the current phase the slots H steps ahead are.
    private let horizonOffset1: Int
    private let horizonOffset2: Int
    /// Forecasts issued into `issuedAtHorizon` so far (scoring starts once it reaches H).
    private var issuedCount = 0
    /// `bestAtHorizon`'s path while `forecast(into:)` chooses per step.
    private let alternativePath: UnsafeMutableBufferPointer<Double>

    /// `periods`: one or two entries, ascending. `warmUpCycles` ≥ 1. `errorHalfLife`: half-life
    /// of the one-step squared error that picks the best member, in observations. `horizon`:
    /// the step the second race scores (1: none); `horizonErrorHalfLife`: that race's half-life.
    init(periods: [Int], parameters: [Parameters], warmUpCycles: Int, errorHalfLife: Double,
         horizon: Int = 1, horizonErrorHalfLife: Double = 1) {
        precondition(periods.count == 1 || periods.count == 2)
        precondition(!parameters.isEmpty)
        precondition(horizon >= 1 && horizonErrorHalfLife >= 1)
        period1 = periods[0]
        period2 = periods.count == 2 ? periods[1] : 0
        memberCount = parameters.count
        // Layout: groups of one kind each — plain, smooth, plain coarse, smooth coarse — so every
        // group reads one layout of the second season and spreads or not as a whole. Without
        // coarse or smooth members, member g is in lane g mod 4 of group g / 4.
        let coarseAllowed = periods.count == 2 && periods[1] % periods[0] == 0
        let smoothAllowed = periods[0] >= 5
        func isCoarse(_ g: Int) -> Bool { coarseAllowed && parameters[g].coarseSeason2 }
        func isSmooth(_ g: Int) -> Bool { smoothAllowed && parameters[g].smoothSeason1 }
        func padded(_ members: [Int]) -> [Int] {
            members + Array(repeating: -1, count: (Self.laneCount - members.count % Self.laneCount) % Self.laneCount)
        }
        // Groups of one kind each, in this order: plain, smooth, plain coarse, smooth coarse.
        var layout: [Int] = []
        var kinds: [(coarse: Bool, smooth: Bool)] = []
        for coarse in [false, true] {
            for smooth in [false, true] {
                let members = padded(parameters.indices.filter { isCoarse($0) == coarse && isSmooth($0) == smooth })
                layout += members
                kinds += Array(repeating: (coarse, smooth), count: members.count / Self.laneCount)
            }
        }
        groupCount = layout.count / Self.laneCount
        memberAtPosition = allocateFixed(layout.count, -1)
        positionOfMember = allocateFixed(parameters.count, 0)
        for (position, g) in layout.enumerated() {
            memberAtPosition[position] = g
            if g >= 0 { positionOfMember[g] = position }
        }
        coarseGroup = allocateFixed(groupCount, false)
        smoothGroup = allocateFixed(groupCount, false)
        for k in 0..<groupCount {
            coarseGroup[k] = kinds[k].coarse
            smoothGroup[k] = kinds[k].smooth
        }
        anyCoarse = kinds.contains { $0.coarse }
        anySmooth = kinds.contains { $0.smooth }
        selectionDecay = decayFactor(halfLife: errorHalfLife)
        warmUpLength = warmUpCycles * max(period1, period2)
        warmUpRemaining = warmUpLength
        slotVisits1 = warmUpLength / period1
        slotVisits2 = period2 == 0 ? 0 : warmUpLength / period2
        let zero = Lanes()
        parameterTable = allocateFixed(groupCount, GroupParameters(alpha: zero, keepLevel: zero, beta: zero, keepTrend: zero,
                                                                   damping: zero, delta: zero, omega: zero, forgetting: zero))
        for k in 0..<groupCount {
            var group = parameterTable[k]
            for lane in 0..<Self.laneCount {
                // A group's spare lanes repeat its first member; they never compete.
                let g = memberAtPosition[k * Self.laneCount + lane]
                let p = parameters[g >= 0 ? g : memberAtPosition[k * Self.laneCount]]
                group.alpha[lane] = p.level
                group.keepLevel[lane] = 1 - p.level
                group.beta[lane] = p.trend
                group.keepTrend[lane] = 1 - p.trend
                group.damping[lane] = p.damping
                group.delta[lane] = p.season1
                group.omega[lane] = p.season2
                group.forgetting[lane] = p.residualForgetting
            }
            parameterTable[k] = group
        }
        state = allocateFixed(groupCount, GroupState())
        self.horizon = horizon
        horizonOffset1 = horizon % period1
        horizonOffset2 = period2 == 0 ? 0 : horizon % period2
        horizonDecay = decayFactor(halfLife: horizonErrorHalfLife)
        horizonDamping = allocateFixed(groupCount, zero)
        for k in 0..<groupCount {
            var power = Lanes(repeating: 1), sum = zero
            for _ in 0..<horizon {
                power = power * parameterTable[k].damping
                sum = sum + power
            }
            horizonDamping[k] = sum
        }
        issuedAtHorizon = allocateFixed(horizon > 1 ? horizon * groupCount : 1, zero)
        alternativePath = allocateFixed(horizon, 0.0)
        season1 = allocateFixed(groupCount * period1, zero)
        season2 = allocateFixed(groupCount * max(period2, 1), zero)
        warmUpSums1 = allocateFixed(period1, 0.0)
        warmUpSums2 = allocateFixed(max(period2, 1), 0.0)
    }

    deinit {
        releaseFixed(parameterTable)
        releaseFixed(coarseGroup)
        releaseFixed(smoothGroup)
        releaseFixed(memberAtPosition)
        releaseFixed(positionOfMember)
        releaseFixed(state)
        releaseFixed(horizonDamping)
        releaseFixed(issuedAtHorizon)
        releaseFixed(alternativePath)
        releaseFixed(season1)
        releaseFixed(season2)
        releaseFixed(warmUpSums1)
        releaseFixed(warmUpSums2)
    }

    var isWarm: Bool { warmUpRemaining == 0 }

    /// Member `g`'s group and lane.
    @inline(__always)
    private func place(of g: Int) -> (group: Int, lane: Int) {
        let position = positionOfMember[g]
        return (position / Self.laneCount, position % Self.laneCount)
    }

    /// Member `g`'s current estimate of the residual lag-1 autocorrelation ρ.
    func residualAutocorrelation(member g: Int) -> Double {
        let (k, lane) = place(of: g)
        return state[k].residualAR[lane]
    }

    /// One-step forecast of member `g` (meaningful once warm).
    func oneStepForecast(member g: Int) -> Double {
        let (k, lane) = place(of: g)
        let s = state[k]
        var value = s.level[lane] + parameterTable[k].damping[lane] * s.trend[lane]
            + season1[phase1 * groupCount + k][lane]
        if period2 != 0 { value += season2[(coarseGroup[k] ? phase2 / period1 : phase2) * groupCount + k][lane] }
        return value + s.residualAR[lane] * s.lastResidual[lane]
    }

    func observe(_ y: Double) {
        if warmUpRemaining > 0 {
            accumulateWarmUp(y)
            return
        }
        let twoSeasons = period2 != 0
        let firstScore = scored == 0
        let decay = Lanes(repeating: selectionDecay)
        let keepError = Lanes(repeating: 1 - selectionDecay)
        let value = Lanes(repeating: y)
        let one = Lanes(repeating: 1)
        let zero = Lanes()
        let ceiling = Lanes(repeating: 0.99)
        let floor = Lanes(repeating: -0.99)
        // A seasonal slot's smoothing starts as the running mean of the values it has seen
        // (gain 1/(visits + 1) for the next one) and settles at the member's δ or ω once that
        // is larger: one warm-up cycle sets each slot from a handful of values (one, for the
        // long season), and a fixed small gain would carry that start's noise for 1/δ cycles —
        // on count noise the slow members, which the race prefers there, would forecast with a
        // season mostly made of their first week. Shared by every member: the visit count is
        // the bank's.
        let startGain1 = Lanes(repeating: 1 / Double(slotVisits1 &+ 1))
        let startGain2 = Lanes(repeating: twoSeasons ? 1 / Double(slotVisits2 &+ 1) : 0)
        let slots1 = season1.baseAddress! + phase1 &* groupCount
        let slots2 = season2.baseAddress! + (twoSeasons ? phase2 &* groupCount : 0)
        // A coarse second season: one slot per cycle of the first, visited at every phase of
        // it, so its running start counts observations and its gain is ω per cycle of the
        // first spread over that cycle's phases (the same memory in cycles of the second).
        let coarseSlots2 = season2.baseAddress! + (anyCoarse ? (phase2 / period1) &* groupCount : 0)
        let coarseStartGain = Lanes(repeating: anyCoarse ? 1 / Double(slotVisits2 &* period1 &+ phase1 &+ 1) : 0)
        let coarseScale = Lanes(repeating: anyCoarse ? 1 / Double(period1) : 0)
        var bestIndex = 0
        var bestError = Double.infinity
        // The second race: the forecasts issued H observations ago are due now; this
        // observation's H-step forecasts replace them in the same row.
        let racingHorizon = horizon > 1
        let dueRow = issuedAtHorizon.baseAddress! + (racingHorizon ? horizonRow &* groupCount : 0)
        let scoringHorizon = racingHorizon && issuedCount >= horizon
        let firstHorizonScore = issuedCount == horizon
        let horizonKeep = Lanes(repeating: horizonDecay)
        let horizonGain = Lanes(repeating: 1 - horizonDecay)
        var bestAtHorizonIndex = 0
        var bestAtHorizonError = Double.infinity
        // The slots H steps ahead: phase + H, wrapped.
        var ahead1 = phase1 &+ horizonOffset1
        if ahead1 >= period1 { ahead1 &-= period1 }
        var ahead2 = phase2 &+ horizonOffset2
        if twoSeasons && ahead2 >= period2 { ahead2 &-= period2 }
        let aheadCoarse2 = anyCoarse ? ahead2 / period1 : 0
        // A smooth member's neighbouring slots of the first season: phases −2, −1, +1, +2.
        let near = anySmooth ? NeighbourSlots(phase: phase1, period: period1) : NeighbourSlots()
        for k in 0..<groupCount {
            // Through pointers, not copies: copying a group's parameters and state in and out
            // (half a kilobyte) was a tenth of this function's instructions (callgrind).
            let p = parameterTable.baseAddress! + k
            let m = state.baseAddress! + k
            let d = slots1[k]
            let coarse = anyCoarse && coarseGroup[k]
            let w = twoSeasons ? (coarse ? coarseSlots2[k] : slots2[k]) : zero
            let dampedTrend = p.pointee.damping * m.pointee.trend
            let base = m.pointee.level + dampedTrend + d + w

            // Score the AR-adjusted forecast each member issued for y.
            let error = value - (base + m.pointee.residualAR * m.pointee.lastResidual)
            m.pointee.meanSquaredError = firstScore
                ? error * error
                : decay * m.pointee.meanSquaredError + keepError * error * error
            takeLead(m.pointee.meanSquaredError, group: k, error: &bestError, member: &bestIndex)
            if scoringHorizon {
                let missed = value - dueRow[k]
                m.pointee.horizonSquaredError = firstHorizonScore
                    ? missed * missed
                    : horizonKeep * m.pointee.horizonSquaredError + horizonGain * missed * missed
                takeLead(m.pointee.horizonSquaredError, group: k, error: &bestAtHorizonError, member: &bestAtHorizonIndex)
            }

            // AR(1) on the plain one-step residuals; smoothing uses them too.
            let residual = value - base
            m.pointee.residualCross = p.pointee.forgetting * m.pointee.residualCross + residual * m.pointee.lastResidual
            m.pointee.residualSquares = p.pointee.forgetting * m.pointee.residualSquares + m.pointee.lastResidual * m.pointee.lastResidual
            m.pointee.lastResidual = residual
            let ratio = Self.minimum(ceiling, Self.maximum(floor, m.pointee.residualCross / m.pointee.residualSquares))
            m.pointee.residualAR.replace(with: ratio, where: m.pointee.residualSquares .> zero)

            let level = p.pointee.alpha * (value - d - w) + p.pointee.keepLevel * (m.pointee.level + dampedTrend)
            m.pointee.trend = p.pointee.beta * (level - m.pointee.level) + p.pointee.keepTrend * dampedTrend
            let gain1 = Self.maximum(p.pointee.delta, startGain1)
            slots1[k] = gain1 * (value - level - w) + (one - gain1) * d
            if coarse {
                let gain2 = Self.maximum(p.pointee.omega * coarseScale, coarseStartGain)
                coarseSlots2[k] = gain2 * (value - level - d) + (one - gain2) * w
            } else if twoSeasons {
                let gain2 = Self.maximum(p.pointee.omega, startGain2)
                slots2[k] = gain2 * (value - level - d) + (one - gain2) * w
            }
            m.pointee.level = level
            if anySmooth && smoothGroup[k] {
                spread(value - level - w, gain: gain1, group: k, near: near)
            }
            if racingHorizon {
                // The member's forecast for H steps ahead, as `forecast(member:into:)` computes
                // its step H (the same terms in the same order; ρᴴ by squaring, log₂ H
                // multiplications instead of a chain of H): the slots read are this
                // observation's updated ones.
                var arPower = one, square = m.pointee.residualAR, exponent = horizon
                while exponent > 0 {
                    if exponent & 1 == 1 { arPower = arPower * square }
                    exponent >>= 1
                    if exponent > 0 { square = square * square }
                }
                var ahead = level + horizonDamping[k] * m.pointee.trend + season1[ahead1 &* groupCount &+ k] + arPower * m.pointee.lastResidual
                if twoSeasons { ahead += season2[(coarse ? aheadCoarse2 : ahead2) &* groupCount &+ k] }
                dueRow[k] = ahead
            }
        }
        best = bestIndex
        bestAtHorizon = scoringHorizon ? bestAtHorizonIndex : bestIndex
        if racingHorizon {
            issuedCount &+= 1
            horizonRow = horizonRow &+ 1 == horizon ? 0 : horizonRow &+ 1
        }
        scored += 1
        advancePhases()
    }

    /// The first-season phases a smooth member's value also updates: two before its own and
    /// two after, wrapped round the cycle.
    struct NeighbourSlots {
        var phases: (Int, Int, Int, Int) = (0, 0, 0, 0)

        init() {}

        init(phase: Int, period: Int) {
            // period ≥ 5: one wrap at most (no division, which costs tens of cycles).
            func wrapped(_ offset: Int) -> Int {
                let p = phase &+ offset
                return p < 0 ? p &+ period : (p >= period ? p &- period : p)
            }
            phases = (wrapped(-2), wrapped(-1), wrapped(1), wrapped(2))
        }
    }

    /// A smooth member's value less its new level and its second season (`deseasonalised`)
    /// updates the first-season slots two phases either side of its own, each with the kernel's
    /// share of `gain`.
    @inline(__always)
    private func spread(_ deseasonalised: Lanes, gain: Lanes, group k: Int, near: NeighbourSlots) {
        let adjacent = Lanes(repeating: Self.smoothingKernel.adjacent) * gain
        let second = Lanes(repeating: Self.smoothingKernel.second) * gain
        update(near.phases.0, second)
        update(near.phases.1, adjacent)
        update(near.phases.2, adjacent)
        update(near.phases.3, second)

        @inline(__always)
        func update(_ phase: Int, _ g: Lanes) {
            let slot = season1.baseAddress! + (phase &* groupCount &+ k)
            slot.pointee = slot.pointee + g * (deseasonalised - slot.pointee)
        }
    }

    /// A race's step through group `k`: the first member whose error in `errors` is below
    /// `error` takes the lead (lanes in order, so ties go to the lower position; a spare lane
    /// never competes).
    @inline(__always)
    private func takeLead(_ errors: Lanes, group k: Int, error: inout Double, member index: inout Int) {
        for lane in 0..<Self.laneCount where errors[lane] < error {
            let member = memberAtPosition[k &* Self.laneCount &+ lane]
            if member < 0 { continue }
            error = errors[lane]
            index = member
        }
    }

    /// Member `g`'s forecast for `horizon` steps ahead as issued at the last observation (what
    /// the second race will score `horizon` observations later); 0 before the first, or with a
    /// horizon of 1.
    func issuedHorizonForecast(member g: Int) -> Double {
        guard horizon > 1, issuedCount > 0 else { return 0 }
        let (k, lane) = place(of: g)
        let row = horizonRow == 0 ? horizon - 1 : horizonRow - 1
        return issuedAtHorizon[row * groupCount + k][lane]
    }

    /// Member `g`'s level, and its season slots for a phase of each (for tests; a day-of-week
    /// member's second season is indexed by cycle of the first).
    func level(member g: Int) -> Double {
        let (k, lane) = place(of: g)
        return state[k].level[lane]
    }

    func firstSeasonSlot(member g: Int, phase: Int) -> Double {
        let (k, lane) = place(of: g)
        return season1[phase * groupCount + k][lane]
    }

    func secondSeasonSlot(member g: Int, index: Int) -> Double {
        let (k, lane) = place(of: g)
        return season2[index * groupCount + k][lane]
    }

    /// Member `g`'s recent one-step and H-step squared errors (the second is 0 until scored).
    func raceErrors(member g: Int) -> (oneStep: Double, atHorizon: Double) {
        let (k, lane) = place(of: g)
        return (state[k].meanSquaredError[lane], state[k].horizonSquaredError[lane])
    }

    /// Forecasts for steps 1...out.count: `best`'s, except at the steps (up to `horizon`) where
    /// `bestAtHorizon`'s interpolated error is lower (see the type's notes).
    func forecast(into out: UnsafeMutableBufferPointer<Double>) {
        forecast(member: best, into: out)
        let steps = min(out.count, horizon)
        guard bestAtHorizon != best, steps > 1 else { return }
        let (a1, aH) = raceErrors(member: best), (b1, bH) = raceErrors(member: bestAtHorizon)
        // `best` has the lower one-step error, so the lines cross inside the horizon only if
        // `bestAtHorizon` is lower at its end.
        guard bH < aH else { return }
        let alternative = UnsafeMutableBufferPointer(rebasing: alternativePath[0..<steps])
        forecast(member: bestAtHorizon, into: alternative)
        let span = Double(horizon - 1)
        for i in 1..<steps {
            let t = Double(i) / span
            if b1 + t * (bH - b1) < a1 + t * (aH - a1) { out[i] = alternative[i] }
        }
    }

    func forecast(member g: Int, into out: UnsafeMutableBufferPointer<Double>) {
        let (k, lane) = place(of: g)
        let s = state[k]
        let level = s.level[lane], trend = s.trend[lane]
        let residualAR = s.residualAR[lane], lastResidual = s.lastResidual[lane]
        let damping = parameterTable[k].damping[lane]
        var cumulativeDamping = 0.0
        var dampingPower = 1.0
        var arPower = 1.0
        var i1 = phase1
        var i2 = phase2
        for i in 0..<out.count {
            dampingPower *= damping
            cumulativeDamping += dampingPower
            arPower *= residualAR
            var value = level + cumulativeDamping * trend + season1[i1 * groupCount + k][lane] + arPower * lastResidual
            if period2 != 0 {
                value += season2[(coarseGroup[k] ? i2 / period1 : i2) * groupCount + k][lane]
                i2 = i2 + 1 == period2 ? 0 : i2 + 1
            }
            out[i] = value
            i1 = i1 + 1 == period1 ? 0 : i1 + 1
        }
    }

    /// Lane-wise `Swift.max(x, y)` (y where y ≥ x), spelled out: the standard library's
    /// `pointwiseMax` is not inlined here and was a call per group.
    @inline(__always)
    private static func maximum(_ x: Lanes, _ y: Lanes) -> Lanes {
        Lanes(y[0] >= x[0] ? y[0] : x[0], y[1] >= x[1] ? y[1] : x[1],
              y[2] >= x[2] ? y[2] : x[2], y[3] >= x[3] ? y[3] : x[3])
    }

    /// Lane-wise `Swift.min(x, y)` (y where y < x).
    @inline(__always)
    private static func minimum(_ x: Lanes, _ y: Lanes) -> Lanes {
        Lanes(y[0] < x[0] ? y[0] : x[0], y[1] < x[1] ? y[1] : x[1],
              y[2] < x[2] ? y[2] : x[2], y[3] < x[3] ? y[3] : x[3])
    }

    /// Moves to the next phase of each season. After the warm-up, a season's slots have one
    /// more visit each time it comes round again.
    @inline(__always)
    private func advancePhases() {
        let counting = warmUpRemaining == 0
        if phase1 &+ 1 == period1 {
            phase1 = 0
            if counting { slotVisits1 &+= 1 }
        } else {
            phase1 &+= 1
        }
        guard period2 != 0 else { return }
        if phase2 &+ 1 == period2 {
            phase2 = 0
            if counting { slotVisits2 &+= 1 }
        } else {
            phase2 &+= 1
        }
    }

    private func accumulateWarmUp(_ y: Double) {
        warmUpSums1[phase1] += y
        if period2 != 0 { warmUpSums2[phase2] += y }
        warmUpSum += y
        advancePhases()
        warmUpRemaining -= 1
        guard warmUpRemaining == 0 else { return }

        // Turn the sums into initial components, once, and give every member a copy.
        let n = warmUpLength
        let level = warmUpSum / Double(n)
        for j in 0..<period1 {
            let occurrences = n / period1 + (j < n % period1 ? 1 : 0)
            warmUpSums1[j] = warmUpSums1[j] / Double(occurrences) - level
        }
        if period2 != 0 {
            for k in 0..<period2 {
                let occurrences = n / period2 + (k < n % period2 ? 1 : 0)
                warmUpSums2[k] = warmUpSums2[k] / Double(occurrences) - level - warmUpSums1[k % period1]
            }
        }
        for k in 0..<groupCount {
            state[k].level = Lanes(repeating: level)
            for j in 0..<period1 { season1[j * groupCount + k] = Lanes(repeating: warmUpSums1[j]) }
            if coarseGroup[k] {
                // Each cycle of the first season starts as the mean of its phases' deviations.
                for c in 0..<(period2 / period1) {
                    var sum = 0.0
                    for j in 0..<period1 { sum += warmUpSums2[c * period1 + j] }
                    season2[c * groupCount + k] = Lanes(repeating: sum / Double(period1))
                }
            } else if period2 != 0 {
                for i in 0..<period2 { season2[i * groupCount + k] = Lanes(repeating: warmUpSums2[i]) }
            }
        }
    }
}
