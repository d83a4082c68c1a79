// Child processes for the project's own tools and tests (the crash harness kills its children
// with SIGKILL): posix_spawn with the output redirected to files, signals, and a wait with a
// deadline that decodes the wait status. `package` only: no application needs it.
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a child process ended.
package enum ChildExit: Sendable, Equatable, CustomStringConvertible {
    /// It called exit (or returned from main) with this status (0...255).
    case exited(Int32)
    /// A signal ended it (its number, e.g. `ProcessSignal.kill`).
    case signaled(Int32)

    /// Decodes a status from waitpid(2) for a child that ended (WIFEXITED / WTERMSIG; the C
    /// macros do not import into Swift).
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    package var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signaled(let signal): "signal \(signal) (\(ProcessSignal.name(signal)))"
        }
    }
}

/// Why a child process could not be started or signalled; names the executable or process and
/// the errno.
package enum ChildProcessError: Error, Sendable, Equatable, CustomStringConvertible {
    /// posix_spawn failed: the executable is missing or not executable, or an output file could
    /// not be opened (ENOENT, EACCES…), or the system is out of processes or memory.
    case spawn(executable: String, errno: Errno)
    /// kill(2) failed (EPERM: the process is not ours).
    case signal(pid: Int32, signal: Int32, errno: Errno)

    package var description: String {
        switch self {
        case .spawn(let executable, let errno): "cannot start \(executable): \(errno)"
        case .signal(let pid, let signal, let errno): "cannot send \(ProcessSignal.name(signal)) to process \(pid): \(errno)"
        }
    }
}

/// A child process started with posix_spawn. It is reaped by `poll`, `wait(deadline:)` or
/// `kill`; one that is still running when the object dies is killed with SIGKILL and reaped, so
/// no child outlives its owner or stays a zombie.
///
/// Thread-safety: `pid` is immutable; the exit, once reaped, is kept under a mutex, so any
/// thread may poll, wait, signal or kill.
package final class ChildProcess: Sendable {
    /// The child's process id.
    package let pid: Int32
    private let reaped = Mutex<ChildExit?>(nil)

    /// Starts `executable` (a path: no PATH search) with `arguments` (argv[1...]; argv[0] is
    /// the executable). `environment` nil inherits this process's environment; otherwise it is
    /// the child's whole environment. `standardOutput` and `standardError` name files that are
    /// created or truncated (mode 0644) for the child's fd 1 and fd 2; nil keeps this process's
    /// stream; the same path for both opens the file once, so the two streams interleave in it.
    package init(executable: String, arguments: [String] = [], environment: [String: String]? = nil,
                 standardOutput: String? = nil, standardError: String? = nil) throws(ChildProcessError) {
        var actions = posix_spawn_file_actions_t()
        var rc = posix_spawn_file_actions_init(&actions)
        guard rc == 0 else { throw .spawn(executable: executable, errno: Errno(rawValue: rc)) }
        defer { posix_spawn_file_actions_destroy(&actions) }
        let flags = O_WRONLY | O_CREAT | O_TRUNC
        if let standardOutput {
            rc = posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, standardOutput, flags, 0o644)
        }
        if rc == 0, let standardError {
            rc = standardError == standardOutput
                ? posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO)
                : posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, standardError, flags, 0o644)
        }
        guard rc == 0 else { throw .spawn(executable: executable, errno: Errno(rawValue: rc)) }

        let argv = cStrings([executable] + arguments)
        defer { argv.forEach { free($0) } }
        let envp = environment.map { env in cStrings(env.keys.sorted().map { "\($0)=\(env[$0]!)" }) }
        defer { envp?.forEach { free($0) } }
        var pid: pid_t = 0
        rc = argv.withUnsafeBufferPointer { a in
            let argvPointer = UnsafeMutablePointer(mutating: a.baseAddress!)
            guard let envp else { return posix_spawn(&pid, executable, &actions, nil, argvPointer, environ) }
            return envp.withUnsafeBufferPointer { e in
                posix_spawn(&pid, executable, &actions, nil, argvPointer, UnsafeMutablePointer(mutating: e.baseAddress!))
            }
        }
        guard rc == 0 else { throw .spawn(executable: executable, errno: Errno(rawValue: rc)) }
        self.pid = pid
    }

    /// How the child ended, reaping it if it has; nil while it runs.
    @discardableResult
    package func poll() -> ChildExit? {
        reaped.withLock { exit in
            if exit == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid { exit = ChildExit(waitStatus: status) }
            }
            return exit
        }
    }

    /// Waits until the child ends or `deadline` passes (checking every millisecond); nil if it
    /// is still running then.
    package func wait(deadline: ContinuousClock.Instant) -> ChildExit? {
        while ContinuousClock.now < deadline {
            if let exit = poll() { return exit }
            ThreadPause.sleep(nanoseconds: 1_000_000)
        }
        return poll()
    }

    /// Sends `signal` to the child (kill(2)); does not wait for it. Nothing is sent once the
    /// child has been reaped (its pid may belong to another process by then).
    package func signal(_ signal: Int32) throws(ChildProcessError) {
        try reaped.withLock { exit throws(ChildProcessError) in
            guard exit == nil else { return }
            if case .failure(let e) = Syscall.retrying({ Glibc.kill(pid, signal) }) {
                throw .signal(pid: pid, signal: signal, errno: e)
            }
        }
    }

    /// Kills the child with SIGKILL and reaps it; returns how it ended (its own exit if it had
    /// already ended). Idempotent.
    @discardableResult
    package func kill() -> ChildExit {
        reaped.withLock { exit in
            if let exit { return exit }
            _ = Glibc.kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            let ended = ChildExit(waitStatus: status)
            exit = ended
            return ended
        }
    }

    deinit { kill() }
}

/// NUL-terminated copies for a C `char *const[]`, with the terminating nil (free each element).
private func cStrings(_ strings: [String]) -> [UnsafeMutablePointer<CChar>?] {
    strings.map { strdup($0) } + [nil]
}
