import Synchronization

/// A thread's claim on one stripe of every ``KeyHistogram`` and one ring of a
/// ``WorkloadRecorder``.
///
/// A thread obtains its slot once, from a ``StatsSlotRegistry``, keeps it in
/// its own per-thread context and passes it to every hot-path call.
///
/// Thread-safety: the value is `Sendable`, but a *claimed* slot is a
/// single-writer capability: at most one thread may use a given slot index at
/// a time (histogram stripes are updated with plain load+store and the ring is
/// single-producer). Handing a slot to another thread is fine only with a
/// happens-before edge between the two uses (release it through the registry
/// and re-acquire it, or hand it over through a lock or queue). Using
/// ``unregistered`` is always safe from any number of threads.
public struct StatsSlot: Sendable, Hashable, CustomStringConvertible {
    /// The slot index, `0..<registry.capacity`, or `-1` for ``unregistered``.
    public let index: Int

    @usableFromInline
    init(index: Int) {
        self.index = index
    }

    /// The slot for threads that have none: histogram updates take the shared
    /// atomic read-modify-write stripe; workload vectors are dropped and counted.
    public static let unregistered = StatsSlot(index: -1)

    /// Whether this is a claimed slot.
    public var isRegistered: Bool { index >= 0 }

    public var description: String { isRegistered ? "StatsSlot(\(index))" : "StatsSlot(unregistered)" }
}

/// Hands out at most ``capacity`` slots, each to one thread at a time.
///
/// Thread-safety: fully thread-safe (`Sendable`); `acquire` and `release` are
/// lock-free compare-and-swap operations on one 64-bit bitmap with
/// acquire/release ordering, so everything a thread did under a slot
/// happens-before everything the next owner of that slot does.
public final class StatsSlotRegistry: Sendable {
    /// Number of slots. Unit: slots. See ``ThreadSlotOptions/maxSlots``.
    public let capacity: Int

    private let claimed = Atomic<UInt64>(0)

    /// Creates a registry with `options.maxSlots` slots (clamped to `1...64`).
    public init(options: ThreadSlotOptions = ThreadSlotOptions()) {
        self.capacity = min(64, max(1, options.maxSlots))
    }

    /// Claims the lowest free slot, or returns `nil` when all are taken (the
    /// caller then runs with ``StatsSlot/unregistered``). Call once per thread.
    public func acquire() -> StatsSlot? {
        let full: UInt64 = capacity == 64 ? .max : (UInt64(1) << UInt64(capacity)) - 1
        var current = claimed.load(ordering: .relaxed)
        while true {
            let free = ~current & full
            if free == 0 { return nil }
            let bit = free & (0 &- free)
            let (exchanged, original) = claimed.compareExchange(
                expected: current, desired: current | bit, ordering: .acquiringAndReleasing)
            if exchanged { return StatsSlot(index: bit.trailingZeroBitCount) }
            current = original
        }
    }

    /// Returns a slot. The thread must not use it afterwards.
    public func release(_ slot: StatsSlot) {
        guard slot.isRegistered, slot.index < capacity else { return }
        claimed.bitwiseAnd(~(UInt64(1) << UInt64(slot.index)), ordering: .releasing)
    }

    /// Number of slots currently claimed.
    public var claimedCount: Int { claimed.load(ordering: .relaxed).nonzeroBitCount }
}
