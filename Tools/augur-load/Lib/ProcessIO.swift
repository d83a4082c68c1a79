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

    /// Resets the kernel's peak resident set (VmHWM) of this process to its current one
    /// (writing 5 to /proc/self/clear_refs, Linux 4.0+), so that a peak read later belongs to
    /// what ran since, not to an engine measured before it in the same process. False where
    /// that is refused: the peak then covers the process's whole life.
    @discardableResult
    static func resetPeakResident() -> Bool {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    /// The resident set now (VmRSS) and its peak (VmHWM), in bytes, or nil where
    /// /proc/self/status lacks them.
    static func resident() -> (now: UInt64, peak: UInt64)? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return parseResident(text)
    }

    /// Parses VmRSS and VmHWM ("kB" lines) of /proc/PID/status; nil unless both are there.
    static func parseResident(_ text: String) -> (now: UInt64, peak: UInt64)? {
        var now: UInt64?, peak: UInt64?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let fields = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 2, fields[1] == "kB", let kib = UInt64(fields[0]) else { continue }
            switch parts[0] {
            case "VmRSS": now = kib << 10
            case "VmHWM": peak = kib << 10
            default: break
            }
        }
        guard let now, let peak else { return nil }
        return (now, max(now, peak))
    }

    /// Writes every dirty page back (sync(2)), so that pages still dirty count as written
    /// before a store's files are removed.
    static func syncAll() {
        #if canImport(Glibc)
        Glibc.sync()
        #endif
    }
}
