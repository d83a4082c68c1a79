import AugurSys

/// Keys order as unsigned bytes, shorter first on a common prefix (memcmp order).
@inline(__always)
func compareKeys(_ a: UnsafeRawPointer, _ aCount: Int, _ b: UnsafeRawPointer, _ bCount: Int) -> Int {
    compareKeys(UnsafeRawBufferPointer(start: a, count: aCount), UnsafeRawBufferPointer(start: b, count: bCount))
}

/// The result's sign is the order (its magnitude means nothing). Keys of 8 bytes or more
/// are first told apart by their first 8 bytes as big-endian integers, inline, and keys of up
/// to 16 by their last 8 the same way: most comparisons of a skiplist search or an index probe
/// end there, without a call into libc's memcmp.
@inline(__always)
func compareKeys(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n >= 8 {
        let x = UInt64(bigEndian: a.loadUnaligned(as: UInt64.self))
        let y = UInt64(bigEndian: b.loadUnaligned(as: UInt64.self))
        if x != y { return x < y ? -1 : 1 }
        if n > 16 {
            let c = compareMemory(a.baseAddress! + 8, b.baseAddress! + 8, count: n - 8)
            if c != 0 { return Int(c) }
        } else if n > 8 {
            // Keys of 9-16 common bytes (16-byte keys are common) without a call: the last 8
            // of them, as big-endian integers. The window overlaps the first 8 bytes, which
            // are equal, so the first byte that differs still decides.
            let x = UInt64(bigEndian: a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
            let y = UInt64(bigEndian: b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
            if x != y { return x < y ? -1 : 1 }
        }
    } else if n > 0 {
        let c = compareMemory(a.baseAddress!, b.baseAddress!, count: n)
        if c != 0 { return Int(c) }
    }
    return a.count - b.count
}

func compareKeys(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compareKeys(pa, pb) } }
}

@inline(__always) func loadU32(_ p: UnsafeRawPointer, _ offset: Int = 0) -> UInt32 {
    UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}
@inline(__always) func loadU64(_ p: UnsafeRawPointer, _ offset: Int = 0) -> UInt64 {
    UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
}
@inline(__always) func storeU32(_ p: UnsafeMutableRawPointer, _ offset: Int, _ v: UInt32) {
    p.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt32.self)
}
@inline(__always) func storeU64(_ p: UnsafeMutableRawPointer, _ offset: Int, _ v: UInt64) {
    p.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt64.self)
}

/// Unsigned LEB128 of a 32-bit value: 7 bits a byte, low groups first, the high bit set on every
/// byte but the last; 1-5 bytes. The length encoding of WAL operations (version 2) and segment
/// records (version 2); see docs/FORMAT.md.
enum Varint {
    /// Bytes of `v` in the shortest form.
    @inline(__always)
    static func size(_ v: UInt32) -> Int { (32 - (v | 1).leadingZeroBitCount + 6) / 7 }

    /// Stores `v` at `base + offset` in the shortest form and advances `offset` past it.
    @inline(__always)
    static func store(_ v: UInt32, _ base: UnsafeMutableRawPointer, _ offset: inout Int) {
        var v = v
        while v >= 0x80 {
            base.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, toByteOffset: offset, as: UInt8.self)
            offset += 1
            v >>= 7
        }
        base.storeBytes(of: UInt8(v), toByteOffset: offset, as: UInt8.self)
        offset += 1
    }

    /// Reads a varint at `base + p` (advancing `p` past it), or nil when it runs past `end`
    /// (then `p == end`) or is longer than 5 bytes or above 32 bits (then `p < end` is the
    /// offending fifth byte: ≥ 0x80 means longer, else too large). Any form of at most 5 bytes
    /// is accepted, not only the shortest.
    @inline(__always)
    static func read(_ base: UnsafeRawPointer, _ p: inout Int, _ end: Int) -> UInt32? {
        var value: UInt32 = 0
        var shift: UInt32 = 0
        while p < end {
            let byte = base.load(fromByteOffset: p, as: UInt8.self)
            if shift == 28 && byte > 0x0F { return nil }       // a fifth byte holds only 4 bits
            p += 1
            value |= UInt32(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7      // past 28 no byte gets here: a fifth byte ≥ 0x80 was refused above
        }
        return nil
    }
}

/// Little-endian encoder into a growable byte array (manifest edits, segment footers).
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func blob(_ v: [UInt8]) {
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }
    mutating func string(_ s: String) { blob(Array(s.utf8)) }
}

/// Bounds-checked little-endian decoder; every read returns nil past the end, so corrupt input
/// becomes a corruption error rather than a crash.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    var remaining: Int { bytes.count - offset }
    mutating func u8() -> UInt8? {
        guard remaining >= 1 else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }
    mutating func u32() -> UInt32? {
        guard remaining >= 4 else { return nil }
        defer { offset += 4 }
        return loadU32(bytes.baseAddress!, offset)
    }
    mutating func u64() -> UInt64? {
        guard remaining >= 8 else { return nil }
        defer { offset += 8 }
        return loadU64(bytes.baseAddress!, offset)
    }
    mutating func blob() -> [UInt8]? {
        guard let n = u32(), remaining >= Int(n) else { return nil }
        defer { offset += Int(n) }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + Int(n)]))
    }
    mutating func string() -> String? { blob().map { String(decoding: $0, as: UTF8.self) } }
}
