// M3: power loss through the crash-simulating file system, in process.
//
// A chain of engine sessions on an in-memory file system. In each session the workload runs
// while a hook on the engine's crash points takes power-cut images (`crashClone`) at a chosen
// occurrence of a targeted crash point (round robin over every point), at a random occurrence
// of any point, and between operations — unsynced data dropped, or unsynced writes torn at
// 512 B / 4 KiB, and unsynced directory entries undone. Each image is checked with the oracle
// snapshot taken at the same instant (`StoreChecker`). Every few states, an untouched copy of
// the image is recovered with power cut again *during* that recovery (and the flush that
// follows it); the result must recover to exactly the same state. The next session continues
// from an untouched copy of the last image, so its open is itself a recovery from a crash.
@_spi(Testing) import Augur
@_spi(Testing) import AugurSys
import Synchronization
import AugurStats

public struct PowerLossConfig: Sendable {
    public var seed: UInt64
    /// Crash states to check (each recovered twice).
    public var states: Int
    @_spi(Testing) public var plantedBug: PlantedBug? = nil
    /// Workload operations per session (the session usually ends earlier, at its last capture).
    public var opsPerSession = 4..<50
    /// Upper bound of a session's operations while a capture is still pending.
    public var maxOpsPerSession = 400
    /// One state in this many also gets a power cut during its own recovery.
    public var recoveryCrashEvery = 5
    /// Stop early after this many failures (a planted bug fails nearly every state).
    public var failureLimit = 25
    /// Progress lines on stderr (0: none).
    public var progressMilliseconds = 0

    @_spi(Testing) public init(seed: UInt64, states: Int, plantedBug: PlantedBug? = nil) {
        self.seed = seed
        self.states = states
        self.plantedBug = plantedBug
    }
}

/// Shared with the crash-point hook, which may fire on background threads.
/// Thread-safety: all mutable state is in the `state` Mutex; `fs` is immutable (and itself locked).
final class PowerCapture: @unchecked Sendable {
    struct Image {
        let fs: CrashSimulatingFileSystem
        let oracle: Oracle
        let point: String
        let tearing: CrashTearing
    }
    struct State {
        var oracle: Oracle
        var occurrences: [CrashPoint: Int] = [:]
        var total = 0
        var targets: [(point: CrashPoint?, occurrence: Int)] = []   // nil point: any point
        var images: [Image] = []
        var rng: SplitMix64
        var events: [String] = []
    }
    let fs: CrashSimulatingFileSystem
    let state: Mutex<State>

    init(fs: CrashSimulatingFileSystem, oracle: Oracle, seed: UInt64) {
        self.fs = fs
        state = Mutex(State(oracle: oracle, rng: SplitMix64(seed: seed)))
    }

    static func randomTearing(_ rng: inout SplitMix64) -> CrashTearing {
        switch rng.next() % 3 {
        case 0: .none
        case 1: .sectors(512)
        default: .sectors(4096)
        }
    }

    func hit(_ point: CrashPoint) {
        state.withLock { s in
            s.total += 1
            s.occurrences[point, default: 0] += 1
            let n = s.occurrences[point]!
            let fire = s.targets.contains { t in t.point == nil ? t.occurrence == s.total : (t.point == point && t.occurrence == n) }
            guard fire else { return }
            let tearing = PowerCapture.randomTearing(&s.rng)
            let image = fs.crashClone(tearing: tearing, seed: s.rng.next())
            s.images.append(Image(fs: image, oracle: s.oracle, point: point.rawValue, tearing: tearing))
            s.events.append("capture \(s.images.count) at \(point.rawValue) #\(n) (total \(s.total)) inFlight=\(s.oracle.inFlight.map { "\($0)" } ?? "-")")
        }
    }

    /// A power cut between operations.
    func cutNow(label: String) {
        state.withLock { s in
            let tearing = PowerCapture.randomTearing(&s.rng)
            s.images.append(Image(fs: fs.crashClone(tearing: tearing, seed: s.rng.next()), oracle: s.oracle, point: label, tearing: tearing))
        }
    }

    var done: Bool { state.withLock { $0.images.count >= $0.targets.count } }
}

public enum PowerLossRunner {
    static let path = "/db"

    /// Crash points in the order sessions target them: a cut inside a reshard is followed by a
    /// session that targets the rollback of that reshard during its recovery.
    static let targetOrder: [CrashPoint] = [
        .walAppend, .walSync, .flushSegmentWritten, .reshardPrepared, .reshardRolledBack, .flushManifestCommitted,
        .manifestAppend, .reshardCopied, .reshardRolledBack, .recoveryReplayed, .manifestRotated,
        .reshardTargetsSynced, .reshardRolledBack, .currentRenamed, .reshardDirectorySynced, .reshardRolledBack, .walRoll,
        .reshardCommitted, .obsoleteFileRemoved, .reshardMapSwapped, .indexBuildStarted, .indexBuildWritten,
        .indexBuildCommitted,
    ]
    /// Points that fire at most once per open, during recovery.
    static let oncePerOpen: Set<CrashPoint> = [.recoveryReplayed, .reshardRolledBack]

    public static func run(_ config: PowerLossConfig) -> RunSummary {
        let clock = ContinuousClock()
        let start = clock.now
        var summary = RunSummary(seed: config.seed, label: "power-loss" + (config.plantedBug.map { " (planted bug \($0.rawValue))" } ?? ""))
        var rng = SplitMix64(seed: config.seed)
        var generator = WorkloadGenerator(seed: config.seed ^ 0x5EED)
        var current = CrashSimulatingFileSystem()
        var oracle = Oracle()
        var expected: StoreState? = nil            // what the next session must recover
        let points = targetOrder
        var targetIndex = Int(config.seed % UInt64(points.count))

        var progress = ProgressReporter(label: "power-loss", intervalMilliseconds: config.progressMilliseconds)
        while summary.statesChecked < config.states && summary.failures.count < config.failureLimit {
            if let sig = stopRequested {
                summary.stoppedBy = sig
                break
            }
            progress.tick(done: summary.statesChecked, of: config.states, unit: "states", failures: summary.failures.count,
                          extra: "\(summary.sessions) sessions")
            summary.sessions += 1
            let session = summary.sessions
            let capture = PowerCapture(fs: current, oracle: oracle, seed: rng.next())
            let target = points[targetIndex % points.count]
            capture.state.withLock { s in
                // A targeted point (its 1st–3rd occurrence; recovery's points fire once per
                // open) and, in half the sessions, a random occurrence of any point.
                s.targets.append((target, Self.oncePerOpen.contains(target) ? 1 : 1 + Int(rng.next() % 3)))
                if rng.next() % 2 == 0 { s.targets.append((nil, 1 + Int(rng.next() % 120))) }
            }
            targetIndex += 1
            let options = harnessEngineOptions(fileSystem: current, plantedBug: config.plantedBug,
                                               crashPoint: { capture.hit($0) })
            let context = "seed \(config.seed) session \(session)"
            let engine: Engine
            do { engine = try Engine.open(at: path, options: options) } catch {
                summary.fail("\(context): opening the store left by the previous session failed: \(error)")
                current = CrashSimulatingFileSystem()
                oracle = Oracle()
                expected = nil
                continue
            }
            let executor = WorkloadExecutor(engine: engine)
            do {
                let recovered = try dumpState(engine)
                if let expected, recovered != expected {
                    summary.fail("\(context): recovery is not deterministic: the session recovered \(recovered), the check recovered \(expected) from the same image")
                }
                try executor.prepareTables()
            } catch {
                summary.fail("\(context): preparing the session failed: \(error)")
            }
            if Self.oncePerOpen.contains(target) {
                // Not reached during this open (no reshard was pending): nothing left to wait for.
                capture.state.withLock { s in
                    if !s.images.contains(where: { $0.point == target.rawValue }) { s.targets.removeAll { $0.point == target } }
                }
            }
            // Run until every capture is taken (a few operations for most points; a WAL roll
            // needs a segment's worth of writes); with nothing to wait for, a random number of
            // operations followed by a cut between operations.
            let pending = capture.state.withLock { !$0.targets.isEmpty }
            let budget = pending ? config.maxOpsPerSession : Int.random(in: config.opsPerSession, using: &rng)
            for _ in 0..<budget {
                if pending && capture.done { break }
                let op: Op
                do { op = generator.next(partitions: try executor.partitions()) } catch {
                    summary.fail("\(context): reading partitions failed: \(error)")
                    break
                }
                capture.state.withLock { $0.oracle.begin(op); $0.events.append("begin \(generator.opNumber) \(op)") }
                do throws(AugurError) {
                    try executor.execute(op)
                    capture.state.withLock { $0.oracle.acknowledge(); $0.events.append("ack") }
                    if op.isDataOp { summary.operationsAcknowledged += 1 }
                } catch {
                    capture.state.withLock { $0.oracle.fail() }
                    if !(error.isPlanRejection && !op.isDataOp) {
                        summary.fail("\(context): \(op) failed without any injected fault: \(error)")
                    }
                }
            }
            if !capture.done || !pending { capture.cutNow(label: "idle") }
            try? engine.close()
            let images = capture.state.withLock { $0.images }
            // Continue from the targeted image (after a cut inside a reshard, the next open rolls it back).
            let chainFrom = images.lastIndex { $0.point == target.rawValue } ?? images.count - 1

            var next: (fs: CrashSimulatingFileSystem, state: StoreState)? = nil
            for (i, image) in images.enumerated() {
                let ctx = "\(context) image \(i + 1) (power cut at \(image.point), tearing \(describe(image.tearing)))"
                let pristine = image.fs.crashClone()         // an exact copy: everything in an image is durable
                let result = StoreChecker.check(path: path, fileSystem: image.fs, oracle: image.oracle, context: ctx)
                record(result, point: image.point, into: &summary)
                if !result.failures.isEmpty, Environment.value("AUGUR_CRASH_DEBUG") != nil {
                    print("DEBUG \(ctx)\n  " + capture.state.withLock { $0.events }.joined(separator: "\n  "))
                }
                guard let state = result.state else { continue }
                if summary.statesChecked % config.recoveryCrashEvery == 0 {
                    recoveryCrash(pristine.crashClone(), state: state, oracle: image.oracle, context: ctx, rng: &rng,
                                  bug: config.plantedBug, into: &summary)
                }
                if i == chainFrom { next = (pristine, state) }
            }
            if let next {
                current = next.fs
                oracle.settle(on: next.state)
                expected = next.state
            } else {
                // Nothing recoverable to continue from (reported above): start a new store.
                current = CrashSimulatingFileSystem()
                oracle = Oracle()
                expected = nil
            }
        }
        summary.seconds = Double((clock.now - start).components.seconds) + Double((clock.now - start).components.attoseconds) / 1e18
        return summary
    }

    static func describe(_ t: CrashTearing) -> String {
        switch t {
        case .none: "none"
        case .sectors(let n): "\(n) B sectors"
        }
    }

    static func record(_ result: CheckResult, point: String, into summary: inout RunSummary) {
        summary.hit(point)
        summary.add(result)
    }

    /// Recovers an untouched copy of a crash image with a power cut at the j-th crash point of
    /// that recovery (and of the flush of the replayed data after it); the image left behind
    /// must recover to exactly `state`.
    static func recoveryCrash(_ fs: CrashSimulatingFileSystem, state: StoreState, oracle: Oracle, context: String,
                              rng: inout SplitMix64, bug: PlantedBug?, into summary: inout RunSummary) {
        let capture = PowerCapture(fs: fs, oracle: oracle, seed: rng.next())
        capture.state.withLock { $0.targets = [(nil, 1 + Int(rng.next() % 8))] }
        let options = harnessEngineOptions(fileSystem: fs, plantedBug: bug, crashPoint: { capture.hit($0) })
        do {
            let engine = try Engine.open(at: path, options: options)
            try engine.flush()
            try engine.close()
        } catch {
            summary.fail("\(context): recovering a copy of the image failed: \(error)")
            return
        }
        guard let image = capture.state.withLock({ $0.images.first }) else { return }
        let ctx = "\(context), then power cut during recovery at \(image.point) (tearing \(describe(image.tearing)))"
        let result = StoreChecker.check(path: path, fileSystem: image.fs, oracle: oracle, context: ctx, expectedState: state)
        record(result, point: image.point, into: &summary)
        summary.recoveryCrashStates += 1
    }
}
