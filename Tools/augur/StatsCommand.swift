import ArgumentParser
import Augur
import Foundation

/// `augur stats --dir DIR [--table T]`: partition health from the store's TELEMETRY.json,
/// which a running engine rewrites every few seconds (and at close). Reading the file needs no
/// lock, so this works while the application holding the store is running.
/// `augur stats --dir DIR --metrics` prints the store's METRICS.prom (Prometheus text format,
/// docs/METRICS.md), written by the engine at the same times: the file as the engine last wrote
/// it, not a fresh reading.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Show partition health: rates per window, skew, hot ranges and keys.")

    @Option(help: "Store directory.")
    var dir: String

    @Option(help: "Only this table.")
    var table: String?

    @Flag(help: "Print TELEMETRY.json (checked; with --table only that table's part) instead of tables.")
    var json = false

    @Flag(help: "Print the engine's metrics (METRICS.prom, Prometheus text format) instead of partition health.")
    var metrics = false

    func validate() throws {
        try FlagLimits.checkPath("dir", dir)
        if metrics && (json || table != nil) { throw ValidationError("--metrics takes no --json or --table") }
    }

    func run() throws {
        if metrics {
            let path = (dir as NSString).appendingPathComponent(MetricsSnapshot.fileName)
            guard let text = try StoreFile.text(MetricsSnapshot.fileName, in: dir) else {
                throw CommandFailure("no metrics at \(path): the store has not been opened with telemetry enabled yet")
            }
            print(text, terminator: "")
            return
        }
        let path = (dir as NSString).appendingPathComponent(TelemetryFile.name)
        guard let data = try StoreFile.bytes(TelemetryFile.name, in: dir) else {
            throw CommandFailure("no telemetry at \(path): the store has not been opened with telemetry enabled yet")
        }
        // Decoded for --json too: it printed the file verbatim, so a damaged file was exit 0
        // and --table was ignored.
        let file: TelemetryFile
        do { file = try TelemetryFile.decode(data) } catch {
            // The decoder's message alone named no file.
            throw CommandFailure("\(path) is damaged or not Augur's telemetry (it is advisory: the engine rewrites it while the store is open): \(error)")
        }
        if let table, !file.partitions.contains(where: { $0.table == table }) {
            throw CommandFailure("no table named \(quoted(table: table)) in \(path)")
        }
        if json {
            guard let table else {
                // The whole document as the engine wrote it (checked above), byte for byte.
                print(String(decoding: data, as: UTF8.self))
                return
            }
            // The same document with only that table's partitions and fallbacks, encoded as
            // the engine encodes it (TelemetryCoding.swift: pretty-printed, sorted keys).
            var part = file
            part.partitions = file.partitions.filter { $0.table == table }
            part.forecastFallbacks = file.forecastFallbacks?.filter { $0.table == table }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(part), as: UTF8.self))
            return
        }
        let rows = file.partitions.filter { table == nil || $0.table == table }
        for name in Array(Set(rows.map(\.table))).sorted() {
            let parts = rows.filter { $0.table == name }
            print("table \(quoted(table: name)): \(parts.count) partitions")
            print("  " + ["id", "range", "bytes", "stored records (all versions)", "ops/s 5m", "ops/s 1h", "bytes/s 5m", "read%", "skew", "entropy"]
                .enumerated().map { pad($1, Self.widths[$0]) }.joined(separator: " "))
            for p in parts {
                let w5 = p.windows.first { $0.window == "5m" }, w1h = p.windows.first { $0.window == "1h" }
                let lower: String = p.lowerBound.isEmpty ? "-inf" : formatKey(p.lowerBound)
                let upper: String = p.upperBound.map(formatKey) ?? "+inf"
                let ops5: String = w5.map { f($0.operationsPerSecond) } ?? "-"
                let ops1h: String = w1h.map { f($0.operationsPerSecond) } ?? "-"
                let bytes5: String = w5.map { f($0.bytesPerSecond) } ?? "-"
                var readPct = "-"
                if let r = w5?.readFraction { readPct = String(format: "%.0f%%", r * 100) }
                var cells: [String] = [String(p.id), "[\(lower), \(upper))", String(p.bytes), String(p.records)]
                cells += [ops5, ops1h, bytes5, readPct, String(format: "%.2f", p.skew), String(format: "%.2f", p.entropy)]
                print("  " + cells.enumerated().map { pad($1, Self.widths[$0]) }.joined(separator: " "))
            }
            for f in file.forecastFallbacks ?? [] where f.table == name {
                let age = file.engineTime >= f.since ? String(format: " for %.0f s", Double(file.engineTime - f.since) / 1e9) : ""
                print("  partition \(f.partition): forecast withheld\(age), planned by the reactive rules — \(f.reason)")
            }
            for p in parts {
                print("\n  partition \(p.id) load by key position (\(p.bucketOperations.count) buckets, ops since creation):")
                print("    " + sparkline(p.bucketOperations))
                if let m = p.medianKey { print("    load median at \(formatKey(m))") }
                for h in p.hotRanges {
                    print(String(format: "    hot range [%@, %@): %.0f%% of the load, peak %.1f× the mean",
                                 formatKey(h.lowerBound), h.upperBound.map(formatKey) ?? "+inf", h.loadFraction * 100, h.peakToMean))
                }
                for k in p.hotKeys.prefix(3) where k.loadFraction >= 0.05 {
                    print(String(format: "    hot key %@…: ≈%.0f%% of sampled operations%@", formatKey(k.keyPrefix),
                                 k.loadFraction * 100, k.isHotKey ? " — a single hot key: splitting cannot spread it" : ""))
                }
            }
        }
    }

    /// Column widths of the partition table (static: a stored `let` with a value would be
    /// skipped by the command's decoding, and the compiler warns).
    /// The records column is as wide as its heading, which says that every version of a key in
    /// every run counts (PartitionStats.records), not live keys.
    private static let widths = [6, 28, 12, 29, 10, 10, 12, 6, 6, 7]
    private func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
    private func f(_ v: Double) -> String { v >= 100 ? String(format: "%.0f", v) : String(format: "%.1f", v) }

    /// One character per bucket, eight heights.
    private func sparkline(_ values: [UInt64]) -> String {
        let bars = Array("▁▂▃▄▅▆▇█")
        guard let top = values.max(), top > 0 else { return String(repeating: "▁", count: values.count) + "  (no operations yet)" }
        return String(values.map { v in v == 0 ? " " : bars[min(7, Int(Double(v) / Double(top) * 7.999))] }) + "  (max \(top))"
    }
}
