// Segment file format (see docs/FORMAT.md for the prose specification).
//
//   header   32 bytes  "AUGURSEG" | version u32 | zero padding
//   data     records in strictly increasing key order, contiguous:
//              u32 masked CRC32C of the rest of the record
//              u8  kind (1 put, 2 delete)
//              u32 key length | u32 value length | key | value
//   index    u64 × indexCount: offset (from the start of the data region) of every
//            `indexInterval`-th record, starting with the first
//   footer   64 bytes, at the end of the file:
//              u64 magic "AUGSEGFT" | u64 data offset | u64 data length | u64 record count
//              u64 index offset | u64 index count | u32 index interval
//              u32 masked CRC32C of the index | u32 zero | u32 masked CRC32C of the footer's first 60 bytes
//
// Records carry their own checksums so any contiguous slice of the data region is itself a
// valid data region: a reshard copies byte ranges and only rebuilds the index and footer.
import AugurSys

enum SegmentFormat {
    static let headerSize = 32
    static let footerSize = 64
    static let recordHeaderSize = 13
    static let version: UInt32 = 1
    static let headerMagic: [UInt8] = Array("AUGURSEG".utf8)
    static let footerMagic: UInt64 = 0x5446_4745_5347_5541   // "AUGSEGFT" little-endian
}

/// A record's parts, pointing into a mapping.
struct SegmentRecord {
    let offset: Int                   // from the start of the data region
    let kind: RecordKind
    let key: UnsafeRawBufferPointer
    let value: UnsafeRawBufferPointer
    var size: Int { SegmentFormat.recordHeaderSize + key.count + value.count }
}

extension SegmentFormat {
    /// The fixed header.
    static func header() -> [UInt8] {
        var w = ByteWriter()
        w.bytes.append(contentsOf: headerMagic)
        w.u32(version)
        w.bytes.append(contentsOf: [UInt8](repeating: 0, count: headerSize - w.bytes.count))
        return w.bytes
    }

    /// Index block and footer for a data region of `dataLength` bytes holding `recordCount`
    /// records, given the offsets of every `interval`-th record.
    static func indexAndFooter(index: [UInt64], dataLength: Int, recordCount: Int, interval: Int) -> [UInt8] {
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
        f.u32(0)
        f.u32(CRC32C.mask(CRC32C.checksum(f.bytes)))
        return w.bytes + f.bytes
    }
}
