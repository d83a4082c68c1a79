@_spi(Testing) @testable import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport
import Dispatch
import Testing

/// `EngineOptions.backgroundCPUs` (issue 19): the engine's background lanes keep to CPUs of
/// their own, so they never hold the CPU a caller's thread runs on until a tick.
@Suite struct BackgroundPlacementTests {
    /// The CPUs this test's thread may run on; the engine resolves `.automatic` against them.
    static let allowed = CPUAffinity.allowedCPUs()

    @Test("the default rule: the last quarter of the allowed CPUs, at least one; none below two")
    func automaticRule() throws {
        #expect(CPUAffinity.backgroundCPUs(amongAllowed: []) == nil)
        #expect(CPUAffinity.backgroundCPUs(amongAllowed: [3]) == nil)
        #expect(CPUAffinity.backgroundCPUs(amongAllowed: [0, 1]) == [1])
        #expect(CPUAffinity.backgroundCPUs(amongAllowed: [0, 2, 4]) == [4])
        #expect(CPUAffinity.backgroundCPUs(amongAllowed: Array(0..<8)) == [6, 7])
        #expect(CPUAffinity.backgroundCPUs(amongAllowed: Array(0..<64)) == Array(48..<64))
        #expect(try BackgroundCPUs.unrestricted.resolve(allowed: [0, 1]) == nil)
        #expect(try BackgroundCPUs.cpus([5, 2]).resolve(allowed: []) == [2, 5], "an unknown set accepts any list")
        #expect(throws: AugurError.invalidOption(name: "backgroundCPUs", value: "7",
                                                 reason: "must be one of the CPUs the opening thread may run on ([0, 1])")) {
            try BackgroundCPUs.cpus([1, 7]).resolve(allowed: [0, 1])
        }
    }

    /// No durability and no controller timer: an engine whose lanes move only for what a test
    /// does.
    static func quietOptions() -> EngineOptions {
        var options = EngineOptions()
        options.durability = .none
        options.partitioning.runsOnTimer = false
        return options
    }

    /// Every lane of an open engine: the flush and merge lanes, the reshard and cutover lanes,
    /// the WAL's seal lane.
    static func lanes(_ engine: Engine) -> [(String, BackgroundLane)] {
        [("augur.maint", engine.flusher.queue), ("augur.merge", engine.flusher.mergeQueue),
         ("augur.reshard", engine.reshards.queue), ("augur.cutover", engine.reshards.cutoverLane),
         ("augur.wal.seal", engine.wal.sealQueue)]
    }

    @Test("an engine's lanes keep to the resolved CPUs: with .automatic the last of two, a given one, or by default all",
          .enabled(if: allowed.count >= 2, "placement can only be seen with two CPUs or more to choose from"))
    func lanesKeepToTheirCPUs() throws {
        let dir = TemporaryDirectory()
        var options = Self.quietOptions()
        let expected = try #require(CPUAffinity.backgroundCPUs(amongAllowed: Self.allowed))
        #expect(expected.count < Self.allowed.count)
        #expect(options.backgroundCPUs == .unrestricted, "the default")
        options.backgroundCPUs = .automatic
        let engine = try Engine.open(at: dir.child("a"), options: options)
        for (name, lane) in Self.lanes(engine) {
            #expect(lane.allowedCPUs == expected, "\(name)")
            #expect(lane.placed, "\(name)")
        }
        try engine.createTable("t").put("k", "v")
        try engine.close()

        options.backgroundCPUs = .cpus([Self.allowed[0]])
        let pinned = try Engine.open(at: dir.child("b"), options: options)
        for (name, lane) in Self.lanes(pinned) { #expect(lane.allowedCPUs == [Self.allowed[0]], "\(name)") }
        try pinned.close()

        options.backgroundCPUs = .unrestricted
        let free = try Engine.open(at: dir.child("c"), options: options)
        for (name, lane) in Self.lanes(free) {
            #expect(lane.allowedCPUs == Self.allowed, "\(name)")
            #expect(!lane.placed, "\(name)")
        }
        try free.close()
    }

    /// The memtables' chunk refills keep to the CPUs of the first placement with a home that
    /// asks (`ArenaChunkPool.placeRefills`); one without a home, or a later one, changes
    /// nothing. An engine opened with `.automatic` places the process's pool.
    @Test("the arena's refills keep to the first placed engine's CPUs",
          .enabled(if: allowed.count >= 2, "placement can only be seen with two CPUs or more to choose from"))
    func arenaRefillsFollowThePlacement() throws {
        let pool = ArenaChunkPool(reserve: 2)
        defer { pool.drainRefill(); pool.releaseAll() }
        pool.placeRefills(.unrestricted)
        #expect(pool.refillLaneNow.allowedCPUs == Self.allowed)
        pool.placeRefills(LanePlacement(home: [Self.allowed[0]], wide: Self.allowed, adapts: false))
        #expect(pool.refillLaneNow.allowedCPUs == [Self.allowed[0]])
        #expect(pool.refillLaneNow.placed)
        pool.placeRefills(LanePlacement(home: [Self.allowed[1]], wide: Self.allowed, adapts: false))
        #expect(pool.refillLaneNow.allowedCPUs == [Self.allowed[0]], "the first placement decides")

        let dir = TemporaryDirectory()
        var options = Self.quietOptions()
        options.backgroundCPUs = .automatic
        let engine = try Engine.open(at: dir.child("a"), options: options)
        #expect(ArenaChunkPool.shared.refillLaneNow.cpus != nil, "the process's pool follows a placed engine (whichever came first)")
        try engine.close()
    }

    /// A writer slowed because the flush is behind spreads the engine's lanes over every CPU
    /// (`LanePlacement.behind`), so confined lanes do not starve when callers keep every CPU
    /// busy. (Planted: without the call in `sleepOff` the lanes stay home and this fails.)
    @Test("a write slowdown spreads the engine's lanes over every CPU",
          .enabled(if: allowed.count >= 2, "placement can only be seen with two CPUs or more to choose from"))
    func aSlowdownSpreadsTheLanes() throws {
        var o = WriteStallTests.options(CrashSimulatingFileSystem())
        o.writeStallMemtableBytes = 6 << 20
        o.writeSlowdownMemtableBytes = 2 << 20
        o.backgroundCPUs = .automatic
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        let home = try #require(CPUAffinity.backgroundCPUs(amongAllowed: Self.allowed))
        // The seal lane is not the one held below (a `sync` on a held lane would wait).
        #expect(engine.wal.sealQueue.allowedCPUs == home)
        #expect(!engine.wal.lanePlacement.isSpread)
        let hold = DispatchSemaphore(value: 0)
        engine.enqueueMaintenance { hold.wait() }
        let value = [UInt8](repeating: 0x63, count: 16 << 10)
        for i in 0..<350 { try table.put(Array("key\(100_000 + i)".utf8), value) }
        let slowed = engine.writeStalls.slowdowns
        #expect(slowed >= 1)
        #expect(engine.wal.lanePlacement.isSpread)
        #expect(engine.wal.sealQueue.allowedCPUs == Self.allowed)
        #expect(engine.flusher.mergeQueue.allowedCPUs == Self.allowed)
        hold.signal()
        table.drainBackgroundWork()
        // Home again once nothing has been behind for the settle time (here: asked directly,
        // as the flush lane asks after each flush).
        engine.wal.lanePlacement.settle(now: MonotonicClock.nanos() + engine.wal.lanePlacement.settleNanos)
        #expect(engine.wal.sealQueue.allowedCPUs == home)
        #expect(engine.flusher.mergeQueue.placed)
        try engine.close()
    }

    /// A reshard holds its sources' flushes until it commits, so it runs with the lanes spread
    /// and leaves them spread for the settle time: with them at home, the reshard bench's 1 GiB
    /// split ran on a tenth of one CPU while its writers slept in slowdowns. (Planted: without
    /// the calls in `runReshard` the lanes stay home and this fails.)
    @Test("a reshard spreads the engine's lanes over every CPU",
          .enabled(if: allowed.count >= 2, "placement can only be seen with two CPUs or more to choose from"))
    func aReshardSpreadsTheLanes() throws {
        let dir = TemporaryDirectory()
        var options = Self.quietOptions()
        options.backgroundCPUs = .automatic
        let engine = try Engine.open(at: dir.child("db"), options: options)
        let table = try engine.createTable("t")
        let home = try #require(CPUAffinity.backgroundCPUs(amongAllowed: Self.allowed))
        for i in 0..<2_000 { try table.put(Array("key\(10_000 + i)".utf8), Array("value \(i)".utf8)) }
        table.drainBackgroundWork()
        #expect(!engine.wal.lanePlacement.isSpread)
        #expect(engine.reshards.queue.allowedCPUs == home)
        let status = try table.requestResharding(.split(at: Array("key11000".utf8))).wait()
        #expect(status.state == .committed)
        #expect(engine.wal.lanePlacement.isSpread)
        #expect(engine.reshards.queue.allowedCPUs == Self.allowed)
        #expect(engine.flusher.queue.allowedCPUs == Self.allowed)
        for i in 0..<2_000 { #expect(try table.get(Array("key\(10_000 + i)".utf8)) == Array("value \(i)".utf8)) }
        try engine.close()
    }
}
