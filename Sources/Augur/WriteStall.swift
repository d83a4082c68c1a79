// Write stalls: the one place a writer waits for background work.
//
// Why: a memtable is frozen and written out by the partition's flush, which runs on one
// lowered background thread and may be busy merging runs for seconds. Writers never waited for
// it, so a partition written faster than it flushed grew its active memtable without bound
// (10 M random puts at one thread: flushes of 68–85 MB from a 32 MiB memtable; a faster writer
// or a slower disk would run the process out of memory). Now a writer whose partition's
// active memtable has reached `EngineOptions.writeStallMemtableBytes` (4 × the flush size, at least 4 MiB, by default: see
// docs/ARCHITECTURE.md, "Write stalls") waits — after its own write is applied and outside every gate, so nothing it holds
// delays the flush — until that memtable is frozen (the flush has taken it), the partition is
// retired by a reshard, the engine closes, or a background error stops flushing (then waiting
// would never end, and the write itself already succeeded). Each wait is counted with its
// reason (`Engine.writeStalls`), like RocksDB's write-stall statistics.
import AugurSys
import Synchronization

/// How often and how long writers waited for flushes, and why the last one did.
public struct WriteStallStats: Sendable, Equatable {
    /// Writes that waited.
    public var stalls: Int
    /// Total time they waited, in nanoseconds.
    public var stalledNanos: UInt64
    /// The last stall's reason: the partition, its memtable's size and the limit.
    public var lastReason: String?
}

/// Counters of `WriteStallStats`. Thread-safe: atomics and a mutex.
final class WriteStallMeter: Sendable {
    private let stalls = Atomic<Int>(0)
    private let nanos = Atomic<UInt64>(0)
    private let reason = Mutex<String?>(nil)

    func record(nanos n: UInt64, reason text: String) {
        stalls.add(1, ordering: .relaxed)
        nanos.add(n, ordering: .relaxed)
        reason.withLock { $0 = text }
    }

    var stats: WriteStallStats {
        WriteStallStats(stalls: stalls.load(ordering: .relaxed), stalledNanos: nanos.load(ordering: .relaxed),
                        lastReason: reason.withLock { $0 })
    }
}

extension Engine {
    /// How often and how long writers waited for their partition's flush (see WriteStall.swift).
    public var writeStalls: WriteStallStats { flusher.stallMeter.stats }
}

extension Table {
    /// Memtables frozen and waiting for their flush, per partition in key order (tests).
    @_spi(Testing) public var frozenMemtableCounts: [Int] { map.partitions.map(\.frozenMemtables) }
}

extension Flusher {
    /// After a write to `p` whose active memtable (with its index layers) holds `bytes`:
    /// schedules the flush once it is due, and waits while the memtable is past the stall limit.
    /// Call with no gate held.
    @inline(__always)
    func afterWrite(to p: Partition, memtable: Memtable, bytes: Int) {
        if bytes < flushSize { return }
        freezeFull(p, memtable)
        scheduleFlush(p)
        if bytes >= stallSize { waitForFlush(p, memtable: memtable, bytes: bytes) }
    }

    private func waitForFlush(_ p: Partition, memtable: Memtable, bytes: Int) {
        let started = MonotonicClock.nanos()
        var waited: UInt64 = 0
        while p.isActive(memtable) && !p.retired && !lifecycle.isClosed && !lifecycle.errorPending {
            // Polled: a stall lasts as long as a flush (milliseconds to seconds), and writers
            // past the limit are rare — a wake-up list would cost every flush its bookkeeping.
            ThreadPause.sleep(nanoseconds: 100_000)
            waited = MonotonicClock.nanos() &- started
            // A flush that has not taken the memtable in this long is not coming (a fault the
            // background error did not report): a hung writer is worse than a large memtable.
            if waited > Self.stallGiveUpNanos { break }
        }
        let gaveUp = waited > Self.stallGiveUpNanos ? " (gave up)" : ""
        stallMeter.record(nanos: waited, reason: "partition \(p.id): memtable \(bytes) B ≥ writeStallMemtableBytes \(stallSize) B while its flush was behind; waited \(waited / 1_000) µs\(gaveUp)")
    }

    /// The longest a writer waits for one flush.
    static var stallGiveUpNanos: UInt64 { 30_000_000_000 }
}
