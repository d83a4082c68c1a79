// The manifest: a log of version edits (MANIFEST-<n>), named by CURRENT.
//
// Record framing: u32 masked CRC32C of the payload | u32 payload length | payload, where the
// payload is u32 edit count followed by the edits. Each record is appended and fdatasynced
// before the change it describes takes effect in memory.
//
// CURRENT is switched the only safe way: write CURRENT.tmp, fdatasync it, rename it over
// CURRENT, fsync the directory. Until the directory sync returns, a crash may leave either the
// old or the new CURRENT, and both name a complete manifest.
//
// After a failed append the file may hold a record that did or did not reach the disk, so the
// manifest is never appended to again: the next commit first rotates to a fresh manifest
// written from the in-memory state. Files the failed record named are left in place until then
// (if the record did survive a crash, it must find its files).
import AugurSys

/// Thread-safety: every mutable field is read and written with `lock` held (callers take it around
/// `commit`/`allocate`), except by recovery and `Engine.open` before the manifest is shared.
final class Manifest: @unchecked Sendable {
    static let currentName = "CURRENT"

    let fileSystem: any FileSystem
    let directory: String
    private(set) var number: UInt64
    private var handle: (any FileHandle)?
    private var size = 0
    private(set) var state: ManifestState
    private var needsRotation = false
    /// Loaded for a read-only open: every commit is refused.
    private var readOnly = false
    private let rotationSize: Int
    private let crashPoint: (@Sendable (CrashPoint) -> Void)?
    private let skipCurrentDirectorySyncBug: Bool
    let lock = PThreadMutex()

    static func fileName(_ number: UInt64) -> String {
        let digits = String(number)
        return "MANIFEST-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    static func number(of name: String) -> UInt64? {
        guard name.hasPrefix("MANIFEST-") else { return nil }
        return UInt64(name.dropFirst("MANIFEST-".count))
    }

    private init(fileSystem: any FileSystem, directory: String, number: UInt64, state: ManifestState,
                 rotationSize: Int, crashPoint: (@Sendable (CrashPoint) -> Void)?, skipCurrentDirectorySyncBug: Bool) {
        self.fileSystem = fileSystem
        self.directory = directory
        self.number = number
        self.state = state
        self.rotationSize = rotationSize
        self.crashPoint = crashPoint
        self.skipCurrentDirectorySyncBug = skipCurrentDirectorySyncBug
    }

    deinit { handle?.close() }

    /// Writes a new store's first manifest and CURRENT.
    static func create(fileSystem: any FileSystem, directory: String, rotationSize: Int,
                       crashPoint: (@Sendable (CrashPoint) -> Void)?, skipCurrentDirectorySyncBug: Bool) throws(AugurError) -> Manifest {
        let m = Manifest(fileSystem: fileSystem, directory: directory, number: 0, state: ManifestState(),
                         rotationSize: rotationSize, crashPoint: crashPoint, skipCurrentDirectorySyncBug: skipCurrentDirectorySyncBug)
        try m.rotate()
        return m
    }

    /// The bytes of a new store's first manifest (an interrupted creation may leave a prefix).
    static var emptyStoreFirstManifest: [UInt8] { encodeRecord(ManifestState().snapshot) }

    /// What loading found that a caller may want to report.
    struct LoadReport {
        var manifest: String
        var records = 0
        var tornTailBytes = 0
    }

    /// Reads CURRENT and the manifest it names.
    static func load(fileSystem: any FileSystem, directory: String, rotationSize: Int,
                     crashPoint: (@Sendable (CrashPoint) -> Void)?, skipCurrentDirectorySyncBug: Bool,
                     readOnly: Bool = false) throws(AugurError) -> (Manifest, LoadReport) {
        let currentPath = joinPath(directory, currentName)
        let current = try io { () throws(FileSystemError) in try fileSystem.readFile(currentPath) }
        let name = String(decoding: current, as: UTF8.self).trimmingSuffix("\n")
        guard let number = Manifest.number(of: name), current.last == UInt8(ascii: "\n") else {
            throw .corruption(file: currentPath, offset: 0, reason: "CURRENT does not name a manifest")
        }
        let path = joinPath(directory, name)
        guard fileSystem.fileExists(path) else {
            throw .corruption(file: path, offset: 0, reason: "manifest named by CURRENT is missing")
        }
        let bytes = try io { () throws(FileSystemError) in try fileSystem.readFile(path) }
        var state = ManifestState()
        var report = LoadReport(manifest: name)
        var offset = 0
        try bytes.withUnsafeBytes { b in Result { () throws(AugurError) in
            while offset < b.count {
                let remaining = b.count - offset
                func torn() { report.tornTailBytes = remaining }
                guard remaining >= 8 else { torn(); return }
                let crc = loadU32(b.baseAddress!, offset), len = Int(loadU32(b.baseAddress!, offset + 4))
                if crc == 0 && len == 0 && b[offset...].allSatisfy({ $0 == 0 }) { torn(); return }
                // A torn record can only be the last one (after a failed append the manifest is
                // rotated, never appended to): an intact record anywhere after a bad one means
                // the bad one was damaged, and dropping the rest would lose what they describe.
                guard len <= remaining - 8 else {
                    if let later = Manifest.intactRecord(in: b, after: offset) {
                        throw .corruption(file: path, offset: offset,
                                          reason: "manifest record length \(len) runs past the end, but an intact record follows at offset \(later)")
                    }
                    torn(); return
                }
                let payload = UnsafeRawBufferPointer(rebasing: b[(offset + 8)..<(offset + 8 + len)])
                guard CRC32C.mask(CRC32C.checksum(payload)) == crc else {
                    if offset + 8 + len == b.count, Manifest.intactRecord(in: b, after: offset) == nil { torn(); return }
                    throw .corruption(file: path, offset: offset, reason: "manifest record checksum mismatch")
                }
                var r = ByteReader(payload)
                guard let count = r.u32() else {
                    throw .corruption(file: path, offset: offset, reason: "empty manifest record")
                }
                for _ in 0..<count {
                    guard let edit = VersionEdit.decode(&r) else {
                        throw .corruption(file: path, offset: offset, reason: "undecodable version edit")
                    }
                    if let problem = state.apply(edit) {
                        throw .corruption(file: path, offset: offset, reason: problem)
                    }
                }
                report.records += 1
                offset += 8 + len
            }
        } }.get()
        if report.records == 0 {
            throw .corruption(file: path, offset: 0, reason: "manifest holds no complete record")
        }
        let m = Manifest(fileSystem: fileSystem, directory: directory, number: number, state: state,
                         rotationSize: rotationSize, crashPoint: crashPoint, skipCurrentDirectorySyncBug: skipCurrentDirectorySyncBug)
        m.size = offset
        if readOnly {
            m.readOnly = true
            return (m, report)
        }
        m.handle = try io { () throws(FileSystemError) in try fileSystem.open(path, mode: .readWrite) }
        // A torn tail could be followed by a new record that happens to leave old bytes behind
        // it; start clean instead.
        m.needsRotation = report.tornTailBytes > 0
        return (m, report)
    }

    /// Offset of the first intact record (plausible length, matching checksum) that starts after
    /// `offset`, at any byte: a damaged length word hides where the next record starts.
    static func intactRecord(in b: UnsafeRawBufferPointer, after offset: Int) -> Int? {
        var at = offset + 1
        while at + 8 + 4 <= b.count {
            let len = Int(loadU32(b.baseAddress!, at + 4))
            // Cheap tests before the checksum: a record holds at least one edit (a count, then
            // a tag byte the format knows), so few positions of damaged bytes reach the CRC.
            if len >= 5 && len <= b.count - at - 8, case let count = Int(loadU32(b.baseAddress!, at + 8)),
               count >= 1 && count <= len, case let tag = b[at + 12], tag >= 1 && tag <= VersionEdit.highestTag {
                let payload = UnsafeRawBufferPointer(rebasing: b[(at + 8)..<(at + 8 + len)])
                if CRC32C.mask(CRC32C.checksum(payload)) == loadU32(b.baseAddress!, at) { return at }
            }
            at += 1
        }
        return nil
    }

    /// Allocates a file number (caller holds `lock`). Persisted with the next commit.
    func allocateFileNumber() -> UInt64 {
        defer { state.nextFileNumber += 1 }
        return state.nextFileNumber
    }

    func allocatePartitionID() -> UInt64 {
        defer { state.nextPartitionID += 1 }
        return state.nextPartitionID
    }

    func allocateTableID() -> UInt32 {
        defer { state.nextTableID += 1 }
        return state.nextTableID
    }

    /// Appends `edits` as one record, syncs, then applies them to `state`. Caller holds `lock`.
    /// On failure nothing is applied and the next commit rotates first.
    func commit(_ edits: [VersionEdit], lastSeq: UInt64) throws(AugurError) {
        if readOnly { throw .writesDisabled(reason: Recovery.readOnlyReason) }
        var candidate = state
        candidate.lastSeq = max(candidate.lastSeq, lastSeq)
        for e in edits {
            if let problem = candidate.apply(e) {
                preconditionFailure("Augur bug: edit does not fit the manifest state: \(problem)")
            }
        }
        if needsRotation || size >= rotationSize {
            let previous = state
            state = candidate
            do throws(AugurError) { try rotate() } catch {
                state = previous
                throw error
            }
            return
        }
        let all = edits + [.counters(nextFileNumber: candidate.nextFileNumber, nextPartitionID: candidate.nextPartitionID,
                                     nextTableID: candidate.nextTableID, lastSeq: candidate.lastSeq)]
        try append(all)
        state = candidate
        crashPoint?(.manifestAppend)
    }

    private func record(_ edits: [VersionEdit]) -> [UInt8] { Manifest.encodeRecord(edits) }

    static func encodeRecord(_ edits: [VersionEdit]) -> [UInt8] {
        var payload = ByteWriter()
        payload.u32(UInt32(edits.count))
        for e in edits { e.encode(into: &payload) }
        var w = ByteWriter()
        w.u32(CRC32C.mask(CRC32C.checksum(payload.bytes)))
        w.u32(UInt32(payload.bytes.count))
        w.bytes.append(contentsOf: payload.bytes)
        return w.bytes
    }

    private func append(_ edits: [VersionEdit]) throws(AugurError) {
        let bytes = record(edits)
        guard let handle else { throw .engineClosed }
        do throws(FileSystemError) {
            try handle.write(at: size, bytes)
            try handle.sync()
        } catch {
            needsRotation = true
            throw AugurError(error)
        }
        size += bytes.count
    }

    /// Writes the current state into MANIFEST-<n+1> and points CURRENT at it.
    private func rotate() throws(AugurError) {
        let next = number + 1
        let name = Manifest.fileName(next)
        let path = joinPath(directory, name)
        let bytes = record(state.snapshot)
        let tmp = joinPath(directory, Manifest.currentName + ".tmp")
        var newHandle: (any FileHandle)? = nil
        var renamed = false
        do throws(FileSystemError) {
            try? fileSystem.remove(path)
            let h = try fileSystem.open(path, mode: .createNew)
            newHandle = h
            try h.write(at: 0, bytes)
            try h.sync()
            try? fileSystem.remove(tmp)
            let t = try fileSystem.open(tmp, mode: .createNew)
            defer { t.close() }
            try t.write(at: 0, Array((name + "\n").utf8))
            try t.sync()
            try fileSystem.rename(tmp, to: joinPath(directory, Manifest.currentName))
            renamed = true
            crashPoint?(.currentRenamed)
            if !skipCurrentDirectorySyncBug { try fileSystem.syncDirectory(directory) }
        } catch {
            try? fileSystem.remove(tmp)
            if renamed {
                // CURRENT already names the new manifest: it is the live one now. Adopt it, but
                // rotate again before the next append since the directory sync did not finish.
                adopt(number: next, handle: newHandle!, size: bytes.count)
            } else {
                newHandle?.close()
                try? fileSystem.remove(path)
            }
            needsRotation = true
            throw AugurError(error)
        }
        adopt(number: next, handle: newHandle!, size: bytes.count)
        needsRotation = false
        crashPoint?(.manifestRotated)
    }

    private func adopt(number next: UInt64, handle newHandle: any FileHandle, size newSize: Int) {
        let old = number
        handle?.close()
        handle = newHandle
        number = next
        size = newSize
        if old > 0 { try? fileSystem.remove(joinPath(directory, Manifest.fileName(old))) }
    }

    func close() {
        handle?.close()
        handle = nil
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
