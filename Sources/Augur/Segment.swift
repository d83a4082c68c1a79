import AugurStats
import AugurSys
import CAugurSys
import Synchronization

/// One segment file, mapped read-only and validated once, shared by every ``Segment`` (view)
/// of it: a reshard that shares files instead of copying them (`ReshardDataMode.shareFiles`)
/// gives each target a view of its sources' files bounded to the target's key range, so
/// several partitions may read one file.
///
/// Opening validates everything before the data is used: size, header, footer checksum, index
/// checksum, and every record's checksum, kind and key order. A failure is a `corruption`
/// error naming the file and the byte offset.
///
/// Lifetime: the file is unlinked when its last view goes away, provided every view was marked
/// obsolete (replaced by a flush merge or a reshard, or its table dropped). A view that goes
/// away *without* being obsolete (the engine closed; the manifest still references the file)
/// keeps the file. On Linux a mapping stays valid after the unlink, so this only decides when
/// the disk space comes back.
///
/// Thread-safety: immutable after init except the two flags, which are atomic.
final class SegmentFile: @unchecked Sendable {
    let path: String
    let name: String
    let fileSize: Int
    let recordCount: Int
    /// The record encoding (`SegmentFormat.readableVersions`), from the header: files older
    /// engines wrote stay version 1.
    let version: UInt32
    private let region: MappedRegion
    let data: UnsafeRawPointer           // start of the data region
    let dataLength: Int
    fileprivate let index: UnsafeRawPointer
    let indexCount: Int
    /// The first 8 bytes of each index entry's key, big-endian and zero-padded
    /// (`KeyPositionMap.window`),
    /// built while the records are validated at open: a point lookup binary-searches this
    /// dense array (8 bytes a slot, its upper levels stay in cache) and reads a key in the
    /// mapped data only where prefixes tie, instead of two cache misses (index entry, record)
    /// per probe. Memory, not format: 8 bytes per `interval` records.
    fileprivate let prefixes: UnsafeMutablePointer<UInt64>
    /// Where in `prefixes` a lookup's binary search starts (PrefixRadix.swift). Set once, in
    /// init, after the prefixes are read (unchecked: nothing writes it afterwards).
    @exclusivity(unchecked) fileprivate private(set) var radix: PrefixRadix
    /// Every key of the file, for point lookups to skip a run that cannot hold theirs
    /// (`KeyFilter`, built with the prefixes).
    fileprivate let filter: KeyFilter
    /// Records per sparse-index entry.
    let interval: Int
    private let fileSystem: any FileSystem
    private let onRemove: (@Sendable (String) -> Void)?
    /// A view that was still in use went away: the store references the file.
    fileprivate let kept = AtomicFlag()
    /// Some view was marked obsolete.
    fileprivate let retired = AtomicFlag()
    /// Data bytes of the views not (yet) obsolete: what of the file some partition still reads.
    /// Views of one file never overlap once a reshard has committed (during one, targets and
    /// sources both count, which only overstates it).
    let viewedBytes = Atomic<Int>(0)

    /// Whether more than half of the file's data is read by no partition any more: the
    /// partitions still viewing it should merge their part into files of their own (at their
    /// next flush), so shared files cost at most about twice their live data on disk.
    var mostlyUnviewed: Bool { viewedBytes.load(ordering: .relaxed) * 2 < dataLength }

    /// A segment file mapped whole, its descriptor closed: the mapping keeps an unlinked file
    /// readable. `region` is nil when the file is too short to hold a header and a footer.
    struct Mapped {
        let size: Int
        let region: MappedRegion?

        init(fileSystem: any FileSystem, path: String) throws(AugurError) {
            let handle = try io { () throws(FileSystemError) in try fileSystem.open(path, mode: .readOnly) }
            defer { handle.close() }
            let n = try io { () throws(FileSystemError) in try handle.size() }
            size = n
            region = n >= SegmentFormat.headerSize + SegmentFormat.footerSize
                ? try io { () throws(FileSystemError) in try handle.mapReadOnly(length: n) } : nil
        }
    }

    /// Opens and validates `path`. `expectedSize` (from the manifest) must match when given.
    /// `mapped`: the file mapped already, as a read-only open maps every run a manifest names
    /// before it validates any.
    /// `nameCheckRequired`: the manifest says files of this number carry their name check, so
    /// a 0 there (an older file's) is another file in this one's place.
    init(fileSystem: any FileSystem, path: String, name: String, expectedSize: Int?, nameCheckRequired: Bool = false,
         onRemove: (@Sendable (String) -> Void)? = nil, mapped: Mapped? = nil) throws(AugurError) {
        self.fileSystem = fileSystem
        self.path = path
        self.name = name
        self.onRemove = onRemove
        let file: Mapped
        if let mapped { file = mapped } else { file = try Mapped(fileSystem: fileSystem, path: path) }
        let size = file.size
        if let expectedSize, expectedSize != size {
            throw .corruption(file: path, offset: size, reason: "file is \(size) bytes, manifest says \(expectedSize)")
        }
        guard let mappedRegion = file.region else {
            throw .corruption(file: path, offset: 0, reason: "file of \(size) bytes is shorter than header and footer")
        }
        fileSize = size
        region = mappedRegion
        let base = UnsafeRawPointer(region.base)
        guard Array(UnsafeRawBufferPointer(start: base, count: 8)) == SegmentFormat.headerMagic else {
            throw .corruption(file: path, offset: 0, reason: "bad header magic")
        }
        version = loadU32(base, 8)
        guard SegmentFormat.readableVersions.contains(version) else {
            throw .corruption(file: path, offset: 8, reason: "unsupported segment version \(version)")
        }
        let footer = base + size - SegmentFormat.footerSize
        let footerAt = size - SegmentFormat.footerSize
        guard loadU64(footer) == SegmentFormat.footerMagic else {
            throw .corruption(file: path, offset: footerAt, reason: "bad footer magic")
        }
        guard CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(start: footer, count: 60))) == loadU32(footer, 60) else {
            throw .corruption(file: path, offset: footerAt, reason: "footer checksum mismatch")
        }
        let nameCheck = loadU32(footer, 56)
        guard nameCheck != 0 || !nameCheckRequired else {
            throw .corruption(file: path, offset: footerAt + 56,
                              reason: "the footer holds no name check, but the manifest says files numbered as \(name) carry one (nameChecksFrom): an older file is in its place")
        }
        guard nameCheck == 0 || nameCheck == SegmentFormat.nameCheck(name) else {
            throw .corruption(file: path, offset: footerAt + 56,
                              reason: "the footer's name check \(nameCheck) is not \(name)'s (\(SegmentFormat.nameCheck(name))): the file holds another run's data")
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
        self.interval = interval
        recordCount = count
        prefixes = .allocate(capacity: max(1, indexCount))
        filter = KeyFilter(keys: count)
        radix = PrefixRadix(prefixes: prefixes, count: 0)
        // Every stored property is set: should validation throw, deinit runs and frees them.
        try validateRecords()
        radix = PrefixRadix(prefixes: prefixes, count: indexCount)   // the placeholder's table goes
    }

    deinit {
        prefixes.deallocate()
        if retired.isSet && !kept.isSet {
            try? fileSystem.remove(path)
            onRemove?(path)
        }
    }

    private func validateRecords() throws(AugurError) {
        var offset = 0
        var n = 0
        var previous: UnsafeRawBufferPointer? = nil
        while offset < dataLength {
            let at = SegmentFormat.headerSize + offset
            let p = data + offset
            let header = try recordHeader(at: offset)
            let klen = header.keyCount, vlen = header.valueCount
            let size = header.size + klen + vlen
            guard klen > 0 else {
                throw .corruption(file: path, offset: at, reason: "empty key")
            }
            guard size <= dataLength - offset else {
                throw .corruption(file: path, offset: at, reason: "record length out of bounds")
            }
            guard CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(start: p + 4, count: size - 4))) == loadU32(p) else {
                throw .corruption(file: path, offset: at, reason: "record checksum mismatch")
            }
            guard RecordKind(rawValue: p.load(fromByteOffset: 4, as: UInt8.self)) != nil else {
                throw .corruption(file: path, offset: at, reason: "unknown record kind")
            }
            let key = UnsafeRawBufferPointer(start: p + header.size, count: klen)
            if let previous, compareKeys(previous, key) >= 0 {
                throw .corruption(file: path, offset: at, reason: "keys out of order")
            }
            if n % interval == 0 {
                guard entry(n / interval) == offset else {
                    throw .corruption(file: path, offset: at, reason: "index entry \(n / interval) does not point at record \(n)")
                }
                prefixes[n / interval] = KeyPositionMap.window(key, from: 0)
            }
            filter.insert(KeyHash.hash(key))
            previous = key
            offset += size
            n += 1
        }
        guard n == recordCount else {
            throw .corruption(file: path, offset: SegmentFormat.headerSize + offset,
                              reason: "footer counts \(recordCount) records, data holds \(n)")
        }
    }

    /// The header of the record at data offset `offset`, checked against the data region's
    /// end (the lengths not yet: the caller checks them).
    private func recordHeader(at offset: Int) throws(AugurError) -> SegmentRecordHeader {
        let at = SegmentFormat.headerSize + offset
        let p = data + offset, available = dataLength - offset
        guard available >= SegmentFormat.smallestRecordHeader(version: version) else {
            throw .corruption(file: path, offset: at, reason: "truncated record header")
        }
        if version == 1 { return SegmentFormat.validatedHeader(p, available: available, version: 1) }
        var i = 5
        func length(_ what: String) throws(AugurError) -> Int {
            if let v = Varint.read(p, &i, available) { return Int(v) }
            guard i < available else {
                throw .corruption(file: path, offset: at, reason: "truncated record header: the \(what) varint runs past the data region")
            }
            throw .corruption(file: path, offset: at, reason: p.load(fromByteOffset: i, as: UInt8.self) >= 0x80
                              ? "\(what) varint longer than 5 bytes" : "\(what) varint above UInt32.max")
        }
        let keyCount = try length("key length"), valueCount = try length("value length")
        return SegmentRecordHeader(keyCount: keyCount, valueCount: valueCount, size: i)
    }

    /// Start of the whole mapped file (header included).
    var fileBase: UnsafeRawPointer { UnsafeRawPointer(region.base) }

    /// Data offset of the record index entry `i` points at.
    @inline(__always) func entry(_ i: Int) -> Int { Int(loadU64(index, 8 * i)) }

    /// The 8-byte prefix of index entry `i`'s key.
    @inline(__always) fileprivate func prefix(_ i: Int) -> UInt64 { prefixes[i] }

    @inline(__always) fileprivate func recordSize(at offset: Int) -> Int {
        let h = SegmentFormat.validatedHeader(data + offset, available: dataLength - offset, version: version)
        return h.size + h.keyCount + h.valueCount
    }

    @inline(__always) fileprivate func key(at offset: Int) -> UnsafeRawBufferPointer {
        let p = data + offset
        let h = SegmentFormat.validatedHeader(p, available: dataLength - offset, version: version)
        return UnsafeRawBufferPointer(start: p + h.size, count: h.keyCount)
    }

    /// Data offset of the first record with key ≥ `key` in the whole file, or `dataLength`.
    fileprivate func offset(atLeast key: [UInt8]) -> Int {
        key.withUnsafeBytes { key in
            var lo = 0, hi = indexCount - 1, slot = -1
            while lo <= hi {
                let mid = (lo + hi) >> 1
                if compareKeys(self.key(at: entry(mid)), key) <= 0 { slot = mid; lo = mid + 1 } else { hi = mid - 1 }
            }
            var offset = slot < 0 ? 0 : entry(slot)
            while offset < dataLength {
                if compareKeys(self.key(at: offset), key) >= 0 { return offset }
                offset += recordSize(at: offset)
            }
            return dataLength
        }
    }

    /// A view of this file's records in `[lowerBound, upperBound)`, or nil when none lies
    /// there.
    func view(lowerBound: [UInt8]?, upperBound: [UInt8]?) -> Segment? {
        if let lo = lowerBound, let hi = upperBound, compareKeys(lo, hi) >= 0 { return nil }
        let b = lowerBound.map { offset(atLeast: $0) } ?? 0
        let e = upperBound.map { offset(atLeast: $0) } ?? dataLength
        guard b < e else { return nil }
        return Segment(file: self, lowerBound: lowerBound, upperBound: upperBound)
    }

    /// First index slot whose entry is ≥ `offset` (`indexCount` if none).
    fileprivate func firstSlot(atOrAfter offset: Int) -> Int {
        var lo = 0, hi = indexCount
        while lo < hi {
            let mid = (lo + hi) >> 1
            if entry(mid) < offset { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// A partition's sorted run: the records of one ``SegmentFile`` whose keys lie in
/// `[lowerBound, upperBound)` (nil bounds are open; both nil = the whole file). The view is a
/// contiguous byte range `[begin, end)` of the file's data region — records are sorted — and
/// everything below (`data`, `dataLength`, the index, cursors, lookups) sees only that range,
/// so readers, merges and index builds need not know whether a run is shared.
///
/// Thread-safety: immutable except the obsolete flag (atomic); any number of threads may read.
/// When the run is replaced (flush merge, reshard, dropped table) it is marked obsolete; its
/// file is unlinked once no view of it is in use (see ``SegmentFile``).
final class Segment: @unchecked Sendable {
    let file: SegmentFile
    /// Smallest key of the view (inclusive), or nil: from the file's first record.
    let lowerBound: [UInt8]?
    /// Key the view ends before (exclusive), or nil: to the file's last record.
    let upperBound: [UInt8]?
    /// The view's byte range in the file's data region.
    let begin: Int
    let end: Int
    let data: UnsafeRawPointer           // start of the view (file data + begin)
    let dataLength: Int
    let recordCount: Int
    /// The file's record encoding (kept here too: one load less per record read).
    let version: UInt32
    /// File index slot of the view's first whole index group, and whether an index entry at
    /// offset 0 of the view is implied (the view starts inside a group).
    private let firstSlot: Int
    private let leadingEntry: Bool
    let indexCount: Int
    private let obsoleteFlag = AtomicFlag()
    private let obsoleteOnce = Atomic<Bool>(false)

    var path: String { file.path }
    var name: String { file.name }
    /// Size of the whole file in bytes.
    var fileSize: Int { file.fileSize }
    /// Whether the view is the whole file.
    var isWholeFile: Bool { begin == 0 && end == file.dataLength }
    /// Bytes this run accounts for in its partition: the whole file, or only its slice of a
    /// shared file's data region.
    var storedBytes: Int { isWholeFile ? file.fileSize : dataLength }
    /// Start of the whole mapped file (header included), for byte-range copies.
    var fileBase: UnsafeRawPointer { file.fileBase }

    /// Opens and validates `path` as a whole-file run.
    convenience init(fileSystem: any FileSystem, path: String, name: String, expectedSize: Int?, nameCheckRequired: Bool = false,
                     onRemove: (@Sendable (String) -> Void)? = nil, mapped: SegmentFile.Mapped? = nil) throws(AugurError) {
        self.init(file: try SegmentFile(fileSystem: fileSystem, path: path, name: name, expectedSize: expectedSize,
                                        nameCheckRequired: nameCheckRequired, onRemove: onRemove, mapped: mapped),
                  lowerBound: nil, upperBound: nil)
    }

    /// A view of `file` holding its records with keys in `[lowerBound, upperBound)`.
    init(file: SegmentFile, lowerBound: [UInt8]?, upperBound: [UInt8]?) {
        self.file = file
        self.lowerBound = lowerBound
        self.upperBound = upperBound
        let b = lowerBound.map { file.offset(atLeast: $0) } ?? 0
        let e = max(b, upperBound.map { file.offset(atLeast: $0) } ?? file.dataLength)
        begin = b
        end = e
        data = file.data + b
        dataLength = e - b
        version = file.version
        let first = file.firstSlot(atOrAfter: b)
        let last = file.firstSlot(atOrAfter: e)
        firstSlot = first
        leadingEntry = b < e && (first == last || file.entry(first) != b)
        indexCount = b < e ? last - first + (leadingEntry ? 1 : 0) : 0
        if b == 0 && e == file.dataLength {
            recordCount = file.recordCount
        } else {
            // Walk the partial groups at both ends; whole groups count `interval` records.
            var n = 0, at = b
            let firstEntry = first < file.indexCount ? file.entry(first) : file.dataLength
            while at < min(e, firstEntry) { at += file.recordSize(at: at); n += 1 }
            var slot = first
            while slot < last {
                let next = slot + 1 < file.indexCount ? file.entry(slot + 1) : file.dataLength
                if next <= e {
                    n += slot + 1 < file.indexCount ? file.interval : file.recordCount - slot * file.interval
                    slot += 1
                } else {
                    at = file.entry(slot)
                    while at < e { at += file.recordSize(at: at); n += 1 }
                    break
                }
            }
            recordCount = n
        }
        file.viewedBytes.add(dataLength, ordering: .relaxed)
    }

    deinit {
        if obsoleteFlag.isSet { file.retired.set() } else { file.kept.set() }
    }

    /// Marks this run as replaced: its file goes once no view of it is in use.
    func markObsolete() {
        guard !obsoleteOnce.exchange(true, ordering: .relaxed) else { return }
        file.viewedBytes.subtract(dataLength, ordering: .relaxed)
        obsoleteFlag.set()
    }

    /// A slice of a file whose other records no partition reads any more (see
    /// ``SegmentFile/mostlyUnviewed``): merging it into a file of its own frees the rest.
    var holdsMostlyDeadFile: Bool { !isWholeFile && file.mostlyUnviewed }

    /// How the manifest names this run.
    var runRecord: RunRecord {
        RunRecord(name: file.name, size: UInt64(file.fileSize), lowerBound: lowerBound, upperBound: upperBound)
    }

    /// A view of the same file narrowed to `[lower, upper)` (nil: keep this view's bound), or
    /// nil when no record of this view lies in that range. (No view is made for an empty
    /// range: a view that goes away without being obsolete keeps its file.)
    func narrowed(lower: [UInt8]?, upper: [UInt8]?) -> Segment? {
        file.view(lowerBound: Self.tighter(lowerBound, lower, upper: false), upperBound: Self.tighter(upperBound, upper, upper: true))
    }

    /// This run restricted to `[lower, upper)` (`lower` empty, `upper` nil: open): itself when
    /// every record of it lies there, a narrowed view when some do, nil when none do. (A
    /// staged or rewritten file given to the partitions it spans.)
    func restricted(lower: [UInt8], upper: [UInt8]?) -> Segment? {
        if let (first, last) = keySpan, compareKeys(first, lower) >= 0, upper.map({ compareKeys(last, $0) < 0 }) ?? true {
            return self
        }
        return narrowed(lower: lower.isEmpty ? nil : lower, upper: upper)
    }

    /// The tighter of two optional bounds (nil = open).
    static func tighter(_ a: [UInt8]?, _ b: [UInt8]?, upper: Bool) -> [UInt8]? {
        guard let a else { return b }
        guard let b else { return a }
        return (compareKeys(a, b) < 0) == upper ? a : b
    }

    /// View offset of the record index entry `i` points at.
    @inline(__always) func indexEntry(_ i: Int) -> Int {
        if leadingEntry { return i == 0 ? 0 : file.entry(firstSlot + i - 1) - begin }
        return file.entry(firstSlot + i) - begin
    }


    @inline(__always) func record(at offset: Int) -> SegmentRecord {
        SegmentFormat.record(data, at: offset, dataLength: dataLength, version: version)
    }

    /// Index slot whose record is the last one with key ≤ `key`, or -1 if the first record's key is greater.
    private func indexSlot(atMost key: UnsafeRawBufferPointer) -> Int {
        // Over the file's slots of this view, by prefix first: a smaller prefix is a smaller
        // key and a larger one a larger key (`KeyPositionMap.window`); only a tie reads the key.
        // The file's radix table narrows the search to the slots that share the key's bucket
        // (every slot before them has a smaller prefix, every one after a larger), clamped to
        // this view's slots; the search runs in file slots.
        let slots = indexCount - (leadingEntry ? 1 : 0)
        let target = KeyPositionMap.window(key, from: 0)
        let lastSlot = firstSlot + slots - 1
        let (bucketLo, bucketHi) = file.radix.candidates(target)
        var lo = max(bucketLo, firstSlot), hi = min(bucketHi, lastSlot)
        var foundSlot = min(bucketLo - 1, lastSlot)
        while lo <= hi {
            let slot = (lo + hi) >> 1
            let p = file.prefix(slot)
            if p < target || (p == target && compareKeys(file.key(at: file.entry(slot)), key) <= 0) {
                foundSlot = slot
                lo = slot + 1
            } else {
                hi = slot - 1
            }
        }
        let found = max(foundSlot - firstSlot, -1)
        guard leadingEntry else { return found }
        // View slot 0 is the view's first record, inside a group of the file.
        if found >= 0 { return found + 1 }
        return indexCount > 0 && compareKeys(record(at: 0).key, key) <= 0 ? 0 : -1
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
    func offset(atLeast key: UnsafeRawBufferPointer) -> Int { seek(key).offset }

    /// The first record with key ≥ `key`: its offset (`dataLength` if none), and the record
    /// when its key is `key` — decoded and compared once, for seeks and point lookups alike.
    @inline(__always)
    private func seek(_ key: UnsafeRawBufferPointer) -> (offset: Int, exact: SegmentRecord?) {
        let slot = indexSlot(atMost: key)
        var offset = slot < 0 ? 0 : indexEntry(slot)
        while offset < dataLength {
            let r = record(at: offset)
            let order = compareKeys(r.key, key)
            if order >= 0 { return (offset, order == 0 ? r : nil) }
            offset += r.size
        }
        return (dataLength, nil)
    }

    /// Starts loading the filter line `lookup(_:hash:)` reads first (a hint).
    @inline(__always)
    func prefetchFilter(_ hash: UInt64) { file.filter.prefetch(hash) }

    /// The record for exactly `key`, if present; `hash` is the key's `KeyHash.hash`, checked against
    /// the file's filter first (a view shares its file's filter: a key outside the view can
    /// only pass it falsely, and the search then misses).
    @inline(__always)
    func lookup(_ key: UnsafeRawBufferPointer, hash: UInt64) -> SegmentRecord? {
        guard file.filter.mayContain(hash) else { return nil }
        return lookup(key)
    }

    /// The record for exactly `key`, if present.
    func lookup(_ key: UnsafeRawBufferPointer) -> SegmentRecord? { seek(key).exact }

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
/// Thread-safety: the only state is one word, read with acquire and written with release.
final class AtomicFlag: @unchecked Sendable {
    private let storage = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    init() { storage.initialize(to: 0) }
    deinit { storage.deallocate() }
    var isSet: Bool { caugur_load_acquire_u64(storage) != 0 }
    func set() { caugur_store_release_u64(storage, 1) }
}
