/// One partition's load outlook over the horizon, in utilization units (1 = capacity):
/// current load, the forecast's point and upper bound per step, the recommendation score and
/// the predicted overload time.
///
/// Thread-safety: value type, `Sendable`.
public struct LoadOutlook: Sendable, Hashable {
    /// Mean utilization of the newest samples.
    public var current: Double
    /// Forecast steps inside the horizon: target time (ns), point and upper utilization.
    public var steps: [OutlookStep]
    /// max(current, every step's upper bound): what the predictive policy plans for.
    public var peakUpper: Double
    /// max(current, every step's point forecast): the load expected, without the margin.
    public var peakPoint: Double
    /// Lowest point forecast over the horizon (nil without forecast steps).
    public var troughPoint: Double?
    /// Score in `0...1` (see ``PartitionScore/score``).
    public var score: Double
    /// First time the upper bound exceeds capacity, if it does. Unit: ns.
    public var overloadAt: UInt64?
    /// Whether a forecast with intervals was available.
    public var hasForecast: Bool

    /// Whether the point forecast itself (not only its upper bound) exceeds capacity within the
    /// horizon: what lets the predictive policy split a range again inside its split interval.
    public var pointForecastExceedsCapacity: Bool { hasForecast && steps.contains { $0.point > 1 } }

    /// One forecast step of an outlook.
    ///
    /// Thread-safety: value type, `Sendable`.
    public struct OutlookStep: Sendable, Hashable {
        /// End of the step's interval. Unit: ns.
        public var at: UInt64
        /// Point forecast, utilization.
        public var point: Double
        /// Upper bound at the policy's level, utilization.
        public var upper: Double
        /// Standard deviation the bound implies (`(upper − point) / z` of its level), utilization.
        public var sigma: Double
    }

    /// Computes the outlook of `partition` at `now`.
    ///
    /// - Parameters:
    ///   - level: interval level compared with capacity (0.95 or 0.8).
    ///   - noIntervalMargin: relative margin on a point forecast without interval, and on the
    ///     current load when there is no forecast at all.
    ///   - currentSamples: newest samples averaged into "current".
    public init(partition: PartitionSnapshot, capacity: CapacityModel, now: UInt64,
                level: Double = 0.95, noIntervalMargin: Double = 0.25, currentSamples: Int = 3) {
        // "Current" is what the partition measured itself, once it has measured anything: the
        // samples a fresh child inherits are its parents' load times a share guessed from their
        // histograms (by key position inside a bucket), and a wrong guess must not outlive the
        // child's first own sample — it used to make a child that inherited too much look
        // overloaded for three more ticks and split again. Before its first sample, the
        // inherited ones are all there is.
        let measured = partition.measuredSamples.map { min($0, partition.recent.count) } ?? partition.recent.count
        let recent = measured > 0 ? Array(partition.recent.suffix(measured)) : partition.recent
        let n = max(1, min(currentSamples, recent.count))
        let newest = recent.suffix(n)
        let current = newest.isEmpty ? 0 : newest.map { capacity.utilization($0) }.reduce(0, +) / Double(newest.count)
        self.current = current
        let hw = capacity.highWatermark

        // Noise of the current estimate: stddev of the last ten samples.
        let window = recent.suffix(10).map { capacity.utilization($0) }
        var sigma0 = 0.0
        if window.count >= 2 {
            let mean = window.reduce(0, +) / Double(window.count)
            sigma0 = (window.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(window.count - 1)).squareRoot()
        }
        sigma0 = max(sigma0, 0.02 * current, 1e-6)
        var score = NormalDistribution.exceedance(of: hw, mean: current, sigma: sigma0)
        var overloadAt: UInt64? = current > 1 ? now : nil

        // Utilization per forecast unit: ops/opsCap, or write bytes per op when they dominate.
        // Ratios over the last ten samples, not the newest alone: a trough's few operations
        // next to one merge would make a single sample's cost per operation meaningless.
        let ratioWindow = recent.suffix(10)
        let ops = ratioWindow.reduce(0) { $0 + $1.opsPerSecond }
        let wbPerOp = ops > 0 ? ratioWindow.reduce(0) { $0 + $1.writeBytesPerSecond } / ops : 0
        let costPerOp = ops > 0 ? ratioWindow.reduce(0) { $0 + $1.costPerSecond } / ops : 0
        let perOp = max(1 / capacity.opsPerSecond, wbPerOp / capacity.writeBytesPerSecond,
                        capacity.costBudget.map { costPerOp / $0 } ?? 0)

        var steps: [OutlookStep] = []
        var peak = current
        var peakPoint = current
        var trough: Double?
        var hasForecast = false
        if let f = partition.forecast {
            let horizonEnd = now &+ capacity.horizonNanos
            // The bound at the policy's level (falling back to the other level) and its z.
            func bound(_ p: ForecastPoint) -> (Double, Double)? {
                let prefer95 = level >= 0.9
                if prefer95, let u = p.upper95 { return (u, NormalDistribution.z(level: 0.95)) }
                if let u = p.upper80 { return (u, NormalDistribution.z(level: 0.8)) }
                if let u = p.upper95 { return (u, NormalDistribution.z(level: 0.95)) }
                return nil
            }
            for (i, s) in f.ops.enumerated() {
                let at = f.issuedAt &+ UInt64(max(1, s.step)) &* f.stepNanos
                if at < now { continue }
                if at > horizonEnd && !steps.isEmpty { break }
                var point = max(0, s.point) * perOp
                var upper: Double
                var zUsed: Double
                if let (u, z) = bound(s) {
                    upper = max(point, u * perOp)
                    zUsed = z
                    hasForecast = true
                } else {
                    upper = point * (1 + noIntervalMargin)
                    zUsed = NormalDistribution.z(level: 0.95)
                }
                if let wb = f.writeBytes, i < wb.count {
                    let ws = wb[i]
                    let wPoint = max(0, ws.point) / capacity.writeBytesPerSecond
                    let wUpper = bound(ws).map { $0.0 / capacity.writeBytesPerSecond } ?? wPoint * (1 + noIntervalMargin)
                    point = max(point, wPoint)
                    upper = max(upper, wUpper, point)
                }
                let sigma = max((upper - point) / zUsed, 0.01 * point, 1e-6)
                steps.append(OutlookStep(at: at, point: point, upper: upper, sigma: sigma))
                peak = max(peak, upper)
                peakPoint = max(peakPoint, point)
                trough = min(trough ?? point, point)
                score = max(score, NormalDistribution.exceedance(of: hw, mean: point, sigma: sigma))
                if overloadAt == nil, upper > 1 {
                    overloadAt = max(now, at &- f.stepNanos)
                }
            }
        }
        if steps.isEmpty {
            // No forecast: plan for the current load with a margin.
            peak = max(peak, current * (1 + noIntervalMargin))
        }
        self.steps = steps
        self.peakUpper = peak
        self.peakPoint = peakPoint
        self.troughPoint = trough
        self.score = min(1, max(0, score))
        self.overloadAt = overloadAt
        self.hasForecast = hasForecast
    }
}
