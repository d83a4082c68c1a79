import ArgumentParser
import Augur

/// `augur backup --dir DIR --to BACKUP`: opens the store, writes a consistent checkpoint with a
/// catalog of every file's checksum into BACKUP (a new path), and closes the store. From a
/// program, `Engine.checkpoint(to:)` does the same while the store keeps serving.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Write a consistent backup of a store to a new directory.",
        discussion: "BACKUP must not exist; it appears only once complete. Restore it with `augur restore --from BACKUP --to DIR`.")

    @Option(help: "Store directory.")
    var dir: String

    @Option(help: "Backup directory to create (must not exist).")
    var to: String

    @Flag(help: "Hard-link the immutable segment files instead of copying them (same file system; shares their blocks with the store).")
    var link = false

    func validate() throws {
        try FlagLimits.checkPath("dir", dir)
        try FlagLimits.checkPath("to", to)
    }

    func run() throws {
        let engine = try InfoCommand.openForChange(dir)
        let summary: CheckpointSummary
        do { summary = try engine.checkpoint(to: to, linkingFiles: link) } catch {
            try? engine.close()
            throw CommandFailure("backup of \(dir) failed: \(error)")
        }
        do { try engine.close() } catch { throw CommandFailure("close failed: \(error)") }
        print("backed up \(dir) to \(summary.path): every write up to sequence \(summary.sequence); "
              + "\(summary.segmentFiles) segment files (\(summary.linkedFiles) linked), \(summary.walSegments) WAL segments, "
              + "\(formatBytes(summary.bytes)) in \(String(format2(summary.seconds))) s")
    }
}

/// `augur restore --from BACKUP --to DIR [--partitions auto|N|backed-up] [--check]`.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Check a backup byte for byte and restore it into a new store directory.",
        discussion: """
            --partitions auto (default) lays each table out as the partition advisor recommends from the \
            backup's load history; N asks for exactly N partitions per table (the recommendation is logged \
            beside it in DIR/decisions.jsonl); backed-up keeps the backup's layout. --check only verifies.
            """)

    @Option(help: "Backup directory (written by `augur backup` or Engine.checkpoint).")
    var from: String

    @Option(help: "Store directory to create (must not exist). Not needed with --check.")
    var to: String?

    @Option(help: "Partition layout: auto, backed-up, or a count in 1...4096.")
    var partitions: String = "auto"

    @Flag(help: "Only verify every file of the backup against its catalog.")
    var check = false

    var layout: RestoreLayout? {
        switch partitions {
        case "auto": .auto
        case "backed-up": .asBackedUp
        default: Int(partitions).flatMap { (1...4096).contains($0) ? .partitions($0) : nil }
        }
    }

    func validate() throws {
        try FlagLimits.checkPath("from", from)
        if let to { try FlagLimits.checkPath("to", to) }
        guard layout != nil else {
            throw ValidationError("--partitions '\(partitions)' is not auto, backed-up or a count in 1...4096")
        }
        if !check && to == nil { throw ValidationError("--to DIR is required (or --check to verify only)") }
        // --check restores nothing: a --to beside it was ignored with exit 0.
        if check, let to { throw ValidationError("--check only verifies the backup and restores nothing; drop --to \(to) or --check") }
    }

    func run() throws {
        if check {
            do {
                let sequence = try Backup.verify(at: from)
                print("\(from): every file matches its catalog; writes up to sequence \(sequence)")
            } catch { throw CommandFailure("backup \(from) refused: \(error)") }
            return
        }
        var options = EngineOptions()
        options.telemetry.enabled = false
        let summary: RestoreSummary
        do { summary = try Backup.restore(from: from, to: to!, layout: layout!, options: options) } catch {
            throw CommandFailure("restore of \(from) failed: \(error)")
        }
        print("restored \(from) to \(summary.path): writes up to sequence \(summary.sequence), \(summary.files) files, "
              + "\(formatBytes(summary.bytes)) in \(String(format2(summary.seconds))) s")
        func pct(_ u: Double?) -> String { u.map { "\(Int(($0 * 100).rounded())) %" } ?? "n/a" }
        for t in summary.tables {
            print("  table \(quoted(table: t.table)): \(t.partitionsBackedUp) partitions backed up, \(t.partitionsRecommended) recommended "
                  + "(busiest at \(pct(t.recommendedPeakUtilization)) of capacity), \(t.partitions) now "
                  + "(busiest at \(pct(t.appliedPeakUtilization)))")
            for r in t.reasons { print("    \(r)") }
        }
    }
}

func format2(_ v: Double) -> String { String(Double(Int((v * 100).rounded())) / 100) }

func formatBytes(_ b: Int64) -> String {
    b >= 1 << 20 ? "\(Double(Int(Double(b) / 1_048_576 * 10)) / 10) MiB" : "\(b) bytes"
}
