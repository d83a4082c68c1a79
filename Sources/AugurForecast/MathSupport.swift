// The standard library has no transcendental functions; swift-numerics' RealModule gives them
// without reaching for the platform C library (which stays in AugurSys).
import RealModule

/// Per-step decay factor whose weight halves after `halfLife` observations.
@inline(__always)
func decayFactor(halfLife: Double) -> Double {
    Double.pow(0.5, 1.0 / halfLife)
}

/// Natural logarithm (thin wrapper so only this file imports the math module).
@inline(__always)
func naturalLog(_ x: Double) -> Double { Double.log(x) }

/// e^x.
@inline(__always)
func naturalExp(_ x: Double) -> Double { Double.exp(x) }

/// log(Γ(x)), used for binomial tail probabilities.
@inline(__always)
func logGamma(_ x: Double) -> Double { Double.logGamma(x) }

/// tan(x), for Student's t with one degree of freedom.
@inline(__always)
func tangent(_ x: Double) -> Double { Double.tan(x) }
