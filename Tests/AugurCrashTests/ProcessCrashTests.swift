import Augur
import AugurCrashHarness
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// M1 + M2: a child engine process killed with SIGKILL at random times or at crash points.
@Suite struct ProcessCrashTests {
    static let cycles = 200

    @Test func sigkillCycles() throws {
        let exe = try #require(augurCrashExecutable(), "augur-crash is not built next to the tests")
        let dir = ScratchDirectory("augur-crash-test")
        var config = ProcessCrashConfig(executable: exe, directory: dir.path + "/run", cycles: Self.cycles, seed: 8080)
        config.maxKillDelayMilliseconds = 150
        let summary = ProcessCrashRunner.run(config)
        print(summary.render())
        #expect(summary.cycles == Self.cycles)
        // (A first child killed before it created the store leaves nothing to check.)
        #expect(summary.statesChecked >= Self.cycles - 1)
        #expect(summary.parentKills > 0 && summary.selfCrashes > 0)
        #expect(summary.lostWrites == 0)
        recordFailures(summary)
    }

    /// A child that dies of anything but our SIGKILL (here SIGBUS) is a failure.
    @Test func childDyingOfAnotherSignalIsAFailure() throws {
        let exe = try #require(augurCrashExecutable(), "augur-crash is not built next to the tests")
        let dir = ScratchDirectory("augur-crash-test")
        var config = ProcessCrashConfig(executable: exe, directory: dir.path + "/run", cycles: 2, seed: 1)
        config.childRaisesSignal = SIGBUS
        let summary = ProcessCrashRunner.run(config)
        #expect(summary.failures.contains { $0.contains("SIGBUS") }, "\(summary.failures)")
    }
}

/// The command line: bad arguments give a clear message and a non-zero exit.
@Suite struct CommandLineTests {
    static func run(_ args: [String]) throws -> (exit: ChildExit, output: String) {
        let exe = try #require(augurCrashExecutable(), "augur-crash is not built next to the tests")
        let dir = ScratchDirectory("augur-crash-cli")
        let out = dir.path + "/out"
        let p = try ChildProcess(executable: exe, arguments: args, outputPath: out)
        let exit = p.wait(milliseconds: 20_000) ?? p.kill()
        let text = RecordLog.read(path: out).joined(separator: "\n")
        return (exit, text)
    }

    @Test(arguments: [
        (["--cycles=-3"], "--cycles must be 0 or more"),
        (["--mode", "bogus"], "bogus"),
        (["--crash-point", "wal.nope"], "unknown crash point 'wal.nope'"),
        (["--planted-bug", "typo"], "unknown planted bug 'typo'"),
        (["--fault-scenarios", "split,nope"], "unknown fault scenario 'nope'"),
        (["--one-in", "0"], "--one-in must be at least 1"),
        (["--crash-point-share", "2"], "--crash-point-share must be between 0 and 1"),
        (["--seed", "abc"], "abc"),
        (["--no-such-flag"], "--no-such-flag"),
    ])
    func badArgumentsAreRejected(args: [String], message: String) throws {
        let (exit, output) = try Self.run(args)
        #expect(exit != .exited(0), "\(args) was accepted")
        #expect(exit != .signaled(SIGKILL), "\(args) did not finish")
        #expect(output.contains(message), "\(args): \(output)")
    }

    @Test func shortRunOfOneModeSucceeds() throws {
        let (exit, output) = try Self.run(["--mode", "faults", "--fault-scenarios", "flush,wal-sync", "--seed", "5"])
        #expect(exit == .exited(0), "\(output)")
        #expect(output.contains("PASSED") && output.contains("replay with --seed 5") && output.contains("lost writes:       0"), "\(output)")
    }
}
