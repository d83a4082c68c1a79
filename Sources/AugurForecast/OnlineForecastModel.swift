/// What every online model in the ensemble does: absorb one observation in O(1) without
/// allocating, and produce forecasts for steps 1...H from its current state.
///
/// Internal on purpose: the engine talks to `ForecastEnsemble`; the models are swapped and
/// tuned behind it.
protocol OnlineForecastModel {
    /// True once the model has had its warm-up and its forecasts mean something.
    var isWarm: Bool { get }
    /// Forecast of the next observation. Only meaningful when `isWarm`.
    func oneStepForecast() -> Double
    /// Absorbs the next observation (finite; validated by the caller).
    mutating func observe(_ value: Double)
    /// Writes forecasts for steps 1...out.count into `out[0..<out.count]`.
    func forecast(into out: UnsafeMutableBufferPointer<Double>)
}
