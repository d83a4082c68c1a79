import AugurSys
import CAugurSys

/// An immutable sorted run of one partition, mapped read-only.
///
/// Opening validates everything before the data is used: size, header, footer checksum, index
/// checksum, and every record's checksum, kind and key order. A failure is a `corruption`
/// error naming the file and the byte offset.
///
/// Thread-safety: immutable; any number of threads may read. When the segment is replaced
/// (flush merge, split) it is marked obsolete and its file is unlinked when the last reader
/// releases it — on Linux the mapping stays valid after the unlink anyway, so this only
/// decides when the disk space comes back.
final class Segment: @unchecked Sendable {
    let path: String
    let name: String
    let fileSize: Int
    let recordCount: Int
    private let region: MappedRegion
    let data: UnsafeRawPointer           // start of the data region
    let dataLength: Int
    private let index: UnsafeRawPointer
    let indexCount: Int
    private let fileSystem: any FileSystem
    private let obsoleteFlag = AtomicFlag()
    private let onRemove: (@Sendable (String) -> Void)?

    /// Opens and validates `path`. `expectedSize` (from the manifest) must match when given.
    init(fileSystem: any FileSystem, path: String, name: String, expectedSize: Int?,
         onRemove: (@Sendable (String) -> Void)? = nil) throws(AugurError) {
        self.fileSystem = fileSystem
        self.path = path
        self.name = name
        self.onRemove = onRemove
        let handle = try io { () throws(FileSystemError) in try fileSystem.open(path, mode: .readOnly) }
        defer { handle.close() }
        let size = try io { () throws(FileSystemError) in try handle.size() }
        if let expectedSize, expectedSize != size {
            throw .corruption(file: path, offset: size, reason: "file is \(size) bytes, manifest says \(expectedSize)")
        }
        guard size >= SegmentFormat.headerSize + SegmentFormat.footerSize else {
            throw .corruption(file: path, offset: 0, reason: "file of \(size) bytes is shorter than header and footer")
        }
        fileSize = size
        region = try io { () throws(FileSystemError) in try handle.mapReadOnly(length: size) }
        let base = UnsafeRawPointer(region.base)
        guard Array(UnsafeRawBufferPointer(start: base, count: 8)) == SegmentFormat.headerMagic else {
            throw .corruption(file: path, offset: 0, reason: "bad header magic")
        }
        guard loadU32(base, 8) == SegmentFormat.version else {
            throw .corruption(file: path, offset: 8, reason: "unsupported segment version \(loadU32(base, 8))")
        }
        let footer = base + size - SegmentFormat.footerSize
        let footerAt = size - SegmentFormat.footerSize
        guard loadU64(footer) == SegmentFormat.footerMagic else {
            throw .corruption(file: path, offset: footerAt, reason: "bad footer magic")
        }
        guard CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(start: footer, count: 60))) == loadU32(footer, 60) else {
            throw .corruption(file: path, offset: footerAt, reason: "footer checksum mismatch")
        }
        let dataOffset = Int(loadU64(footer, 8)), dataLength = Int(loadU64(footer, 16))
        let count = Int(loadU64(footer, 24)), indexOffset = Int(loadU64(footer, 32))
        let indexCount = Int(loadU64(footer, 40)), interval = Int(loadU32(footer, 48))
        guard dataOffset == SegmentFormat.headerSize, dataLength >= 0, indexOffset == dataOffset + dataLength,
              indexCount >= 0, indexOffset + indexCount * 8 == footerAt, interval >= 1,
              indexCount == (count + interval - 1) / interval else {
            throw .corruption(file: path, offset: footerAt, reason: "footer fields inconsistent with file size")
        }
        let indexBytes = UnsafeRawBufferPointer(start: base + indexOffset, count: indexCount * 8)
        guard CRC32C.mask(CRC32C.checksum(indexBytes)) == loadU32(footer, 52) else {
            throw .corruption(file: path, offset: indexOffset, reason: "index checksum mismatch")
        }
        data = base + dataOffset
        self.dataLength = dataLength
        index = base + indexOffset
        self.indexCount = indexCount
        recordCount = count
        try validateRecords(interval: interval)
    }

    deinit {
        if obsoleteFlag.isSet {
            try? fileSystem.remove(path)
            onRemove?(path)
        }
    }

    /// Marks the file for removal once no reader holds this segment.
    func markObsolete() { obsoleteFlag.set() }

    private func validateRecords(interval: Int) throws(AugurError) {
        var offset = 0
        var n = 0
        var previous: UnsafeRawBufferPointer? = nil
        while offset < dataLength {
            let at = SegmentFormat.headerSize + offset
            guard dataLength - offset >= SegmentFormat.recordHeaderSize else {
                throw .corruption(file: path, offset: at, reason: "truncated record header")
            }
            let p = data + offset
            let klen = Int(loadU32(p, 5)), vlen = Int(loadU32(p, 9))
            let size = SegmentFormat.recordHeaderSize + klen + vlen
            guard klen > 0, size <= dataLength - offset else {
                throw .corruption(file: path, offset: at, reason: "record length out of bounds")
            }
            guard CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(start: p + 4, count: size - 4))) == loadU32(p) else {
                throw .corruption(file: path, offset: at, reason: "record checksum mismatch")
            }
            guard RecordKind(rawValue: p.load(fromByteOffset: 4, as: UInt8.self)) != nil else {
                throw .corruption(file: path, offset: at, reason: "unknown record kind")
            }
            let key = UnsafeRawBufferPointer(start: p + SegmentFormat.recordHeaderSize, count: klen)
            if let previous, compareKeys(previous, key) >= 0 {
                throw .corruption(file: path, offset: at, reason: "keys out of order")
            }
            if n % interval == 0 {
                guard indexEntry(n / interval) == offset else {
                    throw .corruption(file: path, offset: at, reason: "index entry \(n / interval) does not point at record \(n)")
                }
            }
            previous = key
            offset += size
            n += 1
        }
        guard n == recordCount else {
            throw .corruption(file: path, offset: SegmentFormat.headerSize + offset,
                              reason: "footer counts \(recordCount) records, data holds \(n)")
        }
    }

    /// Start of the whole mapped file (header included), for byte-range copies.
    var fileBase: UnsafeRawPointer { UnsafeRawPointer(region.base) }

    @inline(__always) func indexEntry(_ i: Int) -> Int { Int(loadU64(index, 8 * i)) }

    @inline(__always) func record(at offset: Int) -> SegmentRecord {
        let p = data + offset
        let klen = Int(loadU32(p, 5)), vlen = Int(loadU32(p, 9))
        let key = UnsafeRawBufferPointer(start: p + SegmentFormat.recordHeaderSize, count: klen)
        return SegmentRecord(offset: offset, kind: RecordKind(rawValue: p.load(fromByteOffset: 4, as: UInt8.self))!,
                             key: key, value: UnsafeRawBufferPointer(start: key.baseAddress! + klen, count: vlen))
    }

    /// Index slot whose record is the last one with key ≤ `key`, or -1 if the first record's key is greater.
    private func indexSlot(atMost key: UnsafeRawBufferPointer) -> Int {
        var lo = 0, hi = indexCount - 1, found = -1
        while lo <= hi {
            let mid = (lo + hi) >> 1
            if compareKeys(record(at: indexEntry(mid)).key, key) <= 0 {
                found = mid
                lo = mid + 1
            } else {
                hi = mid - 1
            }
        }
        return found
    }

    /// The smallest and largest key stored (nil when the segment is empty).
    var keySpan: (low: [UInt8], high: [UInt8])? {
        guard dataLength > 0, indexCount > 0 else { return nil }
        var offset = indexEntry(indexCount - 1)
        var last = record(at: offset)
        while offset + last.size < dataLength {
            offset += last.size
            last = record(at: offset)
        }
        return (Array(record(at: 0).key), Array(last.key))
    }

    /// Offset of the first record with key ≥ `key`, or `dataLength` if none.
    func offset(atLeast key: UnsafeRawBufferPointer) -> Int {
        let slot = indexSlot(atMost: key)
        var offset = slot < 0 ? 0 : indexEntry(slot)
        while offset < dataLength {
            let r = record(at: offset)
            if compareKeys(r.key, key) >= 0 { return offset }
            offset += r.size
        }
        return dataLength
    }

    /// The record for exactly `key`, if present.
    func lookup(_ key: UnsafeRawBufferPointer) -> SegmentRecord? {
        let offset = offset(atLeast: key)
        guard offset < dataLength else { return nil }
        let r = record(at: offset)
        return compareKeys(r.key, key) == 0 ? r : nil
    }

    /// Offset of the record just before `offset` (which must be a record boundary or
    /// `dataLength`), or nil at the start.
    func offset(before offset: Int) -> Int? {
        guard offset > 0, indexCount > 0 else { return nil }
        // Last index slot strictly before `offset`.
        var lo = 0, hi = indexCount - 1, slot = 0
        while lo <= hi {
            let mid = (lo + hi) >> 1
            if indexEntry(mid) < offset { slot = mid; lo = mid + 1 } else { hi = mid - 1 }
        }
        var at = indexEntry(slot)
        while true {
            let next = at + record(at: at).size
            if next >= offset { return at }
            at = next
        }
    }

    /// Key-ordered cursor over the segment. Holds the segment alive.
    struct Cursor {
        let segment: Segment
        private(set) var offset: Int

        init(_ segment: Segment) {
            self.segment = segment
            offset = segment.dataLength
        }
        var isValid: Bool { offset < segment.dataLength }
        var current: SegmentRecord { segment.record(at: offset) }
        mutating func seekToFirst() { offset = 0 }
        mutating func seek(atLeast key: UnsafeRawBufferPointer) { offset = segment.offset(atLeast: key) }
        mutating func seekToLast() { offset = segment.offset(before: segment.dataLength) ?? segment.dataLength }
        mutating func seek(before key: UnsafeRawBufferPointer) {
            offset = segment.offset(before: segment.offset(atLeast: key)) ?? segment.dataLength
        }
        mutating func next() { offset += segment.record(at: offset).size }
        mutating func prev() { offset = segment.offset(before: offset) ?? segment.dataLength }
    }
}

/// A one-way flag that can be set from any thread.
final class AtomicFlag: @unchecked Sendable {
    private let storage = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    init() { storage.initialize(to: 0) }
    deinit { storage.deallocate() }
    var isSet: Bool { caugur_load_acquire_u64(storage) != 0 }
    func set() { caugur_store_release_u64(storage, 1) }
}
