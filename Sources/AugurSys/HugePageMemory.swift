#if canImport(Glibc)
import Glibc
#endif

/// Anonymous memory for large, randomly searched structures (the memtable's full-size arena
/// chunks): mapped at a 2 MiB boundary, in whole 2 MiB units, and advised `MADV_HUGEPAGE`, so
/// that transparent huge pages in `madvise` mode (Debian's default) back each 2 MiB with one
/// page and one TLB entry instead of 512. A skiplist search visits nodes scattered over a
/// 32 MiB memtable: with 4 KiB pages nearly every visit also missed the TLB
/// (docs/PERFORMANCE.md, "Memtable chunks on huge pages"). Where the kernel has THP off or no
/// huge page free, the memory is ordinary pages; the advice is a hint and its failure is
/// ignored.
///
/// The first touch of a huge page zeroes 2 MiB at once (a fault of about 0.1-0.3 ms here)
/// where 4 KiB pages spread the same work over 512 faults; callers that recycle the memory
/// (the arena's chunk pool) pay it once per chunk.
public enum HugePageMemory {
    /// The huge page size the alignment is for (x86-64, and arm64 with 4 KiB base pages).
    public static let pageSize = 2 << 20

    /// `bytes` (a multiple of `pageSize`) of zeroed memory at a `pageSize` boundary. Release it
    /// with `release(_:bytes:)`, never `free`. Running out of address space is fatal, as it is
    /// for Swift's own allocations.
    public static func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        precondition(bytes > 0 && bytes % pageSize == 0, "HugePageMemory: \(bytes) bytes is not a multiple of \(pageSize)")
        // Map one page more than asked, then unmap the unaligned head and the rest of the tail.
        let span = bytes + pageSize
        guard let raw = mmap(nil, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED else {
            fatalError("HugePageMemory: mmap of \(span) bytes failed (errno \(errno))")
        }
        let address = UInt(bitPattern: raw)
        let aligned = (address + UInt(pageSize) - 1) & ~(UInt(pageSize) - 1)
        let head = Int(aligned - address)
        if head > 0 { munmap(raw, head) }
        let tail = span - head - bytes
        let start = UnsafeMutableRawPointer(bitPattern: aligned)!
        if tail > 0 { munmap(start + bytes, tail) }
        _ = madvise(start, bytes, MADV_HUGEPAGE)
        return start
    }

    /// Faults every page of fresh memory from `allocate(bytes:)` in, writable (madvise
    /// MADV_POPULATE_WRITE, Linux 5.14+; on older kernels a zero stored into every 4 KiB page,
    /// which changes nothing in memory that is still all zeros and that no other thread uses
    /// yet — the only memory it may be called on). So the thread that uses the memory next
    /// takes no fault, and no 2 MiB zeroing, on its first touch.
    public static func prefault(_ memory: UnsafeMutableRawPointer, bytes: Int) {
        if madvise(memory, bytes, MADV_POPULATE_WRITE) == 0 { return }
        var at = 0
        while at < bytes {
            // A store, not a load: a read fault maps the shared zero page, which the first
            // write must then replace.
            (memory + at).storeBytes(of: 0, as: UInt8.self)
            at += 4096
        }
    }

    /// Returns memory from `allocate(bytes:)`.
    public static func release(_ memory: UnsafeMutableRawPointer, bytes: Int) {
        munmap(memory, bytes)
    }
}
