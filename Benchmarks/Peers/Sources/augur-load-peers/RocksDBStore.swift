import AugurLoadCLI
import AugurWorkload
import CRocksDB
import Foundation
import Synchronization

/// RocksDB through its C API.
///
/// `rocksdb`: default options plus `increase_parallelism(2)` and the write-buffer size from
/// --memtable-mb. `rocksdb-best`: the same plus what RocksDB's "Setup Options and Basic Tuning"
/// page recommends for a general workload — a bloom filter of 10 bits per key, a 256 MiB LRU
/// block cache holding index and filter blocks (level-0's pinned), 16 KiB blocks, table format
/// 5, `level_compaction_dynamic_level_bytes` and `bytes_per_sync` 1 MiB (the min-overlapping-
/// ratio compaction priority it also names is the default).
///
/// Durability: `sync` sets WriteOptions.sync; `periodic` and `none` write the WAL without
/// syncing, and `periodic` calls rocksdb_flush_wal(sync = true) on a timer.
final class RocksDBStore: KeyValueStore, @unchecked Sendable {
    let engineName: String
    private let db: OpaquePointer
    private let options: OpaquePointer
    /// `rocksdb-best`'s table options and block cache (owned here, destroyed at close).
    private let tableOptions: OpaquePointer?
    private let blockCache: OpaquePointer?
    private let writeOptions: OpaquePointer
    private let readOptions: OpaquePointer
    private let directory: String
    private let temporary: Bool
    private var timer: PeriodicTimer?
    private let closed = Mutex(false)

    @Sendable static func open(_ config: EngineConfiguration) throws -> any KeyValueStore {
        let (path, temporary) = try config.resolveDirectory(engine: "rocksdb")
        return try RocksDBStore(name: "rocksdb", tuned: false, path: path, temporary: temporary, config: config)
    }

    @Sendable static func openBest(_ config: EngineConfiguration) throws -> any KeyValueStore {
        let (path, temporary) = try config.resolveDirectory(engine: "rocksdb-best")
        return try RocksDBStore(name: "rocksdb-best", tuned: true, path: path, temporary: temporary, config: config)
    }

    private init(name: String, tuned: Bool, path: String, temporary: Bool, config: EngineConfiguration) throws {
        engineName = name
        directory = path
        self.temporary = temporary
        options = rocksdb_options_create()
        rocksdb_options_set_create_if_missing(options, 1)
        rocksdb_options_increase_parallelism(options, 2)
        rocksdb_options_set_write_buffer_size(options, config.memtableMiB << 20)
        if tuned {
            let table = rocksdb_block_based_options_create()!
            let cache = rocksdb_cache_create_lru(256 << 20)!
            rocksdb_block_based_options_set_block_cache(table, cache)
            rocksdb_block_based_options_set_filter_policy(table, rocksdb_filterpolicy_create_bloom(10))
            rocksdb_block_based_options_set_block_size(table, 16 << 10)
            rocksdb_block_based_options_set_cache_index_and_filter_blocks(table, 1)
            rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(table, 1)
            rocksdb_block_based_options_set_format_version(table, 5)
            rocksdb_options_set_block_based_table_factory(options, table)
            rocksdb_options_set_level_compaction_dynamic_level_bytes(options, 1)
            rocksdb_options_set_bytes_per_sync(options, 1 << 20)
            // compaction_pri: the guide's kMinOverlappingRatio is already 7.x's default (and
            // Debian's 7.8 C API has no setter for it).
            tableOptions = table
            blockCache = cache
        } else {
            tableOptions = nil
            blockCache = nil
        }
        var err: UnsafeMutablePointer<CChar>? = nil
        let handle = rocksdb_open(options, path, &err)
        if let err {
            let message = String(cString: err)
            rocksdb_free(err)
            rocksdb_options_destroy(options)
            if let tableOptions { rocksdb_block_based_options_destroy(tableOptions) }
            if let blockCache { rocksdb_cache_destroy(blockCache) }
            if temporary { try? FileManager.default.removeItem(atPath: path) }
            throw PeerError(engine: "rocksdb", call: "rocksdb_open", message: message)
        }
        db = handle!
        writeOptions = rocksdb_writeoptions_create()
        rocksdb_writeoptions_set_sync(writeOptions, config.durability == .sync ? 1 : 0)
        readOptions = rocksdb_readoptions_create()
        if config.durability == .periodic {
            let db = UnsafeSendable(db)
            timer = PeriodicTimer(milliseconds: config.syncIntervalMilliseconds) {
                var e: UnsafeMutablePointer<CChar>? = nil
                rocksdb_flush_wal(db.value, 1, &e)
                if let e { rocksdb_free(e) }
            }
        }
    }

    @inline(__always)
    private func check(_ err: UnsafeMutablePointer<CChar>?, _ call: String) throws {
        if let err {
            let message = String(cString: err)
            rocksdb_free(err)
            throw PeerError(engine: "rocksdb", call: call, message: message)
        }
    }

    func put(_ key: [UInt8], _ value: [UInt8]) throws {
        var err: UnsafeMutablePointer<CChar>? = nil
        key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                rocksdb_put(db, writeOptions, k.baseAddress?.assumingMemoryBound(to: CChar.self), k.count,
                            v.baseAddress?.assumingMemoryBound(to: CChar.self), v.count, &err)
            }
        }
        try check(err, "rocksdb_put")
    }

    func delete(_ key: [UInt8]) throws {
        var err: UnsafeMutablePointer<CChar>? = nil
        key.withUnsafeBytes { k in
            rocksdb_delete(db, writeOptions, k.baseAddress?.assumingMemoryBound(to: CChar.self), k.count, &err)
        }
        try check(err, "rocksdb_delete")
    }

    func get(_ key: [UInt8]) throws -> [UInt8]? {
        var err: UnsafeMutablePointer<CChar>? = nil
        var length = 0
        let p = key.withUnsafeBytes { k in
            rocksdb_get(db, readOptions, k.baseAddress?.assumingMemoryBound(to: CChar.self), k.count, &length, &err)
        }
        try check(err, "rocksdb_get")
        guard let p else { return nil }
        defer { rocksdb_free(p) }
        return Array(UnsafeRawBufferPointer(start: p, count: length))
    }

    /// `--zero-copy-reads`: the pinned get, which leaves the value where it is (block cache or
    /// memtable) instead of copying it into a malloc'd buffer.
    func readLength(_ key: [UInt8]) throws -> Int? {
        var err: UnsafeMutablePointer<CChar>? = nil
        let slice = key.withUnsafeBytes { k in
            rocksdb_get_pinned(db, readOptions, k.baseAddress?.assumingMemoryBound(to: CChar.self), k.count, &err)
        }
        try check(err, "rocksdb_get_pinned")
        guard let slice else { return nil }
        defer { rocksdb_pinnableslice_destroy(slice) }
        var length = 0
        _ = rocksdb_pinnableslice_value(slice, &length)
        return length
    }

    func scan(from start: [UInt8], limit: Int) throws -> Int {
        let it = rocksdb_create_iterator(db, readOptions)
        defer { rocksdb_iter_destroy(it) }
        start.withUnsafeBytes { k in rocksdb_iter_seek(it, k.baseAddress?.assumingMemoryBound(to: CChar.self), k.count) }
        var n = 0
        var checksum = 0
        while n < limit && rocksdb_iter_valid(it) != 0 {
            var kl = 0, vl = 0
            _ = rocksdb_iter_key(it, &kl)
            _ = rocksdb_iter_value(it, &vl)
            checksum &+= kl &+ vl
            n += 1
            rocksdb_iter_next(it)
        }
        var err: UnsafeMutablePointer<CChar>? = nil
        rocksdb_iter_get_error(it, &err)
        try check(err, "rocksdb_iter")
        return checksum >= 0 ? n : n
    }

    func write(_ operations: [BatchOperation]) throws {
        let batch = rocksdb_writebatch_create()
        defer { rocksdb_writebatch_destroy(batch) }
        for op in operations {
            switch op {
            case .put(let k, let v):
                k.withUnsafeBytes { kb in
                    v.withUnsafeBytes { vb in
                        rocksdb_writebatch_put(batch, kb.baseAddress?.assumingMemoryBound(to: CChar.self), kb.count,
                                               vb.baseAddress?.assumingMemoryBound(to: CChar.self), vb.count)
                    }
                }
            case .delete(let k):
                k.withUnsafeBytes { kb in rocksdb_writebatch_delete(batch, kb.baseAddress?.assumingMemoryBound(to: CChar.self), kb.count) }
            }
        }
        var err: UnsafeMutablePointer<CChar>? = nil
        rocksdb_write(db, writeOptions, batch, &err)
        try check(err, "rocksdb_write")
    }

    /// Flushes memtables to SST files (as Augur's flush writes segments).
    func flush() throws {
        let fo = rocksdb_flushoptions_create()
        defer { rocksdb_flushoptions_destroy(fo) }
        rocksdb_flushoptions_set_wait(fo, 1)
        var err: UnsafeMutablePointer<CChar>? = nil
        rocksdb_flush(db, fo, &err)
        try check(err, "rocksdb_flush")
    }

    func partitionMetrics() -> PartitionMetrics { PartitionMetrics() }

    func close() throws {
        if closed.withLock({ c in defer { c = true }; return c }) { return }
        timer?.cancel()
        rocksdb_close(db)
        rocksdb_writeoptions_destroy(writeOptions)
        rocksdb_readoptions_destroy(readOptions)
        rocksdb_options_destroy(options)
        if let tableOptions { rocksdb_block_based_options_destroy(tableOptions) }
        if let blockCache { rocksdb_cache_destroy(blockCache) }
        if temporary { try? FileManager.default.removeItem(atPath: directory) }
    }
}
