// What every run reports: cycles, crash points hit (by name), states checked, faults
// injected, lost writes (must be 0) and the seed to replay.
@_spi(Testing) import Augur
import AugurSys

public struct RunSummary: Sendable {
    public var seed: UInt64
    public var label: String
    /// Child processes started and killed (SIGKILL from the parent or from a crash point).
    public var cycles = 0
    /// Of those, killed by the parent at a random time (M1).
    public var parentKills = 0
    /// Of those, killed by themselves at a crash point (M2).
    public var selfCrashes = 0
    /// Children that ran out of work or time before being killed (then closed cleanly).
    public var cleanExits = 0
    /// In-process engine sessions ended by a simulated power cut (M3).
    public var sessions = 0
    /// Where crashes (process kills or power cuts) happened, by crash-point name; "idle" and
    /// "timer" for cuts between operations and parent kills at a random moment.
    public var crashPointsHit: [String: Int] = [:]
    /// Recovered states checked against the oracle.
    public var statesChecked = 0
    /// Of those, states left by a power cut in the middle of a recovery.
    public var recoveryCrashStates = 0
    /// States in which the operation in flight at the crash was / was not applied.
    public var inFlightApplied = 0
    public var inFlightAbsent = 0
    /// Workload operations acknowledged.
    public var operationsAcknowledged = 0
    /// Fault-matrix cases run and faults actually injected.
    public var faultCases = 0
    public var faultsInjected = 0
    /// Acknowledged records missing or changed after recovery (must be 0).
    public var lostWrites = 0
    /// Recovered states with the in-flight batch partly applied (must be 0).
    public var partialBatches = 0
    /// Corruption-campaign cases run, and those that lost acknowledged writes silently.
    public var corruptionCases = 0
    public var silentLosses = 0
    /// The stop signal (SIGINT, SIGTERM) that ended the run early: the counts are partial.
    public var stoppedBy: Int32? = nil
    /// Every check that failed, with enough context to replay it.
    public var failures: [String] = []
    /// Wall-clock seconds.
    public var seconds: Double = 0

    public init(seed: UInt64, label: String) {
        self.seed = seed
        self.label = label
    }

    public var passed: Bool { failures.isEmpty && stoppedBy == nil }

    public mutating func hit(_ point: String, _ n: Int = 1) { crashPointsHit[point, default: 0] += n }

    public mutating func fail(_ message: String) { failures.append(message) }

    /// Counts one checked state: its failures and what its oracle verdict found.
    mutating func add(_ result: CheckResult) {
        statesChecked += 1
        failures += result.failures
        if let v = result.verdict {
            lostWrites += v.lostWrites
            if v.partialBatch != nil { partialBatches += 1 }
            if v.inFlightApplied == true { inFlightApplied += 1 }
            if v.inFlightApplied == false { inFlightAbsent += 1 }
        }
    }

    public mutating func merge(_ o: RunSummary) {
        cycles += o.cycles
        parentKills += o.parentKills
        selfCrashes += o.selfCrashes
        cleanExits += o.cleanExits
        sessions += o.sessions
        for (k, v) in o.crashPointsHit { crashPointsHit[k, default: 0] += v }
        statesChecked += o.statesChecked
        recoveryCrashStates += o.recoveryCrashStates
        inFlightApplied += o.inFlightApplied
        inFlightAbsent += o.inFlightAbsent
        operationsAcknowledged += o.operationsAcknowledged
        faultCases += o.faultCases
        faultsInjected += o.faultsInjected
        lostWrites += o.lostWrites
        partialBatches += o.partialBatches
        corruptionCases += o.corruptionCases
        silentLosses += o.silentLosses
        stoppedBy = stoppedBy ?? o.stoppedBy
        failures += o.failures
        seconds = max(seconds, o.seconds)
    }

    /// Crash points of the engine that no crash landed on (for the coverage line).
    public var crashPointsMissed: [String] {
        CrashPoint.allCases.map(\.rawValue).filter { crashPointsHit[$0] == nil }
    }

    public func render(allFailures: Bool = false) -> String {
        var lines: [String] = []
        let stopped = stoppedBy.map { " — STOPPED by \(ProcessSignal.name($0)), partial" } ?? ""
        lines.append("augur-crash \(label): \(passed ? "PASSED" : "FAILED") in \(String(format1(seconds))) s\(stopped) — replay with --seed \(seed)")
        lines.append("  cycles:            \(cycles) child processes killed (\(parentKills) by the parent at random times, \(selfCrashes) at crash points, \(cleanExits) exited cleanly)")
        if sessions > 0 { lines.append("  power-loss runs:   \(sessions) engine sessions cut by simulated power loss") }
        lines.append("  states checked:    \(statesChecked) (\(recoveryCrashStates) after a crash during recovery; in-flight op applied in \(inFlightApplied), absent in \(inFlightAbsent))")
        lines.append("  operations acked:  \(operationsAcknowledged)")
        lines.append("  faults injected:   \(faultsInjected) over \(faultCases) fault-matrix cases")
        let points = crashPointsHit.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.append("  crash points hit:  \(points.isEmpty ? "-" : points)")
        if !crashPointsHit.isEmpty && !crashPointsMissed.isEmpty {
            lines.append("  not hit:           \(crashPointsMissed.joined(separator: " "))")
        }
        if corruptionCases > 0 { lines.append("  corruption cases:  \(corruptionCases) (silent losses \(silentLosses))") }
        lines.append("  lost writes:       \(lostWrites)")
        lines.append("  partial batches:   \(partialBatches)")
        lines.append("  failures:          \(failures.count)")
        let shown = allFailures ? failures.count : 20
        for f in failures.prefix(shown) { lines.append("    - " + f) }
        if failures.count > shown { lines.append("    … \(failures.count - shown) more (--all-failures lists them)") }
        return lines.joined(separator: "\n")
    }
}

func format1(_ x: Double) -> String {
    let tenths = Int((x * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

/// Engine options for harness stores: tiny WAL segments, memtables and manifest limit, so
/// rolls, background flushes, run merges and manifest rotations happen every few operations.
@_spi(Testing) public func harnessEngineOptions(fileSystem: any FileSystem, plantedBug: PlantedBug? = nil,
                                 crashPoint: (@Sendable (CrashPoint) -> Void)? = nil) -> EngineOptions {
    var o = EngineOptions()
    o.fileSystem = fileSystem
    o.durability = .sync
    o.walSegmentSize = 64 << 10
    o.memtableFlushSize = 8 << 10
    o.maxRunsPerPartition = 3
    o.segmentIndexInterval = 4
    o.manifestRotationSize = 2 << 10
    // Telemetry writes an advisory file now and then; it has nothing to do with durability and
    // would only add noise (and fault-counter calls) to the runs.
    o.telemetry.enabled = false
    o.crashPoint = crashPoint
    o.plantedBug = plantedBug
    return o
}
