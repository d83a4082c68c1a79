// Bulk ingest (issue 18, part 3; RocksDB's external file ingestion is the anchor): sorted
// records are written straight into segment files, outside the WAL and the memtables, and made
// visible in stages. Each stage is one file; its activation is one manifest record that adds the
// file, as a run (a bounded view where it spans several partitions), on top of every partition it
// overlaps — so a crash leaves each stage entirely absent (its file is unreferenced and swept at
// the next open) or entirely present.
//
// Which value wins (the rule): an ingested record is newer than every write that reached the
// table before its stage activated, and older than every write after. The activation holds the
// partitions' maintenance locks, flushes their memtables (so earlier writes lie in runs below the
// ingested one), and commits; writes after that flush go to the new memtable, which reads and
// WAL replay put above every run. Ingested records carry no sequence number: their place among
// the runs is their order.
//
// Before writing, the ingest can pre-create partitions for the key range it covers, so the new
// data lands spread over partitions of a chosen size instead of growing one (the partitions are
// ordinary ones, empty until their stage activates; the split is logged in decisions.jsonl as
// `bulk-ingest-precreate`).
import AugurPlanner
import AugurSys
import Dispatch
import Synchronization

/// How `Table.bulkIngest` stages its data.
///
/// Thread-safety: a plain value; `Sendable`.
public struct BulkIngestOptions: Sendable, Equatable {
    /// Input bytes (keys and values) per staged file, and so per activation stage. Default
    /// 64 MiB; 64 KiB ... 4 GiB.
    public var stageBytes = 64 << 20
    /// Pre-create partitions so the ingest adds at most this many bytes to each; nil: no
    /// pre-creation. Default 256 MiB; 64 KiB ... 1 TiB.
    public var preSplitBytes: Int? = 256 << 20

    public init() {}

    func validate() throws(AugurError) {
        guard stageBytes >= 64 << 10 && stageBytes <= 4 << 30 else {
            throw .invalidOption(name: "stageBytes", value: String(stageBytes), reason: "must be in 65536...4294967296 bytes")
        }
        if let b = preSplitBytes, !(b >= 64 << 10 && b <= 1 << 40) {
            throw .invalidOption(name: "preSplitBytes", value: String(b), reason: "must be in 65536...1099511627776 bytes")
        }
    }
}

/// What a bulk ingest did.
///
/// Thread-safety: a plain value; `Sendable`.
public struct BulkIngestSummary: Sendable, Equatable {
    public var records: Int
    /// Key and value bytes ingested.
    public var bytes: Int
    /// Stages activated (one file each).
    public var stages: Int
    /// Partitions created ahead of the data.
    public var partitionsPreCreated: Int
    public var seconds: Double
}

extension Table {
    /// Writes `records` (keys strictly ascending; in a `.hash` or `.composite` table, keys unique
    /// in any order — they are re-keyed and sorted here) into the table through sorted segment files,
    /// without the WAL, and makes them visible in stages (see `BulkIngestOptions`). Reads and
    /// writes continue meanwhile; a record ingested over an existing key replaces it, and a write
    /// after its stage activated replaces the ingested record. A record out of order, an empty
    /// or too large key or value: a typed error naming it, and nothing of the ingest is visible.
    /// A table with secondary indexes is refused (their entries are not built by the ingest).
    public func bulkIngest<C: Collection & Sendable>(_ records: C, options: BulkIngestOptions = BulkIngestOptions()) throws(AugurError)
        -> BulkIngestSummary where C.Element == KeyValue, C.Index: Sendable {
        // The records are encoded in the layout of now and activated much later: no strategy
        // change in between.
        rewriteLock.lock()
        defer { rewriteLock.unlock() }
        let layout = self.layout
        if layout.isIdentity { return try engine.bulkIngest(into: self, records, options: options) }
        // A hash or composite table stores partition keys, whose order is not the keys' order:
        // one copy of the input, re-keyed and sorted. A key given twice is refused here, named
        // as the caller wrote it (the ingest's own check would name the partition key).
        var rekeyed: [KeyValue] = []
        rekeyed.reserveCapacity(records.count)
        for r in records { rekeyed.append(KeyValue(key: try layout.partitionKey(r.key, maxKeySize: engine.maxKeySize), value: r.value)) }
        rekeyed.sort { compareKeys($0.key, $1.key) < 0 }
        for i in rekeyed.indices.dropFirst() where rekeyed[i].key == rekeyed[i - 1].key {
            throw .invalidOption(name: "records", value: formatKey(layout.userKey(rekeyed[i].key)), reason: "the key is given twice")
        }
        return try engine.bulkIngest(into: self, rekeyed, options: options)
    }
}

extension Engine {
    func bulkIngest<C: Collection & Sendable>(into table: Table, _ records: C, options: BulkIngestOptions) throws(AugurError)
        -> BulkIngestSummary where C.Element == KeyValue, C.Index: Sendable {
        try checkOpen()
        try table.checkUsable()
        if self.options.readOnly { throw .writesDisabled(reason: Recovery.readOnlyReason) }
        try options.validate()
        if table.hasIndexes.load(ordering: .acquiring) {
            throw .invalidOption(name: "table", value: table.name,
                                 reason: "bulk ingest does not build secondary index entries; drop the indexes or write through WriteBatch")
        }
        let started = MonotonicClock.nanos()
        // Check everything before anything is written or split (order, sizes), and mark where
        // each stage starts: a stage takes records while it holds fewer than stageBytes.
        var total = 0, stageBytes = 0, splitBytes = 0, n = 0
        var stageStarts: [C.Index] = []
        var preSplitCuts: [[UInt8]] = []
        var previous: [UInt8]? = nil
        var at = records.startIndex
        while at != records.endIndex {
            let r = records[at]
            try r.key.withUnsafeBytes { k in r.value.withUnsafeBytes { v in Result { () throws(AugurError) in try validate(key: k, value: v) } } }.get()
            if let previous, compareKeys(previous, r.key) >= 0 {
                throw .invalidOption(name: "records[\(n)]", value: formatKey(r.key),
                                     reason: "keys must be strictly ascending; it follows \(formatKey(previous))")
            }
            if stageStarts.isEmpty || stageBytes >= options.stageBytes { stageStarts.append(at); stageBytes = 0 }
            if let chunk = options.preSplitBytes, splitBytes >= chunk { preSplitCuts.append(r.key); splitBytes = 0 }
            previous = r.key
            let bytes = r.key.count + r.value.count
            total += bytes
            stageBytes += bytes
            splitBytes += bytes
            n += 1
            records.formIndex(after: &at)
        }
        guard n > 0 else { return BulkIngestSummary(records: 0, bytes: 0, stages: 0, partitionsPreCreated: 0, seconds: 0) }
        let preCreated = try preCreatePartitions(table, at: preSplitCuts, totalBytes: total, options: options)
        // Stages are written and activated by as many workers as there are CPUs (writing a file is
        // mostly the kernel copying pages, one CPU per writer); activations of stages that meet in
        // a partition take turns on its maintenance lock. Stages cover disjoint key ranges, so
        // the order they activate in does not matter.
        let ranges = stageStarts.indices.map { i in stageStarts[i]..<(i + 1 < stageStarts.count ? stageStarts[i + 1] : records.endIndex) }
        let next = Atomic<Int>(0)
        let firstError = Mutex<AugurError?>(nil)
        let workers = min(ranges.count, max(1, CPUAffinity.allowedCPUs().count))
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while firstError.withLock({ $0 == nil }) {
                let k = next.add(1, ordering: .relaxed).oldValue
                if k >= ranges.count { return }
                do throws(AugurError) {
                    let segment = try writeStage(table, records[ranges[k]])
                    do throws(AugurError) { try activate(table, segment) } catch {
                        // Not deleted here: a failed manifest commit may still have reached the
                        // disk, and then the file is referenced after a crash. As after a failed
                        // flush, the next successful commit sweeps it if nothing references it
                        // (and recovery does too).
                        store.needsFileSweep.store(true, ordering: .releasing)
                        store.filesInProgress.withLock { _ = $0.remove(segment.file.name) }
                        throw error
                    }
                    store.filesInProgress.withLock { _ = $0.remove(segment.file.name) }
                } catch {
                    firstError.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
        if let error = firstError.withLock({ $0 }) { throw error }
        return BulkIngestSummary(records: n, bytes: total, stages: ranges.count, partitionsPreCreated: preCreated,
                                 seconds: Double(MonotonicClock.nanos() &- started) / 1e9)
    }

    /// Writes `records` (one stage, not empty) into a new segment file.
    private func writeStage<C: Collection>(_ table: Table, _ records: C) throws(AugurError) -> Segment where C.Element == KeyValue {
        let owner = (records.first?.key ?? []).withUnsafeBytes { table.map.partition(for: $0) }
        let written = try store.writeSegment(partitionID: owner.id) { writer throws(FileSystemError) in
            for r in records { try writer.add(kind: .put, key: r.key, value: r.value) }
        }
        guard let written else { throw .invalidOption(name: "stage", value: "empty", reason: "Augur bug: an empty stage") }
        return written.segment
    }

    /// Makes one staged file visible: one manifest record adds it (bounded to each partition's
    /// range) on top of every partition it overlaps, after their memtables are flushed.
    private func activate(_ table: Table, _ segment: Segment) throws(AugurError) {
        guard let (first, last) = segment.keySpan else { return }
        while true {
            try table.checkUsable()
            // The partitions [first, last] overlaps.
            let targets = table.map.partitions.filter { p in
                (p.upperBound.map { compareKeys(first, $0) < 0 } ?? true) && compareKeys(last, p.lowerBound) >= 0
            }
            let ordered = targets.sorted { $0.id < $1.id }
            for p in ordered { p.maintenanceLock.lock() }
            defer { for p in ordered.reversed() { p.maintenanceLock.unlock() } }
            if targets.contains(where: { $0.retired }) { continue }     // a reshard changed the map: again
            for p in targets { try flusher.flushLocked(p) }
            let views = targets.compactMap { p in segment.restricted(lower: p.lowerBound, upper: p.upperBound).map { (p, $0) } }
            let edits: [VersionEdit] = views.map { p, v in
                .setRuns(partitionID: p.id, runs: [v.runRecord] + p.runRecords, flushedSeq: p.flushedSeq)
            }
            try store.commitEdits(edits)
            for (p, v) in views {
                p.runRecords = [v.runRecord] + p.runRecords
                p.updateView { $0.runs.insert(v, at: 0) }
            }
            // Split over several partitions, the whole-file view is read by none: obsolete, so
            // the file goes once the partitions' views do (a view that simply went away would
            // keep the file until a sweep).
            if !views.contains(where: { $0.1 === segment }) { segment.markObsolete() }
            return
        }
    }

    /// Splits the partitions the ingest covers at `cuts` — the input's own keys, one every
    /// `preSplitBytes` of input (found by the checking pass) — so it adds at most that much to
    /// each. Returns how many were made.
    private func preCreatePartitions(_ table: Table, at cuts: [[UInt8]], totalBytes: Int,
                                     options: BulkIngestOptions) throws(AugurError) -> Int {
        guard let chunk = options.preSplitBytes, !cuts.isEmpty else { return 0 }
        var made = 0
        for p in table.map.partitions {
            let inside = cuts.filter { k in
                compareKeys(k, p.lowerBound) > 0 && (p.upperBound.map { compareKeys(k, $0) < 0 } ?? true)
            }
            guard !inside.isEmpty else { continue }
            _ = try table.requestResharding(.splitMany(at: inside)).wait()
            made += inside.count
        }
        if made > 0, self.options.partitioning.logDecisions {
            appendDecisions([PartitioningDecision(
                time: self.options.clock.now(), table: table.name, policy: "bulk-ingest", action: "split", kind: "pre-create",
                partitions: [], reason: "pre-created \(made) partitions for a bulk ingest of \(totalBytes) bytes "
                    + "(at most \(chunk) bytes of it each); empty until their stage activates",
                reasonCode: "bulk-ingest-precreate", score: 0, predictedUtilization: [], bytesToMove: 0, executed: true, error: nil)])
        }
        return made
    }
}
