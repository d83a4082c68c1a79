// Captures what the library logs through swift-log, for tests. No `LoggingSystem.bootstrap`
// (process-wide, once): each Logger is made with this handler directly and handed to the code
// under test (`EngineOptions.makeLogger`, `BuildWorkerPool(logger:)`, `RangeCopier.setLogger`).
import Logging
import Synchronization

/// Every record logged through the loggers it made, in order. Thread-safe (a mutex).
public final class LogCapture: Sendable {
    public struct Record: Sendable, CustomStringConvertible {
        public var label: String
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]

        public var description: String {
            "[\(label)] \(level): \(message)" + (metadata.isEmpty ? "" : " \(metadata.sorted { $0.key < $1.key })")
        }
    }

    private let records = Mutex<[Record]>([])

    public init() {}

    /// A logger labelled `label` whose records land here (every level, trace included).
    public func logger(label: String) -> Logger {
        Logger(label: label) { label in Handler(label: label, capture: self) }
    }

    /// A logger that drops everything.
    public static let silent = Logger(label: "augur.test.silent") { _ in SwiftLogNoOpLogHandler() }

    /// `logger(label:)` as a function value (`EngineOptions.makeLogger`).
    public var makeLogger: @Sendable (String) -> Logger { { [self] label in logger(label: label) } }

    public var all: [Record] { records.withLock { $0 } }

    /// Messages logged under `label` (all labels when nil).
    public func messages(label: String? = nil) -> [String] {
        all.filter { label == nil || $0.label == label }.map(\.message)
    }

    fileprivate func append(_ r: Record) { records.withLock { $0.append(r) } }

    struct Handler: LogHandler {
        let label: String
        let capture: LogCapture
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.append(Record(label: label, level: event.level, message: event.message.description,
                                  metadata: merged.mapValues(\.description)))
        }
    }
}
