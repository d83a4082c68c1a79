// Where things are in a store's files, read from the formats in docs/FORMAT.md (not from the
// engine's code: the campaign must aim at the bytes the specification names, whatever the
// reader does with them). For each file, the byte ranges of each region the corruption
// campaign aims at: WAL frame headers, length words, payloads and the zeros after the data;
// segment header, record lengths, record payloads, index and footer; manifest record CRCs,
// lengths and payloads; the contents of CURRENT and of the advisory files.
import AugurSys

/// The kinds of file in a store directory.
public enum StoreFileKind: String, Sendable, CaseIterable, Comparable {
    case current = "CURRENT"
    case manifest = "MANIFEST"
    case wal = "wal"
    case segment = "seg"
    /// TELEMETRY.json, decisions.jsonl, PLAN.txt: advisory, not part of the durable state.
    case advisory = "advisory"

    /// The kind of a path relative to the store, or nil for files the campaign leaves alone
    /// (LOCK, temporary files).
    public static func of(_ relativePath: String) -> StoreFileKind? {
        if relativePath == "CURRENT" { return .current }
        if relativePath.hasPrefix("MANIFEST-") { return .manifest }
        if relativePath.hasPrefix("wal/") && relativePath.hasSuffix(".wal") { return .wal }
        if relativePath.hasPrefix("seg/") && relativePath.hasSuffix(".seg") { return .segment }
        if ["TELEMETRY.json", "decisions.jsonl", "PLAN.txt"].contains(relativePath) { return .advisory }
        return nil
    }

    /// The regions worth aiming at in a file of this kind.
    public var regions: [FileRegion] {
        switch self {
        case .current, .advisory: [.contents]
        case .manifest: [.checksum, .length, .payload]
        case .wal: [.header, .length, .payload, .tail]
        case .segment: [.header, .checksum, .length, .payload, .index, .footer]
        }
    }

    public static func < (a: StoreFileKind, b: StoreFileKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A region of a file. The same name means the analogous thing in each format.
public enum FileRegion: String, Sendable, CaseIterable, Comparable {
    /// CURRENT's text, an advisory file's text.
    case contents
    /// Segment: the 32-byte file header. WAL: a frame header except its length word (CRC, first
    /// sequence, count).
    case header
    /// Manifest record CRC; segment record CRC.
    case checksum
    /// WAL frame length word; manifest record length; segment record key and value lengths.
    case length
    /// WAL frame operations; manifest record edits; segment record kind, key and value.
    case payload
    /// Segment sparse index.
    case index
    /// Segment footer.
    case footer
    /// WAL: the preallocated zeros after the last frame.
    case tail

    public static func < (a: FileRegion, b: FileRegion) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// The regions of one file as byte ranges (several per region: one per frame or record).
public struct FileAnatomy: Sendable {
    public var kind: StoreFileKind
    public var size: Int
    public var ranges: [FileRegion: [Range<Int>]] = [:]

    public init(kind: StoreFileKind, bytes: [UInt8]) {
        self.kind = kind
        size = bytes.count
        switch kind {
        case .current, .advisory: add(.contents, 0..<bytes.count)
        case .manifest: parseManifest(bytes)
        case .wal: parseWAL(bytes)
        case .segment: parseSegment(bytes)
        }
    }

    mutating func add(_ region: FileRegion, _ r: Range<Int>) {
        if !r.isEmpty { ranges[region, default: []].append(r) }
    }

    /// Regions of this file that have at least one byte.
    public var presentRegions: [FileRegion] { kind.regions.filter { !(ranges[$0] ?? []).isEmpty } }

    static func u32(_ b: [UInt8], _ at: Int) -> Int {
        guard at >= 0, at + 4 <= b.count else { return -1 }
        return Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24
    }

    static func u64(_ b: [UInt8], _ at: Int) -> Int {
        guard at >= 0, at + 8 <= b.count else { return -1 }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(b[at + i]) << UInt64(8 * i) }
        return v > UInt64(Int.max) ? -1 : Int(v)
    }

    /// WAL segment: frames at multiples of 8 from 0 until a zero length word; 24-byte header
    /// (CRC, length, first sequence, count, zero), then the payload.
    mutating func parseWAL(_ b: [UInt8]) {
        var at = 0
        while at + 24 <= b.count {
            let len = Self.u32(b, at + 4)
            if len <= 0 || at + 24 + len > b.count { break }
            add(.header, at..<at + 4)
            add(.header, at + 8..<at + 24)
            add(.length, at + 4..<at + 8)
            add(.payload, at + 24..<at + 24 + len)
            at += (24 + len + 7) / 8 * 8
        }
        add(.tail, min(at, b.count)..<b.count)
    }

    /// Segment: 32-byte header, records (CRC, kind, key length, value length, key, value; the
    /// lengths u32 in version 1, varints in version 2, as the header's version says), index of
    /// u64 offsets, 64-byte footer that says where the index is.
    mutating func parseSegment(_ b: [UInt8]) {
        guard b.count >= 96 else { return }
        add(.header, 0..<32)
        let footer = b.count - 64
        add(.footer, footer..<b.count)
        let dataOffset = Self.u64(b, footer + 8), dataLength = Self.u64(b, footer + 16)
        let indexOffset = Self.u64(b, footer + 32), indexCount = Self.u64(b, footer + 40)
        // The footer's numbers are untrusted (a file cut short by a killed flush ends in record
        // bytes, which read as offsets near 2⁶³): bounds by subtraction from small sizes, never
        // by adding two of them, which trapped on overflow and took the test process down.
        if indexOffset >= 0, indexCount >= 0, indexCount <= footer / 8, indexOffset <= footer - indexCount * 8 {
            add(.index, indexOffset..<indexOffset + indexCount * 8)
        }
        guard dataOffset >= 32, dataLength >= 0, dataLength <= footer - dataOffset else { return }
        let version = Self.u32(b, 8)
        var at = dataOffset
        let end = dataOffset + dataLength
        while at + 7 <= end {
            var p = at + 5, k = -1, v = -1
            if version == 1 {
                guard at + 13 <= end else { break }
                k = Self.u32(b, at + 5); v = Self.u32(b, at + 9); p = at + 13
            } else if let kk = Self.varint(b, &p, end), let vv = Self.varint(b, &p, end) {
                k = kk; v = vv
            }
            guard k >= 0, v >= 0, p + k + v <= end else { break }
            add(.checksum, at..<at + 4)
            add(.length, at + 5..<p)
            add(.payload, at + 4..<at + 5)
            add(.payload, p..<p + k + v)
            at = p + k + v
        }
    }

    /// An unsigned LEB128 varint of at most 5 bytes at `p` (advanced past it) before `end`, or
    /// nil (segment version 2's record lengths).
    static func varint(_ b: [UInt8], _ p: inout Int, _ end: Int) -> Int? {
        var value = 0
        for shift in stride(from: 0, to: 35, by: 7) {
            guard p < end else { return nil }
            let byte = b[p]
            p += 1
            value |= Int(byte & 0x7F) << shift
            if byte < 0x80 { return value }
        }
        return nil
    }

    /// Manifest: records of CRC, length, payload.
    mutating func parseManifest(_ b: [UInt8]) {
        var at = 0
        while at + 8 <= b.count {
            let len = Self.u32(b, at + 4)
            guard len >= 0, at + 8 + len <= b.count else { break }
            add(.checksum, at..<at + 4)
            add(.length, at + 4..<at + 8)
            add(.payload, at + 8..<at + 8 + len)
            at += 8 + len
        }
    }

    /// Manifest records, WAL frames or segment records found (for the base store description).
    public var recordCount: Int {
        switch kind {
        case .manifest, .segment: ranges[.checksum]?.count ?? 0
        case .wal: ranges[.length]?.count ?? 0
        case .current, .advisory: 0
        }
    }
}

/// The files of a store the campaign may mutate, relative to the store, sorted.
public func storeFiles(_ store: String, fileSystem fs: PosixFileSystem = PosixFileSystem()) -> [String] {
    var out: [String] = []
    for name in (try? fs.listDirectory(store)) ?? [] {
        if name == "wal" || name == "seg" {
            for inner in (try? fs.listDirectory(joinPath(store, name))) ?? [] { out.append(name + "/" + inner) }
        } else {
            out.append(name)
        }
    }
    return out.filter { StoreFileKind.of($0) != nil }.sorted()
}
