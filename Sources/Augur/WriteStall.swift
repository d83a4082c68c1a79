// Write stalls: the one place a writer waits for background work (and, before it, the write
// slowdown's short sleeps: WritePacing.swift).
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
    /// Writes that slept in a write slowdown, before the stall limit (WritePacing.swift).
    public var slowdowns: Int = 0
    /// Total time they slept, in nanoseconds.
    public var slowedNanos: UInt64 = 0
}

/// Counters of `WriteStallStats`. Thread-safe: atomics and a mutex.
final class WriteStallMeter: Sendable {
    private let stalls = Atomic<Int>(0)
    private let nanos = Atomic<UInt64>(0)
    private let reason = Mutex<String?>(nil)
    private let slowdowns = Atomic<Int>(0)
    private let slowedNanos = Atomic<UInt64>(0)

    func record(nanos n: UInt64, reason text: String) {
        stalls.add(1, ordering: .relaxed)
        nanos.add(n, ordering: .relaxed)
        reason.withLock { $0 = text }
    }

    /// A write that slept `n` nanoseconds in a slowdown (no reason kept: they come by the
    /// thousand, and the partition's memtable says why).
    func recordSlowdown(nanos n: UInt64) {
        slowdowns.add(1, ordering: .relaxed)
        slowedNanos.add(n, ordering: .relaxed)
    }

    var stats: WriteStallStats {
        WriteStallStats(stalls: stalls.load(ordering: .relaxed), stalledNanos: nanos.load(ordering: .relaxed),
                        lastReason: reason.withLock { $0 }, slowdowns: slowdowns.load(ordering: .relaxed),
                        slowedNanos: slowedNanos.load(ordering: .relaxed))
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
    /// After a write of `written` bytes to `p` whose active memtable (with its index layers)
    /// holds `bytes`: schedules the flush once it is due, waits while the memtable is past the
    /// stall limit, and past the slowdown mark charges the write to `p`'s pacing clock
    /// (WritePacing.swift). Returns the nanoseconds the writer owes the slowdown: a commit
    /// charges every partition it wrote, then sleeps the largest debt once (`sleepOff`), so a
    /// batch over several slowed partitions still sleeps at most 2 ms. Call with no gate or
    /// lock held.
    @inline(__always)
    func afterWrite(to p: Partition, memtable: Memtable, bytes: Int, written: @autoclosure () -> Int) -> UInt64 {
        if bytes < flushSize { return 0 }
        freezeFull(p, memtable)
        scheduleFlush(p)
        if bytes >= stallSize {
            waitForFlush(p, memtable: memtable, bytes: bytes)
            return 0
        }
        return bytes >= slowdownSize ? charge(p, memtable: memtable, bytes: bytes, written: written()) : 0
    }

    /// Sleeps the slowdown a commit owes (`afterWrite`) and counts it.
    @inline(__always)
    func sleepOff(_ owed: UInt64) {
        if owed == 0 { return }
        let started = MonotonicClock.nanos()
        ThreadPause.sleep(nanoseconds: Int(owed))
        let now = MonotonicClock.nanos()
        stallMeter.recordSlowdown(nanos: now &- started)
        // Writers pay for background work that fell behind: let the lanes use every CPU.
        wal.lanePlacement.behind(now: now)
    }

    /// Charges a write of `written` bytes to `p`'s pacing clock at the rate its memtable's
    /// `bytes` allow; returns how long the writer sleeps for it (WritePacing.swift).
    private func charge(_ p: Partition, memtable: Memtable, bytes: Int, written: Int) -> UInt64 {
        // A memtable this writer froze (or the lane took) meanwhile is being flushed: the
        // active one is new, nothing to slow for. As for a stall: a closing engine or a
        // background error that stopped flushing is nothing to wait for either.
        guard p.isActive(memtable), !p.retired, !lifecycle.isClosed, !lifecycle.errorPending,
              let rate = WritePacing.allowedRate(memtableBytes: bytes, slowdown: slowdownSize, stall: stallSize,
                                                 flushBytesPerSecond: flushBytesPerSecond) else { return 0 }
        var clock = p.paceClock.load(ordering: .relaxed)
        while true {
            // `now` again on every try: a writer preempted between tries must not set the
            // clock from a stale now (the 2 ms cap would pull it back, dropping others' charges).
            let charged = WritePacing.charge(bytes: written, rate: rate, clock: clock, now: MonotonicClock.nanos())
            let (done, seen) = p.paceClock.compareExchange(expected: clock, desired: charged.clock, ordering: .relaxed)
            if done { return charged.sleep }
            clock = seen
        }
    }

    /// The flushes' measured speed (memtable bytes per second of a flush, merges included), or
    /// the assumed one before the first flush.
    var flushBytesPerSecond: Double {
        let measured = flushSpeed.load(ordering: .relaxed)
        return measured > 0 ? Double(measured) : WritePacing.assumedFlushBytesPerSecond
    }

    /// Takes a flush of `bytes` memtable bytes in `nanos` into the measured flush speed (a
    /// moving mean, half the weight on the newest: the lanes' speed changes with what else runs).
    func recordFlushSpeed(bytes: Int, nanos: UInt64) {
        guard bytes > 0, nanos > 0 else { return }
        let sample = UInt64(min(Double(bytes) * 1e9 / Double(nanos), 1e15))
        let old = flushSpeed.load(ordering: .relaxed)
        // Racing flushes (the lane, a reshard's, an explicit one) may lose a sample: harmless.
        flushSpeed.store(old == 0 ? sample : old / 2 + sample / 2, ordering: .relaxed)
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
        wal.lanePlacement.behind(now: MonotonicClock.nanos())
        let gaveUp = waited > Self.stallGiveUpNanos ? " (gave up)" : ""
        stallMeter.record(nanos: waited, reason: "partition \(p.id): memtable \(bytes) B ≥ writeStallMemtableBytes \(stallSize) B while its flush was behind; waited \(waited / 1_000) µs\(gaveUp)")
    }

    /// The longest a writer waits for one flush.
    static var stallGiveUpNanos: UInt64 { 30_000_000_000 }
}
