#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Reads a file the user names (`--csv` of `augur` and of augur-load's replay profile) or one a
/// running engine writes into its store (PLAN.txt, METRICS.prom, TELEMETRY.json) as bytes or as
/// UTF-8 text, with errors that say what is wrong with the path. One reader for every tool, so a
/// pipe that works for one works for all (augur-load's replay read with pread and failed on
/// them, and repeated the text checks). Foundation's `String(contentsOfFile:)` said "You don't have
/// permission" for /dev/null and a FIFO, "NSCocoaErrorDomain error 256" for a directory and
/// "isn't in the correct format" (no position) for bytes that are not UTF-8.
///
/// Reads with open(2)/read(2) to end of file, so a pipe, a FIFO, process substitution and
/// /dev/stdin work as well as a regular file (pread would fail with ESPIPE on them).
///
/// Thread-safety: stateless; safe from any thread.
public enum InputFile {
    /// Why a file could not be read, each naming the path as the user gave it.
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        /// Nothing at `path` (ENOENT).
        case missing(path: String)
        /// `path` is a directory.
        case isDirectory(path: String)
        /// open(2), fstat(2) or read(2) failed with `reason` (strerror).
        case unreadable(path: String, reason: String)
        /// More than `limit` bytes.
        case tooLarge(path: String, limit: Int, what: String)
        /// A NUL byte or bytes that are not UTF-8, at 1-based `line` and 0-based byte `offset`.
        case notText(path: String, line: Int, offset: Int, what: String)

        public var description: String {
            switch self {
            case let .missing(path): "\(path) does not exist"
            case let .isDirectory(path): "\(path) is a directory, not a file"
            case let .unreadable(path, reason): "cannot read \(path): \(reason)"
            case let .tooLarge(path, limit, what): "\(path) holds more than \(what) of \(limit) bytes"
            case let .notText(path, line, offset, what): "\(path) is not UTF-8 text: line \(line) (byte offset \(offset)) holds \(what)"
            }
        }
    }

    /// Bytes read per read(2) call.
    private static let chunkSize = 1 << 16

    /// The name standard input goes by in errors, given as "-".
    public static let standardInputName = "standard input"

    /// Every byte of `path` ("-": standard input), read to end of file. With `text`, a NUL
    /// byte is refused as soon as it is read (as `.notText`): an endless device such as
    /// /dev/zero or /dev/urandom then stops at its first chunk instead of filling memory; no
    /// text input of Augur's holds one. With `limit`, more bytes are `.tooLarge` (`what`
    /// names the limit), found after reading at most one chunk past it.
    public static func bytes(_ path: String, text: Bool = true, limit: (bytes: Int, what: String)? = nil) throws(Failure) -> [UInt8] {
        if path == "-" { return try readAll(STDIN_FILENO, name: standardInputName, text: text, limit: limit) }
        var fd: Int32
        repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw .missing(path: path) }
            if e == EISDIR { throw .isDirectory(path: path) }
            throw .unreadable(path: path, reason: String(cString: strerror(e)))
        }
        defer { close(fd) }
        return try readAll(fd, name: path, text: text, limit: limit)
    }

    private static func readAll(_ fd: Int32, name path: String, text: Bool, limit: (bytes: Int, what: String)?) throws(Failure) -> [UInt8] {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        // open(2) with O_RDONLY succeeds on a directory; read(2) would then fail with EISDIR.
        if st.st_mode & S_IFMT == S_IFDIR { throw .isDirectory(path: path) }
        var out: [UInt8] = []
        if st.st_mode & S_IFMT == S_IFREG { out.reserveCapacity(Int(st.st_size)) }
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { return out }
            if let limit, out.count + n > limit.bytes { throw .tooLarge(path: path, limit: limit.bytes, what: limit.what) }
            if text, let nul = chunk[..<n].firstIndex(of: 0) {
                let offset = out.count + nul
                out += chunk[..<n]
                throw .notText(path: path, line: line(at: offset, in: out), offset: offset, what: "a NUL byte")
            }
            out += chunk[..<n]
        }
    }

    /// The text of `path`, which must be UTF-8 (a leading byte-order mark is kept: the CSV
    /// reader skips it).
    public static func text(_ path: String) throws(Failure) -> String {
        try text(of: bytes(path), path: path)
    }

    /// `bytes` as UTF-8 text, or `.notText` naming the first byte that is not UTF-8.
    public static func text(of bytes: [UInt8], path: String) throws(Failure) -> String {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        // Only on failure: walk the scalars to find where the bad sequence starts.
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .error:
                throw .notText(path: path, line: line(at: offset, in: bytes), offset: offset,
                               what: "the byte 0x\(hexByte(bytes[offset])), which does not start or continue a UTF-8 character")
            case .emptyInput:
                // `String(validating:)` and the parser disagree: report the file as a whole.
                throw .notText(path: path, line: 1, offset: 0, what: "bytes that are not UTF-8")
            }
        }
    }

    /// Two lowercase hex digits.
    private static func hexByte(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 0xF)]])
    }

    /// The 1-based line of byte `offset` (lines end at `\n`).
    private static func line(at offset: Int, in bytes: [UInt8]) -> Int {
        1 + bytes[..<min(offset, bytes.count)].reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
    }
}
