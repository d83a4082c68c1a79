/// Why an engine run cannot be replayed. Every case names the file, run or field and the value
/// at fault, so a bad input is one clear message, never a trap deep in the simulator.
///
/// Thread-safety: value type, `Sendable`.
public enum EngineRunError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file cannot be read.
    case unreadable(path: String, reason: String)
    /// The file is not an augur-load run, or an array of them.
    case malformed(path: String, reason: String)
    /// The file holds an empty array.
    case noRuns(path: String)
    /// `--policy` asked for a policy no run in the file used.
    case noRunWithPolicy(policy: String, available: [String])
    /// A field the replay needs is absent (`run` is the 1-based position in the file).
    case missing(run: String, field: String, why: String)
    /// A field holds a value the replay cannot use.
    case invalid(run: String, field: String, value: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason):
            return "cannot read \(path): \(reason)"
        case let .malformed(path, reason):
            return "\(path) is not augur-load --json output (one run object or an array of them): \(reason)"
        case let .noRuns(path):
            return "\(path) holds no runs (an empty array)"
        case let .noRunWithPolicy(policy, available):
            return "no run in the file used policy '\(policy)' (the runs used: \(available.isEmpty ? "none recorded" : available.joined(separator: ", ")))"
        case let .missing(run, field, why):
            return "\(run): \(field) is missing: \(why)"
        case let .invalid(run, field, value, reason):
            return "\(run): \(field) is \(value): \(reason)"
        }
    }
}
