/// Seasonal naive: the forecast for a step is the value one season earlier.
///
/// ŷ(t+h) = y(t+h−m·⌈h/m⌉). With period 1 it is the plain naive (last value) forecast.
/// Warm after `period` observations.
///
/// Why it is in the ensemble: it is the yardstick MASE is scaled by, it needs no fitting and
/// it recovers instantly after a level shift one season later.
///
/// Thread-safety: a value type; one series per instance, confine mutation to one thread.
struct SeasonalNaive: OnlineForecastModel, Sendable {
    let period: Int
    private var history: RingBuffer

    init(period: Int) {
        self.period = period
        history = RingBuffer(capacity: period)
    }

    var isWarm: Bool { history.isFull }

    @inline(__always)
    func oneStepForecast() -> Double { history[age: period - 1] }

    @inline(__always)
    mutating func observe(_ value: Double) { history.push(value) }

    func forecast(into out: UnsafeMutableBufferPointer<Double>) {
        for i in 0..<out.count {
            // Step h = i+1 looks back to the same phase in the last observed season.
            let h = i + 1
            let back = ((h - 1) % period) + 1        // 1...period steps into the past season
            out[i] = history[age: period - back]
        }
    }
}
