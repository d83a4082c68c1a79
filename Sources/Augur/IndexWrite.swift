// Writes to tables with secondary indexes: the base operations and their index entries in one
// WAL frame, applied under the same partition gates.
//
// Keeping an index exact needs the record's old value (to remove its old entry), so a write
// reads before it writes. Two writers of one key must not both read the same old value, so the
// table's key-hash stripes (`Table.indexWriteStripes`) are taken first, then the partition gates
// (shared, in id order) as on the plain path. Lock order: stripes → gates → writeLock.
import AugurSys
import Synchronization

extension Engine {
    /// One operation of the frame: a base write, or an index entry (`indexID` non-nil).
    private struct PlannedOperation {
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

    /// Applies `ops` (already validated) atomically with their index maintenance.
    func writeIndexed(_ ops: [WriteBatch.Op]) throws(AugurError) {
        var stripes: [(table: Table, stripe: Int)] = []
        var seen = Set<Int>()
        for op in ops where op.table.hasIndexes.load(ordering: .acquiring) {
            let s = Engine.stripe(of: op.key)
            if seen.insert(Int(op.table.id) << 8 | s).inserted { stripes.append((op.table, s)) }
        }
        stripes.sort { ($0.table.id, $0.stripe) < ($1.table.id, $1.stripe) }
        for s in stripes { s.table.indexWriteStripes[s.stripe].lock() }
        defer { for s in stripes.reversed() { s.table.indexWriteStripes[s.stripe].unlock() } }
        let started = telemetry != nil ? MonotonicClock.nanos() : 0
        while true {
            let targets = ops.map { op in op.key.withUnsafeBytes { op.table.map.partition(for: $0) } }
            let distinct = lockGatesShared(targets)
            if distinct.contains(where: { $0.retired }) || isClosed {
                for p in distinct { p.gate.unlock() }
                try checkOpen()
                for op in ops { try op.table.checkUsable() }
                continue
            }
            let planned: [PlannedOperation]
            do throws(AugurError) {
                planned = try plan(ops, targets)
            } catch {
                for p in distinct { p.gate.unlock() }
                throw error
            }
            let payload = planned.reduce(0) { $0 + WALFormat.opHeaderSize + $1.key.count + $1.value.count }
            let appended: WALPosition?
            do throws(AugurError) {
                if payload > wal.maxPayload { throw .batchTooLarge(size: payload, limit: wal.maxPayload) }
                appended = try wal.append(payloadSize: payload, opCount: planned.count) { base, _ in
                    var w = WALPayloadWriter(base: base)
                    for op in planned {
                        op.key.withUnsafeBytes { k in op.value.withUnsafeBytes { v in w.add(kind: op.kind, tableID: op.id, key: k, value: v) } }
                    }
                }
            } catch {
                for p in distinct { p.gate.unlock() }
                throw error
            }
            guard let position = appended else {
                // The WAL segment is full: roll it outside the gates, then plan again.
                for p in distinct { p.gate.unlock() }
                try wal.makeRoom(payloadSize: payload)
                continue
            }
            for (i, op) in planned.enumerated() {
                let p = op.partition
                let memtable = op.indexID.map { p.indexMemtable($0) } ?? p.activeMemtable
                op.key.withUnsafeBytes { k in
                    op.value.withUnsafeBytes { v in
                        p.writeLock.withLock { memtable.apply(key: k, seq: position.firstSeq + UInt64(i), kind: op.kind, value: v) }
                    }
                }
            }
            for p in distinct { p.gate.unlock() }
            if let telemetry {
                let baseOps = planned.reduce(0) { $0 + ($1.indexID == nil ? 1 : 0) }
                let share = (MonotonicClock.nanos() &- started) / UInt64(max(1, baseOps))
                for op in planned where op.indexID == nil {
                    op.key.withUnsafeBytes { k in telemetry.record(op.kind == .put ? .store : .delete, op.partition, key: k, bytes: op.baseBytes, costNanos: share) }
                }
            }
            for p in distinct {
                let v = p.view
                afterWrite(to: p, memtable: v.memtable,
                           bytes: v.memtable.approximateBytes + v.indexMemtables.values.reduce(0, { $0 + $1.approximateBytes }))
            }
            if syncWrites { try wal.sync(upTo: position) }
            return
        }
    }

    /// The frame's operations: each base write followed by the index entries it removes and
    /// adds. Caller holds the stripes and the gates of `targets`.
    private func plan(_ ops: [WriteBatch.Op], _ targets: [Partition]) throws(AugurError) -> [PlannedOperation] {
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
