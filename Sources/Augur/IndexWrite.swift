// Writes to tables with secondary indexes: the base operations and their index entries in one
// WAL frame, applied under the same partition gates — a `CommitBatch` of the commit pipeline
// (CommitPipeline.swift) like every other write.
//
// Keeping an index exact needs the record's old value (to remove its old entry), so a write
// reads before it writes. Two writers of one key must not both read the same old value, so the
// table's key-hash stripes (`Table.indexWriteStripes`) are taken first, then the partition gates
// (shared, in id order) as on the plain path. Lock order: stripes → gates → writeLock.
import AugurSys
import Synchronization

extension Engine {
    /// One operation of the frame: a base write, or an index entry (`indexID` non-nil).
    fileprivate struct PlannedOperation {
        let kind: RecordKind
        let id: UInt32              // table id, or index id for an index entry
        let key: [UInt8]
        let value: [UInt8]
        let partition: Partition
        let indexID: UInt32?
        let baseBytes: Int
    }

    private struct PendingKey: Hashable {
        let table: UInt32
        let key: [UInt8]
    }

    static func stripe(of key: [UInt8]) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: h >> 58)          // 64 stripes
    }

    /// Applies `ops` (already validated) atomically with their index maintenance. False when
    /// nothing was written because a table's layout changed since its keys were encoded.
    func writeIndexed(_ ops: [WriteBatch.Op]) throws(AugurError) -> Bool {
        var stripes: [(table: Table, stripe: Int)] = []
        var seen = Set<Int>()
        for op in ops where op.table.hasIndexes.load(ordering: .acquiring) {
            let s = Engine.stripe(of: op.key)
            if seen.insert(Int(op.table.id) << 8 | s).inserted { stripes.append((op.table, s)) }
        }
        stripes.sort { ($0.table.id, $0.stripe) < ($1.table.id, $1.stripe) }
        for s in stripes { s.table.indexWriteStripes[s.stripe].lock() }
        var write = IndexedWrite(ops: ops, stripes: stripes)
        // Released once the write is applied (`applied`), before its after-write and WAL sync:
        // a writer sleeping in a write slowdown or waiting in a stall or for group commit must
        // not hold up every writer of its key stripes (found in review). Here for the paths
        // that end before the apply (an error, a changed layout).
        defer { write.releaseStripes() }
        return try commit(&write) != .layoutChanged
    }

    /// A batch on tables that may have secondary indexes: its base operations and the index
    /// entries they remove and add, planned under the gates (CommitPipeline.swift, step 3).
    fileprivate struct IndexedWrite: CommitBatch {
        let ops: [WriteBatch.Op]
        /// The key stripes `writeIndexed` locked, in locking order; empty once released.
        private var stripes: [(table: Table, stripe: Int)]
        private var routing = BatchRouting()
        private var planned: [PlannedOperation] = []
        private(set) var payloadSize = 0

        init(ops: [WriteBatch.Op], stripes: [(table: Table, stripe: Int)]) {
            self.ops = ops
            self.stripes = stripes
        }

        /// Unlocks the key stripes (once).
        mutating func releaseStripes() {
            for s in stripes.reversed() { s.table.indexWriteStripes[s.stripe].unlock() }
            stripes = []
        }

        mutating func applied() { releaseStripes() }

        mutating func route() -> HeldGates { routing.route(ops) }
        var layoutChanged: Bool { routing.layoutChanged }

        mutating func plan(_ engine: Engine) throws(AugurError) {
            planned = try engine.plan(ops, routing.targets)
            payloadSize = planned.reduce(0) { $0 + WALFormat.opSize(tableID: $1.id, keyCount: $1.key.count, valueCount: $1.value.count) }
        }

        var operationCount: Int { planned.count }
        func checkUsable() throws(AugurError) { try ops.checkUsable() }

        func encode(into w: inout WALPayloadWriter) {
            for op in planned {
                op.key.withUnsafeBytes { k in op.value.withUnsafeBytes { v in w.add(kind: op.kind, tableID: op.id, key: k, value: v) } }
            }
        }

        mutating func apply(firstSeq: UInt64) {
            for (i, op) in planned.enumerated() {
                let p = op.partition
                let memtable = op.indexID.map { p.indexMemtable($0) } ?? p.activeMemtable
                op.key.withUnsafeBytes { k in
                    op.value.withUnsafeBytes { v in
                        p.writeLock.withLock { memtable.apply(key: k, seq: firstSeq + UInt64(i), kind: op.kind, value: v) }
                    }
                }
            }
        }

        func record(_ telemetry: Telemetry, costNanos: UInt64) {
            let baseOps = planned.reduce(0) { $0 + ($1.indexID == nil ? 1 : 0) }
            let share = costNanos / UInt64(max(1, baseOps))
            for op in planned where op.indexID == nil {
                op.key.withUnsafeBytes { k in telemetry.record(op.kind == .put ? .store : .delete, op.partition, key: k, bytes: op.baseBytes, costNanos: share) }
            }
        }

        func afterCommit(_ engine: Engine) {
            var owed: UInt64 = 0
            for p in routing.distinct {
                let v = p.view
                owed = max(owed, engine.flusher.afterWrite(to: p, memtable: v.memtable, bytes: v.activeBytes,
                                                           written: planned.reduce(0) { $0 + ($1.partition === p ? $1.key.count + $1.value.count : 0) }))
            }
            engine.flusher.sleepOff(owed)
        }
    }

    /// The frame's operations: each base write followed by the index entries it removes and
    /// adds. Caller holds the stripes and the gates of `targets`.
    fileprivate func plan(_ ops: [WriteBatch.Op], _ targets: [Partition]) throws(AugurError) -> [PlannedOperation] {
        var planned: [PlannedOperation] = []
        // Values written earlier in this batch: a later operation on the same key sees them.
        var pending: [PendingKey: [UInt8]?] = [:]
        for (i, op) in ops.enumerated() {
            let p = targets[i]
            planned.append(PlannedOperation(kind: op.kind, id: op.table.id, key: op.key, value: op.value, partition: p,
                                            indexID: nil, baseBytes: op.key.count + op.value.count))
            guard op.table.hasIndexes.load(ordering: .acquiring) else { continue }
            let descriptors = op.table.indexDescriptors.withLock { $0 }
            if descriptors.isEmpty { continue }
            let pk = PendingKey(table: op.table.id, key: op.key)
            let old: [UInt8]?
            if let earlier = pending[pk] { old = earlier } else { old = op.key.withUnsafeBytes { lookupValue(p, $0) } }
            for d in descriptors {
                guard let extract = d.currentExtractor else { throw .indexNotAttached(table: op.table.name, index: d.name) }
                let oldKey = try old.flatMap { v throws(AugurError) in try extractIndexKey(extract, d, op.key, v) }
                let newKey = op.kind == .put ? try extractIndexKey(extract, d, op.key, op.value) : nil
                if oldKey == newKey { continue }
                if let oldKey {
                    planned.append(PlannedOperation(kind: .delete, id: d.id, key: IndexKey.entry(indexKey: oldKey, primaryKey: op.key),
                                                    value: [], partition: p, indexID: d.id, baseBytes: 0))
                }
                if let newKey {
                    planned.append(PlannedOperation(kind: .put, id: d.id, key: IndexKey.entry(indexKey: newKey, primaryKey: op.key),
                                                    value: [], partition: p, indexID: d.id, baseBytes: 0))
                }
            }
            pending[pk] = .some(op.kind == .put ? op.value : nil)
        }
        return planned
    }

    /// Calls an extractor, turning its failure and an oversized key into typed errors.
    func extractIndexKey(_ extract: IndexKeyExtractor, _ d: IndexDescriptor, _ key: [UInt8],
                         _ value: [UInt8]) throws(AugurError) -> [UInt8]? {
        try key.withUnsafeBytes { k in Result { () throws(AugurError) in try extractIndexKey(extract, d, k, value) } }.get()
    }

    /// The same for a key in a mapping or an arena (copied only into an error).
    func extractIndexKey(_ extract: IndexKeyExtractor, _ d: IndexDescriptor, _ key: UnsafeRawBufferPointer,
                         _ value: [UInt8]) throws(AugurError) -> [UInt8]? {
        try Self.extractIndexKey(extract, d, key, value, maxKeySize: maxKeySize)
    }

    /// The rule itself, for the index builder (which has no engine): an extractor's failure and
    /// an index key over `maxKeySize` become typed errors.
    static func extractIndexKey(_ extract: IndexKeyExtractor, _ d: IndexDescriptor, _ key: UnsafeRawBufferPointer,
                                _ value: [UInt8], maxKeySize: Int) throws(AugurError) -> [UInt8]? {
        let indexKey: [UInt8]?
        do { indexKey = try extract(value) } catch {
            throw .indexExtractorFailed(index: d.name, key: Array(key), message: String(describing: error))
        }
        if let indexKey, indexKey.count > maxKeySize {
            throw .indexKeyTooLarge(index: d.name, size: indexKey.count, limit: maxKeySize)
        }
        return indexKey
    }
}
