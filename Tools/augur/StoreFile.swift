import Foundation
import AugurSys

/// Reads a file an engine writes into its store directory for tools to read while it runs
/// (PLAN.txt, METRICS.prom, TELEMETRY.json). `augur plan` said "the controller has not run"
/// for any failure — no store, a regular file as --dir, an unreadable or binary PLAN.txt — and
/// `stats --metrics` alike: only a missing file means that the engine has not written it yet.
///
/// Thread-safety: stateless; safe from any thread.
enum StoreFile {
    /// The bytes of `name` in the store `dir`, or nil when `dir` is a directory without that
    /// file (the caller says why the engine has not written it). Throws a `CommandFailure`
    /// naming the path when `dir` is missing or not a directory, or the file cannot be read.
    static func bytes(_ name: String, in dir: String) throws -> [UInt8]? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory) else {
            throw CommandFailure("no store at \(dir): the directory does not exist")
        }
        guard isDirectory.boolValue else { throw CommandFailure("\(dir) is not a directory, so not a store") }
        let path = (dir as NSString).appendingPathComponent(name)
        do { return try InputFile.bytes(path) } catch {
            if case .missing = error { return nil }
            throw CommandFailure("\(error)")
        }
    }

    /// `bytes(name, in: dir)` as UTF-8 text; bytes that are not text are a `CommandFailure`
    /// naming the line and byte offset.
    static func text(_ name: String, in dir: String) throws -> String? {
        guard let bytes = try bytes(name, in: dir) else { return nil }
        let path = (dir as NSString).appendingPathComponent(name)
        do { return try InputFile.text(of: bytes, path: path) } catch { throw CommandFailure("\(error)") }
    }
}
