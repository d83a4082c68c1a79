import AugurForecast

/// Every error the workload module reports for bad input. Each message names the offending
/// value and what would have been accepted, so the command line can print it as is.
public enum WorkloadError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownWorkload(String, valid: [String])
    case unknownDistribution(String, valid: [String])
    case unknownProfile(String, valid: [String])
    case unknownPolicy(String, valid: [String])
    /// A rate (ops/s) that is negative, zero where a positive one is needed, or not finite.
    case invalidRate(name: String, value: Double)
    /// Any other option outside its range.
    case invalidOption(name: String, value: String, reason: String)
    case fileNotFound(path: String)
    case unreadableFile(path: String, reason: String)
    /// A replay CSV without the column, with a bad value, or with no data rows (to replay).
    case csv(CSVError)
    /// The engine has no such partitioning policy yet.
    case unsupportedPolicy(policy: String, engine: String, supported: [String])
    /// The engine is not built into this binary (LMDB and RocksDB live in Benchmarks/Peers).
    case unknownEngine(String, available: [String], hint: String)

    public var description: String {
        switch self {
        case .unknownWorkload(let name, let valid):
            "unknown workload \"\(name)\"; valid workloads: \(valid.joined(separator: ", "))"
        case .unknownDistribution(let name, let valid):
            "unknown key distribution \"\(name)\"; valid distributions: \(valid.joined(separator: ", "))"
        case .unknownProfile(let name, let valid):
            "unknown rate profile \"\(name)\"; valid profiles: \(valid.joined(separator: ", "))"
        case .unknownPolicy(let name, let valid):
            "unknown partition policy \"\(name)\"; valid policies: \(valid.joined(separator: ", "))"
        case .invalidRate(let name, let value):
            "invalid rate \(name)=\(formatNumber(value)): rates are operations per second and must be finite, in \(formatNumber(WorkloadLimits.minRate))...\(formatNumber(WorkloadLimits.maxRate)) (0 where a profile allows it)"
        case .invalidOption(let name, let value, let reason):
            "invalid option \(name)=\(value): \(reason)"
        case .fileNotFound(let path):
            "file not found: \(path)"
        case .unreadableFile(let path, let reason):
            "cannot read \(path): \(reason)"
        case .csv(let error):
            error.description
        case .unsupportedPolicy(let policy, let engine, let supported):
            "partition policy \"\(policy)\" is not available in \(engine) yet (supported: \(supported.joined(separator: ", "))); the engine has no \(policy) partitioner to drive"
        case .unknownEngine(let name, let available, let hint):
            "engine \"\(name)\" is not built into this binary (available: \(available.joined(separator: ", "))). \(hint)"
        }
    }
}

/// `v` without a fraction when it is a whole number ("1000", not "1000.0").
package func formatNumber(_ v: Double) -> String {
    if v.isFinite, v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
    return String(v)
}
