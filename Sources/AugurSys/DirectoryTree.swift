// Whole directory trees on the real file system, for the project's tools and tests (the crash
// harness's work directories, test scratch directories). `package` only: the engine never
// removes a tree or makes a temporary directory.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension PosixFileSystem {
    /// rm -rf: removes `path` and, when it is a directory, everything below it. Best effort:
    /// whatever cannot be removed stays, and nothing is reported (a missing path is fine).
    package func removeTree(_ path: String) {
        if isDirectory(path) {
            for name in (try? listDirectory(path)) ?? [] { removeTree(joinPath(path, name)) }
            _ = Syscall.retrying { rmdir(path) }
        } else {
            _ = Syscall.retrying { unlink(path) }
        }
    }

    /// Creates a new, empty directory named `prefix-XXXXXX` (six random characters) in
    /// `parent`, mode 0700 (mkdtemp); returns its path.
    package func makeTemporaryDirectory(prefix: String, in parent: String = "/tmp") throws(FileSystemError) -> String {
        var template = Array(joinPath(parent, prefix + "-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard let made else { throw FileSystemError(.createDirectory, joinPath(parent, prefix + "-XXXXXX"), Errno(rawValue: errno)) }
        return String(cString: made)
    }
}
