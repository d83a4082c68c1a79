import AugurStats
import AugurTestSupport
import Dispatch
import Foundation
import Testing
@_spi(Testing) import Augur
@_spi(Testing) import AugurSys

/// Large merges run on their own lane (Flusher.swift): flushes — of the merging partition and
/// of every other — go on while one runs, and a merge's commit finds its runs where flushes,
/// reshards and inline merges left them. Replay one seed with AUGUR_SEED=<n>.
@Suite struct MergeLaneTests {
    static var seeds: [UInt64] {
        if let s = environmentValue("AUGUR_SEED"), let seed = UInt64(s) { return [seed] }
        return [7, 8, 0x3E6_2026]
    }

    static func options(_ fs: any FileSystem) -> EngineOptions {
        var o = ReshardTests.options(fs, durability: .none)
        // Flushes of 1 MiB; merges past four of them go to the merge lane.
        o.memtableFlushSize = 1 << 20
        o.writeStallMemtableBytes = 4 << 20
        o.maxRunsPerPartition = 2
        return o
    }

    /// Merges of more than 1 MiB go to the merge lane (four flush sizes; a flush takes about
    /// 336 KiB, the memtable's first three arena chunks).
    static func busyLaneOptions(_ fs: any FileSystem) -> EngineOptions {
        var o = options(fs)
        o.memtableFlushSize = 256 << 10
        return o
    }

    static func key(_ i: Int) -> [UInt8] { Array("key\(100_000 + i)".utf8) }

    /// With the merge lane held (as a merge of minutes would hold it), 24 MB of puts flush
    /// without waiting for it: runs pile up past the bound of 2 (merges of more than 4 MiB are
    /// left to the lane) but not past twice it (at that count a flush merges itself). Released,
    /// the lane brings the partition back to 2 runs, and every write is there. (Planted: the
    /// flush lane waiting for the merge it queued — the writer stalled until the test gave up.)
    @Test func flushesDoNotWaitForAHeldMergeLane() throws {
        let engine = try Engine.open(at: "/db", options: Self.options(CrashSimulatingFileSystem()))
        let table = try engine.createTable("t")
        let hold = DispatchSemaphore(value: 0)
        engine.enqueueMergeLaneJob { hold.wait() }
        let done = DispatchSemaphore(value: 0)
        var model: [Int: [UInt8]] = [:]
        let values = (0..<3).map { [UInt8](repeating: UInt8(0x61 + $0), count: 1_000) }
        Thread {
            for i in 0..<24_000 { try? table.put(Self.key(i % 8_000), values[i / 8_000]) }
            done.signal()
        }.start()
        // The most runs seen while the lane was held.
        var most = 0
        while done.wait(timeout: .now() + 0.005) == .timedOut {
            most = max(most, try table.partitionStats().first?.segmentCount ?? 0)
        }
        for i in 0..<8_000 { model[i] = values[2] }
        engine.drainFlushLane()
        most = max(most, try table.partitionStats().first?.segmentCount ?? 0)
        #expect(most > 2 && most <= 4, "the most runs while merges were held: \(most)")
        hold.signal()
        engine.drainBackgroundWork()
        let after = try #require(try table.partitionStats().first)
        #expect(after.segmentCount <= 2, "runs after the merge lane ran: \(after.segmentCount)")
        for (i, v) in model where i % 7 == 0 { #expect(try table.get(Self.key(i)) == v) }
        try engine.close()
    }

    /// Overwrites, deletes, splits and merges of partitions while both lanes work (merges
    /// committed where newer runs have joined, and merges dropped because a reshard or an
    /// inline merge took their runs), against a model; again after a reopen.
    @Test("flushes, merge-lane merges and reshards together keep every write", arguments: seeds)
    func mergesWithReshardsMatchTheModel(seed: UInt64) throws {
        print("MergeLaneTests seed \(seed) (AUGUR_SEED=\(seed) replays it)")
        var rng = SplitMix64(seed: seed)
        let fs = CrashSimulatingFileSystem()
        var engine = try Engine.open(at: "/db", options: Self.busyLaneOptions(fs))
        let table = try engine.createTable("t")
        // Slow merges: flushes and reshards of the merging partition land between a merge's
        // write and its commit. (Planted: a commit that replaces the newest runs instead of the
        // merged ones lost writes in every seed.)
        engine.setBeforeMergeCommit { ThreadPause.sleep(nanoseconds: 20_000_000) }
        var model: [[UInt8]: [UInt8]] = [:]
        var boundaries: [Int] = []
        for step in 0..<30_000 {
            let k = Int(rng.next() % 6_000)
            if rng.next() % 10 == 0 {
                try table.delete(Self.key(k))
                model[Self.key(k)] = nil
            } else {
                let v = [UInt8](repeating: UInt8(truncatingIfNeeded: step), count: 200 + Int(rng.next() % 2_400))
                try table.put(Self.key(k), v)
                model[Self.key(k)] = v
            }
            if step % 3_000 == 2_999 {
                // A split at a fresh boundary, or a merge of one made before, waited for.
                if boundaries.isEmpty || rng.next() % 2 == 0 {
                    let b = 500 + Int(rng.next() % 5_000)
                    if !boundaries.contains(b) {
                        try table.requestResharding(.split(at: Self.key(b))).wait()
                        boundaries.append(b)
                    }
                } else {
                    let b = boundaries.remove(at: Int(rng.next() % UInt64(boundaries.count)))
                    try table.requestResharding(.merge(boundary: Self.key(b))).wait()
                }
            }
        }
        func check(_ engine: Engine, _ when: String) throws {
            let t = try engine.table(named: "t")
            var seen = 0
            for kv in try t.scan() {
                let (k, v) = (kv.key, kv.value)
                let same = model[k] == v   // not compared inside #expect: it would print both values
                #expect(same, "\(when): \(String(decoding: k, as: UTF8.self)) differs (seed \(seed))")
                seen += 1
            }
            #expect(seen == model.count, "\(when): \(seen) keys, the model has \(model.count) (seed \(seed))")
        }
        engine.drainBackgroundWork()
        try check(engine, "after the writes")
        try engine.close()
        engine = try Engine.open(at: "/db", options: Self.busyLaneOptions(fs))
        try check(engine, "after a reopen")
        try engine.close()
    }
}
