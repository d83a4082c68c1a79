/// Options for detecting seasonal periods from the autocorrelation function (ACF).
///
/// Thread-safety: a plain value; `Sendable`.
public struct PeriodDetectionOptions: Sendable, Equatable {
    /// Observations collected before periods are detected (the ensemble forecasts nothing
    /// until then), in observations. Default 1024 (≈ three weeks of half-hours, room for two
    /// weekly cycles plus neighbours).
    public var history = 1024
    /// Shortest period considered, in observations. Default 2.
    public var minimumPeriod = 2
    /// Longest period considered, in observations. Default 512. Lags beyond half the history
    /// are never considered: fewer than two cycles cannot show a repeat.
    public var maximumPeriod = 512
    /// Autocorrelation a peak needs to count as seasonal (dimensionless, in (0, 1)). Default 0.3.
    public var minimumCorrelation = 0.3
    /// How far a peak must rise above the lowest autocorrelation since half its lag
    /// (dimensionless). Default 0.1; rejects the ripples of a trending or noisy ACF.
    public var minimumProminence = 0.1
    /// A shorter peak is preferred as the first period when its autocorrelation is at least this
    /// fraction of the highest peak's (dimensionless, in (0, 1]). Default 0.8.
    public var relativeStrength = 0.8

    public init() {}

    func validate() throws(ForecastError) {
        guard minimumPeriod >= 2 else { throw .periodTooShort(period: minimumPeriod, minimum: 2) }
        guard maximumPeriod >= minimumPeriod && maximumPeriod <= ForecastOptions.maximumPeriod else {
            throw .invalidOption(name: "periodDetection.maximumPeriod", value: Double(maximumPeriod),
                                 limit: "must be between minimumPeriod (\(minimumPeriod)) and \(ForecastOptions.maximumPeriod)")
        }
        guard history >= 2 * minimumPeriod + 2 && history <= 1 << 20 else {
            throw .invalidOption(name: "periodDetection.history", value: Double(history),
                                 limit: "must be between \(2 * minimumPeriod + 2) and \(1 << 20) observations")
        }
        for (name, value) in [("minimumCorrelation", minimumCorrelation), ("minimumProminence", minimumProminence),
                              ("relativeStrength", relativeStrength)] {
            guard value > 0 && value <= 1 else {
                throw .invalidOption(name: "periodDetection.\(name)", value: value, limit: "must be in (0, 1]")
            }
        }
    }
}

/// Seasonal period detection from the sample autocorrelation of the history seen so far.
///
/// 1. Compute the ACF r(k) for k = 1 … min(maximumPeriod, n/2).
/// 2. Candidate peaks: local maxima with r(k) ≥ minimumCorrelation and prominence
///    r(k) − min r[k/2…k] ≥ minimumProminence.
/// 3. First period: the shortest candidate whose r is at least `relativeStrength` × the highest
///    candidate's. Why: a weekly lag usually correlates *more* than a daily one (it also matches
///    the weekday), yet the daily cycle is the basic one.
/// 4. Second period: the first multiple m·p₁ (m ≥ 2) where the sequence r(p₁), r(2p₁), … has a
///    prominent local maximum (each multiple looks ±1 lag around it, for periods that are not
///    exact multiples), e.g. lag 336 = 7 × 48 in half-hourly load.
///
/// Cost O(n · maxLag), run once at the end of the detection warm-up, not per observation.
///
/// Thread-safety: stateless; safe from any thread.
public enum PeriodDetection {
    /// Detected periods, ascending: empty (no seasonality), one, or two.
    public static func detect(_ values: some Collection<Double>,
                              options: PeriodDetectionOptions = PeriodDetectionOptions()) -> [Int] {
        let series = ContiguousArray(values)
        let acf = autocorrelation(series, maximumLag: min(options.maximumPeriod, series.count / 2))
        return periods(fromAutocorrelation: acf, options: options)
    }

    /// r[k] for k = 0 … maximumLag (r[0] = 1); all zeros for a constant series.
    static func autocorrelation(_ series: ContiguousArray<Double>, maximumLag: Int) -> ContiguousArray<Double> {
        let n = series.count
        var acf = ContiguousArray<Double>(repeating: 0, count: max(maximumLag, 0) + 1)
        guard n > 1, maximumLag >= 1 else { return acf }
        var mean = 0.0
        for v in series { mean += v }
        mean /= Double(n)
        var centred = series
        var variance = 0.0
        for i in 0..<n {
            centred[i] -= mean
            variance += centred[i] * centred[i]
        }
        guard variance > 0 else { return acf }
        acf[0] = 1
        for k in 1...maximumLag {
            var sum = 0.0
            for i in 0..<(n - k) { sum += centred[i] * centred[i + k] }
            acf[k] = sum / variance
        }
        return acf
    }

    static func periods(fromAutocorrelation r: ContiguousArray<Double>, options: PeriodDetectionOptions) -> [Int] {
        let maxLag = r.count - 1
        guard maxLag >= max(options.minimumPeriod, 2) else { return [] }

        var peaks: [Int] = []
        for k in max(options.minimumPeriod, 2)...maxLag {
            let left = r[k - 1]
            let right = k < maxLag ? r[k + 1] : -Double.infinity
            guard r[k] > left && r[k] >= right && r[k] >= options.minimumCorrelation else { continue }
            var trough = r[k]
            for j in (k / 2)...k { trough = min(trough, r[j]) }
            if r[k] - trough >= options.minimumProminence { peaks.append(k) }
        }
        guard let strongest = peaks.map({ r[$0] }).max() else { return [] }
        let first = peaks.first { r[$0] >= options.relativeStrength * strongest }!

        // Look along multiples of the first period for a second, longer cycle.
        func correlation(atMultiple m: Int) -> (lag: Int, value: Double)? {
            let centre = m * first
            guard centre - 1 <= maxLag else { return nil }
            var best = (lag: centre, value: -Double.infinity)
            for lag in (centre - 1)...(centre + 1) where lag >= 1 && lag <= maxLag && r[lag] > best.value {
                best = (lag, r[lag])
            }
            return best
        }
        var lowest = r[first]
        var m = 2
        while let here = correlation(atMultiple: m) {
            let previous = correlation(atMultiple: m - 1)!.value
            let next = correlation(atMultiple: m + 1)?.value ?? -Double.infinity
            if here.value > previous && here.value >= next
                && here.value >= options.minimumCorrelation
                && here.value - lowest >= options.minimumProminence {
                return [first, here.lag]
            }
            lowest = min(lowest, here.value)
            m += 1
        }
        return [first]
    }
}
