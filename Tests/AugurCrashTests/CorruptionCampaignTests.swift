// The corruption campaign (`augur-crash --mode corruption`) as part of `make test`: a short
// run against real stores must find no silent loss and no trap. Against an engine whose
// recovery takes damage for a torn tail, deletes what a damaged manifest no longer names, or
// makes a new store when CURRENT is missing (issue 15), it fails and lists the cases.
@_spi(Testing) import Augur
@_spi(Testing) import AugurCrashHarness
import Testing

@Suite struct CorruptionCampaignTests {
    static let cases = 240

    static func config(_ dir: ScratchDirectory, seed: UInt64, cases: Int) throws -> CorruptionConfig {
        let exe = try #require(augurCrashExecutable(), "augur-crash is not built next to the tests")
        return CorruptionConfig(seed: seed, cases: cases, directory: dir.path + "/run", executable: exe)
    }

    @Test func shortCampaignFindsNoSilentLoss() throws {
        let dir = ScratchDirectory("augur-corruption-test")
        let summary = CorruptionCampaign.run(try Self.config(dir, seed: 1515, cases: Self.cases))
        print(summary.render(allFailures: true))
        #expect(summary.setupFailures.isEmpty, "\(summary.setupFailures)")
        #expect(summary.cases == Self.cases)
        // Every base store, every file kind the engine writes, every mutation.
        #expect(summary.bases.count == BaseFamily.allCases.count)
        #expect(summary.combinations >= 80)
        for kind in [StoreFileKind.current, .manifest, .wal, .segment] {
            #expect((summary.byKind[kind]?.values.reduce(0, +) ?? 0) >= 10, "\(kind) barely covered: \(summary.byKind)")
        }
        for m in MutationKind.allCases { #expect(summary.byMutation[m] != nil, "no \(m.rawValue) case") }
        #expect(summary.byRegion.count >= 18, "regions covered: \(summary.byRegion.keys.sorted())")
        #expect((summary.verdicts[.refused] ?? 0) > 0 && (summary.verdicts[.intact] ?? 0) > 0)
        #expect(summary.traps == 0)
        #expect(summary.silentLosses == 0, "acknowledged writes lost without an error (issue 15)")
        for f in summary.failures.prefix(20) { Issue.record(Comment(rawValue: f)) }
    }

    /// The planted bug (recovery takes any WAL checksum failure for a torn tail) must make the
    /// campaign fail with silent losses.
    @Test func plantedBugIsReportedAsSilentLoss() throws {
        let dir = ScratchDirectory("augur-corruption-bug")
        var config = try Self.config(dir, seed: 2626, cases: 80)
        config.plantedBug = .corruptionAsTornTail
        let summary = CorruptionCampaign.run(config)
        print(summary.render())
        #expect(summary.setupFailures.isEmpty, "\(summary.setupFailures)")
        #expect(summary.silentLosses > 0, "planted bug went unnoticed over \(summary.cases) cases")
        #expect(!summary.passed)
    }

    /// One case replayed on the kept base stores gives the verdict it gave in the run.
    @Test func aCaseReplaysOnTheSameBaseStores() throws {
        let dir = ScratchDirectory("augur-corruption-replay")
        var config = try Self.config(dir, seed: 77, cases: 24)
        config.isolate = false
        let first = CorruptionCampaign.run(config)
        #expect(first.setupFailures.isEmpty && first.cases == 24, "\(first.setupFailures)")
        var replay = config
        replay.reuseBases = true
        var verdicts: [CaseVerdict: Int] = [:]
        for i in 0..<24 {
            replay.onlyCase = i
            for (v, n) in CorruptionCampaign.run(replay).verdicts { verdicts[v, default: 0] += n }
        }
        #expect(verdicts == first.verdicts)
    }
}
