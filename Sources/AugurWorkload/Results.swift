import Foundation
import Histogram

/// One time-series bucket: the interval ending at `seconds` from the start of the run.
public struct IntervalSample: Sendable, Codable, Equatable {
    public var seconds: Double
    public var opsPerSecond: Double
    /// Completions per second by operation type.
    public var perOperation: [String: Double]
    public var p50Microseconds: Double?
    public var p99Microseconds: Double?
    public var targetRate: Double?
    public var errors: Int
    public var partitions: Int?
    public var reshardsInFlight: Int?
    public var forecast: IntervalForecast?
    /// True for intervals inside the warm-up.
    public var warmup: Bool
    /// The interval's longest operation (from the interval's two-digit histogram, so within
    /// 1 %). nil: no operation completed in it.
    public var maxMicroseconds: Double? = nil
    /// CPU time the host stole from all CPUs during the interval, in milliseconds (10 ms
    /// resolution; see HostSteal.swift). nil: not measured.
    public var stolenMilliseconds: Double? = nil

    public init(seconds: Double, opsPerSecond: Double, perOperation: [String: Double] = [:], p50Microseconds: Double? = nil,
                p99Microseconds: Double? = nil, targetRate: Double? = nil, errors: Int = 0, partitions: Int? = nil,
                reshardsInFlight: Int? = nil, forecast: IntervalForecast? = nil, warmup: Bool = false) {
        self.seconds = seconds
        self.opsPerSecond = opsPerSecond
        self.perOperation = perOperation
        self.p50Microseconds = p50Microseconds
        self.p99Microseconds = p99Microseconds
        self.targetRate = targetRate
        self.errors = errors
        self.partitions = partitions
        self.reshardsInFlight = reshardsInFlight
        self.forecast = forecast
        self.warmup = warmup
    }
}

/// Latency percentiles of one operation type over the measured window, in microseconds.
public struct OperationSummary: Sendable, Codable, Equatable {
    public var kind: String
    public var count: Int
    public var errors: Int
    public var opsPerSecond: Double
    public var meanMicroseconds: Double
    public var p50Microseconds: Double
    public var p95Microseconds: Double
    public var p99Microseconds: Double
    public var p999Microseconds: Double
    public var maxMicroseconds: Double

    init(kind: String, histogram h: Histogram<UInt64>, errors: Int, seconds: Double) {
        self.kind = kind
        count = Int(h.totalCount)
        self.errors = errors
        opsPerSecond = seconds > 0 ? Double(h.totalCount) / seconds : 0
        let empty = h.totalCount == 0
        func us(_ p: Double) -> Double { empty ? 0 : Double(h.valueAtPercentile(p)) / 1000 }
        meanMicroseconds = empty ? 0 : h.mean / 1000
        p50Microseconds = us(50)
        p95Microseconds = us(95)
        p99Microseconds = us(99)
        p999Microseconds = us(99.9)
        maxMicroseconds = empty ? 0 : Double(h.max) / 1000
    }

    public init(kind: String, count: Int, errors: Int = 0, opsPerSecond: Double, meanMicroseconds: Double = 0,
                p50Microseconds: Double, p95Microseconds: Double, p99Microseconds: Double, p999Microseconds: Double,
                maxMicroseconds: Double) {
        self.kind = kind; self.count = count; self.errors = errors; self.opsPerSecond = opsPerSecond
        self.meanMicroseconds = meanMicroseconds; self.p50Microseconds = p50Microseconds; self.p95Microseconds = p95Microseconds
        self.p99Microseconds = p99Microseconds; self.p999Microseconds = p999Microseconds; self.maxMicroseconds = maxMicroseconds
    }
}

/// Partitioning over the measured run; nil where the engine does not report it.
public struct PartitionSummary: Sendable, Codable, Equatable {
    public var atStart: Int?
    public var atEnd: Int?
    /// Largest partition count over the time series (warm-up included).
    public var maximum: Int?
    /// Mean partition count over the same samples as `maximum` (each interval counts once).
    public var mean: Double?
    public var splits: Int?
    public var merges: Int?
    public var moves: Int?
    public var bytesMoved: Int64?
    /// Bytes reshards handed over by sharing segment files instead of copying them (nil: the
    /// engine does not say).
    public var bytesShared: Int64? = nil
    public var overloadSeconds: Double?
    /// Mean absolute percentage error of the engine's load forecast (0.1 = 10%).
    public var forecastError: Double?
    /// The engine's measured per-partition capacity at the end (ops/s), and its mean reshard
    /// copy rate (bytes/s): what `augur simulate` takes to predict this run.
    public var measuredCapacity: Double? = nil
    public var copyBytesPerSecond: Double? = nil
    /// Times during the run a key range's forecast was withheld because its intervals stopped
    /// covering, so the range was planned by reactive rules (nil: the engine does not say).
    public var forecastFallbacks: Int? = nil
    /// Writes that waited for their partition's flush during the run, and the seconds they
    /// waited (nil: the engine does not say).
    public var writeStalls: Int? = nil
    public var writeStallSeconds: Double? = nil
    /// Why the run's last write stall waited (nil: no stall in the run, or not said).
    public var lastWriteStallReason: String? = nil
    /// Writes slowed (short sleeps before the stall limit) during the run, and the seconds they
    /// slept (nil: the engine does not say).
    public var writeSlowdowns: Int? = nil
    public var writeSlowdownSeconds: Double? = nil

    public init(atStart: Int? = nil, atEnd: Int? = nil, maximum: Int? = nil, mean: Double? = nil, splits: Int? = nil,
                merges: Int? = nil, moves: Int? = nil, bytesMoved: Int64? = nil, overloadSeconds: Double? = nil,
                forecastError: Double? = nil) {
        self.atStart = atStart; self.atEnd = atEnd; self.maximum = maximum; self.mean = mean; self.splits = splits
        self.merges = merges; self.moves = moves; self.bytesMoved = bytesMoved; self.overloadSeconds = overloadSeconds
        self.forecastError = forecastError
    }
}

/// The load phase before a run (`Runner.load`, JSON `load`): records inserted, in how long.
/// (Not AugurStats' `LoadSummary`, which summarises a key histogram's load.)
public struct LoadPhaseSummary: Sendable, Codable, Equatable {
    public var records: Int
    public var seconds: Double
    public var recordsPerSecond: Double
}

/// Write amplification as the kernel sees it: the bytes the run's process wrote to storage
/// (`/proc/self/io` write_bytes less cancelled_write_bytes, from before the store opened until
/// after its final flush and a sync) against the bytes of keys and values it put — the same
/// measure for every engine, WAL, flushes, merges and compactions included.
public struct DiskWriteSummary: Sendable, Codable, Equatable {
    /// Bytes of keys and values put (load and run, warm-up included).
    public var userBytes: UInt64
    /// Bytes written to storage meanwhile.
    public var diskBytes: UInt64
    /// `diskBytes / userBytes` (0 when nothing was put).
    public var amplification: Double

    public init(userBytes: UInt64, diskBytes: UInt64) {
        self.userBytes = userBytes
        self.diskBytes = diskBytes
        amplification = userBytes > 0 ? Double(diskBytes) / Double(userBytes) : 0
    }
}

/// The process's resident memory over a run (`/proc/self/status`): what it held when the store
/// was about to open and its peak from then until after the final flush. Beside write
/// amplification because the two trade against each other: larger or more memtables write
/// less. In a `compare` of several engines in one process the starting figure includes what
/// the engines before this one left to the allocator.
public struct MemorySummary: Sendable, Codable, Equatable {
    /// Resident bytes before the store opened.
    public var startBytes: UInt64
    /// Largest resident bytes from then until the run's final flush, the pages of mapped files
    /// included (an engine that reads its files through mmap holds them there).
    public var peakBytes: UInt64
    /// Largest anonymous resident bytes (heap and other private memory, no file pages),
    /// sampled every 100 ms over the same span: the figure to compare between engines. nil:
    /// not measured.
    public var peakAnonymousBytes: UInt64?

    public init(startBytes: UInt64, peakBytes: UInt64, peakAnonymousBytes: UInt64? = nil) {
        self.startBytes = startBytes
        self.peakBytes = max(startBytes, peakBytes)
        self.peakAnonymousBytes = peakAnonymousBytes
    }

    /// The anonymous peak in the tables' units ("1.2 GiB"), or "n/a".
    public var peakAnonymousText: String { peakAnonymousBytes.map { fmtBytes(Int64(clamping: $0)) } ?? "n/a" }
}

/// Everything a run measured. Encodes to the `--json` output.
public struct RunResult: Sendable, Codable, Equatable {
    public var engine: String
    public var workload: String
    public var workloadSummary: String
    public var mix: String
    public var distribution: String
    public var keySize: Int
    public var valueSize: Int
    public var keyOrder: String
    public var records: Int
    public var threads: Int
    public var loop: String
    public var profile: String
    public var seed: UInt64
    public var warmupSeconds: Double
    public var measuredSeconds: Double
    public var runSeconds: Double
    public var operations: Int
    public var errors: Int
    public var firstError: String?
    /// Measured operations per second.
    public var throughput: Double
    public var all: OperationSummary
    public var perOperation: [OperationSummary]
    public var partitions: PartitionSummary
    public var series: [IntervalSample]
    public var events: [ReshardEvent]
    public var load: LoadPhaseSummary?
    /// Free-form notes (e.g. which policy was used).
    public var notes: [String] = []
    /// The partition policy the run asked the engine for (nil: not recorded, e.g. a runner
    /// used without the command line). Absent from the JSON when nil.
    public var policy: PartitionPolicy? = nil
    /// Disk bytes written against user bytes put (nil: not measured, e.g. no /proc/self/io).
    /// Absent from the JSON when nil.
    public var diskWrites: DiskWriteSummary? = nil
    /// Resident memory over the run (nil: not measured, e.g. no /proc/self/status). Absent
    /// from the JSON when nil.
    public var memory: MemorySummary? = nil
    /// CPU time the host stole during the measured window (nil: not measured, e.g. no
    /// /proc/stat). Absent from the JSON when nil.
    public var hostSteal: HostStealSummary? = nil

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The final table.
    public func table() -> String {
        var lines: [String] = []
        lines.append("augur-load: \(engine) · \(workload) (\(workloadSummary))")
        lines.append("  mix: \(mix); keys: \(distribution), \(keyOrder), \(keySize) B keys, \(valueSize) B values, \(records) records")
        lines.append("  \(threads) thread\(threads == 1 ? "" : "s"), \(loop) loop, \(profile), seed \(seed), warm-up \(fmt(warmupSeconds)) s, measured \(fmt(measuredSeconds)) s")
        if let load { lines.append("  load: \(load.records) records in \(fmt(load.seconds)) s (\(fmtRate(load.recordsPerSecond)) records/s)") }
        for n in notes { lines.append("  note: \(n)") }
        lines.append("")
        lines.append("  throughput  \(fmtRate(throughput)) ops/s   (\(operations) ops, \(errors) errors)")
        lines.append("")
        let header = ["operation", "count", "ops/s", "p50 µs", "p95 µs", "p99 µs", "p99.9 µs", "max µs", "errors"]
        var rows: [[String]] = perOperation.map { s in
            [s.kind, String(s.count), fmtRate(s.opsPerSecond), fmtLatency(s.p50Microseconds), fmtLatency(s.p95Microseconds),
             fmtLatency(s.p99Microseconds), fmtLatency(s.p999Microseconds), fmtLatency(s.maxMicroseconds), String(s.errors)]
        }
        rows.append(["all", String(all.count), fmtRate(all.opsPerSecond), fmtLatency(all.p50Microseconds), fmtLatency(all.p95Microseconds),
                     fmtLatency(all.p99Microseconds), fmtLatency(all.p999Microseconds), fmtLatency(all.maxMicroseconds), String(all.errors)])
        lines.append(contentsOf: formatTable(header: header, rows: rows, indent: "  "))
        lines.append("")
        let p = partitions
        func opt<T>(_ v: T?, _ f: (T) -> String) -> String { v.map(f) ?? "n/a" }
        let kv: [(String, String)] = [
            ("partitions (start → end, max)", "\(opt(p.atStart) { String($0) }) → \(opt(p.atEnd) { String($0) }), max \(opt(p.maximum) { String($0) })"),
            ("splits / merges / moves", "\(opt(p.splits) { String($0) }) / \(opt(p.merges) { String($0) }) / \(opt(p.moves) { String($0) })"),
            ("bytes moved", opt(p.bytesMoved) { fmtBytes($0) }),
            ("bytes shared (not copied)", opt(p.bytesShared) { fmtBytes($0) }),
            ("overload seconds", opt(p.overloadSeconds) { fmt($0) }),
            ("forecast error (MAPE)", opt(p.forecastError) { String(format: "%.1f%%", $0 * 100) }),
            ("forecast fallbacks", opt(p.forecastFallbacks) { String($0) }),
            ("write stalls", opt(p.writeStalls) { n in "\(n)" + (p.writeStallSeconds.map { String(format: " (%.3f s waited)", $0) } ?? "") }),
        ] + (p.lastWriteStallReason.map { [("last write stall", $0)] } ?? []) + [
            ("write slowdowns", opt(p.writeSlowdowns) { n in "\(n)" + (p.writeSlowdownSeconds.map { String(format: " (%.3f s slept)", $0) } ?? "") }),
            ("reshard events", events.isEmpty ? "none recorded" : "\(events.count)"),
            ("disk writes (amplification)", opt(diskWrites) { d in
                d.userBytes > 0 ? "\(fmtBytes(Int64(clamping: d.diskBytes))) for \(fmtBytes(Int64(clamping: d.userBytes))) put: \(String(format: "%.2f", d.amplification))×"
                                : "\(fmtBytes(Int64(clamping: d.diskBytes))), nothing put" }),
            ("host CPU stolen", opt(hostSteal) { $0.text }),
            ("peak memory (anon / resident)", opt(memory) { m in
                "\(m.peakAnonymousText) / \(fmtBytes(Int64(clamping: m.peakBytes))) (resident \(fmtBytes(Int64(clamping: m.startBytes))) before the store opened; resident counts mapped file pages)" }),
        ]
        let w = kv.map(\.0.count).max()!
        for (k, v) in kv { lines.append("  " + k.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + v) }
        if let firstError { lines.append("  first error: \(firstError)") }
        return lines.joined(separator: "\n")
    }
}

func fmt(_ v: Double) -> String {
    if v >= 100 { return String(format: "%.0f", v) }
    if v >= 10 { return String(format: "%.1f", v) }
    return String(format: "%.2f", v)
}

func fmtRate(_ v: Double) -> String {
    if v >= 1e6 { return String(format: "%.2fM", v / 1e6) }
    if v >= 1e4 { return String(format: "%.1fk", v / 1e3) }
    return String(format: "%.0f", v)
}

func fmtLatency(_ us: Double) -> String {
    if us >= 100_000 { return String(format: "%.0f", us) }
    if us >= 100 { return String(format: "%.0f", us) }
    if us >= 10 { return String(format: "%.1f", us) }
    return String(format: "%.2f", us)
}

func fmtBytes(_ b: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(b), i = 0
    while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
    return i == 0 ? "\(b) B" : String(format: "%.1f", v) + " " + units[i]
}

/// Right-aligned columns (the first left-aligned).
public func formatTable(header: [String], rows: [[String]], indent: String = "") -> [String] {
    var widths = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = Swift.max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        indent + cells.enumerated().map { i, c in
            let pad = String(repeating: " ", count: Swift.max(0, widths[i] - c.count))
            return i == 0 ? c + pad : pad + c
        }.joined(separator: "  ")
    }
    return [line(header), indent + widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")] + rows.map(line)
}
