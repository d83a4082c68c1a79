// The engine's side of the strategy advisor (issue 18, part 1): a table's StrategyWorkload —
// operation rates from the telemetry's finest window (5 minutes by default) summed over the
// table's partitions, scan lengths and key samples from its TableWorkloadSampler — and the
// advice for it. The workload is saved in LOADHISTORY with the load history, so `augur advise`
// on a closed store advises from what the store last saw.
import AugurPlanner
import AugurStats
import AugurSys

public typealias StrategyAdvice = AugurPlanner.StrategyAdvice
public typealias StrategyWorkload = AugurPlanner.StrategyWorkload
public typealias StrategyCostModel = AugurPlanner.StrategyCostModel

extension Engine {
    /// What the strategy advisor reads about `table` now: the last window's rates (or, before
    /// any operation since open, the rates LOADHISTORY saved), scan lengths since the store was
    /// created (as far as LOADHISTORY carried them), and the newest sampled keys.
    public func strategyWorkload(table name: String) throws(AugurError) -> StrategyWorkload {
        let t = try table(named: name)
        return strategyWorkload(t).workload
    }

    /// The strategy the advisor recommends for `table`, with every strategy's score and the
    /// reasons. Throws `noWorkloadRecorded` before the table has seen an operation.
    public func adviseStrategy(table name: String, costs: StrategyCostModel = StrategyCostModel()) throws(AugurError) -> StrategyAdvice {
        let w = try strategyWorkload(table: name)
        do {
            return try StrategyAdvisor.advise(w, costs: costs)
        } catch {
            switch error {
            case .noWorkload: throw .noWorkloadRecorded(table: name)
            case .invalidFigure(let figure, let value):
                throw .invalidOption(name: figure, value: String(value), reason: "must be finite and not negative")
            }
        }
    }

    func strategyWorkload(_ t: Table) -> (workload: StrategyWorkload, saved: LoadHistoryFile.Workload) {
        var reads = 0.0, scans = 0.0, writes = 0.0
        if let telemetry {
            let now = telemetry.clock.now()
            for p in t.map.partitions {
                guard let rates = telemetry.collector.workload(partition: p.id, now: now)?.windows.first else { continue }
                // Reads and writes from the window's totals (exact where the counters fed it);
                // the split of reads into point reads and scans from the sampled types.
                let o = rates.operationsPerSecond
                let sampledReads = o.retrieve + o.scan
                let scanShare = sampledReads > 0 ? o.scan / sampledReads : 0
                reads += rates.readsPerSecond * (1 - scanShare)
                scans += rates.readsPerSecond * scanShare
                writes += rates.writesPerSecond
            }
        }
        if reads + scans + writes == 0, let saved = t.sampler.savedRates {
            (reads, scans, writes) = saved
        }
        let scanCount = t.sampler.scans.load(ordering: .relaxed)
        let scanned = t.sampler.scannedRecords.load(ordering: .relaxed)
        let w = StrategyWorkload(pointReadsPerSecond: reads, scansPerSecond: scans, writesPerSecond: writes,
                                 meanScanLength: scanCount == 0 ? 0 : Double(scanned) / Double(scanCount),
                                 writeKeys: t.sampler.sampledWriteKeys, scanSpans: t.sampler.sampledScanSpans)
        return (w, LoadHistoryFile.Workload(w, scans: scanCount, scannedRecords: scanned))
    }

    /// Seeds each table's sampler from LOADHISTORY (at open). A malformed workload entry is
    /// ignored: it is advisory, like the rest of the file.
    func restoreWorkloads(_ file: Result<LoadHistoryFile, LoadHistoryError>?) {
        guard case .success(let f)? = file, f.version == LoadHistoryFile.version else { return }
        for saved in f.tables {
            guard let w = saved.workload, let parsed = w.parsed, let table = tables.named(saved.name) else { continue }
            table.sampler.restore(writeKeys: parsed.keys, scanSpans: parsed.spans, scans: w.scans, scannedRecords: w.scannedRecords,
                                  rates: (w.pointReadsPerSecond, w.scansPerSecond, w.writesPerSecond))
        }
    }
}
