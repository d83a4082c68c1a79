// Which of a partition's runs a flush merges with the memtable it writes.
//
// A partition holds at most `maxRunsPerPartition` runs (newest first) so that a get probes a
// bounded number of them. Until 2026-12 a flush that would exceed the bound merged the memtable
// with *every* run: the partition's whole data was rewritten every `maxRuns` flushes, so a
// partition built from N flushes wrote each byte about N / (2 · maxRuns) times (10 M random
// puts: 3.8 GiB of merges for 1.3 GiB of flushes, write amplification 5.4 against RocksDB's
// 3.8; docs/PERFORMANCE.md, issue 19).
//
// Now a forced merge takes the newest `j` runs for the `j` that writes the fewest bytes per run
// it removes: (flush + the j newest runs' bytes) / j, over every j that keeps the bound. Small
// young runs are merged together often and the large old ones rarely — the shape of a tiered
// LSM, with the run count still bounded. Offline, with unit-sized flushes, it stays within
// 5–15 % of the optimal merge schedule for the same bound (a dynamic program over every
// schedule: 2.20 against 2.10 bytes written per byte flushed at 20 flushes and 4 runs, where
// merging everything writes 3.00). Merging a prefix of the newest runs keeps the runs ordered
// by age, so a newer version always lies in a newer run; tombstones survive unless the merge
// reaches the oldest run.
//
// Pure: sizes in, a count out. The engine adds the dead-file rule (a run slicing a mostly
// unviewed shared file is rewritten to free the file) on top.
@_spi(Testing) public enum RunMergePolicy {
    /// How many of the newest runs a flush of about `flushBytes` merges so that at most
    /// `maxRuns` runs remain (`0`: write the flush as a run of its own). `runBytes` lists the
    /// partition's runs newest first. `maxRuns` must be at least 1.
    public static func newestRunsToMerge(flushBytes: Int, runBytes: [Int], maxRuns: Int) -> Int {
        let count = runBytes.count
        let maxRuns = max(maxRuns, 1)
        if count + 1 <= maxRuns { return 0 }
        // Merging j runs leaves count − j + 1: the bound needs j ≥ count + 1 − maxRuns.
        let least = count + 1 - maxRuns
        var merged = Double(max(flushBytes, 0))
        for r in runBytes.prefix(least) { merged += Double(max(r, 0)) }
        var best = least
        var bestRate = merged / Double(least)
        var j = least
        while j < count {
            merged += Double(max(runBytes[j], 0))
            j += 1
            // Strictly cheaper only: with equal rates the smaller merge is the one that
            // leaves the older, larger runs alone (measured on unit-sized flushes, ties
            // resolved toward the larger merge wrote 3.00 instead of 2.20 per byte at 20
            // flushes and 4 runs).
            if merged / Double(j) < bestRate {
                best = j
                bestRate = merged / Double(j)
            }
        }
        return best
    }
}
