// The file-system seam. Everything the engine does to disk goes through `FileSystem` and
// `FileHandle`, so tests can swap in fault injection (`FaultInjectingFileSystem`) and
// power-loss simulation (`CrashSimulatingFileSystem`) without touching the engine.
//
// Three implementations:
//   * `PosixFileSystem`            — the real thing (open/pwrite/fdatasync/mmap/flock).
//   * `FaultInjectingFileSystem`   — wraps another and fails chosen calls with chosen errnos.
//   * `CrashSimulatingFileSystem`  — in memory; keeps synced and unsynced state apart so a test
//                                    can "lose power" and keep only what was made durable.
import SystemPackage

/// The kinds of file operation, used to name failures and to aim injected faults.
public enum FileOperation: String, Sendable, CaseIterable, CustomStringConvertible {
    case open, read, write, sync, allocate, truncate, map, rename, remove
    case syncDirectory, createDirectory, listDirectory, lock, stat, link
    public var description: String { rawValue }
}

/// A failed file operation: which, on what path, and the errno.
public struct FileSystemError: Error, Sendable, Equatable, CustomStringConvertible {
    public var operation: FileOperation
    public var path: String
    public var errno: Errno

    public init(_ operation: FileOperation, _ path: String, _ errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// True for ENOSPC and EDQUOT: the device (or quota) is full.
    public var isDiskFull: Bool { errno == .noSpace || errno == .diskQuotaExceeded }

    public var description: String { "\(operation) \(path): \(errno)" }
}

/// How to open a file.
public enum OpenMode: Sendable {
    /// Existing file, reads only.
    case readOnly
    /// Existing file, reads and writes.
    case readWrite
    /// Create if missing (mode 0644), reads and writes; an existing file keeps its contents.
    case create
    /// Create; fails with EEXIST if the file exists.
    case createNew
}

/// An open file. Thread-safe: positional reads and writes may be issued from many threads.
public protocol FileHandle: AnyObject, Sendable {
    var path: String { get }
    /// The open kernel file descriptor behind this handle, for code that must hand one to the
    /// kernel itself (io_uring, copy_file_range in `RangeCopier`); nil when there is none — a
    /// simulated file, a closed handle, or a wrapper (fault injection) that must see every call
    /// and so does not let callers go around it. Callers that get nil use `read`/`write`.
    /// The descriptor stays owned by the handle: never close it, and stop using it once the
    /// handle is closed.
    var descriptor: Int32? { get }
    /// Current size in bytes.
    func size() throws(FileSystemError) -> Int
    /// Reads up to `buffer.count` bytes at `offset`; returns the number read (0 at end of file).
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(FileSystemError) -> Int
    /// Writes all of `bytes` at `offset` (short writes are continued, not returned).
    func write(at offset: Int, _ bytes: UnsafeRawBufferPointer) throws(FileSystemError)
    /// fdatasync: data and the metadata needed to read it back (size) are durable on return.
    func sync() throws(FileSystemError)
    /// fdatasync of `range` only: the data in it and the metadata needed to read it back are
    /// durable on return; dirty pages outside it may stay unwritten. Why: a file that is still
    /// being written through a mapping has pages dirtied ahead of its writers (populated
    /// writable, `MappedRegion.prefault`); a whole-file fdatasync writes and write-protects
    /// those too, and the writers then fault on pages the sync holds (docs/PERFORMANCE.md,
    /// "The flush's WAL sync"). A handle that cannot sync a range syncs the whole file.
    func syncData(in range: Range<Int>) throws(FileSystemError)
    /// fallocate: reserves blocks so later writes up to `size` cannot fail with ENOSPC, and
    /// extends the file to `size` (zero-filled) if it is shorter.
    func allocate(size: Int) throws(FileSystemError)
    /// Sets the size. Never called on a file that is mapped (the mmap rules forbid it).
    func truncate(size: Int) throws(FileSystemError)
    /// Maps `[0, length)` read-only. The file must already be at least `length` long.
    func mapReadOnly(length: Int) throws(FileSystemError) -> MappedRegion
    /// Maps `[0, length)` shared and writable; stores through it reach the file and are made
    /// durable by `sync()`. The file must already be allocated to at least `length`.
    func mapShared(length: Int) throws(FileSystemError) -> MappedRegion
    /// Closes the descriptor. Mappings made from this handle stay valid.
    func close()
}

extension FileHandle {
    /// The whole file: always at least what was asked (wrappers that only forward `sync`).
    public func syncData(in range: Range<Int>) throws(FileSystemError) { try sync() }
}

/// A held exclusive lock on a file; released by `unlock()` or when the object dies.
public protocol FileLock: AnyObject, Sendable {
    func unlock()
}

public protocol FileSystem: AnyObject, Sendable {
    func open(_ path: String, mode: OpenMode) throws(FileSystemError) -> any FileHandle
    /// Atomically replaces `to` with `from` (rename(2)). Durable after `syncDirectory` of both parents.
    func rename(_ from: String, to: String) throws(FileSystemError)
    /// Unlinks a file. Open handles and mappings stay valid.
    func remove(_ path: String) throws(FileSystemError)
    /// fsync of a directory: makes creations, renames and removals inside it durable.
    func syncDirectory(_ path: String) throws(FileSystemError)
    /// mkdir; succeeds if the directory already exists.
    func createDirectory(_ path: String) throws(FileSystemError)
    /// link(2): makes `link` a second name of the existing file `existing` (EEXIST if `link`
    /// exists, EXDEV across file systems). Durable after `syncDirectory` of `link`'s parent.
    func hardLink(_ existing: String, at link: String) throws(FileSystemError)
    /// rmdir: removes an empty directory (ENOTEMPTY otherwise). Durable after `syncDirectory`
    /// of its parent.
    func removeDirectory(_ path: String) throws(FileSystemError)
    /// Names (not paths) of the entries of a directory, unsorted, without "." and "..".
    func listDirectory(_ path: String) throws(FileSystemError) -> [String]
    func fileExists(_ path: String) -> Bool
    func isDirectory(_ path: String) -> Bool
    /// Size of a file without opening it.
    func fileSize(_ path: String) throws(FileSystemError) -> Int
    /// Takes an exclusive advisory lock (flock) without waiting; fails with EWOULDBLOCK when
    /// another holder (another process, or another open in this one) has it.
    func lock(_ path: String) throws(FileSystemError) -> any FileLock
    /// Whether someone else holds the exclusive lock `lock` takes on `path` now: a probe that
    /// takes nothing it keeps (false when the file does not exist or cannot be probed). A
    /// read-only open asks it to tell a live writer's changes from damage.
    func isLocked(_ path: String) -> Bool
}

extension FileHandle {
    /// No descriptor unless a conformer says otherwise: callers then fall back to `read` and
    /// `write`, which every handle has.
    public var descriptor: Int32? { nil }

    /// Writes a byte array at `offset`.
    public func write(at offset: Int, _ bytes: [UInt8]) throws(FileSystemError) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(FileSystemError) in try write(at: offset, buffer) }
        }.get()
    }

    /// Reads exactly `count` bytes at `offset`, or fewer if the file ends first.
    public func read(at offset: Int, count: Int) throws(FileSystemError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = try out.withUnsafeMutableBytes { buffer in
                Result { () throws(FileSystemError) -> Int in
                    try read(at: offset + done, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]))
                }
            }.get()
            if n == 0 { break }
            done += n
        }
        out.removeLast(count - done)
        return out
    }
}

extension FileSystem {
    /// Reads a whole (small) file.
    public func readFile(_ path: String) throws(FileSystemError) -> [UInt8] {
        let handle = try open(path, mode: .readOnly)
        defer { handle.close() }
        return try handle.read(at: 0, count: try handle.size())
    }
}

/// Joins path components with "/".
public func joinPath(_ base: String, _ name: String) -> String {
    base.hasSuffix("/") ? base + name : base + "/" + name
}

/// The last component of a path (the whole path when it has no "/").
public func lastPathComponent(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
}

/// The directory part of a path ("." when there is none).
public func parentDirectory(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
}
