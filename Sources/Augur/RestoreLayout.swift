// The partition layout a restore gives a table: the partition advisor's recommendation from the
// backup's load history (AugurPlanner's PartitionAdvisor), or the user's override, applied as
// one reshape through the ordinary reshard executor (so it is crash-safe like any reshard), and
// logged to decisions.jsonl — an override beside the recommendation it overrode, with both
// predictions.
import AugurPlanner
import AugurSys

extension Engine {
    /// Most keys sampled from a table's data for cut keys inside a history range.
    static let restoreSampleKeys = 4096

    func applyRestoreLayout(table name: String, layout: RestoreLayout) throws(AugurError) -> RestoreSummary.TableLayout {
        let table = try self.table(named: name)
        // The replayed WAL into runs, so the sample keys see every record.
        try flush()
        let partitions = table.map.partitions
        let backedUpCuts = partitions.dropFirst().map(\.lowerBound)
        let budget = options.partitioning.capacity.costBudget ?? CapacityModel.measured().costBudget!
        let targetFill: Double
        if case .predictive(let p) = options.partitioning.policy { targetFill = p.targetFill } else { targetFill = PredictiveOptions().targetFill }
        let samples = dataSampleKeys(partitions)
        var result = RestoreSummary.TableLayout(table: name, partitionsBackedUp: partitions.count, partitionsRecommended: partitions.count,
                                                partitions: partitions.count, recommendedPeakUtilization: nil, appliedPeakUtilization: nil,
                                                reasons: [])
        if samples.isEmpty {
            result.reasons.append("the table holds no data: kept the backed-up layout")
            return result
        }
        let ranges = historyRanges(table: name, samples: samples, note: &result.reasons)
        var recommended: PartitionAdvice? = nil
        if let ranges {
            do throws(PartitionAdvisorError) {
                recommended = try PartitionAdvisor.advise(ranges: ranges, costBudget: budget, targetFill: targetFill)
            } catch {
                result.reasons.append("the advisor refused the saved history: \(error)")
            }
        }
        if let recommended {
            result.partitionsRecommended = recommended.partitions
            result.recommendedPeakUtilization = recommended.predictedUtilization.max()
            result.reasons += recommended.reasons
        }
        let cuts: [[UInt8]]
        var overrideAdvice: PartitionAdvice? = nil
        switch layout {
        case .asBackedUp:
            cuts = backedUpCuts
        case .auto:
            cuts = recommended?.cuts ?? backedUpCuts
            if recommended == nil { result.reasons.append("kept the backed-up layout of \(partitions.count) partitions") }
        case .partitions(let n):
            // Without a history, equal shares of the data: one range weighted uniformly.
            let weighted = ranges ?? [AdvisorRange(range: .all, peakCost: budget, peakOps: 0, sampleKeys: samples)]
            do throws(PartitionAdvisorError) {
                overrideAdvice = try PartitionAdvisor.layout(ranges: weighted, partitions: n, costBudget: budget)
            } catch {
                throw .invalidOption(name: "partitions", value: String(n), reason: "\(error)")
            }
            cuts = overrideAdvice!.cuts
            if ranges != nil { result.appliedPeakUtilization = overrideAdvice!.predictedUtilization.max() }
            if overrideAdvice!.partitions < n {
                result.reasons.append("asked for \(n) partitions; the data allows \(overrideAdvice!.partitions) non-empty ones")
            }
        }
        if overrideAdvice == nil, let ranges {
            result.appliedPeakUtilization = PartitionAdvisor.predictedUtilization(ranges: ranges, cuts: cuts, costBudget: budget).max()
        }
        if cuts != backedUpCuts {
            _ = try table.requestResharding(.reshape(first: [], count: partitions.count, boundaries: cuts)).wait()
        }
        result.partitions = table.map.partitions.count
        logRestoreDecisions(table: name, layout: layout, recommended: recommended, applied: overrideAdvice, result: result)
        return result
    }

    /// The table's saved load history as advisor ranges (contiguous, covering the key space),
    /// or nil with a note saying why there is none.
    private func historyRanges(table name: String, samples: [[UInt8]], note: inout [String]) -> [AdvisorRange]? {
        guard let read = readLoadHistory() else {
            note.append("no load history in the backup")
            return nil
        }
        let file: LoadHistoryFile
        switch read {
        case .success(let f): file = f
        case .failure(let e): note.append("\(e)"); return nil
        }
        guard case .success(let byTable) = file.histories(), let histories = byTable[name], !histories.isEmpty else {
            note.append("no load history for table \(name)")
            return nil
        }
        let sorted = histories.sorted { $0.range.lower.lexicographicallyPrecedes($1.range.lower) }
        var expectedLower: [UInt8]? = []
        for h in sorted {
            guard let lower = expectedLower, h.range.lower == lower else {
                note.append("the saved history's ranges do not cover the key space")
                return nil
            }
            expectedLower = h.range.upper
        }
        guard expectedLower == nil else {
            note.append("the saved history's ranges do not cover the key space")
            return nil
        }
        return sorted.map { h in
            AdvisorRange(history: h, sampleKeys: samples.filter { h.range.contains($0) })
        }
    }

    /// Sorted distinct keys where the table's data lies: every run's sparse-index keys inside
    /// its partition, thinned to `restoreSampleKeys`.
    private func dataSampleKeys(_ partitions: [Partition]) -> [[UInt8]] {
        var keys: [[UInt8]] = []
        for p in partitions {
            for run in p.view.runs where run.indexCount > 0 {
                let stride = max(1, run.indexCount / Self.restoreSampleKeys)
                for i in Swift.stride(from: 0, to: run.indexCount, by: stride) {
                    let key = run.record(at: run.indexEntry(i)).key
                    if p.contains(key) { keys.append(Array(key)) }
                }
            }
        }
        keys.sort { $0.lexicographicallyPrecedes($1) }
        var distinct: [[UInt8]] = []
        for k in keys where distinct.last != k { distinct.append(k) }
        guard distinct.count > Self.restoreSampleKeys else { return distinct }
        let step = Double(distinct.count) / Double(Self.restoreSampleKeys)
        return (0..<Self.restoreSampleKeys).map { distinct[Int(Double($0) * step)] }
    }

    private func logRestoreDecisions(table: String, layout: RestoreLayout, recommended: PartitionAdvice?,
                                     applied: PartitionAdvice?, result: RestoreSummary.TableLayout) {
        guard options.partitioning.logDecisions else { return }
        let now = options.clock.now()
        func fmt(_ u: Double?) -> String { u.map { String(Int(($0 * 100).rounded())) + " %" } ?? "n/a" }
        var lines: [PartitioningDecision] = []
        let overridden: Bool = { if case .partitions = layout { return true } else { return false } }()
        if let recommended {
            lines.append(PartitioningDecision(
                time: now, table: table, policy: "restore-advisor", action: "restore-layout", kind: "recommended",
                partitions: [], reason: (overridden ? "overridden by --partitions \(result.partitions); " : "")
                    + "\(recommended.partitions) partitions, busiest predicted at \(fmt(recommended.predictedUtilization.max())) of capacity: "
                    + recommended.reasons.joined(separator: "; "),
                reasonCode: overridden ? "restore-recommendation-overridden" : "restore-recommendation",
                score: recommended.predictedUtilization.max() ?? 0, predictedUtilization: recommended.predictedUtilization,
                bytesToMove: 0, executed: !overridden && layout == .auto, error: nil))
        }
        if let applied {
            lines.append(PartitioningDecision(
                time: now, table: table, policy: "restore-override", action: "restore-layout", kind: "override",
                partitions: [], reason: "user asked for \(applied.partitions) partitions, busiest predicted at "
                    + "\(fmt(result.appliedPeakUtilization)); the advisor recommended "
                    + (recommended.map { "\($0.partitions), busiest at \(fmt($0.predictedUtilization.max()))" } ?? "nothing (no usable history)"),
                reasonCode: "restore-override", score: result.appliedPeakUtilization ?? 0,
                predictedUtilization: result.appliedPeakUtilization == nil ? [] : applied.predictedUtilization,
                bytesToMove: 0, executed: true, error: nil))
        }
        if !lines.isEmpty { appendDecisions(lines) }
    }
}
