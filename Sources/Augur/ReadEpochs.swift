// Epoch-based reclamation for the point-read path.
//
// Why: a get used to take the table's map mutex and the partition's state mutex and retain
// the map, the partition and every layer of its view (memtable, frozen list, run list) —
// about seven atomic read-modify-writes on cache lines every reading thread shares. At two
// threads those lines ping-pong between cores on every get; a profile of readrandom showed
// 10 % of the time in retain/release and two threads no faster than one.
//
// How: what a get reads (the table's map, a partition's view) is published as an unretained
// pointer and read without retaining anything, inside a read section. A read section bumps
// one counter on the reading thread's own 128-byte stripe (no line shared with other
// threads). A writer that replaces a published object hands the old one to `retire`, which
// keeps it alive until every read section that might still see it has ended.
//
// The protocol (classic epoch-based reclamation with two counter parities):
//   * `epoch` only grows. A reader loads it (e), increments its stripe's counter of parity
//     e & 1, and loads `epoch` again: if it moved, it undoes the increment and retries. So a
//     read section is counted under the parity of an epoch that was current while it was
//     counted, and everything it loads afterwards was published no earlier than that epoch.
//   * An object unpublished and then retired while the epoch was R may be held only by read
//     sections that began at an epoch ≤ R. The epoch advances from E to E + 1 only when no
//     read section of parity (E - 1) & 1 remains (all sections begun at E - 1 or earlier with
//     that parity have ended; those of parity E & 1 begun before E ended at the previous
//     advance). Hence at epoch R + 2 no section begun at ≤ R remains, and the object is freed.
//   * All counter operations and epoch loads/stores are sequentially consistent: the reader's
//     "increment, then load the pointer" and the writer's "unpublish, then read the counters"
//     must not both be reordered (the store-load case that needs a full fence).
//
// Reclamation never blocks a writer: `retire` advances as far as read sections allow and
// leaves the rest for the next `retire` or `reclaim` (the engine's telemetry tick, its
// maintenance passes, close); what it frees is dropped on a queue of its own, never under
// the caller's locks. A reader preempted inside its section delays frees, never
// correctness.
import AugurStats
import AugurSys
import Dispatch
import Synchronization

/// The process-wide read-section domain (see the file comment). Thread-safe.
final class ReadEpochs: @unchecked Sendable {
    static let shared = ReadEpochs()

    /// Stripes per parity; a thread uses stripe `tid % stripes`. A power of two.
    static let stripes = 64
    private static let slotsPerStripe = statsStripeBytes / MemoryLayout<Atomic<Int>>.stride

    private let epoch = Atomic<UInt64>(2)
    /// `2 × stripes` counters, each alone on a 128-byte stripe: parity p, stripe s at
    /// `(p * stripes + s) * slotsPerStripe`.
    private let counters: UnsafeMutablePointer<Atomic<Int>>
    /// Retired objects and the epoch they were retired at (oldest first), under `limboLock`.
    private let limboLock = PThreadMutex()
    private var limbo: [(epoch: UInt64, object: AnyObject)] = []
    /// Whether `limbo` may hold anything (read without the lock by `reclaim`).
    private let pending = Atomic<Int>(0)
    /// Objects taken out of limbo and not yet dropped (see `drain`).
    private let releasing = Atomic<Int>(0)

    init() {
        let count = 2 * Self.stripes * Self.slotsPerStripe
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Atomic<Int>>.stride,
                                                   alignment: statsStripeBytes)
        counters = raw.bindMemory(to: Atomic<Int>.self, capacity: count)
        for i in 0..<count { (counters + i).initialize(to: Atomic<Int>(0)) }
    }

    deinit { UnsafeMutableRawPointer(counters).deallocate() }

    /// A begun read section: the counter to give back.
    struct Section {
        fileprivate let counter: UnsafeMutablePointer<Atomic<Int>>
    }

    @inline(__always)
    private func counter(parity: UInt64, stripe: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        counters + (Int(parity) * Self.stripes + stripe) * Self.slotsPerStripe
    }

    /// Begins a read section: until `end`, nothing retired after this call is freed.
    @inline(__always)
    func begin() -> Section {
        let stripe = Int(currentThreadID()) & (Self.stripes - 1)
        while true {
            let e = epoch.load(ordering: .sequentiallyConsistent)
            let c = counter(parity: e & 1, stripe: stripe)
            c.pointee.wrappingAdd(1, ordering: .sequentiallyConsistent)
            if epoch.load(ordering: .sequentiallyConsistent) == e { return Section(counter: c) }
            c.pointee.wrappingSubtract(1, ordering: .releasing)
        }
    }

    /// Ends a read section; nothing read inside it may be used afterwards.
    @inline(__always)
    func end(_ section: Section) {
        section.counter.pointee.wrappingSubtract(1, ordering: .releasing)
    }

    /// Runs `body` inside a read section.
    @inline(__always)
    func read<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        let s = begin()
        defer { end(s) }
        return try body()
    }

    /// What the objects `retire` frees are dropped on. Their deinits may unmap a run's file and
    /// unlink it — milliseconds for a file of hundreds of MiB — and `retire` is called under
    /// locks writers wait for: a partition's state lock (a flush installing its run), a
    /// reshard's cutover gates (the table's map). Dropped inline, 9 of 21 cutovers of a 1 GiB
    /// partition held writers over 1 ms (up to 58 ms; `augur-bench --workload reshard`). A
    /// serial queue at the process's priority, holding no engine lock, drops them instead;
    /// `drain` waits for it through `releasing`.
    private let releaseQueue = DispatchQueue(label: "augur.read-epochs.release")

    /// Keeps `object` (already unpublished: no new read section can reach it) alive until
    /// every read section that might hold it has ended, then drops it (on `releaseQueue`).
    func retire(_ object: AnyObject) {
        let freed = limboLock.withLock {
            limbo.append((epoch.load(ordering: .sequentiallyConsistent), object))
            pending.store(limbo.count, ordering: .relaxed)
            return collect()
        }
        if freed.isEmpty { return }
        let batch = ReleaseBatch(freed)
        releaseQueue.async { [self] in
            let n = batch.drop()
            releasing.wrappingSubtract(n, ordering: .releasing)
        }
    }

    /// Frees what no read section can hold any more. Cheap when nothing is retired.
    func reclaim() {
        if pending.load(ordering: .relaxed) == 0 { return }
        var freed = limboLock.withLock { collect() }
        release(&freed)
    }

    /// Frees everything retired before the call, waiting for the read sections that hold it to
    /// end (each lasts one point lookup; a section preempted for longer than a second is left
    /// to a later `reclaim`) and for threads that took freed objects out of limbo to finish
    /// dropping them. For close and tests: a closed engine's runs must not outlive it.
    func drain() {
        let start = epoch.load(ordering: .sequentiallyConsistent)
        for _ in 0..<20_000 {
            var done = false
            var freed = limboLock.withLock {
                let f = collect()
                done = !limbo.contains { $0.epoch <= start }
                return f
            }
            release(&freed)
            // What retires handed to the release queue is dropped there; wait for it, however
            // long the queue's thread waits for the CPU (a bounded wait let close return with a
            // run's file still to be unlinked, on a loaded machine: augur-crash's power-loss
            // check then found the file left behind by the first recovery).
            releaseQueue.sync {}
            // Another thread's `reclaim` (a telemetry tick) may have taken this engine's
            // objects out of limbo and not yet dropped them: their deinits (a run's file
            // unlinked) must not run after close returns.
            if done && releasing.load(ordering: .acquiring) == 0 { return }
            ThreadPause.sleep(nanoseconds: 50_000)
        }
    }

    /// Drops objects `collect` took out of limbo, outside the limbo lock (a deinit may unmap
    /// and unlink a file).
    private func release(_ objects: inout [AnyObject]) {
        let n = objects.count
        if n == 0 { return }
        objects.removeAll()
        releasing.wrappingSubtract(n, ordering: .releasing)
    }

    /// Objects taken out of limbo, on their way to `releaseQueue`.
    /// Thread-safe by hand-over: unpublished and out of limbo, nothing but this batch refers to
    /// them, and only the release queue touches the batch after `retire` made it.
    private final class ReleaseBatch: @unchecked Sendable {
        private var objects: [AnyObject]
        init(_ objects: [AnyObject]) { self.objects = objects }
        /// Drops the objects (running their deinits); returns how many.
        func drop() -> Int {
            let n = objects.count
            objects.removeAll()
            return n
        }
    }

    /// Objects still waiting for read sections to end (tests).
    var retiredCount: Int { limboLock.withLock { limbo.count } }

    /// Advances the epoch as far as read sections allow (at most twice: that frees all that
    /// was retired before the call) and takes out the objects that became free. Caller holds
    /// the limbo lock.
    private func collect() -> [AnyObject] {
        guard !limbo.isEmpty else { return [] }
        for _ in 0..<2 {
            let e = epoch.load(ordering: .sequentiallyConsistent)
            if limbo.allSatisfy({ $0.epoch &+ 2 <= e }) { break }
            let old = (e &+ 1) & 1              // parity of e − 1 (and of e + 1)
            var busy = false
            for s in 0..<Self.stripes where counter(parity: old, stripe: s).pointee.load(ordering: .sequentiallyConsistent) != 0 {
                busy = true
                break
            }
            if busy { break }
            epoch.store(e &+ 1, ordering: .sequentiallyConsistent)
        }
        let now = epoch.load(ordering: .sequentiallyConsistent)
        var freed: [AnyObject] = []
        limbo.removeAll { entry in
            guard entry.epoch &+ 2 <= now else { return false }
            freed.append(entry.object)
            return true
        }
        pending.store(limbo.count, ordering: .relaxed)
        releasing.wrappingAdd(freed.count, ordering: .relaxed)
        return freed
    }
}

/// A strong reference published for unretained reads: readers load it inside a read section
/// and use it without retaining; `replace` retires the previous object through `ReadEpochs`.
/// Writers serialise `replace` themselves (each owner does it under its own lock).
struct PublishedReference<Object: AnyObject>: ~Copyable {
    private let bits: Atomic<UInt>

    init(_ object: Object) {
        bits = Atomic(UInt(bitPattern: Unmanaged.passRetained(object).toOpaque()))
    }

    deinit {
        // The owner is going away: no read section can reach it any more (it was reached only
        // through objects that are themselves retired through ReadEpochs).
        Unmanaged<Object>.fromOpaque(UnsafeRawPointer(bitPattern: bits.load(ordering: .relaxed))!).release()
    }

    /// The current object, unretained: valid only inside a read section begun before this
    /// call (or while the caller otherwise keeps the owner's writers out).
    @inline(__always)
    func unretained() -> Unmanaged<Object> {
        Unmanaged.fromOpaque(UnsafeRawPointer(bitPattern: bits.load(ordering: .sequentiallyConsistent))!)
    }

    /// Publishes `object` and retires the previous one through `epochs` (the process's domain;
    /// tests pass their own, so that read sections of engines running beside them cannot delay
    /// the frees they check).
    func replace(with object: Object, retiringIn epochs: ReadEpochs = .shared) {
        let new = UInt(bitPattern: Unmanaged.passRetained(object).toOpaque())
        let old = bits.exchange(new, ordering: .sequentiallyConsistent)
        epochs.retire(Unmanaged<Object>.fromOpaque(UnsafeRawPointer(bitPattern: old)!).takeRetainedValue())
    }
}
