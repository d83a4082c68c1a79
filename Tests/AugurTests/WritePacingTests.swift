import Testing
@testable import Augur
import AugurStats

/// The write slowdown's rate schedule and pacing clock (WritePacing.swift), on simulated time.
@Suite struct WritePacingTests {
    /// As the square of the room left between the marks.
    @Test func theRateFallsFromTheFlushSpeedToNothingAtTheLimit() {
        func rate(_ bytes: Int) -> Double? {
            WritePacing.allowedRate(memtableBytes: bytes, slowdown: 64, stall: 128, flushBytesPerSecond: 1_000)
        }
        #expect(rate(63) == nil)
        #expect(rate(64) == 1_000)
        #expect(rate(96) == 250)
        #expect(rate(112) == 62.5)
        #expect(rate(128) == 0)
        #expect(rate(1 << 40) == 0)
        // No room between the marks: nothing slowed.
        #expect(WritePacing.allowedRate(memtableBytes: 200, slowdown: 128, stall: 128, flushBytesPerSecond: 1_000) == nil)
        #expect(WritePacing.allowedRate(memtableBytes: 200, slowdown: 128, stall: 64, flushBytesPerSecond: 1_000) == nil)
    }

    /// A writer that never waits on anything but its sleeps (`workNanos` per write on the
    /// simulated clock) against the pacing clock: what it sleeps and how fast it goes.
    static func simulate(writes: Int, bytes: (Int) -> Int, rate: Double, workNanos: UInt64) -> (sleeps: [UInt64], elapsed: UInt64, written: Int) {
        var clock: UInt64 = 0, now: UInt64 = 1_000_000_000, written = 0
        let start = now
        var sleeps: [UInt64] = []
        for i in 0..<writes {
            now += workNanos
            let b = bytes(i)
            written += b
            let charged = WritePacing.charge(bytes: b, rate: rate, clock: clock, now: now)
            clock = charged.clock
            if charged.sleep > 0 { sleeps.append(charged.sleep); now += charged.sleep }
        }
        return (sleeps, now - start, written)
    }

    /// With writes costing 100 ns to a burst each: a writer faster than its rate is held to it
    /// (within a burst's worth), in sleeps of the burst to the longest sleep; one slower than
    /// its rate never sleeps. At rate zero every write sleeps the longest sleep and no more.
    /// Random costs and sizes (the rate follows), seed printed; the costs drawn are what the
    /// bounds hold for — a write costing more is the next test's.
    @Test(arguments: [UInt64(0x5eed_0019), 0xfeed_beef, 1, 2, 3, 4, 5, 6, 7, 8])
    func aFastWriterIsHeldToItsRateInShortSleeps(seed: UInt64) {
        print("WritePacingTests seed \(seed)")
        var rng = SplitMix64(seed: seed)
        for _ in 0..<50 {
            let size = Int.random(in: 16...65_536, using: &rng)
            let cost = Double.random(in: 100...Double(WritePacing.burstNanos), using: &rng)
            let rate = Double(size) * 1e9 / cost
            // Five to a thousand times faster than the rate allows.
            let work = UInt64(max(1, cost / Double.random(in: 5...1_000, using: &rng)))
            let writes = max(200, Int(200e6 / cost))
            let fast = Self.simulate(writes: writes, bytes: { _ in size }, rate: rate, workNanos: work)
            let achieved = Double(fast.written) * 1e9 / Double(fast.elapsed)
            // At most the rate over the time plus two bursts: the credit at the start, and the
            // debt not yet slept off at the end.
            let allowed = rate * Double(fast.elapsed + 2 * WritePacing.burstNanos) / 1e9
            #expect(Double(fast.written) <= allowed * 1.000001 && achieved >= rate * 0.9,
                    "rate \(rate), size \(size), work \(work): \(achieved), \(fast.written) bytes against \(allowed)")
            let outside = fast.sleeps.filter { $0 <= WritePacing.burstNanos || $0 > WritePacing.longestSleepNanos }.count
            #expect(outside == 0, "rate \(rate), size \(size): \(outside) sleeps outside the bounds, \(fast.sleeps.min() ?? 0)...\(fast.sleeps.max() ?? 0)")
            // Slower than the rate: no sleep at all.
            let slow = Self.simulate(writes: 1_000, bytes: { _ in size }, rate: rate, workNanos: UInt64(cost * 1.1) + 1)
            #expect(slow.sleeps.isEmpty, "rate \(rate), size \(size): \(slow.sleeps.count) sleeps")
        }
        let stopped = Self.simulate(writes: 100, bytes: { $0 % 7 + 1 }, rate: 0, workNanos: 1_000)
        #expect(stopped.sleeps.count == 100, "\(stopped.sleeps.count) sleeps")
        #expect(stopped.sleeps.min() == WritePacing.longestSleepNanos && stopped.sleeps.max() == WritePacing.longestSleepNanos)
    }

    /// A write costing more than two bursts (the burst plus the credit a slow writer has)
    /// sleeps what it costs past the credit, at most the longest sleep, however slowly the
    /// writer goes: a large write is paced by itself. The debt past the longest sleep is
    /// dropped, so the floor is one such write per longest sleep.
    @Test func anExpensiveWriteSleepsItsCostPastTheCredit() {
        for (cost, sleep): (UInt64, UInt64) in [(2_000_000, 0), (2_500_000, 1_500_000), (3_000_000, 2_000_000), (50_000_000, 2_000_000)] {
            // 1,000 bytes at the rate that makes them cost `cost`, written every 100 ms.
            let slow = Self.simulate(writes: 20, bytes: { _ in 1_000 }, rate: 1e12 / Double(cost), workNanos: 100_000_000)
            #expect(slow.sleeps.count == (sleep == 0 ? 0 : 20) && (slow.sleeps.max() ?? 0) == sleep && (slow.sleeps.min() ?? 0) == sleep,
                    "cost \(cost): \(slow.sleeps.count) sleeps, \(slow.sleeps.min() ?? 0)...\(slow.sleeps.max() ?? 0)")
        }
    }

    /// A clock far behind now (the writer was idle) earns one burst of credit and no more; one
    /// far ahead (other writers ran ahead) makes this writer sleep no more than the longest sleep.
    @Test func anIdleWriterEarnsOneBurstAndNoSleepIsLong() {
        let now: UInt64 = 10_000_000_000
        // 0.5 ms, then 1.4 ms of writes at once after a long pause: within the burst's credit.
        let first = WritePacing.charge(bytes: 500, rate: 1e6, clock: 0, now: now)
        #expect(first.clock == now - 500_000 && first.sleep == 0, "\(first)")
        let second = WritePacing.charge(bytes: 1_400, rate: 1e6, clock: first.clock, now: now)
        #expect(second.clock == now + 900_000 && second.sleep == 0, "\(second)")
        // 0.2 ms more: 1.1 ms ahead, past the burst: sleep it off.
        let third = WritePacing.charge(bytes: 200, rate: 1e6, clock: second.clock, now: now)
        #expect(third.clock == now + 1_100_000 && third.sleep == 1_100_000, "\(third)")
        let ahead = WritePacing.charge(bytes: 1, rate: 1e9, clock: 5_000_000_000, now: 1_000_000_000)
        #expect(ahead.sleep == WritePacing.longestSleepNanos && ahead.clock == 1_002_000_000, "\(ahead)")
        // Near the start of the clock's epoch nothing wraps.
        let early = WritePacing.charge(bytes: 100, rate: 1e9, clock: 0, now: 10)
        #expect(early.clock == 100 && early.sleep == 0, "\(early)")
    }
}
