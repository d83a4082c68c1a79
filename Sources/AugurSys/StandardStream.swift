// Output to standard error and standard output that never stops the process.
//
// Foundation's `FileHandle.write` traps when write(2) fails (`2>/dev/full`, a closed pipe,
// `2>&-`), and `Syscall.retrying` treats EBADF as an Augur bug. A tool's diagnostics are not
// worth dying for: these write with write(2), retry EINTR and short writes, and count what
// they could not deliver instead of trapping.
import CAugurSys
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public enum StandardStream {
    private static let failures = Atomic<Int>(0)
    private static let outputFailures = Atomic<Int>(0)
    /// errno of the first failed `flushOutput` or `output`, 0 if none.
    private static let firstOutputErrno = Atomic<Int32>(0)

    /// Makes the process exit with 74 (EX_IOERR) and a line on standard error when anything
    /// written to standard output — by `print` or by `output` — did not reach it: `augur info >
    /// /dev/full` used to exit 0 with its output gone. Registered with atexit(3), so it
    /// checks at every `exit` (argument parsing's too) after the command has printed all; a
    /// tool calls it once, first thing.
    public static func exitWithAnErrorWhenOutputIsLost() {
        atexit {
            let e = caugur_flush_standard_output()
            let lost = StandardStream.outputFailures.load(ordering: .relaxed)
            guard e != 0 || lost > 0 else { return }
            // A stream already in error flushes with EIO (or nothing left to flush): name the
            // error of the first failed flush when there was one.
            let first = StandardStream.firstOutputErrno.load(ordering: .relaxed)
            let code = first != 0 ? first : e
            let reason = code != 0 ? String(cString: strerror(code)) : "\(lost) writes refused"
            _ = StandardStream.error("standard output could not be written (\(reason)); the output is incomplete\n")
            _exit(74)
        }
    }

    /// Flushes what `print` buffered to standard output now; false when that failed. The failure
    /// is counted, so the process exits 74 with the message above (naming this failure's
    /// error). A command that prints in parts (`augur scan`) flushes, then writes each part
    /// with `output`, and stops at its first failed part by exiting 74.
    public static func flushOutput() -> Bool {
        let e = caugur_flush_standard_output()
        guard e != 0 else { return true }
        _ = firstOutputErrno.compareExchange(expected: 0, desired: e, ordering: .relaxed)
        outputFailures.add(1, ordering: .relaxed)
        return false
    }

    /// Writes that failed since the process started (the text was dropped).
    public static var failedWrites: Int { failures.load(ordering: .relaxed) }

    /// Writes `text` to standard error; false (and counted) when the stream refused it.
    @discardableResult
    public static func error(_ text: String) -> Bool { write(text, to: STDERR_FILENO) }

    /// Writes `text` to standard output unbuffered (callers that mix it with `print` flush
    /// stdout first); false (and counted) when the stream refused it.
    @discardableResult
    public static func output(_ text: String) -> Bool { write(text, to: STDOUT_FILENO) }

    /// Writes `text` as UTF-8 to `fd`; false (and counted) on failure.
    @discardableResult
    public static func write(_ text: String, to fd: Int32) -> Bool {
        guard let e = writeAll(Array(text.utf8), to: fd) else { return true }
        failures.add(1, ordering: .relaxed)
        if fd == STDOUT_FILENO {
            outputFailures.add(1, ordering: .relaxed)
            _ = firstOutputErrno.compareExchange(expected: 0, desired: e.rawValue, ordering: .relaxed)
        }
        return false
    }

    /// write(2) until every byte is out; retries EINTR and short writes. Returns the errno of
    /// a failure (EBADF included: a closed stream is the caller's surroundings, not a bug).
    static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Errno? {
        bytes.withUnsafeBytes { buffer -> Errno? in
            var done = 0
            while done < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return Errno(rawValue: errno)
                }
                done += n
            }
            return nil
        }
    }
}
