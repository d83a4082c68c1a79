/// The recent h-step residuals (actual − forecast) of every ensemble member, one window per
/// (member, step) row, stored in one flat allocation.
///
/// Two things are read from them:
/// * prediction intervals: forecast + empirical quantiles of that row's residuals (through
///   `IntervalEstimator`, which keeps them honest while there are few). Why
///   empirical: load residuals are skewed and heavy-tailed (spikes up, not down), and h-step
///   residuals of a model with AR terms are not a simple multiple of one-step ones, so a
///   Gaussian σ·√h rule mis-covers both ways. Using each step's own residuals also absorbs
///   any bias of the model at that step.
/// * the sliding-window mean squared error per row that the ensemble weights come from.
///
/// Pushing is O(1): a ring write plus a running sum of squares over the last `weightWindow`
/// residuals. The sum is recomputed exactly once every `weightWindow` pushes (amortised O(1))
/// so floating-point drift from add/subtract cannot accumulate.
///
/// Quantiles here are computed on demand by sorting a copy (O(W log W) per query, not per
/// observation); the ensemble itself keeps `SlidingQuantiles` for its own residuals because it
/// needs its intervals at every observation.
///
/// Thread-safety: not thread-safe; owned by one `EnsembleState`.
final class ResidualWindows {
    let capacity: Int
    let weightWindow: Int
    private let values: UnsafeMutableBufferPointer<Double>      // rows × capacity
    private let rows: UnsafeMutableBufferPointer<Row>

    private struct Row {
        var head = 0
        var count = 0
        var sumOfSquares = 0.0
        var sinceRecompute = 0
    }

    init(rows: Int, capacity: Int, weightWindow: Int) {
        precondition(capacity >= weightWindow && weightWindow >= 1)
        self.capacity = capacity
        self.weightWindow = weightWindow
        values = allocateFixed(rows * capacity, 0.0)
        self.rows = allocateFixed(rows, Row())
    }

    deinit {
        releaseFixed(values)
        releaseFixed(rows)
    }

    /// Value pushed `age` pushes ago into `row` (0 = newest).
    @inline(__always)
    private func value(row: Int, age: Int) -> Double {
        var i = rows[row].head - 1 - age
        if i < 0 { i += capacity }
        return values[row * capacity + i]
    }

    @inline(__always)
    func push(row index: Int, residual: Double) {
        // Wrapping arithmetic: indices are bounded by construction (< rows × capacity).
        let ring = values.baseAddress! + index &* capacity
        var row = rows[index]
        ring[row.head] = residual
        row.head = row.head &+ 1 == capacity ? 0 : row.head &+ 1
        if row.count < capacity { row.count &+= 1 }
        row.sumOfSquares += residual * residual
        if row.count > weightWindow {
            var i = row.head &- 1 &- weightWindow
            if i < 0 { i &+= capacity }
            row.sumOfSquares -= ring[i] * ring[i]
        }
        row.sinceRecompute &+= 1
        if row.sinceRecompute >= weightWindow {
            row.sinceRecompute = 0
            var exact = 0.0
            var i = row.head
            for _ in 0..<min(row.count, weightWindow) {
                i = i == 0 ? capacity &- 1 : i &- 1
                exact += ring[i] * ring[i]
            }
            row.sumOfSquares = exact
        }
        rows[index] = row
    }

    /// Residuals of `row` inside the weight window.
    @inline(__always)
    func weightSamples(row: Int) -> Int { min(rows[row].count, weightWindow) }

    /// Mean squared residual of `row` over the weight window (0 when empty).
    @inline(__always)
    func meanSquaredError(row: Int) -> Double {
        let n = weightSamples(row: row)
        return n == 0 ? 0 : max(0, rows[row].sumOfSquares) / Double(n)
    }

    /// Residuals of `row` available for intervals.
    func count(row: Int) -> Int { rows[row].count }

    /// Interval bounds (offsets from the point) from `row`'s residuals, or nil with fewer than
    /// `minimum`. `scratch` avoids an allocation per call.
    func bounds(row: Int, minimum: Int, estimator: IntervalEstimator, floorScale: Double,
                scratch: inout ContiguousArray<Double>) -> IntervalEstimator.Bounds? {
        guard rows[row].count >= minimum else { return nil }
        scratch.removeAll(keepingCapacity: true)
        for age in 0..<rows[row].count { scratch.append(value(row: row, age: age)) }
        scratch.sort()
        return scratch.withUnsafeBufferPointer { estimator.bounds(sorted: $0, floorScale: floorScale) }
    }
}
