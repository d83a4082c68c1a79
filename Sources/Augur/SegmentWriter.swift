import AugurSys

/// Writes one segment file from records supplied in increasing key order, in
/// `SegmentFormat.currentVersion` (tests may ask for version 1, the files older engines wrote).
///
/// Not thread-safe: one writer per file. Output is buffered and written with positional writes
/// in 1 MiB pieces; `finish()` appends the index and footer and fdatasyncs the file. The caller
/// syncs the directory and records the file in the manifest.
final class SegmentWriter {
    let path: String
    private let handle: any FileHandle
    private let indexInterval: Int
    let version: UInt32
    /// The bytes not yet written, `used` of `capacity`. Raw memory rather than a `[UInt8]`:
    /// a record is laid out in place with one bounds check, where the array took five appends
    /// (one of a literal array, allocated and freed per record) and, the array being a class's
    /// property, a dynamic exclusivity check around each — about a sixth of a flush's CPU time
    /// (`augur-bench --workload flush`, perf).
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var used = 0
    private var fileOffset = 0                 // bytes already written to the file
    private var dataLength = 0
    private var recordCount = 0
    private var index: [UInt64] = []
    private static let flushThreshold = 1 << 20

    init(fileSystem: any FileSystem, path: String, indexInterval: Int,
         version: UInt32 = SegmentFormat.currentVersion) throws(FileSystemError) {
        precondition(SegmentFormat.readableVersions.contains(version), "segment version \(version)")
        self.path = path
        self.indexInterval = indexInterval
        self.version = version
        handle = try fileSystem.open(path, mode: .createNew)
        capacity = SegmentWriter.flushThreshold + 4096
        buffer = .allocate(byteCount: capacity, alignment: 16)
        append(SegmentFormat.header(version: version))
    }

    deinit {
        handle.close()
        buffer.deallocate()
    }

    var count: Int { recordCount }

    /// Appends one record. Keys must strictly increase.
    func add(kind: RecordKind, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(FileSystemError) {
        let keyCount = UInt32(key.count), valueCount = UInt32(value.count)
        // crc u32, kind u8, then the lengths: fixed u32s in version 1, varints since.
        let header = version == 1 ? 13 : 5 + Varint.size(keyCount) + Varint.size(valueCount)
        let size = header + key.count + value.count
        try reserve(size)
        assert(used + size <= capacity, "SegmentWriter: a record of \(size) bytes past the buffer's \(capacity - used) free")
        if recordCount % indexInterval == 0 { index.append(UInt64(dataLength)) }
        let record = buffer + used
        record.storeBytes(of: kind.rawValue, toByteOffset: 4, as: UInt8.self)
        if version == 1 {
            storeU32(record, 5, keyCount)
            storeU32(record, 9, valueCount)
        } else {
            var at = 5
            Varint.store(keyCount, record, &at)
            Varint.store(valueCount, record, &at)
        }
        if key.count > 0 { (record + header).copyMemory(from: key.baseAddress!, byteCount: key.count) }
        if value.count > 0 { (record + header + key.count).copyMemory(from: value.baseAddress!, byteCount: value.count) }
        storeU32(record, 0, CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(start: record + 4, count: size - 4))))
        used += size
        dataLength += size
        recordCount += 1
        if used >= SegmentWriter.flushThreshold { try drain() }
    }

    func add(kind: RecordKind, key: [UInt8], value: [UInt8]) throws(FileSystemError) {
        try key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in Result { () throws(FileSystemError) in try add(kind: kind, key: k, value: v) } }
        }.get()
    }

    /// Room for `size` more bytes: what is buffered is written first when they would not fit,
    /// and the buffer grows for a record larger than it.
    private func reserve(_ size: Int) throws(FileSystemError) {
        guard used + size > capacity else { return }
        try drain()
        guard size > capacity else { return }
        buffer.deallocate()
        capacity = size
        buffer = .allocate(byteCount: capacity, alignment: 16)
    }

    /// Appends bytes that are no record (the header, the index and footer); the buffer is
    /// empty or has room (`reserve` before a large one).
    private func append(_ bytes: [UInt8]) {
        if bytes.isEmpty { return }
        precondition(used + bytes.count <= capacity, "SegmentWriter: \(bytes.count) bytes past the buffer's \(capacity - used) free")
        bytes.withUnsafeBytes { (buffer + used).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        used += bytes.count
    }

    private func drain() throws(FileSystemError) {
        guard used > 0 else { return }
        try handle.write(at: fileOffset, UnsafeRawBufferPointer(start: buffer, count: used))
        fileOffset += used
        used = 0
    }

    /// Writes index and footer, syncs, closes. Returns the file size.
    func finish() throws(FileSystemError) -> Int {
        let tail = SegmentFormat.indexAndFooter(index: index, dataLength: dataLength, recordCount: recordCount, interval: indexInterval,
                                                name: lastPathComponent(path))
        try reserve(tail.count)
        append(tail)
        try drain()
        try handle.sync()
        handle.close()
        return fileOffset
    }
}
