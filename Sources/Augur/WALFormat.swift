// WAL frame format (see docs/FORMAT.md).
//
// A WAL segment is a preallocated, zero-filled file of `walSegmentSize` bytes holding frames
// back to back, each starting at a multiple of 8:
//
//   0   u32 masked CRC32C of bytes [8, 24 + payload length)
//   4   u32 payload length          (written last, with release ordering: 0 = not yet written)
//   8   u64 first sequence number   (operation i has sequence first + i)
//   16  u32 operation count
//   20  u32 durable prefix: every frame below byte 8 × this was synced when this frame was written
//   24  payload: operations, each
//         version 2: u8 kind | varint table id | varint key length | varint value length | key | value
//         version 1: u8 kind | u32 table id    | u32 key length    | u32 value length    | key | value
//       (varint: unsigned LEB128 of a 32-bit value, 1-5 bytes; the segment header's version
//       says which encoding its frames use, and a segment without a header is version 1)
//
// One frame is one atomic write batch. A zero length word means "nothing more here": the
// end of the segment's data, or a frame whose writer had not finished when the process died.
//
// A frame with operation count 0 is a marker, not a batch (its payload starts with a u32 kind):
//   header (always the frame at offset 0): kind 1 | u32 version | u64 segment number |
//                                          u64 segment file size | u64 first sequence number
//   seal   (after the last frame):         kind 2 | u32 reason (1 rolled: the next segment exists;
//                                          2 closed cleanly) | u64 its own offset
//
// Why: recovery must tell a torn tail (a write that never finished, so was never acknowledged)
// from damage to acknowledged frames, and notice a segment that is missing or cut short. The
// header names the file's number and size (a truncated or renamed segment is caught), the seal
// says a newer segment exists or that nothing was in flight (so every bad frame before it is
// damage), and the durable prefix in each frame proves that a bad frame below it had been
// synced intact (so it is damage, not a torn write) — see Recovery.swift.
//
// Why varint lengths (version 2, 2026-12): a 16-byte key and a 100-byte value took 24 + 13 +
// 116 = 153 bytes, 160 once aligned — 1.38 bytes of log per byte put, the largest single share
// of the engine's write amplification after merges (issue 19: 10 M random puts wrote 3.6-4.0×
// the bytes put, RocksDB 4.0×, whose log record for the same put is about 138 bytes). With one
// byte for each small length the operation header is 4 bytes and the frame 144. Segments made
// by older versions stay readable: replay decodes each segment by its own header's version.
import AugurSys
import CAugurSys

enum WALFormat {
    static let frameHeaderSize = 24
    /// The operation encoding new segments are written in (their header says so).
    static let currentVersion: UInt32 = 2
    /// The versions replay decodes.
    static let readableVersions: ClosedRange<UInt32> = 1...2
    /// Version 1's fixed operation header: kind, table id, key length, value length.
    static let fixedOpHeaderSize = 13

    /// Bytes of one operation in the current encoding.
    @inline(__always)
    static func opSize(tableID: UInt32, keyCount: Int, valueCount: Int) -> Int {
        1 + Varint.size(tableID) + Varint.size(UInt32(truncatingIfNeeded: keyCount))
            + Varint.size(UInt32(truncatingIfNeeded: valueCount)) + keyCount + valueCount
    }

    /// The fewest bytes an operation header takes in `version` (a cheap plausibility test of
    /// a frame's operation count against its length).
    static func smallestOpHeader(version: UInt32) -> Int { version == 1 ? fixedOpHeaderSize : 4 }

    /// One operation's header, decoded: its kind byte (not yet checked), table or index id,
    /// key and value lengths, and the header's own length.
    struct OpHeader {
        let kind: UInt8
        let tableID: UInt32
        let keyCount: Int
        let valueCount: Int
        let size: Int
    }

    /// Decodes the operation header at `at` in a frame of `version` whose payload ends at
    /// `end`; nil when it runs past `end` or a varint is longer than 5 bytes or exceeds 32
    /// bits. Lengths are not checked against the frame here.
    @inline(__always)
    static func decodeOpHeader(_ base: UnsafeRawPointer, at: Int, end: Int, version: UInt32) -> OpHeader? {
        if version == 1 {
            guard end - at >= fixedOpHeaderSize else { return nil }
            return OpHeader(kind: base.load(fromByteOffset: at, as: UInt8.self), tableID: loadU32(base, at + 1),
                            keyCount: Int(loadU32(base, at + 5)), valueCount: Int(loadU32(base, at + 9)),
                            size: fixedOpHeaderSize)
        }
        guard end - at >= 4 else { return nil }
        var p = at + 1
        guard let table = Varint.read(base, &p, end), let k = Varint.read(base, &p, end),
              let v = Varint.read(base, &p, end) else { return nil }
        return OpHeader(kind: base.load(fromByteOffset: at, as: UInt8.self), tableID: table,
                        keyCount: Int(k), valueCount: Int(v), size: p - at)
    }

    static let headerMarker: UInt32 = 1
    static let sealMarker: UInt32 = 2
    static let headerPayloadSize = 32
    static let sealPayloadSize = 16
    /// Bytes of the header frame at offset 0; the first batch starts here.
    static var headerFrameSize: Int { frameSize(payload: headerPayloadSize) }
    /// Space kept free at the end of every segment for its seal.
    static var sealFrameSize: Int { frameSize(payload: sealPayloadSize) }

    enum SealReason: UInt32 {
        /// The segment filled and the next one was created before this seal was written.
        case rolled = 1
        /// The engine closed; every frame before the seal was complete and synced.
        case closed = 2
    }

    /// Writes a complete marker frame at `frame` (no concurrent writer may touch that space).
    static func writeMarker(at frame: UnsafeMutableRawPointer, payload: [UInt8], durablePrefix: Int) {
        payload.withUnsafeBytes { p in
            (frame + frameHeaderSize).copyMemory(from: p.baseAddress!, byteCount: p.count)
        }
        storeU64(frame, 8, 0)
        storeU32(frame, 16, 0)
        storeU32(frame, 20, UInt32(durablePrefix / 8))
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: frame + 8, count: frameHeaderSize - 8 + payload.count))
        storeU32(frame, 0, CRC32C.mask(crc))
        caugur_store_release_u32(frame + 4, UInt32(payload.count))
    }

    static func headerPayload(number: UInt64, size: Int, firstSeq: UInt64) -> [UInt8] {
        var w = ByteWriter()
        w.u32(headerMarker); w.u32(currentVersion); w.u64(number); w.u64(UInt64(size)); w.u64(firstSeq)
        return w.bytes
    }

    static func sealPayload(reason: SealReason, offset: Int) -> [UInt8] {
        var w = ByteWriter()
        w.u32(sealMarker); w.u32(reason.rawValue); w.u64(UInt64(offset))
        return w.bytes
    }

    @inline(__always)
    static func frameSize(payload: Int) -> Int { (frameHeaderSize + payload + 7) & ~7 }

    static func segmentName(_ number: UInt64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 12 - digits.count)) + digits + ".wal"
    }

    /// The number of a canonical segment name (12 or more digits, as `segmentName` writes it);
    /// nil for anything else ("5.wal", "+5.wal" are not Augur's).
    static func segmentNumber(_ name: String) -> UInt64? {
        guard name.hasSuffix(".wal"), let n = UInt64(name.dropLast(4)), n < UInt64.max, segmentName(n) == name else { return nil }
        return n
    }
}

/// Encodes operations into a frame's payload area, in the current version's encoding
/// (`WALFormat.opSize` gives the bytes each takes).
struct WALPayloadWriter {
    let base: UnsafeMutableRawPointer
    var offset = 0

    @inline(__always)
    mutating func add(kind: RecordKind, tableID: UInt32, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        base.storeBytes(of: kind.rawValue, toByteOffset: offset, as: UInt8.self)
        offset += 1
        Varint.store(tableID, base, &offset)
        Varint.store(UInt32(truncatingIfNeeded: key.count), base, &offset)
        Varint.store(UInt32(truncatingIfNeeded: value.count), base, &offset)
        if key.count > 0 { (base + offset).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        offset += key.count
        if value.count > 0 { (base + offset).copyMemory(from: value.baseAddress!, byteCount: value.count) }
        offset += value.count
    }
}
