// Segment file format (see docs/FORMAT.md for the prose specification).
//
//   header   32 bytes  "AUGURSEG" | version u32 | zero padding
//   data     records in strictly increasing key order, contiguous:
//              u32 masked CRC32C of the rest of the record
//              u8  kind (1 put, 2 delete)
//              version 2: varint key length | varint value length | key | value
//              version 1: u32 key length    | u32 value length    | key | value
//            (varint: unsigned LEB128 of a 32-bit value, 1-5 bytes, as in the WAL; see `Varint`)
//   index    u64 × indexCount: offset (from the start of the data region) of every
//            `indexInterval`-th record, starting with the first
//   footer   64 bytes, at the end of the file:
//              u64 magic "AUGSEGFT" | u64 data offset | u64 data length | u64 record count
//              u64 index offset | u64 index count | u32 index interval
//              u32 masked CRC32C of the index | u32 name check | u32 masked CRC32C of the footer's first 60 bytes
//            name check: the masked CRC32C of the file's own name (`<p>-<f>.seg`), 1 where that is
//            0; files written before it hold 0 there, which checks nothing
//
// Records carry their own checksums so any contiguous slice of the data region is itself a
// valid data region (of the same version): a reshard copies byte ranges and only rebuilds the
// index and footer (SegmentSlicer; slices of files of both versions are re-encoded instead).
//
// Why the name check (2026-12-07, from an outside byte-flip campaign): the manifest names a run
// by file name and size only, and small flushes make many files of the same size. A run file
// replaced by a copy of a sibling of the same size opened as that run: deleted keys came back
// with their old values, exit 0. The footer now says which file it ends.
//
// Why varint lengths (version 2): a 16-byte key and a 100-byte value took 13 + 116 = 129 bytes,
// 123 with one byte for each length — every run byte a flush, merge or copy writes (issue 19
// compares the bytes written with RocksDB's). Each file is read by its own header's version,
// so files older engines wrote stay readable.
import AugurSys

enum SegmentFormat {
    static let headerSize = 32
    static let footerSize = 64
    /// The record encoding new files are written in (their header says so).
    static let currentVersion: UInt32 = 2
    /// The versions readers decode.
    static let readableVersions: ClosedRange<UInt32> = 1...2
    /// Version 1's fixed record header: CRC, kind, key length, value length.
    static let fixedRecordHeaderSize = 13
    static let headerMagic: [UInt8] = Array("AUGURSEG".utf8)
    static let footerMagic: UInt64 = 0x5446_4745_5347_5541   // "AUGSEGFT" little-endian
}

/// A record's parts, pointing into a mapping.
struct SegmentRecord {
    let offset: Int                   // from the start of the data region
    let kind: RecordKind
    let key: UnsafeRawBufferPointer
    let value: UnsafeRawBufferPointer
    /// Encoded bytes of the record, header included.
    let size: Int
}

/// A record's lengths as its header gives them, and the header's own bytes (CRC and kind
/// included).
struct SegmentRecordHeader {
    let keyCount: Int
    let valueCount: Int
    let size: Int
}

extension SegmentFormat {
    /// Bytes of a record of `keyCount` and `valueCount` bytes as `version` encodes it
    /// (writers use the shortest varints).
    @inline(__always)
    static func recordSize(keyCount: Int, valueCount: Int, version: UInt32 = currentVersion) -> Int {
        let header = version == 1 ? fixedRecordHeaderSize
            : 5 + Varint.size(UInt32(truncatingIfNeeded: keyCount)) + Varint.size(UInt32(truncatingIfNeeded: valueCount))
        return header + keyCount + valueCount
    }

    /// The fewest bytes a record header takes in `version`.
    static func smallestRecordHeader(version: UInt32) -> Int { version == 1 ? fixedRecordHeaderSize : 7 }

    /// The header of a record of a *validated* file of `version` at `p`, with `available`
    /// bytes from `p` to the end of the data region. Version 2 takes a fast path when both
    /// lengths are one byte (below 128: keys, and values up to 127 bytes).
    @inline(__always)
    static func validatedHeader(_ p: UnsafeRawPointer, available: Int, version: UInt32) -> SegmentRecordHeader {
        if version == 1 {
            return SegmentRecordHeader(keyCount: Int(loadU32(p, 5)), valueCount: Int(loadU32(p, 9)), size: fixedRecordHeaderSize)
        }
        let k = p.load(fromByteOffset: 5, as: UInt8.self), v = p.load(fromByteOffset: 6, as: UInt8.self)
        if k | v < 0x80 { return SegmentRecordHeader(keyCount: Int(k), valueCount: Int(v), size: 7) }
        var at = 5
        let keyCount = Varint.read(p, &at, available)!, valueCount = Varint.read(p, &at, available)!
        return SegmentRecordHeader(keyCount: Int(keyCount), valueCount: Int(valueCount), size: at)
    }

    /// The record of a validated file of `version` at `offset` of the data region `data` of
    /// `dataLength` bytes.
    @inline(__always)
    static func record(_ data: UnsafeRawPointer, at offset: Int, dataLength: Int, version: UInt32) -> SegmentRecord {
        let p = data + offset
        let h = validatedHeader(p, available: dataLength - offset, version: version)
        let key = UnsafeRawBufferPointer(start: p + h.size, count: h.keyCount)
        return SegmentRecord(offset: offset, kind: RecordKind(rawValue: p.load(fromByteOffset: 4, as: UInt8.self))!,
                             key: key, value: UnsafeRawBufferPointer(start: p + h.size + h.keyCount, count: h.valueCount),
                             size: h.size + h.keyCount + h.valueCount)
    }
}

extension SegmentFormat {
    /// The fixed header of a file of `version`.
    static func header(version: UInt32) -> [UInt8] {
        var w = ByteWriter()
        w.bytes.append(contentsOf: headerMagic)
        w.u32(version)
        w.bytes.append(contentsOf: [UInt8](repeating: 0, count: headerSize - w.bytes.count))
        return w.bytes
    }

    /// The footer's name check of a file named `name` (its last path component): never 0,
    /// which older files hold and which checks nothing.
    static func nameCheck(_ name: String) -> UInt32 {
        let c = CRC32C.mask(CRC32C.checksum(Array(name.utf8)))
        return c == 0 ? 1 : c
    }

    /// Index block and footer for a data region of `dataLength` bytes holding `recordCount`
    /// records, given the offsets of every `interval`-th record, for the file named `name`.
    static func indexAndFooter(index: [UInt64], dataLength: Int, recordCount: Int, interval: Int, name: String) -> [UInt8] {
        var w = ByteWriter()
        for o in index { w.u64(o) }
        let indexCRC = CRC32C.mask(CRC32C.checksum(w.bytes))
        var f = ByteWriter()
        f.u64(footerMagic)
        f.u64(UInt64(headerSize))
        f.u64(UInt64(dataLength))
        f.u64(UInt64(recordCount))
        f.u64(UInt64(headerSize + dataLength))
        f.u64(UInt64(index.count))
        f.u32(UInt32(interval))
        f.u32(indexCRC)
        f.u32(nameCheck(name))
        f.u32(CRC32C.mask(CRC32C.checksum(f.bytes)))
        return w.bytes + f.bytes
    }
}
