import Testing
@_spi(Testing) import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Telemetry as the engine reports it: exact counts under concurrency, rates per window under
/// a manual clock, inheritance across a split, and the TELEMETRY.json file.
@Suite struct TelemetryTests {
    func options(_ clock: ManualClock) -> EngineOptions {
        var o = EngineOptions()
        o.fileSystem = CrashSimulatingFileSystem()
        o.durability = .none
        o.clock = clock
        o.telemetry.collectInterval = .seconds(3600)   // the test drives collection
        return o
    }

    @Test func countsAreExactUnderConcurrentWriters() throws {
        let clock = ManualClock()
        let engine = try Engine.open(at: "/db", options: options(clock))
        let table = try engine.createTable("t")
        let threads = 4, perThread = 5000
        DispatchQueue.concurrentPerform(iterations: threads) { tid in
            for i in 0..<perThread {
                try! table.put(Array("k\(tid)-\(i)".utf8), [1, 2, 3])
                if i % 5 == 0 { _ = try! table.get(Array("k\(tid)-\(i)".utf8)) }
            }
        }
        let health = try engine.partitionHealth(table: "t")
        let ops = health.reduce(0) { $0 + $1.bucketOperations.reduce(0, +) }
        #expect(ops == UInt64(threads * perThread + threads * perThread / 5), "histogram totals must be exact")
        try engine.close()
    }

    @Test func ratesFollowTheManualClockAndWindowsExpire() throws {
        let clock = ManualClock()
        let engine = try Engine.open(at: "/db", options: options(clock))
        let table = try engine.createTable("t")
        _ = try engine.partitionHealth(table: "t")          // baseline for exact counters
        for second in 0..<10 {
            clock.advance(by: .seconds(1))
            for i in 0..<100 { try table.put(Array("k\(second)-\(i)".utf8), [UInt8](repeating: 0, count: 10)) }
            _ = try engine.partitionHealth(table: "t")
        }
        let h = try #require(try engine.partitionHealth(table: "t").first)
        let fiveMinutes = try #require(h.windows.first { $0.window == "5m" })
        #expect(fiveMinutes.exact)
        #expect(abs(fiveMinutes.operationsPerSecond - 100) < 15, "≈100 puts/s over the covered 10 s, got \(fiveMinutes.operationsPerSecond)")
        // Ten minutes of silence: the 5-minute window empties, the hour window still remembers.
        clock.advance(by: .seconds(600))
        let later = try #require(try engine.partitionHealth(table: "t").first)
        #expect(later.windows.first { $0.window == "5m" }!.operationsPerSecond == 0)
        #expect(later.windows.first { $0.window == "1h" }!.operationsPerSecond > 0)
        try engine.close()
    }

    @Test func splitChildrenInheritTheirShareOfCounts() throws {
        let clock = ManualClock()
        let engine = try Engine.open(at: "/db", options: options(clock))
        let table = try engine.createTable("t")
        // 3:1 load between [.., "m") and ["m", ..).
        for i in 0..<3000 { try table.put(Array("a\(i)".utf8), [1]) }
        for i in 0..<1000 { try table.put(Array("z\(i)".utf8), [1]) }
        let before = try engine.partitionHealth(table: "t")
        let total = before[0].bucketOperations.reduce(0, +)
        try table.splitPartition(at: Array("m".utf8))
        let after = try engine.partitionHealth(table: "t")
        #expect(after.count == 2)
        let left = after[0].bucketOperations.reduce(0, +), right = after[1].bucketOperations.reduce(0, +)
        #expect(left + right == total, "counts are conserved across a split")
        #expect(Double(left) / Double(total) > 0.7 && Double(left) / Double(total) < 0.8, "left child got \(left) of \(total)")
        try engine.close()
    }

    @Test func hotKeyAndSkewAreReported() throws {
        let clock = ManualClock()
        var o = options(clock)
        o.telemetry.sampling.samplingPeriod = 1
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        for i in 0..<5000 {
            try table.put(Array("user\(i % 500)".utf8), [1])
            _ = try table.get(Array("hot-key".utf8))       // two thirds of the load on one key:
            _ = try table.get(Array("hot-key".utf8))       // no split point can balance that
        }
        let h = try #require(try engine.partitionHealth(table: "t").first)
        #expect(h.hotKeys.contains { $0.isHotKey && $0.keyPrefix == Array("hot-key".utf8) }, "hot keys: \(h.hotKeys.map { "\(formatKey($0.keyPrefix)) \($0.loadFraction) \($0.isHotKey)" })")
        #expect(h.skew > 5, "skew \(h.skew)")
        #expect(h.entropy < 0.9)
        try engine.close()
    }

    /// Each thread caches its telemetry cell for the engine it used last (a C thread-local keyed
    /// by a never-reused instance id): alternating engines on one thread, and a new engine
    /// after a closed one, must still count every operation in the right engine.
    @Test func enginesSharingAThreadKeepSeparateCounts() throws {
        let clock = ManualClock()
        let a = try Engine.open(at: "/db", options: options(clock))
        let b = try Engine.open(at: "/db", options: options(clock))   // its own file system
        let ta = try a.createTable("t"), tb = try b.createTable("t")
        for i in 0..<300 {
            try ta.put(Array("a\(i)".utf8), [1])
            if i % 3 == 0 { try tb.put(Array("b\(i)".utf8), [1]) }
            if i % 2 == 0 { _ = try tb.get(Array("b\(i)".utf8)) }
        }
        func operations(_ e: Engine) throws -> UInt64 {
            try e.partitionHealth(table: "t").reduce(0) { $0 + $1.bucketOperations.reduce(0, +) }
        }
        #expect(try operations(a) == 300)
        #expect(try operations(b) == 100 + 150)
        try a.close()
        let c = try Engine.open(at: "/db", options: options(clock))
        let tc = try c.createTable("t")
        for i in 0..<50 { try tc.put(Array("c\(i)".utf8), [1]); try tb.put(Array("b\(i)".utf8), [1]) }
        #expect(try operations(c) == 50)
        #expect(try operations(b) == 250 + 50)
        try b.close()
        try c.close()
    }

    /// An engine closed and dropped while threads that recorded for it live on frees their
    /// cells (before, each such thread kept its cell and the registry it retains forever); a
    /// thread exiting after that frees nothing twice.
    @Test func droppedEngineFreesTheCellsOfLiveThreads() throws {
        final class Holder: @unchecked Sendable { var table: Table? }
        let holder = Holder()
        let recorded = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        var thread = pthread_t()
        // Opens an engine, has this thread and a second one record for it, closes it; every
        // reference to it is gone when this returns (the second thread dropped its own).
        func useAndClose() throws -> UInt64 {
            let engine = try Engine.open(at: "/db", options: options(ManualClock()))
            let id = try #require(engine.telemetryInstanceID)
            holder.table = try engine.createTable("t")
            let box = Unmanaged.passRetained(ThreadBody {
                for i in 0..<20 { try! holder.table!.put(Array("w\(i)".utf8), [1]) }
                holder.table = nil
                recorded.signal()
                release.wait()                     // alive until the engine is gone
            })
            #expect(pthread_create(&thread, nil, { arg in
                let body = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
                body.run()
                return nil
            }, box.toOpaque()) == 0)
            recorded.wait()
            try engine.table(named: "t").put("here", "too")
            #expect(Engine.telemetryThreadCells(instance: id) == 2)
            try engine.close()
            return id
        }
        let id = try useAndClose()
        #expect(Engine.telemetryThreadCells(instance: id) == 0, "cells of live threads outlive their engine")
        release.signal()
        pthread_join(thread, nil)                  // its exit must not free anything again
        #expect(Engine.telemetryThreadCells(instance: id) == 0)
    }

    /// Threads that exit give their slot back (the pthread key's destructor, which also clears
    /// the thread-local cache); more short-lived threads than slots still count exactly.
    @Test func shortLivedThreadsCountExactly() throws {
        let clock = ManualClock()
        let engine = try Engine.open(at: "/db", options: options(clock))
        let table = try engine.createTable("t")
        let threads = 40, perThread = 50   // 40 > the default 16 slots
        for t in 0..<threads {
            var thread = pthread_t()
            let box = Unmanaged.passRetained(ThreadBody {
                for i in 0..<perThread { try! table.put(Array("k\(t)-\(i)".utf8), [1]) }
            })
            #expect(pthread_create(&thread, nil, { arg in
                let body = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
                body.run()
                return nil
            }, box.toOpaque()) == 0)
            pthread_join(thread, nil)   // its key destructors have run
        }
        let ops = try engine.partitionHealth(table: "t").reduce(0) { $0 + $1.bucketOperations.reduce(0, +) }
        #expect(ops == UInt64(threads * perThread))
        try engine.close()
    }

    @Test func healthFileIsWrittenAtClose() throws {
        let clock = ManualClock()
        let o = options(clock)
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        for i in 0..<100 { try table.put(Array("k\(i)".utf8), [1]) }
        try engine.close()
        let bytes = try o.fileSystem.readFile("/db/" + TelemetryFile.name)
        let file = try TelemetryFile.decode(bytes)
        #expect(file.partitions.count == 1)
        #expect(file.partitions[0].table == "t")
        #expect(file.partitions[0].bucketOperations.reduce(0, +) == 100)
        let reopened = try Engine.open(at: "/db", options: o)    // the file is part of the store
        #expect(reopened.recoveryReport.filesRemoved.isEmpty)
        try reopened.close()
    }

    /// A flush's work reaches the partition's cost while it runs, so a long merge reads as load
    /// over the seconds it took rather than as one second of it all (issue 14: charged at the
    /// end, a merge made its partition look saturated for one sample and idle for the others).
    /// Charged once at the end, a poller sees one non-zero total; charged as it runs, many.
    @Test func aFlushIsChargedToItsPartitionAsItRuns() throws {
        let clock = ManualClock()
        var o = options(clock)
        o.memtableFlushSize = 1 << 30                    // only the explicit flush below
        let engine = try Engine.open(at: "/db", options: o)
        let table = try engine.createTable("t")
        let value = [UInt8](repeating: 7, count: 200)
        for i in 0..<150_000 { try table.put(Array("key-\(100_000_000 + i)".utf8), value) }
        #expect(try engine.maintenanceNanos(table: "t") == [0])
        let done = Atomic<Bool>(false)
        let flushed = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            try! engine.flush()
            done.store(true, ordering: .releasing)
            flushed.signal()
        }
        var values: Set<UInt64> = []
        while !done.load(ordering: .acquiring) {
            values.insert(try engine.maintenanceNanos(table: "t")[0])
            usleep(200)
        }
        flushed.wait()
        values.insert(try engine.maintenanceNanos(table: "t")[0])
        values.remove(0)
        #expect(values.count >= 3, "a flush of 150,000 records was charged in \(values.count) step(s): \(values.sorted())")
        try engine.close()
    }
}

/// A closure handed to a raw pthread.
final class ThreadBody: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
