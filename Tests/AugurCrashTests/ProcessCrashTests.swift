@_spi(Testing) import Augur
@_spi(Testing) import AugurCrashHarness
import AugurSys
import Testing

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

    /// recovery.replayed fires only while opening; a run that targets it alone must still crash
    /// recoveries of data, not of an empty store (F11): the child writes, then reopens armed.
    @Test func recoveryCrashPointIsReachedWithData() throws {
        let exe = try #require(augurCrashExecutable(), "augur-crash is not built next to the tests")
        let dir = ScratchDirectory("augur-crash-test")
        var config = ProcessCrashConfig(executable: exe, directory: dir.path + "/run", cycles: 6, seed: 31)
        config.crashPointFilter = CrashPoint.recoveryReplayed.rawValue
        config.crashPointShare = 1
        let summary = ProcessCrashRunner.run(config)
        print(summary.render())
        #expect(summary.crashPointsHit[CrashPoint.recoveryReplayed.rawValue] == 6)
        #expect(summary.operationsAcknowledged > 0)
        #expect(summary.statesChecked == 6)
        recordFailures(summary)
    }

    /// A child that dies of anything but our SIGKILL (here SIGBUS) is a failure.
    @Test func childDyingOfAnotherSignalIsAFailure() throws {
        let exe = try #require(augurCrashExecutable(), "augur-crash is not built next to the tests")
        let dir = ScratchDirectory("augur-crash-test")
        var config = ProcessCrashConfig(executable: exe, directory: dir.path + "/run", cycles: 2, seed: 1)
        config.childRaisesSignal = ProcessSignal.bus
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
        let p = try ChildProcess(executable: exe, arguments: args, standardOutput: out, standardError: out)
        let exit = p.wait(deadline: .now + .seconds(20)) ?? p.kill()
        let text = RecordLog.read(path: out).joined(separator: "\n")
        return (exit, text)
    }

    @Test(arguments: [
        (["--cycles=-3"], "--cycles must be at least 1"),
        // F11: 0 used to run nothing and print nothing.
        (["--mode", "sigkill", "--cycles", "0"], "--cycles must be at least 1 (got 0)"),
        (["--corruption-cases", "0"], "--corruption-cases must be at least 1"),
        // Found from outside: the case and batch arithmetic overflowed and trapped (SIGILL).
        (["--mode", "corruption", "--corruption-case", "9223372036854775807"], "--corruption-case must be at most 1000000000 (got 9223372036854775807)"),
        (["--cycles", "9223372036854775807"], "--cycles must be at most 1000000000"),
        (["--power-states", "1000000001"], "--power-states must be at most 1000000000"),
        // F11: SIGKILL keeps the page cache; a missing fsync cannot show there.
        (["--mode", "sigkill", "--planted-bug", "skip-wal-sync"], "cannot show in the sigkill mode"),
        (["--mode", "sigkill", "--planted-bug", "skip-current-dir-sync"], "use --mode power-loss"),
        (["--mode", "power-loss", "--planted-bug", "corruption-as-torn-tail"], "use --mode corruption"),
        (["--mode", "faults", "--planted-bug", "skip-wal-sync"], "cannot show in the faults mode"),
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
        #expect(exit != .signaled(ProcessSignal.kill), "\(args) did not finish")
        #expect(output.contains(message), "\(args): \(output)")
    }

    /// F13: a long run stopped with SIGTERM prints progress while it runs, then its partial
    /// summary with the seed, and exits non-zero (128 + SIGTERM).
    @Test func stoppedRunPrintsItsPartialSummary() throws {
        let exe = try #require(augurCrashExecutable(), "augur-crash is not built next to the tests")
        let dir = ScratchDirectory("augur-crash-cli")
        let out = dir.path + "/out"
        let p = try ChildProcess(executable: exe, arguments: ["--mode", "power-loss", "--power-states", "1000000", "--seed", "20261203",
                                                            "--progress-seconds", "1"], standardOutput: out, standardError: out)
        // Wait for the first progress line (the run is under way), then stop it.
        var progressed = false
        for _ in 0..<600 where !progressed {
            progressed = RecordLog.read(path: out).contains { $0.contains("states") && $0.contains("/s") }
            if !progressed { ThreadPause.sleep(nanoseconds: 100_000_000) }
        }
        #expect(progressed, "no progress line: \(RecordLog.read(path: out).joined(separator: "\n"))")
        try p.signal(ProcessSignal.terminate)
        let exit = p.wait(deadline: .now + .seconds(120)) ?? p.kill()
        let text = RecordLog.read(path: out).joined(separator: "\n")
        #expect(exit == .exited(128 + ProcessSignal.terminate), "\(exit): \(text)")
        #expect(text.contains("STOPPED by SIGTERM") && text.contains("replay with --seed 20261203") && text.contains("states checked:"), "\(text)")
    }

    /// Found from outside: `--work-dir DIR` removed DIR/store and DIR/check — a real store and
    /// someone's notes — and the run PASSED. A directory holding files the harness did not make
    /// is refused untouched; the harness marks the directories it uses, so a second run in one is fine.
    @Test func aWorkDirectoryTheHarnessDidNotMakeIsRefusedUntouched() throws {
        let dir = ScratchDirectory("augur-crash-workdir")
        let work = dir.path + "/work"
        let fs = PosixFileSystem()
        try fs.createDirectory(work)
        try fs.createDirectory(work + "/store")
        let notes = try fs.open(work + "/store/NOTES.txt", mode: .create)
        try notes.write(at: 0, Array("precious".utf8))
        notes.close()
        let (exit, output) = try Self.run(["--mode", "sigkill", "--cycles", "1", "--seed", "3", "--work-dir", work])
        #expect(exit != .exited(0), "\(output)")
        #expect(output.contains("--work-dir \(work) holds files (store) and no AUGUR-CRASH-WORK-DIR"), "\(output)")
        #expect(fs.fileExists(work + "/store/NOTES.txt"))

        let fresh = dir.path + "/fresh"
        for round in 1...2 {
            let (exit, output) = try Self.run(["--mode", "sigkill", "--cycles", "1", "--seed", "3", "--work-dir", fresh])
            #expect(exit == .exited(0), "round \(round): \(output)")
            #expect(output.contains("PASSED"), "round \(round): \(output)")
        }
    }

    @Test func shortRunOfOneModeSucceeds() throws {
        let (exit, output) = try Self.run(["--mode", "faults", "--fault-scenarios", "flush,wal-sync", "--seed", "5"])
        #expect(exit == .exited(0), "\(output)")
        #expect(output.contains("PASSED") && output.contains("replay with --seed 5") && output.contains("lost writes:       0"), "\(output)")
    }
}
