// Files a user names on a command line (`augur forecast --output P`, `augur-load --report P`).
//
// The path is written as given, never swapped for something else: a regular file (or a
// missing one) is replaced atomically (temporary + rename, so a reader or a crash sees the
// old bytes or the new ones); a character device or FIFO (`/dev/null`, `/dev/stdout`, a
// named pipe) is opened and written in place, as a shell's `>` would; a symlink is followed
// and its target written in place, so the link stays a link. Renaming over any of those would
// replace the device node, the pipe or the link with a regular file — data silently lost.
// Directories, sockets and block devices (writing a report over a disk) are refused, and so
// is the file a command reads its input from (`augur forecast --csv f --output f` used to
// replace the user's data with the forecasts and exit 0).
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Why a command-line output file could not be written. Names the path and the reason.
public enum OutputFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The path names something a report must not be written over (a directory, a block device,
    /// a socket); `kind` says which.
    case refused(path: String, kind: String)
    /// A call failed (stat, open, write, rename); the path keeps its old contents.
    case failed(FileSystemError)

    public var description: String {
        switch self {
        case .refused(let path, let kind): "\(path) is \(kind); refusing to write over it"
        case .failed(let e): "\(e.operation) \(e.path): \(e.errno)"
        }
    }
}

public enum OutputFile {
    /// What `path` names, without following a final symlink (`lstat`); nil when nothing.
    enum Kind: Equatable { case regular, symlink, characterDevice, fifo, directory, blockDevice, socket }

    /// Writes `bytes` to `path` as described at the top of this file. `inputs` are the files
    /// the command read: a `path` that is one of them (the same regular file, by device and
    /// inode, whatever the spelling or links) is refused before anything is written.
    public static func write(_ bytes: [UInt8], to path: String, inputs: [String] = []) throws(OutputFileError) {
        if let input = inputs.first(where: { sameRegularFile(path, $0) }) {
            throw .refused(path: path, kind: "the input file '\(input)'")
        }
        switch try kind(of: path, followingLinks: false) {
        case nil, .regular?:
            do {
                try PosixFileSystem().replaceFile(at: path, with: bytes, temporary: path + ".tmp-\(getpid())")
            } catch {
                throw .failed(error)
            }
        case .symlink?:
            // The target decides: a link to a disk or a directory is refused like the thing itself.
            let target = try kind(of: path, followingLinks: true)
            if let target, let refusal = refusal(target) { throw .refused(path: path, kind: refusal + " (through a symlink)") }
            try writeInPlace(bytes, to: path, create: target == nil)
        case .characterDevice?, .fifo?:
            try writeInPlace(bytes, to: path, create: false)
        case let other?:
            throw .refused(path: path, kind: refusal(other) ?? "not a regular file")
        }
    }

    /// Writes `text` as UTF-8; see `write(_:to:inputs:)`.
    public static func write(_ text: String, to path: String, inputs: [String] = []) throws(OutputFileError) {
        try write(Array(text.utf8), to: path, inputs: inputs)
    }

    /// Whether `a` and `b` name one existing regular file (links followed). Devices and pipes
    /// are never "the same file" here: `--csv /dev/stdin --output /dev/stdout` is fine.
    public static func sameRegularFile(_ a: String, _ b: String) -> Bool {
        var x = stat(), y = stat()
        guard stat(a, &x) == 0, stat(b, &y) == 0,
              x.st_mode & S_IFMT == S_IFREG, y.st_mode & S_IFMT == S_IFREG else { return false }
        return x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }

    /// What `path` names (links followed) when it exists and is not a regular file — "a
    /// character device", "a FIFO", "a directory", … — else nil. For a command that writes
    /// files beside the one named, which makes sense only beside a file.
    public static func nonRegularKind(_ path: String) -> String? {
        switch try? kind(of: path, followingLinks: true) {
        case nil, .regular?, .symlink?: nil
        case .characterDevice?: "a character device"
        case .fifo?: "a FIFO"
        case let other?: refusal(other) ?? "not a regular file"
        }
    }

    /// Why `write` would refuse `path` (links followed) — "a directory", "a block device", "a
    /// socket" — or nil: for checking an output path before a long run instead of after it.
    public static func refusal(for path: String) -> String? {
        (try? kind(of: path, followingLinks: true)).flatMap { $0.flatMap(refusal) }
    }

    private static func refusal(_ kind: Kind) -> String? {
        switch kind {
        case .directory: "a directory"
        case .blockDevice: "a block device"
        case .socket: "a socket"
        default: nil
        }
    }

    static func kind(of path: String, followingLinks: Bool) throws(OutputFileError) -> Kind? {
        var st = stat()
        let r: Int32
        if followingLinks { r = stat(path, &st) } else { r = lstat(path, &st) }
        if r != 0 {
            let e = Errno(rawValue: errno)
            if e == .noSuchFileOrDirectory { return nil }
            throw .failed(FileSystemError(.stat, path, e))
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFLNK: return .symlink
        case S_IFCHR: return .characterDevice
        case S_IFIFO: return .fifo
        case S_IFDIR: return .directory
        case S_IFBLK: return .blockDevice
        default: return .socket
        }
    }

    /// open(2) without O_CREAT unless asked (a vanished device stays vanished), O_TRUNC (ignored
    /// by devices and pipes, empties a symlink's regular target), then every byte.
    private static func writeInPlace(_ bytes: [UInt8], to path: String, create: Bool) throws(OutputFileError) {
        let flags = O_WRONLY | O_TRUNC | O_CLOEXEC | (create ? O_CREAT : 0)
        var fd: Int32
        repeat { fd = Glibc.open(path, flags, 0o644) } while fd < 0 && errno == EINTR
        if fd < 0 { throw .failed(FileSystemError(.open, path, Errno(rawValue: errno))) }
        defer { _ = Glibc.close(fd) }
        if let e = StandardStream.writeAll(bytes, to: fd) { throw .failed(FileSystemError(.write, path, e)) }
    }
}
