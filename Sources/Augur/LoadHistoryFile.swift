// `<dir>/LOADHISTORY`: the partitioning controller's load history by key range, so a reopened
// store forecasts from the day it saw instead of from nothing. Advisory (it holds no user
// data): written whole through `FileSystem.replaceFile` (temp, fdatasync, rename, directory
// sync) at every forecast step and at close; a file that fails its checksum or does not parse
// is ignored and reported (`PartitioningCounters.historyNote`), never trusted in part.
//
// Layout (docs/FORMAT.md, "LOADHISTORY"): one JSON document, a newline, then
// `crc32c <8 lowercase hex digits>` of the JSON bytes and a newline.
import AugurPlanner
import AugurSys
import FoundationEssentials

/// The saved histories of every table.
struct LoadHistoryFile: Codable, Equatable {
    static let name = "LOADHISTORY"
    static let version = 1

    struct Samples: Codable, Equatable {
        var ops: [Double] = []
        var writeBytes: [Double] = []
        var cost: [Double] = []

        init(_ samples: [LoadSample]) {
            ops = samples.map(\.opsPerSecond)
            writeBytes = samples.map(\.writeBytesPerSecond)
            cost = samples.map(\.costPerSecond)
        }

        var loadSamples: [LoadSample]? {
            guard ops.count == writeBytes.count, ops.count == cost.count else { return nil }
            return ops.indices.map { LoadSample(opsPerSecond: ops[$0], writeBytesPerSecond: writeBytes[$0], costPerSecond: cost[$0]) }
        }
    }

    struct Range: Codable, Equatable {
        /// Hex; "" is minus infinity.
        var lower: String
        /// Hex; nil is plus infinity.
        var upper: String?
        var samples: Samples
        var steps: [Double]
        var minutes: Samples
    }

    struct Table: Codable, Equatable {
        var name: String
        var ranges: [Range]
        /// What the strategy advisor reads (absent in files written before it existed).
        var workload: Workload? = nil
    }

    /// A table's workload for the strategy advisor (TableWorkloadSampler, StrategyWorkload).
    struct Workload: Codable, Equatable {
        var pointReadsPerSecond: Double
        var scansPerSecond: Double
        var writesPerSecond: Double
        var scans: UInt64
        var scannedRecords: UInt64
        /// Hex user keys of sampled writes, oldest first.
        var writeKeys: [String]
        /// Hex first and last user keys of sampled scans.
        var scanSpans: [[String]]

        init(_ w: StrategyWorkload, scans: UInt64, scannedRecords: UInt64) {
            pointReadsPerSecond = w.pointReadsPerSecond
            scansPerSecond = w.scansPerSecond
            writesPerSecond = w.writesPerSecond
            self.scans = scans
            self.scannedRecords = scannedRecords
            writeKeys = w.writeKeys.map(KeyFormat.hex)
            scanSpans = w.scanSpans.map { [KeyFormat.hex($0.first), KeyFormat.hex($0.last)] }
        }

        /// The saved keys and spans, or nil when any is malformed or a rate is not a finite
        /// non-negative number.
        var parsed: (keys: [[UInt8]], spans: [StrategyWorkload.ScanSpan])? {
            guard [pointReadsPerSecond, scansPerSecond, writesPerSecond].allSatisfy({ $0.isFinite && $0 >= 0 }) else { return nil }
            var keys: [[UInt8]] = []
            for k in writeKeys.suffix(TableWorkloadSampler.writeKeysKept) {
                guard let b = KeyFormat.parse(k), !b.isEmpty else { return nil }
                keys.append(b)
            }
            var spans: [StrategyWorkload.ScanSpan] = []
            for s in scanSpans.suffix(TableWorkloadSampler.scanSpansKept) {
                guard s.count == 2, let a = KeyFormat.parse(s[0]), let b = KeyFormat.parse(s[1]) else { return nil }
                spans.append(StrategyWorkload.ScanSpan(first: a, last: b))
            }
            return (keys, spans)
        }
    }

    var version = LoadHistoryFile.version
    /// Controller sample interval and forecast step the history was recorded with. Unit: ns.
    var sampleNanos: UInt64
    var stepNanos: UInt64
    var tables: [Table]

    init(sampleNanos: UInt64, stepNanos: UInt64, histories: [String: [RangeLoadHistory]], workloads: [String: Workload] = [:]) {
        self.sampleNanos = sampleNanos
        self.stepNanos = stepNanos
        tables = histories.sorted { $0.key < $1.key }.map { name, ranges in
            Table(name: name, ranges: ranges.map { h in
                Range(lower: KeyFormat.hex(h.range.lower), upper: h.range.upper.map(KeyFormat.hex),
                      samples: Samples(h.samples), steps: h.steps, minutes: Samples(h.minutes))
            }, workload: workloads[name])
        }
    }

    /// The histories by table, or a reason they cannot be used.
    func histories() -> Result<[String: [RangeLoadHistory]], LoadHistoryError> {
        guard version == Self.version else { return .failure(.unusable("version \(version), expected \(Self.version)")) }
        var out: [String: [RangeLoadHistory]] = [:]
        for t in tables {
            var ranges: [RangeLoadHistory] = []
            for r in t.ranges {
                let upper: [UInt8]?? = r.upper.map { KeyFormat.parse($0) } ?? .some(nil)
                guard let lower = r.lower.isEmpty ? [] : KeyFormat.parse(r.lower), let upper,
                      let samples = r.samples.loadSamples, let minutes = r.minutes.loadSamples,
                      (samples.map(\.opsPerSecond) + samples.map(\.costPerSecond) + r.steps + minutes.map(\.opsPerSecond))
                        .allSatisfy({ $0.isFinite && $0 >= 0 })
                else { return .failure(.unusable("table \(t.name): a range with malformed bounds or samples")) }
                var h = RangeLoadHistory(range: KeyRange(lower: lower, upper: upper))
                h.samples = Array(samples.suffix(RangeLoadHistory.samplesKept))
                h.steps = Array(r.steps.suffix(RangeLoadHistory.stepsKept))
                h.minutes = Array(minutes.suffix(RangeLoadHistory.minutesKept))
                ranges.append(h)
            }
            out[t.name] = ranges
        }
        return .success(out)
    }

    func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = (try? encoder.encode(self)).map { Array($0) } ?? []
        return json + Array("\ncrc32c \(CRC32C.hex(CRC32C.checksum(json)))\n".utf8)
    }

    static func decode(_ bytes: [UInt8]) -> Result<LoadHistoryFile, LoadHistoryError> {
        let trailer = 8 + 8 + 1   // "\ncrc32c " + 8 hex digits + "\n"
        guard bytes.count > trailer, bytes.last == UInt8(ascii: "\n") else { return .failure(.unusable("truncated (\(bytes.count) bytes)")) }
        let json = Array(bytes[..<(bytes.count - trailer)])
        let tail = String(decoding: bytes[(bytes.count - trailer)...], as: UTF8.self)
        guard tail.hasPrefix("\ncrc32c "), let crc = UInt32(tail.dropFirst(8).dropLast(), radix: 16) else {
            return .failure(.unusable("no checksum line"))
        }
        guard CRC32C.checksum(json) == crc else { return .failure(.unusable("checksum mismatch")) }
        do {
            return .success(try JSONDecoder().decode(LoadHistoryFile.self, from: Data(json)))
        } catch {
            return .failure(.unusable("does not parse: \(error)"))
        }
    }
}

/// Why a saved load history was not used.
enum LoadHistoryError: Error, Equatable, CustomStringConvertible {
    case unusable(String)
    var description: String {
        switch self { case .unusable(let why): "LOADHISTORY ignored: \(why)" }
    }
}
