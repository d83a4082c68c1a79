import AugurSys

/// Every error the public API throws. Each case names the offending value and, where there is
/// one, the limit it broke, so a caller can report it without guessing.
public enum AugurError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Keys must be at least one byte long.
    case emptyKey
    case keyTooLarge(size: Int, limit: Int)
    case valueTooLarge(size: Int, limit: Int)
    /// A write batch whose WAL frame would not fit in one WAL segment.
    case batchTooLarge(size: Int, limit: Int)
    case tableNotFound(String)
    case tableAlreadyExists(String)
    case invalidTableName(String, reason: String)
    /// The engine (or a table handle from it) was used after `close()`.
    case engineClosed
    /// Another process (or another `Engine` in this one) holds the directory's LOCK.
    case alreadyOpen(path: String)
    /// The directory exists but does not hold an Augur store.
    case notAnAugurStore(path: String, reason: String)
    /// A checksum, magic number or structural check failed: `file` at byte `offset`.
    case corruption(file: String, offset: Int, reason: String)
    /// ENOSPC (or EDQUOT) while writing `path`. Nothing acknowledged was lost.
    case diskFull(path: String)
    /// Any other failed file operation.
    case io(operation: String, path: String, errno: Int32, message: String)
    /// A WAL sync failed earlier; the instance refuses writes until it is reopened (retrying
    /// fsync on Linux can report success after the kernel dropped the dirty pages).
    case writesDisabled(reason: String)
    /// A split key that would leave one side of the partition empty or lies outside it.
    case invalidSplitKey(key: [UInt8], reason: String)
    /// A reshard plan that does not fit the table's current partitions.
    case invalidReshardPlan(plan: String, reason: String)
    /// An option outside its allowed range.
    case invalidOption(name: String, value: String, reason: String)
    case indexNotFound(table: String, index: String)
    case indexAlreadyExists(table: String, index: String)
    case invalidIndexName(String, reason: String)
    /// A scan of an index whose build has not finished in every partition.
    case indexNotReady(table: String, index: String, partitionsReady: Int, partitions: Int)
    /// After a reopen, writes to a table need every index's extractor (`attachSecondaryIndex`).
    case indexNotAttached(table: String, index: String)
    /// The application's extractor threw for the record with this key; nothing was written.
    case indexExtractorFailed(index: String, key: [UInt8], message: String)
    /// An extracted index key longer than the key size limit.
    case indexKeyTooLarge(index: String, size: Int, limit: Int)
    /// A key shorter than a composite table's prefix (`PartitioningStrategy.composite`).
    case keyTooShort(size: Int, minimum: Int)
    /// The strategy advisor has nothing to go on: the table has seen no operation.
    case noWorkloadRecorded(table: String)
    /// An operation the table's partitioning strategy does not offer.
    case notSupported(operation: String, reason: String)

    public var description: String {
        switch self {
        case .emptyKey: "key is empty (keys must be 1 or more bytes)"
        case .keyTooLarge(let size, let limit): "key of \(size) bytes exceeds the limit of \(limit) bytes"
        case .valueTooLarge(let size, let limit): "value of \(size) bytes exceeds the limit of \(limit) bytes"
        case .batchTooLarge(let size, let limit): "write batch of \(size) bytes exceeds the limit of \(limit) bytes"
        case .tableNotFound(let name): "table \"\(name)\" does not exist"
        case .tableAlreadyExists(let name): "table \"\(name)\" already exists"
        case .invalidTableName(let name, let reason): "invalid table name \"\(name)\": \(reason)"
        case .engineClosed: "the engine is closed"
        case .alreadyOpen(let path): "\(path) is already open in another process or engine instance"
        case .notAnAugurStore(let path, let reason): "\(path) is not an Augur store: \(reason)"
        case .corruption(let file, let offset, let reason): "corruption in \(file) at offset \(offset): \(reason)"
        case .diskFull(let path): "disk full while writing \(path)"
        case .io(let op, let path, let errno, let message): "\(op) \(path) failed: \(message) (errno \(errno))"
        case .writesDisabled(let reason): "writes are disabled until the store is reopened: \(reason)"
        case .invalidSplitKey(let key, let reason): "invalid split key \(formatKey(key)): \(reason)"
        case .invalidReshardPlan(let plan, let reason): "invalid reshard plan (\(plan)): \(reason)"
        case .invalidOption(let name, let value, let reason): "invalid option \(name)=\(value): \(reason)"
        case .indexNotFound(let t, let i): "table \"\(t)\" has no index \"\(i)\""
        case .indexAlreadyExists(let t, let i): "table \"\(t)\" already has an index \"\(i)\""
        case .invalidIndexName(let name, let reason): "invalid index name \"\(name)\": \(reason)"
        case .indexNotReady(let t, let i, let r, let n):
            "index \"\(i)\" of table \"\(t)\" is still being built (\(r) of \(n) partitions ready)"
        case .indexNotAttached(let t, let i):
            "index \"\(i)\" of table \"\(t)\" has no extractor since the store was opened: call attachSecondaryIndex"
        case .indexExtractorFailed(let i, let key, let message):
            "the extractor of index \"\(i)\" failed for key \(formatKey(key)): \(message)"
        case .indexKeyTooLarge(let i, let size, let limit):
            "index \"\(i)\" key of \(size) bytes exceeds the limit of \(limit) bytes"
        case .keyTooShort(let size, let minimum):
            "key of \(size) bytes is shorter than the table's key prefix of \(minimum) bytes"
        case .notSupported(let operation, let reason): "\(operation) is not supported: \(reason)"
        case .noWorkloadRecorded(let table): "table \"\(table)\" has no recorded operations to advise from: run its workload first"
        }
    }

    init(_ error: FileSystemError) {
        if error.isDiskFull {
            self = .diskFull(path: error.path)
        } else {
            self = .io(operation: error.operation.rawValue, path: error.path, errno: error.errno.rawValue,
                       message: error.errno.description)
        }
    }
}

/// Printable form of a key: text when it is printable ASCII, hex otherwise.
public func formatKey(_ key: [UInt8]) -> String {
    if !key.isEmpty && key.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) {
        return "\"" + String(decoding: key, as: UTF8.self) + "\""
    }
    return "0x" + key.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
}

/// Runs a file-system call and converts its error into `AugurError`.
@inline(__always)
func io<T>(_ body: () throws(FileSystemError) -> T) throws(AugurError) -> T {
    do { return try body() } catch { throw AugurError(error) }
}
