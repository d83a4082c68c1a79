// Where a partition's stored data lies in its key range: keys that cut it, with the data
// before each, taken from every run. Runs often cover different parts of a range (ingestion in
// key order leaves one run per flush at the tail; a split may flush one side only), so the
// largest run's distribution is not the partition's (taking it, the index-build planner once
// cut a partition where one side held 80 % of the data). Used by that planner and by the
// controller's median splits (an oversize partition, a split whose planned cuts have no data).

import AugurPlanner

extension PartitionView {
    /// Up to `limit` keys strictly inside `(lower, upper)`, spread evenly over the runs' data,
    /// each with the bytes (exact, by seeking every run) and records (pro rata per run) before it.
    func dataCuts(lower: [UInt8], upper: [UInt8]?, limit: Int = 64) -> [CutCandidate] {
        let total = runs.reduce(0) { $0 + $1.dataLength }
        guard total > 0 else { return [] }
        var keys: [[UInt8]] = []
        for r in runs where r.indexCount > 1 && r.dataLength > 0 {
            let want = min(limit, r.indexCount - 1)
            for j in 1...want {
                let key = Array(r.record(at: r.indexEntry(j * (r.indexCount - 1) / want)).key)
                if compareKeys(key, lower) <= 0 { continue }
                if let upper, compareKeys(key, upper) >= 0 { continue }
                keys.append(key)
            }
        }
        keys.sort { compareKeys($0, $1) < 0 }
        var all: [CutCandidate] = []
        for key in keys where all.last.map({ compareKeys($0.key, key) < 0 }) ?? true {
            var bytesBefore = 0
            var recordsBefore = 0.0
            key.withUnsafeBytes { k in
                for r in runs where r.dataLength > 0 {
                    let offset = r.offset(atLeast: k)
                    bytesBefore += offset
                    recordsBefore += Double(r.recordCount) * Double(offset) / Double(r.dataLength)
                }
            }
            all.append(CutCandidate(key: key, bytesBefore: UInt64(bytesBefore), recordsBefore: UInt64(recordsBefore)))
        }
        guard all.count > limit else { return all }
        // Thin to `limit`, evenly by data: the first candidate at or past each quantile.
        var out: [CutCandidate] = []
        var i = 0
        for j in 1...limit {
            let target = UInt64(total) * UInt64(j) / UInt64(limit + 1)
            while i < all.count - 1 && all[i].bytesBefore < target { i += 1 }
            if out.last.map({ compareKeys($0.key, all[i].key) < 0 }) ?? true { out.append(all[i]) }
        }
        return out
    }

    /// The key that halves the runs' data by bytes, strictly inside `(lower, upper)` (nil when
    /// the runs have no such key in their sparse indexes).
    func dataMedianKey(lower: [UInt8], upper: [UInt8]?) -> [UInt8]? {
        let cuts = dataCuts(lower: lower, upper: upper)
        let half = Double(runs.reduce(0) { $0 + $1.dataLength }) / 2
        return cuts.min { abs(Double($0.bytesBefore) - half) < abs(Double($1.bytesBefore) - half) }?.key
    }
}
