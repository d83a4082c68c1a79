// The checks run after every restart:
//   1. recovery succeeds (it validates every referenced segment's checksums on the way);
//   2. the state is one the oracle allows (every acknowledged write present, no holes);
//   3. every table's partitions are sorted and cover the key space with no gap or overlap, and
//      every key is in exactly one partition (per-partition scans partition the full scan);
//   4. point lookups agree with scans, reverse scans with forward scans;
//   5. recovering again gives the same state and finds nothing to clean up (the first recovery
//      left no unreferenced file), and every file in seg/ is referenced;
//   6. a third open attaches the secondary index (finishing a build a crash interrupted) and
//      its stored entries are exactly those a recomputation from the recovered table gives.
@_spi(Testing) import Augur
import AugurSys

public struct CheckResult: Sendable {
    /// The state the first recovery produced (nil when it failed).
    public var state: StoreState?
    public var verdict: OracleVerdict?
    public var failures: [String] = []
    public var recoveryReport: RecoveryReport?
    /// Partition bounds per table after the first recovery.
    public var bounds: [String: PartitionBounds] = [:]
}

public enum StoreChecker {
    /// Opens the store twice and runs every check. `context` prefixes failure messages.
    @_spi(Testing) public static func check(path: String, fileSystem: any FileSystem, oracle: Oracle, context: String,
                             plantedBug: PlantedBug? = nil, expectedState: StoreState? = nil) -> CheckResult {
        var result = CheckResult()
        func fail(_ s: String) { result.failures.append("\(context): \(s)") }
        let options = harnessEngineOptions(fileSystem: fileSystem, plantedBug: plantedBug)
        // Where a file the second recovery removes came from (for its failure message).
        let inImage = Set((try? fileSystem.listDirectory(joinPath(path, "seg"))) ?? [])
        // First recovery.
        let first: Engine
        do { first = try Engine.open(at: path, options: options) } catch {
            fail("recovery failed: \(error)")
            return result
        }
        let referencedAtOpen = referencedFiles(first)
        result.recoveryReport = first.recoveryReport
        let state: StoreState
        do {
            state = try dumpState(first)
            result.state = state
            let verdict = oracle.verify(state)
            result.verdict = verdict
            if !verdict.matches { fail(verdict.detail + " (recovery: \(summarize(first.recoveryReport)))") }
            if let expectedState, expectedState != state {
                let d = expectedState.normalized.differences(from: state.normalized)
                fail("recovery is not deterministic: \(d.missingOrChanged.count) records differ from an earlier recovery of the same state, \(d.unexpected.count) extra")
            }
            for problem in structuralProblems(first, state: state, extraKeys: oracle.uncertainKeys) { fail(problem) }
            for name in try first.tableNames() { result.bounds[name] = try partitionBounds(first.table(named: name)) }
        } catch {
            fail("reading the recovered store failed: \(error)")
            try? first.close()
            return result
        }
        let referencedBeforeClose = referencedFiles(first)
        do { try first.close() } catch { fail("close after recovery failed: \(error)") }

        // Second recovery: nothing left to clean up, same state, every segment file referenced.
        let segFiles = ((try? fileSystem.listDirectory(joinPath(path, "seg"))) ?? []).sorted()
        let second: Engine
        do { second = try Engine.open(at: path, options: options) } catch {
            fail("second recovery failed: \(error)")
            return result
        }
        let r = second.recoveryReport
        if !r.filesRemoved.isEmpty {
            // Each file's history: in the crash image, referenced right after the first open,
            // referenced just before its close (a file referenced at open and not before close
            // was made obsolete by the first engine's own flushes, and close did not unlink it).
            let history = r.filesRemoved.prefix(4).map { f in
                let name = String(f.split(separator: "/").last ?? "")
                func mark(_ set: Set<String>) -> String { set.contains(name) ? "y" : "n" }
                return "\(f) [image \(mark(inImage)), open \(mark(referencedAtOpen)), close \(mark(referencedBeforeClose))]"
            }
            fail("the first recovery left unreferenced files behind (second recovery removed \(history.joined(separator: ", ")))")
        }
        if r.segmentsVerified != segFiles.count - r.filesRemoved.filter({ $0.hasPrefix("seg/") }).count {
            fail("seg/ holds \(segFiles.count) files but the manifest references \(r.segmentsVerified)")
        }
        if !r.reshardsRolledBack.isEmpty { fail("second recovery rolled back reshards \(r.reshardsRolledBack) the first left pending") }
        do {
            let again = try dumpState(second)
            if again != state {
                let d = state.normalized.differences(from: again.normalized)
                fail("recovering twice changed the state: \(d.missingOrChanged.count) records missing or changed, \(d.unexpected.count) extra")
            }
        } catch {
            fail("reading after the second recovery failed: \(error)")
        }
        do { try second.close() } catch { fail("close after the second recovery failed: \(error)") }

        // Third open: the secondary index against the recovered table.
        do {
            let third = try Engine.open(at: path, options: options)
            for problem in indexProblems(third) { fail(problem) }
            try third.close()
        } catch {
            fail("checking the secondary index failed: \(error)")
        }
        return result
    }

    /// Every segment file the engine's partitions reference (base and index runs), by name.
    static func referencedFiles(_ engine: Engine) -> Set<String> {
        var names = Set<String>()
        for name in (try? engine.tableNames()) ?? [] {
            for p in (try? engine.table(named: name).partitionStats()) ?? [] { names.formUnion(p.segmentFiles) }
        }
        return names
    }

    /// The indexed table's index (when it has one: a crash inside a rebuild may leave none)
    /// against a recomputation from its records: the stored entries, not only what a scan shows.
    public static func indexProblems(_ engine: Engine) -> [String] {
        let name = WorkloadGenerator.indexedTable, indexName = WorkloadGenerator.indexName
        do {
            guard try engine.tableNames().contains(name) else { return [] }
            let table = try engine.table(named: name)
            guard table.secondaryIndexNames.contains(indexName) else { return [] }
            let index = try table.attachSecondaryIndex(name: indexName, key: WorkloadGenerator.indexKey)
            try index.waitUntilReady()
            var want: [(ByteString, ByteString)] = []
            for kv in try table.scan() {
                if let ik = try WorkloadGenerator.indexKey(kv.value) { want.append((ByteString(ik), ByteString(kv.key))) }
            }
            want.sort { $0.0 != $1.0 ? $0.0.bytes.lexicographicallyPrecedes($1.0.bytes) : $0.1.bytes.lexicographicallyPrecedes($1.1.bytes) }
            let stored = try index.storedEntries().map { (ByteString($0.indexKey), ByteString($0.primaryKey)) }
            if stored.count != want.count || zip(stored, want).contains(where: { $0.0 != $1.0 || $0.1 != $1.1 }) {
                let i = (0..<min(stored.count, want.count)).first { stored[$0].0 != want[$0].0 || stored[$0].1 != want[$0].1 }
                    ?? min(stored.count, want.count)
                func show(_ e: [(ByteString, ByteString)], _ i: Int) -> String {
                    i < e.count ? "(\(formatKey(e[i].0.bytes)), \(formatKey(e[i].1.bytes)))" : "nothing"
                }
                return ["index \(indexName) of \(name): \(stored.count) stored entries, a recomputation gives \(want.count); first difference at \(i): stored \(show(stored, i)), expected \(show(want, i))"]
            }
            let scanned = try index.scan()
            if scanned.count != want.count {
                return ["index \(indexName) of \(name): a scan returns \(scanned.count) entries, the recomputation \(want.count)"]
            }
        } catch {
            return ["index check failed: \(error)"]
        }
        return []
    }

    /// Partition map coverage, one partition per key, lookups against scans.
    public static func structuralProblems(_ engine: Engine, state: StoreState, extraKeys: [String: Set<[UInt8]>] = [:]) -> [String] {
        var problems: [String] = []
        do {
            for name in try engine.tableNames() {
                let table = try engine.table(named: name)
                let stats = try table.partitionStats()
                if let p = coverage(stats) { problems.append("table \(name): \(p)") }
                let rows = state.records(name)
                // Every key in exactly one partition: per-partition scans partition the full scan
                // (in partition keys: a hashed table's bounds are bucket ‖ key).
                var perPartition = 0
                for p in stats {
                    let inRange = try table.scanPartitionKeys(range: KeyRange(lower: p.lowerBound, upper: p.upperBound))
                    perPartition += inRange.count
                    for kv in inRange where kv.key.lexicographicallyPrecedes(p.lowerBound) || p.upperBound.map({ !kv.key.lexicographicallyPrecedes($0) }) == true {
                        problems.append("table \(name): partition \(p.id) returned \(formatKey(kv.key)) outside its range")
                        break
                    }
                }
                if perPartition != rows.count {
                    problems.append("table \(name): per-partition scans return \(perPartition) records, the full scan \(rows.count)")
                }
                let reverse = try table.scan(reverse: true)
                if reverse.count != rows.count || reverse.contains(where: { rows[ByteString($0.key)] != ByteString($0.value) }) {
                    problems.append("table \(name): reverse scan (\(reverse.count) records) disagrees with the forward scan (\(rows.count))")
                } else if zip(reverse, reverse.dropFirst()).contains(where: { !$1.key.lexicographicallyPrecedes($0.key) }) {
                    problems.append("table \(name): reverse scan out of order")
                }
                // Point lookups of every key the scan returned and every key an uncertain
                // operation touched (the keys where allowed states differ).
                var bad = 0
                var example = ""
                for k in rows.keys.map(\.bytes) + Array(extraKeys[name] ?? []) {
                    let got = try table.get(k)
                    let want = rows[ByteString(k)]?.bytes
                    if !sameBytes(got, want) {
                        bad += 1
                        if example.isEmpty { example = "\(formatKey(k)): get \(describeValue(got)), scan \(describeValue(want))" }
                    }
                }
                if bad > 0 { problems.append("table \(name): \(bad) point lookups disagree with the scan, e.g. \(example)") }
            }
        } catch {
            problems.append("structural check failed: \(error)")
        }
        return problems
    }

    static func coverage(_ stats: [PartitionStats]) -> String? {
        guard let first = stats.first else { return "no partitions" }
        if !first.lowerBound.isEmpty { return "first partition starts at \(formatKey(first.lowerBound))" }
        for i in stats.indices.dropFirst() {
            guard let hi = stats[i - 1].upperBound else { return "partition \(stats[i - 1].id) is unbounded but not last" }
            if hi != stats[i].lowerBound { return "gap or overlap between \(formatKey(hi)) and \(formatKey(stats[i].lowerBound))" }
            if let u = stats[i].upperBound, !hi.lexicographicallyPrecedes(u) { return "partitions not sorted at \(formatKey(hi))" }
        }
        if stats.last!.upperBound != nil { return "last partition is bounded" }
        return nil
    }

    public static func summarize(_ r: RecoveryReport) -> String {
        var parts = ["\(r.partitions) partitions", "\(r.segmentsVerified) segments", "\(r.walFramesReplayed) WAL frames replayed"]
        if let t = r.walTornTail { parts.append("torn tail of \(t.bytesDropped) bytes cut") }
        if !r.filesRemoved.isEmpty { parts.append("\(r.filesRemoved.count) leftovers removed") }
        if !r.reshardsRolledBack.isEmpty { parts.append("\(r.reshardsRolledBack.count) reshards rolled back") }
        return parts.joined(separator: ", ")
    }
}
