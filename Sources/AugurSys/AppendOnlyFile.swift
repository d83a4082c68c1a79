// A file only ever appended to, one write(2) per record (O_APPEND), so that a process killed
// with SIGKILL leaves whole records behind: the crash harness's child logs its intents and
// acknowledgements this way for the parent to read after the kill. `package` only.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Thread-safety: immutable after init; `append` only calls write(2) on an O_APPEND descriptor,
/// which the kernel keeps whole against other appends to the same file.
package final class AppendOnlyFile: Sendable {
    package let path: String
    private let fd: Int32

    /// Opens `path` for appending, creating it (mode 0644) if it is missing.
    package init(path: String) throws(FileSystemError) {
        switch Syscall.retrying({ Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644) }) {
        case .success(let fd): self.fd = fd
        case .failure(let e): throw FileSystemError(.open, path, e)
        }
        self.path = path
    }

    /// Appends `bytes` with one write(2) (more only after a short write; EINTR is retried).
    package func append(_ bytes: [UInt8]) throws(FileSystemError) {
        if let e = StandardStream.writeAll(bytes, to: fd) { throw FileSystemError(.write, path, e) }
    }

    deinit { _ = Glibc.close(fd) }
}
