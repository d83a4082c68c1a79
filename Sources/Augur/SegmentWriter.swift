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
    private var buffer: [UInt8] = []
    private var fileOffset = 0                 // bytes already written to the file
    private var dataLength = 0
    private var recordCount = 0
    private var index: [UInt64] = []
    private var lastKey: [UInt8] = []
    private static let flushThreshold = 1 << 20

    init(fileSystem: any FileSystem, path: String, indexInterval: Int,
         version: UInt32 = SegmentFormat.currentVersion) throws(FileSystemError) {
        precondition(SegmentFormat.readableVersions.contains(version), "segment version \(version)")
        self.path = path
        self.indexInterval = indexInterval
        self.version = version
        handle = try fileSystem.open(path, mode: .createNew)
        buffer.reserveCapacity(SegmentWriter.flushThreshold + 4096)
        buffer.append(contentsOf: SegmentFormat.header(version: version))
    }

    deinit { handle.close() }

    var count: Int { recordCount }

    /// Appends one record. Keys must strictly increase.
    func add(kind: RecordKind, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(FileSystemError) {
        if recordCount % indexInterval == 0 { index.append(UInt64(dataLength)) }
        let start = buffer.count
        buffer.append(contentsOf: [0, 0, 0, 0, kind.rawValue])
        let keyCount = UInt32(key.count), valueCount = UInt32(value.count)
        if version == 1 {
            withUnsafeBytes(of: keyCount.littleEndian) { buffer.append(contentsOf: $0) }
            withUnsafeBytes(of: valueCount.littleEndian) { buffer.append(contentsOf: $0) }
        } else {
            var at = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: Varint.size(keyCount) + Varint.size(valueCount)))
            buffer.withUnsafeMutableBytes { b in
                Varint.store(keyCount, b.baseAddress!, &at)
                Varint.store(valueCount, b.baseAddress!, &at)
            }
        }
        buffer.append(contentsOf: key)
        buffer.append(contentsOf: value)
        let crc = buffer.withUnsafeBytes { b in
            CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[(start + 4)...])))
        }
        buffer.withUnsafeMutableBytes { storeU32($0.baseAddress!, start, crc) }
        dataLength += buffer.count - start
        recordCount += 1
        if buffer.count >= SegmentWriter.flushThreshold { try drain() }
    }

    func add(kind: RecordKind, key: [UInt8], value: [UInt8]) throws(FileSystemError) {
        try key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in Result { () throws(FileSystemError) in try add(kind: kind, key: k, value: v) } }
        }.get()
    }

    private func drain() throws(FileSystemError) {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { b in Result { () throws(FileSystemError) in try handle.write(at: fileOffset, b) } }.get()
        fileOffset += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Writes index and footer, syncs, closes. Returns the file size.
    func finish() throws(FileSystemError) -> Int {
        buffer.append(contentsOf: SegmentFormat.indexAndFooter(index: index, dataLength: dataLength,
                                                               recordCount: recordCount, interval: indexInterval))
        try drain()
        try handle.sync()
        handle.close()
        return fileOffset
    }
}
