// The one place that owns errno for Augur.
//
// Every libc call goes through `Syscall.retrying`, which
//   * retries EINTR (a signal arriving mid-call is not an error),
//   * treats programmer errors (EBADF, EFAULT, EINVAL on a call we built ourselves) as
//     preconditions: they mean Augur itself is broken, so we stop rather than throw,
//   * returns every other errno as a typed `Errno` for the caller to turn into a
//     `FileSystemError` that names the operation and the path.
import CAugurSys
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public typealias Errno = SystemPackage.Errno

enum Syscall {
    /// Runs `body` until it does not fail with EINTR. `body` returns -1 and sets errno on failure.
    @inline(__always)
    static func retrying<T: FixedWidthInteger>(_ body: () -> T) -> Result<T, Errno> {
        while true {
            let r = body()
            if r != -1 { return .success(r) }
            let e = errno
            if e == EINTR { continue }
            precondition(e != EBADF && e != EFAULT, "Augur bug: syscall failed with \(Errno(rawValue: e))")
            return .failure(Errno(rawValue: e))
        }
    }

    /// Same as `retrying` for calls that return a pointer (mmap), where failure is MAP_FAILED.
    static func retryingPointer(_ body: () -> UnsafeMutableRawPointer?) -> Result<UnsafeMutableRawPointer, Errno> {
        while true {
            let r = body()
            if let r, r != UnsafeMutableRawPointer(bitPattern: -1) { return .success(r) }
            let e = errno
            if e == EINTR { continue }
            precondition(e != EBADF && e != EFAULT, "Augur bug: mmap failed with \(Errno(rawValue: e))")
            return .failure(Errno(rawValue: e))
        }
    }
}
