// The engine's tables, by name and by id.
//
// Threading: any thread. `lock` guards both maps. Changes take it across the manifest commit
// that makes them durable (create and drop a table, create and drop an index), so a name is
// never given twice; it is never taken inside `manifest.lock`. Filled without it while the
// engine opens, before anything else can see the registry.
import AugurSys

final class TableRegistry: @unchecked Sendable {
    let lock = PThreadMutex()
    private var byName: [String: Table] = [:]
    private var byID: [UInt32: Table] = [:]

    /// Every table (in no particular order).
    var all: [Table] { lock.withLock { Array(byID.values) } }

    /// The table called `name`, if there is one.
    func named(_ name: String) -> Table? { lock.withLock { byName[name] } }

    /// Names of all tables, sorted.
    var names: [String] { lock.withLock { byName.keys.sorted() } }

    /// Caller holds `lock` (or the engine is still opening).
    func containsLocked(_ name: String) -> Bool { byName[name] != nil }
    func tableLocked(named name: String) -> Table? { byName[name] }
    func insertLocked(_ table: Table) {
        byName[table.name] = table
        byID[table.id] = table
    }
    func removeLocked(_ table: Table) {
        byName[table.name] = nil
        byID[table.id] = nil
    }

    /// Forgets every table (close).
    func removeAll() {
        lock.withLock {
            byName.removeAll()
            byID.removeAll()
        }
    }
}
