// Fault injection by rules over the operation enum, in the manner of Pebble's vfs/errorfs:
// "fail the 2nd sync of *.seg with EIO", "every allocate of */wal/* fails with ENOSPC from
// the 1st on". It wraps any other file system, so faults compose with crash simulation.
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One fault: the `nth` call (1-based) of `operation` on a path matching `pathPattern` fails
/// with `errno`; if `persistent`, every later matching call fails too.
@_spi(Testing) public struct FaultRule: Sendable, Equatable, CustomStringConvertible {
    public var operation: FileOperation
    /// fnmatch(3) pattern without FNM_PATHNAME, so `*` also matches `/` ("*.seg", "*/CURRENT*").
    public var pathPattern: String
    public var nth: Int
    public var errno: Errno
    public var persistent: Bool

    public init(_ operation: FileOperation, path pathPattern: String = "*", nth: Int = 1,
                errno: Errno = .ioError, persistent: Bool = false) {
        precondition(nth >= 1, "FaultRule.nth counts from 1")
        self.operation = operation
        self.pathPattern = pathPattern
        self.nth = nth
        self.errno = errno
        self.persistent = persistent
    }

    public var description: String {
        "\(operation) \(pathPattern) #\(nth) → \(errno)\(persistent ? " (persistent)" : "")"
    }
}

/// Thread-safety: rules and counters are behind a lock; safe from many threads.
@_spi(Testing) public final class FaultInjectingFileSystem: FileSystem, @unchecked Sendable {
    public let base: any FileSystem
    private let lock = PThreadMutex()
    private var rules: [FaultRule] = []
    private var matched: [Int] = []
    private var injected: [FaultRule] = []
    private var injectedAt: [String] = []
    private var callCounts: [FileOperation: Int] = [:]

    /// Whether handles opened through this file system pass on the wrapped handle's
    /// `descriptor`. Off by default: a caller holding the raw descriptor (io_uring,
    /// copy_file_range) would read and write around the injected faults, so by default the
    /// handles report none and such callers fall back to `read`/`write`, where faults fire.
    /// Turn it on to drive the descriptor paths and still inject faults into the calls they
    /// make through the protocol (`sync`, `size`, `syncDirectory`, ...).
    public let exposesDescriptors: Bool

    public init(wrapping base: any FileSystem, exposingDescriptors: Bool = false) {
        self.base = base
        self.exposesDescriptors = exposingDescriptors
    }

    /// Adds a rule; counting of matching calls starts now.
    public func add(_ rule: FaultRule) {
        lock.withLock {
            rules.append(rule)
            matched.append(0)
        }
    }

    /// Removes every rule (for example to let a store reopen cleanly after a fault).
    public func clearRules() {
        lock.withLock {
            rules.removeAll()
            matched.removeAll()
        }
    }

    /// Faults injected so far, in order.
    public var injectedFaults: [FaultRule] { lock.withLock { injected } }

    /// The paths the injected faults hit, in the same order.
    public var injectedPaths: [String] { lock.withLock { injectedAt } }

    /// How many calls of each operation went through (faulted or not).
    public func calls(of operation: FileOperation) -> Int { lock.withLock { callCounts[operation, default: 0] } }

    /// Throws the injected error if a rule fires for this call.
    func check(_ operation: FileOperation, _ path: String) throws(FileSystemError) {
        let fire: Errno? = lock.withLock {
            callCounts[operation, default: 0] += 1
            var fired: Errno? = nil
            for i in rules.indices where rules[i].operation == operation {
                guard fnmatch(rules[i].pathPattern, path, 0) == 0 else { continue }
                matched[i] += 1
                if matched[i] == rules[i].nth || (rules[i].persistent && matched[i] > rules[i].nth) {
                    if fired == nil {
                        fired = rules[i].errno
                        injected.append(rules[i])
                        injectedAt.append(path)
                    }
                }
            }
            return fired
        }
        if let fire { throw FileSystemError(operation, path, fire) }
    }

    public func open(_ path: String, mode: OpenMode) throws(FileSystemError) -> any FileHandle {
        try check(.open, path)
        return FaultInjectingFileHandle(fs: self, base: try base.open(path, mode: mode))
    }
    public func rename(_ from: String, to: String) throws(FileSystemError) {
        try check(.rename, from)
        try base.rename(from, to: to)
    }
    public func remove(_ path: String) throws(FileSystemError) {
        try check(.remove, path)
        try base.remove(path)
    }
    public func hardLink(_ existing: String, at link: String) throws(FileSystemError) {
        try check(.link, link)
        try base.hardLink(existing, at: link)
    }
    public func removeDirectory(_ path: String) throws(FileSystemError) {
        try check(.remove, path)
        try base.removeDirectory(path)
    }
    public func syncDirectory(_ path: String) throws(FileSystemError) {
        try check(.syncDirectory, path)
        try base.syncDirectory(path)
    }
    public func createDirectory(_ path: String) throws(FileSystemError) {
        try check(.createDirectory, path)
        try base.createDirectory(path)
    }
    public func listDirectory(_ path: String) throws(FileSystemError) -> [String] {
        try check(.listDirectory, path)
        return try base.listDirectory(path)
    }
    public func fileExists(_ path: String) -> Bool { base.fileExists(path) }
    public func isDirectory(_ path: String) -> Bool { base.isDirectory(path) }
    public func fileSize(_ path: String) throws(FileSystemError) -> Int {
        try check(.stat, path)
        return try base.fileSize(path)
    }
    public func lock(_ path: String) throws(FileSystemError) -> any FileLock {
        try check(.lock, path)
        return try base.lock(path)
    }
    public func isLocked(_ path: String) -> Bool { base.isLocked(path) }
}

/// Thread-safety: immutable after init; as safe as `base`, with the fault rules behind the file
/// system's lock.
final class FaultInjectingFileHandle: FileHandle, @unchecked Sendable {
    let fs: FaultInjectingFileSystem
    let base: any FileHandle
    var path: String { base.path }
    /// Nil unless the file system was made with `exposingDescriptors: true`, so that callers
    /// cannot go around the injected faults by accident.
    var descriptor: Int32? { fs.exposesDescriptors ? base.descriptor : nil }

    init(fs: FaultInjectingFileSystem, base: any FileHandle) {
        self.fs = fs
        self.base = base
    }

    func size() throws(FileSystemError) -> Int {
        try fs.check(.stat, path)
        return try base.size()
    }
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(FileSystemError) -> Int {
        try fs.check(.read, path)
        return try base.read(at: offset, into: buffer)
    }
    func write(at offset: Int, _ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
        try fs.check(.write, path)
        try base.write(at: offset, bytes)
    }
    func sync() throws(FileSystemError) {
        try fs.check(.sync, path)
        try base.sync()
    }
    func syncData(in range: Range<Int>) throws(FileSystemError) {
        try fs.check(.sync, path)
        try base.syncData(in: range)
    }
    func allocate(size: Int) throws(FileSystemError) {
        try fs.check(.allocate, path)
        try base.allocate(size: size)
    }
    func truncate(size: Int) throws(FileSystemError) {
        try fs.check(.truncate, path)
        try base.truncate(size: size)
    }
    func mapReadOnly(length: Int) throws(FileSystemError) -> MappedRegion {
        try fs.check(.map, path)
        return try base.mapReadOnly(length: length)
    }
    func mapShared(length: Int) throws(FileSystemError) -> MappedRegion {
        try fs.check(.map, path)
        return try base.mapShared(length: length)
    }
    func close() { base.close() }
}
