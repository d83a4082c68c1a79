/// Options for detecting seasonal periods from the autocorrelation function (ACF).
///
/// Thread-safety: a plain value; `Sendable`.
public struct PeriodDetectionOptions: Sendable, Equatable {
    /// Most observations the ensemble buffers for detection, in observations. Detection runs
    /// at checkpoints as the history grows (`firstCheck`, then × `checkGrowth`) and a last time
    /// when this many are buffered; the buffer is then released and the periods are final. The
    /// ensemble forecasts throughout, with the non-seasonal members until a period is found.
    /// Default 1024 (≈ three weeks of half-hours, room for three weekly cycles).
    public var history = 1024
    /// History at the first detection attempt, in observations (at most `history`). Default 16.
    public var firstCheck = 16
    /// Each later checkpoint is at least this multiple of the previous one (dimensionless,
    /// > 1). Default 1.125: a period is checked within 12.5% of history after it becomes
    /// detectable, and all checkpoints together cost about five times the last one.
    public var checkGrowth = 1.125
    /// Cycles of a period the history must hold before the period is considered: lags up to
    /// n / minimumCycles are searched (dimensionless, ≥ 2). Default 2.5: a repeat seen
    /// only twice is too easily a coincidence of a short history.
    public var minimumCycles = 2.5
    /// A peak must also reach noiseThreshold / √n — that many standard errors of a white-noise
    /// autocorrelation over n observations — so a short history does not report a chance peak.
    /// Dimensionless, default 3 (0.094 at n = 1024, below `minimumCorrelation`).
    public var noiseThreshold = 3.0
    /// Shortest period considered, in observations. Default 2.
    public var minimumPeriod = 2
    /// Longest period considered, in observations. Default 512. Lags beyond
    /// n / `minimumCycles` of an n-observation history are never considered.
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
        guard firstCheck >= 4 else {
            throw .invalidOption(name: "periodDetection.firstCheck", value: Double(firstCheck),
                                 limit: "must be at least 4 observations")
        }
        guard checkGrowth > 1 && checkGrowth <= 16 else {
            throw .invalidOption(name: "periodDetection.checkGrowth", value: checkGrowth, limit: "must be in (1, 16]")
        }
        guard minimumCycles >= 2 && minimumCycles <= 16 else {
            throw .invalidOption(name: "periodDetection.minimumCycles", value: minimumCycles,
                                 limit: "must be between 2 and 16 cycles")
        }
        guard noiseThreshold >= 0 && noiseThreshold <= 10 else {
            throw .invalidOption(name: "periodDetection.noiseThreshold", value: noiseThreshold,
                                 limit: "must be between 0 and 10")
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
/// 1. Compute the ACF r(k) for k = 1 … L + 1, L = min(maximumPeriod, n / minimumCycles).
/// 2. Candidate peaks: lags k ≤ L above both neighbours with r(k) ≥ max(minimumCorrelation,
///    noiseThreshold / √n) and prominence r(k) − min r[k/2…k] ≥ minimumProminence. Why the
///    √n term: the ACF of n white-noise values scatters with standard error ≈ 1/√n, so on a
///    short history (the ensemble checks from 16 observations on) 0.3 is well within chance.
/// 3. First period: the shortest candidate whose r is at least `relativeStrength` × the highest
///    candidate's. Why: a weekly lag usually correlates *more* than a daily one (it also matches
///    the weekday), yet the daily cycle is the basic one. It is then refined to the best of
///    its neighbours by the squared differences at its multiples (`refinedPeriod`).
/// 4. Second period: the first multiple m·p₁ (m ≥ 2, with (m+1)·p₁ ≤ L) where the sequence
///    r(p₁), r(2p₁), … has a prominent local maximum (each multiple looks ±1 lag around it, for
///    periods that are not exact multiples), e.g. lag 336 = 7 × 48 in half-hourly load.
///
/// Cost O(n · L). The ensemble runs it at checkpoints of geometrically growing history, up to
/// `PeriodDetectionOptions.history`, never per observation.
///
/// Thread-safety: stateless; safe from any thread.
public enum PeriodDetection {
    /// Detected periods, ascending: empty (no seasonality), one, or two.
    public static func detect(_ values: some Collection<Double>,
                              options: PeriodDetectionOptions = PeriodDetectionOptions()) -> [Int] {
        let series = ContiguousArray(values)
        let n = series.count
        let limit = min(options.maximumPeriod, Int(Double(n) / options.minimumCycles))
        guard limit >= 2 else { return [] }
        let centred = centred(series)
        let acf = autocorrelation(centred, maximumLag: min(limit + 1, n - 1))
        let threshold = max(options.minimumCorrelation, options.noiseThreshold / Double(n).squareRoot())
        return periods(fromAutocorrelation: acf, limit: limit, threshold: threshold, options: options) {
            refinedPeriod($0, centred: centred, minimumPeriod: options.minimumPeriod)
        }
    }

    /// The series minus its mean.
    static func centred(_ series: ContiguousArray<Double>) -> ContiguousArray<Double> {
        var mean = 0.0
        for v in series { mean += v }
        mean /= Double(max(series.count, 1))
        var centred = series
        for i in centred.indices { centred[i] -= mean }
        return centred
    }

    /// r[k] for k = 0 … maximumLag (r[0] = 1) of a centred series; all zeros for a constant one.
    static func autocorrelation(_ centred: ContiguousArray<Double>, maximumLag: Int) -> ContiguousArray<Double> {
        let n = centred.count
        var acf = ContiguousArray<Double>(repeating: 0, count: max(maximumLag, 0) + 1)
        guard n > 1, maximumLag >= 1 else { return acf }
        var variance = 0.0
        for v in centred { variance += v * v }
        guard variance > 0 else { return acf }
        acf[0] = 1
        for k in 1...maximumLag {
            var sum = 0.0
            for i in 0..<(n - k) { sum += centred[i] * centred[i + k] }
            acf[k] = sum / variance
        }
        return acf
    }

    /// A neighbour replaces the ACF's peak only if its squared differences are below this
    /// fraction of the peak's (dimensionless). Why not 1: on real load the peak lag and its
    /// neighbour can differ by a few percent for reasons other than the period (on the first
    /// days of nyc_taxi lag 49 beats 48 by 5–15%); with 0.9 those stay at the ACF's choice,
    /// while the clear shifts of short synthetic histories (ratios 1.1–2) are still corrected.
    static let refinementMargin = 0.9

    /// Of the lags p − 1, p, p + 1, the one whose first multiples (up to 8, within n/2) have the
    /// smallest mean squared difference mean((y[i] − y[i+k])²), p unless beaten by
    /// `refinementMargin`. Why: the ACF's peak is blurred on a short history — the estimate
    /// shrinks by (n − k)/n, moving a broad peak a lag early (47 for 48), and a partial last
    /// cycle adds an edge term that varies with k — while the squared difference at a whole
    /// period is the noise alone, whatever the edges; its repeats at the multiples then
    /// outvote the noise.
    static func refinedPeriod(_ p: Int, centred c: ContiguousArray<Double>, minimumPeriod: Int) -> Int {
        let n = c.count
        let multiples = max(1, min(8, (n / 2) / (p + 1)))
        func score(_ q: Int) -> Double {
            var total = 0.0
            for m in 1...multiples {
                let k = m * q
                guard k < n else { break }
                var sum = 0.0
                for i in 0..<(n - k) {
                    let d = c[i] - c[i + k]
                    sum += d * d
                }
                total += sum / Double(n - k)
            }
            return total
        }
        var best = p
        var bestScore = score(p) * Self.refinementMargin
        for q in [p - 1, p + 1] where q >= max(minimumPeriod, 2) {
            let s = score(q)
            if s < bestScore {
                best = q
                bestScore = s
            }
        }
        return best
    }

    /// Periods from r[0…], searching lags up to `limit` (r may hold one lag more, the last
    /// peak's right neighbour); a peak needs r ≥ `threshold`.
    static func periods(fromAutocorrelation r: ContiguousArray<Double>, limit: Int, threshold: Double,
                        options: PeriodDetectionOptions, refine: (Int) -> Int = { $0 }) -> [Int] {
        let maxLag = r.count - 1
        let last = min(limit, maxLag)
        guard last >= max(options.minimumPeriod, 2) else { return [] }

        var peaks: [Int] = []
        for k in max(options.minimumPeriod, 2)...last {
            let left = r[k - 1]
            let right = k < maxLag ? r[k + 1] : -Double.infinity
            guard r[k] > left && r[k] >= right && r[k] >= threshold else { continue }
            var trough = r[k]
            for j in (k / 2)...k { trough = min(trough, r[j]) }
            if r[k] - trough >= options.minimumProminence { peaks.append(k) }
        }
        guard let strongest = peaks.map({ r[$0] }).max() else { return [] }
        let first = refine(peaks.first { r[$0] >= options.relativeStrength * strongest }!)

        // Look along multiples of the first period for a second, longer cycle.
        func correlation(atMultiple m: Int) -> (lag: Int, value: Double)? {
            let centre = m * first
            guard centre - 1 <= last else { return nil }
            var best = (lag: centre, value: -Double.infinity)
            for lag in (centre - 1)...(centre + 1) where lag >= 1 && lag <= maxLag && r[lag] > best.value {
                best = (lag, r[lag])
            }
            return best
        }
        var lowest = r[first]
        var m = 2
        // A multiple counts only with the next one in range too: at the edge of a short history
        // a rising ACF would otherwise look like a peak.
        while let here = correlation(atMultiple: m), let next = correlation(atMultiple: m + 1)?.value {
            let previous = correlation(atMultiple: m - 1)!.value
            if here.value > previous && here.value >= next
                && here.value >= threshold
                && here.value - lowest >= options.minimumProminence {
                return [first, here.lag]
            }
            lowest = min(lowest, here.value)
            m += 1
        }
        return [first]
    }
}
