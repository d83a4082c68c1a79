// The reshard's cutover (step 4 of Reshard.swift's protocol): under the sources' write gates,
// for microseconds, hand their memtables to the targets as carried layers, swap the table's map
// and retire the sources. Runs on the executor's cutover lane (see `ReshardExecutor.cutoverLane`
// for why that lane keeps the opening thread's priority). Split from Reshard.swift, which runs
// the steps before and after it.
import AugurSys

extension ReshardExecutor {
    /// The cutover proper: takes the sources' gates, hands their memtables to the targets as
    /// carried layers, swaps the table's map and retires the sources. Returns the carried layers,
    /// the pause writers saw and the time spent trying for the gates before it.
    func cutOver(sources: [Partition], targets: [Partition], table: Table,
                         flushed: UInt64) -> (carried: [FrozenMemtable], pause: UInt64, gateWait: UInt64) {
        let gated = sources.sorted { $0.id < $1.id }
        let waitStart = options.clock.now()
        let blockedFrom = acquireGates(gated)
        let pauseStart = blockedFrom ?? options.clock.now()
        let gateWait = pauseStart &- waitStart
        let upTo = wal.lastSequence
        var carried: [FrozenMemtable] = []
        for p in sources {
            let v = p.view
            let active = FrozenMemtable(memtable: v.memtable, upToSeq: flushed, indexes: v.indexMemtables.filter { !$0.value.isEmpty })
            if !active.isEmpty { carried.append(active) }
            for f in v.frozen where !f.isEmpty { carried.append(FrozenMemtable(memtable: f.memtable, upToSeq: flushed, indexes: f.indexes)) }
        }
        // Layers flush oldest (last) first, and each flush raises the partition's mark to the
        // layer's `upToSeq`. Only when the last carried layer (index 0) is written is every write
        // up to the cutover in runs; the others keep the targets' starting mark.
        if !carried.isEmpty { carried[0] = FrozenMemtable(memtable: carried[0].memtable, upToSeq: upTo, indexes: carried[0].indexes) }
        // Newest first, as in a partition's own view: sources are disjoint, so only one source's
        // layers can hold a given key and their relative order is kept.
        for p in targets where !carried.isEmpty { p.updateView { $0.frozen = carried } }
        table.swapMap { old in PartitionMap(old.partitions.filter { p in !sources.contains { $0 === p } } + targets, layout: old.layout) }
        for p in sources { p.retire() }
        for p in gated.reversed() { p.gate.unlock() }
        let pause = options.clock.now() &- pauseStart
        return (carried, pause, gateWait)
    }

    /// Takes the write gates of `gated` (sorted by id) exclusive for the cutover without making
    /// writers wait while a writer is still inside one: it tries them all at once
    /// (`pthread_rwlock_trywrlock` queues no request, so writers keep entering meanwhile), and if
    /// one is busy it lets go of the others, backs off briefly and tries again. Writers are only
    /// held back once every gate is ours, for the microseconds of the swap. Should a gate stay
    /// busy for `cutoverTryWindowNanos` (a writer descheduled inside it, a stream of batches),
    /// it falls back to queueing, which writer preference makes certain to succeed.
    /// Returns nil after a clean try, or the engine-clock time the queued requests began (from
    /// then on writers were held back, so the pause counts from there).
    func acquireGates(_ gated: [Partition]) -> UInt64? {
        let started = MonotonicClock.nanos()
        while true {
            // A writer holds a gate for a few microseconds between operations that run outside
            // it: keep trying for a while (50 µs) to catch such a gap, then sleep briefly so
            // that, on a busy machine, a writer descheduled inside the gate gets the CPU.
            let burst = MonotonicClock.nanos()
            repeat {
                var held = 0
                while held < gated.count && gated[held].gate.tryLockExclusive() { held += 1 }
                if held == gated.count { return nil }
                for p in gated[0..<held].reversed() { p.gate.unlock() }
            } while MonotonicClock.nanos() &- burst < 50_000
            if MonotonicClock.nanos() &- started > Self.cutoverTryWindowNanos { break }
            ThreadPause.sleep(nanoseconds: 50_000)
        }
        let queuedAt = options.clock.now()
        for p in gated { p.gate.lockExclusive() }
        return queuedAt
    }

    /// How long the cutover keeps trying the gates before it queues for them.
    static let cutoverTryWindowNanos: UInt64 = 50_000_000

    func overlaps(_ m: Memtable, _ lower: [UInt8], _ upper: [UInt8]?) -> Bool {
        var c = Memtable.Cursor(m)
        lower.withUnsafeBytes { c.seek(atLeast: $0) }
        guard c.isValid else { return false }
        guard let upper else { return true }
        return upper.withUnsafeBytes { compareKeys(c.current.key, $0) < 0 }
    }
}
