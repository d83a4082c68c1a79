#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A mapped (or, in the simulated file system, pinned) range of a file's bytes.
///
/// Thread-safety: immutable after creation; the bytes may be read from any thread. A shared
/// writable region may be written concurrently at disjoint offsets. The mapping is released
/// when the last reference goes away, which is how segments stay readable until no reader
/// holds them even after their file was unlinked.
public final class MappedRegion: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let length: Int
    /// Whether the bytes are a `MAP_SHARED` mapping of a file, whose pages `dropPages` may
    /// unmap; false for memory that merely stands in for a file (the simulated file system's),
    /// where the same madvise would zero the bytes.
    public let isFileMapping: Bool
    private let release: @Sendable (UnsafeMutableRawPointer, Int) -> Void

    public init(base: UnsafeMutableRawPointer, length: Int, isFileMapping: Bool = false,
                release: @escaping @Sendable (UnsafeMutableRawPointer, Int) -> Void) {
        self.base = base
        self.length = length
        self.isFileMapping = isFileMapping
        self.release = release
    }

    deinit { release(base, length) }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: length) }

    /// The kernel's page size: madvise wants a page-aligned start, and the WAL rounds its ranged
    /// syncs to pages. Not 4 KiB everywhere (arm64 kernels with 16 or 64 KiB pages).
    public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Faults the pages of `[offset, offset + length)` in without changing a byte (madvise
    /// MADV_POPULATE_READ or, with `writable`, MADV_POPULATE_WRITE; Linux 5.14+), so later
    /// accesses find them in the page cache and mapped. Safe while other threads store into
    /// the region. Why it matters: the first touch of a page of a fallocated file that is not
    /// yet in the page cache makes the kernel read ahead — allocate large folios and zero-fill
    /// them (unwritten extents); on Linux 6.18/ext4 one such fault took 3-12 ms of kernel time
    /// (docs/PERFORMANCE.md). And the first store into a clean page runs the file system's
    /// page_mkwrite, which on ext4 updates the file's mtime in a journal handle and so can
    /// wait for a journal commit in progress;
    /// `writable` does that here instead, at the price of dirtying the pages: the next
    /// fdatasync writes them, zeros or not, so populate writable only just ahead of the
    /// writers. Returns false when the kernel refuses (older than 5.14: EINVAL; no memory):
    /// accesses then fault as they would have, so this is a hint, never a requirement.
    @discardableResult
    public func prefault(offset: Int, length: Int, writable: Bool = false) -> Bool {
        precondition(offset >= 0 && length >= 0 && offset + length <= self.length, "Augur bug: prefault outside the region")
        if length == 0 { return true }
        let start = offset / MappedRegion.pageSize * MappedRegion.pageSize
        return madvise(base + start, offset + length - start, writable ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0
    }

    /// Takes the whole pages inside `[offset, offset + length)` out of this process's page
    /// tables, bytes unchanged (madvise MADV_DONTNEED on a shared file mapping: a dirty page's
    /// data stays in the page cache, marked dirty, and the next access maps it again). Why:
    /// writeback of a page that is mapped writable write-protects it, and on x86 each such page
    /// costs a TLB shootdown — an interrupt to every CPU that ran the process, a VM exit in a
    /// guest. The WAL's write-behind starts writeback behind its writers in 512 KiB pieces: 9 %
    /// of a one-thread fillrandom's CPU samples were the shootdowns under it, page by page
    /// (`flush_tlb_mm_range` ← `folio_mkclean` ← `sync_file_range`; the write-behind's whole
    /// share was 11 %, docs/PERFORMANCE.md).
    /// Unmapped first, the range takes one shootdown and the writeback none. Safe while other
    /// threads store into the region: a store into a dropped page faults it back in. Returns
    /// false, and changes nothing, for a region that is not a file mapping or when the kernel
    /// refuses.
    @discardableResult
    public func dropPages(offset: Int, length: Int) -> Bool {
        precondition(offset >= 0 && length >= 0 && offset + length <= self.length, "Augur bug: dropPages outside the region")
        guard isFileMapping else { return false }
        let page = MappedRegion.pageSize
        let start = (offset + page - 1) / page * page
        let end = (offset + length) / page * page
        if end <= start { return true }
        return madvise(base + start, end - start, MADV_DONTNEED) == 0
    }
}
