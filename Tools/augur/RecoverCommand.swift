import ArgumentParser
import Augur

/// `augur recover --dir DIR [--mode M]`: opens a store for writing with the chosen WAL
/// recovery mode, prints what recovery did, and closes it. The way to keep what is intact
/// after `augur info` reported corruption: `--mode point-in-time` replays up to the first
/// corruption and moves the rest to DIR/lost/ (docs/FORMAT.md, "Recovery").
struct RecoverCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Open a store for writing with a WAL recovery mode, and report what recovery did.",
        discussion: "Modes: \(WALRecoveryMode.allCases.map(\.rawValue).joined(separator: ", ")). point-in-time may discard acknowledged writes after a corruption (they are kept in DIR/lost/).")

    @Option(help: "Store directory.")
    var dir: String

    @Option(help: "WAL recovery mode: \(WALRecoveryMode.allCases.map(\.rawValue).joined(separator: ", ")).")
    var mode: String = WALRecoveryMode.tolerateTornTail.rawValue

    func validate() throws {
        try FlagLimits.checkPath("dir", dir)
        guard WALRecoveryMode(rawValue: mode) != nil else {
            throw ValidationError("unknown --mode '\(mode)'; known: \(WALRecoveryMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        var options = EngineOptions()
        options.createIfMissing = false
        options.walRecovery = WALRecoveryMode(rawValue: mode)!
        options.telemetry.enabled = false
        let engine: Engine
        do { engine = try Engine.open(at: dir, options: options) } catch {
            if options.walRecovery == .pointInTime { throw CommandFailure("cannot recover \(dir) (\(mode)): \(error)") }
            throw InfoCommand.openFailure("cannot recover \(dir) (\(mode))", dir, error)
        }
        let r = engine.recoveryReport
        print("recovered \(dir) (\(mode)): last sequence \(r.lastSequence), \(r.walFramesReplayed) WAL frames replayed")
        let lines = RecoveryReportLines.describe(r)
        for line in lines { print(line) }
        if lines.isEmpty { print("nothing was dropped or set aside") }
        do { try engine.close() } catch { throw CommandFailure("close failed: \(error)") }
    }
}
