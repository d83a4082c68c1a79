/// A mapped (or, in the simulated file system, pinned) range of a file's bytes.
///
/// Thread-safety: immutable after creation; the bytes may be read from any thread. A shared
/// writable region may be written concurrently at disjoint offsets. The mapping is released
/// when the last reference goes away, which is how segments stay readable until no reader
/// holds them even after their file was unlinked.
public final class MappedRegion: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let length: Int
    private let release: @Sendable (UnsafeMutableRawPointer, Int) -> Void

    public init(base: UnsafeMutableRawPointer, length: Int,
                release: @escaping @Sendable (UnsafeMutableRawPointer, Int) -> Void) {
        self.base = base
        self.length = length
        self.release = release
    }

    deinit { release(base, length) }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: length) }
}
