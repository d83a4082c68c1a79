import ArgumentParser
import Foundation

/// `augur plan --dir DIR`: the partitioning controller's latest plan for every table — actions
/// with their reasons and predicted effect, findings (hot keys, deferred merges), and each
/// partition's score. A running engine rewrites `<dir>/PLAN.txt` every controller tick, so this
/// reads a store that another process has open.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Show the current partitioning plan with reasons.")

    @Option(help: "Store directory.")
    var dir: String

    func validate() throws { try FlagLimits.checkPath("dir", dir) }

    func run() throws {
        let path = (dir as NSString).appendingPathComponent("PLAN.txt")
        guard let text = try StoreFile.text("PLAN.txt", in: dir) else {
            throw CommandFailure("no plan at \(path): the controller has not run (enable a policy or shadow mode in EngineOptions.partitioning)")
        }
        print(text, terminator: "")
    }
}
