import AugurSys

/// A contiguous byte range of a source segment's data region: records `[start, end)`.
struct SegmentSlice {
    let segment: Segment
    let start: Int
    let end: Int
    var length: Int { end - start }

    /// The records of `segment` with keys in `[lower, upper)` (nil bounds are open).
    init(_ segment: Segment, lower: [UInt8]?, upper: [UInt8]?) {
        self.segment = segment
        start = lower.map { k in k.withUnsafeBytes { segment.offset(atLeast: $0) } } ?? 0
        let e = upper.map { k in k.withUnsafeBytes { segment.offset(atLeast: $0) } } ?? segment.dataLength
        end = max(start, e)
    }
}

/// Builds a segment by concatenating slices of other segments' data regions — the core of a
/// reshard. Because every record carries its own checksum and the slices are sorted and
/// disjoint, the concatenation is a valid data region; only the sparse index (re-spaced every
/// `interval` records) and the footer are new. The index is built by walking record headers in
/// the sources' mappings, so no value bytes are read twice.
///
/// Bytes move through `ByteRangeCopier` (io_uring when available, else copy_file_range or
/// positional read/write through the `FileSystem` seam, so faults can be injected).
enum SegmentSlicer {
    /// Writes `slices` (in key order) into a new file at `path`, fdatasyncs it, and returns its
    /// size, or nil (and no file) when the slices hold no records.
    static func build(fileSystem: any FileSystem, path: String, slices: [SegmentSlice], interval: Int,
                      copier: ByteRangeCopier, progress: (Int) -> Void) throws(AugurError) -> Int? {
        let slices = slices.filter { $0.length > 0 }
        if slices.isEmpty { return nil }
        var index: [UInt64] = []
        var count = 0
        var dataLength = 0
        for slice in slices {
            var at = slice.start
            while at < slice.end {
                if count % interval == 0 { index.append(UInt64(dataLength + at - slice.start)) }
                at += slice.segment.record(at: at).size
                count += 1
            }
            dataLength += slice.length
        }
        let handle = try io { () throws(FileSystemError) in try fileSystem.open(path, mode: .createNew) }
        defer { handle.close() }
        do throws(FileSystemError) {
            try handle.write(at: 0, SegmentFormat.header())
            var target = SegmentFormat.headerSize
            var ranges: [ByteRange] = []
            for slice in slices {
                ranges.append(ByteRange(source: slice.segment, sourceOffset: SegmentFormat.headerSize + slice.start,
                                        length: slice.length, targetOffset: target))
                target += slice.length
            }
            try copier.copy(ranges, to: handle, progress: progress)
            let tail = SegmentFormat.indexAndFooter(index: index, dataLength: dataLength, recordCount: count, interval: interval)
            try handle.write(at: target, tail)
            try handle.sync()
            return target + tail.count
        } catch {
            try? fileSystem.remove(path)
            throw AugurError(error)
        }
    }
}

/// One range to copy: `length` bytes of `source`'s file at `sourceOffset` → target at `targetOffset`.
struct ByteRange {
    let source: Segment
    let sourceOffset: Int
    let length: Int
    let targetOffset: Int
}

/// Copies byte ranges of mapped segments into a target file.
///
/// The current implementation writes straight from the source mapping with positional writes
/// through the `FileSystem` seam, in chunks of `chunkSize` bytes (so fault injection and crash
/// simulation see every write). The io_uring `RangeCopier` plugs in behind the same call.
/// Thread-safety: stateless; safe from any thread.
struct ByteRangeCopier: Sendable {
    /// Bytes per write. Default 1 MiB.
    var chunkSize = 1 << 20

    func copy(_ ranges: [ByteRange], to target: any FileHandle, progress: (Int) -> Void) throws(FileSystemError) {
        for r in ranges {
            var done = 0
            while done < r.length {
                let n = min(chunkSize, r.length - done)
                let from = UnsafeRawBufferPointer(start: r.source.fileBase + r.sourceOffset + done, count: n)
                try target.write(at: r.targetOffset + done, from)
                done += n
                progress(n)
            }
        }
    }
}
