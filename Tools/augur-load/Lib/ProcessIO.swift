#if canImport(Glibc)
import Glibc
#endif
import AugurWorkload
import CAugurSys
import Foundation
import Synchronization

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

    /// CPU seconds the host has stolen from all CPUs since boot (/proc/stat's steal, see
    /// AugurWorkload's HostSteal.swift), or nil where /proc/stat or the tick rate is missing.
    @Sendable static func hostStolenSeconds() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let ticks = HostSteal.stolenTicks(procStat: text) else { return nil }
        let perSecond = sysconf(Int32(_SC_CLK_TCK))
        return perSecond > 0 ? Double(ticks) / Double(perSecond) : nil
    }

    /// Bytes written to storage so far (`Counters.net`), or nil (see `counters()`).
    static func bytesWritten() -> UInt64? { counters()?.net }

    /// Resets the kernel's peak resident set (VmHWM) of this process to its current one
    /// (writing 5 to /proc/self/clear_refs, Linux 4.0+), so that a peak read later belongs to
    /// what ran since, not to an engine measured before it in the same process. False where
    /// that is refused: the peak then covers the process's whole life.
    /// Also returns the heap the engines before this one freed (malloc_trim), so that in a
    /// compare the next engine's figures start from what is really in use.
    @discardableResult
    static func resetPeakResident() -> Bool {
        _ = caugur_malloc_trim()
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    /// The resident set now (VmRSS), its peak (VmHWM) and its anonymous part now (RssAnon:
    /// heap and other private memory, without the pages of mapped files), in bytes, or nil
    /// where /proc/self/status lacks them.
    static func resident() -> Resident? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return parseResident(text)
    }

    struct Resident: Equatable {
        var now: UInt64
        var peak: UInt64
        var anonymous: UInt64
    }

    /// Parses VmRSS, VmHWM and RssAnon ("kB" lines) of /proc/PID/status; nil unless all three
    /// are there.
    static func parseResident(_ text: String) -> Resident? {
        var now: UInt64?, peak: UInt64?, anonymous: UInt64?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let fields = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 2, fields[1] == "kB", let kib = UInt64(fields[0]) else { continue }
            switch parts[0] {
            case "VmRSS": now = kib << 10
            case "VmHWM": peak = kib << 10
            case "RssAnon": anonymous = kib << 10
            default: break
            }
        }
        guard let now, let peak, let anonymous else { return nil }
        return Resident(now: now, peak: max(now, peak), anonymous: anonymous)
    }

    /// Samples the anonymous resident memory every `interval` on a thread of its own and keeps
    /// the largest, from `start()` to `stop()`. The kernel keeps a peak of the whole resident
    /// set only, and that counts the pages of mapped files, which an engine reading its runs
    /// through mmap (Augur) holds for the page cache's sake while one reading with pread
    /// (RocksDB, LMDB's writes) does not: the anonymous peak is the figure to compare.
    final class AnonymousPeakSampler: @unchecked Sendable {
        private let peak = Atomic<UInt64>(0)
        private let stopped = Atomic<Bool>(false)
        private let done = DispatchSemaphore(value: 0)
        private let interval: Double

        init(interval: Double = 0.1) { self.interval = interval }

        func start() {
            let thread = Thread { [self] in
                while !stopped.load(ordering: .acquiring) {
                    sample()
                    Thread.sleep(forTimeInterval: interval)
                }
                done.signal()
            }
            thread.name = "augur-load.rss"
            thread.start()
        }

        private func sample() {
            guard let r = ProcessIO.resident() else { return }
            _ = peak.max(r.anonymous, ordering: .relaxed)
        }

        /// Stops the sampler (after one last sample) and returns the largest anonymous resident
        /// bytes seen, or nil when none could be read. A second call returns the same.
        func stop() -> UInt64? {
            if !stopped.exchange(true, ordering: .acquiringAndReleasing) {
                done.wait()
                sample()
            }
            let p = peak.load(ordering: .relaxed)
            return p > 0 ? p : nil
        }
    }

    /// Writes every dirty page back (sync(2)), so that pages still dirty count as written
    /// before a store's files are removed.
    static func syncAll() {
        #if canImport(Glibc)
        Glibc.sync()
        #endif
    }
}
