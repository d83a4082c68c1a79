// Scans of `.hash` and `.composite` tables (PartitioningStrategy): the records of a user-key
// range lie in every bucket, so the scan merges one stream per bucket by the rest of the key.
// A composite table holds prefix groups in key order; within each the buckets are merged, and
// the next group is found by asking the store for the first live key past the current prefix
// (a skip scan), so a range over few prefixes never reads the others.
//
// Order: user keys are prefix ‖ rest with every key at least `prefixLength` long, so user order
// is (prefix, rest) — the groups in prefix order, each merged by rest.
//
// Threading: any thread; the map is one snapshot, the partitions' views are read as a plain
// scan reads them.
import AugurStats
import AugurSys

/// Live records of a partition-key range, in key order (or reverse), across the partitions of a
/// map snapshot; opens one partition's merged cursor at a time. A class: a scan keeps one per
/// bucket in an array and reads them constantly; as a struct each read copied its cursor's
/// references (retain/release were a quarter of a hashed YCSB-E scan's time).
final class PartitionKeyStream {
    private let partitions: [Partition]
    private let start: [UInt8]
    private let end: [UInt8]?
    private let reverse: Bool
    private let telemetry: Telemetry?
    // One scan on one thread owns the stream, so the dynamic exclusivity checks of class
    // properties (a tenth of a hashed scan's time in perf) guard nothing here.
    @exclusivity(unchecked) private var nextPartition = 0
    @exclusivity(unchecked) private var cursor: MergedCursor?
    @exclusivity(unchecked) private var clampStart: [UInt8] = []
    @exclusivity(unchecked) private var clampEnd: [UInt8]?
    @exclusivity(unchecked) private var current: Partition?
    @exclusivity(unchecked) private var openedAt: UInt64 = 0
    @exclusivity(unchecked) private var bytes = 0

    init(map: PartitionMap, start: [UInt8], end: [UInt8]?, reverse: Bool, telemetry: Telemetry?) {
        var ps = map.partitions.filter { p in
            if let end, compareKeys(p.lowerBound, end) >= 0 { return false }
            if let pHi = p.upperBound, compareKeys(pHi, start) <= 0 { return false }
            return true
        }
        if reverse { ps.reverse() }
        partitions = ps
        self.start = start
        self.end = end
        self.reverse = reverse
        self.telemetry = telemetry
        settle()
    }

    var isValid: Bool { cursor?.isValid ?? false }
    var key: UnsafeRawBufferPointer { cursor!.key }
    var value: UnsafeRawBufferPointer { cursor!.value }

    func advance() {
        bytes += cursor!.key.count + cursor!.value.count
        cursor!.advance()
        settle()
    }

    /// Records the telemetry of the partition being read (call once, when done with the stream).
    func finish() {
        if let telemetry, let p = current {
            let probe = reverse ? (clampEnd ?? p.lowerBound) : clampStart
            probe.withUnsafeBytes { telemetry.record(.scan, p, key: $0, bytes: bytes, costNanos: MonotonicClock.nanos() &- openedAt) }
        }
        current = nil
    }

    /// Moves to the next live record inside the current partition's clamp, opening the next
    /// partitions as the current one runs out.
    private func settle() {
        while true {
            if cursor != nil {
                while cursor!.isValid {
                    let key = cursor!.key
                    let outside = reverse
                        ? clampStart.withUnsafeBytes { compareKeys(key, $0) < 0 }
                        : (clampEnd.map { e in e.withUnsafeBytes { compareKeys(key, $0) >= 0 } } ?? false)
                    if outside { break }
                    if cursor!.kind == .put { return }
                    cursor!.advance()
                }
                cursor = nil
                finish()
            }
            guard nextPartition < partitions.count else { return }
            let p = partitions[nextPartition]
            nextPartition += 1
            // Clamp to the partition so a stale view never returns keys it no longer owns.
            clampStart = compareKeys(start, p.lowerBound) > 0 ? start : p.lowerBound
            clampEnd = p.upperBound
            if let end, clampEnd == nil || compareKeys(end, clampEnd!) < 0 { clampEnd = end }
            current = p
            openedAt = telemetry != nil ? MonotonicClock.nanos() : 0
            bytes = 0
            cursor = MergedCursor(view: p.view, reverse: reverse)
            cursor!.position(start: clampStart, end: clampEnd)
        }
    }
}

extension Engine {
    /// The records of `map` (a map of `table`, in a bucketed layout) whose user keys lie in `range`.
    func bucketScan(_ table: Table, _ map: PartitionMap, range: KeyRange, limit: Int?, reverse: Bool) throws(AugurError) -> [KeyValue] {
        try table.checkUsable()
        let limit = try Self.checkedScanLimit(limit)
        var out: [KeyValue] = []
        if limit == 0 { return out }
        let lo = range.lowerBound ?? []
        let hi = range.upperBound
        if let hi, compareKeys(lo, hi) >= 0 { return out }
        let layout = map.layout
        let p = layout.prefixLength
        if p == 0 {
            mergeBuckets(table, map, prefix: [], lo: lo, hi: hi, reverse: reverse, limit: limit, into: &out)
            return out
        }
        // The smallest P-byte prefix a key ≥ lo can have, and the bound (exclusive, in partition
        // keys) past every prefix a key < hi can have.
        let firstPrefix = lo.count >= p ? Array(lo[..<p]) : lo + [UInt8](repeating: 0, count: p - lo.count)
        let pastPrefixes: [UInt8]? = hi.flatMap { h in h.count >= p ? Self.successor(of: Array(h[..<p])) : h + [UInt8](repeating: 0, count: p - h.count) }
        var forwardFrom: [UInt8]? = firstPrefix
        var reverseBefore: [UInt8]? = pastPrefixes
        var reverseStarted = false
        while out.count < limit {
            // The next prefix group holding a live key: a one-record probe.
            let probe: PartitionKeyStream
            if reverse {
                if reverseStarted && reverseBefore == nil { break }
                probe = PartitionKeyStream(map: map, start: firstPrefix, end: reverseBefore, reverse: true, telemetry: nil)
                reverseStarted = true
            } else {
                guard let from = forwardFrom else { break }
                probe = PartitionKeyStream(map: map, start: from, end: pastPrefixes, reverse: false, telemetry: nil)
            }
            guard probe.isValid, probe.key.count >= p + 2 else { break }
            let prefix = Array(probe.key[..<p])
            mergeBuckets(table, map, prefix: prefix, lo: lo, hi: hi, reverse: reverse, limit: limit, into: &out)
            if reverse { reverseBefore = prefix } else { forwardFrom = Self.successor(of: prefix) }
            if reverse && prefix == [UInt8](repeating: 0, count: p) { break }
        }
        return out
    }

    /// The next P-byte string after `prefix` (nil past the last).
    static func successor(of prefix: [UInt8]) -> [UInt8]? {
        var s = prefix
        var i = s.count - 1
        while i >= 0 {
            if s[i] < 0xff {
                s[i] += 1
                return s
            }
            s[i] = 0
            i -= 1
        }
        return nil
    }

    /// Appends the records of one prefix group inside [lo, hi) — its buckets merged by the rest
    /// of the key — until `limit` records are out.
    private func mergeBuckets(_ table: Table, _ map: PartitionMap, prefix: [UInt8], lo: [UInt8], hi: [UInt8]?, reverse: Bool,
                              limit: Int, into out: inout [KeyValue]) {
        let layout = map.layout
        let p = layout.prefixLength
        let restLo: [UInt8] = lo.count >= p && lo[..<p].elementsEqual(prefix) ? Array(lo[p...]) : []
        let restHi: [UInt8]? = hi.flatMap { h in h.count >= p && h[..<p].elementsEqual(prefix) ? Array(h[p...]) : nil }
        let streams: [PartitionKeyStream] = (0..<layout.buckets).map { b in
            let bucket = prefix + PartitioningStrategy.bucketBytes(b)
            let end = restHi.map { bucket + $0 } ?? (prefix + PartitioningStrategy.bucketBytes(b + 1))
            return PartitionKeyStream(map: map, start: bucket + restLo, end: end, reverse: reverse, telemetry: telemetry)
        }
        let restOffset = p + 2
        while out.count < limit {
            var best = -1
            for i in streams.indices where streams[i].isValid {
                if best < 0 { best = i; continue }
                let c = compareKeys(UnsafeRawBufferPointer(rebasing: streams[i].key[restOffset...]),
                                    UnsafeRawBufferPointer(rebasing: streams[best].key[restOffset...]))
                if reverse ? c > 0 : c < 0 { best = i }
            }
            if best < 0 { break }
            out.append(KeyValue(key: layout.userKey(streams[best].key), value: Array(streams[best].value)))
            streams[best].advance()
        }
        for s in streams { s.finish() }
    }
}
