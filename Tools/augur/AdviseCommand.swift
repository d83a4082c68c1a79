import ArgumentParser
import Augur
import Foundation

/// `augur advise --dir DIR [--table T]`: the partitioning strategy the advisor recommends for
/// each table, from the workload the store last saved in LOADHISTORY (rates, scan lengths, key
/// samples), with every strategy's score and the reasons. Opens the store read-only, so the
/// application must have closed it; a running application asks `Engine.adviseStrategy`.
struct AdviseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "advise", abstract: "Recommend a partitioning strategy (range, hash, composite) per table from its recorded workload.")

    @Option(help: "Store directory.")
    var dir: String

    @Option(help: "Only this table.")
    var table: String?

    func validate() throws { try FlagLimits.checkPath("dir", dir) }

    func run() throws {
        let engine = try InfoCommand.openReadOnly(dir)
        defer { try? engine.close() }
        let names = try table.map { [$0] } ?? engine.tableNames()
        if names.isEmpty { throw CommandFailure("\(dir) holds no table") }
        var advised = 0
        for name in names {
            let t = try engine.table(named: name)
            let advice: StrategyAdvice
            do { advice = try engine.adviseStrategy(table: name) } catch {
                if case .noWorkloadRecorded = error {
                    print("table \(quoted(table: name)) (\(t.strategy)): no recorded workload to advise from — run its workload with telemetry on, then close the store")
                    continue
                }
                throw error
            }
            advised += 1
            let verdict = advice.strategy == t.strategy ? "keep \(t.strategy)" : "recommend \(advice.strategy) (now \(t.strategy))"
            print("table \(quoted(table: name)): \(verdict)")
            print("  scores: " + advice.scores.map { String(format: "%@ %.2f", $0.strategy.description, $0.score) }.joined(separator: ", "))
            for r in advice.reasons { print("  - \(r)") }
        }
        if advised == 0, table != nil { throw ExitCode(2) }
    }
}
