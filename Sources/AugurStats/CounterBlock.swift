import Synchronization

/// Size and alignment of one counter stripe, in bytes.
///
/// 128 rather than 64: x86 cores' adjacent-line (spatial) prefetcher pulls
/// 64-byte lines in 128-byte aligned pairs, so two threads writing neighbouring
/// 64-byte lines still ping-pong; Apple M-series and some ARM server cores have
/// 128-byte lines outright. Padding every stripe to a multiple of 128 bytes on a
/// 128-byte aligned allocation keeps two threads' stripes from ever sharing a
/// prefetch pair.
public let statsStripeBytes = 128

/// A 128-byte aligned, zero-initialised array of `Atomic<UInt64>` counters in
/// manually managed memory (the stdlib `Synchronization.Atomic` placed in an
/// allocated buffer, so no swift-atomics dependency is needed).
///
/// Thread-safety: the block itself is a bag of atomics; every operation is
/// memory-safe from any thread. ``addSingleWriter(_:_:)`` is exact only while a
/// single thread writes the counter. Ownership: the creator calls
/// ``deallocate()`` exactly once, after every user is gone.
@usableFromInline
struct CounterBlock: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<Atomic<UInt64>>
    @usableFromInline let count: Int

    /// Allocates `count` counters (rounded up to whole 128-byte stripes).
    static func allocate(count: Int) -> CounterBlock {
        let perStripe = statsStripeBytes / MemoryLayout<Atomic<UInt64>>.stride
        let rounded = max(perStripe, (count + perStripe - 1) / perStripe * perStripe)
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: rounded * MemoryLayout<Atomic<UInt64>>.stride, alignment: statsStripeBytes)
        let typed = raw.bindMemory(to: Atomic<UInt64>.self, capacity: rounded)
        for i in 0..<rounded { (typed + i).initialize(to: Atomic<UInt64>(0)) }
        return CounterBlock(base: typed, count: rounded)
    }

    func deallocate() {
        // Atomic<UInt64> is trivially destructible; no deinitialize needed.
        UnsafeMutableRawPointer(base).deallocate()
    }

    @inlinable @inline(__always)
    func load(_ i: Int) -> UInt64 {
        base[i].load(ordering: .relaxed)
    }

    /// Relaxed load + relaxed store: no locked instruction. Exact only with a
    /// single writer of counter `i`; concurrent readers see whole values.
    @inlinable @inline(__always)
    func addSingleWriter(_ i: Int, _ delta: UInt64) {
        let p = base + i
        p.pointee.store(p.pointee.load(ordering: .relaxed) &+ delta, ordering: .relaxed)
    }

    /// Relaxed atomic read-modify-write; exact with any number of writers.
    @inlinable @inline(__always)
    func addShared(_ i: Int, _ delta: UInt64) {
        base[i].wrappingAdd(delta, ordering: .relaxed)
    }

    @inlinable @inline(__always)
    func store(_ i: Int, _ value: UInt64) {
        base[i].store(value, ordering: .relaxed)
    }
}
