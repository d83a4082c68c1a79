// What the RangeCopier tests share: a scratch directory, seeded random jobs against a reference
// copy, and a handle that reads short. Split from RangeCopierTests.swift (issue 17: files under
// about 500 lines).
import Testing
import Synchronization
@testable @_spi(Testing) import AugurSys
import AugurTestSupport
import CAugurSys

import AugurStats
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: - helpers

/// A scratch directory, removed (with its files) when the test ends.
final class ScratchDirectory {
    let path: String

    init(_ label: String) {
        let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
        var template = Array("\(base)/augur-rangecopy-\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed: \(errno)")
        path = String(cString: made!)
    }

    func file(_ name: String) -> String { joinPath(path, name) }

    deinit {
        if let dir = opendir(path) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: entry.pointee.d_name) { p in
                    p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            for n in names {
                let p = joinPath(path, n)
                var st = stat()
                if stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                    if let sub = opendir(p) {
                        var inner: [String] = []
                        while let e = readdir(sub) {
                            let m = withUnsafePointer(to: e.pointee.d_name) { q in
                                q.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                            }
                            if m != "." && m != ".." { inner.append(m) }
                        }
                        closedir(sub)
                        for m in inner { unlink(joinPath(p, m)) }
                    }
                    rmdir(p)
                } else {
                    unlink(p)
                }
            }
        }
        rmdir(path)
    }
}

func randomBytes(_ count: Int, _ rng: inout SplitMix64) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    out.withUnsafeMutableBytes { b in
        var i = 0
        while i + 8 <= count {
            b.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < count { b[i] = UInt8(truncatingIfNeeded: rng.next()); i += 1 }
    }
    return out
}

func writeFile(_ fs: any FileSystem, _ path: String, _ bytes: [UInt8]) throws {
    let h = try fs.open(path, mode: .create)
    defer { h.close() }
    try h.write(at: 0, bytes)
}

/// Index of the first byte where two arrays differ, or nil if they are equal.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
    if a == b { return nil }
    let n = min(a.count, b.count)
    for i in 0..<n where a[i] != b[i] { return i }
    return n
}

/// A random copy job over real files: sources with random contents, ranges of every kind,
/// targets laid out without overlap, and the bytes each target must hold afterwards.
struct RandomJob {
    var sources: [[UInt8]] = []
    var sourcePaths: [String] = []
    var targetPaths: [String] = []
    /// (source index, source offset, length, target index, target offset)
    var ranges: [(Int, Int, Int, Int, Int)] = []
    var expected: [[UInt8]] = []

    init(seed: UInt64, in dir: ScratchDirectory, chunk: Int, depth: Int) {
        var rng = SplitMix64(seed: seed)
        let sourceCount = 1 + Int(rng.next() % 3)
        for s in 0..<sourceCount {
            // Up to ~3 MiB each, odd sizes.
            let size = Int(rng.next() % UInt64(3 << 20)) + Int(rng.next() % 4097)
            sources.append(randomBytes(size, &rng))
            sourcePaths.append(dir.file("source-\(s)"))
        }
        let targetCount = 1 + Int(rng.next() % 3)
        for t in 0..<targetCount { targetPaths.append(dir.file("target-\(t)")) }
        var cursor = [Int](repeating: 0, count: targetCount)
        expected = [[UInt8]](repeating: [], count: targetCount)
        // More ranges than the queue depth, of every kind.
        let rangeCount = depth + 4 + Int(rng.next() % 40)
        for _ in 0..<rangeCount {
            let s = Int(rng.next() % UInt64(sourceCount))
            let size = sources[s].count
            let length: Int
            switch rng.next() % 6 {
            case 0: length = 0                                          // empty
            case 1: length = 1 + Int(rng.next() % 64)                   // tiny
            case 2: length = 1 + Int(rng.next() % 8192)                 // small, unaligned
            case 3: length = chunk + Int(rng.next() % UInt64(2 * chunk)) // larger than a chunk
            case 4: length = Int(rng.next() % UInt64(size + 1))         // anything up to the file
            default: length = chunk - 1 + Int(rng.next() % 3)           // chunk boundary ±1
            }
            let len = min(length, size)
            let offset = Int(rng.next() % UInt64(size - len + 1))
            let t = Int(rng.next() % UInt64(targetCount))
            let gap = rng.next() % 4 == 0 ? Int(rng.next() % 10_000) : 0
            let targetOffset = cursor[t] + gap
            ranges.append((s, offset, len, t, targetOffset))
            if len > 0 {
                cursor[t] = targetOffset + len
                if expected[t].count < targetOffset + len {
                    expected[t].append(contentsOf: [UInt8](repeating: 0, count: targetOffset + len - expected[t].count))
                }
                expected[t].replaceSubrange(targetOffset..<targetOffset + len, with: sources[s][offset..<offset + len])
            }
        }
        // Shuffle so ranges into one target are not in target order.
        for i in stride(from: ranges.count - 1, to: 0, by: -1) {
            ranges.swapAt(i, Int(rng.next() % UInt64(i + 1)))
        }
    }

    var totalBytes: Int { ranges.reduce(0) { $0 + $1.2 } }

    func open(_ fs: any FileSystem) throws -> (sources: [any FileHandle], targets: [any FileHandle], ranges: [CopyRange]) {
        for (i, p) in sourcePaths.enumerated() { try writeFile(fs, p, sources[i]) }
        let s = try sourcePaths.map { try fs.open($0, mode: .readOnly) }
        let t = try targetPaths.map { try fs.open($0, mode: .createNew) }
        let r = ranges.map { CopyRange(source: s[$0.0], sourceOffset: $0.1, length: $0.2, target: t[$0.3], targetOffset: $0.4) }
        return (s, t, r)
    }
}

extension RangeCopier.Options.BackendChoice {
    var expected: RangeCopyBackend? {
        switch self {
        case .auto: nil
        case .ioUring: .ioUring
        case .copyFileRange: .copyFileRange
        case .readWrite: .readWrite
        }
    }
}

/// Runs `body` and returns the RangeCopyError it threw, or nil.
func copyError(_ body: () throws(RangeCopyError) -> Void) -> RangeCopyError? {
    do { try body(); return nil } catch { return error }
}

/// A handle that returns at most `limit` bytes per read, to exercise short-read handling.
final class ShortReadingHandle: FileHandle, @unchecked Sendable {
    let base: any FileHandle
    let limit: Int
    let reads = Atomic<Int>(0)
    init(base: any FileHandle, limit: Int) { self.base = base; self.limit = limit }
    var path: String { base.path }
    func size() throws(FileSystemError) -> Int { try base.size() }
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws(FileSystemError) -> Int {
        reads.add(1, ordering: .relaxed)
        return try base.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(limit, buffer.count)]))
    }
    func write(at offset: Int, _ bytes: UnsafeRawBufferPointer) throws(FileSystemError) { try base.write(at: offset, bytes) }
    func sync() throws(FileSystemError) { try base.sync() }
    func allocate(size: Int) throws(FileSystemError) { try base.allocate(size: size) }
    func truncate(size: Int) throws(FileSystemError) { try base.truncate(size: size) }
    func mapReadOnly(length: Int) throws(FileSystemError) -> MappedRegion { try base.mapReadOnly(length: length) }
    func mapShared(length: Int) throws(FileSystemError) -> MappedRegion { try base.mapShared(length: length) }
    func close() { base.close() }
}
