import Augur
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
    /// Augur's partitioning controller: operations per second one partition sustains.
    public var partitionCapacity = 5000.0
    public init() {}

    /// `directory`, or a new temporary directory named for `engine`.
    public func resolveDirectory(engine: String) throws -> (path: String, temporary: Bool) {
        if let directory { return (directory, false) }
        let base = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        let path = base + "/augur-load-\(engine)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return (path, true)
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
    let (path, temporary) = try config.resolveDirectory(engine: "augur")
    do {
        let store = try AugurStore(directory: path, options: options, removeOnClose: temporary)
        store.capacity.opsPerSecond = config.partitionCapacity
        return store
    } catch {
        if temporary { try? FileManager.default.removeItem(atPath: path) }
        throw error
    }
}
