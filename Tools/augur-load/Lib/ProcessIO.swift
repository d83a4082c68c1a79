#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The kernel's storage-write accounting of this process, for write amplification measured the
/// same way for every engine (`DiskWriteSummary`).
enum ProcessIO {
    /// The two write counters of /proc/self/io, in bytes, for all the process's threads (the
    /// kernel's io_uring workers for it included). `written` counts a page when it is dirtied
    /// (a write(2), or a store into a shared mapping) and again when it is dirtied after
    /// write-back; `cancelled` counts dirty pages dropped unwritten because their file was
    /// deleted or truncated.
    struct Counters: Equatable {
        var written: UInt64
        var cancelled: UInt64
        /// What reached (or will reach) storage.
        var net: UInt64 { written >= cancelled ? written - cancelled : 0 }
    }

    /// The counters now, or nil where /proc/self/io is missing or unreadable (not Linux, a
    /// kernel without task I/O accounting).
    static func counters() -> Counters? {
        guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return nil }
        return parse(text)
    }

    /// Parses the text of /proc/PID/io; nil unless it has `write_bytes`.
    static func parse(_ text: String) -> Counters? {
        var written: UInt64?
        var cancelled: UInt64 = 0
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let v = UInt64(parts[1].trimmingCharacters(in: .whitespaces)) else { continue }
            switch parts[0] {
            case "write_bytes": written = v
            case "cancelled_write_bytes": cancelled = v
            default: break
            }
        }
        return written.map { Counters(written: $0, cancelled: cancelled) }
    }

    /// Bytes written to storage so far (`Counters.net`), or nil (see `counters()`).
    static func bytesWritten() -> UInt64? { counters()?.net }

    /// Writes every dirty page back (sync(2)), so that pages still dirty count as written
    /// before a store's files are removed.
    static func syncAll() {
        #if canImport(Glibc)
        Glibc.sync()
        #endif
    }
}
