// The run list of a reshard target that shares its sources' files (`ReshardDataMode.shareFiles`)
// and spans several of them (a merge, or a move's target).
//
// Why: the target's runs were the sources' runs one source after the other, so a merge held the
// sum of its sources' run counts — and a merge back after a split held every shared file twice,
// as two views. Split and merge cycles of 1 GiB doubled the run count at each merge, past the
// count at which a flush merges every run as it writes (0.9-1.5 GiB, 5-8 s, there). Now views
// of one file that lie next to each other in it (no record between them) become one view
// again, so a split merged back has the runs it had before the split.
//
// Why any interleaving is correct: a source's runs hold only keys of its range, so a key is
// found in the runs of one source only, and the target keeps each source's runs in their order
// (newest first). Two views can be one run where both lists allow it: after the runs each
// source lists before its view and before the runs each lists after it. The lists are taken in
// key order, each interleaved with the runs of those before it, with the most joins that keep
// both orders (a longest common subsequence; run lists are short). That is the most joins for
// two sources (a merge, the usual case); with more, an order fixed between earlier lists can
// cost a join a later one would have allowed (a run more, never a wrong read).
// Pure: no I/O, generic over what a run is, so tests drive it with integers.
enum SharedRunOrder {
    /// One list from `lists` (each newest first, lists in key order) that keeps every list's
    /// order, joining `a` of an earlier list with `b` of a later one where `join(a, b)` gives
    /// a run.
    static func interleave<Run>(_ lists: [[Run]], join: (Run, Run) -> Run?) -> [Run] {
        guard var merged = lists.first else { return [] }
        for next in lists.dropFirst() { merged = interleave(merged, next, join: join) }
        return merged
    }

    /// `a` and `b` interleaved, with the most joins that keep both orders.
    static func interleave<Run>(_ a: [Run], _ b: [Run], join: (Run, Run) -> Run?) -> [Run] {
        let n = a.count, m = b.count
        if n == 0 { return b }
        if m == 0 { return a }
        // best[i][j]: the most joins among a[i...] and b[j...].
        var joined = [[Run?]](repeating: [Run?](repeating: nil, count: m), count: n)
        var best = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                joined[i][j] = join(a[i], b[j])
                best[i][j] = max(best[i + 1][j], best[i][j + 1], joined[i][j] == nil ? 0 : best[i + 1][j + 1] + 1)
            }
        }
        var out: [Run] = []
        out.reserveCapacity(n + m)
        var i = 0, j = 0
        while i < n && j < m {
            if let run = joined[i][j], best[i][j] == best[i + 1][j + 1] + 1 {
                out.append(run)
                i += 1
                j += 1
            } else if best[i + 1][j] >= best[i][j + 1] {
                out.append(a[i])
                i += 1
            } else {
                out.append(b[j])
                j += 1
            }
        }
        out += a[i...]
        out += b[j...]
        return out
    }
}
