// How the command-line tools (augur, augur-load, augur-crash) log: swift-log's standard-error
// handler at the level `AUGUR_LOG_LEVEL` names. The library itself never bootstraps swift-log;
// each tool's `main` does, with this.
import Logging

package enum ToolLogging {
    /// The environment variable naming the level: trace, debug, info, notice, warning, error or
    /// critical.
    package static let levelVariable = "AUGUR_LOG_LEVEL"

    /// A `LoggingSystem.bootstrap` factory: standard error at `AUGUR_LOG_LEVEL`, or at
    /// `defaultLevel` when it is unset or not a level.
    package static func standardError(defaultLevel: Logger.Level) -> @Sendable (String) -> any LogHandler {
        let level = Environment.value(levelVariable).flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? defaultLevel
        return { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
