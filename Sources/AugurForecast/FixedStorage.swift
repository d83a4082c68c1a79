/// Fixed-size storage for the per-observation hot path.
///
/// Why raw buffers: every per-observation structure is allocated once, at init, and never
/// resized, so Swift arrays' copy-on-write machinery buys nothing there while costing a
/// uniqueness check on every element write (plus dynamic exclusivity checks when the array is a
/// class property). The hot-path types are final classes that own such buffers through `let`
/// properties and release them in `deinit`; their elements are accessed with the buffer's
/// debug-mode bounds checks.
///
/// Allocates `count` (≥ 1) elements initialised to `value`.
@inline(__always)
func allocateFixed<Element>(_ count: Int, _ value: Element) -> UnsafeMutableBufferPointer<Element> {
    let buffer = UnsafeMutableBufferPointer<Element>.allocate(capacity: max(count, 1))
    buffer.initialize(repeating: value)
    return buffer
}

/// Deinitialises and frees a buffer from `allocateFixed`.
@inline(__always)
func releaseFixed<Element>(_ buffer: UnsafeMutableBufferPointer<Element>) {
    _ = buffer.deinitialize()
    buffer.deallocate()
}
