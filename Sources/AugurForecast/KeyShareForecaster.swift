/// Forecasts each key-range bucket's share of the load `horizon` steps ahead from the history
/// of a key histogram (issue 16): where the load *will* be, so a planner can pre-split or move
/// a boundary to where a hotspot is going rather than where it was.
///
/// Feed ``observe(counts:)`` once per forecast step with that step's operations per bucket
/// (a histogram delta; buckets in key order — a table-level view is the partitions'
/// histograms concatenated in key order). Ask ``forecast()`` for the shares at the horizon,
/// ``drift`` for how fast the load moves across the buckets, and ``hotRange(holding:steps:wrapping:)``
/// for the smallest run of buckets that will carry a given part of the load.
///
/// How it forecasts — a race of candidates scored on their own past forecasts:
/// - *persistence*: the newest step's shares;
/// - *long-run mean*: an exponentially weighted mean of the shares (``KeyShareOptions/longRunRate``),
///   the right answer when the distribution is stationary and each step's counts are noisy;
/// - *drift-compensated smoothers*, one per smoothing rate of ``KeyShareOptions/smoothingRates``
///   and per topology (ring: the key space wraps; line: a partition's range, where load leaves
///   at an edge): the smoothed shares are moved by the estimated drift before the new step is
///   blended in, `s ← α·x + (1 − α)·shift(s, v)`, and forecast as `shift(s, v·h)`.
///
/// The drift `v` (buckets per step) is measured between successive steps by circular
/// cross-correlation of the share vectors (centred on the uniform share) over lags up to
/// ``KeyShareOptions/maximumDriftFraction`` of the buckets, refined to a fraction of a bucket by
/// a parabola through the peak, and smoothed with a gain scaled by the square of the peak's
/// normalized correlation (no structure, no update). Shifts by fractions of a bucket
/// interpolate linearly between neighbours.
///
/// Every step, each candidate's forecast issued `horizon` steps earlier is scored against the
/// step's realised shares with the share-weighted absolute error `Σ_b |ŝ_b − s_b|` (twice the
/// total-variation distance: 0 is perfect, 2 is all load in the wrong buckets); the running
/// errors (``KeyShareOptions/errorSmoothing``) weight the blend, `w ∝ error^−p`
/// (``KeyShareOptions/weightExponent``). A stationary distribution thus falls back on the mean
/// or the smoothers with no drift, a drifting one on the shifted smoothers, and a distribution
/// whose motion wraps around the key space on the ring rather than the line. Until the first
/// forecast is scored the blend is persistence.
///
/// A step with no load carries no information about where load is: it scores nothing and
/// updates nothing, but the clock goes on — the next loaded step's drift is measured over the
/// gap, and forecasts count the steps since the last loaded one.
///
/// Cost: `observe` is O(buckets × (candidates + drift lags)) with no allocation (64 buckets,
/// horizon 6: a few microseconds); memory `(candidates + 1) × horizon × buckets` doubles for
/// the forecasts awaiting their score, with `candidates = 2 + 2 × smoothingRates.count`.
///
/// Thread-safety: not `Sendable`; one instance per key-share series, confined to one thread
/// (the controller's queue).
public final class KeyShareForecaster {
    /// Number of buckets.
    public let bucketCount: Int
    /// The horizon the candidates are scored at, in steps.
    public let horizon: Int
    /// The options it was created with.
    public let options: KeyShareOptions

    /// Steps observed (loaded or not).
    public private(set) var stepCount = 0
    /// Steps observed that carried load.
    public private(set) var loadedStepCount = 0

    private let rateCount: Int
    private let candidateCount: Int
    private let maxLag: Int
    private var velocity = 0.0
    private var driftConfidence = 0.0
    /// Steps since the last loaded step (0 right after one).
    private var age = 0
    private var scoredCount = 0

    // One allocation holds every vector; offsets below. `rates` lives in it too.
    private let store: UnsafeMutablePointer<Double>
    private let storeCount: Int
    private let latest: Int          // newest loaded step's shares (persistence)
    private let incoming: Int        // the step being observed, as shares
    private let mean: Int            // long-run mean shares
    private let smoothers: Int       // 2 × rateCount vectors: ring ones, then line ones
    private let scratch: Int
    private let output: Int          // the blend, for hotRange
    private let pending: Int         // horizon slots × (candidateCount + 1) vectors
    private let errors: Int          // candidateCount + 1 running errors (the last: the blend)
    private let weights: Int         // candidateCount blend weights
    private let rates: Int           // rateCount smoothing rates
    private let slotValid: UnsafeMutablePointer<Bool>

    /// Creates a forecaster of `bucketCount` shares, scored at `horizon` steps.
    ///
    /// - Throws: ``KeyShareError/invalidBucketCount(count:minimum:maximum:)`` outside
    ///   1...4096, ``KeyShareError/invalidHorizon(horizon:minimum:maximum:)`` outside
    ///   1...``KeyShareOptions/maximumHorizon``, or an invalid option.
    public init(bucketCount: Int, horizon: Int, options: KeyShareOptions = KeyShareOptions()) throws(KeyShareError) {
        guard (1...KeyShareOptions.maximumBucketCount).contains(bucketCount) else {
            throw .invalidBucketCount(count: bucketCount, minimum: 1, maximum: KeyShareOptions.maximumBucketCount)
        }
        guard (1...KeyShareOptions.maximumHorizon).contains(horizon) else {
            throw .invalidHorizon(horizon: horizon, minimum: 1, maximum: KeyShareOptions.maximumHorizon)
        }
        try options.validate()
        self.bucketCount = bucketCount
        self.horizon = horizon
        self.options = options
        rateCount = options.smoothingRates.count
        candidateCount = 2 + 2 * rateCount
        maxLag = min(Int(options.maximumDriftFraction * Double(bucketCount)), (bucketCount - 1) / 2)
        let n = bucketCount
        latest = 0
        incoming = n
        mean = 2 * n
        smoothers = 3 * n
        scratch = smoothers + 2 * rateCount * n
        output = scratch + n
        pending = output + n
        errors = pending + horizon * (candidateCount + 1) * n
        weights = errors + candidateCount + 1
        rates = weights + candidateCount
        storeCount = rates + rateCount
        store = .allocate(capacity: storeCount)
        store.initialize(repeating: 0, count: storeCount)
        for (i, r) in options.smoothingRates.enumerated() { store[rates + i] = r }
        slotValid = .allocate(capacity: horizon)
        slotValid.initialize(repeating: false, count: horizon)
        let uniform = 1 / Double(n)
        for b in 0..<n { store[latest + b] = uniform }
    }

    deinit {
        store.deallocate()
        slotValid.deallocate()
    }

    // MARK: - Observing

    /// Adds one step: `counts[b]` is the load of bucket `b` during the step (operations, or
    /// any non-negative weight), buckets in key order.
    ///
    /// - Throws: ``KeyShareError/countMismatch(count:expected:)`` for a vector of the wrong
    ///   length, ``KeyShareError/invalidCount(bucket:value:)`` for a NaN, infinite or negative
    ///   count. A rejected step changes nothing.
    public func observe(counts: [Double]) throws(KeyShareError) {
        guard counts.count == bucketCount else { throw .countMismatch(count: counts.count, expected: bucketCount) }
        var total = 0.0
        for b in 0..<bucketCount {
            let c = counts[b]
            guard c.isFinite && c >= 0 else { throw .invalidCount(bucket: b, value: c) }
            store[incoming + b] = c
            total += c
        }
        if !total.isFinite {
            // Finite counts whose sum overflows: only their ratios matter, so scale them down.
            var largest = 0.0
            for b in 0..<bucketCount { largest = max(largest, store[incoming + b]) }
            total = 0
            for b in 0..<bucketCount {
                store[incoming + b] /= largest
                total += store[incoming + b]
            }
        }
        ingest(total: total)
    }

    /// Adds one step given as a key histogram's delta over the step (operations per bucket,
    /// e.g. reads + writes of two snapshots subtracted). See ``observe(counts:)``.
    ///
    /// - Throws: ``KeyShareError/countMismatch(count:expected:)`` for a vector of the wrong length.
    public func observe(histogramDelta: [UInt64]) throws(KeyShareError) {
        guard histogramDelta.count == bucketCount else { throw .countMismatch(count: histogramDelta.count, expected: bucketCount) }
        var total = 0.0
        for b in 0..<bucketCount {
            let c = Double(histogramDelta[b])
            store[incoming + b] = c
            total += c
        }
        ingest(total: total)
    }

    /// `store[incoming]` holds the step's counts summing to `total`.
    private func ingest(total: Double) {
        let n = bucketCount
        let slot = stepCount % horizon
        if total > 0 {
            let x = store + incoming
            // Divided, not multiplied by 1/total: a subnormal total has no finite inverse.
            for b in 0..<n { x[b] /= total }
            score(slot: slot, truth: x)
            let gap = age + 1
            if loadedStepCount > 0 {
                measureDrift(from: store + latest, to: x, steps: gap)
                for r in 0..<rateCount {
                    let alpha = store[rates + r]
                    blend(store + smoothers + r * n, with: x, alpha: alpha, shift: velocity * Double(gap), topology: .ring)
                    blend(store + smoothers + (rateCount + r) * n, with: x, alpha: alpha, shift: velocity * Double(gap), topology: .line)
                }
                let m = store + mean
                let rate = max(options.longRunRate, 1 / Double(loadedStepCount + 1))
                for b in 0..<n { m[b] += rate * (x[b] - m[b]) }
            } else {
                for v in 0..<(2 * rateCount) { (store + smoothers + v * n).update(from: x, count: n) }
                (store + mean).update(from: x, count: n)
            }
            (store + latest).update(from: x, count: n)
            loadedStepCount += 1
            age = 0
        } else {
            slotValid[slot] = false
            if loadedStepCount > 0 { age += 1 }
        }
        if loadedStepCount > 0 {
            issue(slot: slot)
        }
        stepCount += 1
    }

    /// Scores the forecasts issued `horizon` steps ago (held in `slot`) against `truth`.
    private func score(slot: Int, truth: UnsafePointer<Double>) {
        guard slotValid[slot] else { return }
        let n = bucketCount
        let base = store + pending + slot * (candidateCount + 1) * n
        let first = scoredCount == 0
        for c in 0...candidateCount {
            let e = KeyShareKernels.l1(base + c * n, truth, count: n)
            if first {
                store[errors + c] = e
            } else {
                store[errors + c] += options.errorSmoothing * (e - store[errors + c])
            }
        }
        scoredCount += 1
    }

    private func measureDrift(from before: UnsafePointer<Double>, to after: UnsafePointer<Double>, steps: Int) {
        let m = KeyShareKernels.drift(from: before, to: after, count: bucketCount, maxLag: maxLag)
        let confidence = max(0, m.confidence)
        let gain = options.driftSmoothing * confidence * confidence
        velocity += gain * (m.buckets / Double(steps) - velocity)
        driftConfidence += options.driftSmoothing * (confidence - driftConfidence)
    }

    /// `s ← α·x + (1 − α)·shift(s, by)`.
    private func blend(_ s: UnsafeMutablePointer<Double>, with x: UnsafePointer<Double>, alpha: Double,
                       shift d: Double, topology: KeyShareTopology) {
        let n = bucketCount
        let tmp = store + scratch
        KeyShareKernels.shift(s, by: d, into: tmp, count: n, topology: topology)
        let keep = 1 - alpha
        for b in 0..<n { s[b] = alpha * x[b] + keep * tmp[b] }
    }

    /// Stores every candidate's forecast at the horizon, and the blend's, in `slot`.
    private func issue(slot: Int) {
        let n = bucketCount
        let base = store + pending + slot * (candidateCount + 1) * n
        for c in 0..<candidateCount {
            candidate(c, steps: horizon, into: base + c * n)
        }
        blendedForecast(steps: horizon, into: base + candidateCount * n)
        slotValid[slot] = true
    }

    // MARK: - Forecasting

    /// Candidate `c`'s shares `steps` steps after the newest step.
    private func candidate(_ c: Int, steps: Int, into out: UnsafeMutablePointer<Double>) {
        let n = bucketCount
        let ahead = velocity * Double(steps + age)
        switch c {
        case 0: out.update(from: store + latest, count: n)
        case 1: out.update(from: store + mean, count: n)
        default:
            let v = c - 2
            KeyShareKernels.shift(store + smoothers + v * n, by: ahead, into: out, count: n,
                                  topology: v < rateCount ? .ring : .line)
        }
    }

    private func updateWeights() {
        let w = store + weights
        if scoredCount == 0 {
            for c in 0..<candidateCount { w[c] = c == 0 ? 1 : 0 }
            return
        }
        var best = Double.infinity
        for c in 0..<candidateCount { best = min(best, store[errors + c]) }
        // Relative to the best, so the exponent never under- or overflows.
        let floor = max(best, 1e-12)
        var sum = 0.0
        for c in 0..<candidateCount {
            let ratio = max(store[errors + c], 1e-12) / floor
            // ratio^−p = 0.5^(p·log2 ratio), through MathSupport (the one file importing libc).
            let v = ratio > 1e6 ? 0 : decayFactor(halfLife: 0.6931471805599453 / (options.weightExponent * naturalLog(ratio)))
            w[c] = v
            sum += v
        }
        for c in 0..<candidateCount { w[c] /= sum }
    }

    private func blendedForecast(steps: Int, into out: UnsafeMutablePointer<Double>) {
        let n = bucketCount
        if loadedStepCount == 0 {
            let uniform = 1 / Double(n)
            for b in 0..<n { out[b] = uniform }
            return
        }
        updateWeights()
        let tmp = store + scratch
        for b in 0..<n { out[b] = 0 }
        for c in 0..<candidateCount {
            let w = store[weights + c]
            guard w > 1e-9 else { continue }
            candidate(c, steps: steps, into: tmp)
            for b in 0..<n { out[b] += w * tmp[b] }
        }
        var sum = 0.0
        for b in 0..<n {
            let v = max(0, out[b])
            out[b] = v
            sum += v
        }
        if sum > 0 {
            let inverse = 1 / sum
            for b in 0..<n { out[b] *= inverse }
        } else {
            let uniform = 1 / Double(n)
            for b in 0..<n { out[b] = uniform }
        }
    }

    /// The forecast share of each bucket `steps` steps after the newest observed step
    /// (default: the horizon), written into `out` (`bucketCount` entries); non-negative,
    /// summing to 1; uniform before any load was seen. No allocation.
    ///
    /// - Throws: ``KeyShareError/invalidHorizon(horizon:minimum:maximum:)`` for `steps`
    ///   outside 1...``KeyShareOptions/maximumHorizon``, ``KeyShareError/countMismatch(count:expected:)``
    ///   when `out` has the wrong length.
    public func forecast(steps: Int? = nil, into out: UnsafeMutableBufferPointer<Double>) throws(KeyShareError) {
        let h = steps ?? horizon
        guard (1...KeyShareOptions.maximumHorizon).contains(h) else {
            throw .invalidHorizon(horizon: h, minimum: 1, maximum: KeyShareOptions.maximumHorizon)
        }
        guard out.count == bucketCount, let base = out.baseAddress else {
            throw .countMismatch(count: out.count, expected: bucketCount)
        }
        blendedForecast(steps: h, into: base)
    }

    /// The forecast shares `steps` steps ahead (default: the horizon). See
    /// ``forecast(steps:into:)``.
    public func forecast(steps: Int? = nil) throws(KeyShareError) -> [Double] {
        var result = [Double](repeating: 0, count: bucketCount)
        try result.withUnsafeMutableBufferPointer { (buffer) throws(KeyShareError) in
            try forecast(steps: steps, into: buffer)
        }
        return result
    }

    /// The newest loaded step's shares (what persistence forecasts); uniform before any load.
    public var latestShares: [Double] { Array(UnsafeBufferPointer(start: store + latest, count: bucketCount)) }

    /// How fast the load moves across the buckets.
    public var drift: KeyShareDrift {
        KeyShareDrift(bucketsPerStep: velocity, bucketCount: bucketCount, confidence: min(1, max(0, driftConfidence)))
    }

    /// The running share-weighted absolute error of the blended forecasts scored so far
    /// (`Σ_b |ŝ_b − s_b|`, in [0, 2]); nil before the first score.
    public var recentError: Double? { scoredCount == 0 ? nil : store[errors + candidateCount] }

    /// The blend's weight of each candidate, by name, in the order persistence, mean,
    /// `ring α=…`, `line α=…` (for diagnostics and benchmarks).
    public var candidateWeights: [(name: String, weight: Double, error: Double?)] {
        updateWeights()
        return (0..<candidateCount).map { c in
            let name: String
            switch c {
            case 0: name = "persistence"
            case 1: name = "mean"
            default:
                let v = c - 2
                name = (v < rateCount ? "ring α=" : "line α=") + "\(store[rates + v % rateCount])"
            }
            return (name, store[weights + c], scoredCount == 0 ? nil : store[errors + c])
        }
    }

    /// The smallest run of adjacent buckets whose forecast share (`steps` ahead, default the
    /// horizon) is at least `fraction` of the load — where to pre-split, or where a boundary
    /// should move. With `wrapping` the run may continue from the last bucket to the first
    /// (the key space as a ring); of equally short runs the one with the larger share wins.
    ///
    /// - Throws: ``KeyShareError/invalidOption(name:value:limit:)`` for `fraction` outside
    ///   (0, 1], or an invalid `steps` as ``forecast(steps:into:)``.
    public func hotRange(holding fraction: Double, steps: Int? = nil, wrapping: Bool = true) throws(KeyShareError) -> KeyShareRange {
        guard fraction > 0 && fraction <= 1 else {
            throw .invalidOption(name: "fraction", value: fraction, limit: "must be in (0, 1]")
        }
        let h = steps ?? horizon
        guard (1...KeyShareOptions.maximumHorizon).contains(h) else {
            throw .invalidHorizon(horizon: h, minimum: 1, maximum: KeyShareOptions.maximumHorizon)
        }
        let out = store + output
        blendedForecast(steps: h, into: out)
        return KeyShareRange.smallest(in: out, count: bucketCount, holding: fraction, wrapping: wrapping)
    }
}

/// The estimated drift of the load across the buckets.
///
/// Thread-safety: a plain value; `Sendable`.
public struct KeyShareDrift: Sendable, Equatable {
    /// Buckets per forecast step; positive = towards higher keys.
    public var bucketsPerStep: Double
    /// Number of buckets the drift is measured over.
    public var bucketCount: Int
    /// How well successive steps match once shifted, smoothed: the normalized
    /// cross-correlation at the measured shift, in [0, 1] (near 1: a shape moving rigidly; near
    /// 0: nothing to follow, the drift means nothing).
    public var confidence: Double

    /// Fraction of the bucketed key range per forecast step.
    public var rangeFractionPerStep: Double { bucketsPerStep / Double(bucketCount) }
}

/// A run of adjacent buckets: `firstBucket`, `firstBucket + 1`, … `bucketCount` of them,
/// modulo the number of buckets (it wraps when `firstBucket + bucketCount` exceeds it).
///
/// Thread-safety: a plain value; `Sendable`.
public struct KeyShareRange: Sendable, Equatable {
    /// The first bucket of the run.
    public var firstBucket: Int
    /// The number of buckets in the run.
    public var bucketCount: Int
    /// The forecast share of the load the run carries, in [0, 1].
    public var share: Double

    /// The buckets in key order of the run (wrapped indices when the run wraps).
    public func buckets(of total: Int) -> [Int] { (0..<bucketCount).map { (firstBucket + $0) % total } }

    /// Two pointers over the (doubled, when wrapping) vector: O(n).
    static func smallest(in s: UnsafePointer<Double>, count n: Int, holding fraction: Double, wrapping: Bool) -> KeyShareRange {
        var total = 0.0
        for b in 0..<n { total += s[b] }
        guard total > 0 else { return KeyShareRange(firstBucket: 0, bucketCount: n, share: 0) }
        let target = fraction * total * (1 - 1e-12)
        var best = KeyShareRange(firstBucket: 0, bucketCount: n, share: total)
        let limit = wrapping ? 2 * n : n
        var end = 0           // exclusive
        var sum = 0.0
        for start in 0..<n {
            while end < limit && end - start < n && sum < target {
                sum += s[end % n]
                end += 1
            }
            if sum >= target {
                let length = end - start
                if length < best.bucketCount || (length == best.bucketCount && sum > best.share) {
                    best = KeyShareRange(firstBucket: start, bucketCount: length, share: sum)
                }
            }
            sum -= s[start]
        }
        best.share = min(1, best.share / total)
        return best
    }
}
