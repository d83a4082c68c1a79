// The standard library has no transcendental functions on Linux; the platform C library is
// part of every Swift toolchain, so it is not a package dependency.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-step decay factor whose weight halves after `halfLife` observations.
@inline(__always)
func decayFactor(halfLife: Double) -> Double {
    pow(0.5, 1.0 / halfLife)
}

/// Natural logarithm (thin wrapper so only this file imports the C library).
@inline(__always)
func naturalLog(_ x: Double) -> Double { log(x) }

/// e^x.
@inline(__always)
func naturalExp(_ x: Double) -> Double { exp(x) }

/// log(Γ(x)), used for binomial tail probabilities.
@inline(__always)
func logGamma(_ x: Double) -> Double { lgamma(x) }

/// tan(x), for Student's t with one degree of freedom.
@inline(__always)
func tangent(_ x: Double) -> Double { tan(x) }
