// `<backup>/BACKUP`: what a checkpoint wrote, file by file, so a restore can prove every byte
// is what was written before it trusts any of it (docs/FORMAT.md, "BACKUP").
//
//   augur-backup 1
//   sequence <decimal>
//   file <crc32c: 8 lowercase hex> <size: decimal> <relative path>
//   …
//   crc32c <8 lowercase hex digits of every byte above this line>
//
// Paths are relative to the backup directory, `/`-separated, one of CURRENT, MANIFEST-<n>,
// LOADHISTORY, seg/<name>, wal/<name>; no other form is accepted.
import AugurSys

/// The catalog of one backup.
///
/// Thread-safety: a plain value; `Sendable`.
struct BackupCatalog: Sendable, Equatable {
    static let fileName = "BACKUP"
    static let magic = "augur-backup 1"
    /// A catalog larger than this is not one Augur wrote (a million files is 80 MB).
    static let maxSize = 256 << 20

    struct Entry: Sendable, Equatable {
        var path: String
        var size: Int
        var crc: UInt32
    }

    /// Every write with a sequence number at or below this is in the backup.
    var sequence: UInt64
    var files: [Entry] = []

    func encoded() -> [UInt8] {
        var text = Self.magic + "\nsequence \(sequence)\n"
        for f in files { text += "file \(CRC32C.hex(f.crc)) \(f.size) \(f.path)\n" }
        let body = Array(text.utf8)
        return body + Array("crc32c \(CRC32C.hex(CRC32C.checksum(body)))\n".utf8)
    }

    /// Parses a catalog; the reason says what is wrong with it (the caller names the file).
    static func decode(_ bytes: [UInt8]) -> Result<BackupCatalog, CatalogError> {
        guard bytes.last == UInt8(ascii: "\n") else { return .failure(.init("does not end with a newline (cut short?)")) }
        let withoutLast = bytes.dropLast()
        guard let split = withoutLast.lastIndex(of: UInt8(ascii: "\n")) else { return .failure(.init("holds one line only")) }
        let body = Array(bytes[...split])
        let trailer = String(decoding: bytes[(split + 1)...].dropLast(), as: UTF8.self)
        guard trailer.hasPrefix("crc32c "), trailer.count == 15, let crc = UInt32(trailer.dropFirst(7), radix: 16) else {
            return .failure(.init("no checksum line at the end"))
        }
        guard CRC32C.checksum(body) == crc else { return .failure(.init("checksum mismatch")) }
        let lines = String(decoding: body, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        guard lines.first == Substring(magic) else { return .failure(.init("first line is not \"\(magic)\"")) }
        guard lines.count >= 2, lines[lines.startIndex + 1].hasPrefix("sequence "),
              let sequence = UInt64(lines[lines.startIndex + 1].dropFirst("sequence ".count)) else {
            return .failure(.init("second line is not \"sequence <n>\""))
        }
        var catalog = BackupCatalog(sequence: sequence)
        var seen = Set<String>()
        for (n, line) in lines.dropFirst(2).enumerated() {
            let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count == 4, parts[0] == "file", parts[1].count == 8, let crc = UInt32(parts[1], radix: 16),
                  let size = Int(parts[2]), size >= 0 else {
                return .failure(.init("line \(n + 3) is not \"file <crc32c> <size> <path>\""))
            }
            let path = String(parts[3])
            guard isCataloguePath(path) else { return .failure(.init("line \(n + 3) names \"\(path)\", not a file a backup holds")) }
            guard seen.insert(path).inserted else { return .failure(.init("line \(n + 3) lists \(path) twice")) }
            catalog.files.append(Entry(path: path, size: size, crc: crc))
        }
        for required in [Manifest.currentName] where !seen.contains(required) {
            return .failure(.init("does not list \(required)"))
        }
        return .success(catalog)
    }

    /// The relative paths a backup may hold: nothing that climbs out of the directory.
    static func isCataloguePath(_ path: String) -> Bool {
        if path == Manifest.currentName || path == LoadHistoryFile.name || Manifest.number(of: path) != nil { return true }
        for dir in ["seg/", "wal/"] where path.hasPrefix(dir) {
            let name = path.dropFirst(dir.count)
            return !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
        }
        return false
    }

    struct CatalogError: Error, Equatable {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
