import AugurSys

/// Keys order as unsigned bytes, shorter first on a common prefix (memcmp order).
@inline(__always)
func compareKeys(_ a: UnsafeRawPointer, _ aCount: Int, _ b: UnsafeRawPointer, _ bCount: Int) -> Int {
    compareKeys(UnsafeRawBufferPointer(start: a, count: aCount), UnsafeRawBufferPointer(start: b, count: bCount))
}

/// The result's sign is the order (its magnitude means nothing). Keys of 8 bytes or more
/// are first told apart by their first 8 bytes as big-endian integers, inline: most
/// comparisons of a skiplist search or an index probe end there, without a call into libc's
/// memcmp.
@inline(__always)
func compareKeys(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n >= 8 {
        let x = UInt64(bigEndian: a.loadUnaligned(as: UInt64.self))
        let y = UInt64(bigEndian: b.loadUnaligned(as: UInt64.self))
        if x != y { return x < y ? -1 : 1 }
        if n > 8 {
            let c = compareMemory(a.baseAddress! + 8, b.baseAddress! + 8, count: n - 8)
            if c != 0 { return Int(c) }
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
