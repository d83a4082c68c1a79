@_spi(Testing) import AugurCrashHarness
import Testing

/// The fault matrix: every file operation of the reshard, flush and WAL paths × {EIO, ENOSPC}
/// × {once, persistent} × the Nth call until the operation completes.
@Suite struct FaultMatrixTests {
    @Test(arguments: FaultScenario.allCases)
    func faultMatrix(scenario: FaultScenario) {
        var config = FaultMatrixConfig(scenarios: [scenario])
        config.failureLimit = 10_000
        let summary = FaultMatrixRunner.run(config)
        print(summary.render())
        #expect(summary.faultsInjected > 0, "\(scenario): no fault was ever injected")
        #expect(summary.lostWrites == 0)
        let known: [(marker: String, bug: String, intermittent: Bool)] = []   // both bugs it found are fixed
        recordFailures(summary, known: known)
    }
}
