import Dispatch
import Foundation
import Synchronization
import Testing
@_spi(Testing) import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport

/// Writers wait for their partition's flush once its memtable reaches
/// `writeStallMemtableBytes`, and only then (WriteStall.swift).
@Suite struct WriteStallTests {
    static func options(_ fs: any FileSystem) -> EngineOptions {
        var o = ReshardTests.options(fs, durability: .none)
        // Memtables grow in arena chunks, 1 MiB past the first 336 KiB: a limit of a few chunks.
        o.memtableFlushSize = 1 << 20
        o.writeStallMemtableBytes = 4 << 20
        return o
    }

    /// With the maintenance lane held (as a long merge holds it), a writer stops once its
    /// memtable reaches the limit instead of growing it without bound; when flushing resumes
    /// it goes on, the stall is counted with its reason, and every write is there. (Without
    /// the stall the writer put all 10 MB into one memtable — the check of "not done while
    /// held" fails; tried with the wait disabled.)
    @Test func aWriterWaitsForTheFlushPastTheLimit() throws {
        let engine = try Engine.open(at: "/db", options: Self.options(CrashSimulatingFileSystem()))
        let table = try engine.createTable("t")
        let hold = DispatchSemaphore(value: 0)
        engine.enqueueMaintenance { hold.wait() }
        let written = Atomic<Int>(0)
        let value = [UInt8](repeating: 0x61, count: 1_000)
        let writer = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        // Its own thread, and the clock starts when it runs: in a full parallel test run the
        // global queue's threads can all be taken by other tests for longer than the wait below.
        Thread {
            started.signal()
            for i in 0..<10_000 {
                try? table.put(Array("key\(100_000 + i)".utf8), value)
                written.store(i + 1, ordering: .releasing)
            }
            writer.signal()
        }.start()
        started.wait()
        // Well past the time 1,000 puts take; the writer must be waiting near the limit.
        ThreadPause.sleep(nanoseconds: 500_000_000)
        let whileHeld = written.load(ordering: .acquiring)
        #expect(whileHeld < 10_000, "the writer did not wait: \(whileHeld) puts while flushing was held")
        #expect(whileHeld >= 2_500, "the writer stopped before the limit: \(whileHeld) puts of 1 KB against 4 MiB")
        #expect(writer.wait(timeout: .now() + 0.2) == .timedOut)
        hold.signal()
        #expect(writer.wait(timeout: .now() + 30) == .success, "the writer never went on")
        let stalls = engine.writeStalls
        #expect(stalls.stalls >= 1 && stalls.stalledNanos >= 300_000_000, "\(stalls)")
        #expect(stalls.lastReason?.contains("writeStallMemtableBytes") == true, "\(stalls)")
        for i in stride(from: 0, to: 10_000, by: 37) { #expect(try table.get(Array("key\(100_000 + i)".utf8)) == value) }
        try engine.close()
    }

    /// Puts `count` values of 1 KB with the maintenance lane held; returns the stalls counted.
    static func stallsWithFlushingHeld(_ o: EngineOptions, puts count: Int) throws -> WriteStallStats {
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        let hold = DispatchSemaphore(value: 0)
        engine.enqueueMaintenance { hold.wait() }
        let value = [UInt8](repeating: 0x62, count: 1_000)
        for i in 0..<count { try table.put(Array("key\(100_000 + i)".utf8), value) }
        let stalls = engine.writeStalls
        hold.signal()
        try engine.close()
        return stalls
    }

    /// Below the limit nobody waits, however far behind the flush is.
    @Test func noStallBelowTheLimit() throws {
        var o = Self.options(CrashSimulatingFileSystem())
        o.writeStallMemtableBytes = 64 << 20
        #expect(try Self.stallsWithFlushingHeld(o, puts: 1_000).stalls == 0)
    }

    /// The default limit with a flush size below one arena chunk (tests, the crash harness use
    /// 4 KiB): 2 MB of writes with flushing held do not stall. (With the limit at 4 × the flush
    /// size, every write waited for a flush, and the corruption campaign's planted bug went
    /// unnoticed because nothing was left in its WAL — found by CorruptionCampaignTests.)
    @Test func theDefaultLimitIsAtLeastFourArenaChunks() throws {
        var o = ReshardTests.options(CrashSimulatingFileSystem(), durability: .none)
        o.memtableFlushSize = 4096
        let stalls = try Self.stallsWithFlushingHeld(o, puts: 2_000)
        #expect(stalls.stalls == 0, "\(stalls)")
    }

    /// Puts 350 values of 16 KB with the maintenance lane held, past a 2 MiB slowdown mark
    /// (about 4.5 MiB: below the 6 MiB stall limit); returns the stalls and slowdowns counted.
    static func slowdownsWithFlushingHeld(slowdownMark: Int) throws -> WriteStallStats {
        var o = Self.options(CrashSimulatingFileSystem())
        o.writeStallMemtableBytes = 6 << 20
        o.writeSlowdownMemtableBytes = slowdownMark
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        let hold = DispatchSemaphore(value: 0)
        engine.enqueueMaintenance { hold.wait() }
        let value = [UInt8](repeating: 0x63, count: 16 << 10)
        for i in 0..<350 { try table.put(Array("key\(100_000 + i)".utf8), value) }
        let stats = engine.writeStalls
        // The metrics say the same (augur_write_slowdowns_total and its seconds).
        let metrics = engine.metricsSnapshot()
        #expect(metrics.writeSlowdowns == UInt64(stats.slowdowns) && metrics.writeSlowdownNanos == stats.slowedNanos, "\(metrics)")
        #expect(engine.metricsText().contains("augur_write_slowdowns_total{store=") == true)
        hold.signal()
        table.drainBackgroundWork()
        for i in stride(from: 0, to: 350, by: 7) { #expect(try table.get(Array("key\(100_000 + i)".utf8)) == value) }
        try engine.close()
        return stats
    }

    /// Past the slowdown mark a writer whose flush is behind sleeps in short steps before it
    /// would stall (WritePacing.swift): by the time its memtable is at 4 MiB, half-way from the
    /// mark to the limit, it is held to a quarter of the flush speed (64 MiB/s assumed before
    /// any flush), far below what one thread puts 16 KB values at, so it sleeps — each time at
    /// least the 1 ms burst — and nothing stalls. (Planted: with the slowdown returning at once,
    /// no slowdown is counted.)
    @Test func aWriterIsSlowedBeforeItWouldStall() throws {
        let stats = try Self.slowdownsWithFlushingHeld(slowdownMark: 2 << 20)
        #expect(stats.stalls == 0, "\(stats)")
        #expect(stats.slowdowns >= 1, "\(stats)")
        #expect(stats.slowedNanos >= UInt64(stats.slowdowns) * 1_000_000, "\(stats)")
    }

    /// With the slowdown mark at the stall limit nothing is slowed: the same writes, no sleep.
    @Test func aSlowdownMarkAtTheLimitSlowsNothing() throws {
        let stats = try Self.slowdownsWithFlushingHeld(slowdownMark: 6 << 20)
        #expect(stats.stalls == 0 && stats.slowdowns == 0, "\(stats)")
    }

    /// `o` is refused at open with `name`, its `value` and `reason`.
    static func expectRefused(_ o: EngineOptions, _ name: String, _ value: Int, _ reason: String,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: AugurError.invalidOption(name: name, value: String(value), reason: reason), sourceLocation: sourceLocation) {
            try Engine.open(at: "/db", options: o)
        }
    }

    @Test func aLimitBelowTheFlushSizeIsRefused() throws {
        var o = Self.options(CrashSimulatingFileSystem())
        o.writeStallMemtableBytes = 4096
        Self.expectRefused(o, "writeStallMemtableBytes", 4096, "must be at least memtableFlushSize (1048576)")
    }

    @Test func aSlowdownMarkOutsideFlushSizeToLimitIsRefused() throws {
        var o = Self.options(CrashSimulatingFileSystem())
        o.writeSlowdownMemtableBytes = 4096
        Self.expectRefused(o, "writeSlowdownMemtableBytes", 4096, "must be at least memtableFlushSize (1048576)")
        o.writeSlowdownMemtableBytes = 5 << 20
        Self.expectRefused(o, "writeSlowdownMemtableBytes", 5 << 20, "must be at most writeStallMemtableBytes (4194304)")
        // Against the default limit too: 4 × the larger of the flush size (1 MiB here) and a
        // 2 MiB arena chunk.
        o.writeStallMemtableBytes = nil
        o.writeSlowdownMemtableBytes = 9 << 20
        Self.expectRefused(o, "writeSlowdownMemtableBytes", 9 << 20, "must be at most writeStallMemtableBytes (8388608)")
    }

    /// The writer whose put fills the memtable to the flush size freezes it itself (at its own
    /// priority: Flusher.freezeFull), even while the flush lane is busy, and only while no
    /// other frozen memtable waits; the flush lane writes it out when it gets to it. (Planted:
    /// without the writer's freeze the count stays 0 while the lane is held.)
    @Test func theWriterFreezesTheMemtableItFills() throws {
        let engine = try Engine.open(at: "/db", options: Self.options(CrashSimulatingFileSystem()))
        let table = try engine.createTable("t")
        let hold = DispatchSemaphore(value: 0)
        engine.enqueueMaintenance { hold.wait() }
        let value = [UInt8](repeating: 0x62, count: 1_000)
        // 1.5 MB: past the 1 MiB flush size, below the 4 MiB stall limit.
        for i in 0..<1_500 { try table.put(Array("key\(100_000 + i)".utf8), value) }
        #expect(table.frozenMemtableCounts == [1], "\(table.frozenMemtableCounts)")
        // Full again, but one frozen memtable already waits: no second freeze.
        for i in 1_500..<2_800 { try table.put(Array("key\(100_000 + i)".utf8), value) }
        #expect(table.frozenMemtableCounts == [1], "\(table.frozenMemtableCounts)")
        hold.signal()
        table.drainBackgroundWork()
        #expect(table.frozenMemtableCounts == [0], "\(table.frozenMemtableCounts)")
        #expect(engine.writeStalls.stalls == 0)
        for i in stride(from: 0, to: 2_800, by: 13) { #expect(try table.get(Array("key\(100_000 + i)".utf8)) == value) }
        try engine.close()
    }
}
