/// Fixed-capacity ring of `Double`s, allocated once at init.
///
/// Why: every per-observation structure in the models must be O(1) and allocation-free, so
/// history is kept in rings whose storage never grows; pushing into a full ring overwrites
/// the oldest value.
///
/// Thread-safety: a value type; not safe to mutate from several threads at once.
struct RingBuffer: Sendable {
    private(set) var storage: ContiguousArray<Double>
    /// Index of the slot the next push writes.
    private var head = 0
    /// Number of valid values (≤ capacity).
    private(set) var count = 0

    init(capacity: Int) {
        precondition(capacity > 0, "ring capacity must be positive")
        storage = ContiguousArray(repeating: 0, count: capacity)
    }

    var capacity: Int { storage.count }
    var isFull: Bool { count == storage.count }

    /// Appends `value`; returns the value it evicted, if the ring was full.
    @inline(__always)
    @discardableResult
    mutating func push(_ value: Double) -> Double? {
        let evicted: Double? = count == storage.count ? storage[head] : nil
        storage[head] = value
        head += 1
        if head == storage.count { head = 0 }
        if count < storage.count { count += 1 }
        return evicted
    }

    /// The value pushed `age` pushes ago (0 = newest). Requires `age < count`.
    @inline(__always)
    subscript(age age: Int) -> Double {
        var i = head - 1 - age
        if i < 0 { i += storage.count }
        return storage[i]
    }
}
