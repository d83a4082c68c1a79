import ArgumentParser
import Augur
import Foundation

/// `augur info --dir DIR`: tables, partitions (range, bytes, records, segments) and WAL
/// segments of a store, plus what opening it recovered.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Show tables, partitions and WAL of a store.")

    @Option(help: "Store directory.")
    var dir: String

    @Option(help: "Only this table.")
    var table: String?

    func validate() throws { try FlagLimits.checkPath("dir", dir) }

    /// Opens `dir` read-only: inspecting a store never changes it (no LOCK, no new WAL
    /// segment, no torn tail cut, TELEMETRY.json untouched), and works on a read-only mount.
    static func openReadOnly(_ dir: String) throws -> Engine {
        var options = EngineOptions()
        options.createIfMissing = false
        options.readOnly = true
        do { return try Engine.open(at: dir, options: options) } catch {
            throw openFailure("cannot open \(dir)", dir, error)
        }
    }

    /// The failure of an open refused with `error`. A refusal for damage to the log (its reason
    /// ends with `WALRecoveryMode.pointInTimeAdvice`) gets the command that does it; not one
    /// beside a live writer, where the damage may be the writer's own work in progress (the
    /// read-only open's note about the writer then ends the reason).
    static func openFailure(_ what: String, _ dir: String, _ error: AugurError) -> CommandFailure {
        guard case .corruption(_, _, let reason) = error, reason.hasSuffix(WALRecoveryMode.pointInTimeAdvice) else {
            return CommandFailure("\(what): \(error)")
        }
        return CommandFailure("""
            \(what): \(error)
            To keep every write before the damage and move the rest to \(dir)/lost/ (acknowledged writes after it \
            may be among them), copy the store first, then run: augur recover --dir \(shellWord(dir)) --mode point-in-time
            """)
    }

    /// `s` as one shell word: as it is when it holds only safe characters, else single-quoted.
    static func shellWord(_ s: String) -> String {
        let safe = s.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "/._-+:,@%".unicodeScalars.contains($0)) }
        return safe && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Opens an existing store at `dir` for a command that changes it (a backup's checkpoint, a
    /// strategy change), with telemetry off: a one-shot command has no workload to watch.
    /// `createIfMissing`: make the store when there is none (`augur put --create-table`).
    /// `writing`: the bytes of the one record the command writes, if that is all it writes
    /// (`put`, `delete`): its log segments are then `oneRecordWALSegmentSize(writing)`.
    static func openForChange(_ dir: String, createIfMissing: Bool = false, writing: Int? = nil) throws -> Engine {
        var options = EngineOptions()
        options.createIfMissing = createIfMissing
        options.telemetry.enabled = false
        if let writing { options.walSegmentSize = oneRecordWALSegmentSize(writing) }
        do { return try Engine.open(at: dir, options: options) } catch {
            throw openFailure("cannot open \(dir)", dir, error)
        }
    }

    /// The WAL segment size of an open that writes one record of `bytes` (key and value): 1 MiB,
    /// or the next power of two above the record and 64 KiB of frame, header and seal room.
    /// Every writable open preallocates a new segment; at the engine's 64 MiB a `put` of two
    /// bytes failed "disk full" on a file system with less free, and a store left three such
    /// segments behind (the open flushes and trims beyond two) wedged one of 150 MiB. Segments
    /// of other sizes stay readable: each header names its own.
    static func oneRecordWALSegmentSize(_ bytes: Int) -> Int {
        var size = 1 << 20
        while size < bytes + (64 << 10) && size < 1 << 30 { size <<= 1 }
        return size
    }

    func run() throws {
        let engine = try Self.openReadOnly(dir)
        defer { try? engine.close() }
        let r = engine.recoveryReport
        print("store \(dir): manifest \(r.manifest), last sequence \(r.lastSequence), WAL segments \(engine.walSegments) (opened read-only)")
        for line in RecoveryReportLines.describe(r) { print(line) }
        let names = try table.map { [$0] } ?? engine.tableNames()
        for name in names {
            let t = try engine.table(named: name)
            let parts = try t.partitionStats()
            print("\ntable \(quoted(table: name)) (\(t.strategy)): \(parts.count) partitions")
            // "records" alone read as live keys; the engine counts every version of a key in
            // every run (PartitionStats.records), so the heading says so.
            print("  id     lower bound           upper bound           bytes         stored records (all versions)  segments")
            for p in parts {
                let lo = p.lowerBound.isEmpty ? "-inf" : formatKey(p.lowerBound)
                let hi = p.upperBound.map(formatKey) ?? "+inf"
                print("  " + [pad(String(p.id), 6), pad(lo, 21), pad(hi, 21), pad(String(p.bytes), 13),
                              pad(String(p.records), 30), String(p.segmentCount)].joined(separator: " "))
            }
        }
    }

    private func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? String(s.prefix(n)) : s + String(repeating: " ", count: n - s.count)
    }
}

/// What a recovery found that a person must hear about (shared by `info` and `recover`).
enum RecoveryReportLines {
    static func describe(_ r: RecoveryReport) -> [String] {
        var lines: [String] = []
        if let t = r.walTornTail {
            // The bounds come from a file's header: a count past Int.max must not trap.
            let sequences = t.sequencesDropped.map { ", sequences \($0.lowerBound)...\($0.upperBound) (\($0.upperBound &- $0.lowerBound &+ 1) operations) in no segment" } ?? ""
            lines.append("WAL torn tail: \(t.bytesDropped) bytes at offset \(t.offset) of \(t.file)\(sequences) (a write in flight at a crash, never acknowledged)"
                         + (r.walTornTailSavedAs.map { "; saved as \($0)" } ?? "; not replayed"))
        }
        if let c = r.walCorruption { lines.append("WAL corruption (point-in-time recovery stopped there): \(c)") }
        for f in r.walSetAside { lines.append("set aside: \(f)") }
        for f in r.walUnfinishedSegmentsRemoved { lines.append("removed an empty WAL segment whose creation was interrupted: \(f)") }
        if r.manifestTornTailBytes > 0 { lines.append("manifest torn tail: \(r.manifestTornTailBytes) bytes at its end that are not a whole record (a write a crash cut short, or a damaged last record) ignored") }
        for f in r.foreignFilesIgnored { lines.append("not an Augur file, left alone: \(f)") }
        for f in r.filesSetAside { lines.append("set aside (no longer referenced after the point-in-time cut; may hold acknowledged records): \(f)") }
        if !r.filesRemoved.isEmpty { lines.append("removed \(r.filesRemoved.count) unreferenced file(s): \(r.filesRemoved.prefix(5).joined(separator: ", "))") }
        if !r.reshardsRolledBack.isEmpty { lines.append("reshards rolled back: \(r.reshardsRolledBack)") }
        return lines
    }
}
