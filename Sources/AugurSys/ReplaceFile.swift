// Write-to-a-temporary-then-rename, in one place: readers of the path see the old bytes or
// the new ones, never half a file.
extension FileSystem {
    /// Replaces the file at `path` with `bytes`: writes `temporary` (removed first if a crash
    /// left one behind), then renames it over `path`. Not synced: callers that need the new
    /// bytes durable sync the directory themselves. On failure the temporary is removed and
    /// `path` keeps its old contents.
    public func replaceFile(at path: String, with bytes: [UInt8], temporary: String) throws(FileSystemError) {
        try? remove(temporary)
        do throws(FileSystemError) {
            let h = try open(temporary, mode: .createNew)
            defer { h.close() }
            try h.write(at: 0, bytes)
            try rename(temporary, to: path)
        } catch {
            try? remove(temporary)
            throw error
        }
    }
}
