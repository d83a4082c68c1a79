// Dropping a secondary index.
//
// An index lives in four places: the manifest (its record, and per partition its runs and
// ready flag), the partitions' views (index memtables, the index layers of frozen memtables,
// index runs), the table's descriptor list (which writers read under their gates), and the WAL
// (entries written since the last flush). A drop:
//   1. takes every partition's maintenance lock (id order, as reshards do; retried if a reshard
//      replaced a partition meanwhile), which keeps flushes, reshards and build commits out;
//   2. commits `dropIndex(id)` to the manifest — from here a crash recovers without the index:
//      the edit removes its runs from the state, their files are swept as unreferenced, and
//      WAL replay skips entries of index ids the manifest does not know;
//   3. marks the descriptor dropped (a running build stops and discards what it built), then,
//      under every gate held exclusive at once (writers hold a gate shared from planning their
//      index entries until they are in the memtables), removes the descriptor and strips the
//      index's memtables and runs from every view — so no writer adds entries after the strip,
//      and no flush ever writes a run for the dropped id;
//   4. marks the runs obsolete: their files go when the last reader (a scan in flight) lets go.
// Writers are held back only for step 3's view updates (no I/O under the gates).
import Synchronization

extension IndexBuilder {
    func dropIndex(_ table: Table, name: String) throws(AugurError) {
        try table.checkUsable()
        try tables.lock.withLock { () throws(AugurError) in
            try table.checkUsable()
            guard let d = table.indexDescriptors.withLock({ $0.first { $0.name == name } }) else {
                throw .indexNotFound(table: table.name, index: name)
            }
            let partitions = table.lockMaintenanceOfEveryPartition()
            defer { for p in partitions.reversed() { p.maintenanceLock.unlock() } }
            try store.manifest.lock.withLock { () throws(AugurError) in
                try store.commitLocked([.dropIndex(id: d.id)])
            }
            d.dropped.store(true, ordering: .releasing)
            var obsolete: [Segment] = []
            for p in partitions { p.gate.lockExclusive() }
            let remaining = table.indexDescriptors.withLock { list -> Int in
                list.removeAll { $0 === d }
                return list.count
            }
            if remaining == 0 { table.hasIndexes.store(false, ordering: .releasing) }
            for p in partitions {
                p.updateView { v in
                    v.indexMemtables[d.id] = nil
                    for i in v.frozen.indices { v.frozen[i].indexes[d.id] = nil }
                    obsolete += v.indexRuns.removeValue(forKey: d.id) ?? []
                }
                p.indexRunRecords[d.id] = nil
                p.indexesReady.remove(d.id)
            }
            for p in partitions.reversed() { p.gate.unlock() }
            for s in obsolete { s.markObsolete() }
            d.statuses.withLock { $0.removeAll() }
        }
    }
}
