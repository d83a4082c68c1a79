@_spi(Testing) import AugurSys
import AugurTestSupport
import Dispatch
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `OutputFile` writes the path as given (issue 15, F5): regular files are replaced atomically,
/// symlinks and FIFOs are written in place and stay what they were, directories are refused.
@Suite struct OutputFileTests {
    func contents(_ path: String) throws -> String {
        let fs = PosixFileSystem()
        let h = try fs.open(path, mode: .readOnly)
        defer { h.close() }
        return String(decoding: try h.read(at: 0, count: try h.size()), as: UTF8.self)
    }

    func fileType(_ path: String) -> mode_t {
        var st = stat()
        #expect(lstat(path, &st) == 0, "lstat \(path)")
        return st.st_mode & S_IFMT
    }

    @Test func regularAndMissingFilesAreReplacedWhole() throws {
        let dir = TemporaryDirectory()
        let path = dir.child("out.csv")
        try OutputFile.write("first\n", to: path)
        #expect(try contents(path) == "first\n")
        try OutputFile.write("second\n", to: path)
        #expect(try contents(path) == "second\n")
        #expect(fileType(path) == S_IFREG)
        #expect(try PosixFileSystem().listDirectory(dir.path) == ["out.csv"], "no temporary left behind")
    }

    @Test func symlinkStaysALinkAndItsTargetIsWritten() throws {
        let dir = TemporaryDirectory()
        let target = dir.child("target"), link = dir.child("link")
        try OutputFile.write("old\n", to: target)
        #expect(symlink("target", link) == 0)
        try OutputFile.write("new\n", to: link)
        #expect(fileType(link) == S_IFLNK, "the symlink must not be replaced by a regular file")
        #expect(try contents(target) == "new\n")

        let dangling = dir.child("dangling")
        #expect(symlink("created-through-link", dangling) == 0)
        try OutputFile.write("x", to: dangling)
        #expect(fileType(dangling) == S_IFLNK)
        #expect(try contents(dir.child("created-through-link")) == "x")
    }

    @Test func fifoIsWrittenInPlace() throws {
        let dir = TemporaryDirectory()
        let fifo = dir.child("pipe")
        #expect(mkfifo(fifo, 0o600) == 0)
        // The reader opens the FIFO on another thread; the writer's open blocks until it does.
        let reader = Background { () -> [UInt8] in
            let fd = open(fifo, O_RDONLY)
            precondition(fd >= 0)
            defer { close(fd) }
            var out: [UInt8] = [], buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fd, &buf, buf.count)
                if n <= 0 { return out }
                out += buf[..<n]
            }
        }
        try OutputFile.write("through the pipe\n", to: fifo)
        #expect(String(decoding: reader.join(), as: UTF8.self) == "through the pipe\n")
        #expect(fileType(fifo) == S_IFIFO, "the FIFO must not be replaced by a regular file")
    }

    @Test func directoryIsRefusedAndLeftAlone() throws {
        let dir = TemporaryDirectory()
        let sub = dir.child("sub")
        try PosixFileSystem().createDirectory(sub)
        #expect(throws: OutputFileError.refused(path: sub, kind: "a directory")) { try OutputFile.write("x", to: sub) }
        #expect(fileType(sub) == S_IFDIR)
        #expect(OutputFileError.refused(path: sub, kind: "a directory").description == "\(sub) is a directory; refusing to write over it")
    }

    @Test func unwritableDirectoryIsATypedError() throws {
        let dir = TemporaryDirectory()
        let path = dir.child("missing-dir") + "/out.csv"
        #expect {
            try OutputFile.write("x", to: path)
        } throws: { error in
            guard case .failed(let e) = error as? OutputFileError else { return false }
            return e.errno == .noSuchFileOrDirectory
        }
    }

    @Test func replaceFileKeepsTheOldContentsWhenTheWriteFails() throws {
        let dir = TemporaryDirectory()
        let path = dir.child("f")
        let fs = FaultInjectingFileSystem(wrapping: PosixFileSystem())
        try fs.replaceFile(at: path, with: Array("old".utf8), temporary: path + ".tmp")
        fs.add(FaultRule(.write, errno: .noSpace))
        #expect(throws: FileSystemError.self) { try fs.replaceFile(at: path, with: Array("new".utf8), temporary: path + ".tmp") }
        #expect(try contents(path) == "old")
        #expect(try PosixFileSystem().listDirectory(dir.path) == ["f"], "the temporary is removed after a failure")
    }
}

/// Work on another thread whose result is awaited (the FIFO test needs a reader that blocks
/// in open(2) while this thread writes). `value` is written before `leave()` and read after
/// `wait()`, which orders the two.
final class Background<T: Sendable>: @unchecked Sendable {
    private var value: T?
    private let group = DispatchGroup()

    init(_ body: @escaping @Sendable () -> T) {
        group.enter()
        DispatchQueue.global().async {
            self.value = body()
            self.group.leave()
        }
    }

    func join() -> T {
        group.wait()
        return value!
    }
}

/// Standard-stream writes never trap (issue 15, F8): a full or closed stream loses the text.
@Suite struct StandardStreamTests {
    @Test func failedWritesAreCountedNotFatal() throws {
        let before = StandardStream.failedWrites
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        close(fds[0]); close(fds[1])
        #expect(StandardStream.write("lost\n", to: fds[1]) == false, "EBADF: the descriptor is closed")
        let full = open("/dev/full", O_WRONLY)
        #expect(full >= 0)
        defer { close(full) }
        #expect(StandardStream.write("lost\n", to: full) == false, "ENOSPC")
        #expect(StandardStream.failedWrites == before + 2)
    }

    @Test func processLiveness() throws {
        #expect(ProcessLifetime.isAlive(ProcessLifetime.currentID))
        #expect(!ProcessLifetime.isAlive(0) && !ProcessLifetime.isAlive(-1))
    }
}
