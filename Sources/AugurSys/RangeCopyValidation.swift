// The checks a `RangeCopier.copy` call makes before any byte moves: options in bounds, every
// range well-formed and inside its source, descriptors open the right way, and no two ranges
// writing the same bytes (or one reading what another writes). A separate file because it is
// its own job, and nothing here runs once the copy has started.
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension RangeCopier {
    /// Checks that the options are in bounds.
    func validate(_ options: Options) throws(RangeCopyError) {
        guard (1...1024).contains(options.queueDepth) else {
            throw .invalidOptions("queueDepth \(options.queueDepth) is not in 1...1024")
        }
        guard (512...(1 << 30)).contains(options.chunkSize) else {
            throw .invalidOptions("chunkSize \(options.chunkSize) is not in 512...\(1 << 30)")
        }
        if let w = options.writeBehind, w < 4096 {
            throw .invalidOptions("writeBehind \(w) is below 4096 bytes")
        }
        if let entries = options.ringEntriesOverride, !(2...4096).contains(entries) {
            throw .invalidOptions("ring entries \(entries) is not in 2...4096")
        }
    }

    /// Checks every range and returns the total byte count.
    func validate(_ ranges: [CopyRange]) throws(RangeCopyError) -> Int {
        var total = 0
        var sizes: [ObjectIdentifier: Int] = [:]
        var modes: [ObjectIdentifier: Int32] = [:]
        for (i, r) in ranges.enumerated() {
            guard r.sourceOffset >= 0, r.targetOffset >= 0, r.length >= 0 else {
                throw .invalidRange(index: i, reason: "negative offset or length (source offset \(r.sourceOffset), target offset \(r.targetOffset), length \(r.length))")
            }
            let (sourceEnd, o1) = r.sourceOffset.addingReportingOverflow(r.length)
            let (_, o2) = r.targetOffset.addingReportingOverflow(r.length)
            let (sum, o3) = total.addingReportingOverflow(r.length)
            guard !o1, !o2, !o3 else {
                throw .invalidRange(index: i, reason: "offset + length overflows")
            }
            total = sum
            let sourceKey = ObjectIdentifier(r.source)
            let size: Int
            if let known = sizes[sourceKey] {
                size = known
            } else {
                do { size = try r.source.size() } catch { throw .io(error) }
                sizes[sourceKey] = size
            }
            if sourceEnd > size && options.checksSourceSizes {
                throw .rangePastEndOfSource(index: i, path: r.source.path, offset: r.sourceOffset, length: r.length, fileSize: size)
            }
            // A raw descriptor opened the wrong way would fail with EBADF, which the syscall
            // layer treats as an Augur bug; here it is the caller's mistake, so say so.
            if let fd = r.source.descriptor {
                let mode = try Self.statusFlags(fd, r.source.path, index: i, cache: &modes, key: sourceKey)
                if mode & O_ACCMODE == O_WRONLY {
                    throw .invalidRange(index: i, reason: "source \(r.source.path) is not open for reading")
                }
            }
            if let fd = r.target.descriptor {
                let mode = try Self.statusFlags(fd, r.target.path, index: i, cache: &modes, key: ObjectIdentifier(r.target))
                if mode & O_ACCMODE == O_RDONLY {
                    throw .invalidRange(index: i, reason: "target \(r.target.path) is not open for writing")
                }
                if mode & O_APPEND != 0 {
                    throw .invalidRange(index: i, reason: "target \(r.target.path) is open with O_APPEND, which ignores write offsets")
                }
            }
        }
        try checkOverlaps(ranges)
        return total
    }

    private static func statusFlags(_ fd: Int32, _ path: String, index: Int, cache: inout [ObjectIdentifier: Int32],
                                    key: ObjectIdentifier) throws(RangeCopyError) -> Int32 {
        if let m = cache[key] { return m }
        let m = fcntl(fd, F_GETFL)
        if m < 0 { throw .invalidRange(index: index, reason: "\(path): descriptor \(fd) is not usable (\(Errno(rawValue: errno)))") }
        cache[key] = m
        return m
    }

    /// Which file a handle refers to: device and inode when it has a descriptor (two handles on
    /// one file are the same file), else its path.
    private enum FileKey: Hashable {
        case inode(UInt64, UInt64)
        case path(String)
    }

    private static func fileKey(_ handle: any FileHandle) -> FileKey {
        if let fd = handle.descriptor {
            var st = stat()
            if fstat(fd, &st) == 0 { return .inode(UInt64(st.st_dev), UInt64(st.st_ino)) }
        }
        return .path(handle.path)
    }

    /// Rejects ranges that write the same bytes of a file twice, or write bytes another range
    /// reads: the backends run ranges in parallel and in any order.
    private func checkOverlaps(_ ranges: [CopyRange]) throws(RangeCopyError) {
        struct Extent { var start: Int; var end: Int; var index: Int; var writes: Bool; var path: String }
        var byFile: [FileKey: [Extent]] = [:]
        var keys: [ObjectIdentifier: FileKey] = [:]
        func key(_ h: any FileHandle) -> FileKey {
            let id = ObjectIdentifier(h)
            if let k = keys[id] { return k }
            let k = Self.fileKey(h)
            keys[id] = k
            return k
        }
        var targetKeys = Set<FileKey>()
        for (i, r) in ranges.enumerated() where r.length > 0 {
            let t = key(r.target)
            targetKeys.insert(t)
            byFile[t, default: []].append(Extent(start: r.targetOffset, end: r.targetOffset + r.length, index: i, writes: true, path: r.target.path))
        }
        for (i, r) in ranges.enumerated() where r.length > 0 {
            let s = key(r.source)
            if targetKeys.contains(s) {
                byFile[s, default: []].append(Extent(start: r.sourceOffset, end: r.sourceOffset + r.length, index: i, writes: false, path: r.source.path))
            }
        }
        for (_, var extents) in byFile {
            extents.sort { ($0.start, $0.index) < ($1.start, $1.index) }
            // Sweep: the extent reaching furthest so far, and the furthest-reaching writer.
            var furthest: Extent? = nil
            var furthestWriter: Extent? = nil
            for e in extents {
                if e.writes, let f = furthest, f.end > e.start {
                    throw .overlappingRanges(path: e.path, first: min(f.index, e.index), second: max(f.index, e.index))
                }
                if !e.writes, let w = furthestWriter, w.end > e.start {
                    throw .overlappingRanges(path: e.path, first: min(w.index, e.index), second: max(w.index, e.index))
                }
                if furthest == nil || e.end > furthest!.end { furthest = e }
                if e.writes && (furthestWriter == nil || e.end > furthestWriter!.end) { furthestWriter = e }
            }
        }
    }
}
