import Foundation

/// The seed of a randomized test: `AUGUR_TEST_SEED` when set (to replay a failure or to try
/// other seeds), else `fallback` — a fixed default, so `make test` is the same run every time
/// and a failure in CI is a failure of that seed, not of whichever seed the clock picked.
/// Printed with the test's name either way. (AugurStatsTests keeps its own: that pure target
/// does not link the engine this module needs.)
public func testSeed(_ fallback: UInt64, _ test: String = #function) -> UInt64 {
    var seed = fallback
    if let raw = ProcessInfo.processInfo.environment["AUGUR_TEST_SEED"], let value = UInt64(raw) { seed = value }
    print("[\(test)] seed \(seed) (set AUGUR_TEST_SEED to replay)")
    return seed
}
