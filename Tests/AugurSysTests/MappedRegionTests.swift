import AugurSys
import AugurTestSupport
import Dispatch
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `MappedRegion.prefault` (issue 19): the WAL brings a fresh segment's pages into memory ahead
/// of its writers, so no writer takes the multi-millisecond first-touch fault of a fallocated
/// page. It must bring every page in and change no byte, also while the region is written.
@Suite struct MappedRegionTests {
    static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// How many pages of `region` are in memory (mincore).
    func residentPages(_ region: MappedRegion) -> Int {
        var vector = [UInt8](repeating: 0, count: (region.length + Self.page - 1) / Self.page)
        #expect(mincore(region.base, region.length, &vector) == 0, "mincore: errno \(errno)")
        return vector.filter { $0 & 1 != 0 }.count
    }

    /// Byte `i` of the pattern written at `offset`.
    static func pattern(_ offset: Int, _ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: (offset >> 12) &* 31 &+ i &* 7 &+ 1) }

    /// A fresh fallocated file starts out of memory and is all in after a prefault.
    /// TemporaryDirectory is under /tmp, on the disk file system here (on tmpfs fallocate itself
    /// would bring the pages in, and the first expectation says so).
    @Test func prefaultBringsAFreshFileIntoMemory() throws {
        let dir = TemporaryDirectory()
        let size = 8 << 20
        let pages = size / Self.page
        let file = try MappedFile(fileSystem: PosixFileSystem(), path: dir.child("000000000001.wal"), capacity: size, create: true)
        defer { file.close() }
        let before = residentPages(file.region)
        #expect(before < pages / 2, "\(before) of \(pages) pages resident before the prefault")
        #expect(file.region.prefault(offset: 0, length: size))
        #expect(residentPages(file.region) == pages)
    }

    /// Populating changes no byte, also while another thread stores into the region (writers
    /// may already fill a segment that is being prefaulted).
    @Test func prefaultChangesNoByteWhileTheRegionIsWritten() throws {
        let dir = TemporaryDirectory()
        let size = 8 << 20
        let file = try MappedFile(fileSystem: PosixFileSystem(), path: dir.child("000000000001.wal"), capacity: size, create: true)
        defer { file.close() }
        // Bytes already written, as a segment's header is when the log prefaults it.
        let written = [0, 5 << 20, size - 64]
        for offset in written {
            for i in 0..<64 { file.base.storeBytes(of: Self.pattern(offset, i), toByteOffset: offset + i, as: UInt8.self) }
        }
        let writer = DispatchGroup()
        DispatchQueue.global().async(group: writer) {
            for offset in stride(from: 6 << 20, to: 7 << 20, by: Self.page) {
                for i in 0..<64 { file.base.storeBytes(of: Self.pattern(offset, i), toByteOffset: offset + i, as: UInt8.self) }
            }
        }
        #expect(file.region.prefault(offset: 0, length: size / 2, writable: true))
        #expect(file.region.prefault(offset: size / 2, length: size / 2))
        writer.wait()

        let stored = Set(written + Array(stride(from: 6 << 20, to: 7 << 20, by: Self.page)))
        var wrong: [Int] = []
        for offset in stride(from: 0, to: size, by: 64) {
            for i in 0..<64 {
                let expected: UInt8 = stored.contains(offset) ? Self.pattern(offset, i) : 0
                if file.base.load(fromByteOffset: offset + i, as: UInt8.self) != expected { wrong.append(offset + i); break }
            }
            if wrong.count >= 5 { break }
        }
        #expect(wrong.isEmpty, "bytes changed at \(wrong)")
    }

    /// Minor page faults this thread took while running `body`.
    func faults(_ body: () -> Void) -> Int {
        var before = rusage(), after = rusage()
        let thread = __rusage_who_t(1)   // RUSAGE_THREAD, which Glibc's module hides (_GNU_SOURCE)
        getrusage(thread, &before)
        body()
        getrusage(thread, &after)
        return after.ru_minflt - before.ru_minflt
    }

    /// A writable prefault leaves the pages mapped writable, so the writers' first stores take
    /// no fault (on ext4 such a fault updates the mtime in a journal handle, which waits for a
    /// commit in progress); a readable one leaves a small fault per page for the first store.
    @Test func aWritablePrefaultLeavesNoFaultForTheFirstStores() throws {
        let dir = TemporaryDirectory()
        let size = 4 << 20
        let file = try MappedFile(fileSystem: PosixFileSystem(), path: dir.child("seg"), capacity: size, create: true)
        defer { file.close() }
        let half = size / 2
        #expect(file.region.prefault(offset: 0, length: half, writable: true))
        #expect(file.region.prefault(offset: half, length: half))
        func storeEveryPage(from start: Int) {
            for offset in stride(from: start, to: start + half, by: Self.page) {
                file.base.storeBytes(of: 1, toByteOffset: offset, as: UInt8.self)
            }
        }
        let writable = faults { storeEveryPage(from: 0) }
        let readable = faults { storeEveryPage(from: half) }
        // A stray fault or two can come from the kernel itself (a page migrated or reclaimed
        // between the prefault and the store: a CI run once saw 1 of 512); a writable prefault
        // that did not work would fault on every page, as the readable half does.
        let pages = half / Self.page
        #expect(writable <= max(2, pages / 64), "\(writable) faults storing into \(pages) pages populated writable")
        #expect(readable > 4 * max(writable, 1), "\(readable) faults storing into pages populated readable against \(writable) writable: the test cannot tell the two apart")
    }

    @Test func aPartIsPrefaultedFromItsPage() throws {
        let dir = TemporaryDirectory()
        let size = 8 << 20
        let file = try MappedFile(fileSystem: PosixFileSystem(), path: dir.child("part"), capacity: size, create: true)
        defer { file.close() }
        let before = residentPages(file.region)
        // An offset inside a page: the whole page it lies in is brought in (the kernel may read
        // ahead around the range as well).
        #expect(file.region.prefault(offset: (3 << 20) + 100, length: 1 << 20))
        #expect(residentPages(file.region) - before >= (1 << 20) / Self.page)
    }
}
