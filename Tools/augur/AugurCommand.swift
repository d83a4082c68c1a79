import ArgumentParser
import AugurSys
import Logging

/// `augur`: the operator's command line. Each subcommand lives in its own file.
@main
struct AugurCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "augur",
        abstract: "Augur, a self-partitioning embedded storage engine: inspect, demonstrate and forecast.",
        subcommands: [DemoCommand.self, DemoWriterCommand.self, InfoCommand.self, GetCommand.self, ScanCommand.self, PutCommand.self, DeleteCommand.self, AdviseCommand.self, SetStrategyCommand.self, RecoverCommand.self, BackupCommand.self, RestoreCommand.self, StatsCommand.self, ForecastCommand.self, SimulateCommand.self, PlanCommand.self]
    )

    /// The engine's log lines go to standard error at `AUGUR_LOG_LEVEL` (default notice).
    static func main() {
        StandardStream.exitWithAnErrorWhenOutputIsLost()
        LoggingSystem.bootstrap(ToolLogging.standardError(defaultLevel: .notice))
        main(CommandLineArguments.forParsing)
    }
}
