import AugurSys
import AugurTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `PosixFileSystem.open` refuses a FIFO at once: one in a store file's place made open(2) wait
/// for a writer forever (an outside check hung `augur info` and `augur recover` with a FIFO for
/// CURRENT, a manifest or a segment).
@Suite struct PosixFileSystemTests {
    @Test func aFIFOIsRefusedAtOnce() throws {
        let dir = TemporaryDirectory()
        let fifo = dir.child("CURRENT")
        #expect(mkfifo(fifo, 0o644) == 0)
        let fs = PosixFileSystem()
        for mode in [OpenMode.readOnly, .readWrite, .create] {
            // Without the check this call never returns (no writer ever opens the FIFO).
            #expect(throws: FileSystemError(.open, fifo, .noSuchAddressOrDevice)) { try fs.open(fifo, mode: mode) }
        }
        let file = dir.child("MANIFEST-000001")
        let h = try fs.open(file, mode: .createNew)
        try h.write(at: 0, Array("x".utf8))
        h.close()
        let again = try fs.open(file, mode: .readWrite)
        defer { again.close() }
        #expect(try again.read(at: 0, count: 1) == Array("x".utf8), "a regular file opens, blocking again")
    }
}
