// Recovery of the write-ahead log: checks that the log is whole, tells a torn tail from
// corruption, and replays every intact frame through the recovered partition map.
//
// What "whole" means (formats in WALFormat.swift and docs/FORMAT.md):
//   - segment numbers are consecutive (trimming removes only the oldest, so a gap is a lost
//     segment), and the newest is at least the one the manifest says the last open created;
//   - every segment starts with a header naming its number and size, and the file has that size
//     (truncated or extended files are caught);
//   - the oldest segment starts at or below the lowest flush mark + 1 (else older segments
//     that still held unflushed writes are gone);
//   - a segment sealed as `rolled` has a successor.
// A bad frame (zero length followed by data, length past the end, checksum mismatch) is a torn
// tail only in the newest segment, and only when nothing after it proves the frame had been
// complete: no seal after it, and no later intact frame whose durable prefix lies beyond it
// (a frame records how far the segment was synced when it was written; a bad frame below that
// had been synced intact, so it was damaged since). Everything else is corruption: the open
// stops with a typed error naming the file and offset (`WALRecoveryMode` says what each mode
// does instead). A torn tail's bytes are copied to `lost/` before they are zeroed.
//
// Legacy stores (written before WAL headers: the manifest holds no `walOpened` edit) are
// replayed with the checks that need no header: consecutive numbers and the bad-frame rules.
import AugurSys

struct WALReplay {
    let fileSystem: any FileSystem
    let storeDirectory: String
    let walDirectory: String
    let mode: WALRecoveryMode
    /// The manifest's `walOpened`; nil for a legacy store.
    let openedSegment: UInt64?
    /// The lowest segment an open ever recorded: a segment below it without a header predates
    /// WAL headers (a store written by an older Augur, not yet trimmed past them).
    let firstOpenedSegment: UInt64?
    /// Where the last clean close left the log's frames (the manifest's `walClosed`), or nil.
    let closedAt: WALClose?
    /// The manifest's last sequence (after a clean close, the log's last).
    let manifestLastSeq: UInt64
    /// Lowest flush mark of any partition (nil: no partitions).
    let flushedFloor: UInt64?
    /// Planted bug: take every bad frame for a torn tail.
    let corruptionAsTornTail: Bool
    /// A read-only open: replay stops at a torn tail or (point in time) a corruption and says
    /// so, but nothing is copied, zeroed, moved or removed.
    let readOnly: Bool
    /// Applies one replayed operation (sequence, kind, table or index id, key, value).
    /// The last argument: only check (throw what applying would throw, change nothing).
    let apply: (UInt64, RecordKind, UInt32, UnsafeRawBufferPointer, UnsafeRawBufferPointer, Bool) throws(AugurError) -> Void

    struct Outcome {
        /// Segments left in wal/ (number, highest sequence), oldest first.
        var segments: [(number: UInt64, maxSeq: UInt64)] = []
        var maxSeq: UInt64 = 0
        /// Kept segments with a header and no seal (a crash's current segment, or one whose
        /// roll was in flight), and where their frames end: the open seals them `closed` there
        /// once they are synced (`Recovery.sealInherited`).
        var unsealed: [(number: UInt64, framesEnd: Int)] = []
    }

    /// Whether segment `number` may be a header-less segment of an older Augur.
    private func mayBeLegacy(_ number: UInt64) -> Bool {
        guard let first = firstOpenedSegment else { return true }
        return number < first
    }

    func path(_ number: UInt64) -> String { joinPath(walDirectory, WALFormat.segmentName(number)) }

    /// A point-in-time recovery's stop: replay ends here, the rest is set aside. `damage`:
    /// the log is damaged (not an I/O failure, a newer format, or a torn tail a strict mode
    /// refuses), so a refusal names the point-in-time recovery (`WALRecoveryMode.pointInTimeAdvice`).
    struct Stop: Error { let file: String; let offset: Int; let reason: String; var damage = true }

    func run(numbers unsorted: [UInt64], report: inout RecoveryReport) throws(AugurError) -> Outcome {
        let numbers = unsorted.sorted()
        var outcome = Outcome()
        var next = 0            // index of the first segment not replayed
        do throws(Stop) {
            var previousSeal: WALFormat.SealReason? = nil
            var stopped = false
            while next < numbers.count && !stopped {
                let number = numbers[next]
                if next > 0 && number != numbers[next - 1] + 1 {
                    let gap = numbers[next - 1] + 1
                    throw Stop(file: path(gap), offset: 0,
                               reason: "WAL segment \(gap) is missing (segments \(gap - 1) and \(number) are present): its writes would be lost")
                }
                let newest = next == numbers.count - 1
                guard let result = try replaySegment(number, newest: newest, oldest: next == 0, previousSeal: previousSeal,
                                                     report: &report) else {
                    next += 1           // an unfinished creation, removed: its number is free again
                    break
                }
                next += 1
                outcome.segments.append((number, result.maxSeq))
                if let end = result.framesEnd { outcome.unsealed.append((number, end)) }
                outcome.maxSeq = max(outcome.maxSeq, result.maxSeq)
                report.walSegmentsReplayed += 1
                previousSeal = result.seal
                stopped = result.stopped
                // An older segment without a seal whose last frames never reached the disk (a
                // roll in flight, WriteAheadLog.roll): its successor was created with the log's
                // last sequence + 1, so a higher first sequence there means writes are missing
                // between the two. The successor's frames were never made durable by a sync (the
                // log syncs nothing in it before this seal): set aside, so the log stays a prefix.
                // But the log syncs nothing in the successor before this segment's seal is
                // durable: a sync proven there means the seal and the frames before it had
                // reached the disk, and were lost to damage — corruption, never a set-aside
                // (the successor's acknowledged writes would go with it).
                if !newest && !stopped && result.seal == nil && result.maxSeq > 0,
                   let first = headerFirstSeq(ofSegment: number + 1), first > result.maxSeq &+ 1 {
                    let lost = "sequences \(result.maxSeq &+ 1)...\(first &- 1)"
                    if let proof = proofOfSync(behind: number + 1) {
                        throw Stop(file: path(number), offset: result.dataEnd,
                                   reason: "WAL segment \(number) has no seal and ends before \(lost), but \(proof)")
                    }
                    if mode == .absoluteConsistency {
                        throw Stop(file: path(number), offset: result.dataEnd,
                                   reason: "WAL segment \(number) has no seal and its end was lost (\(lost) are in no segment) while the log rolled; absolute-consistency recovery refuses", damage: false)
                    }
                    report.walTornTail = .init(file: path(number), offset: result.dataEnd, bytesDropped: 0,
                                               sequencesDropped: (result.maxSeq &+ 1)...(first &- 1))
                    stopped = true
                }
                if newest, result.seal == .rolled {
                    throw Stop(file: path(number + 1), offset: 0,
                               reason: "WAL segment \(number) was sealed when the log rolled, but the next segment is missing")
                }
            }
            if stopped {
                for n in numbers[next...] { try setAside(whole: n, report: &report) }
            } else if let opened = openedSegment, (outcome.segments.last?.number ?? 0) < opened {
                throw Stop(file: path(opened), offset: 0,
                           reason: "the WAL segment created when the store was last opened is missing"
                                + (numbers.isEmpty ? " (wal/ is empty)" : " (newest present: \(numbers.last!))"))
            }
        } catch {
            guard mode == .pointInTime else {
                let advice = error.damage ? flushedWholeNote(numbers) + "; " + WALRecoveryMode.pointInTimeAdvice : ""
                throw .corruption(file: error.file, offset: error.offset, reason: error.reason + advice)
            }
            report.walCorruption = "\(error.file) at offset \(error.offset): \(error.reason)"
            for n in numbers[next...] where n > (outcome.segments.last?.number ?? 0) {
                do throws(Stop) { try setAside(whole: n, report: &report) } catch {
                    throw .corruption(file: error.file, offset: error.offset, reason: error.reason)
                }
            }
        }
        return outcome
    }

    /// Said with a refusal when the damage costs no write: the store was closed cleanly, its
    /// log ends in the segment the close left, and every partition had flushed through the
    /// log's last sequence (so replay would skip every frame). An outside check found such
    /// refusals with nothing said about it; the operator's `pointInTime` recovery then keeps all.
    private func flushedWholeNote(_ numbers: [UInt64]) -> String {
        guard let closedAt, numbers.last == closedAt.segment, let floor = flushedFloor, floor >= manifestLastSeq else { return "" }
        return ". The manifest says every write in the log was flushed to runs (every partition through at least sequence \(floor), the log's last \(manifestLastSeq)) before the store was closed cleanly: a point-in-time recovery would drop none of them"
    }

    private struct SegmentResult {
        var maxSeq: UInt64 = 0
        var seal: WALFormat.SealReason? = nil
        /// Replay stopped in this segment: later ones are set aside (point-in-time recovery
        /// after corruption, or the torn tail of a segment whose roll was in flight).
        var stopped = false
        /// Where the segment's data ends (the first all-zero byte after it).
        var dataEnd = 0
        /// A segment with a header but no intact seal: where its kept frames end (after a cut,
        /// the cut). Nil when sealed, or without a header (older stores: never sealed).
        var framesEnd: Int? = nil
    }

    struct Header { let number: UInt64; let version: UInt32; let size: Int; let firstSeq: UInt64 }

    /// Replays one segment; nil when it was an unfinished creation (removed).
    private func replaySegment(_ number: UInt64, newest: Bool, oldest: Bool, previousSeal: WALFormat.SealReason?,
                               report: inout RecoveryReport) throws(Stop) -> SegmentResult? {
        let file = path(number)
        let handle: any FileHandle
        let size: Int
        do throws(FileSystemError) {
            // Writable unless the open is read-only: a torn tail is zeroed in place, and an older
            // segment can have one too (a roll's seal pending at the crash).
            handle = try fileSystem.open(file, mode: readOnly ? .readOnly : .readWrite)
            size = try handle.size()
        } catch {
            throw Stop(file: file, offset: 0, reason: "cannot read the WAL segment: \(error)", damage: false)
        }
        defer { handle.close() }
        let region: MappedRegion?
        if size > 0 {
            do throws(FileSystemError) { region = try handle.mapReadOnly(length: size) } catch {
                throw Stop(file: file, offset: 0, reason: "cannot map the WAL segment: \(error)", damage: false)
            }
        } else {
            region = nil
        }
        let base = UnsafeRawPointer(region?.base ?? UnsafeMutableRawPointer(bitPattern: 8)!)
        let dataEnd = nonZeroPrefixLength(base, count: size)

        var start = 0
        let header = readHeader(base, size: size)
        let legacy = header == nil && mayBeLegacy(number)
        // The newest file, holding nothing past where a header goes, named by neither a
        // `rolled` seal nor the manifest's walOpened: it held no write. Removed (`removeEmpty`)
        // when it has no header (below) or is a spare with one (after the header's checks).
        let emptyAndUnnamed = newest && dataEnd <= WALFormat.headerFrameSize && previousSeal != .rolled
            && number > (openedSegment ?? 0) && number != closedAt?.segment
        /// Removes that file (a read-only open leaves it and skips it); nil for the caller to return.
        func removeEmpty(_ what: String) throws(Stop) -> SegmentResult? {
            if readOnly { return nil }
            do throws(FileSystemError) { try fileSystem.remove(file) } catch {
                throw Stop(file: file, offset: 0, reason: "cannot remove \(what): \(error)", damage: false)
            }
            report.walUnfinishedSegmentsRemoved.append("wal/" + WALFormat.segmentName(number))
            return nil
        }
        if !legacy {
            guard let header else {
                // Creation writes, syncs and names the header before anything uses the file: a
                // kill while it was written leaves such a file.
                if emptyAndUnnamed { return try removeEmpty("an unfinished WAL segment") }
                throw Stop(file: file, offset: 0, reason: size == 0
                           ? "the WAL segment is empty (truncated)"
                           : "the WAL segment has no valid header (truncated, overwritten or not a WAL segment)")
            }
            guard header.number == number else {
                throw Stop(file: file, offset: 0, reason: "the WAL segment's header names segment \(header.number)")
            }
            guard header.size == size else {
                throw Stop(file: file, offset: 0,
                           reason: "the WAL segment is \(size) bytes but was created with \(header.size) (truncated or extended)")
            }
            if oldest, let floor = flushedFloor, header.firstSeq > floor &+ 1 {
                throw Stop(file: file, offset: 0,
                           reason: "WAL segments before \(number) are missing: sequences \(floor &+ 1)...\(header.firstSeq &- 1) are unflushed and in no segment"
                                + " — or the manifest lost its last records (the flushes that covered them, after which those segments were trimmed):"
                                + " check the manifest before a point-in-time recovery, which would drop them")
            }
            guard WALFormat.readableVersions.contains(header.version) else {
                throw Stop(file: file, offset: 0,
                           reason: "the WAL segment's format version is \(header.version); this Augur reads versions \(WALFormat.readableVersions.lowerBound)...\(WALFormat.readableVersions.upperBound)", damage: false)
            }
            start = WALFormat.headerFrameSize
            // A spare made ahead (FORMAT.md): the newest segment, its header and nothing after
            // it, named by neither the manifest's walOpened nor a `rolled` seal. It holds no
            // write, and its header's first sequence is only a lower bound (made when the
            // segment before it was half full). Kept behind that segment once this open sealed
            // it, it hid a later loss of that segment's end from the check against the next
            // header: a last frame zeroed whole, and the open read the segment as ending there
            // (found in review). So it goes, as an unfinished creation does, and this open's
            // own segment takes its number with an exact first sequence.
            if emptyAndUnnamed { return try removeEmpty("an empty spare WAL segment") }
        }
        // Each segment is decoded in the encoding its own header names (a log an older Augur
        // began goes on in the current version after it); a segment without a header is version 1.
        let version = header?.version ?? 1

        var result = SegmentResult()
        result.dataEnd = dataEnd
        /// Corruption at `at`: under point-in-time a cut there (this segment's frames before it
        /// stay, applied and counted in `result.maxSeq`; the rest goes to lost/), else a refusal.
        func corruption(at at: Int, _ reason: String) throws(Stop) -> SegmentResult {
            guard mode == .pointInTime else { throw Stop(file: file, offset: at, reason: reason) }
            result.stopped = try cut(file: file, handle: handle, size: size, dataEnd: dataEnd, at: at,
                                     corruption: reason, report: &report)
            return result
        }
        var offset = start
        while offset + WALFormat.frameHeaderSize <= size {
            // Where the frames kept so far end: a return below leaves it there (after a cut,
            // the cut; at a torn seal, where the whole seal will be written), but an intact seal.
            if !legacy { result.framesEnd = offset }
            let len = Int(loadU32(base, offset + 4))
            var problem: String? = nil
            if len == 0 {
                if dataEnd <= offset {                  // end of data
                    guard let closed = closedEvidence(number, framesEndAt: offset) else { break }
                    // Under point-in-time nothing is left to save after it (the frames that were
                    // there are zeros now), but the cut leaves its `.corrupt` file in lost/ all
                    // the same: later opens keep leftovers by it (Recovery's `cutEarlier`).
                    return try corruption(at: offset, "the frames end at offset \(offset), but \(closed)")
                }
                problem = "a frame with a zero length word followed by data"
            } else if len > size - offset - WALFormat.frameHeaderSize {
                problem = "frame length \(len) runs past the end of the segment"
            } else if !checksumMatches(base, at: offset, length: len) {
                problem = "frame checksum mismatch"
            }
            if let problem {
                // A seal cut short by a crash while it was being written (killed before its
                // length word, or a power cut that kept part of its sector) holds no write:
                // only what the seal's own payload would be, within the seal's room.
                let closed = closedEvidence(number, framesEndAt: offset)
                if !legacy, closed == nil, isTornSeal(base, size: size, dataEnd: dataEnd, at: offset) {
                    result.seal = newest ? .closed : .rolled
                    return result
                }
                result.stopped = try badFrame(file: file, handle: handle, base: base, size: size, dataEnd: dataEnd,
                                              at: offset, problem: problem, newest: newest, version: version,
                                              successor: newest ? nil : number + 1, closed: closed, report: &report)
                return result
            }
            let count = Int(loadU32(base, offset + 16))
            if count == 0 {
                // A marker with an intact checksum: a header is only valid at offset 0.
                let kind = len >= 4 ? loadU32(base, offset + WALFormat.frameHeaderSize) : 0
                guard !legacy, kind == WALFormat.sealMarker, len == WALFormat.sealPayloadSize,
                      let reason = WALFormat.SealReason(rawValue: loadU32(base, offset + WALFormat.frameHeaderSize + 4)),
                      loadU64(base, offset + WALFormat.frameHeaderSize + 8) == UInt64(offset) else {
                    return try corruption(at: offset, "an intact frame with no operations that is not a seal")
                }
                // A clean close seals where its frames end: a seal before that is damage (a
                // point-in-time cut's own seal, with the open cut short before its walOpened).
                if let closed = closedEvidence(number, framesEndAt: offset) {
                    return try corruption(at: offset, "a seal at offset \(offset), but \(closed)")
                }
                result.seal = reason
                result.framesEnd = nil
                return result
            }
            // Checked whole before any operation is applied, so a frame is replayed entirely or not.
            if let malformed = frameProblem(base, at: offset, length: len, count: count, version: version) {
                return try corruption(at: offset, malformed)
            }
            do throws(AugurError) {
                result.maxSeq = max(result.maxSeq, try replayFrame(base, at: offset, length: len, count: count, version: version))
            } catch {
                var reason = "\(error)"
                if case .corruption(_, _, let r) = error { reason = r }
                // Under point-in-time, cut here like any other corruption (throwing set the whole
                // segment aside with its prefix applied).
                return try corruption(at: offset, reason)
            }
            report.walFramesReplayed += 1
            offset += WALFormat.frameSize(payload: len)
        }
        if !legacy { result.framesEnd = offset }
        return result
    }

    /// Why an intact frame's operations do not parse, or nil.
    private func frameProblem(_ base: UnsafeRawPointer, at offset: Int, length len: Int, count: Int, version: UInt32) -> String? {
        var at = offset + WALFormat.frameHeaderSize
        let end = at + len
        for i in 0..<count {
            switch Self.operation(base, at: at, end: end, version: version) {
            case .headerPastFrame: return "operation \(i) header past the frame"
            case .malformed: return "malformed operation \(i)"
            case .operation(let op, _): at += op.size + op.keyCount + op.valueCount
            }
        }
        return nil
    }

    enum DecodedOperation {
        case operation(WALFormat.OpHeader, RecordKind)
        case headerPastFrame
        case malformed
    }

    /// The operation at `at` of a frame whose payload ends at `end`: a known kind, a key of at
    /// least one byte, key and value within the frame.
    @inline(__always)
    static func operation(_ base: UnsafeRawPointer, at: Int, end: Int, version: UInt32) -> DecodedOperation {
        guard let op = WALFormat.decodeOpHeader(base, at: at, end: end, version: version) else {
            // Version 1's header has a fixed size; a varint that runs past the frame is malformed too.
            return version == 1 || end - at < 4 ? .headerPastFrame : .malformed
        }
        let room = end - at - op.size
        guard let kind = RecordKind(rawValue: op.kind), op.keyCount > 0, op.keyCount <= room, op.valueCount <= room - op.keyCount else {
            return .malformed
        }
        return .operation(op, kind)
    }

    /// A seal at `offset` whose writing a crash cut short: every non-zero byte from `offset` on
    /// lies within the seal's room and agrees with what a seal there holds (length 0 or 16,
    /// marker kind 2, its own offset), and the seal would fit where seals go.
    private func isTornSeal(_ base: UnsafeRawPointer, size: Int, dataEnd: Int, at offset: Int) -> Bool {
        guard offset + WALFormat.sealFrameSize <= size, dataEnd <= offset + WALFormat.sealFrameSize else { return false }
        let len = loadU32(base, offset + 4), count = loadU32(base, offset + 16)
        let kind = loadU32(base, offset + WALFormat.frameHeaderSize)
        let own = loadU64(base, offset + WALFormat.frameHeaderSize + 8)
        return (len == 0 || len == UInt32(WALFormat.sealPayloadSize)) && count == 0
            && (kind == 0 || kind == WALFormat.sealMarker) && (own == 0 || own == UInt64(offset))
    }

    func readHeader(_ base: UnsafeRawPointer, size: Int) -> Header? {
        guard size >= WALFormat.headerFrameSize,
              Int(loadU32(base, 4)) == WALFormat.headerPayloadSize,
              loadU32(base, 16) == 0,
              checksumMatches(base, at: 0, length: WALFormat.headerPayloadSize),
              loadU32(base, WALFormat.frameHeaderSize) == WALFormat.headerMarker else { return nil }
        let p = WALFormat.frameHeaderSize
        return Header(number: loadU64(base, p + 8), version: loadU32(base, p + 4), size: Int(clamping: loadU64(base, p + 16)), firstSeq: loadU64(base, p + 24))
    }

    func checksumMatches(_ base: UnsafeRawPointer, at offset: Int, length: Int) -> Bool {
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(start: base + offset + 8, count: WALFormat.frameHeaderSize - 8 + length))
        return CRC32C.mask(crc) == loadU32(base, offset)
    }

    /// Decodes and applies one intact frame. Returns its highest sequence number.
    private func replayFrame(_ base: UnsafeRawPointer, at offset: Int, length len: Int, count: Int, version: UInt32) throws(AugurError) -> UInt64 {
        let firstSeq = loadU64(base, offset + 8)
        // Two passes: every operation is checked before any is applied, so a frame the
        // manifest cannot take (a table id it never allocated) leaves nothing behind in the
        // memtables. A point-in-time cut there used to keep the frames before it in memory
        // while setting their segment aside, below the sequence the new log started from.
        for checkOnly in [true, false] {
            var at = offset + WALFormat.frameHeaderSize
            let end = at + len
            for i in 0..<count {
                guard case .operation(let op, let kind) = Self.operation(base, at: at, end: end, version: version) else {
                    throw .corruption(file: "", offset: offset, reason: "malformed operation \(i)")
                }
                let key = UnsafeRawBufferPointer(start: base + at + op.size, count: op.keyCount)
                let value = UnsafeRawBufferPointer(start: key.baseAddress! + op.keyCount, count: op.valueCount)
                try apply(firstSeq &+ UInt64(i), kind, op.tableID, key, value, checkOnly)
                at += op.size + op.keyCount + op.valueCount
            }
        }
        return firstSeq &+ UInt64(count) &- 1
    }
}
