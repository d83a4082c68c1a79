// Processes that must not outlive the one that started them, leftovers of ones that died, the
// calling process's identity, and ending it at once.
import CAugurSys

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public enum ProcessLifetime {
    /// Makes the calling process get SIGKILL when its parent dies, so a helper child (the
    /// `augur demo` writer) never runs on as an orphan. Call first thing in the child.
    ///
    /// PR_SET_PDEATHSIG alone has a race: a parent that died before the call is never
    /// reported. So after setting it we compare getppid() with `expectedParent` (passed down
    /// by the parent): once orphaned, the child has been re-parented to init or a subreaper.
    /// The signal fires when the parent *thread* that spawned the child exits; spawn from a
    /// thread that lives as long as the parent process (the main thread).
    /// Returns false when the parent is already gone (the caller should exit).
    public static func dieWithParent(expectedParent: Int32) -> Bool {
        if caugur_set_parent_death_signal(SIGKILL) != 0 { return getppid() == expectedParent }
        return getppid() == expectedParent
    }

    /// True while a process with this id exists (kill(pid, 0); EPERM means it exists but is
    /// not ours).
    public static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// The process id of the caller.
    public static var currentID: Int32 { getpid() }

    /// The process id of the caller's parent (1 or a subreaper's once the parent has died).
    package static var parentID: Int32 { getppid() }

    /// The path of the running executable (/proc/self/exe resolved), for spawning another copy
    /// of the same tool; "/proc/self/exe" itself when the link cannot be read.
    package static var executablePath: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n <= 0 { return "/proc/self/exe" }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Ending the calling process at once, as a crash would: no atexit handlers, no buffered output
/// flushed, no deinitializers. For child processes of the crash harness. `package` only.
package enum ProcessExit {
    /// _exit(2) with `code`.
    package static func immediately(_ code: Int32) -> Never { _exit(code) }

    /// SIGKILL to the whole calling process (as `kill -9` or the OOM killer would); never
    /// returns (the calling thread waits for the signal to land).
    package static func killSelf() -> Never {
        _ = kill(getpid(), SIGKILL)
        while true { pause() }
    }
}
