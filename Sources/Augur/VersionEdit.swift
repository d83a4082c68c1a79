// Manifest records: each is a list of version edits applied atomically (one CRC-framed
// record). Encoded as a tag byte and little-endian fields; see docs/FORMAT.md.

/// One immutable segment file of a partition, as the manifest knows it.
struct RunRecord: Sendable, Equatable {
    var name: String          // file name inside seg/
    var size: UInt64          // exact file size; checked before mapping
    /// The run is the file's records with keys in `[lowerBound, upperBound)` (nil: open). Both
    /// nil: the whole file. Bounded runs come from reshards that share files instead of copying
    /// them; several partitions may then name one file, each with its own bounds.
    var lowerBound: [UInt8]? = nil
    var upperBound: [UInt8]? = nil
    var isBounded: Bool { lowerBound != nil || upperBound != nil }
}

/// A partition as the manifest knows it.
struct PartitionRecord: Sendable, Equatable {
    var id: UInt64
    var tableID: UInt32
    var lowerBound: [UInt8]           // inclusive; empty = the start of the key space
    var upperBound: [UInt8]?          // exclusive; nil = the end of the key space
    var runs: [RunRecord]             // newest first
    /// Every write to this key range with a sequence number ≤ this is in `runs`.
    var flushedSeq: UInt64
    /// Runs of each secondary index's local part (newest first), by index id. Not part of the
    /// `addPartition` encoding: `setIndexRuns` edits carry them (see docs/FORMAT.md).
    var indexRuns: [UInt32: [RunRecord]] = [:]
    /// Indexes whose build has completed on this partition.
    var indexesReady: Set<UInt32> = []
}

/// A secondary index as the manifest knows it (its extractor lives in the application).
struct IndexRecord: Sendable, Equatable {
    var id: UInt32
    var tableID: UInt32
    var name: String
}

enum VersionEdit: Sendable, Equatable {
    /// A table and its partitioning strategy (`.range` is written with the original tag, byte
    /// for byte; the others with `createStrategyTable`).
    case createTable(id: UInt32, name: String, strategy: PartitioningStrategy = .range)
    case dropTable(id: UInt32)
    case addPartition(PartitionRecord)
    case removePartition(id: UInt64)
    case setRuns(partitionID: UInt64, runs: [RunRecord], flushedSeq: UInt64)
    case setFlushed(partitionID: UInt64, flushedSeq: UInt64)
    case counters(nextFileNumber: UInt64, nextPartitionID: UInt64, nextTableID: UInt32, lastSeq: UInt64)
    /// Phase one of a reshard: the plan, its sources, and the target files it will write.
    case reshardPrepared(ReshardRecord)
    /// Phase two: committed (in the same record as the partition changes) or aborted.
    case reshardFinished(planID: UInt64, committed: Bool)
    /// A secondary index of a table (ids share the table id counter).
    case createIndex(IndexRecord)
    case dropIndex(id: UInt32)
    /// The runs of one index's local part in one partition, and whether its build completed.
    case setIndexRuns(partitionID: UInt64, indexID: UInt32, runs: [RunRecord], ready: Bool)
    /// The WAL segment an open of the store created (durable with its header before this edit):
    /// recovery refuses a store whose newest WAL segment is older (the live log was deleted).
    case walOpened(segment: UInt64)
    /// A table's partitioning strategy from now on (a strategy change: in the same record as the
    /// removal of its old partitions and the addition of the new, StrategyChange.swift).
    case setStrategy(tableID: UInt32, strategy: PartitioningStrategy)
    /// A clean close: the log's frames in `segment` end at `framesEnd`, synced before this
    /// edit (and sealed `closed` there). Until the next open's `walOpened`, recovery takes an
    /// end of that segment's frames before `framesEnd` for damage, not a torn write.
    case walClosed(WALClose)
    /// Every segment file numbered `fileNumber` or above carries its name check (the footer
    /// word that footers before 2026-12-07 left 0): written by the first open that writes
    /// them, so an older file put in a newer one's place is caught too.
    case nameChecksFrom(fileNumber: UInt64)

    /// Tags run from 1 to this (a manifest scan for intact records uses it as a cheap test).
    static let highestTag: UInt8 = Tag.nameChecksFrom.rawValue

    /// `addPartition` and `setRuns` are written with the `…BoundedRuns` tags (whose runs carry
    /// key bounds) only when a run is bounded, so stores that never shared a file keep the
    /// original encoding byte for byte.
    private enum Tag: UInt8 {
        case createTable = 1, dropTable, addPartition, removePartition, setRuns, setFlushed, counters
        case reshardPrepared, reshardFinished, createIndex, dropIndex, setIndexRuns, walOpened
        case addPartitionBoundedRuns, setBoundedRuns, createStrategyTable, setStrategy, walClosed, nameChecksFrom
    }

    func encode(into w: inout ByteWriter) {
        switch self {
        case .createTable(let id, let name, .range):
            w.u8(Tag.createTable.rawValue); w.u32(id); w.string(name)
        case .createTable(let id, let name, let strategy):
            w.u8(Tag.createStrategyTable.rawValue); w.u32(id); w.string(name)
            w.u8(strategy.prefixLength == 0 ? 1 : 2); w.u32(UInt32(strategy.prefixLength)); w.u32(UInt32(strategy.buckets))
        case .dropTable(let id):
            w.u8(Tag.dropTable.rawValue); w.u32(id)
        case .addPartition(let p):
            let bounded = p.runs.contains(where: \.isBounded)
            w.u8(bounded ? Tag.addPartitionBoundedRuns.rawValue : Tag.addPartition.rawValue)
            w.u64(p.id); w.u32(p.tableID); w.blob(p.lowerBound)
            w.u8(p.upperBound == nil ? 0 : 1); w.blob(p.upperBound ?? [])
            VersionEdit.encodeRuns(p.runs, bounded: bounded, &w); w.u64(p.flushedSeq)
        case .removePartition(let id):
            w.u8(Tag.removePartition.rawValue); w.u64(id)
        case .setRuns(let id, let runs, let flushed):
            let bounded = runs.contains(where: \.isBounded)
            w.u8(bounded ? Tag.setBoundedRuns.rawValue : Tag.setRuns.rawValue); w.u64(id)
            VersionEdit.encodeRuns(runs, bounded: bounded, &w); w.u64(flushed)
        case .setFlushed(let id, let flushed):
            w.u8(Tag.setFlushed.rawValue); w.u64(id); w.u64(flushed)
        case .counters(let f, let p, let t, let s):
            w.u8(Tag.counters.rawValue); w.u64(f); w.u64(p); w.u32(t); w.u64(s)
        case .reshardPrepared(let r):
            w.u8(Tag.reshardPrepared.rawValue); w.u64(r.planID); w.u32(r.tableID)
            w.u32(UInt32(r.sources.count)); for s in r.sources { w.u64(s) }
            w.u32(UInt32(r.targets.count)); for t in r.targets { w.u64(t) }
            w.u32(UInt32(r.files.count)); for f in r.files { w.string(f) }
        case .reshardFinished(let id, let committed):
            w.u8(Tag.reshardFinished.rawValue); w.u64(id); w.u8(committed ? 1 : 0)
        case .createIndex(let r):
            w.u8(Tag.createIndex.rawValue); w.u32(r.id); w.u32(r.tableID); w.string(r.name)
        case .dropIndex(let id):
            w.u8(Tag.dropIndex.rawValue); w.u32(id)
        case .setIndexRuns(let p, let i, let runs, let ready):
            w.u8(Tag.setIndexRuns.rawValue); w.u64(p); w.u32(i); VersionEdit.encodeRuns(runs, bounded: false, &w); w.u8(ready ? 1 : 0)
        case .walOpened(let n):
            w.u8(Tag.walOpened.rawValue); w.u64(n)
        case .setStrategy(let id, let strategy):
            let kind: UInt8 = switch strategy { case .range: 0; case .hash: 1; case .composite: 2 }
            w.u8(Tag.setStrategy.rawValue); w.u32(id); w.u8(kind); w.u32(UInt32(strategy.prefixLength)); w.u32(UInt32(strategy.buckets))
        case .walClosed(let c):
            w.u8(Tag.walClosed.rawValue); w.u64(c.segment); w.u64(c.framesEnd)
        case .nameChecksFrom(let n):
            w.u8(Tag.nameChecksFrom.rawValue); w.u64(n)
        }
    }

    /// Runs: count, then per run its name and size; `bounded` adds a flags byte (bit 0: lower
    /// bound follows, bit 1: upper bound follows) and the bounds as blobs (docs/FORMAT.md).
    private static func encodeRuns(_ runs: [RunRecord], bounded: Bool, _ w: inout ByteWriter) {
        precondition(bounded || !runs.contains(where: \.isBounded), "bounded runs need the bounded encoding")
        w.u32(UInt32(runs.count))
        for r in runs {
            w.string(r.name); w.u64(r.size)
            guard bounded else { continue }
            w.u8((r.lowerBound == nil ? 0 : 1) | (r.upperBound == nil ? 0 : 2))
            if let lo = r.lowerBound { w.blob(lo) }
            if let hi = r.upperBound { w.blob(hi) }
        }
    }

    private static func decodeRuns(_ r: inout ByteReader, bounded: Bool = false) -> [RunRecord]? {
        guard let n = r.u32(), Int(n) <= r.remaining else { return nil }
        var runs: [RunRecord] = []
        for _ in 0..<n {
            guard let name = r.string(), let size = r.u64() else { return nil }
            var run = RunRecord(name: name, size: size)
            if bounded {
                guard let flags = r.u8(), flags & ~3 == 0 else { return nil }
                if flags & 1 != 0 { guard let lo = r.blob() else { return nil }; run.lowerBound = lo }
                if flags & 2 != 0 { guard let hi = r.blob() else { return nil }; run.upperBound = hi }
                if let lo = run.lowerBound, let hi = run.upperBound, compareKeys(lo, hi) >= 0 { return nil }
            }
            runs.append(run)
        }
        return runs
    }

    /// Decodes one edit; nil on malformed input.
    static func decode(_ r: inout ByteReader) -> VersionEdit? {
        guard let raw = r.u8(), let tag = Tag(rawValue: raw) else { return nil }
        switch tag {
        case .createTable:
            guard let id = r.u32(), let name = r.string() else { return nil }
            return .createTable(id: id, name: name)
        case .createStrategyTable:
            guard let id = r.u32(), let name = r.string(), let kind = r.u8(), let prefix = r.u32(), let buckets = r.u32() else { return nil }
            let strategy: PartitioningStrategy
            switch (kind, prefix) {
            case (1, 0): strategy = .hash(buckets: Int(buckets))
            case (2, 1...): strategy = .composite(prefixLength: Int(prefix), buckets: Int(buckets))
            default: return nil
            }
            if strategy.problem != nil { return nil }
            return .createTable(id: id, name: name, strategy: strategy)
        case .dropTable:
            guard let id = r.u32() else { return nil }
            return .dropTable(id: id)
        case .addPartition, .addPartitionBoundedRuns:
            guard let id = r.u64(), let table = r.u32(), let lo = r.blob(), let hasHi = r.u8(), let hi = r.blob(),
                  let runs = decodeRuns(&r, bounded: tag == .addPartitionBoundedRuns), let flushed = r.u64() else { return nil }
            return .addPartition(PartitionRecord(id: id, tableID: table, lowerBound: lo,
                                                 upperBound: hasHi == 0 ? nil : hi, runs: runs, flushedSeq: flushed))
        case .removePartition:
            guard let id = r.u64() else { return nil }
            return .removePartition(id: id)
        case .setRuns, .setBoundedRuns:
            guard let id = r.u64(), let runs = decodeRuns(&r, bounded: tag == .setBoundedRuns), let flushed = r.u64() else { return nil }
            return .setRuns(partitionID: id, runs: runs, flushedSeq: flushed)
        case .setFlushed:
            guard let id = r.u64(), let flushed = r.u64() else { return nil }
            return .setFlushed(partitionID: id, flushedSeq: flushed)
        case .counters:
            guard let f = r.u64(), let p = r.u64(), let t = r.u32(), let s = r.u64() else { return nil }
            return .counters(nextFileNumber: f, nextPartitionID: p, nextTableID: t, lastSeq: s)
        case .reshardPrepared:
            guard let id = r.u64(), let table = r.u32(), let ns = r.u32(), Int(ns) <= r.remaining else { return nil }
            var sources: [UInt64] = [], targets: [UInt64] = [], files: [String] = []
            for _ in 0..<ns { guard let v = r.u64() else { return nil }; sources.append(v) }
            guard let nt = r.u32(), Int(nt) <= r.remaining else { return nil }
            for _ in 0..<nt { guard let v = r.u64() else { return nil }; targets.append(v) }
            guard let nf = r.u32(), Int(nf) <= r.remaining else { return nil }
            for _ in 0..<nf { guard let v = r.string() else { return nil }; files.append(v) }
            return .reshardPrepared(ReshardRecord(planID: id, tableID: table, sources: sources, targets: targets, files: files))
        case .reshardFinished:
            guard let id = r.u64(), let c = r.u8() else { return nil }
            return .reshardFinished(planID: id, committed: c != 0)
        case .createIndex:
            guard let id = r.u32(), let table = r.u32(), let name = r.string() else { return nil }
            return .createIndex(IndexRecord(id: id, tableID: table, name: name))
        case .dropIndex:
            guard let id = r.u32() else { return nil }
            return .dropIndex(id: id)
        case .setIndexRuns:
            guard let p = r.u64(), let i = r.u32(), let runs = decodeRuns(&r), let ready = r.u8() else { return nil }
            return .setIndexRuns(partitionID: p, indexID: i, runs: runs, ready: ready != 0)
        case .walOpened:
            guard let n = r.u64() else { return nil }
            return .walOpened(segment: n)
        case .setStrategy:
            guard let id = r.u32(), let kind = r.u8(), let prefix = r.u32(), let buckets = r.u32() else { return nil }
            let strategy: PartitioningStrategy
            switch (kind, prefix) {
            case (0, 0): strategy = .range
            case (1, 0): strategy = .hash(buckets: Int(buckets))
            case (2, 1...): strategy = .composite(prefixLength: Int(prefix), buckets: Int(buckets))
            default: return nil
            }
            if strategy.problem != nil || UInt32(strategy.buckets) != buckets { return nil }
            return .setStrategy(tableID: id, strategy: strategy)
        case .walClosed:
            guard let n = r.u64(), let end = r.u64() else { return nil }
            return .walClosed(WALClose(segment: n, framesEnd: end))
        case .nameChecksFrom:
            guard let n = r.u64() else { return nil }
            return .nameChecksFrom(fileNumber: n)
        }
    }
}

/// Where a clean close left the log: segment `segment`'s frames end at byte `framesEnd`.
struct WALClose: Sendable, Equatable {
    var segment: UInt64
    var framesEnd: UInt64
}

/// A reshard between its prepare and its commit or abort.
struct ReshardRecord: Sendable, Equatable {
    var planID: UInt64
    var tableID: UInt32
    var sources: [UInt64]
    var targets: [UInt64]
    /// Target segment files (in seg/) the copy writes; removed if the plan is rolled back.
    var files: [String]
}

/// The state a manifest describes: the result of applying every edit in order.
struct ManifestState: Sendable, Equatable {
    var tables: [UInt32: String] = [:]
    /// Strategies of the tables not partitioned by `.range`.
    var strategies: [UInt32: PartitioningStrategy] = [:]
    var indexes: [UInt32: IndexRecord] = [:]
    var partitions: [UInt64: PartitionRecord] = [:]
    var nextFileNumber: UInt64 = 1
    var nextPartitionID: UInt64 = 1
    var nextTableID: UInt32 = 1
    var lastSeq: UInt64 = 0
    /// Reshards prepared and not yet finished (recovery rolls them back).
    var pendingReshards: [UInt64: ReshardRecord] = [:]
    /// The WAL segment the last open created; nil in stores written before WAL headers existed.
    var walOpenedSegment: UInt64? = nil
    /// The lowest segment any open recorded: segments below it may predate WAL headers.
    var walFirstOpenedSegment: UInt64? = nil
    /// Where the log's frames ended when the store was last closed cleanly; nil once an open
    /// began writing (its `walOpened` clears it), after a crash, and in older stores.
    var walClosed: WALClose? = nil
    /// The lowest segment file number from which every file's footer carries its name check;
    /// nil in a store no open of 2026-12-07 or later has written.
    var nameChecksFrom: UInt64? = nil

    /// Applies an edit; returns a reason when the edit does not fit the state (corruption).
    mutating func apply(_ edit: VersionEdit) -> String? {
        switch edit {
        case .createTable(let id, let name, let strategy):
            if tables[id] != nil { return "table id \(id) created twice" }
            tables[id] = name
            if strategy != .range { strategies[id] = strategy }
        case .dropTable(let id):
            if tables.removeValue(forKey: id) == nil { return "drop of unknown table id \(id)" }
            strategies[id] = nil
            partitions = partitions.filter { $0.value.tableID != id }
            indexes = indexes.filter { $0.value.tableID != id }
        case .addPartition(var p):
            if partitions[p.id] != nil { return "partition \(p.id) added twice" }
            if tables[p.tableID] == nil { return "partition \(p.id) of unknown table \(p.tableID)" }
            if let problem = p.runBoundsProblem(p.runs) { return problem }
            // Index runs travel in `setIndexRuns` edits, so memory matches what a reload builds.
            p.indexRuns = [:]
            p.indexesReady = []
            partitions[p.id] = p
        case .removePartition(let id):
            if partitions.removeValue(forKey: id) == nil { return "removal of unknown partition \(id)" }
        case .setRuns(let id, let runs, let flushed):
            guard let p = partitions[id] else { return "runs for unknown partition \(id)" }
            if let problem = p.runBoundsProblem(runs) { return problem }
            partitions[id]!.runs = runs
            partitions[id]!.flushedSeq = flushed
        case .setFlushed(let id, let flushed):
            guard partitions[id] != nil else { return "flush mark for unknown partition \(id)" }
            partitions[id]!.flushedSeq = max(partitions[id]!.flushedSeq, flushed)
        case .counters(let f, let p, let t, let s):
            nextFileNumber = max(nextFileNumber, f)
            nextPartitionID = max(nextPartitionID, p)
            nextTableID = max(nextTableID, t)
            lastSeq = max(lastSeq, s)
        case .reshardPrepared(let r):
            if pendingReshards[r.planID] != nil { return "reshard \(r.planID) prepared twice" }
            pendingReshards[r.planID] = r
        case .reshardFinished(let id, _):
            if pendingReshards.removeValue(forKey: id) == nil { return "finish of unknown reshard \(id)" }
        case .createIndex(let r):
            if indexes[r.id] != nil || tables[r.id] != nil { return "index id \(r.id) created twice" }
            if tables[r.tableID] == nil { return "index \(r.id) of unknown table \(r.tableID)" }
            indexes[r.id] = r
        case .dropIndex(let id):
            guard let r = indexes.removeValue(forKey: id) else { return "drop of unknown index id \(id)" }
            for (pid, p) in partitions where p.tableID == r.tableID {
                partitions[pid]!.indexRuns[id] = nil
                partitions[pid]!.indexesReady.remove(id)
            }
        case .setIndexRuns(let pid, let id, let runs, let ready):
            guard let p = partitions[pid] else { return "index runs for unknown partition \(pid)" }
            guard let r = indexes[id], r.tableID == p.tableID else { return "runs of unknown index \(id) in partition \(pid)" }
            partitions[pid]!.indexRuns[id] = runs.isEmpty ? nil : runs
            if ready { partitions[pid]!.indexesReady.insert(id) } else { partitions[pid]!.indexesReady.remove(id) }
        case .setStrategy(let id, let strategy):
            if tables[id] == nil { return "strategy of unknown table id \(id)" }
            strategies[id] = strategy == .range ? nil : strategy
        case .walOpened(let n):
            // The latest open wins (a point-in-time recovery may have set newer segments aside);
            // the lowest is kept too (older segments may come from before WAL headers).
            walOpenedSegment = n
            walFirstOpenedSegment = min(walFirstOpenedSegment ?? n, n)
            walClosed = nil
        case .walClosed(let c):
            walClosed = c
        case .nameChecksFrom(let n):
            nameChecksFrom = min(nameChecksFrom ?? n, n)
        }
        return nil
    }

    /// Edits that rebuild this state from nothing (a rotated manifest's first record).
    var snapshot: [VersionEdit] {
        var edits: [VersionEdit] = [.counters(nextFileNumber: nextFileNumber, nextPartitionID: nextPartitionID,
                                              nextTableID: nextTableID, lastSeq: lastSeq)]
        for (id, name) in tables.sorted(by: { $0.key < $1.key }) {
            edits.append(.createTable(id: id, name: name, strategy: strategies[id] ?? .range))
        }
        for (_, r) in indexes.sorted(by: { $0.key < $1.key }) { edits.append(.createIndex(r)) }
        for (_, p) in partitions.sorted(by: { $0.key < $1.key }) {
            edits.append(.addPartition(p))
            edits += p.indexEdits
        }
        for (_, r) in pendingReshards.sorted(by: { $0.key < $1.key }) { edits.append(.reshardPrepared(r)) }
        if let first = walFirstOpenedSegment, first != walOpenedSegment { edits.append(.walOpened(segment: first)) }
        if let n = walOpenedSegment { edits.append(.walOpened(segment: n)) }
        if let c = walClosed { edits.append(.walClosed(c)) }
        if let n = nameChecksFrom { edits.append(.nameChecksFrom(fileNumber: n)) }
        return edits
    }

    /// Whether segment file `name` (`<partition>-<file>.seg`) must carry its name check.
    func requiresNameCheck(_ name: String) -> Bool {
        guard let from = nameChecksFrom, let number = Self.fileNumber(name) else { return false }
        return number >= from
    }

    /// The file number `<f>` of a segment file's name `<partition>-<f>.seg` (both parts
    /// decimal), or nil for any other name.
    static func fileNumber(_ name: String) -> UInt64? {
        guard name.hasSuffix(".seg") else { return nil }
        let parts = name.dropLast(4).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && UInt64($0) != nil }) else { return nil }
        return UInt64(parts[1])
    }

    /// Names of every segment file the state references.
    var referencedFiles: Set<String> {
        var names = Set<String>()
        for p in partitions.values {
            for r in p.runs { names.insert(r.name) }
            for runs in p.indexRuns.values { for r in runs { names.insert(r.name) } }
        }
        return names
    }

    func indexes(ofTable table: UInt32) -> [IndexRecord] {
        indexes.values.filter { $0.tableID == table }.sorted { $0.id < $1.id }
    }
}

extension PartitionRecord {
    /// Why `runs` cannot belong to this partition: a bounded run must lie inside its range
    /// (a reshard narrows every view it hands out to its target), so a neighbour's records can
    /// never show through a shared file.
    func runBoundsProblem(_ runs: [RunRecord]) -> String? {
        for r in runs where r.isBounded {
            let lowerOK = r.lowerBound.map { compareKeys($0, lowerBound) >= 0 } ?? lowerBound.isEmpty
            let upperOK = upperBound.map { u in r.upperBound.map { compareKeys($0, u) <= 0 } ?? false } ?? true
            if !lowerOK || !upperOK { return "run \(r.name) of partition \(id) reaches outside the partition's range" }
        }
        return nil
    }

    /// `setIndexRuns` edits that, after `addPartition(self)`, restore its index runs and states.
    var indexEdits: [VersionEdit] {
        Set(indexRuns.keys).union(indexesReady).sorted().map { id in
            .setIndexRuns(partitionID: self.id, indexID: id, runs: indexRuns[id] ?? [], ready: indexesReady.contains(id))
        }
    }
}
