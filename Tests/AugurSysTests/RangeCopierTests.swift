// Tests of RangeCopier: every backend against an in-memory reference copy, fault injection on
// the fallback path, the io_uring error path on real failing requests, backend selection and
// input validation. Randomness is seeded; every message that depends on it names the seed.
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

// MARK: - tests

@Suite("RangeCopier")
struct RangeCopierTests {
    static let backends: [RangeCopier.Options.BackendChoice] = [.ioUring, .copyFileRange, .readWrite, .auto]

    @Test("random range lists match a reference copy", arguments: backends, [UInt64(1), 2, 3, 0xC0FFEE])
    func randomRanges(backend: RangeCopier.Options.BackendChoice, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed &* 7919)
        let chunk = [4096, 65_536 + 123, 1 << 20][Int(rng.next() % 3)]
        let depth = [1, 2, 4, 16][Int(rng.next() % 4)]
        let link = rng.next() % 2 == 0
        let direct = rng.next() % 4 != 0
        let writeBehind: Int? = rng.next() % 3 == 0 ? 64 << 10 : nil
        let directWrites = rng.next() % 2 == 0
        let byResidency = rng.next() % 2 == 0
        let dir = ScratchDirectory("random")
        let job = RandomJob(seed: seed, in: dir, chunk: chunk, depth: depth)
        let fs = PosixFileSystem()
        let (sources, targets, ranges) = try job.open(fs)
        defer { (sources + targets).forEach { $0.close() } }
        let context = "seed \(seed), backend \(backend), chunk \(chunk), depth \(depth), link \(link), direct \(direct), direct writes \(directWrites), cached chunks buffered \(byResidency), write-behind \(String(describing: writeBehind)), \(ranges.count) ranges, \(job.totalBytes) bytes"

        let progress = RangeCopier.Progress()
        var options = RangeCopier.Options(backend: backend, queueDepth: depth, chunkSize: chunk, linkReadToWrite: link,
                                          directReads: direct, directWrites: directWrites, writeBehind: writeBehind)
        options.readsCachedChunksBuffered = byResidency
        let report = try RangeCopier(fileSystem: fs, options: options).copy(ranges, progress: progress)

        if let forced = backend.expected { #expect(report.backend == forced, "\(context)") }
        #expect(report.bytesCopied == job.totalBytes, "\(context)")
        #expect(progress.bytesCopied == job.totalBytes && progress.totalBytes == job.totalBytes, "\(context)")
        #expect(report.targetsSynced == Set(job.ranges.map(\.3)).count, "\(context)")
        #expect(report.directoriesSynced == 1, "\(context)")
        for (t, path) in job.targetPaths.enumerated() {
            let actual = try fs.readFile(path)
            let diff = firstDifference(actual, job.expected[t])
            #expect(diff == nil, "\(context): \(path) differs from the reference at byte \(diff ?? -1) (sizes \(actual.count) vs \(job.expected[t].count))")
        }
    }

    @Test("io_uring with a submission queue smaller than the pipeline", arguments: [true, false])
    func fullSubmissionQueue(link: Bool) throws {
        let seed: UInt64 = 42
        let dir = ScratchDirectory("sqfull")
        let job = RandomJob(seed: seed, in: dir, chunk: 8192, depth: 8)
        let fs = PosixFileSystem()
        let (sources, targets, ranges) = try job.open(fs)
        defer { (sources + targets).forEach { $0.close() } }
        var options = RangeCopier.Options(backend: .ioUring, queueDepth: 8, chunkSize: 8192, linkReadToWrite: link)
        options.ringEntriesOverride = 2    // one linked pair at a time: the queue is always full
        let report = try RangeCopier(fileSystem: fs, options: options).copy(ranges)
        #expect(report.backend == .ioUring)
        for (t, path) in job.targetPaths.enumerated() {
            let diff = firstDifference(try fs.readFile(path), job.expected[t])
            #expect(diff == nil, "seed \(seed), link \(link): \(path) differs at byte \(diff ?? -1)")
        }
    }

    @Test("a copy within one file, source and target ranges apart", arguments: [RangeCopier.Options.BackendChoice.ioUring, .copyFileRange, .readWrite])
    func sameFile(backend: RangeCopier.Options.BackendChoice) throws {
        var rng = SplitMix64(seed: 7)
        let dir = ScratchDirectory("samefile")
        let fs = PosixFileSystem()
        let bytes = randomBytes(4 << 20, &rng)
        try writeFile(fs, dir.file("f"), bytes)
        let h = try fs.open(dir.file("f"), mode: .readWrite)
        defer { h.close() }
        let report = try RangeCopier(fileSystem: fs, options: .init(backend: backend, chunkSize: 1 << 16))
            .copy([CopyRange(source: h, sourceOffset: 1, length: (1 << 20) + 5, target: h, targetOffset: (2 << 20) + 3)])
        #expect(report.backend == backend.expected)
        var expected = bytes
        expected.replaceSubrange((2 << 20) + 3..<(3 << 20) + 8, with: bytes[1..<(1 << 20) + 6])
        let diff = firstDifference(try fs.readFile(dir.file("f")), expected)
        #expect(diff == nil, "seed 7, \(backend): differs at \(diff ?? -1)")
    }

    // MARK: short sources

    @Test("a range past the end of its source is rejected before anything is written", arguments: backends)
    func rangePastEnd(backend: RangeCopier.Options.BackendChoice) throws {
        var rng = SplitMix64(seed: 11)
        let dir = ScratchDirectory("pastend")
        let fs = PosixFileSystem()
        try writeFile(fs, dir.file("src"), randomBytes(100_000, &rng))
        let src = try fs.open(dir.file("src"), mode: .readOnly)
        let dst = try fs.open(dir.file("dst"), mode: .create)
        defer { src.close(); dst.close() }
        let ranges = [
            CopyRange(source: src, sourceOffset: 0, length: 10, target: dst, targetOffset: 0),
            CopyRange(source: src, sourceOffset: 99_000, length: 5_000, target: dst, targetOffset: 10),
        ]
        let error = copyError { () throws(RangeCopyError) in
            try RangeCopier(fileSystem: fs, options: .init(backend: backend)).copy(ranges)
        }
        #expect(error == .rangePastEndOfSource(index: 1, path: dir.file("src"), offset: 99_000, length: 5_000, fileSize: 100_000))
        #expect(error.map { "\($0)" }?.contains("file size 100000") == true)
        #expect(try dst.size() == 0, "nothing may be written when a range is invalid")
    }

    @Test("a source that ends early during the copy gives a typed error on every backend",
          arguments: [RangeCopier.Options.BackendChoice.ioUring, .copyFileRange, .readWrite], [true, false])
    func sourceEndsEarly(backend: RangeCopier.Options.BackendChoice, link: Bool) throws {
        try sourceEndsEarly(backend: backend, link: link, direct: true)
        if backend == .ioUring { try sourceEndsEarly(backend: backend, link: link, direct: false) }
    }

    func sourceEndsEarly(backend: RangeCopier.Options.BackendChoice, link: Bool, direct: Bool) throws {
        var rng = SplitMix64(seed: 12)
        let dir = ScratchDirectory("shrunk")
        let fs = PosixFileSystem()
        try writeFile(fs, dir.file("src"), randomBytes(300_000, &rng))
        let src = try fs.open(dir.file("src"), mode: .readOnly)
        let dst = try fs.open(dir.file("dst"), mode: .create)
        defer { src.close(); dst.close() }
        // The range claims 500 000 bytes; as if the file shrank after the size check, which is
        // skipped so the backends themselves meet the end of the file (a short read, then 0).
        var options = RangeCopier.Options(backend: backend, chunkSize: 1 << 20, linkReadToWrite: link, directReads: direct)
        options.checksSourceSizes = false
        options.readsCachedChunksBuffered = false   // the source was just written: read it direct
        let error = copyError { () throws(RangeCopyError) in
            try RangeCopier(fileSystem: fs, options: options)
                .copy([CopyRange(source: src, sourceOffset: 1000, length: 500_000, target: dst, targetOffset: 0)])
        }
        #expect(error == .unexpectedEndOfSource(index: 0, path: dir.file("src"), offset: 300_000, end: 501_000),
                "\(backend), link \(link), direct \(direct): \(String(describing: error))")
    }

    @Test("io_uring reads cached chunks through the page cache and the others direct")
    func readsByResidency() throws {
        var rng = SplitMix64(seed: 14)
        let dir = ScratchDirectory("residency")
        let fs = PosixFileSystem()
        let chunk = 256 << 10
        let bytes = randomBytes(16 * chunk, &rng)
        try writeFile(fs, dir.file("src"), bytes)
        let src = try fs.open(dir.file("src"), mode: .readOnly)
        defer { src.close() }
        guard let fd = src.descriptor else { Issue.record("no descriptor"); return }
        // Written and synced, so clean: DONTNEED drops its pages. Then the first half is read
        // back into the cache.
        try src.sync()
        #expect(posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED)) == 0)
        // No readahead on this descriptor, or reading the first half would cache the second.
        #expect(posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_RANDOM)) == 0)
        var half = [UInt8](repeating: 0, count: 8 * chunk)
        let got = try half.withUnsafeMutableBytes { try src.read(at: 0, into: $0) }
        #expect(got == half.count)

        for (name, byResidency) in [("dst-by-residency", true), ("dst-all-direct", false)] {
            let dst = try fs.open(dir.file(name), mode: .create)
            defer { dst.close() }
            var options = RangeCopier.Options(backend: .ioUring, queueDepth: 4, chunkSize: chunk, directReads: true)
            options.readsCachedChunksBuffered = byResidency
            let report = try RangeCopier(fileSystem: fs, options: options)
                .copy([CopyRange(source: src, sourceOffset: 0, length: bytes.count, target: dst, targetOffset: 0)])
            #expect(report.directReadChunks + report.cachedReadChunks == 16, "\(name): \(report)")
            if byResidency {
                // The second half's pages were dropped, and the direct reads keep them out.
                #expect(report.cachedReadChunks == 8 && report.directReadChunks == 8,
                        "\(name): \(report.cachedReadChunks) cached, \(report.directReadChunks) direct")
            } else {
                #expect(report.directReadChunks == 16, "\(name): \(report.directReadChunks) direct")
            }
            #expect(firstDifference(try fs.readFile(dir.file(name)), bytes) == nil, "\(name): copy differs")
        }
    }

    @Test("the page-cache residency probe counts cached pages of a range")
    func residencyProbe() throws {
        var rng = SplitMix64(seed: 15)
        let dir = ScratchDirectory("probe")
        let fs = PosixFileSystem()
        try writeFile(fs, dir.file("f"), randomBytes(64 * 4096, &rng))
        let h = try fs.open(dir.file("f"), mode: .readOnly)
        defer { h.close() }
        guard let fd = h.descriptor else { Issue.record("no descriptor"); return }
        try h.sync()
        #expect(posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_DONTNEED)) == 0)
        var pages: Int64 = 0
        #expect(caugur_cached_pages(fd, 0, 64 * 4096, &pages) == 0 && pages == 64)
        var buffer = [UInt8](repeating: 0, count: 4096)
        #expect(posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_RANDOM)) == 0)
        for page in [3, 10, 11] {
            _ = try buffer.withUnsafeMutableBytes { try h.read(at: page * 4096, into: $0) }
        }
        // Readahead is off for this descriptor, so exactly the pages read are cached; the count
        // covers only the range asked for (an unaligned start and end widen it to whole pages).
        let cached = caugur_cached_pages(fd, 3 * 4096 + 100, 8 * 4096, &pages)
        #expect(pages == 9, "pages \(pages)")
        #expect(cached == 3, "cached \(cached)")
        var mincorePages: Int64 = 0
        #expect(caugur_cached_pages_mincore(fd, 3 * 4096 + 100, 8 * 4096, &mincorePages) == 3 && mincorePages == 9,
                "the mincore fallback agrees with cachestat")
        #expect(caugur_cached_pages_mincore(fd, 0, 64 * 4096, &mincorePages) == 3)
        #expect(caugur_cached_pages(-1, 0, 4096, &pages) == -1, "a bad descriptor is an error, not a count")
    }

    @Test("short reads from a handle are continued")
    func shortReadsContinued() throws {
        var rng = SplitMix64(seed: 13)
        let dir = ScratchDirectory("shortreads")
        let fs = PosixFileSystem()
        let bytes = randomBytes(200_001, &rng)
        try writeFile(fs, dir.file("src"), bytes)
        let src = ShortReadingHandle(base: try fs.open(dir.file("src"), mode: .readOnly), limit: 777)
        let dst = try fs.open(dir.file("dst"), mode: .create)
        defer { src.close(); dst.close() }
        let report = try RangeCopier(fileSystem: fs)
            .copy([CopyRange(source: src, sourceOffset: 3, length: 199_990, target: dst, targetOffset: 5)])
        #expect(report.backend == .readWrite)
        #expect(src.reads.load(ordering: .relaxed) >= 199_990 / 777, "reads were not split")
        let diff = firstDifference(try fs.readFile(dir.file("dst")), [0, 0, 0, 0, 0] + bytes[3..<199_993])
        #expect(diff == nil, "seed 13: differs at \(diff ?? -1)")
    }


    // MARK: backend selection

    @Test(".auto chooses io_uring on this host")
    func autoChoosesIOUring() throws {
        let allowMissing = getenv("AUGUR_ALLOW_NO_IO_URING").map { String(cString: $0) } == "1"
        let reason = RangeCopier.ioUringUnavailableReason
        if allowMissing && reason != nil { return }
        #expect(reason == nil, "io_uring unavailable: \(reason ?? "") (set AUGUR_ALLOW_NO_IO_URING=1 on hosts without it)")
        let setup = try RangeCopierFaultTests.FaultSetup(seed: 41, exposingDescriptors: true)
        defer { setup.handles.forEach { $0.close() } }
        let report = try RangeCopier(fileSystem: PosixFileSystem()).copy(setup.ranges)
        #expect(report.backend == .ioUring && report.fallbackReason == nil, "\(report)")
        #expect(report.registeredBuffers != nil)
    }

    @Test("io_uring switched off selects copy_file_range")
    func disabledIOUringSelectsCopyFileRange() throws {
        let setup = try RangeCopierFaultTests.FaultSetup(seed: 42, exposingDescriptors: true)
        defer { setup.handles.forEach { $0.close() } }
        let report = try RangeCopier(fileSystem: setup.fs, options: .init(disableIoUring: true)).copy(setup.ranges)
        #expect(report.backend == .copyFileRange, "\(report)")
        #expect(report.fallbackReason?.contains("disabled") == true)
        let t2 = try PosixFileSystem().readFile(setup.dir.file("b/t2"))
        #expect(firstDifference(t2, Array(setup.expected[5..<(2 << 20) + 5])) == nil, "seed 42")
    }

    @Test("forcing pread/pwrite works and is reported")
    func forcedReadWrite() throws {
        let setup = try RangeCopierFaultTests.FaultSetup(seed: 43, exposingDescriptors: true)
        defer { setup.handles.forEach { $0.close() } }
        let report = try RangeCopier(fileSystem: setup.fs, options: .init(backend: .readWrite)).copy(setup.ranges)
        #expect(report.backend == .readWrite)
        #expect(setup.fs.calls(of: .write) > 0, "pread/pwrite must go through the FileHandle protocol")
        let t1 = try PosixFileSystem().readFile(setup.dir.file("a/t1"))
        #expect(firstDifference(t1, Array(setup.expected[0..<(2 << 20) + 17])) == nil, "seed 43")
    }

    @Test("forcing a descriptor backend on descriptor-less handles is a typed error",
          arguments: [RangeCopier.Options.BackendChoice.ioUring, .copyFileRange])
    func forcedWithoutDescriptors(backend: RangeCopier.Options.BackendChoice) throws {
        let setup = try RangeCopierFaultTests.FaultSetup(seed: 44)   // descriptors hidden
        defer { setup.handles.forEach { $0.close() } }
        let error = copyError { () throws(RangeCopyError) in
            try RangeCopier(fileSystem: setup.fs, options: .init(backend: backend)).copy(setup.ranges)
        }
        guard case .backendUnavailable(let b, let reason)? = error else {
            Issue.record("expected backendUnavailable, got \(String(describing: error))")
            return
        }
        #expect(b == backend.expected && reason.contains("no file descriptor"))
    }

    @Test("the io_uring probe honours the host switch and names the reason")
    func probe() throws {
        let dir = ScratchDirectory("probe")
        let fs = PosixFileSystem()
        try writeFile(fs, dir.file("disabled"), Array("2\n".utf8))
        guard case .unavailable(let reason) = IORing.probe(disabledSwitch: dir.file("disabled")) else {
            Issue.record("io_uring_disabled = 2 was not honoured")
            return
        }
        #expect(reason.contains("disabled") && reason.contains(dir.file("disabled")))
        #expect(IORing.describeSetupFailure(.noSuchFileOrDirectory, switchSetting: nil, path: "x").contains("io_uring_setup failed"))
        #expect(IORing.describeSetupFailure(Errno(rawValue: ENOSYS), switchSetting: nil, path: "x").contains("ENOSYS"))
        #expect(IORing.describeSetupFailure(.notPermitted, switchSetting: 1, path: "x").contains("io_uring_group"))
        #expect(IORing.describeSetupFailure(.notPermitted, switchSetting: 0, path: "x").contains("EPERM"))
        if RangeCopier.ioUringUnavailableReason == nil {
            try writeFile(fs, dir.file("enabled"), Array("0\n".utf8))
            #expect(IORing.probe(disabledSwitch: dir.file("enabled")) == .available)
        }
    }

    @Test("log messages are written once")
    func logOnce() {
        let seen = LogCapture()
        RangeCopier.setLogger(seen.logger(label: RangeCopier.loggerLabel))
        defer { RangeCopier.setLogger(LogCapture.silent) }
        let message = "test message \(UInt64.random(in: 0...UInt64.max))"
        RangeCopier.logOnce(message)
        RangeCopier.logOnce(message)
        #expect(seen.all.filter { $0.message == message && $0.label == "augur.copy" && $0.level == .notice }.count == 1)
    }

    // MARK: bad input

    @Test("bad input is a typed error, never a crash")
    func badInput() throws {
        var rng = SplitMix64(seed: 51)
        let dir = ScratchDirectory("badinput")
        let fs = PosixFileSystem()
        try writeFile(fs, dir.file("src"), randomBytes(10_000, &rng))
        let src = try fs.open(dir.file("src"), mode: .readOnly)
        let dst = try fs.open(dir.file("dst"), mode: .create)
        let readOnlyTarget = try fs.open(dir.file("src"), mode: .readOnly)
        defer { src.close(); dst.close(); readOnlyTarget.close() }
        let copier = RangeCopier(fileSystem: fs)
        func run(_ ranges: [CopyRange], _ options: RangeCopier.Options = .init()) -> RangeCopyError? {
            copyError { () throws(RangeCopyError) in try RangeCopier(fileSystem: fs, options: options).copy(ranges) }
        }
        #expect(run([CopyRange(source: src, sourceOffset: -1, length: 5, target: dst, targetOffset: 0)])
                .map { if case .invalidRange(0, _) = $0 { true } else { false } } == true)
        #expect(run([CopyRange(source: src, sourceOffset: 0, length: -5, target: dst, targetOffset: 0)])
                .map { if case .invalidRange(0, _) = $0 { true } else { false } } == true)
        #expect(run([CopyRange(source: src, sourceOffset: 1, length: Int.max, target: dst, targetOffset: 0)])
                .map { if case .invalidRange(0, _) = $0 { true } else { false } } == true)
        #expect(run([CopyRange(source: src, sourceOffset: 0, length: 5, target: dst, targetOffset: 0),
                     CopyRange(source: src, sourceOffset: 100, length: 5, target: dst, targetOffset: 4)])
                == .overlappingRanges(path: dir.file("dst"), first: 0, second: 1))
        // One file through two handles is one file: overlaps are found by inode, not handle.
        let again = try fs.open(dir.file("dst"), mode: .readWrite)
        defer { again.close() }
        try dst.write(at: 0, [UInt8](repeating: 1, count: 100))
        #expect(run([CopyRange(source: src, sourceOffset: 0, length: 50, target: dst, targetOffset: 0),
                     CopyRange(source: src, sourceOffset: 0, length: 5, target: again, targetOffset: 1000)]) == nil)
        #expect(run([CopyRange(source: src, sourceOffset: 0, length: 50, target: dst, targetOffset: 0),
                     CopyRange(source: src, sourceOffset: 0, length: 5, target: again, targetOffset: 40)])
                == .overlappingRanges(path: dir.file("dst"), first: 0, second: 1))
        // Reading bytes another range writes.
        #expect(run([CopyRange(source: src, sourceOffset: 0, length: 50, target: dst, targetOffset: 0),
                     CopyRange(source: again, sourceOffset: 10, length: 5, target: dst, targetOffset: 1000)])
                == .overlappingRanges(path: dir.file("dst"), first: 0, second: 1))
        if case .invalidRange(0, let reason)? = run([CopyRange(source: src, sourceOffset: 0, length: 5, target: readOnlyTarget, targetOffset: 0)]) {
            #expect(reason.contains("not open for writing"))
        } else {
            Issue.record("a read-only target was not rejected")
        }
        #expect(run([], .init(queueDepth: 0)).map { if case .invalidOptions = $0 { true } else { false } } == true)
        #expect(run([], .init(chunkSize: 1)).map { if case .invalidOptions = $0 { true } else { false } } == true)
        // Nothing to do is not an error.
        let empty = try copier.copy([])
        #expect(empty.bytesCopied == 0 && empty.targetsSynced == 0)
        let zero = try copier.copy([CopyRange(source: src, sourceOffset: 10_000, length: 0, target: dst, targetOffset: 7)])
        #expect(zero.bytesCopied == 0 && zero.targetsSynced == 1)
    }
}
