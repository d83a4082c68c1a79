#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// CLOCK_MONOTONIC in nanoseconds (the vDSO call, ~20 ns). For measuring how long work took —
/// the engine's cost meters — never for the engine clock, which tests replace
/// (`EngineOptions.clock`).
///
/// Thread-safety: stateless.
public enum MonotonicClock {
    public static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
