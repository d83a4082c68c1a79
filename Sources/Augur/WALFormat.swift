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
//         u8 kind | u32 table id | u32 key length | u32 value length | key | value
//
// One frame is one atomic write batch. A zero length word means "nothing more here": the
// end of the segment's data, or a frame whose writer had not finished when the process died.
//
// A frame with operation count 0 is a marker, not a batch (its payload starts with a u32 kind):
//   header (always the frame at offset 0): kind 1 | u32 version 1 | u64 segment number |
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
import AugurSys
import CAugurSys

enum WALFormat {
    static let frameHeaderSize = 24
    static let opHeaderSize = 13

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
        w.u32(headerMarker); w.u32(1); w.u64(number); w.u64(UInt64(size)); w.u64(firstSeq)
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
