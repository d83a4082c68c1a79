#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn, for tests that need a second process.
public final class Subprocess: @unchecked Sendable {
    public let pid: pid_t

    private init(pid: pid_t) { self.pid = pid }

    public static func spawn(_ argv: [String]) throws -> Subprocess {
        var pid: pid_t = 0
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        let rc = posix_spawn(&pid, argv[0], nil, nil, &cArgs, environ)
        guard rc == 0 else { throw SpawnError(code: rc, program: argv[0]) }
        return Subprocess(pid: pid)
    }

    public func kill(_ signal: Int32 = SIGKILL) {
        _ = Glibc.kill(pid, signal)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }

    public struct SpawnError: Error { public let code: Int32; public let program: String }
}
