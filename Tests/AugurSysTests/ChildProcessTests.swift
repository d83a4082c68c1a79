import AugurSys
import AugurTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `ChildProcess` (issue 17): spawn, typed exit, signals, output files, environment, and a
/// typed error for an executable that is not there.
@Suite struct ChildProcessTests {
    func contents(_ path: String) throws -> String {
        String(decoding: try PosixFileSystem().readFile(path), as: UTF8.self)
    }

    @Test func exitStatusIsReported() throws {
        let p = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "exit 3"])
        #expect(p.pid > 0)
        let exit = p.wait(deadline: .now + .seconds(30))
        #expect(exit == .exited(3))
        #expect(exit?.description == "exit status 3")
        // Reaped once: later calls report the same exit, and kill sends nothing.
        #expect(p.poll() == .exited(3))
        #expect(p.kill() == .exited(3))
    }

    @Test func killedChildReportsTheSignal() throws {
        let p = try ChildProcess(executable: "/bin/sleep", arguments: ["30"])
        #expect(p.poll() == nil)
        #expect(p.wait(deadline: .now + .milliseconds(50)) == nil, "sleep 30 ended on its own")
        try p.signal(ProcessSignal.kill)
        let exit = p.wait(deadline: .now + .seconds(30))
        #expect(exit == .signaled(9))
        #expect(exit?.description == "signal 9 (SIGKILL)")
        // Signalling a reaped child sends nothing (its pid may be another process's by now).
        try p.signal(ProcessSignal.terminate)
        #expect(p.kill() == .signaled(9))
    }

    @Test func killSendsSIGKILLAndReaps() throws {
        let p = try ChildProcess(executable: "/bin/sleep", arguments: ["30"])
        #expect(p.kill() == .signaled(ProcessSignal.kill))
        #expect(p.poll() == .signaled(ProcessSignal.kill))
    }

    @Test func missingExecutableIsATypedErrorNamingThePath() throws {
        let dir = TemporaryDirectory()
        let missing = dir.child("no-such-program")
        #expect(throws: ChildProcessError.spawn(executable: missing, errno: .noSuchFileOrDirectory)) {
            try ChildProcess(executable: missing, arguments: ["x"])
        }
        do {
            _ = try ChildProcess(executable: missing)
            Issue.record("spawning \(missing) succeeded")
        } catch {
            #expect(error.description.contains(missing), "\(error)")
        }
    }

    @Test func outputGoesToFilesAndTheEnvironmentIsTheGivenOne() throws {
        let dir = TemporaryDirectory()
        let both = dir.child("both"), out = dir.child("out"), err = dir.child("err")
        let script = "echo out; echo err >&2; echo \"[$AUGUR_CHILD_TEST][$HOME]\""
        let p = try ChildProcess(executable: "/bin/sh", arguments: ["-c", script], environment: ["AUGUR_CHILD_TEST": "a b"],
                                 standardOutput: both, standardError: both)
        #expect(p.wait(deadline: .now + .seconds(30)) == .exited(0))
        #expect(try contents(both) == "out\nerr\n[a b][]\n")

        let q = try ChildProcess(executable: "/bin/sh", arguments: ["-c", script], environment: ["AUGUR_CHILD_TEST": "c"],
                                 standardOutput: out, standardError: err)
        #expect(q.wait(deadline: .now + .seconds(30)) == .exited(0))
        #expect(try contents(out) == "out\n[c][]\n")
        #expect(try contents(err) == "err\n")
    }

    @Test func environmentValueReadsTheProcessEnvironment() {
        let name = "AUGUR_ENVIRONMENT_VALUE_TEST"
        #expect(Environment.value(name) == nil)
        setenv(name, "x=1 y", 1)
        defer { unsetenv(name) }
        #expect(Environment.value(name) == "x=1 y")
    }

    @Test func signalNames() {
        #expect(ProcessSignal.name(ProcessSignal.kill) == "SIGKILL")
        #expect(ProcessSignal.name(ProcessSignal.bus) == "SIGBUS")
        #expect(ProcessSignal.name(ProcessSignal.terminate) == "SIGTERM")
        #expect(ProcessSignal.name(64) == "signal 64")
    }
}
