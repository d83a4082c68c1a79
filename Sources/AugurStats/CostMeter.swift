/// Where one partition's time goes: nanoseconds spent in its foreground operations (including
/// waits for its locks) and in its background maintenance (flushes and merges), summed over
/// threads. The controller turns the growth of these totals into *cost seconds per second*, the
/// measured load a partition's capacity is judged by (CockroachDB splits a range at 500 ms of
/// CPU per second; this is the same idea, measured as wall time inside the partition's work so
/// that lock convoys and merge backlogs count too).
///
/// Striped by thread slot like `KeyHistogram`: a registered thread adds to its own 128-byte
/// stripe with a plain load/store, others with an atomic add on the shared stripe. Pure: the
/// caller measures the time.
///
/// Thread-safety: `Sendable`; `add` from any thread (exact per stripe), `totals` from any
/// thread (whole values, possibly a moment stale).
public final class CostMeter: @unchecked Sendable {
    @usableFromInline let counters: CounterBlock
    @usableFromInline let privateStripes: Int
    @usableFromInline static let stride = statsStripeBytes / 8

    /// Which kind of work a cost belongs to.
    public enum Kind: Int, Sendable {
        /// Foreground operations: puts, deletes, gets, scans.
        case foreground = 0
        /// Flushes and merges.
        case maintenance = 1
    }

    /// Creates a meter with `stripes` private stripes (thread slots `0..<stripes`).
    public init(stripes: Int) {
        precondition(stripes >= 0 && stripes <= 64, "stripes must be in 0...64")
        privateStripes = stripes
        counters = CounterBlock.allocate(count: (stripes + 1) * Self.stride)
    }

    deinit { counters.deallocate() }

    /// Adds `nanos` of `kind` work done by the thread owning `slot`.
    @inlinable @inline(__always)
    public func add(_ kind: Kind, nanos: UInt64, slot: StatsSlot) {
        let s = slot.index
        if UInt(bitPattern: s) < UInt(bitPattern: privateStripes) {
            counters.addSingleWriter(s &* Self.stride &+ kind.rawValue, nanos)
        } else {
            counters.addShared(privateStripes &* Self.stride &+ kind.rawValue, nanos)
        }
    }

    /// Adds work from a thread without a slot (background maintenance).
    public func addShared(_ kind: Kind, nanos: UInt64) {
        counters.addShared(privateStripes * Self.stride + kind.rawValue, nanos)
    }

    /// Cumulative nanoseconds of each kind over all stripes.
    public func totals() -> (foreground: UInt64, maintenance: UInt64) {
        var f: UInt64 = 0, m: UInt64 = 0
        for s in 0...privateStripes {
            f &+= counters.load(s * Self.stride)
            m &+= counters.load(s * Self.stride + 1)
        }
        return (f, m)
    }
}
