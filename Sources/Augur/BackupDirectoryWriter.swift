// Writing a whole store directory that must appear complete or not at all: a checkpoint
// (`Engine.checkpoint(to:)`) and a restore (`Backup.restore`). Everything is written into
// `<target>.augur-partial`, each file synced, then the directories, then one rename makes
// `<target>` appear and a sync of its parent makes the rename durable. A crash before the
// rename leaves no `<target>` (the next attempt at the same target clears the partial
// directory: its name is Augur's); after it, a complete one.
import AugurSys
#if canImport(Glibc)
import Glibc
#endif

/// Thread-safety: one thread at a time (a value owned by the call writing the directory).
struct BackupDirectoryWriter {
    static let partialSuffix = ".augur-partial"
    static let copyChunk = 1 << 20
    /// Bytes a copy writes between two fdatasyncs of the file.
    static let syncEvery = 8 << 20

    let fileSystem: any FileSystem
    /// The directory to create.
    let target: String
    /// Where the files are written until the rename.
    var partial: String { target + Self.partialSuffix }
    /// What was written, for the catalog.
    private(set) var entries: [BackupCatalog.Entry] = []
    private(set) var bytesWritten: Int64 = 0

    /// Checks `target` (`option` names it in errors: it is new, and its parent is a directory)
    /// and creates the partial directory with `seg/` and `wal/`, clearing an earlier attempt's.
    init(fileSystem: any FileSystem, target: String, option: String, source: String) throws(AugurError) {
        self.fileSystem = fileSystem
        var trimmed = target
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.target = trimmed
        guard !trimmed.isEmpty, trimmed != "/", !trimmed.contains("\0") else {
            throw .invalidOption(name: option, value: target, reason: "not a path a directory can be created at")
        }
        if fileSystem.fileExists(trimmed) || fileSystem.isDirectory(trimmed) {
            throw .invalidOption(name: option, value: target, reason: "already exists; it is written only to a new path, never over existing files")
        }
        let parent = parentDirectory(trimmed)
        guard fileSystem.isDirectory(parent) else {
            throw .invalidOption(name: option, value: target, reason: "its parent directory \(parent) does not exist")
        }
        // Not inside the directory it copies: a backup inside its store (or a restore inside
        // its backup) became a foreign directory in it, and a restore of it copies itself.
        if Self.path(trimmed, isWithin: source) {
            throw .invalidOption(name: option, value: target, reason: "it is inside \(source), the directory it copies")
        }
        try clearPartial()
        let partial = self.partial
        try io { () throws(FileSystemError) in
            try fileSystem.createDirectory(partial)
            try fileSystem.createDirectory(joinPath(partial, "seg"))
            try fileSystem.createDirectory(joinPath(partial, "wal"))
        }
    }

    /// Whether `path` (which need not exist; its parent does) is `directory` or below it. Both
    /// are resolved with realpath(3) where they exist on the real file system (links, `..`),
    /// else compared as written, made absolute from the working directory.
    static func path(_ path: String, isWithin directory: String) -> Bool {
        func absolute(_ p: String) -> String {
            if p.hasPrefix("/") { return p }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            guard getcwd(&buffer, buffer.count) != nil else { return p }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + p
        }
        func resolved(_ p: String) -> String {
            guard let r = realpath(p, nil) else { return absolute(p) }
            defer { free(r) }
            return String(cString: r)
        }
        func normalized(_ p: String) -> String {
            var parts: [Substring] = []
            for c in p.split(separator: "/") where c != "." {
                if c == ".." { if !parts.isEmpty { parts.removeLast() } } else { parts.append(c) }
            }
            return "/" + parts.joined(separator: "/")
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        let candidate = normalized(resolved(parentDirectory(path)) + "/" + name)
        let root = normalized(resolved(directory))
        return candidate == root || candidate.hasPrefix(root == "/" ? "/" : root + "/")
    }

    /// Removes an interrupted attempt's partial directory. Only the layout Augur writes there
    /// (files at the top, files in `seg/`, `wal/` and `lost/`): anything else means the
    /// directory is not ours, and it is left alone with an error.
    func clearPartial() throws(AugurError) {
        let fs = fileSystem, partial = self.partial
        guard fs.isDirectory(partial) else {
            if fs.fileExists(partial) {
                throw .invalidOption(name: "target", value: target, reason: "\(partial) exists and is not a directory Augur left")
            }
            return
        }
        try io { () throws(FileSystemError) in
            for name in try fs.listDirectory(partial) {
                let path = joinPath(partial, name)
                if fs.isDirectory(path) {
                    guard ["seg", "wal", Recovery.lostDirectoryName].contains(name) else {
                        throw FileSystemError(.remove, path, .isDirectory)
                    }
                    for inner in try fs.listDirectory(path) { try fs.remove(joinPath(path, inner)) }
                    try fs.removeDirectory(path)
                } else {
                    try fs.remove(path)
                }
            }
            try fs.removeDirectory(partial)
            try fs.syncDirectory(parentDirectory(partial))
        }
    }

    /// Copies `length` bytes of `source` into `relativePath`, extends the copy with zeros to
    /// `fileSize`, syncs it, and returns its CRC32C (zeros included) and size. When `expected`
    /// is given (a restore), a mismatch is corruption of `sourcePath`.
    mutating func copy(from source: any FileHandle, sourcePath: String, length: Int, fileSize: Int, to relativePath: String,
                       expected: BackupCatalog.Entry? = nil) throws(AugurError) {
        let path = joinPath(partial, relativePath)
        let fs = fileSystem
        let crc = try io { () throws(FileSystemError) -> UInt32 in
            let out = try fs.open(path, mode: .createNew)
            defer { out.close() }
            var crc: UInt32 = 0
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.copyChunk, alignment: 4096)
            defer { buffer.deallocate() }
            var at = 0
            while at < length {
                let want = min(Self.copyChunk, length - at)
                let got = try source.read(at: at, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
                if got == 0 { throw FileSystemError(.read, sourcePath, .ioError) }
                let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<got])
                crc = CRC32C.checksum(chunk, continuing: crc)
                try out.write(at: at, chunk)
                at += got
                // Bounded dirty pages, as RocksDB's bytes_per_sync: left to the kernel, a copy of
                // hundreds of MiB dirties the page cache until it throttles every writer of the
                // machine — the store's own foreground among them (puts stalled for up to 1.2 s
                // while a 512 MiB checkpoint ran, docs/PERFORMANCE.md).
                if at % Self.syncEvery == 0 { try out.sync() }
            }
            if fileSize > length {
                // The zeros count in the checksum as they will read back; the file stays sparse.
                buffer.initializeMemory(as: UInt8.self, repeating: 0)
                var zeros = fileSize - length
                while zeros > 0 {
                    let n = min(zeros, Self.copyChunk)
                    crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), continuing: crc)
                    zeros -= n
                }
                try out.truncate(size: fileSize)
            }
            try out.sync()
            return crc
        }
        if let expected, expected.crc != crc || expected.size != fileSize {
            throw .corruption(file: sourcePath, offset: 0,
                              reason: "the backup catalog says \(expected.size) bytes with crc32c \(CRC32C.hex(expected.crc)); the file has \(fileSize) bytes with crc32c \(CRC32C.hex(crc))")
        }
        entries.append(BackupCatalog.Entry(path: relativePath, size: fileSize, crc: crc))
        bytesWritten += Int64(length)
    }

    /// Makes `relativePath` a hard link to `sourcePath` (an immutable file, open as `handle`)
    /// and catalogues it with a checksum read through `handle`. Returns false, having changed
    /// nothing, when the link cannot be made (another file system, a file unlinked since it was
    /// opened, links not supported): the caller copies instead.
    mutating func link(_ sourcePath: String, handle: any FileHandle, size: Int, to relativePath: String) throws(AugurError) -> Bool {
        let fs = fileSystem
        do throws(FileSystemError) { try fs.hardLink(sourcePath, at: joinPath(partial, relativePath)) } catch { return false }
        let crc = try io { () throws(FileSystemError) in try Self.checksum(of: handle, size: size, path: sourcePath) }
        entries.append(BackupCatalog.Entry(path: relativePath, size: size, crc: crc))
        return true
    }

    /// CRC-32C of the first `size` bytes of `handle` (a file shorter than that is an I/O error
    /// naming `path`).
    static func checksum(of handle: any FileHandle, size: Int, path: String) throws(FileSystemError) -> UInt32 {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: copyChunk, alignment: 4096)
        defer { buffer.deallocate() }
        var crc: UInt32 = 0, at = 0
        while at < size {
            let got = try handle.read(at: at, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(buffer.count, size - at)]))
            if got == 0 { throw FileSystemError(.read, path, .ioError) }
            crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<got]), continuing: crc)
            at += got
        }
        return crc
    }

    /// Writes a small file whole and syncs it.
    mutating func write(_ bytes: [UInt8], to relativePath: String, catalogued: Bool = true) throws(AugurError) {
        let path = joinPath(partial, relativePath)
        let fs = fileSystem
        try io { () throws(FileSystemError) in
            let out = try fs.open(path, mode: .createNew)
            defer { out.close() }
            try out.write(at: 0, bytes)
            try out.sync()
        }
        if catalogued { entries.append(BackupCatalog.Entry(path: relativePath, size: bytes.count, crc: CRC32C.checksum(bytes))) }
        bytesWritten += Int64(bytes.count)
    }

    /// Syncs the directories, renames the partial directory to the target and syncs the parent:
    /// from here on the target exists, complete.
    func publish() throws(AugurError) {
        let fs = fileSystem, partial = self.partial, target = self.target
        try io { () throws(FileSystemError) in
            try fs.syncDirectory(joinPath(partial, "seg"))
            try fs.syncDirectory(joinPath(partial, "wal"))
            try fs.syncDirectory(partial)
            try fs.rename(partial, to: target)
            try fs.syncDirectory(parentDirectory(target))
        }
    }

    /// After a failure: removes what was written (best effort; a crash leaves it for the next
    /// attempt's `clearPartial`).
    func abandon() { try? clearPartial() }
}
