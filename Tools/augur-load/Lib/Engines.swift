import Augur
import AugurPlanner
import AugurSys
import AugurWorkload
import Foundation
import Synchronization

/// How the tool opens an engine for one run.
public struct EngineConfiguration: Sendable {
    public enum DurabilityMode: String, Sendable, CaseIterable {
        /// Every acknowledged write is synced (Augur `.sync`, LMDB default, RocksDB `sync=true`).
        case sync
        /// Writes are synced by a background timer every `syncIntervalMilliseconds`.
        case periodic
        /// Never synced on the write path (closing syncs).
        case none
    }
    /// Store directory; nil = a fresh temporary directory removed when the store closes.
    public var directory: String?
    public var durability: DurabilityMode = .periodic
    public var syncIntervalMilliseconds = 100
    /// Memtable / write buffer size, MiB.
    public var memtableMiB = 32
    /// Augur: nice steps of the engine's background threads (`EngineOptions.backgroundNice`).
    public var backgroundNice = 10
    /// Augur: CPUs of the engine's background threads (`EngineOptions.backgroundCPUs`).
    public var backgroundCPUs: BackgroundCPUs = .unrestricted
    /// Augur's partitioning controller: operations per second one partition sustains; nil
    /// leaves the engine's own capacity model.
    public var partitionCapacity: Double? = nil
    /// Augur: the table's partitioning strategy (peers have one layout and ignore it).
    public var strategy: PartitioningStrategy = .range
    public init() {}

    /// `directory`, or a new temporary directory named for `engine`.
    public func resolveDirectory(engine: String) throws -> (path: String, temporary: Bool) {
        if let directory { return (directory, false) }
        let path = TemporaryStores.base + "/" + TemporaryStores.name(engine: engine, pid: ProcessLifetime.currentID,
                                                                     suffix: UInt32.random(in: 0...UInt32.max))
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return (path, true)
    }
}

/// The temporary stores of runs without `--dir`: `<temp dir>/augur-load-<engine>-<pid>-<n>`.
/// A run removes its own when it closes the store (also after SIGINT or SIGTERM, which stop
/// the run). A run killed with SIGKILL, or a crash, cannot: so every run first removes the
/// stores of processes that no longer exist — only names of exactly this pattern.
public enum TemporaryStores {
    static var base: String { ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp" }

    static func name(engine: String, pid: Int32, suffix: UInt32) -> String { "augur-load-\(engine)-\(pid)-\(suffix)" }

    /// The pid in `name` if it is `augur-load-<engine>-<pid>-<n>` for one of `engines`.
    static func owner(of name: String, engines: [String]) -> Int32? {
        for engine in engines {
            let prefix = "augur-load-\(engine)-"
            guard name.hasPrefix(prefix) else { continue }
            let rest = name.dropFirst(prefix.count).split(separator: "-", omittingEmptySubsequences: false)
            guard rest.count == 2, rest.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
                  let pid = Int32(rest[0]), UInt32(rest[1]) != nil else { continue }
            return pid
        }
        return nil
    }

    /// Removes the temporary stores in `directory` (default: the temp dir) left by processes
    /// that are gone; returns their paths.
    @discardableResult
    public static func removeStale(in directory: String? = nil, engines: [String] = EngineRegistry.names) -> [String] {
        let dir = directory ?? base
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var removed: [String] = []
        for name in names {
            guard let pid = owner(of: name, engines: engines), pid != ProcessLifetime.currentID,
                  !ProcessLifetime.isAlive(pid) else { continue }
            let path = dir + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            if (try? FileManager.default.removeItem(atPath: path)) != nil { removed.append(path) }
        }
        return removed
    }
}

/// Opens a store for a run.
public typealias StoreFactory = @Sendable (EngineConfiguration) throws -> any KeyValueStore

/// The engines this binary can drive. `augur-load` has Augur; the peers build
/// (Benchmarks/Peers) registers LMDB and RocksDB before running the same commands.
public enum EngineRegistry {
    private static let factories = Mutex<[(name: String, make: StoreFactory)]>([("augur", makeAugurStore)])

    public static func register(_ name: String, _ factory: @escaping StoreFactory) {
        factories.withLock { f in
            f.removeAll { $0.name == name }
            f.append((name, factory))
        }
    }

    public static var names: [String] { factories.withLock { $0.map(\.name) } }

    public static func make(_ name: String, _ config: EngineConfiguration) throws -> any KeyValueStore {
        guard let f = factories.withLock({ $0.first { $0.name == name }?.make }) else {
            throw WorkloadError.unknownEngine(name, available: names,
                                              hint: "LMDB and RocksDB are in the peers build: make bench-peers (Benchmarks/Peers).")
        }
        return try f(config)
    }

    public static func check(_ name: String) throws(WorkloadError) {
        if !names.contains(name) {
            throw .unknownEngine(name, available: names, hint: "LMDB and RocksDB are in the peers build: make bench-peers (Benchmarks/Peers).")
        }
    }
}

@Sendable
func makeAugurStore(_ config: EngineConfiguration) throws -> any KeyValueStore {
    var options = EngineOptions()
    switch config.durability {
    case .sync: options.durability = .sync
    case .periodic: options.durability = .periodic(.milliseconds(config.syncIntervalMilliseconds))
    case .none: options.durability = .none
    }
    options.memtableFlushSize = config.memtableMiB << 20
    options.backgroundNice = config.backgroundNice
    options.backgroundCPUs = config.backgroundCPUs
    let (path, temporary) = try config.resolveDirectory(engine: "augur")
    do {
        let store = try AugurStore(directory: path, options: options, strategy: config.strategy, removeOnClose: temporary)
        if let opsPerSecond = config.partitionCapacity {
            // The engine's time constants, with a fixed operation rate instead of measured cost.
            var capacity = CapacityModel.measured()
            capacity.opsPerSecond = opsPerSecond
            capacity.costBudget = nil
            store.capacity = capacity
        }
        return store
    } catch {
        if temporary { try? FileManager.default.removeItem(atPath: path) }
        throw error
    }
}
