// Write slowdown: the graduated step before a write stall (WriteStall.swift).
//
// Why: a write stall is all or nothing. A writer that fills memtables faster than its
// partition's flush drains them runs at full speed until the active memtable reaches the stall
// limit, then waits for the whole flush in one put — with the flush lane busy (a large inline
// merge, a reshard's flush, two cores shared with the foreground) that single put waited 6-12 s
// in the reshard bench's merge/split cycles. Like RocksDB's delayed write rate, a partition's
// writers are slowed first: once its active memtable is past `writeSlowdownMemtableBytes`, each
// write is charged its bytes against a rate that falls from the flushes' measured speed at the
// slowdown mark to nothing at the stall limit (as the square of the room left), and a writer
// that ran ahead of that rate sleeps off what it ran ahead (at least `burstNanos`, at most
// `longestSleepNanos`, so one put never waits long and short sleeps do not each pay the
// kernel's timer slack). The memtable then approaches the limit ever more slowly, the lanes get
// the CPU the writer gives up, and the backpressure is spread over many short waits instead of
// one long one; the stall stays as the bound on memory when the flush does not come at all.
//
// What the rate is not: exact. Writes are charged their key and value bytes, the flush speed is
// measured in memtable bytes (node overhead and whole arena chunks included) and is one figure
// for all partitions of the engine, and debt past the longest sleep is dropped (a large write
// or many writer threads are held less tightly). None of that lets the memtable pass the stall
// limit: the rate still falls to zero there, so any such error only moves the point at which
// writers and flushes balance.
//
// Pure: the engine keeps the clock and the measured flush speed (Flusher) and sleeps.

/// The rate schedule and the pacing clock of the write slowdown.
enum WritePacing {
    /// Debt a writer may run ahead of its rate without sleeping (what it then sleeps at least),
    /// and the credit it may have from time it did not write.
    static let burstNanos: UInt64 = 1_000_000
    /// The longest one write sleeps; also how far ahead of now the clock may run, so writers
    /// charged at a rate near zero each wait this long and no longer.
    static let longestSleepNanos: UInt64 = 2_000_000
    /// The flush speed assumed until a flush has been measured, bytes per second.
    static let assumedFlushBytesPerSecond: Double = 64 * 1_048_576

    /// Bytes per second a partition's writers are held to when its active memtable holds
    /// `bytes`: no limit (nil) below `slowdown`; from the flushes' speed there down to zero at
    /// `stall`, as the square of the room left. Why the square: the time to fill the room then
    /// grows without bound as it shrinks (∫ df / (1 - f)² diverges), so a writer reaches the
    /// limit only when flushing stops for long (the longest sleep sets the floor: one write
    /// per 2 ms); with a straight line (a logarithmic divergence, cut short by the memtable's
    /// 1 MiB chunks) it reached the limit of 128 MiB in about three seconds of a busy flush
    /// lane, and stalls of 3.6-5.9 s remained in the reshard bench. A limit at or below the
    /// slowdown mark (no room between them) slows nothing.
    static func allowedRate(memtableBytes bytes: Int, slowdown: Int, stall: Int, flushBytesPerSecond: Double) -> Double? {
        guard bytes >= slowdown, stall > slowdown else { return nil }
        let left = Double(max(0, stall - bytes)) / Double(stall - slowdown)
        return max(0, flushBytesPerSecond) * left * left
    }

    /// Charges a write of `bytes` at `rate` bytes per second against the pacing clock `clock`
    /// (the time at which the writes charged so far would be done at their rates) at time `now`.
    /// Returns the new clock and how long the writer sleeps: nothing while it is at most
    /// `burstNanos` ahead, else until the clock (at most `longestSleepNanos`).
    static func charge(bytes: Int, rate: Double, clock: UInt64, now: UInt64) -> (clock: UInt64, sleep: UInt64) {
        let cost = rate > 0 ? Double(max(0, bytes)) * 1e9 / rate : .infinity
        // Time not written in counts, up to one burst: a writer slower than its rate then never
        // sleeps for writes costing up to two bursts, and an idle one gets no more. A write
        // costing more sleeps its cost past that, however slowly the writer goes (it is paced
        // by itself), and debt past `longestSleepNanos` is dropped: the floor is one write per
        // longest sleep per writer thread, whatever the write's size.
        let start = max(clock, now > burstNanos ? now - burstNanos : 0)
        // Rounded up: a write costs at least a nanosecond, or fast writes of a few bytes each
        // would lose their fraction every time and outrun the rate.
        let ahead = min((Double(Int64(bitPattern: start &- now)) + cost).rounded(.up), Double(longestSleepNanos))
        let next = ahead >= 0 ? now &+ UInt64(ahead) : now &- UInt64(-ahead)
        return (next, ahead > Double(burstNanos) ? UInt64(ahead) : 0)
    }
}
