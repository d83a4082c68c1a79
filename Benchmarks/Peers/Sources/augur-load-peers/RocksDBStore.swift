import AugurLoadCLI
import AugurWorkload
import CRocksDB
import Foundation
import Synchronization

/// RocksDB through its C API with default options plus `increase_parallelism(2)` and the
/// write-buffer size from --memtable-mb.
///
/// Durability: `sync` sets WriteOptions.sync; `periodic` and `none` write the WAL without
/// syncing, and `periodic` calls rocksdb_flush_wal(sync = true) on a timer.
final class RocksDBStore: KeyValueStore, @unchecked Sendable {
    let engineName = "rocksdb"
    private let db: OpaquePointer
    private let options: OpaquePointer
    private let writeOptions: OpaquePointer
    private let readOptions: OpaquePointer
    private let directory: String
    private let temporary: Bool
    private var timer: PeriodicTimer?
    private let closed = Mutex(false)

    @Sendable static func open(_ config: EngineConfiguration) throws -> any KeyValueStore {
        let (path, temporary) = try config.resolveDirectory(engine: "rocksdb")
        return try RocksDBStore(path: path, temporary: temporary, config: config)
    }

    private init(path: String, temporary: Bool, config: EngineConfiguration) throws {
        directory = path
        self.temporary = temporary
        options = rocksdb_options_create()
        rocksdb_options_set_create_if_missing(options, 1)
        rocksdb_options_increase_parallelism(options, 2)
        rocksdb_options_set_write_buffer_size(options, config.memtableMiB << 20)
        var err: UnsafeMutablePointer<CChar>? = nil
        let handle = rocksdb_open(options, path, &err)
        if let err {
            let message = String(cString: err)
            rocksdb_free(err)
            rocksdb_options_destroy(options)
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
        if temporary { try? FileManager.default.removeItem(atPath: directory) }
    }
}
