// Checking and restoring a backup (a directory `Engine.checkpoint(to:)` wrote). Nothing in a
// backup is trusted before its bytes match the catalog: a restore copies each file, computing its
// checksum as it goes, and refuses the backup at the first difference; then it opens the copy
// (recovery replays the cut WAL), applies the partition layout the advisor recommends or the user
// asked for, closes it, and only then renames it into place (BackupDirectoryWriter).
import AugurPlanner
import AugurSys
import FoundationEssentials

/// The partition layout a restore gives each table.
public enum RestoreLayout: Sendable, Equatable {
    /// What the partition advisor recommends from the backup's load history: enough partitions
    /// that each one's busiest recorded minute stays under `costBudget × targetFill` (the
    /// measured-capacity rule the controller plans with). Without a usable history, the backed-up
    /// layout stays.
    case auto
    /// Exactly this many partitions per table, of equal predicted peak load (a user override; the
    /// decision log keeps the advisor's recommendation beside it, with both predictions).
    case partitions(Int)
    /// The layout the backup has.
    case asBackedUp
}

/// What a restore did.
///
/// Thread-safety: a plain value; `Sendable`.
public struct RestoreSummary: Sendable, Equatable {
    public struct TableLayout: Sendable, Equatable {
        public var table: String
        public var partitionsBackedUp: Int
        public var partitionsRecommended: Int
        public var partitions: Int
        /// Predicted peak utilization (peak cost ÷ budget) of the busiest partition, for the
        /// recommended layout and the one applied.
        public var recommendedPeakUtilization: Double?
        public var appliedPeakUtilization: Double?
        public var reasons: [String]
    }
    public var path: String
    /// Every write with a sequence number at or below this is in the restored store.
    public var sequence: UInt64
    public var files: Int
    public var bytes: Int64
    public var tables: [TableLayout]
    public var seconds: Double
}

/// Checking and restoring backups (`Engine.checkpoint(to:)` writes them).
public enum Backup {
    /// Checks every file the backup's catalog lists, byte for byte; returns the catalog's
    /// sequence. Throws `notAnAugurStore` for a directory without a catalog (not a backup, or
    /// one whose writing was interrupted) and `corruption` naming the file for a damaged
    /// catalog, a missing file, or a file whose size or checksum differs.
    public static func verify(at backup: String, fileSystem: any FileSystem = PosixFileSystem()) throws(AugurError) -> UInt64 {
        let catalog = try readCatalog(backup, fileSystem: fileSystem)
        for entry in catalog.files {
            let (path, handle) = try openListed(entry, in: backup, fileSystem: fileSystem)
            defer { handle.close() }
            let crc = try io { () throws(FileSystemError) in try BackupDirectoryWriter.checksum(of: handle, size: entry.size, path: path) }
            if crc != entry.crc {
                throw .corruption(file: path, offset: 0,
                                  reason: "crc32c \(CRC32C.hex(crc)), the backup catalog says \(CRC32C.hex(entry.crc))")
            }
        }
        return catalog.sequence
    }

    /// Restores `backup` into `target` (a path that must not exist): copies and checks every
    /// file, opens the copy with `options` (its WAL replays), gives each table the partition
    /// layout `layout` asks for, closes it and renames it into place. A crash or an error at any
    /// step leaves no `target` and never touches `backup`.
    public static func restore(from backup: String, to target: String, layout: RestoreLayout = .auto,
                               options: EngineOptions = EngineOptions()) throws(AugurError) -> RestoreSummary {
        if case .partitions(let n) = layout, !(1...4096).contains(n) {
            throw .invalidOption(name: "partitions", value: String(n), reason: "must be in 1...4096")
        }
        let started = MonotonicClock.nanos()
        let fs = options.fileSystem
        let catalog = try readCatalog(backup, fileSystem: fs)
        var writer = try BackupDirectoryWriter(fileSystem: fs, target: target, option: "restore target", source: backup)
        do throws(AugurError) {
            for entry in catalog.files {
                let (source, handle) = try openListed(entry, in: backup, fileSystem: fs)
                defer { handle.close() }
                try writer.copy(from: handle, sourcePath: source, length: entry.size, fileSize: entry.size, to: entry.path, expected: entry)
            }
            var opening = options
            opening.createIfMissing = false
            opening.readOnly = false
            // Opened only to replay and reshape: no controller may act on it meanwhile (a size
            // split racing the layout's reshape), and LOADHISTORY stays as backed up.
            opening.telemetry.enabled = false
            let engine = try Engine.open(at: writer.partial, options: opening)
            var tables: [RestoreSummary.TableLayout] = []
            do throws(AugurError) {
                for name in try engine.tableNames().sorted() {
                    tables.append(try engine.applyRestoreLayout(table: name, layout: layout))
                }
                try engine.close()
            } catch {
                try? engine.close()
                throw error
            }
            try writer.publish()
            return RestoreSummary(path: writer.target, sequence: catalog.sequence, files: catalog.files.count,
                                  bytes: writer.bytesWritten, tables: tables,
                                  seconds: Double(MonotonicClock.nanos() &- started) / 1e9)
        } catch {
            writer.abandon()
            throw error
        }
    }

    static func readCatalog(_ backup: String, fileSystem fs: any FileSystem) throws(AugurError) -> BackupCatalog {
        guard fs.isDirectory(backup) else {
            throw .notAnAugurStore(path: backup, reason: fs.fileExists(backup) ? "a backup is a directory; this is a file" : "the backup directory does not exist")
        }
        let path = joinPath(backup, BackupCatalog.fileName)
        guard fs.fileExists(path) else {
            throw .notAnAugurStore(path: backup, reason: "no \(BackupCatalog.fileName) catalog: not an Augur backup, or one whose writing was interrupted")
        }
        let size = try io { () throws(FileSystemError) in try fs.fileSize(path) }
        guard size <= BackupCatalog.maxSize else {
            throw .corruption(file: path, offset: 0, reason: "\(size) bytes, more than a catalog's limit of \(BackupCatalog.maxSize)")
        }
        switch BackupCatalog.decode(try io { () throws(FileSystemError) in try fs.readFile(path) }) {
        case .success(let c): return c
        case .failure(let e): throw .corruption(file: path, offset: 0, reason: "backup catalog \(e.reason)")
        }
    }

    /// Opens a file the catalog lists, after checking it is there with the catalogued size
    /// (`corruption` naming it otherwise); returns its path and a read handle.
    private static func openListed(_ entry: BackupCatalog.Entry, in backup: String,
                                   fileSystem fs: any FileSystem) throws(AugurError) -> (path: String, handle: any FileHandle) {
        let path = joinPath(backup, entry.path)
        guard fs.fileExists(path) else {
            throw .corruption(file: path, offset: 0, reason: "missing; the backup catalog lists it (\(entry.size) bytes)")
        }
        let handle = try io { () throws(FileSystemError) in try fs.open(path, mode: .readOnly) }
        let size: Int
        do { size = try io { () throws(FileSystemError) in try handle.size() } } catch { handle.close(); throw error }
        guard size == entry.size else {
            handle.close()
            throw .corruption(file: path, offset: 0, reason: "\(size) bytes, the backup catalog says \(entry.size)")
        }
        return (path, handle)
    }
}
