import CAugurSys
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The real file system: POSIX calls through `Syscall`, which retries EINTR and types errno.
/// Thread-safe; stateless apart from the descriptors it hands out.
public final class PosixFileSystem: FileSystem {
    public init() {}

    public func open(_ path: String, mode: OpenMode) throws(FileSystemError) -> any FileHandle {
        let flags: Int32
        switch mode {
        case .readOnly: flags = O_RDONLY | O_CLOEXEC
        case .readWrite: flags = O_RDWR | O_CLOEXEC
        case .create: flags = O_RDWR | O_CREAT | O_CLOEXEC
        case .createNew: flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC
        }
        // O_NONBLOCK for the open only: a FIFO put where a store file belongs made open(2)
        // wait for a writer forever (`augur info` hung), and reads of it would wait the same
        // way. A FIFO or a socket is refused; anything else opens as before (a directory or
        // a device in a store file's place fails at its first read or check, and tests open
        // /dev/full and directories on purpose to make I/O fail).
        let fd: Int32
        switch Syscall.retrying({ Glibc.open(path, flags | O_NONBLOCK, 0o644) }) {
        case .success(let d): fd = d
        case .failure(let e): throw FileSystemError(.open, path, e)
        }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let e = Errno(rawValue: errno)
            _ = Glibc.close(fd)
            throw FileSystemError(.stat, path, e)
        }
        let type = st.st_mode & S_IFMT
        if type == S_IFIFO || type == S_IFSOCK {
            _ = Glibc.close(fd)
            throw FileSystemError(.open, path, .noSuchAddressOrDevice)
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return PosixFileHandle(fd: fd, path: path)
    }

    public func rename(_ from: String, to: String) throws(FileSystemError) {
        if case .failure(let e) = Syscall.retrying({ Glibc.rename(from, to) }) {
            throw FileSystemError(.rename, from, e)
        }
    }

    public func remove(_ path: String) throws(FileSystemError) {
        if case .failure(let e) = Syscall.retrying({ unlink(path) }) {
            throw FileSystemError(.remove, path, e)
        }
    }

    public func hardLink(_ existing: String, at link: String) throws(FileSystemError) {
        if case .failure(let e) = Syscall.retrying({ Glibc.link(existing, link) }) {
            throw FileSystemError(.link, link, e)
        }
    }

    public func removeDirectory(_ path: String) throws(FileSystemError) {
        if case .failure(let e) = Syscall.retrying({ rmdir(path) }) {
            throw FileSystemError(.remove, path, e)
        }
    }

    public func syncDirectory(_ path: String) throws(FileSystemError) {
        let fd: Int32
        switch Syscall.retrying({ Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }) {
        case .success(let d): fd = d
        case .failure(let e): throw FileSystemError(.syncDirectory, path, e)
        }
        defer { _ = Glibc.close(fd) }
        if case .failure(let e) = Syscall.retrying({ fsync(fd) }) {
            throw FileSystemError(.syncDirectory, path, e)
        }
    }

    public func createDirectory(_ path: String) throws(FileSystemError) {
        switch Syscall.retrying({ mkdir(path, 0o755) }) {
        case .success: return
        case .failure(let e) where e == .fileExists && isDirectory(path): return
        case .failure(let e): throw FileSystemError(.createDirectory, path, e)
        }
    }

    public func listDirectory(_ path: String) throws(FileSystemError) -> [String] {
        guard let dir = opendir(path) else {
            throw FileSystemError(.listDirectory, path, Errno(rawValue: errno))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public func fileExists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public func fileSize(_ path: String) throws(FileSystemError) -> Int {
        var st = stat()
        if case .failure(let e) = Syscall.retrying({ stat(path, &st) }) {
            throw FileSystemError(.stat, path, e)
        }
        return Int(st.st_size)
    }

    public func lock(_ path: String) throws(FileSystemError) -> any FileLock {
        let fd: Int32
        switch Syscall.retrying({ Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }) {
        case .success(let d): fd = d
        case .failure(let e): throw FileSystemError(.lock, path, e)
        }
        if case .failure(let e) = Syscall.retrying({ flock(fd, LOCK_EX | LOCK_NB) }) {
            _ = Glibc.close(fd)
            throw FileSystemError(.lock, path, e)
        }
        return PosixFileLock(fd: fd)
    }

    public func isLocked(_ path: String) -> Bool {
        // Opened read-only and never created: a probe must not make a LOCK where none was.
        guard case .success(let fd) = Syscall.retrying({ Glibc.open(path, O_RDONLY | O_CLOEXEC) }) else { return false }
        defer { _ = Glibc.close(fd) }   // drops the shared lock, if it was granted
        // A shared lock conflicts only with an exclusive one: two probes never see each other.
        // A writer that opens in this instant finds it held and retries (`lockDirectory`).
        if case .failure(let e) = Syscall.retrying({ flock(fd, LOCK_SH | LOCK_NB) }) {
            return e == .wouldBlock || e == .resourceTemporarilyUnavailable
        }
        return false
    }
}

/// Holds a flock(2) on its descriptor until `unlock()` or deinit.
/// Thread-safety: `fd` is read and written only under `lock` (deinit has the object to itself).
final class PosixFileLock: FileLock, @unchecked Sendable {
    private var fd: Int32
    private let lock = PThreadMutex()
    init(fd: Int32) { self.fd = fd }
    func unlock() {
        lock.withLock {
            if fd >= 0 { _ = Glibc.close(fd); fd = -1 }  // closing the descriptor drops the flock
        }
    }
    deinit { if fd >= 0 { _ = Glibc.close(fd) } }
}

/// Thread-safety: positional I/O only, so concurrent use is safe; `close()` must not race other calls.
final class PosixFileHandle: FileHandle, @unchecked Sendable {
    let fd: Int32
    let path: String
    private var closed = false

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { if !closed { _ = Glibc.close(fd) } }

    /// The descriptor while the handle is open.
    var descriptor: Int32? { closed ? nil : fd }

    func size() throws(FileSystemError) -> Int {
        var st = stat()
        if case .failure(let e) = Syscall.retrying({ fstat(fd, &st) }) { throw FileSystemError(.stat, path, e) }
        return Int(st.st_size)
    }

    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(FileSystemError) -> Int {
        guard buffer.count > 0 else { return 0 }
        switch Syscall.retrying({ pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }) {
        case .success(let n): return n
        case .failure(let e): throw FileSystemError(.read, path, e)
        }
    }

    func write(at offset: Int, _ bytes: UnsafeRawBufferPointer) throws(FileSystemError) {
        var done = 0
        while done < bytes.count {
            let r = Syscall.retrying { pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            switch r {
            case .success(let n): done += n
            case .failure(let e): throw FileSystemError(.write, path, e)
            }
        }
    }

    func sync() throws(FileSystemError) {
        if case .failure(let e) = Syscall.retrying({ fdatasync(fd) }) { throw FileSystemError(.sync, path, e) }
    }

    /// Through io_uring's ranged fsync where this process may use io_uring, else fdatasync.
    func syncData(in range: Range<Int>) throws(FileSystemError) {
        if range.isEmpty { return }
        if case .available = IORing.availability {
            let r = caugur_fdatasync_range(fd, Int64(range.lowerBound), Int64(range.count))
            if r == 0 { return }
            if r < 0 { throw FileSystemError(.sync, path, Errno(rawValue: -r)) }
        }
        try sync()
    }

    func allocate(size: Int) throws(FileSystemError) {
        let r = Syscall.retrying { caugur_fallocate(fd, 0, Int64(size)) }
        switch r {
        case .success: return
        case .failure(let e) where e == .notSupported || e.rawValue == EOPNOTSUPP:
            // File systems without fallocate (tmpfs on old kernels): fall back to writing zeros
            // past the end so later stores through a mapping cannot fault.
            let current = try self.size()
            if current >= size { return }
            let zeros = [UInt8](repeating: 0, count: min(1 << 20, size - current))
            var at = current
            while at < size {
                let n = min(zeros.count, size - at)
                try zeros.withUnsafeBytes { b in
                    Result { () throws(FileSystemError) in try write(at: at, UnsafeRawBufferPointer(rebasing: b[0..<n])) }
                }.get()
                at += n
            }
        case .failure(let e): throw FileSystemError(.allocate, path, e)
        }
    }

    func truncate(size: Int) throws(FileSystemError) {
        if case .failure(let e) = Syscall.retrying({ ftruncate(fd, off_t(size)) }) {
            throw FileSystemError(.truncate, path, e)
        }
    }

    func mapReadOnly(length: Int) throws(FileSystemError) -> MappedRegion {
        try map(length: length, protection: PROT_READ)
    }

    func mapShared(length: Int) throws(FileSystemError) -> MappedRegion {
        try map(length: length, protection: PROT_READ | PROT_WRITE)
    }

    private func map(length: Int, protection: Int32) throws(FileSystemError) -> MappedRegion {
        precondition(length > 0, "Augur bug: empty mapping of \(path)")
        // Mapping past the end of the file is how SIGBUS happens: refuse it here.
        let fileSize = try size()
        if fileSize < length { throw FileSystemError(.map, path, .invalidArgument) }
        let r = Syscall.retryingPointer { mmap(nil, length, protection, MAP_SHARED, fd, 0) }
        switch r {
        case .success(let p):
            return MappedRegion(base: p, length: length, isFileMapping: true) { base, len in _ = munmap(base, len) }
        case .failure(let e): throw FileSystemError(.map, path, e)
        }
    }

    func close() {
        if !closed {
            closed = true
            _ = Glibc.close(fd)
        }
    }
}
