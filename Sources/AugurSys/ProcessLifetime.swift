// Processes that must not outlive the one that started them, and leftovers of ones that died.
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
}
