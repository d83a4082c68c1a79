// Reads: point lookups without locks or retains inside a read section (ReadEpochs.swift), and
// scans that merge a partition's layers newest first (MergedCursor), clamped to each
// partition's range. Thread-safety: any thread, concurrently with writers and reshards.
import AugurPlanner
import AugurStats
import AugurSys

extension Engine {
    func read(_ table: Table, _ key: UnsafeRawBufferPointer) throws(AugurError) -> [UInt8]? {
        var value: [UInt8]? = nil
        try withValue(table, key) { v in value = v.map { Array($0) } }
        return value
    }

    /// `body` with the value of user key `key` in place (nil when absent), inside a read
    /// section: the memtable arena or mapped segment holding it stays alive until `body`
    /// returns. No copy, no allocation (a partition key of up to a few hundred bytes is encoded
    /// on the stack), no retain.
    func withValue(_ table: Table, _ key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) -> Void) throws(AugurError) {
        try table.checkUsable()
        let started = telemetry != nil ? MonotonicClock.nanos() : 0
        // Nothing retained, no lock: the map, the partition and its layers are read inside a
        // read section (ReadEpochs.swift), which keeps whatever a reshard or flush replaces
        // meanwhile alive until the section ends. The key is encoded in the layout of the map
        // it is looked up in (a strategy change replaces map and layout together).
        let section = ReadEpochs.shared.begin()
        defer { ReadEpochs.shared.end(section) }
        let map = table.readMap.unretained()
        let layout = map._withUnsafeGuaranteedRef { $0.layout }
        func look(_ pk: UnsafeRawBufferPointer) {
            map._withUnsafeGuaranteedRef { map in
                map.unretainedPartition(for: pk)._withUnsafeGuaranteedRef { p in
                    let value = p.readView.unretained()._withUnsafeGuaranteedRef { lookupRecord($0, pk) }
                    body(value)
                    telemetry?.record(.retrieve, p, key: pk, bytes: pk.count + (value?.count ?? 0), costNanos: MonotonicClock.nanos() &- started)
                }
            }
        }
        if layout.isIdentity {
            if key.count == 0 { throw .emptyKey }
            if key.count > maxKeySize { throw .keyTooLarge(size: key.count, limit: maxKeySize) }
            look(key)
        } else {
            try layout.withPartitionKey(key, maxKeySize: maxKeySize) { pk throws(AugurError) in look(pk) }
        }
    }

    /// The newest record of `key` in a published view: active memtable, frozen memtables, then
    /// runs (newest first; runs whose filter rules the key out are skipped), each reached through
    /// an unretained reference.
    @inline(__always)
    func lookupValue(_ view: ReadView, _ key: UnsafeRawBufferPointer) -> [UInt8]? {
        lookupRecord(view, key).map { Array($0) }
    }

    /// The bytes of `key`'s newest value in `view`, in place (valid while the read section
    /// lasts); nil when absent or deleted.
    @inline(__always)
    func lookupRecord(_ view: ReadView, _ key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        // Every run's filter line is asked for before the memtables are searched: a get that
        // reaches the runs then finds them in cache, their misses having overlapped the
        // memtable search and one another instead of following it one run at a time.
        let hash = view.runs.isEmpty ? 0 : KeyHash.hash(key)
        for run in view.runs { run._withUnsafeGuaranteedRef { $0.prefetchFilter(hash) } }
        if let e = view.memtable._withUnsafeGuaranteedRef({ $0.lookup(key) }) { return e.kind == .put ? e.value : nil }
        for f in view.frozen {
            if let e = f._withUnsafeGuaranteedRef({ $0.lookup(key) }) { return e.kind == .put ? e.value : nil }
        }
        if view.runs.isEmpty { return nil }
        for run in view.runs {
            if let r = run._withUnsafeGuaranteedRef({ $0.lookup(key, hash: hash) }) { return r.kind == .put ? r.value : nil }
        }
        return nil
    }

    /// The value of `key` in partition `p` (which must hold it), read inside a read section.
    func lookupValue(_ p: Partition, _ key: UnsafeRawBufferPointer) -> [UInt8]? {
        ReadEpochs.shared.read { p.readView.unretained()._withUnsafeGuaranteedRef { lookupValue($0, key) } }
    }

    /// A scan's `limit`, checked (nil: no limit).
    static func checkedScanLimit(_ limit: Int?) throws(AugurError) -> Int {
        if let limit, limit < 0 { throw .invalidOption(name: "limit", value: String(limit), reason: "must not be negative") }
        return limit ?? Int.max
    }

    /// The records of `map` (a map of `table`) in partition-key `range`.
    func scan(_ table: Table, _ map: PartitionMap, range: KeyRange, limit: Int?, reverse: Bool) throws(AugurError) -> [KeyValue] {
        try table.checkUsable()
        let limit = try Self.checkedScanLimit(limit)
        var out: [KeyValue] = []
        if limit == 0 { return out }
        if let lo = range.lowerBound, let hi = range.upperBound, compareKeys(lo, hi) >= 0 { return out }
        var partitions = map.partitions.filter { p in
            if let hi = range.upperBound, compareKeys(p.lowerBound, hi) >= 0 { return false }
            if let lo = range.lowerBound, let pHi = p.upperBound, compareKeys(pHi, lo) <= 0 { return false }
            return true
        }
        if reverse { partitions.reverse() }
        for p in partitions {
            // Clamp the range to the partition so a stale view never returns keys it no longer owns.
            var start = p.lowerBound.isEmpty ? range.lowerBound : p.lowerBound
            if let lo = range.lowerBound, compareKeys(lo, p.lowerBound) > 0 { start = lo }
            var end = p.upperBound
            if let hi = range.upperBound, end == nil || compareKeys(hi, end!) < 0 { end = hi }
            var cursor = MergedCursor(view: p.view, reverse: reverse)
            cursor.position(start: start, end: end)
            let before = out.count
            let started = telemetry != nil ? MonotonicClock.nanos() : 0
            defer {
                if let telemetry {
                    let bytes = out[before...].reduce(0) { $0 + $1.key.count + $1.value.count }
                    let probe = (reverse ? end : start) ?? p.lowerBound
                    probe.withUnsafeBytes { telemetry.record(.scan, p, key: $0, bytes: bytes, costNanos: MonotonicClock.nanos() &- started) }
                }
            }
            while cursor.isValid {
                let record = cursor.record
                if reverse {
                    if let start, start.withUnsafeBytes({ compareKeys(record.key, $0) }) < 0 { break }
                } else if let end, end.withUnsafeBytes({ compareKeys(record.key, $0) }) >= 0 {
                    break
                }
                if record.kind == .put {
                    out.append(KeyValue(key: Array(record.key), value: Array(record.value)))
                    if out.count >= limit { return out }
                }
                cursor.advance()
            }
        }
        return out
    }
}
