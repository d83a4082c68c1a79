/// A file mapped shared and writable, grown only after `fallocate` succeeds, never truncated
/// while mapped (the two rules that keep SIGBUS away: a store can only fault if the page behind
/// it has no backing block or lies past the end of the file).
///
/// Used for WAL segments: writers copy frames straight into `base` at offsets they reserved.
/// Thread-safety: `base` may be written concurrently at disjoint offsets; `grow` and `sync`
/// must be serialised by the owner.
public final class MappedFile: @unchecked Sendable {
    public let handle: any FileHandle
    public private(set) var region: MappedRegion
    /// Earlier, shorter mappings stay alive until the file dies so raw pointers into them held
    /// by readers never dangle.
    private var retired: [MappedRegion] = []

    public var path: String { handle.path }
    public var capacity: Int { region.length }
    public var base: UnsafeMutableRawPointer { region.base }

    /// Creates (or opens) `path`, allocates `capacity` bytes with fallocate, then maps it.
    /// An ENOSPC from fallocate is thrown before anything is mapped.
    public init(fileSystem: any FileSystem, path: String, capacity: Int, create: Bool) throws(FileSystemError) {
        let handle = try fileSystem.open(path, mode: create ? .create : .readWrite)
        do {
            if create { try handle.allocate(size: capacity) }
            let size = try handle.size()
            self.region = try handle.mapShared(length: create ? capacity : size)
        } catch {
            handle.close()
            throw error
        }
        self.handle = handle
    }

    /// Allocates up to `newCapacity` and maps the larger range. Old mappings stay valid.
    public func grow(to newCapacity: Int) throws(FileSystemError) {
        guard newCapacity > capacity else { return }
        try handle.allocate(size: newCapacity)      // first: ENOSPC becomes an error here
        let bigger = try handle.mapShared(length: newCapacity)
        retired.append(region)
        region = bigger
    }

    /// fdatasync: every store made through the mapping before the call is durable after it.
    public func sync() throws(FileSystemError) { try handle.sync() }
    /// fdatasync of `range` only (`FileHandle.syncData(in:)`).
    public func syncData(in range: Range<Int>) throws(FileSystemError) { try handle.syncData(in: range) }

    public func close() { handle.close() }
}
