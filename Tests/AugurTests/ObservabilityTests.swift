import Testing
import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport
import Logging

/// What the engine logs (swift-log, captured with `LogCapture`) and the metrics it exposes
/// (`Engine.metricsText()`, `<dir>/METRICS.prom`): issue 17.
@Suite struct ObservabilityTests {
    func options(_ fs: any FileSystem, _ logs: LogCapture) -> EngineOptions {
        var o = EngineOptions()
        o.fileSystem = fs
        o.durability = .sync
        o.walSegmentSize = 64 << 10
        o.makeLogger = logs.makeLogger
        return o
    }

    /// A torn WAL tail is cut at open, and the recovery logger says where and how much.
    @Test func recoveryLogsTheTornTailItCut() throws {
        let live = CrashSimulatingFileSystem()
        let quiet = LogCapture()
        var engine = try Engine.open(at: "/db", options: options(live, quiet))
        let t = try engine.createTable("t")
        for i in 0..<20 { try t.put(Array("k\(i)".utf8), Array("v\(i)".utf8)) }
        let fs = live.crashClone()            // a power cut: the segment is not sealed
        try engine.close()
        // A half-written frame where the next one would go.
        let wal = try #require(try fs.listDirectory("/db/wal").sorted().last)
        let h = try fs.open("/db/wal/" + wal, mode: .readWrite)
        let data = try h.read(at: 0, count: 64 << 10)
        let frameEnd = (data.lastIndex { $0 != 0 }! + 1 + 7) & ~7
        try h.write(at: frameEnd, [0x11, 0x22, 0x33, 0x44, 0x20, 0, 0, 0, 9, 9, 9, 9])
        try h.sync()
        h.close()

        let logs = LogCapture()
        engine = try Engine.open(at: "/db", options: options(fs, logs))
        defer { try? engine.close() }
        #expect(engine.recoveryReport.walTornTail != nil)
        let cut = logs.all.filter { $0.label == "augur.recovery" && $0.message.contains("torn tail") }
        try #require(cut.count == 1, "\(logs.all)")
        #expect(cut[0].level == .warning)
        #expect(cut[0].metadata["store"] == "/db")
        #expect(cut[0].metadata["file"]?.hasSuffix(wal) == true, "\(cut[0])")
        #expect(cut[0].metadata["offset"] == String(frameEnd))
        #expect(cut[0].metadata["bytesDropped"] == "12")
        #expect(cut[0].metadata["savedAs"] != nil)
        // Nothing but recovery was logged at notice or above by the open.
        #expect(logs.all.filter { $0.level >= .notice && $0.label != "augur.recovery" }.isEmpty, "\(logs.all)")
    }

    /// The exposition parses, and its counters follow writes, reads, a flush and a split.
    @Test func metricsFollowWritesFlushesAndReshards() throws {
        let fs = CrashSimulatingFileSystem()
        let logs = LogCapture()
        let engine = try Engine.open(at: "/db", options: options(fs, logs))
        let t = try engine.createTable("t")
        var m = try Exposition(engine.metricsText())
        #expect(m.value("augur_writes_total") == 0)
        #expect(m.value("augur_partitions", table: "t") == 1)
        #expect(m.value("augur_forecast_error_ratio") == nil)

        for i in 0..<100 { try t.put(Array("k\(i + 100)".utf8), [UInt8](repeating: 1, count: 100)) }
        for i in 0..<10 { _ = try t.get(Array("k\(i + 100)".utf8)) }
        m = try Exposition(engine.metricsText())
        #expect(m.value("augur_writes_total") == 100)
        #expect(m.value("augur_reads_total") == 10)
        #expect(m.value("augur_written_bytes_total") == Double(100 * 104), "key and value bytes")
        #expect((m.value("augur_wal_sync_seconds_count") ?? 0) >= 1, "sync durability syncs the WAL")
        #expect(m.value("augur_flush_seconds_count") == 0)

        try engine.flush()
        m = try Exposition(engine.metricsText())
        #expect(m.value("augur_flush_seconds_count") == 1)
        #expect((m.value("augur_flushed_bytes_total") ?? 0) > 0)
        #expect((m.value("augur_flush_seconds_sum") ?? -1) >= 0)

        try t.splitPartition(at: Array("k150".utf8))
        for i in 0..<50 { try t.put(Array("k\(i + 100)".utf8), [2]) }
        m = try Exposition(engine.metricsText())
        #expect(m.value("augur_reshards_committed_total") == 1)
        #expect(m.value("augur_reshards_aborted_total") == 0)
        #expect(m.value("augur_partitions", table: "t") == 2)
        #expect((m.value("augur_reshard_copied_bytes_total") ?? 0) + (m.value("augur_reshard_shared_bytes_total") ?? 0) > 0)
        // The targets inherit their source's histogram counts; they are not counted again.
        #expect(m.value("augur_writes_total") == 150)
        let committed = logs.all.filter { $0.label == "augur.reshard" && $0.message.hasPrefix("reshard committed") }
        #expect(committed.count == 1 && committed.first?.level == .debug, "\(logs.all)")

        // Closing writes METRICS.prom with the same figures.
        try engine.close()
        let file = try Exposition(String(decoding: fs.readFile("/db/" + MetricsSnapshot.fileName), as: UTF8.self))
        #expect(file.value("augur_writes_total") == 150)
        #expect(file.value("augur_reshards_committed_total") == 1)
        #expect(file.value("augur_flush_seconds_count") ?? 0 >= 1)
    }

    /// Without telemetry nothing counts operations: those metrics have no sample, the rest do.
    @Test func withoutTelemetryOperationCountsAreLeftOut() throws {
        var o = options(CrashSimulatingFileSystem(), LogCapture())
        o.telemetry.enabled = false
        let engine = try Engine.open(at: "/db", options: o)
        defer { try? engine.close() }
        let t = try engine.createTable("t")
        try t.put([1], [2])
        try engine.flush()
        let m = try Exposition(engine.metricsText())
        #expect(m.value("augur_writes_total") == nil)
        #expect(m.families["augur_writes_total"] == "counter", "HELP and TYPE stay")
        #expect(m.value("augur_flush_seconds_count") == 1)
        #expect(m.value("augur_partitions", table: "t") == 1)
    }

    @Test func labelValuesAreEscaped() throws {
        var s = MetricsSnapshot(store: "/a \"b\"\\c\nd")
        s.partitions = ["t\"1": 3]
        let m = try Exposition(s.prometheusText)
        #expect(m.value("augur_partitions", table: "t\"1") == 3)
        #expect(m.samples.allSatisfy { $0.labels["store"] == "/a \"b\"\\c\nd" })
    }
}

/// A strict reader of the Prometheus text format as `MetricsSnapshot` writes it: every line is
/// `# HELP name text`, `# TYPE name kind`, or `name{label="value",…} number`, and every sample
/// belongs to a family whose HELP and TYPE came before it.
struct Exposition {
    struct Sample { var name: String; var labels: [String: String]; var value: Double }
    struct Malformed: Error, CustomStringConvertible { var description: String }

    var families: [String: String] = [:]    // name → type
    var samples: [Sample] = []

    init(_ text: String) throws {
        var helped: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { continue }
            if line.hasPrefix("# HELP ") {
                let parts = line.dropFirst(7).split(separator: " ", maxSplits: 1)
                guard parts.count == 2, Self.isName(parts[0]) else { throw Malformed(description: "bad HELP: \(line)") }
                helped.insert(String(parts[0]))
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2, Self.isName(parts[0]), ["counter", "gauge", "summary"].contains(parts[1]),
                      helped.contains(String(parts[0])) else { throw Malformed(description: "bad TYPE: \(line)") }
                families[String(parts[0])] = String(parts[1])
            } else {
                let sample = try Self.sample(line)
                var family = sample.name
                for suffix in ["_sum", "_count"] where family.hasSuffix(suffix) && families[String(family.dropLast(suffix.count))] == "summary" {
                    family = String(family.dropLast(suffix.count))
                }
                guard families[family] != nil else { throw Malformed(description: "sample before its HELP/TYPE: \(line)") }
                samples.append(sample)
            }
        }
        guard !families.isEmpty else { throw Malformed(description: "no metrics") }
    }

    /// The value of the sample `name` (with `table` when given), nil when there is none.
    func value(_ name: String, table: String? = nil) -> Double? {
        samples.first { $0.name == name && (table == nil || $0.labels["table"] == table) }?.value
    }

    static func isName<S: StringProtocol>(_ s: S) -> Bool {
        guard let first = s.first, first.isLetter || first == "_" else { return false }
        return s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }

    static func sample(_ line: Substring) throws -> Sample {
        guard let open = line.firstIndex(of: "{") else { throw Malformed(description: "no labels: \(line)") }
        let name = String(line[..<open])
        guard isName(name) else { throw Malformed(description: "bad name: \(line)") }
        var labels: [String: String] = [:]
        var i = line.index(after: open)
        while line[i] != "}" {
            guard let eq = line[i...].firstIndex(of: "="), line[line.index(after: eq)] == "\"" else {
                throw Malformed(description: "bad label: \(line)")
            }
            let key = String(line[i..<eq])
            guard isName(key) else { throw Malformed(description: "bad label name: \(line)") }
            var value = ""
            var j = line.index(eq, offsetBy: 2)
            while line[j] != "\"" {
                if line[j] == "\\" {
                    j = line.index(after: j)
                    switch line[j] {
                    case "n": value.append("\n")
                    case "\\", "\"": value.append(line[j])
                    default: throw Malformed(description: "bad escape: \(line)")
                    }
                } else {
                    value.append(line[j])
                }
                j = line.index(after: j)
            }
            labels[key] = value
            i = line.index(after: j)
            if line[i] == "," { i = line.index(after: i) }
        }
        let rest = line[line.index(after: i)...]
        guard rest.first == " ", let value = Double(rest.dropFirst()) ?? ["+Inf": .infinity, "-Inf": -.infinity, "NaN": .nan][String(rest.dropFirst())]
        else { throw Malformed(description: "bad value: \(line)") }
        return Sample(name: name, labels: labels, value: value)
    }
}
