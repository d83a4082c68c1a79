/// Online parameter fitting by racing: the same model with several parameter settings runs
/// side by side on every observation, and the setting with the lowest recent one-step error
/// is the one whose forecasts are used.
///
/// "Recent" is an exponentially weighted mean squared one-step error with a half-life of
/// `errorHalfLife` observations, so the choice follows regime changes while costing O(1) per
/// member and no history. A member is only eligible once it is warm; scoring starts with its
/// first warm forecast (seeded with that squared error, not zero, so a member that just warmed
/// up does not look perfect).
///
/// Why a grid instead of gradient fitting: the smoothing methods' likelihoods are flat and
/// multi-modal, an online gradient needs step-size tuning of its own, and a small grid costs a
/// fixed, predictable number of flops per observation.
///
/// Thread-safety: not thread-safe; owned by one ensemble.
final class ModelGrid<Model: OnlineForecastModel> {
    private struct Entry {
        var model: Model
        var meanSquaredError = 0.0
        var scored = 0
    }

    /// Fixed at init (see `allocateFixed`).
    private let entries: UnsafeMutableBufferPointer<Entry>
    private let decay: Double
    /// Index of the member currently used for forecasts.
    private(set) var best = 0

    init(members: [Model], errorHalfLife: Double) {
        precondition(!members.isEmpty, "a model grid needs at least one member")
        entries = .allocate(capacity: members.count)
        _ = entries.initialize(from: members.map { Entry(model: $0) })
        decay = decayFactor(halfLife: errorHalfLife)
    }

    deinit { releaseFixed(entries) }

    var isWarm: Bool { entries[best].model.isWarm }

    func observe(_ value: Double) {
        var bestIndex = -1
        var bestError = Double.infinity
        let decay = self.decay
        do {
            for i in 0..<entries.count {
                if entries[i].model.isWarm {
                    let error = value - entries[i].model.oneStepForecast()
                    entries[i].meanSquaredError = entries[i].scored == 0
                        ? error * error
                        : decay * entries[i].meanSquaredError + (1 - decay) * error * error
                    entries[i].scored += 1
                }
                entries[i].model.observe(value)
                if entries[i].scored > 0 && entries[i].meanSquaredError < bestError {
                    bestError = entries[i].meanSquaredError
                    bestIndex = i
                }
            }
        }
        if bestIndex >= 0 {
            best = bestIndex
        } else if !entries[best].model.isWarm, let firstWarm = entries.firstIndex(where: { $0.model.isWarm }) {
            best = firstWarm
        }
    }

    func forecast(into out: UnsafeMutableBufferPointer<Double>) {
        entries[best].model.forecast(into: out)
    }
}
