import AugurLoadCLI
import AugurSys
import Logging

// The engine's log lines go to standard error at `AUGUR_LOG_LEVEL` (default notice).
StandardStream.exitWithAnErrorWhenOutputIsLost()
LoggingSystem.bootstrap(ToolLogging.standardError(defaultLevel: .notice))
AugurLoad.main(CommandLineArguments.forParsing)
