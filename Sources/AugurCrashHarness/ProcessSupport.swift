// Process and file helpers for the SIGKILL modes: spawning the child, waiting for it with a
// deadline, decoding its wait status, append-only log records, and copying a store.
import AugurSys
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// How a child ended.
public enum ChildExit: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    init(waitStatus status: Int32) {
        let sig = status & 0x7f
        if sig == 0 { self = .exited((status >> 8) & 0xff) } else { self = .signaled(sig) }
    }

    public var description: String {
        switch self {
        case .exited(let c): "exit status \(c)"
        case .signaled(let s): "signal \(s) (\(signalName(s)))"
        }
    }
}

public func signalName(_ s: Int32) -> String {
    switch s {
    case SIGKILL: "SIGKILL"
    case SIGBUS: "SIGBUS"
    case SIGSEGV: "SIGSEGV"
    case SIGABRT: "SIGABRT"
    case SIGILL: "SIGILL"
    case SIGTRAP: "SIGTRAP"
    case SIGTERM: "SIGTERM"
    case SIGFPE: "SIGFPE"
    default: "signal \(s)"
    }
}

/// A child process started with posix_spawn; stdout and stderr go to `outputPath`.
/// Thread-safety: `pid` is immutable; `exit` is unguarded, so `poll`/`wait`/`kill` are called by one
/// thread at a time (the runner that started the child).
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    private(set) var exit: ChildExit? = nil

    public init(executable: String, arguments: [String], outputPath: String) throws(HarnessError) {
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_addopen(&fa, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&fa, 1, 2)
        let argv = [executable] + arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &fa, nil, &cArgs, environ)
        guard rc == 0 else { throw .spawnFailed(executable: executable, errno: rc) }
        self.pid = pid
    }

    /// Reaps the child if it has ended; returns how.
    @discardableResult
    public func poll() -> ChildExit? {
        if let exit { return exit }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid { exit = ChildExit(waitStatus: status) }
        return exit
    }

    /// Waits up to `milliseconds` for the child to end.
    public func wait(milliseconds: Int) -> ChildExit? {
        let deadline = monotonicMilliseconds() + milliseconds
        while monotonicMilliseconds() < deadline {
            if let e = poll() { return e }
            usleep(1000)
        }
        return poll()
    }

    /// SIGKILL and reap (idempotent).
    @discardableResult
    public func kill() -> ChildExit {
        if let exit { return exit }
        _ = Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        exit = ChildExit(waitStatus: status)
        return exit!
    }

    deinit { if exit == nil { kill() } }
}

public enum HarnessError: Error, Sendable, CustomStringConvertible {
    case spawnFailed(executable: String, errno: Int32)
    case io(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .spawnFailed(let e, let n): "cannot start \(e): \(String(cString: strerror(n)))"
        case .io(let s): s
        case .invalidArgument(let s): s
        }
    }
}

public func monotonicMilliseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int(ts.tv_sec) * 1000 + Int(ts.tv_nsec) / 1_000_000
}

/// An append-only record log: each record is one line written with one write(2), so a SIGKILL
/// leaves whole records (at worst the last one without its newline, which readers ignore).
/// Thread-safety: immutable after init (`fd`); `append` only calls write(2) on an O_APPEND
/// descriptor.
public final class RecordLog: @unchecked Sendable {
    let fd: Int32

    public init(path: String) throws(HarnessError) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        if fd < 0 { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
    }

    public func append(_ line: String) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            done += n
        }
    }

    deinit { close(fd) }

    /// Complete lines of a log file (a last line without its newline is ignored).
    public static func read(path: String) -> [Substring] {
        guard let bytes = try? PosixFileSystem().readFile(path) else { return [] }
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()          // after the last "\n" (or the whole text when there is none)
        return lines
    }
}

/// rm -rf.
public func removeTree(_ path: String) {
    let fs = PosixFileSystem()
    if fs.isDirectory(path) {
        for name in (try? fs.listDirectory(path)) ?? [] { removeTree(joinPath(path, name)) }
        rmdir(path)
    } else {
        unlink(path)
    }
}

/// Copies a directory tree file by file (the SIGKILL modes check a copy of the crashed store,
/// so the next child recovers the untouched original).
public func copyTree(from source: String, to target: String) throws(HarnessError) {
    do throws(FileSystemError) { try copyTreeFiles(PosixFileSystem(), from: source, to: target) } catch {
        throw .io("copying \(source) to \(target) failed: \(error)")
    }
}

private func copyTreeFiles(_ fs: PosixFileSystem, from source: String, to target: String) throws(FileSystemError) {
    try fs.createDirectory(target)
    for name in try fs.listDirectory(source) {
        let s = joinPath(source, name), t = joinPath(target, name)
        if fs.isDirectory(s) {
            try copyTreeFiles(fs, from: s, to: t)
            continue
        }
        let input = try fs.open(s, mode: .readOnly)
        defer { input.close() }
        let output = try fs.open(t, mode: .createNew)
        defer { output.close() }
        let size = try input.size()
        var offset = 0
        while offset < size {
            let chunk = try input.read(at: offset, count: min(1 << 20, size - offset))
            if chunk.isEmpty { break }
            try output.write(at: offset, chunk)
            offset += chunk.count
        }
    }
}

/// The running executable (for spawning `augur-crash child`).
public func currentExecutablePath() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if n <= 0 { return "/proc/self/exe" }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
