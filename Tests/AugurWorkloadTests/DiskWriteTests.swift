@testable import AugurLoadCLI
@testable import AugurWorkload
import Foundation
import Testing
import AugurTestSupport

@Suite("Write amplification: user bytes put and the process's disk writes")
struct DiskWriteTests {
    @Test("bytesPut counts the load's records and the run's puts, batches included, reads not")
    func bytesPut() throws {
        let seed = testSeed(91)
        let spec = try WorkloadSpec.preset("a", recordCount: 1000)
        let store = MemoryStore()
        var config = RunConfiguration()
        config.stop = .operations(10_000)
        config.seed = seed
        let runner = WorkloadRunner(store: store, spec: spec, config: config, clock: ManualClock())
        _ = try runner.load(batchSize: 300)
        let record = UInt64(spec.keySize + spec.valueSize)
        #expect(runner.bytesPut == 1000 * record)
        let result = try runner.run()
        let updates = UInt64(result.perOperation.first { $0.kind == "update" }?.count ?? 0)
        #expect(updates > 0 && updates < 10_000)
        #expect(runner.bytesPut == (1000 + updates) * record, "seed \(seed)")

        var bulk = try WorkloadSpec.preset("bulkload", recordCount: 100_000)
        bulk.kind = .bulkLoad(batchSize: 100)
        var bulkConfig = RunConfiguration()
        bulkConfig.stop = .operations(50)
        bulkConfig.seed = seed
        let bulkRunner = WorkloadRunner(store: MemoryStore(), spec: bulk, config: bulkConfig, clock: ManualClock())
        _ = try bulkRunner.run()
        #expect(bulkRunner.bytesPut == 50 * 100 * UInt64(bulk.keySize + bulk.valueSize))
    }

    @Test("amplification is disk bytes over user bytes, and 0 when nothing was put")
    func summary() {
        #expect(DiskWriteSummary(userBytes: 1000, diskBytes: 3500).amplification == 3.5)
        #expect(DiskWriteSummary(userBytes: 0, diskBytes: 4096).amplification == 0)
    }

    @Test("/proc/PID/io text: both counters, a missing cancelled counter, no write counter")
    func parse() {
        let text = "rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 5\nwrite_bytes: 81920\ncancelled_write_bytes: 4096\n"
        #expect(ProcessIO.parse(text) == ProcessIO.Counters(written: 81920, cancelled: 4096))
        #expect(ProcessIO.parse(text)?.net == 77824)
        #expect(ProcessIO.parse("write_bytes: 10\n")?.net == 10)
        #expect(ProcessIO.parse("cancelled_write_bytes: 20\nwrite_bytes: 10\n")?.net == 0)
        #expect(ProcessIO.parse("rchar: 1\n") == nil)
    }

    @Test("/proc/PID/status text: resident now and peak in bytes; a line missing or not in kB is no figure")
    func parseResident() {
        let text = "Name:\taugur-load\nVmPeak:\t  900000 kB\nVmHWM:\t  524288 kB\nVmRSS:\t  131072 kB\n"
            + "RssAnon:\t   65536 kB\nRssFile:\t   65536 kB\nThreads:\t4\n"
        #expect(ProcessIO.parseResident(text) == ProcessIO.Resident(now: 128 << 20, peak: 512 << 20, anonymous: 64 << 20))
        #expect(ProcessIO.parseResident("VmRSS:\t  10 kB\nVmHWM:\t  20 kB\n") == nil)
        #expect(ProcessIO.parseResident("VmRSS:\t  10 MB\nVmHWM:\t  20 kB\nRssAnon:\t 1 kB\n") == nil)
        // A peak read a moment before the current figure is never reported below it.
        #expect(ProcessIO.parseResident("VmHWM:\t 4 kB\nVmRSS:\t 8 kB\nRssAnon:\t 1 kB\n")?.peak == 8 << 10)
        #expect(MemorySummary(startBytes: 100, peakBytes: 50).peakBytes == 100)
    }

    /// Other tests of this process allocate and free meanwhile: what must hold is that a peak
    /// read while 64 MiB of touched pages are held covers them.
    @Test("the peak resident set after a reset covers 64 MiB of touched memory",
          .enabled(if: ProcessIO.resident() != nil, "needs VmRSS and VmHWM in /proc/self/status (Linux)"))
    func peakResident() throws {
        ProcessIO.resetPeakResident()
        let size = 64 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        defer { buffer.deallocate() }
        for page in stride(from: 0, to: size, by: 4096) { buffer[page] = 1 }
        let held = try #require(ProcessIO.resident())
        #expect(held.now >= UInt64(size) && held.peak >= held.now && held.anonymous >= UInt64(size), "\(held)")
    }

    @Test("the anonymous peak sampler sees 64 MiB held between its start and stop, and stops twice",
          .enabled(if: ProcessIO.resident() != nil, "needs RssAnon in /proc/self/status (Linux)"))
    func anonymousPeakSampler() {
        let sampler = ProcessIO.AnonymousPeakSampler(interval: 0.01)
        sampler.start()
        let size = 64 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        for page in stride(from: 0, to: size, by: 4096) { buffer[page] = 1 }
        Thread.sleep(forTimeInterval: 0.05)
        buffer.deallocate()
        let peak = sampler.stop()
        #expect((peak ?? 0) >= UInt64(size), "\(String(describing: peak))")
        #expect(sampler.stop() == peak)
    }

    /// Other tests of this process write and delete files meanwhile, which only ever adds to
    /// `written`: the check is a lower bound on that counter.
    @Test("a file written and synced shows in the process's written bytes",
          .enabled(if: ProcessIO.counters() != nil, "needs /proc/self/io (Linux task I/O accounting)"))
    func countsWrites() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("augur-diskwrites-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let before = try #require(ProcessIO.counters())
        let path = dir.appendingPathComponent("data").path
        let handle = try #require(FileHandle(forWritingAtPath: path) ?? {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)
        }())
        try handle.write(contentsOf: Data(repeating: 0x5A, count: 4 << 20))
        try handle.synchronize()
        try handle.close()
        let after = try #require(ProcessIO.counters())
        #expect(after.written >= before.written + (4 << 20), "\(before) → \(after)")
    }
}
