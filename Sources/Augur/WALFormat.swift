// WAL frame format (see docs/FORMAT.md).
//
// A WAL segment is a preallocated, zero-filled file of `walSegmentSize` bytes holding frames
// back to back, each starting at a multiple of 8:
//
//   0   u32 masked CRC32C of bytes [8, 24 + payload length)
//   4   u32 payload length          (written last, with release ordering: 0 = not yet written)
//   8   u64 first sequence number   (operation i has sequence first + i)
//   16  u32 operation count
//   20  u32 zero
//   24  payload: operations, each
//         u8 kind | u32 table id | u32 key length | u32 value length | key | value
//
// One frame is one atomic write batch. A zero length word means "nothing more here": the
// end of the segment's data, or a frame whose writer had not finished when the process died.
enum WALFormat {
    static let frameHeaderSize = 24
    static let opHeaderSize = 13

    @inline(__always)
    static func frameSize(payload: Int) -> Int { (frameHeaderSize + payload + 7) & ~7 }

    static func segmentName(_ number: UInt64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 12 - digits.count)) + digits + ".wal"
    }

    static func segmentNumber(_ name: String) -> UInt64? {
        guard name.hasSuffix(".wal") else { return nil }
        return UInt64(name.dropLast(4))
    }
}

/// One decoded WAL operation, pointing into the mapping being replayed.
struct WALOperation {
    let seq: UInt64
    let kind: RecordKind
    let tableID: UInt32
    let key: UnsafeRawBufferPointer
    let value: UnsafeRawBufferPointer
}

/// Encodes operations into a frame's payload area.
struct WALPayloadWriter {
    let base: UnsafeMutableRawPointer
    var offset = 0

    @inline(__always)
    mutating func add(kind: RecordKind, tableID: UInt32, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let p = base + offset
        p.storeBytes(of: kind.rawValue, as: UInt8.self)
        storeU32(p, 1, tableID)
        storeU32(p, 5, UInt32(key.count))
        storeU32(p, 9, UInt32(value.count))
        if key.count > 0 { (p + WALFormat.opHeaderSize).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        if value.count > 0 {
            (p + WALFormat.opHeaderSize + key.count).copyMemory(from: value.baseAddress!, byteCount: value.count)
        }
        offset += WALFormat.opHeaderSize + key.count + value.count
    }
}
