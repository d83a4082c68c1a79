import Synchronization

/// Counters of a ``WorkloadRecorder``.
///
/// Thread-safety: value type, `Sendable`.
public struct RecorderStatistics: Sendable, Hashable {
    /// Vectors successfully pushed into rings. Unit: vectors.
    public var pushed: UInt64
    /// Vectors dropped because their ring was full. Unit: vectors.
    public var droppedFull: UInt64
    /// Operations offered by threads without a slot (not sampled, dropped). Unit: operations.
    public var droppedUnslotted: UInt64
    /// Vectors taken out of the rings by consumers. Unit: vectors.
    public var drained: UInt64
}

/// Samples operations into per-thread single-producer/single-consumer rings of
/// ``WorkloadVector``s, without locks.
///
/// Each registered ``StatsSlot`` owns one ring and one sampling state. The
/// producer (the thread holding the slot) decrements a per-slot countdown on
/// every ``record(_:partition:key:timestamp:clientID:bytes:slot:)``; only when
/// it reaches zero does it hash the key, build a vector and push it. A full
/// ring drops the vector and counts the drop; the producer never blocks or
/// spins. Ring memory is one contiguous 128-byte aligned buffer; each slot's
/// control words sit in two 128-byte stripes: one written only by the
/// producer (head, countdown, generator, drop count, cached tail), one written
/// only by the consumer (tail), so producer and consumer never false-share.
///
/// Memory ordering: the producer writes the element, then publishes `head`
/// with a release store; the consumer reads `head` with an acquire load,
/// copies the elements, then publishes `tail` with a release store, which the
/// producer acquires before reusing those cells.
///
/// Thread-safety: `Sendable`. `record`/`push` for a slot must come from the one
/// thread holding that slot (any thread may pass ``StatsSlot/unregistered``);
/// `drain` of a given slot must be called by one consumer at a time (the
/// ``WorkloadCollector`` serialises its drains). ``statistics()`` may be read
/// from any thread.
public final class WorkloadRecorder: @unchecked Sendable {
    /// The slot registry whose slots index the rings.
    public let slots: StatsSlotRegistry
    /// The options in force.
    public let options: SamplingOptions
    /// Capacity of each ring after rounding up to a power of two. Unit: vectors.
    public let ringCapacity: Int

    // The first three are `@usableFromInline` for the inlinable countdown in `record`.
    @usableFromInline let slotCount: Int
    @usableFromInline let ctrl: CounterBlock
    @usableFromInline let unslotted = Atomic<UInt64>(0)
    private let mask: UInt64
    private let period: UInt32
    private let gapSpan: UInt64  // 2·period − 1
    private let storage: UnsafeMutablePointer<WorkloadVector>

    // Control-word layout per slot: 32 words = two 128-byte stripes. The two the inlined fast
    // path uses are computed constants (a `static let` would be a lazily initialised global,
    // reached through an accessor call from another module).
    @inlinable static var wordsPerSlot: Int { 32 }
    @inlinable static var countdown: Int { 1 }
    private static let head = 0, rng = 2, drops = 3, cachedTail = 4, pushedCount = 5
    private static let tail = 16, drainedCount = 17

    /// Creates a recorder with one ring per slot of `slots`.
    public init(slots: StatsSlotRegistry, options: SamplingOptions = SamplingOptions()) {
        precondition(options.samplingPeriod >= 1 && options.samplingPeriod <= 1 << 30, "samplingPeriod must be in 1...2^30")
        precondition(options.ringCapacity >= 2 && options.ringCapacity <= 1 << 24, "ringCapacity must be in 2...2^24")
        self.slots = slots
        self.options = options
        var cap = 2
        while cap < options.ringCapacity { cap <<= 1 }
        self.ringCapacity = cap
        self.mask = UInt64(cap - 1)
        self.slotCount = slots.capacity
        self.period = options.samplingPeriod
        self.gapSpan = 2 * UInt64(options.samplingPeriod) - 1
        self.ctrl = CounterBlock.allocate(count: slots.capacity * WorkloadRecorder.wordsPerSlot)
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: slots.capacity * cap * MemoryLayout<WorkloadVector>.stride, alignment: statsStripeBytes)
        self.storage = raw.bindMemory(to: WorkloadVector.self, capacity: slots.capacity * cap)
        let zero = WorkloadVector(type: .store, partition: 0, keyHash: 0, keyPrefix: 0, timestamp: 0, clientID: 0, bytes: 0)
        storage.initialize(repeating: zero, count: slots.capacity * cap)
        for s in 0..<slotCount {
            let c = s * WorkloadRecorder.wordsPerSlot
            var state = KeyHash.mix(options.seed ^ (UInt64(s + 1) &* 0x9E37_79B9_7F4A_7C15))
            if state == 0 { state = 0x1234_5678 }
            ctrl.store(c + WorkloadRecorder.rng, state)
            ctrl.store(c + WorkloadRecorder.countdown, nextGap(c))
        }
    }

    deinit {
        storage.deinitialize(count: slotCount * ringCapacity)
        UnsafeMutableRawPointer(storage).deallocate()
        ctrl.deallocate()
    }

    /// Draws the gap to the next sample (mean = period) from the slot's generator.
    @inline(__always)
    private func nextGap(_ c: Int) -> UInt64 {
        if period == 1 { return 1 }
        var x = ctrl.load(c + WorkloadRecorder.rng)
        x ^= x &>> 12
        x ^= x &<< 25
        x ^= x &>> 27
        ctrl.store(c + WorkloadRecorder.rng, x)
        let r = x &* 2_685_821_657_736_338_717
        return 1 &+ r.multipliedFullWidth(by: gapSpan).high
    }

    // MARK: - Producer (hot path)

    /// Offers one operation to the sampler. Most calls only decrement the
    /// slot's countdown (two relaxed word accesses); a sampled call hashes the
    /// key and pushes a vector with `weight = samplingPeriod`. Never blocks,
    /// never allocates.
    ///
    /// - Parameters:
    ///   - type: the operation type.
    ///   - partition: the partition the operation hit.
    ///   - key: the key (scan: start key).
    ///   - timestamp: engine-clock time. Unit: nanoseconds.
    ///   - clientID: the issuing client.
    ///   - bytes: payload size. Unit: bytes.
    ///   - slot: the calling thread's slot.
    ///
    /// Inlinable: the countdown is inlined into the caller; a sampled call goes to
    /// `recordSample` (not inlined).
    @inlinable
    public func record(_ type: OperationType, partition: UInt64, key: UnsafeRawBufferPointer,
                       timestamp: UInt64, clientID: UInt64, bytes: UInt64, slot: StatsSlot) {
        let s = slot.index
        guard UInt(bitPattern: s) < UInt(bitPattern: slotCount) else {
            unslotted.wrappingAdd(1, ordering: .relaxed)
            return
        }
        let c = s &* WorkloadRecorder.wordsPerSlot
        let cd = ctrl.load(c &+ WorkloadRecorder.countdown)
        if cd > 1 {
            ctrl.store(c &+ WorkloadRecorder.countdown, cd &- 1)
            return
        }
        recordSample(type, partition: partition, key: key, timestamp: timestamp, clientID: clientID,
                     bytes: bytes, slotIndex: s)
    }

    /// The sampled branch of `record`: draws the next gap, builds the vector, pushes it.
    @usableFromInline @inline(never)
    func recordSample(_ type: OperationType, partition: UInt64, key: UnsafeRawBufferPointer,
                      timestamp: UInt64, clientID: UInt64, bytes: UInt64, slotIndex s: Int) {
        let c = s &* WorkloadRecorder.wordsPerSlot
        ctrl.store(c &+ WorkloadRecorder.countdown, nextGap(c))
        let v = WorkloadVector(type: type, partition: partition, keyHash: KeyHash.hash(key),
                               keyPrefix: KeyPositionMap.window(key, from: 0), timestamp: timestamp,
                               clientID: clientID, bytes: bytes, weight: period)
        _ = push(v, slotIndex: s)
    }

    /// `[UInt8]` convenience for ``record(_:partition:key:timestamp:clientID:bytes:slot:)``.
    @inlinable
    public func record(_ type: OperationType, partition: UInt64, key: [UInt8],
                       timestamp: UInt64, clientID: UInt64, bytes: UInt64, slot: StatsSlot) {
        key.withUnsafeBytes {
            record(type, partition: partition, key: $0, timestamp: timestamp, clientID: clientID, bytes: bytes, slot: slot)
        }
    }

    /// Pushes `vector` into `slot`'s ring unconditionally (no sampling; the
    /// vector's own `weight` is kept). Returns false, and counts a drop, when the
    /// ring is full or the slot is unregistered.
    @discardableResult
    public func push(_ vector: WorkloadVector, slot: StatsSlot) -> Bool {
        let s = slot.index
        guard UInt(bitPattern: s) < UInt(bitPattern: slotCount) else {
            unslotted.wrappingAdd(1, ordering: .relaxed)
            return false
        }
        return push(vector, slotIndex: s)
    }

    @inline(__always)
    private func push(_ v: WorkloadVector, slotIndex s: Int) -> Bool {
        let c = s &* WorkloadRecorder.wordsPerSlot
        let head = ctrl.load(c &+ WorkloadRecorder.head)
        var tail = ctrl.load(c &+ WorkloadRecorder.cachedTail)
        if head &- tail >= UInt64(ringCapacity) {
            tail = ctrl.base[c &+ WorkloadRecorder.tail].load(ordering: .acquiring)
            ctrl.store(c &+ WorkloadRecorder.cachedTail, tail)
            if head &- tail >= UInt64(ringCapacity) {
                ctrl.addSingleWriter(c &+ WorkloadRecorder.drops, 1)
                return false
            }
        }
        storage[s &* ringCapacity &+ Int(truncatingIfNeeded: head & mask)] = v
        ctrl.base[c &+ WorkloadRecorder.head].store(head &+ 1, ordering: .releasing)
        ctrl.addSingleWriter(c &+ WorkloadRecorder.pushedCount, 1)
        return true
    }

    // MARK: - Consumer

    /// Takes up to `maxCount` vectors out of `slotIndex`'s ring, oldest first,
    /// passing each to `body`. Returns how many were taken. One consumer per
    /// ring at a time.
    @discardableResult
    public func drain(slotIndex s: Int, maxCount: Int = .max, _ body: (WorkloadVector) -> Void) -> Int {
        precondition(s >= 0 && s < slotCount, "slot index out of range")
        let c = s &* WorkloadRecorder.wordsPerSlot
        let tail = ctrl.load(c &+ WorkloadRecorder.tail)
        let head = ctrl.base[c &+ WorkloadRecorder.head].load(ordering: .acquiring)
        let available = head &- tail
        let n = Int(min(available, UInt64(max(0, maxCount))))
        if n == 0 { return 0 }
        let base = storage + s &* ringCapacity
        for i in 0..<n {
            body(base[Int(truncatingIfNeeded: (tail &+ UInt64(i)) & mask)])
        }
        ctrl.base[c &+ WorkloadRecorder.tail].store(tail &+ UInt64(n), ordering: .releasing)
        ctrl.addSingleWriter(c &+ WorkloadRecorder.drainedCount, UInt64(n))
        return n
    }

    /// Drains every ring (see ``drain(slotIndex:maxCount:_:)``). Returns the number of vectors taken.
    @discardableResult
    public func drainAll(maxPerSlot: Int = .max, _ body: (WorkloadVector) -> Void) -> Int {
        var total = 0
        for s in 0..<slotCount { total += drain(slotIndex: s, maxCount: maxPerSlot, body) }
        return total
    }

    /// Number of slots (rings).
    public var ringCount: Int { slotCount }

    /// Current counters (relaxed reads; exact once producers are quiescent).
    public func statistics() -> RecorderStatistics {
        var st = RecorderStatistics(pushed: 0, droppedFull: 0, droppedUnslotted: unslotted.load(ordering: .relaxed), drained: 0)
        for s in 0..<slotCount {
            let c = s * WorkloadRecorder.wordsPerSlot
            st.pushed &+= ctrl.load(c + WorkloadRecorder.pushedCount)
            st.droppedFull &+= ctrl.load(c + WorkloadRecorder.drops)
            st.drained &+= ctrl.load(c + WorkloadRecorder.drainedCount)
        }
        return st
    }

    /// Ring-full drops of one slot.
    public func drops(slotIndex s: Int) -> UInt64 {
        ctrl.load(s * WorkloadRecorder.wordsPerSlot + WorkloadRecorder.drops)
    }
}
