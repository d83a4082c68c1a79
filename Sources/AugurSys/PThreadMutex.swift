#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A plain mutex for state guarded by a class (where `Mutex<Value>` would need the state moved
/// inside it). Thread-safe by construction; not recursive.
public final class PThreadMutex: @unchecked Sendable {
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(mutex, nil) == 0)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inlinable @inline(__always) public func lock() { pthread_mutex_lock(mutex) }
    @inlinable @inline(__always) public func unlock() { pthread_mutex_unlock(mutex) }

    @inlinable @inline(__always)
    public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A reader-writer lock (pthread_rwlock). Used as a partition's write gate: writers take it
/// shared, the rare memtable swap or reshard cutover takes it exclusive for microseconds.
/// Writer-preferring so a cutover is not starved by a stream of writers.
public final class ReadWriteLock: @unchecked Sendable {
    @usableFromInline let rw: UnsafeMutablePointer<pthread_rwlock_t>

    public init() {
        rw = .allocate(capacity: 1)
        rw.initialize(to: pthread_rwlock_t())
        var attr = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attr)
        // PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP = 2
        pthread_rwlockattr_setkind_np(&attr, 2)
        precondition(pthread_rwlock_init(rw, &attr) == 0)
        pthread_rwlockattr_destroy(&attr)
    }

    deinit {
        pthread_rwlock_destroy(rw)
        rw.deallocate()
    }

    @inlinable @inline(__always) public func lockShared() { pthread_rwlock_rdlock(rw) }
    @inlinable @inline(__always) public func lockExclusive() { pthread_rwlock_wrlock(rw) }
    /// Takes the lock exclusive if nobody holds it, without waiting and without queueing a
    /// request (so, unlike a blocked `lockExclusive`, a failed try holds no reader back).
    @inlinable @inline(__always) public func tryLockExclusive() -> Bool { pthread_rwlock_trywrlock(rw) == 0 }
    @inlinable @inline(__always) public func unlock() { pthread_rwlock_unlock(rw) }
}
