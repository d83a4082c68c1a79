@_spi(Testing) import AugurCrashHarness
import AugurSys
import Testing

/// The `augur-crash` executable built next to the test bundle (the SIGKILL mode spawns it).
func augurCrashExecutable() -> String? {
    let me = ProcessLifetime.executablePath
    guard let slash = me.lastIndex(of: "/") else { return nil }
    let path = String(me[..<slash]) + "/augur-crash"
    return PosixFileSystem().fileExists(path) ? path : nil
}

/// A fresh directory under /tmp, removed when the object dies.
final class ScratchDirectory: @unchecked Sendable {
    let path: String
    init(_ prefix: String) {
        do { path = try PosixFileSystem().makeTemporaryDirectory(prefix: prefix) } catch { preconditionFailure("\(error)") }
    }
    deinit { PosixFileSystem().removeTree(path) }
}

/// Records the summary's failures as issues; failures matching `known` (an engine bug already
/// reported) are recorded as a known issue instead, so they are visible but do not fail the run.
func recordFailures(_ summary: RunSummary, known: [(marker: String, bug: String, intermittent: Bool)] = []) {
    var rest = summary.failures
    for k in known {
        let matching = rest.filter { $0.contains(k.marker) }
        rest.removeAll { $0.contains(k.marker) }
        if matching.isEmpty && k.intermittent { continue }
        withKnownIssue(Comment(rawValue: k.bug), isIntermittent: k.intermittent) {
            for f in matching.prefix(5) { Issue.record(Comment(rawValue: f)) }
        }
    }
    for f in rest.prefix(20) { Issue.record(Comment(rawValue: f)) }
}

// The two engine bugs the harness found (a flush persisting part of an unsynced batch; target
// files of a failed reshard commit left until restart) are fixed; see docs/ARCHITECTURE.md.
