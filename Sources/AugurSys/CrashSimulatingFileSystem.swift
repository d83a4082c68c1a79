// An in-memory file system that keeps what was made durable apart from what was merely
// written, so a test can cut the power at any moment and see exactly what a real disk could
// have kept (the model is Pebble's strict MemFS).
//
// Rules it enforces (the same ones Linux + ext4/xfs give, taken pessimistically):
//   * file data and size become durable only on `sync()` (fdatasync) of that file;
//   * a directory entry (create, rename, unlink) becomes durable only on `syncDirectory` of the
//     directory holding it; a file whose entry never became durable is gone after a crash;
//   * stores through a shared mapping are ordinary unsynced writes;
//   * at a crash, unsynced data is dropped — or, with tearing, each unsynced 512 B or 4 KiB
//     sector independently survives or not, and an unsynced extension may survive in part.
//
// `crashClone(tearing:seed:)` returns a new file system holding only the surviving state; the
// original keeps running so the engine that was using it can be shut down and discarded.
import SystemPackage
import Synchronization

import AugurStats
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How unsynced writes survive a simulated crash.
@_spi(Testing) public enum CrashTearing: Sendable, Equatable {
    /// Every unsynced byte is lost.
    case none
    /// Each unsynced sector of this many bytes (512 or 4096) survives or not at random.
    case sectors(Int)
}

/// Thread-safety: all state is behind one lock; handles may be used from many threads. Stores
/// through a shared mapping go straight to the file's buffer, as they would with mmap.
@_spi(Testing) public final class CrashSimulatingFileSystem: FileSystem, @unchecked Sendable {
    /// Largest file the simulation holds, in bytes (its buffer is reserved, not committed).
    public static let maximumFileSize = 256 << 20

    /// Thread-safety: `size` and `durable` are read and written only under the file system's `lock`;
    /// the bytes at `storage` are also reached through mappings without it, as a real mmap's are.
    final class Inode: @unchecked Sendable {
        let storage: UnsafeMutableRawPointer     // maximumFileSize reserved, pages committed on touch
        var size = 0
        var durable: [UInt8] = []                // contents as of the last sync
        init() {
            let p = mmap(nil, CrashSimulatingFileSystem.maximumFileSize, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
            precondition(p != MAP_FAILED, "cannot reserve simulated file storage")
            storage = p!
        }
        deinit { munmap(storage, CrashSimulatingFileSystem.maximumFileSize) }
    }

    /// Thread-safety: both tables are read and written only under the file system's `lock`.
    final class Directory: @unchecked Sendable {
        var entries: [String: Node] = [:]
        var durableEntries: [String: Node] = [:]
    }

    enum Node {
        case file(Inode)
        case directory(Directory)
        var identity: ObjectIdentifier {
            switch self {
            case .file(let i): ObjectIdentifier(i)
            case .directory(let d): ObjectIdentifier(d)
            }
        }
    }

    let lock = PThreadMutex()
    let root = Directory()
    private var lockedPaths: Set<String> = []
    /// Count of `sync` calls that reached a file, for tests that check group commit.
    public private(set) var syncCount = 0
    /// How many of those syncs covered a range (`syncData(in:)`), not the whole file.
    public private(set) var rangedSyncCount = 0

    public init() {}

    // MARK: paths

    private func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init).filter { $0 != "." }
    }

    private func lookup(_ path: String) -> Node? {
        var node = Node.directory(root)
        for c in components(path) {
            guard case .directory(let d) = node, let next = d.entries[c] else { return nil }
            node = next
        }
        return node
    }

    private func parent(of path: String, _ op: FileOperation) throws(FileSystemError) -> (Directory, String) {
        var parts = components(path)
        guard let name = parts.popLast() else { throw FileSystemError(op, path, .invalidArgument) }
        var dir = root
        for c in parts {
            guard let next = dir.entries[c] else { throw FileSystemError(op, path, .noSuchFileOrDirectory) }
            guard case .directory(let d) = next else { throw FileSystemError(op, path, .notDirectory) }
            dir = d
        }
        return (dir, name)
    }

    // MARK: FileSystem

    public func open(_ path: String, mode: OpenMode) throws(FileSystemError) -> any FileHandle {
        try lock.withLock { () throws(FileSystemError) -> any FileHandle in
            let (dir, name) = try parent(of: path, .open)
            if let existing = dir.entries[name] {
                guard case .file(let inode) = existing else { throw FileSystemError(.open, path, .isDirectory) }
                if mode == .createNew { throw FileSystemError(.open, path, .fileExists) }
                return SimulatedFileHandle(fs: self, inode: inode, path: path, writable: mode != .readOnly)
            }
            guard mode == .create || mode == .createNew else { throw FileSystemError(.open, path, .noSuchFileOrDirectory) }
            let inode = Inode()
            dir.entries[name] = .file(inode)
            return SimulatedFileHandle(fs: self, inode: inode, path: path, writable: true)
        }
    }

    public func rename(_ from: String, to: String) throws(FileSystemError) {
        try lock.withLock { () throws(FileSystemError) in
            let (fromDir, fromName) = try parent(of: from, .rename)
            let (toDir, toName) = try parent(of: to, .rename)
            guard let node = fromDir.entries[fromName] else { throw FileSystemError(.rename, from, .noSuchFileOrDirectory) }
            fromDir.entries[fromName] = nil
            toDir.entries[toName] = node
        }
    }

    public func remove(_ path: String) throws(FileSystemError) {
        try lock.withLock { () throws(FileSystemError) in
            let (dir, name) = try parent(of: path, .remove)
            guard let node = dir.entries[name] else { throw FileSystemError(.remove, path, .noSuchFileOrDirectory) }
            if case .directory = node { throw FileSystemError(.remove, path, .isDirectory) }
            dir.entries[name] = nil
        }
    }

    public func hardLink(_ existing: String, at link: String) throws(FileSystemError) {
        try lock.withLock { () throws(FileSystemError) in
            guard let node = lookup(existing) else { throw FileSystemError(.link, existing, .noSuchFileOrDirectory) }
            guard case .file = node else { throw FileSystemError(.link, existing, .notPermitted) }
            let (dir, name) = try parent(of: link, .link)
            if dir.entries[name] != nil { throw FileSystemError(.link, link, .fileExists) }
            dir.entries[name] = node
        }
    }

    public func removeDirectory(_ path: String) throws(FileSystemError) {
        try lock.withLock { () throws(FileSystemError) in
            let (dir, name) = try parent(of: path, .remove)
            guard let node = dir.entries[name] else { throw FileSystemError(.remove, path, .noSuchFileOrDirectory) }
            guard case .directory(let d) = node else { throw FileSystemError(.remove, path, .notDirectory) }
            if !d.entries.isEmpty { throw FileSystemError(.remove, path, .directoryNotEmpty) }
            dir.entries[name] = nil
        }
    }

    public func syncDirectory(_ path: String) throws(FileSystemError) {
        try lock.withLock { () throws(FileSystemError) in
            guard case .directory(let d)? = lookup(path) else { throw FileSystemError(.syncDirectory, path, .noSuchFileOrDirectory) }
            d.durableEntries = d.entries
        }
    }

    public func createDirectory(_ path: String) throws(FileSystemError) {
        try lock.withLock { () throws(FileSystemError) in
            let (dir, name) = try parent(of: path, .createDirectory)
            if let existing = dir.entries[name] {
                if case .directory = existing { return }
                throw FileSystemError(.createDirectory, path, .fileExists)
            }
            dir.entries[name] = .directory(Directory())
        }
    }

    public func listDirectory(_ path: String) throws(FileSystemError) -> [String] {
        try lock.withLock { () throws(FileSystemError) -> [String] in
            guard case .directory(let d)? = lookup(path) else { throw FileSystemError(.listDirectory, path, .noSuchFileOrDirectory) }
            return Array(d.entries.keys)
        }
    }

    public func fileExists(_ path: String) -> Bool { lock.withLock { lookup(path) != nil } }

    public func isDirectory(_ path: String) -> Bool {
        lock.withLock { if case .directory? = lookup(path) { true } else { false } }
    }

    public func fileSize(_ path: String) throws(FileSystemError) -> Int {
        try lock.withLock { () throws(FileSystemError) -> Int in
            guard case .file(let inode)? = lookup(path) else { throw FileSystemError(.stat, path, .noSuchFileOrDirectory) }
            return inode.size
        }
    }

    public func lock(_ path: String) throws(FileSystemError) -> any FileLock {
        try lock.withLock { () throws(FileSystemError) -> any FileLock in
            if lookup(path) == nil {
                let (dir, name) = try parent(of: path, .lock)
                dir.entries[name] = .file(Inode())
            }
            if lockedPaths.contains(path) { throw FileSystemError(.lock, path, .wouldBlock) }
            lockedPaths.insert(path)
            return SimulatedFileLock(fs: self, path: path)
        }
    }

    public func isLocked(_ path: String) -> Bool { lock.withLock { lockedPaths.contains(path) } }

    func releaseLock(_ path: String) { lock.withLock { _ = lockedPaths.remove(path) } }

    func recordSync(ranged: Bool = false) {
        syncCount += 1
        if ranged { rangedSyncCount += 1 }
    }

    // MARK: crash

    /// A new file system holding what survives a power cut now. `seed` drives tearing.
    public func crashClone(tearing: CrashTearing = .none, seed: UInt64 = 0) -> CrashSimulatingFileSystem {
        lock.withLock {
            var rng = SplitMix64(seed: seed)
            let clone = CrashSimulatingFileSystem()
            var copied: [ObjectIdentifier: Node] = [:]
            func copy(_ dir: Directory, into target: Directory) {
                for (name, node) in dir.durableEntries {
                    if let done = copied[node.identity] {
                        target.entries[name] = done
                        continue
                    }
                    switch node {
                    case .file(let inode):
                        let n = Inode()
                        Self.survivingContents(of: inode, into: n, tearing: tearing, rng: &rng)
                        copied[node.identity] = .file(n)
                        target.entries[name] = .file(n)
                    case .directory(let d):
                        let nd = Directory()
                        copied[node.identity] = .directory(nd)
                        copy(d, into: nd)
                        target.entries[name] = .directory(nd)
                    }
                }
                target.durableEntries = target.entries
            }
            copy(root, into: clone.root)
            return clone
        }
    }

    /// A new file system as a killed process leaves this one: every write so far is there (the
    /// page cache outlives the process), and what a later power cut keeps is unchanged — each
    /// file's contents and each name as of its last sync (`crashClone` of the clone). No lock
    /// is held in it, so another engine may open the store the killed one had open.
    public func processCrashClone() -> CrashSimulatingFileSystem {
        lock.withLock {
            let clone = CrashSimulatingFileSystem()
            var copied: [ObjectIdentifier: Node] = [ObjectIdentifier(root): .directory(clone.root)]
            func copy(_ node: Node) -> Node {
                if let done = copied[node.identity] { return done }
                switch node {
                case .file(let inode):
                    let n = Inode()
                    n.storage.copyMemory(from: inode.storage, byteCount: inode.size)
                    n.size = inode.size
                    n.durable = inode.durable
                    copied[node.identity] = .file(n)
                    return .file(n)
                case .directory(let d):
                    let nd = Directory()
                    copied[node.identity] = .directory(nd)
                    fill(nd, from: d)
                    return .directory(nd)
                }
            }
            func fill(_ target: Directory, from d: Directory) {
                for (name, child) in d.entries { target.entries[name] = copy(child) }
                for (name, child) in d.durableEntries { target.durableEntries[name] = copy(child) }
            }
            fill(clone.root, from: root)
            return clone
        }
    }

    private static func survivingContents(of inode: Inode, into n: Inode, tearing: CrashTearing, rng: inout SplitMix64) {
        let durable = inode.durable
        durable.withUnsafeBytes { n.storage.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        n.size = durable.count
        guard case .sectors(let sector) = tearing, sector > 0 else {
            n.durable = durable
            return
        }
        // The unsynced size change may survive in part: pick a new size between the two.
        var size = durable.count
        if inode.size > durable.count {
            let extra = inode.size - durable.count
            size = durable.count + Int(rng.next() % UInt64(extra + 1)) / sector * sector
        } else if inode.size < durable.count {
            size = Bool.random(using: &rng) ? inode.size : durable.count
        }
        n.size = size
        if size > durable.count { memset(n.storage + durable.count, 0, size - durable.count) }
        // Each sector that differs survives with probability one half.
        var offset = 0
        let limit = min(size, inode.size)
        while offset < limit {
            let len = min(sector, limit - offset)
            let differs = offset + len > durable.count
                || memcmp(inode.storage + offset, n.storage + offset, len) != 0
            if differs && (rng.next() & 1) == 1 {
                (n.storage + offset).copyMemory(from: inode.storage + offset, byteCount: len)
            }
            offset += len
        }
        n.durable = Array(UnsafeRawBufferPointer(start: n.storage, count: size))
    }
}

/// Thread-safety: immutable except `released` (atomic), so `unlock()` releases the lock once.
final class SimulatedFileLock: FileLock, @unchecked Sendable {
    let fs: CrashSimulatingFileSystem
    let path: String
    private let released = Atomic<Bool>(false)
    init(fs: CrashSimulatingFileSystem, path: String) {
        self.fs = fs
        self.path = path
    }
    func unlock() {
        if !released.exchange(true, ordering: .relaxed) { fs.releaseLock(path) }
    }
    deinit { unlock() }
}

/// Thread-safety: immutable after init; every access to the inode takes the file system's `lock`.
final class SimulatedFileHandle: FileHandle, @unchecked Sendable {
    let fs: CrashSimulatingFileSystem
    let inode: CrashSimulatingFileSystem.Inode
    let path: String
    let writable: Bool

    init(fs: CrashSimulatingFileSystem, inode: CrashSimulatingFileSystem.Inode, path: String, writable: Bool) {
        self.fs = fs
        self.inode = inode
        self.path = path
        self.writable = writable
    }

    /// In-memory files have no kernel descriptor; callers use `read`/`write`.
    var descriptor: Int32? { nil }

    func size() throws(FileSystemError) -> Int { fs.lock.withLock { inode.size } }

    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(FileSystemError) -> Int {
        fs.lock.withLock {
            let n = max(0, min(buffer.count, inode.size - offset))
            if n > 0 { buffer.baseAddress!.copyMemory(from: inode.storage + offset, byteCount: n) }
            return n
        }
    }

    func write(at offset: Int, _ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
        guard writable else { throw FileSystemError(.write, path, .badFileDescriptor) }
        try fs.lock.withLock { () throws(FileSystemError) in
            let end = offset + bytes.count
            if end > CrashSimulatingFileSystem.maximumFileSize { throw FileSystemError(.write, path, .fileTooLarge) }
            if offset > inode.size { memset(inode.storage + inode.size, 0, offset - inode.size) }
            if bytes.count > 0 { (inode.storage + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            inode.size = max(inode.size, end)
        }
    }

    func sync() throws(FileSystemError) {
        fs.lock.withLock {
            inode.durable = Array(UnsafeRawBufferPointer(start: inode.storage, count: inode.size))
            fs.recordSync()
        }
    }

    /// Only the bytes of `range` (within the size) become durable, and the size as far as they
    /// reach. Taken pessimistically: bytes between the old durable size and the range, never
    /// synced, are zeros after a crash; every other unsynced byte keeps its durable value.
    func syncData(in range: Range<Int>) throws(FileSystemError) {
        fs.lock.withLock {
            let end = min(range.upperBound, inode.size)
            let start = max(0, min(range.lowerBound, end))
            // A size made smaller since the last sync is committed by any sync of the file.
            if inode.size < inode.durable.count { inode.durable.removeLast(inode.durable.count - inode.size) }
            if end > inode.durable.count {
                inode.durable.append(contentsOf: repeatElement(0, count: end - inode.durable.count))
            }
            if start < end {
                inode.durable.withUnsafeMutableBytes { d in
                    (d.baseAddress! + start).copyMemory(from: inode.storage + start, byteCount: end - start)
                }
            }
            fs.recordSync(ranged: true)
        }
    }

    func allocate(size: Int) throws(FileSystemError) {
        try fs.lock.withLock { () throws(FileSystemError) in
            if size > CrashSimulatingFileSystem.maximumFileSize { throw FileSystemError(.allocate, path, .noSpace) }
            if size > inode.size {
                memset(inode.storage + inode.size, 0, size - inode.size)
                inode.size = size
            }
        }
    }

    func truncate(size: Int) throws(FileSystemError) {
        fs.lock.withLock {
            if size > inode.size { memset(inode.storage + inode.size, 0, size - inode.size) }
            inode.size = size
        }
    }

    func mapReadOnly(length: Int) throws(FileSystemError) -> MappedRegion {
        try map(length: length)
    }

    func mapShared(length: Int) throws(FileSystemError) -> MappedRegion {
        try map(length: length)
    }

    private func map(length: Int) throws(FileSystemError) -> MappedRegion {
        let size = try self.size()
        if size < length { throw FileSystemError(.map, path, .invalidArgument) }
        // The storage never moves, so the "mapping" is the file's own buffer; the region keeps
        // the inode alive the way a real mapping keeps an unlinked file's pages.
        let inode = self.inode
        return MappedRegion(base: inode.storage, length: length) { _, _ in withExtendedLifetime(inode) {} }
    }

    func close() {}
}
