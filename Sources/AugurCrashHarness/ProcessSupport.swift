// File helpers for the SIGKILL modes: append-only log records and copying a store. The child
// processes themselves are AugurSys' `ChildProcess`.
import AugurSys

public enum HarnessError: Error, Sendable, CustomStringConvertible {
    case io(String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .io(let s): s
        case .invalidArgument(let s): s
        }
    }
}

public func monotonicMilliseconds() -> Int { Int(MonotonicClock.nanos() / 1_000_000) }

/// An append-only record log: each record is one line written with one write(2), so a SIGKILL
/// leaves whole records (at worst the last one without its newline, which readers ignore).
/// Thread-safety: immutable after init; `append` is one append to an `AppendOnlyFile`.
public final class RecordLog: Sendable {
    let file: AppendOnlyFile

    public init(path: String) throws(HarnessError) {
        do throws(FileSystemError) { file = try AppendOnlyFile(path: path) } catch {
            throw .io("cannot open \(path): \(error.errno)")
        }
    }

    /// Appends `line` and a newline; a failed write drops the record (the parent then sees the
    /// log end early, as after a kill).
    public func append(_ line: String) {
        try? file.append(Array(line.utf8) + [UInt8(ascii: "\n")])
    }

    /// Complete lines of a log file (a last line without its newline is ignored).
    public static func read(path: String) -> [Substring] {
        guard let bytes = try? PosixFileSystem().readFile(path) else { return [] }
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()          // after the last "\n" (or the whole text when there is none)
        return lines
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
