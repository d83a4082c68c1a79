// RangeCopier under failure: faults injected through the FileSystem seam on the fallback path,
// and real failing io_uring requests. Split from RangeCopierTests.swift (issue 17).
import Testing
import Synchronization
@testable @_spi(Testing) import AugurSys
import AugurTestSupport
import CAugurSys

import AugurStats
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@Suite("RangeCopier faults")
struct RangeCopierFaultTests {
    static let backends = RangeCopierTests.backends

    // MARK: faults through the FileSystem seam

    /// Sources and two targets in two directories, opened through a fault-injecting wrapper.
    struct FaultSetup {
        let dir = ScratchDirectory("faults")
        let fs: FaultInjectingFileSystem
        let ranges: [CopyRange]
        let handles: [any FileHandle]
        let expected: [UInt8]

        init(seed: UInt64, exposingDescriptors: Bool = false) throws {
            var rng = SplitMix64(seed: seed)
            let posix = PosixFileSystem()
            try posix.createDirectory(dir.file("a"))
            try posix.createDirectory(dir.file("b"))
            let bytes = randomBytes(3 << 20, &rng)
            try writeFile(posix, dir.file("src"), bytes)
            fs = FaultInjectingFileSystem(wrapping: posix, exposingDescriptors: exposingDescriptors)
            let src = try fs.open(dir.file("src"), mode: .readOnly)
            let t1 = try fs.open(dir.file("a/t1"), mode: .create)
            let t2 = try fs.open(dir.file("b/t2"), mode: .create)
            handles = [src, t1, t2]
            ranges = [
                CopyRange(source: src, sourceOffset: 0, length: 1 << 20, target: t1, targetOffset: 0),
                CopyRange(source: src, sourceOffset: 1 << 20, length: (1 << 20) + 17, target: t1, targetOffset: 1 << 20),
                CopyRange(source: src, sourceOffset: 5, length: 2 << 20, target: t2, targetOffset: 0),
            ]
            expected = bytes
        }
    }

    @Test("write faults injected on the target surface as typed errors", arguments: [Errno.ioError, .noSpace])
    func writeFault(errno: Errno) throws {
        let setup = try FaultSetup(seed: 21)
        defer { setup.handles.forEach { $0.close() } }
        setup.fs.add(FaultRule(.write, path: "*/b/t2", nth: 2, errno: errno, persistent: errno == .noSpace))
        let error = copyError { () throws(RangeCopyError) in
            try RangeCopier(fileSystem: setup.fs, options: .init(chunkSize: 256 << 10)).copy(setup.ranges)
        }
        #expect(error == .io(FileSystemError(.write, setup.dir.file("b/t2"), errno)), "\(String(describing: error))")
        if case .io(let e)? = error { #expect(e.isDiskFull == (errno == .noSpace)) }
        #expect(setup.fs.calls(of: .sync) == 0, "a failed copy must not go on to sync")
    }

    @Test("read faults injected on the source surface as typed errors")
    func readFault() throws {
        let setup = try FaultSetup(seed: 22)
        defer { setup.handles.forEach { $0.close() } }
        setup.fs.add(FaultRule(.read, path: "*/src", nth: 3, errno: .ioError))
        let error = copyError { () throws(RangeCopyError) in
            try RangeCopier(fileSystem: setup.fs, options: .init(chunkSize: 256 << 10)).copy(setup.ranges)
        }
        #expect(error == .io(FileSystemError(.read, setup.dir.file("src"), .ioError)))
    }

    @Test("sync and directory sync faults surface as typed errors",
          arguments: [(FileOperation.sync, "*/a/t1"), (.sync, "*/b/t2"), (.syncDirectory, "*/b")])
    func syncFault(operation: FileOperation, pattern: String) throws {
        let setup = try FaultSetup(seed: 23)
        defer { setup.handles.forEach { $0.close() } }
        setup.fs.add(FaultRule(operation, path: pattern, errno: .ioError))
        let error = copyError { () throws(RangeCopyError) in
            try RangeCopier(fileSystem: setup.fs).copy(setup.ranges)
        }
        let path = setup.dir.file(String(pattern.dropFirst(2)))
        #expect(error == .io(FileSystemError(operation, path, .ioError)), "\(String(describing: error))")
    }

    @Test("targets and their directories are synced once each, on every backend",
          arguments: [RangeCopier.Options.BackendChoice.auto, .ioUring, .copyFileRange, .readWrite])
    func syncsCounted(backend: RangeCopier.Options.BackendChoice) throws {
        // With descriptors exposed, io_uring and copy_file_range run and the syncs still go
        // through the fault-injecting seam, where they are counted.
        let setup = try FaultSetup(seed: 24, exposingDescriptors: backend != .readWrite)
        defer { setup.handles.forEach { $0.close() } }
        let report = try RangeCopier(fileSystem: setup.fs, options: .init(backend: backend)).copy(setup.ranges)
        if let forced = backend.expected { #expect(report.backend == forced) }
        #expect(setup.fs.calls(of: .sync) == 2, "\(backend): \(setup.fs.calls(of: .sync)) syncs")
        #expect(setup.fs.calls(of: .syncDirectory) == 2, "\(backend): \(setup.fs.calls(of: .syncDirectory)) directory syncs")
        #expect(report.targetsSynced == 2 && report.directoriesSynced == 2)
        let t1 = try PosixFileSystem().readFile(setup.dir.file("a/t1"))
        let t2 = try PosixFileSystem().readFile(setup.dir.file("b/t2"))
        #expect(firstDifference(t1, Array(setup.expected[0..<(2 << 20) + 17])) == nil, "seed 24, \(backend)")
        #expect(firstDifference(t2, Array(setup.expected[5..<(2 << 20) + 5])) == nil, "seed 24, \(backend)")
    }

    @Test("without syncTargets nothing is synced")
    func noSync() throws {
        let setup = try FaultSetup(seed: 25)
        defer { setup.handles.forEach { $0.close() } }
        let report = try RangeCopier(fileSystem: setup.fs, options: .init(syncTargets: false)).copy(setup.ranges)
        #expect(setup.fs.calls(of: .sync) == 0 && setup.fs.calls(of: .syncDirectory) == 0)
        #expect(report.targetsSynced == 0)
    }

    @Test("copies through the crash-simulating file system are durable after the sync", arguments: [true, false])
    func crashSimulation(sync: Bool) throws {
        var rng = SplitMix64(seed: 26)
        let fs = CrashSimulatingFileSystem()
        try fs.createDirectory("/db")
        try fs.syncDirectory("/")
        let bytes = randomBytes(1_500_000, &rng)
        try writeFile(fs, "/db/src", bytes)
        try fs.open("/db/src", mode: .readOnly).sync()
        try fs.syncDirectory("/db")
        let src = try fs.open("/db/src", mode: .readOnly)
        let dst = try fs.open("/db/dst", mode: .createNew)
        let report = try RangeCopier(fileSystem: fs, options: .init(chunkSize: 100_000, syncTargets: sync))
            .copy([CopyRange(source: src, sourceOffset: 10, length: 1_400_000, target: dst, targetOffset: 0)])
        #expect(report.backend == .readWrite)
        #expect(report.fallbackReason?.contains("no file descriptor") == true)
        let after = fs.crashClone()
        if sync {
            #expect(try after.readFile("/db/dst") == Array(bytes[10..<1_400_010]), "seed 26: synced copy lost")
        } else {
            #expect(!after.fileExists("/db/dst"), "unsynced copy survived a crash")
        }
    }

    // MARK: io_uring request failures

    @Test("a failing io_uring write names the operation and the file", arguments: [true, false])
    func ioUringWriteFailure(link: Bool) throws {
        // Writes to /dev/full fail with ENOSPC: a real failing CQE.
        var rng = SplitMix64(seed: 31)
        let dir = ScratchDirectory("devfull")
        let fs = PosixFileSystem()
        try writeFile(fs, dir.file("src"), randomBytes(5 << 20, &rng))
        let src = try fs.open(dir.file("src"), mode: .readOnly)
        let full = try fs.open("/dev/full", mode: .readWrite)
        defer { src.close(); full.close() }
        let ranges = (0..<5).map { CopyRange(source: src, sourceOffset: $0 << 20, length: 1 << 20, target: full, targetOffset: $0 << 20) }
        let error = copyError { () throws(RangeCopyError) in
            try RangeCopier(fileSystem: fs, options: .init(backend: .ioUring, queueDepth: 4, linkReadToWrite: link)).copy(ranges)
        }
        #expect(error == .io(FileSystemError(.write, "/dev/full", .noSpace)), "link \(link): \(String(describing: error))")
        // And the same through pread/pwrite.
        let viaReadWrite = copyError { () throws(RangeCopyError) in
            try RangeCopier(fileSystem: fs, options: .init(backend: .readWrite)).copy(ranges)
        }
        #expect(viaReadWrite == .io(FileSystemError(.write, "/dev/full", .noSpace)))
    }

    @Test("a failing io_uring read names the operation and the file")
    func ioUringReadFailure() throws {
        // A directory opened read-only has a descriptor and a size, but reading it fails (EISDIR).
        let dir = ScratchDirectory("readdir")
        let fs = PosixFileSystem()
        let src = try fs.open(dir.path, mode: .readOnly)
        let dst = try fs.open(dir.file("dst"), mode: .create)
        defer { src.close(); dst.close() }
        let size = try src.size()
        try #require(size > 0, "directory size is \(size) on this file system")
        let error = copyError { () throws(RangeCopyError) in
            try RangeCopier(fileSystem: fs, options: .init(backend: .ioUring))
                .copy([CopyRange(source: src, sourceOffset: 0, length: size, target: dst, targetOffset: 0)])
        }
        #expect(error == .io(FileSystemError(.read, dir.path, .isDirectory)), "\(String(describing: error))")
    }
}
