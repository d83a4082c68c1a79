import ArgumentParser
import Augur
import AugurSys
import Foundation

/// `augur demo`: the walking-skeleton demonstration behind `make run`. Writes a data set,
/// reads it back, starts a child writer with `sync` durability, kills it with SIGKILL
/// mid-stream, reopens the store and reports what recovery found and whether every
/// acknowledged write survived.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Write, read back, SIGKILL a writer, recover, and report.")

    @Option(help: "Store directory, new or empty (default: a new directory under /tmp, removed afterwards).")
    var dir: String?

    @Option(help: "Records in the bulk data set (1...\(Self.maxRecords)).")
    var records: Int = 200_000

    @Option(help: "How long the child writer runs before SIGKILL, in milliseconds (1...\(Self.maxKillAfterMs)).")
    var killAfterMs: Int = 1500

    /// Ten million 100-byte records (about 1.3 GB with keys): a demonstration, not a bulk loader.
    static let maxRecords = 10_000_000
    /// Ten minutes: the child writes with `sync` durability for as long as it lives.
    static let maxKillAfterMs = 600_000

    func validate() throws {
        if let dir { try FlagLimits.checkPath("dir", dir) }
        try FlagLimits.check("records", records, 1...Self.maxRecords)
        try FlagLimits.check("kill-after-ms", killAfterMs, 1...Self.maxKillAfterMs, unit: "milliseconds")
        // The demo writes tables of its own, splits them and kills a writer: never in a store
        // (or any directory) the user already has (a second demo on one directory failed half
        // way, after it had written into it).
        if let dir, FileManager.default.fileExists(atPath: dir) {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
                throw ValidationError("--dir \(dir) exists and is not a directory")
            }
            if !entries.isEmpty { throw ValidationError("--dir \(dir) is not empty; the demo needs a new or empty directory") }
        }
    }

    func run() throws {
        let path = dir ?? NSTemporaryDirectory() + "augur-demo-\(getpid())"
        defer { if dir == nil { try? FileManager.default.removeItem(atPath: path) } }
        print("Augur demo — store at \(path)")

        // 1. Bulk write and read back.
        var options = EngineOptions()
        options.durability = .none
        var engine = try Engine.open(at: path, options: options)
        let table = try (try? engine.table(named: "demo")) ?? engine.createTable("demo")
        // The child's table is created here, before the child starts: a child killed before it
        // got that far (a short --kill-after-ms) must not leave a store without it.
        if (try? engine.table(named: "writes")) == nil { try engine.createTable("writes") }
        let value = [UInt8](repeating: 0x61, count: 100)
        var start = ContinuousClock.now
        for i in 0..<records { try table.put(demoKey(i), value) }
        try engine.syncWAL()
        let writeTime = ContinuousClock.now - start
        start = ContinuousClock.now
        var found = 0
        for i in 0..<records where try table.get(demoKey(i)) == value { found += 1 }
        let readTime = ContinuousClock.now - start
        print("wrote \(records) records in \(format(writeTime)) (\(rate(records, writeTime)) puts/s); read back \(found)/\(records) in \(format(readTime)) (\(rate(records, readTime)) gets/s)")
        guard found == records else { throw ExitCode.failure }
        try table.splitPartition(at: demoKey(records / 2))
        try engine.flush()
        let parts = try table.partitionStats()
        print("flushed and split: \(parts.count) partitions, \(parts.map(\.records).reduce(0, +)) records in \(parts.map(\.segmentCount).reduce(0, +)) segments")
        try engine.close()

        // 2. A child process writes with `sync` durability and logs every acknowledged key;
        //    we kill it with SIGKILL in the middle of its stream.
        let ackLog = path + ".acks"
        guard FileManager.default.createFile(atPath: ackLog, contents: nil) else {
            throw CommandFailure("cannot create the acknowledgement log '\(ackLog)' beside the store")
        }
        defer { try? FileManager.default.removeItem(atPath: ackLog) }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["demo-writer", "--dir", path, "--ack-log", ackLog, "--parent-pid", String(getpid())]
        try child.run()         // from the main thread: the child's parent-death signal follows it
        Thread.sleep(forTimeInterval: Double(killAfterMs) / 1000)
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        let acked = (try String(contentsOfFile: ackLog, encoding: .utf8)).split(separator: "\n").compactMap { Int($0) }
        print("child writer killed with SIGKILL after \(killAfterMs) ms (exit reason: \(child.terminationReason == .uncaughtSignal ? "signal \(child.terminationStatus)" : "exit \(child.terminationStatus)")); it had acknowledged \(acked.count) writes")

        // 3. Reopen and report what recovery found.
        options.durability = .sync
        engine = try Engine.open(at: path, options: options)
        let r = engine.recoveryReport
        print("recovery: manifest \(r.manifest), \(r.tables) tables, \(r.partitions) partitions, \(r.segmentsVerified) segments verified")
        print("          WAL: \(r.walSegmentsReplayed) segments, \(r.walFramesReplayed) frames, \(r.walRecordsApplied) records re-applied, \(r.walRecordsSkipped) already in segments")
        if let t = r.walTornTail {
            print("          torn tail cut at \(t.file) offset \(t.offset): \(t.bytesDropped) bytes dropped")
        } else {
            print("          no torn tail")
        }
        if !r.filesRemoved.isEmpty { print("          removed leftovers: \(r.filesRemoved.joined(separator: ", "))") }
        guard let writes = try? engine.table(named: "writes") else {
            throw CommandFailure("recovery lost table \"writes\", which existed before the child started")
        }
        var lost = 0
        for i in acked where try writes.get(Array("w\(i)".utf8)) != Array("v\(i)".utf8) { lost += 1 }
        let bulk = try engine.table(named: "demo")
        var bulkLost = 0, bulkChecked = 0
        for i in stride(from: 0, to: records, by: max(1, records / 1000)) {
            bulkChecked += 1
            if try bulk.get(demoKey(i)) != value { bulkLost += 1 }
        }
        print("acknowledged writes: \(acked.count), present after recovery: \(acked.count - lost), lost: \(lost)")
        // The count checked, not a fixed "1,000": the stride checks fewer below 1,000 records
        // and up to 1,999 (every key) between 1,000 and 2,000.
        print("bulk data set spot check (\(bulkChecked) of \(records) keys): \(bulkLost) missing")
        try engine.close()
        if lost > 0 || bulkLost > 0 { throw ExitCode.failure }
    }
}

/// `augur demo-writer` (hidden): the child of `augur demo`. Writes w0, w1, … with `sync`
/// durability and appends each acknowledged index to the ack log, until killed.
struct DemoWriterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo-writer", shouldDisplay: false)

    @Option var dir: String
    @Option var ackLog: String
    /// The `augur demo` process; the writer dies with it (never runs on as an orphan).
    @Option var parentPid: Int32?

    func run() throws {
        if let parentPid, !ProcessLifetime.dieWithParent(expectedParent: parentPid) {
            throw CommandFailure("demo-writer: parent process \(parentPid) is gone; not starting")
        }
        let log: any AugurSys.FileHandle
        do {
            log = try PosixFileSystem().open(ackLog, mode: .readWrite)
        } catch {
            throw CommandFailure("demo-writer: cannot open --ack-log '\(ackLog)': \(error)")
        }
        defer { log.close() }
        var options = EngineOptions()
        options.durability = .sync
        let engine = try Engine.open(at: dir, options: options)
        let table = try (try? engine.table(named: "writes")) ?? engine.createTable("writes")
        var offset = try log.size()
        var i = 0
        while true {
            try table.put(Array("w\(i)".utf8), Array("v\(i)".utf8))
            let line = Array("\(i)\n".utf8)
            try log.write(at: offset, line)         // only after the put was acknowledged
            offset += line.count
            i += 1
        }
    }
}

func demoKey(_ i: Int) -> [UInt8] {
    // Scrambled so writes land all over the key space.
    let h = UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15
    return Array(String(h, radix: 16).utf8) + Array("-\(i)".utf8)
}

func format(_ d: Duration) -> String {
    let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    return ms < 1000 ? String(format: "%.0f ms", ms) : String(format: "%.2f s", ms / 1000)
}

func rate(_ n: Int, _ d: Duration) -> String {
    let s = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    return String(format: "%.0f", Double(n) / max(s, 1e-9))
}
