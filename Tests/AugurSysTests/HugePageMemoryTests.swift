import AugurSys
import Foundation
import Testing

/// `HugePageMemory` (issue 19): the memtable's full-size arena chunks, 2 MiB-aligned and
/// advised for transparent huge pages.
@Suite struct HugePageMemoryTests {
    /// Whether this kernel can give transparent huge pages at all (`never` or no THP support:
    /// the advice is a no-op, and memory stays ordinary).
    static let transparentHugePagesAvailable: Bool = {
        guard let mode = try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8) else { return false }
        return !mode.contains("[never]")
    }()

    @Test("memory is aligned, zeroed and writable end to end; released memory can be mapped again")
    func alignedZeroedWritable() {
        for units in [1, 3] {
            let bytes = units * HugePageMemory.pageSize
            let p = HugePageMemory.allocate(bytes: bytes)
            #expect(UInt(bitPattern: p) % UInt(HugePageMemory.pageSize) == 0, "\(p) is not 2 MiB-aligned")
            let words = p.bindMemory(to: UInt64.self, capacity: bytes / 8)
            var nonZero = 0
            for i in stride(from: 0, to: bytes / 8, by: 509) where words[i] != 0 { nonZero += 1 }
            #expect(nonZero == 0, "fresh memory not zeroed: \(nonZero) words")
            words[0] = 0xA5A5
            words[bytes / 8 - 1] = 0x5A5A
            #expect(words[0] == 0xA5A5 && words[bytes / 8 - 1] == 0x5A5A)
            HugePageMemory.release(p, bytes: bytes)
        }
    }

    /// The mapping the memory lies in is advised for huge pages: /proc/self/smaps says
    /// `THPeligible: 1` for it. (Planted: without the madvise call, THP in `madvise` mode —
    /// Debian's default — reports 0.)
    @Test("the memory's mapping is eligible for transparent huge pages",
          .enabled(if: HugePageMemoryTests.transparentHugePagesAvailable, "the kernel has transparent huge pages off"))
    func eligibleForHugePages() throws {
        let bytes = 2 * HugePageMemory.pageSize
        let p = HugePageMemory.allocate(bytes: bytes)
        defer { HugePageMemory.release(p, bytes: bytes) }
        p.storeBytes(of: 1, as: UInt8.self)
        let address = UInt(bitPattern: p)
        // Read to the end: procfs files report no size, and a read of the reported size stops early.
        let file = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        let smaps = String(decoding: file.readDataToEndOfFile(), as: UTF8.self)
        try file.close()
        var inMapping = false
        var eligible: String? = nil
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), fields.count >= 5,
               let dash = range.firstIndex(of: "-"),
               let start = UInt(range[..<dash], radix: 16), let end = UInt(range[range.index(after: dash)...], radix: 16) {
                inMapping = start <= address && address < end
                continue
            }
            if inMapping, fields.first == "THPeligible:" { eligible = fields.count > 1 ? String(fields[1]) : nil; break }
        }
        #expect(eligible == "1", "THPeligible of the mapping at \(p): \(eligible ?? "not found")")
    }
}
