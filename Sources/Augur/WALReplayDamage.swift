// WAL replay's damage handling (WALReplay.swift reads the segments): what a bad frame means
// (torn tail or corruption, from the durable prefix and the seal), cutting a segment there,
// saving the cut bytes and later segments under lost/, and the evidence each decision rests on.
import AugurSys

extension WALReplay {
    /// A bad frame at `offset`: a torn tail (dropped, saved, reported) or corruption (thrown,
    /// or under `.pointInTime` cut like a torn tail and reported). Returns true when replay
    /// must stop after this segment.
    func badFrame(file: String, handle: any FileHandle, base: UnsafeRawPointer, size: Int, dataEnd: Int,
                          at offset: Int, problem: String, newest: Bool, version: UInt32, successor: UInt64?,
                          closed: String?, report: inout RecoveryReport) throws(Stop) -> Bool {
        var corruption: String? = nil
        if !corruptionAsTornTail, let closed {
            corruption = "\(problem), but \(closed): damaged after it was written, not a torn write"
        } else if !newest {
            // An older segment's tail can be torn only while the roll that created its successor
            // was still syncing and sealing it (WriteAheadLog.roll): no seal after the bad frame,
            // and no sync proven after it — in this segment or in the next, where nothing is made
            // durable before this one's seal. Then the successor's frames were never made durable
            // by a sync: they are set aside with it, so the log stays a prefix.
            if let evidence = completionEvidence(base, size: size, dataEnd: dataEnd, after: offset, version: version)
                ?? successor.flatMap({ proofOfSync(behind: $0) }) {
                corruption = "\(problem) in a WAL segment that is not the newest, but \(evidence)"
            }
        } else if !corruptionAsTornTail, let evidence = completionEvidence(base, size: size, dataEnd: dataEnd, after: offset, version: version) {
            corruption = "\(problem), but \(evidence): damaged after it was written, not a torn write"
        }
        if let corruption, mode == .pointInTime {
            return try cut(file: file, handle: handle, size: size, dataEnd: dataEnd, at: offset, corruption: corruption, report: &report)
        }
        let end = min(size, max(dataEnd, offset))
        if readOnly && mode != .absoluteConsistency {
            // Nothing is changed: the cut is reported, the bytes stay where they are.
            if let corruption {
                guard mode == .pointInTime else { throw Stop(file: file, offset: offset, reason: corruption) }
                report.walCorruption = "\(file) at offset \(offset): \(corruption)"
            } else {
                report.walTornTail = .init(file: file, offset: offset, bytesDropped: end - offset)
            }
            return corruption != nil || !newest
        }
        if let corruption {
            guard mode == .pointInTime else { throw Stop(file: file, offset: offset, reason: corruption) }
            report.walCorruption = "\(file) at offset \(offset): \(corruption)"
            report.walSetAside.append(try saveAside(file: file, handle: handle, from: offset, to: end, suffix: "corrupt"))
        } else {
            if mode == .absoluteConsistency {
                throw Stop(file: file, offset: offset,
                           reason: "torn tail (\(problem)); \(end - offset) bytes would be dropped and absolute-consistency recovery refuses",
                           damage: false)
            }
            let saved = try saveAside(file: file, handle: handle, from: offset, to: end, suffix: "torn")
            report.walTornTail = .init(file: file, offset: offset, bytesDropped: end - offset)
            report.walTornTailSavedAs = saved
        }
        // Zeroed so that, once this segment is no longer the newest, the next recovery does
        // not take the same bytes for corruption. The copy in lost/ keeps the evidence.
        do throws(FileSystemError) { try zero(handle, from: offset, to: end) } catch {
            throw Stop(file: file, offset: offset, reason: "cannot zero the dropped bytes: \(error)", damage: false)
        }
        return corruption != nil || !newest
    }

    /// Whether the frame at `at` (length word `length`, operation count `count`) is laid out as
    /// a seal: a marker of a seal's payload size whose kind is the seal's. Its checksum, reason
    /// and offset field are the caller's to check.
    static func isSeal(_ base: UnsafeRawPointer, at: Int, length: Int, count: Int) -> Bool {
        count == 0 && length == WALFormat.sealPayloadSize && loadU32(base, at + WALFormat.frameHeaderSize) == WALFormat.sealMarker
    }

    /// Proof that segment `number`'s frames went on past `offset`: the last clean close left
    /// them synced through a later offset (the manifest's `walClosed`), and nothing wrote to
    /// the log since (an open's `walOpened` clears it). A clean close leaves no torn write, so
    /// frames ending before that were lost to damage (found from outside: the last frame and
    /// the `closed` seal zeroed together read as a torn write; a delete came back, exit 0).
    func closedEvidence(_ number: UInt64, framesEndAt offset: Int) -> String? {
        guard let closedAt, closedAt.segment == number, UInt64(offset) < closedAt.framesEnd else { return nil }
        return "the store was closed cleanly with this segment's frames synced through offset \(closedAt.framesEnd) (the manifest's walClosed)"
    }

    /// Proof that the segment before `successor` was synced whole: a durability point reached in
    /// `successor` (`syncProof`), `successor` at or below the segment a clean close left current
    /// (the manifest's `walClosed`), or `successor` at or below the segment the store's last open
    /// created (the manifest's `walOpened`): an open syncs and seals every segment it replayed
    /// before it creates its own (`Recovery.sealInherited`), and a segment's seal is no proof
    /// when damage took it too. Stores last opened before 2026-12-07 were not synced so; a
    /// power cut there could leave a torn end that this now refuses (`pointInTime` keeps the
    /// prefix and sets the rest aside).
    func proofOfSync(behind successor: UInt64) -> String? {
        if let proof = syncProof(inSegment: successor) { return proof }
        // A clean close finished every pending seal and synced the newest segment.
        if let closedAt, successor <= closedAt.segment {
            return "the store was closed cleanly with its log synced and sealed through segment \(closedAt.segment) (the manifest's walClosed)"
        }
        if let opened = openedSegment, successor <= opened {
            return "segment \(successor - 1) was replayed, synced and sealed by the open that created segment \(opened) (the manifest's walOpened)"
        }
        return nil
    }

    /// Proof that segment `number` reached a durability point (an intact frame, before the first
    /// bad or empty one, whose durable prefix lies beyond the header; or an intact seal), or
    /// nil. The log syncs nothing in a segment, and seals it neither `rolled` nor `closed`,
    /// before the segment behind it is sealed — or, behind a crash, synced and sealed by the
    /// open that created this one. (A seal counts since 2026-12-07: an open that recovered a
    /// crashed writer's log and closed without a write leaves a successor holding its header
    /// and its seal, and damage to the crashed segment's end then read as a torn write.)
    func syncProof(inSegment number: UInt64) -> String? {
        withSegmentMapped(number) { base, size in
            guard readHeader(base, size: size) != nil else { return nil }
            var at = WALFormat.headerFrameSize
            while at + WALFormat.frameHeaderSize <= size {
                let len = Int(loadU32(base, at + 4))
                guard len > 0, len <= size - at - WALFormat.frameHeaderSize, checksumMatches(base, at: at, length: len) else { return nil }
                let count = loadU32(base, at + 16)
                let durable = Int(loadU32(base, at + 20)) * 8
                if count > 0 && durable > WALFormat.headerFrameSize {
                    return "segment \(number) was synced through offset \(durable) (its frame at offset \(at) says so), which the log does only after this segment's seal"
                }
                if Self.isSeal(base, at: at, length: len, count: Int(count))
                    && loadU64(base, at + WALFormat.frameHeaderSize + 8) == UInt64(at) {
                    return "segment \(number) is sealed at offset \(at), which the log does only after this segment was synced and sealed"
                }
                at += WALFormat.frameSize(payload: len)
            }
            return nil
        }
    }

    /// The first sequence number segment `number`'s header names, or nil (no file, no header).
    func headerFirstSeq(ofSegment number: UInt64) -> UInt64? {
        withSegmentMapped(number) { base, size in readHeader(base, size: size)?.firstSeq }
    }

    /// `body` over segment `number` mapped read-only, or nil when it cannot be opened or mapped
    /// (or is shorter than a header): for looks at a later segment whose failure proves nothing.
    private func withSegmentMapped<T>(_ number: UInt64, _ body: (UnsafeRawPointer, Int) -> T?) -> T? {
        guard let handle = try? fileSystem.open(path(number), mode: .readOnly) else { return nil }
        defer { handle.close() }
        guard let size = try? handle.size(), size >= WALFormat.headerFrameSize,
              let region = try? handle.mapReadOnly(length: size) else { return nil }
        return withExtendedLifetime(region) { body(UnsafeRawPointer(region.base), size) }
    }

    /// Point-in-time recovery: replay stops at `offset`; the rest of the segment is copied to
    /// lost/ and zeroed (nothing is changed by a read-only open). Returns true (stop here).
    func cut(file: String, handle: any FileHandle, size: Int, dataEnd: Int, at offset: Int, corruption: String,
                     report: inout RecoveryReport) throws(Stop) -> Bool {
        report.walCorruption = "\(file) at offset \(offset): \(corruption)"
        if readOnly { return true }
        let end = min(size, max(dataEnd, offset))
        report.walSetAside.append(try saveAside(file: file, handle: handle, from: offset, to: end, suffix: "corrupt"))
        do throws(FileSystemError) { try zero(handle, from: offset, to: end) } catch {
            throw Stop(file: file, offset: offset, reason: "cannot zero the set-aside bytes: \(error)", damage: false)
        }
        return true
    }

    /// Proof that the frame at `offset` had been complete and synced: a seal after it, or an
    /// intact frame after it whose durable prefix lies beyond it. Nil when there is none.
    private func completionEvidence(_ base: UnsafeRawPointer, size: Int, dataEnd: Int, after offset: Int, version: UInt32) -> String? {
        var at = offset + 8
        let limit = min(dataEnd, size - WALFormat.frameHeaderSize)
        while at < limit {
            // Cheap header tests first, so the checksum (the only costly step) runs for almost
            // no position of a damaged segment: a frame that proves anything is a seal, or
            // records a watermark beyond `offset` and not beyond itself.
            let len = Int(loadU32(base, at + 4))
            guard len > 0 && len <= size - at - WALFormat.frameHeaderSize else { at += 8; continue }
            let count = Int(loadU32(base, at + 16))
            let durable = Int(loadU32(base, at + 20)) * 8
            let isSeal = Self.isSeal(base, at: at, length: len, count: count)
            let provesOrder = count > 0 && durable > offset && durable <= at && count * WALFormat.smallestOpHeader(version: version) <= len
            if (isSeal || provesOrder) && checksumMatches(base, at: at, length: len) {
                return isSeal ? "the segment is sealed at offset \(at)"
                    : "the intact frame at offset \(at) was written after the segment was synced through offset \(durable)"
            }
            at += 8
        }
        return nil
    }

    func zero(_ handle: any FileHandle, from offset: Int, to end: Int) throws(FileSystemError) {
        let zeros = [UInt8](repeating: 0, count: min(1 << 20, max(0, end - offset)))
        var at = offset
        while at < end {
            let n = min(zeros.count, end - at)
            try zeros.withUnsafeBytes { b in
                Result { () throws(FileSystemError) in try handle.write(at: at, UnsafeRawBufferPointer(rebasing: b[0..<n])) }
            }.get()
            at += n
        }
        try handle.sync()
    }

    private var lostDirectory: String { joinPath(storeDirectory, Recovery.lostDirectoryName) }

    private func ensureLostDirectory() throws(FileSystemError) {
        if !fileSystem.isDirectory(lostDirectory) {
            try fileSystem.createDirectory(lostDirectory)
            try fileSystem.syncDirectory(storeDirectory)
        }
    }

    /// Copies bytes [from, to) of a WAL segment to lost/<segment>.<offset>.<suffix>, synced.
    /// Returns the path relative to the store.
    private func saveAside(file: String, handle: any FileHandle, from: Int, to: Int, suffix: String) throws(Stop) -> String {
        do throws(FileSystemError) {
            return try copyToLost(handle, from: from, to: to, named: "\(file.split(separator: "/").last ?? "wal").\(from).\(suffix)")
        } catch {
            throw Stop(file: file, offset: from, reason: "cannot save the bytes to be dropped in \(Recovery.lostDirectoryName)/: \(error)", damage: false)
        }
    }

    /// Copies `path` whole to lost/`name` (with a suffix when taken), synced; returns the path
    /// relative to the store.
    func saveCopy(of path: String, named name: String) throws(FileSystemError) -> String {
        let handle = try fileSystem.open(path, mode: .readOnly)
        defer { handle.close() }
        return try copyToLost(handle, from: 0, to: try handle.size(), named: name)
    }

    /// Moves `path` (a file of the store, in `directory`) to lost/`name` (with a suffix when
    /// taken), synced; returns the path relative to the store.
    func setAsideFile(at path: String, named name: String, from directory: String) throws(FileSystemError) -> String {
        try ensureLostDirectory()
        let target = uniqueLostPath(name)
        try fileSystem.rename(path, to: target)
        try fileSystem.syncDirectory(lostDirectory)
        try fileSystem.syncDirectory(directory)
        return Self.relativeLostPath(target)
    }

    /// Bytes [from, to) of `handle` into a new lost/`name` (with a suffix when taken), synced.
    private func copyToLost(_ handle: any FileHandle, from: Int, to: Int, named name: String) throws(FileSystemError) -> String {
        try ensureLostDirectory()
        let target = uniqueLostPath(name)
        let out = try fileSystem.open(target, mode: .createNew)
        defer { out.close() }
        var at = from
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while at < to {
            let n = min(buffer.count, to - at)
            let got = try buffer.withUnsafeMutableBytes { b in
                Result { () throws(FileSystemError) in try handle.read(at: at, into: UnsafeMutableRawBufferPointer(rebasing: b[0..<n])) }
            }.get()
            if got <= 0 { break }
            try buffer.withUnsafeBytes { b in
                Result { () throws(FileSystemError) in try out.write(at: at - from, UnsafeRawBufferPointer(rebasing: b[0..<got])) }
            }.get()
            at += got
        }
        try out.sync()
        try fileSystem.syncDirectory(lostDirectory)
        return Self.relativeLostPath(target)
    }

    /// `lost/<name>` for a path under lost/, as reports name it.
    private static func relativeLostPath(_ target: String) -> String {
        Recovery.lostDirectoryName + "/" + (target.split(separator: "/").last.map(String.init) ?? target)
    }

    /// lost/<name>, or lost/<name>.1, .2, … when taken: nothing in lost/ is ever replaced (a
    /// recovery interrupted while zeroing saves the same bytes again, under another name).
    private func uniqueLostPath(_ name: String) -> String {
        var candidate = joinPath(lostDirectory, name)
        var n = 1
        while fileSystem.fileExists(candidate) {
            candidate = joinPath(lostDirectory, "\(name).\(n)")
            n += 1
        }
        return candidate
    }

    /// Point-in-time recovery: moves a whole later segment to lost/.
    func setAside(whole number: UInt64, report: inout RecoveryReport) throws(Stop) {
        let name = WALFormat.segmentName(number)
        if readOnly {
            report.walSetAside.append("wal/" + name + " (not replayed; left in place by a read-only open)")
            return
        }
        // The report names the file as moved: a segment number set aside before is free again
        // and reused, so lost/ may hold the name already and this one gets a suffix (.1, .2 …).
        do throws(FileSystemError) {
            report.walSetAside.append(try setAsideFile(at: path(number), named: name, from: walDirectory))
        } catch {
            throw Stop(file: path(number), offset: 0, reason: "cannot move the segment to \(Recovery.lostDirectoryName)/: \(error)", damage: false)
        }
    }
}
