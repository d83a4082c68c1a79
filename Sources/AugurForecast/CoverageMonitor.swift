/// Observed coverage of one interval level at one step.
///
/// Thread-safety: a plain value; `Sendable`.
public struct IntervalCoverage: Sendable, Equatable {
    /// Steps ahead the intervals were issued for.
    public let step: Int
    /// Nominal coverage, 0.8 or 0.95.
    public let level: Double
    /// Actuals that fell inside their interval, since the first interval was issued.
    public let hits: Int
    /// Intervals scored, since the first interval was issued.
    public let total: Int
    /// Misses among the last `window` scored intervals (the alert's sample).
    public let recentMisses: Int
    /// Scored intervals in the recent window (≤ `AlertOptions.window`).
    public let recentTotal: Int

    /// hits / total, or nil before any interval was scored.
    public var rate: Double? { total == 0 ? nil : Double(hits) / Double(total) }
}

/// One reason the forecast-error alert is raised.
///
/// Thread-safety: a plain value; `Sendable`.
public struct IntervalBreach: Sendable, Equatable {
    /// Steps ahead.
    public let step: Int
    /// Nominal coverage of the interval that is missed too often.
    public let level: Double
    /// Misses in the recent window.
    public let misses: Int
    /// Size of the recent window.
    public let window: Int
    /// Fewest misses that breach: P(Binomial(window, 1 − level) ≥ criticalMisses) ≤ significance.
    public let criticalMisses: Int
}

/// The forecast-error alert: actuals leave the intervals more often than their nominal rate.
///
/// Thread-safety: a plain value; `Sendable`.
public struct ForecastAlert: Sendable, Equatable {
    /// Every (step, level) whose recent misses are significantly above nominal.
    public let breaches: [IntervalBreach]
    /// True when any breach exists: the forecasts (and whatever is planned from them) should
    /// not be trusted until it clears.
    public var isRaised: Bool { !breaches.isEmpty }
}

/// Scores every issued ensemble interval against its actual and keeps, per step and level,
/// the all-time hit count and a sliding window of misses for the binomial alert.
///
/// Why a binomial test: if intervals are calibrated, misses in a window of N independent
/// forecasts are Binomial(N, 1 − level); the alert fires when the observed count is in that
/// distribution's upper `significance` tail. The critical count is computed once at init, so
/// each observation costs O(H). Consecutive misses of one step are positively correlated
/// (a regime change makes runs), which makes the test fire somewhat more easily than its
/// nominal level — acceptable for an alert whose job is "look here", and why the default
/// significance is strict.
///
/// Thread-safety: not thread-safe; owned by one `EnsembleState`.
final class CoverageMonitor {
    static let levels = [0.8, 0.95]
    static let levelCount = 2

    let horizon: Int
    let window: Int
    /// Per level, the critical miss count.
    let criticalMisses: [Int]
    /// Per (step, level) cell.
    private let cells: UnsafeMutableBufferPointer<Cell>
    /// Per cell, a ring of 0/1 miss flags.
    private let missRings: UnsafeMutableBufferPointer<UInt8>

    private struct Cell {
        var hits = 0
        var total = 0
        var recentMisses = 0
        var ringFill = 0
        var ringHead = 0
    }

    init(horizon: Int, options: AlertOptions) {
        self.horizon = horizon
        window = options.window
        criticalMisses = Self.levels.map {
            binomialCriticalCount(trials: options.window, probability: 1 - $0, significance: options.significance)
        }
        let count = horizon * Self.levelCount
        cells = allocateFixed(count, Cell())
        missRings = allocateFixed(count * window, 0 as UInt8)
    }

    deinit {
        releaseFixed(cells)
        releaseFixed(missRings)
    }

    /// Records whether the actual fell inside the interval of `level` index (0 = 80%, 1 = 95%)
    /// issued for `step`.
    @inline(__always)
    func record(step: Int, levelIndex: Int, inside: Bool) {
        let index = (step &- 1) &* Self.levelCount &+ levelIndex
        var cell = cells[index]
        cell.total &+= 1
        let miss = inside ? 0 : 1
        cell.hits &+= 1 &- miss
        let slot = index &* window &+ cell.ringHead
        if cell.ringFill == window {
            cell.recentMisses &-= Int(missRings[slot])
        } else {
            cell.ringFill &+= 1
        }
        missRings[slot] = UInt8(truncatingIfNeeded: miss)
        cell.recentMisses &+= miss
        cell.ringHead = cell.ringHead &+ 1 == window ? 0 : cell.ringHead &+ 1
        cells[index] = cell
    }

    var coverage: [IntervalCoverage] {
        var result: [IntervalCoverage] = []
        for step in 1...horizon {
            for (li, level) in Self.levels.enumerated() {
                let cell = cells[(step - 1) * Self.levelCount + li]
                result.append(IntervalCoverage(step: step, level: level, hits: cell.hits, total: cell.total,
                                               recentMisses: cell.recentMisses, recentTotal: cell.ringFill))
            }
        }
        return result
    }

    /// Breaches need a full window: with fewer forecasts the test has too little power to mean much.
    var alert: ForecastAlert {
        var breaches: [IntervalBreach] = []
        for step in 1...horizon {
            for (li, level) in Self.levels.enumerated() {
                let cell = cells[(step - 1) * Self.levelCount + li]
                if cell.ringFill == window && cell.recentMisses >= criticalMisses[li] {
                    breaches.append(IntervalBreach(step: step, level: level, misses: cell.recentMisses,
                                                   window: window, criticalMisses: criticalMisses[li]))
                }
            }
        }
        return ForecastAlert(breaches: breaches)
    }
}

/// Smallest k with P(X ≥ k) ≤ significance for X ~ Binomial(trials, probability); trials + 1
/// if even k = trials is not that unlikely. Summed in log space so large windows cannot underflow.
func binomialCriticalCount(trials n: Int, probability p: Double, significance: Double) -> Int {
    let logP = naturalLog(p)
    let logQ = naturalLog(1 - p)
    func logPMF(_ k: Int) -> Double {
        logGamma(Double(n + 1)) - logGamma(Double(k + 1)) - logGamma(Double(n - k + 1))
            + Double(k) * logP + Double(n - k) * logQ
    }
    var tail = 0.0
    var k = n
    while k >= 0 {
        let next = tail + naturalExp(logPMF(k))
        if next > significance { return k + 1 }
        tail = next
        k -= 1
    }
    return 0
}
