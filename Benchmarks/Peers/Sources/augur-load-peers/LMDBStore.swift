import AugurLoadCLI
import AugurWorkload
import CLMDB
import Foundation
import Synchronization

/// LMDB through liblmdb: one environment, the unnamed database, a write transaction per put
/// (LMDB serializes writers) and one per batch.
///
/// Reads, by `ReadTransactions`: `.perOperation` (engine `lmdb`) begins and aborts a read-only
/// transaction around every get and scan, what a naive caller does; `.reused` (engine
/// `lmdb-best`) keeps one read-only transaction handle per thread and renews and resets it
/// around each read (`mdb_txn_renew` / `mdb_txn_reset`), as LMDB's documentation recommends
/// for a thread that reads often: no reader-slot search or allocation per read, the same
/// freshness (each read sees the latest commit).
///
/// Durability: `sync` is LMDB's default (fsync at commit); `periodic` and `none` open with
/// MDB_NOSYNC | MDB_NOMETASYNC, and `periodic` calls mdb_env_sync on a timer.
final class LMDBStore: KeyValueStore, @unchecked Sendable {
    enum ReadTransactions { case perOperation, reused }

    let engineName: String
    private let reads: ReadTransactions
    /// Per-thread reusable read transactions (`.reused`): a pthread key whose value is the
    /// thread's reset transaction; each thread's is aborted when the thread exits, and those
    /// still registered when the store closes are aborted then.
    private var threadKey = pthread_key_t()
    private let reusable = Mutex<[UInt]>([])   // the transactions' addresses
    private let env: OpaquePointer
    private var dbi: MDB_dbi = 0
    private let directory: String
    private let temporary: Bool
    private var timer: PeriodicTimer?
    private let closed = Mutex(false)

    @Sendable static func open(_ config: EngineConfiguration) throws -> any KeyValueStore {
        let (path, temporary) = try config.resolveDirectory(engine: "lmdb")
        return try LMDBStore(name: "lmdb", reads: .perOperation, path: path, temporary: temporary, config: config)
    }

    @Sendable static func openBest(_ config: EngineConfiguration) throws -> any KeyValueStore {
        let (path, temporary) = try config.resolveDirectory(engine: "lmdb-best")
        return try LMDBStore(name: "lmdb-best", reads: .reused, path: path, temporary: temporary, config: config)
    }

    private init(name: String, reads: ReadTransactions, path: String, temporary: Bool, config: EngineConfiguration) throws {
        engineName = name
        self.reads = reads
        directory = path
        self.temporary = temporary
        // No destructor: a thread's transaction stays registered and is aborted at close (the
        // runner's threads end before the store closes; an abort from another thread is
        // allowed for read-only transactions under MDB_NOTLS).
        precondition(pthread_key_create(&threadKey, nil) == 0)
        var e: OpaquePointer?
        try Self.check(mdb_env_create(&e), "mdb_env_create")
        env = e!
        do {
            try Self.check(mdb_env_set_mapsize(env, 64 << 30), "mdb_env_set_mapsize")
            try Self.check(mdb_env_set_maxreaders(env, 1024), "mdb_env_set_maxreaders")
            var flags = UInt32(MDB_NOTLS)
            if config.durability != .sync { flags |= UInt32(MDB_NOSYNC) | UInt32(MDB_NOMETASYNC) }
            try Self.check(mdb_env_open(env, path, flags, 0o644), "mdb_env_open")
            var txn: OpaquePointer?
            try Self.check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin")
            try Self.check(mdb_dbi_open(txn, nil, UInt32(MDB_CREATE), &dbi), "mdb_dbi_open")
            try Self.check(mdb_txn_commit(txn), "mdb_txn_commit")
        } catch {
            mdb_env_close(env)
            if temporary { try? FileManager.default.removeItem(atPath: path) }
            throw error
        }
        if config.durability == .periodic {
            let env = UnsafeSendable(env)
            timer = PeriodicTimer(milliseconds: config.syncIntervalMilliseconds) { _ = mdb_env_sync(env.value, 1) }
        }
    }

    static func check(_ rc: Int32, _ call: String) throws {
        if rc != 0 { throw PeerError(engine: "lmdb", call: call, message: String(cString: mdb_strerror(rc))) }
    }

    @inline(__always)
    private func withVal<T>(_ bytes: [UInt8], _ body: (inout MDB_val) throws -> T) rethrows -> T {
        try bytes.withUnsafeBytes { b in
            var v = MDB_val(mv_size: b.count, mv_data: UnsafeMutableRawPointer(mutating: b.baseAddress))
            return try body(&v)
        }
    }

    private func writeTxn(_ body: (OpaquePointer?) throws -> Void) throws {
        var txn: OpaquePointer?
        try Self.check(mdb_txn_begin(env, nil, 0, &txn), "mdb_txn_begin")
        do { try body(txn) } catch { mdb_txn_abort(txn); throw error }
        try Self.check(mdb_txn_commit(txn), "mdb_txn_commit")
    }

    private func readTxn<T>(_ body: (OpaquePointer?) throws -> T) throws -> T {
        if reads == .reused { return try reusedReadTxn(body) }
        var txn: OpaquePointer?
        try Self.check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin")
        defer { mdb_txn_abort(txn) }
        return try body(txn)
    }

    /// The thread's read transaction, renewed for `body` and reset after it.
    private func reusedReadTxn<T>(_ body: (OpaquePointer?) throws -> T) throws -> T {
        var txn: OpaquePointer?
        if let held = pthread_getspecific(threadKey) {
            txn = OpaquePointer(held)
            try Self.check(mdb_txn_renew(txn), "mdb_txn_renew")
        } else {
            try Self.check(mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn), "mdb_txn_begin")
            let raw = UnsafeMutableRawPointer(txn!)
            let address = UInt(bitPattern: raw)
            reusable.withLock { $0.append(address) }
            pthread_setspecific(threadKey, raw)
        }
        defer { mdb_txn_reset(txn) }
        return try body(txn)
    }

    private func putIn(_ txn: OpaquePointer?, _ key: [UInt8], _ value: [UInt8]) throws {
        try withVal(key) { k in try withVal(value) { v in try Self.check(mdb_put(txn, dbi, &k, &v, 0), "mdb_put") } }
    }

    private func deleteIn(_ txn: OpaquePointer?, _ key: [UInt8]) throws {
        try withVal(key) { k in
            let rc = mdb_del(txn, dbi, &k, nil)
            if rc != MDB_NOTFOUND { try Self.check(rc, "mdb_del") }
        }
    }

    func put(_ key: [UInt8], _ value: [UInt8]) throws { try writeTxn { try putIn($0, key, value) } }
    func delete(_ key: [UInt8]) throws { try writeTxn { try deleteIn($0, key) } }

    func get(_ key: [UInt8]) throws -> [UInt8]? {
        try lookup(key) { Array(UnsafeRawBufferPointer(start: $0.mv_data, count: $0.mv_size)) }
    }

    /// `body` with the value mdb_get found (in the mapped page), or nil when absent.
    private func lookup<T>(_ key: [UInt8], _ body: (MDB_val) -> T) throws -> T? {
        try readTxn { txn in
            try withVal(key) { k in
                var v = MDB_val()
                let rc = mdb_get(txn, dbi, &k, &v)
                if rc == MDB_NOTFOUND { return nil }
                try Self.check(rc, "mdb_get")
                return body(v)
            }
        }
    }

    /// `--zero-copy-reads`: the value's length where mdb_get leaves it (in the mapped page),
    /// not copied — as Augur's `Table.withValue` is measured.
    func readLength(_ key: [UInt8]) throws -> Int? { try lookup(key) { $0.mv_size } }

    func scan(from start: [UInt8], limit: Int) throws -> Int {
        try readTxn { txn in
            var cursor: OpaquePointer?
            try Self.check(mdb_cursor_open(txn, dbi, &cursor), "mdb_cursor_open")
            defer { mdb_cursor_close(cursor) }
            return try withVal(start) { k in
                var v = MDB_val()
                var rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
                var n = 0
                var checksum = 0
                while rc == 0 && n < limit {
                    // Touch the record like the other adapters (which copy it).
                    checksum &+= v.mv_size
                    n += 1
                    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)
                }
                if rc != 0 && rc != MDB_NOTFOUND { try Self.check(rc, "mdb_cursor_get") }
                return checksum >= 0 ? n : n
            }
        }
    }

    func write(_ operations: [BatchOperation]) throws {
        try writeTxn { txn in
            for op in operations {
                switch op {
                case .put(let k, let v): try putIn(txn, k, v)
                case .delete(let k): try deleteIn(txn, k)
                }
            }
        }
    }

    func flush() throws { try Self.check(mdb_env_sync(env, 1), "mdb_env_sync") }

    func partitionMetrics() -> PartitionMetrics { PartitionMetrics() }

    func close() throws {
        if closed.withLock({ c in defer { c = true }; return c }) { return }
        timer?.cancel()
        for address in reusable.withLock({ $0 }) { mdb_txn_abort(OpaquePointer(bitPattern: address)) }
        pthread_key_delete(threadKey)
        _ = mdb_env_sync(env, 1)
        mdb_dbi_close(env, dbi)
        mdb_env_close(env)
        if temporary { try? FileManager.default.removeItem(atPath: directory) }
    }
}

/// Hands a C handle to a @Sendable closure (the libraries are thread-safe for these calls).
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
