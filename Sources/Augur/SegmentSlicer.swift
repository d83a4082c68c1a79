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
/// The target takes the sources' format version. Slices of files of both versions (a store an
/// older engine wrote, whose older runs are still version 1) cannot be concatenated: their
/// records are re-encoded instead, all of them, through a `SegmentWriter` in the current
/// version — simple, and needed only until merges have rewritten the version-1 runs.
///
/// Bytes move with `RangeCopier`: io_uring with registered buffers when the kernel allows it,
/// else copy_file_range, else positional read/write through the `FileSystem` seam (always the
/// case for simulated files, so faults and crashes are injected on the same path).
enum SegmentSlicer {
    struct Built {
        let size: Int
        let backend: RangeCopyBackend
    }

    /// Writes `slices` (in key order) into a new file at `path`, fdatasyncs it, and returns its
    /// size, or nil (and no file) when the slices hold no records.
    static func build(fileSystem: any FileSystem, path: String, slices: [SegmentSlice], interval: Int,
                      copier: RangeCopier, progress: (Int) -> Void) throws(AugurError) -> Built? {
        let slices = slices.filter { $0.length > 0 }
        if slices.isEmpty { return nil }
        let version = slices[0].segment.version
        guard slices.allSatisfy({ $0.segment.version == version }) else {
            return try rewrite(fileSystem: fileSystem, path: path, slices: slices, interval: interval, progress: progress)
        }
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
        var sources: [String: any FileHandle] = [:]
        defer { for h in sources.values { h.close() } }
        let handle = try io { () throws(FileSystemError) in try fileSystem.open(path, mode: .createNew) }
        defer { handle.close() }
        do throws(AugurError) {
            try io { () throws(FileSystemError) in try handle.write(at: 0, SegmentFormat.header(version: version)) }
            var target = SegmentFormat.headerSize
            var ranges: [CopyRange] = []
            for slice in slices {
                let source: any FileHandle
                if let h = sources[slice.segment.path] { source = h } else {
                    source = try io { () throws(FileSystemError) in try fileSystem.open(slice.segment.path, mode: .readOnly) }
                    sources[slice.segment.path] = source
                }
                ranges.append(CopyRange(source: source, sourceOffset: SegmentFormat.headerSize + slice.segment.begin + slice.start,
                                        length: slice.length, target: handle, targetOffset: target))
                target += slice.length
            }
            let report: RangeCopier.Report
            do throws(RangeCopyError) { report = try copier.copy(ranges) } catch {
                throw AugurError(copyError: error, target: path)
            }
            progress(report.bytesCopied)
            let tail = SegmentFormat.indexAndFooter(index: index, dataLength: dataLength, recordCount: count, interval: interval,
                                                    name: lastPathComponent(path))
            try io { () throws(FileSystemError) in
                try handle.write(at: target, tail)
                try handle.sync()
            }
            return Built(size: target + tail.count, backend: report.backend)
        } catch {
            try? fileSystem.remove(path)
            throw error
        }
    }

    /// Writes the records of `slices` (of files of different versions) into a new file at
    /// `path` in the current version, record by record, and fdatasyncs it.
    private static func rewrite(fileSystem: any FileSystem, path: String, slices: [SegmentSlice], interval: Int,
                                progress: (Int) -> Void) throws(AugurError) -> Built {
        let writer = try io { () throws(FileSystemError) in try SegmentWriter(fileSystem: fileSystem, path: path, indexInterval: interval) }
        do throws(FileSystemError) {
            for slice in slices {
                var at = slice.start
                while at < slice.end {
                    let r = slice.segment.record(at: at)
                    try writer.add(kind: r.kind, key: r.key, value: r.value)
                    at += r.size
                }
                progress(slice.length)
            }
            return Built(size: try writer.finish(), backend: .readWrite)
        } catch {
            try? fileSystem.remove(path)
            throw AugurError(error)
        }
    }
}

extension AugurError {
    init(copyError: RangeCopyError, target: String) {
        switch copyError {
        case .io(let e): self.init(e)
        case .rangePastEndOfSource(_, let path, let offset, _, _), .unexpectedEndOfSource(_, let path, let offset, _):
            self = .corruption(file: path, offset: offset, reason: "segment shorter than its footer says (\(copyError))")
        case .ringFailure(let operation, let errno):
            self = .io(operation: "io_uring " + operation, path: target, errno: errno.rawValue, message: errno.description)
        default:
            self = .io(operation: "copy", path: target, errno: 0, message: copyError.description)
        }
    }
}
