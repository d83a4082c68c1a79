import AugurForecast
import AugurPlanner
import AugurStats

/// One simulated partition: its key range, data, and the telemetry the engine would keep for
/// it (recent per-second samples, per-forecast-step history and peaks, histogram, forecaster).
///
/// Thread-safety: not thread-safe; owned by one ``Simulator``.
final class SimPartition {
    let id: PartitionID
    let range: KeyRange
    /// Key positions of the range bounds.
    let lo: Double
    let hi: Double
    let createdAt: UInt64
    var state: PartitionState
    let sizeBytes: UInt64
    /// Positions of the histogram bucket bounds (bucketCount + 1 values).
    let bucketEdges: [Double]
    let map: KeyPositionMap

    /// Newest per-second samples (ring of `recentCapacity`).
    private(set) var recent: [LoadSample] = []
    private var recentStart = 0
    let recentCapacity: Int

    /// Mean ops/s of each completed forecast step, oldest first.
    private(set) var stepHistory: [Double] = []
    /// Peak per-second sample of each completed step, oldest first.
    private(set) var stepPeaks: [LoadSample] = []
    private let historyCapacity: Int
    private let peakCapacity: Int

    private var stepOps = 0.0
    private var stepSeconds = 0
    private var stepPeak = LoadSample.zero
    /// Cached peaks of completed steps per window (recomputed at each step end).
    private var completedWindowPeaks: [WindowPeak] = []

    /// Whether this partition's histogram places keys finely enough to cut at load quantiles
    /// (``SimulationOptions/initialHistogramResolvesKeys``); false sends splits to the data median.
    var resolvesKeys = true
    var forecaster: ForecastEnsemble?
    var forecast: PartitionForecast?
    var histogram: HistogramSnapshot?
    /// Heavy hitter as the engine's Space-Saving summary would report it.
    var hotKey: HotKeyObservation?

    init(id: PartitionID, range: KeyRange, createdAt: UInt64, state: PartitionState, totalDataBytes: UInt64,
         options: SimulationOptions) {
        self.id = id
        self.range = range
        lo = SimKey.position(range.lower)
        hi = SimKey.position(upper: range.upper)
        self.createdAt = createdAt
        self.state = state
        sizeBytes = UInt64((Double(totalDataBytes) * max(0, hi - lo)).rounded())
        map = KeyPositionMap(lowerBound: range.lower, upperBound: range.upper, bucketCount: options.histogramBuckets)
        var edges: [Double] = []
        edges.reserveCapacity(options.histogramBuckets + 1)
        for b in 0...options.histogramBuckets {
            edges.append(b == options.histogramBuckets ? hi : SimKey.position(map.lowerBoundKey(ofBucket: b)!))
        }
        bucketEdges = edges
        recentCapacity = options.recentSamples
        historyCapacity = options.seedHistorySteps
        peakCapacity = max(1, (options.peakWindowsSeconds.max() ?? 0) / options.forecastStepSeconds)
    }

    // MARK: - Samples

    /// Records this second's load.
    func record(_ sample: LoadSample) {
        if recent.count < recentCapacity {
            recent.append(sample)
        } else {
            recent[recentStart] = sample
            recentStart = (recentStart + 1) % recentCapacity
        }
        stepOps += sample.opsPerSecond
        stepSeconds += 1
        stepPeak = LoadSample(opsPerSecond: max(stepPeak.opsPerSecond, sample.opsPerSecond),
                              writeBytesPerSecond: max(stepPeak.writeBytesPerSecond, sample.writeBytesPerSecond))
    }

    /// Recent samples, oldest first.
    var recentOrdered: [LoadSample] {
        recentStart == 0 ? recent : Array(recent[recentStart...] + recent[..<recentStart])
    }

    /// Closes the current forecast step: appends its mean to the history, feeds the
    /// forecaster and refreshes the forecast and window peaks.
    func closeStep(now: UInt64, stepNanos: UInt64, windowsSeconds: [Int], stepSeconds stepLength: Int) {
        guard stepSeconds > 0 else { return }
        let mean = stepOps / Double(stepSeconds)
        append(mean: mean, peak: stepPeak)
        stepOps = 0
        stepSeconds = 0
        stepPeak = .zero
        if let f = forecaster {
            try? f.observe(mean)
            if let lf = try? f.forecast() {
                forecast = PartitionForecast(issuedAt: now, stepNanos: stepNanos, ops: lf)
            }
        }
        refreshWindowPeaks(windowsSeconds: windowsSeconds, stepSeconds: stepLength)
    }

    private func append(mean: Double, peak: LoadSample) {
        stepHistory.append(mean)
        if stepHistory.count > 2 * historyCapacity { stepHistory.removeFirst(stepHistory.count - historyCapacity) }
        stepPeaks.append(peak)
        if stepPeaks.count > 2 * peakCapacity { stepPeaks.removeFirst(stepPeaks.count - peakCapacity) }
    }

    func refreshWindowPeaks(windowsSeconds: [Int], stepSeconds: Int) {
        completedWindowPeaks = windowsSeconds.map { w in
            let steps = max(1, w / stepSeconds)
            var ops = 0.0, wb = 0.0
            for s in stepPeaks.suffix(steps) {
                ops = max(ops, s.opsPerSecond)
                wb = max(wb, s.writeBytesPerSecond)
            }
            let covered = UInt64(min(steps, stepPeaks.count) * stepSeconds) * 1_000_000_000
            return WindowPeak(windowNanos: UInt64(w) * 1_000_000_000,
                              peak: LoadSample(opsPerSecond: ops, writeBytesPerSecond: wb), coveredNanos: covered)
        }
    }

    /// Window peaks including the current partial step.
    var windowPeaks: [WindowPeak] {
        completedWindowPeaks.map { w in
            var w = w
            w.peak = LoadSample(opsPerSecond: max(w.peak.opsPerSecond, stepPeak.opsPerSecond),
                                writeBytesPerSecond: max(w.peak.writeBytesPerSecond, stepPeak.writeBytesPerSecond))
            return w
        }
    }

    // MARK: - Engine-style histogram

    /// Operations counted per bucket since this partition was born (reads, writes), and the
    /// marks taken of them (``SimulationOptions/HistogramWindow/engineMarks(markSeconds:marksKept:)``).
    private var countedReads: [Double] = []
    private var countedWrites: [Double] = []
    private var marks: [(time: Int, reads: [Double], writes: [Double])] = []

    /// Counts this second's `ops` over the buckets in proportion to `bucketLoad`.
    func count(ops: Double, bucketLoad: [Double], writeFraction: Double) {
        if countedReads.isEmpty {
            countedReads = [Double](repeating: 0, count: bucketLoad.count)
            countedWrites = countedReads
        }
        let total = bucketLoad.reduce(0, +)
        guard total > 0, ops > 0 else { return }
        for b in bucketLoad.indices {
            let n = ops * bucketLoad[b] / total
            countedReads[b] += n * (1 - writeFraction)
            countedWrites[b] += n * writeFraction
        }
    }

    /// The histogram the engine's controller shows the planner at second `t`: the counts since
    /// the oldest kept mark (all counts when that is nothing); then a mark is taken when due.
    func markedHistogram(at t: Int, markSeconds: Int, marksKept: Int, valueBytes: Double) -> HistogramSnapshot {
        var reads = countedReads, writes = countedWrites
        if let base = marks.first {
            let r = zip(countedReads, base.reads).map { max(0, $0 - $1) }
            let w = zip(countedWrites, base.writes).map { max(0, $0 - $1) }
            if r.reduce(0, +) + w.reduce(0, +) >= 0.5 { (reads, writes) = (r, w) }
        }
        if marks.last.map({ t - $0.time >= markSeconds }) ?? true {
            marks.append((t, countedReads, countedWrites))
            if marks.count > marksKept { marks.removeFirst(marks.count - marksKept) }
        }
        func counts(_ xs: [Double], _ scale: Double) -> [UInt64] { xs.map { UInt64(($0 * scale).rounded()) } }
        return HistogramSnapshot(map: map, reads: counts(reads, 1), writes: counts(writes, 1),
                                 readBytes: counts(reads, valueBytes), writeBytes: counts(writes, valueBytes))
    }

    // MARK: - Inheritance

    /// Seeds this partition's telemetry from `sources` scaled by their shares (a split child
    /// takes its load share of the parent; a merge sums its parents), newest samples aligned.
    func inherit(from sources: [(SimPartition, Double)], options: SimulationOptions, withForecaster: Bool) {
        func combine<T>(_ series: (SimPartition) -> [T], _ zero: T, _ add: (T, T, Double) -> T) -> [T] {
            let n = sources.map { series($0.0).count }.min() ?? 0
            var out = [T](repeating: zero, count: n)
            for (src, share) in sources {
                let s = series(src)
                let offset = s.count - n
                for k in 0..<n { out[k] = add(out[k], s[offset + k], share) }
            }
            return out
        }
        let addSample: (LoadSample, LoadSample, Double) -> LoadSample = { a, b, s in a + b * s }
        recent = combine({ $0.recentOrdered }, LoadSample.zero, addSample)
        recentStart = 0
        stepHistory = combine({ $0.stepHistory }, 0.0, { $0 + $1 * $2 })
        stepPeaks = combine({ $0.stepPeaks }, LoadSample.zero, addSample)
        refreshWindowPeaks(windowsSeconds: options.peakWindowsSeconds, stepSeconds: options.forecastStepSeconds)
        if withForecaster {
            startForecaster(options: options)
            if let f = forecaster {
                for v in stepHistory.suffix(historyCapacity) { try? f.observe(v) }
            }
        }
    }

    /// Creates an empty forecaster.
    func startForecaster(options: SimulationOptions) {
        var fo = ForecastOptions()
        fo.horizon = options.forecastHorizonSteps
        fo.seasonalPeriods = options.detectsSeasonality ? [] : [options.periodSteps]
        forecaster = try? ForecastEnsemble(options: fo)
        forecast = nil
    }

    /// Forecast as of the last replayed observation (after inheritance).
    func refreshForecast(now: UInt64, stepNanos: UInt64) {
        guard let f = forecaster, f.observationCount > 0, let lf = try? f.forecast() else { return }
        forecast = PartitionForecast(issuedAt: now, stepNanos: stepNanos, ops: lf)
    }

    // MARK: - Snapshot

    func snapshot() -> PartitionSnapshot {
        PartitionSnapshot(id: id, range: range, sizeBytes: sizeBytes, createdAt: createdAt, state: state,
                          recent: recentOrdered, windowPeaks: windowPeaks, histogram: histogram,
                          forecast: forecast, hotKey: hotKey)
    }
}
