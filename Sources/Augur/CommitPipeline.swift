// The commit pipeline: the one path by which a write becomes durable and visible.
//
// A put, a delete, a `WriteBatch` and a write to a table with secondary indexes are each a
// `CommitBatch`, and `Engine.commit(_:)` runs every one of them through the same steps:
//
//   1. route every operation to the partition that owns its key now, and take those
//      partitions' write gates shared (distinct, ascending id, so two batches never deadlock);
//      a partition a reshard retired meanwhile (or a closing engine) → release, route again;
//      a map whose key layout is not the one the keys were encoded in (a strategy change
//      committed since) → release and return `.layoutChanged`: the caller encodes again;
//   2. a table that has secondary indexes → release: the write goes through `writeIndexed`,
//      which takes its key stripes first and commits an `IndexedWrite` (its index entries
//      need the old values, read under the gates);
//   3. plan (indexed writes only) and check the frame against the WAL's limit;
//   4. append one WAL frame holding every operation (after a crash all or none of them are
//      there); a full segment → release the gates, roll it (`makeRoom`, which syncs and
//      creates files) outside them, start again at 1 — nobody waits on a gate for file I/O;
//   5. apply each operation to its memtable under the partition's `writeLock`, at sequence
//      `first + i` (the frame's order), then release the gates;
//   6. telemetry: the commit's time, shared evenly among its base operations;
//   7. after-write: schedule flushes that are due, sleep briefly past the slowdown mark
//      (WritePacing.swift), wait at the stall limit (WriteStall.swift) — outside every gate;
//   8. with `.sync` durability, sync the WAL up to the frame (group commit: one fdatasync
//      covers every frame below it, `WriteAheadLog.sync(upTo:)`).
//
// Threading: runs on the writer's thread and holds nothing between calls. Lock order:
// index key stripes → partition gates (ascending id) → a partition's `writeLock`. A single put
// is a `SingleWrite`, which holds its key and value as borrowed buffers and one partition:
// generic specialisation gives it the code of a hand-written put, with no allocation.
import AugurSys

/// The write gates a commit holds: one partition's (a single write) or several, distinct and
/// in ascending id order.
enum HeldGates {
    /// Unretained: the batch holds the partition (a retain and a release per put saved).
    case one(Unmanaged<Partition>)
    case several([Partition])

    var anyRetired: Bool {
        switch self {
        case .one(let p): p._withUnsafeGuaranteedRef { $0.retired }
        case .several(let ps): ps.contains { $0.retired }
        }
    }

    func unlock() {
        switch self {
        case .one(let p): p._withUnsafeGuaranteedRef { $0.gate.unlock() }
        case .several(let ps): for p in ps { p.gate.unlock() }
        }
    }
}

/// Where the operations of a batch go: each operation's partition, and those partitions once
/// each in ascending id order (the order their gates are taken in).
struct BatchRouting {
    private(set) var targets: [Partition] = []
    private(set) var distinct: [Partition] = []

    /// Whether an operation's key was encoded in another layout than its table's map has now.
    private(set) var layoutChanged = false

    /// Routes `ops` and takes their partitions' gates shared.
    mutating func route(_ ops: [WriteBatch.Op]) -> HeldGates {
        var stale = false
        targets = ops.map { op in
            let map = op.table.map
            if map.layout != op.layout { stale = true }
            return op.key.withUnsafeBytes { map.partition(for: $0) }
        }
        layoutChanged = stale
        distinct = []
        var seen = Set<ObjectIdentifier>()
        for p in targets where seen.insert(ObjectIdentifier(p)).inserted { distinct.append(p) }
        distinct.sort { $0.id < $1.id }
        for p in distinct { p.gate.lockShared() }
        return .several(distinct)
    }
}

extension [WriteBatch.Op] {
    /// Throws when a table written was dropped or the engine closed.
    func checkUsable() throws(AugurError) { for op in self { try op.table.checkUsable() } }
}

/// Operations committed together: one WAL frame, applied under their partitions' gates.
protocol CommitBatch {
    /// Step 1: routes every operation and takes its partitions' gates shared.
    mutating func route() -> HeldGates
    /// After `route`: a key was encoded in a layout the routing map no longer has.
    var layoutChanged: Bool { get }
    /// Whether a table written has secondary indexes (read under the gates: a build makes an
    /// index visible before it freezes partitions). Such a batch is committed by `writeIndexed`.
    var needsIndexMaintenance: Bool { get }
    /// Step 3, under the gates: the frame's operations are settled after this.
    mutating func plan(_ engine: Engine) throws(AugurError)
    /// Bytes of the frame's payload (after `plan`).
    var payloadSize: Int { get }
    /// Operations in the frame (after `plan`).
    var operationCount: Int { get }
    /// Why a retry is refused: a dropped table or a closed engine.
    func checkUsable() throws(AugurError)
    /// Step 4: writes the operations into the frame's payload, in sequence order.
    func encode(into writer: inout WALPayloadWriter)
    /// Step 5, under the gates: applies operation `i` at sequence `firstSeq + i`.
    mutating func apply(firstSeq: UInt64)
    /// Right after step 5 has released the gates: what else the commit held for the apply
    /// (an indexed write's key stripes), so nothing waits behind steps 7 and 8.
    mutating func applied()
    /// Step 6: `costNanos` is the whole commit's time.
    func record(_ telemetry: Telemetry, costNanos: UInt64)
    /// Step 7, outside the gates.
    func afterCommit(_ engine: Engine)
}

extension CommitBatch {
    var needsIndexMaintenance: Bool { false }
    mutating func plan(_ engine: Engine) throws(AugurError) {}
    mutating func applied() {}
}

/// How `Engine.commit(_:)` ended.
enum CommitOutcome {
    case committed
    /// Nothing was written: a table has secondary indexes (go through `writeIndexed`).
    case needsIndexMaintenance
    /// Nothing was written: a table's strategy changed after its keys were encoded (encode
    /// them again in the table's new layout and commit again).
    case layoutChanged
}

extension Engine {
    /// Runs `batch` through the pipeline described at the top of this file.
    @inline(__always)
    func commit<B: CommitBatch>(_ batch: inout B) throws(AugurError) -> CommitOutcome {
        let started = telemetry != nil ? MonotonicClock.nanos() : 0
        while true {
            let gates = batch.route()
            if gates.anyRetired || isClosed {
                gates.unlock()
                try checkOpen()
                try batch.checkUsable()
                continue
            }
            if batch.layoutChanged {
                gates.unlock()
                return .layoutChanged
            }
            if batch.needsIndexMaintenance {
                gates.unlock()
                return .needsIndexMaintenance
            }
            let appended: WALPosition?
            do throws(AugurError) {
                try batch.plan(self)
                let payload = batch.payloadSize
                if payload > wal.maxPayload { throw .batchTooLarge(size: payload, limit: wal.maxPayload) }
                appended = try wal.append(payloadSize: payload, opCount: batch.operationCount) { base, _ in
                    var w = WALPayloadWriter(base: base)
                    batch.encode(into: &w)
                }
            } catch {
                gates.unlock()
                throw error
            }
            guard let position = appended else {
                gates.unlock()
                try wal.makeRoom(payloadSize: batch.payloadSize)
                continue
            }
            batch.apply(firstSeq: position.firstSeq)
            gates.unlock()
            batch.applied()
            if let telemetry { batch.record(telemetry, costNanos: MonotonicClock.nanos() &- started) }
            batch.afterCommit(self)
            if syncWrites { try wal.sync(upTo: position) }
            return .committed
        }
    }
}

/// A put or a delete of one key: borrowed buffers, one partition, no allocation.
///
/// Holds as few strong references as it can: each is an atomic retain and release, and
/// `Engine.writeOne` made about fifteen of each per put (callgrind, fillrandom at one thread;
/// eight after) while the struct held the table, the first map and the memtable strongly and
/// was copied. The table and the map are the caller's (`Table.writeOne`, the only caller, holds
/// both through the call); the memtable is retained only when a flush is due. The partition is
/// retained: after the gate is released a reshard may retire it, and the last map naming it
/// may go.
struct SingleWrite: CommitBatch {
    /// The caller's `self` (`Table.writeOne`), alive through the commit.
    unowned(unsafe) let table: Table
    let kind: RecordKind
    let key: UnsafeRawBufferPointer
    let value: UnsafeRawBufferPointer
    /// The layout `key` was encoded in.
    let layout: KeyLayout
    /// The map the key was encoded from, for the first routing (saves taking the map's lock
    /// twice per put); later tries read the table's current map. The caller's argument,
    /// alive through the commit.
    private unowned(unsafe) var firstMap: PartitionMap?
    private(set) var layoutChanged = false
    private var partition: Partition?
    /// The memtable's size after the apply, read under the gate.
    private var memtableBytes = 0
    /// The memtable applied to, retained only at or past `flushSize` (`afterCommit` may freeze
    /// it or wait for its flush; below, `Flusher.afterWrite` returns before looking at it).
    private var fullMemtable: Memtable?
    private let flushSize: Int

    init(table: Table, kind: RecordKind, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, map: PartitionMap,
         flushSize: Int) {
        self.table = table
        self.kind = kind
        self.key = key
        self.value = value
        layout = map.layout
        firstMap = map
        self.flushSize = flushSize
    }

    @inline(__always)
    mutating func route() -> HeldGates {
        let p: Partition
        if let map = firstMap {
            firstMap = nil
            layoutChanged = map.layout != layout
            p = map.partition(for: key)
        } else {
            let map = table.map
            layoutChanged = map.layout != layout
            p = map.partition(for: key)
        }
        p.gate.lockShared()
        partition = p
        return .one(Unmanaged.passUnretained(p))
    }

    var needsIndexMaintenance: Bool { table.hasIndexes.load(ordering: .acquiring) }
    var payloadSize: Int { WALFormat.opSize(tableID: table.id, keyCount: key.count, valueCount: value.count) }
    var operationCount: Int { 1 }
    func checkUsable() throws(AugurError) { try table.checkUsable() }

    @inline(__always)
    func encode(into w: inout WALPayloadWriter) { w.add(kind: kind, tableID: table.id, key: key, value: value) }

    @inline(__always)
    mutating func apply(firstSeq: UInt64) {
        let p = partition.unsafelyUnwrapped
        // Unretained: under the gate the partition holds its active memtable.
        let m = p.activeMemtable
        p.writeLock.lock()
        m.apply(key: key, seq: firstSeq, kind: kind, value: value)
        p.writeLock.unlock()
        memtableBytes = m.approximateBytes
        if memtableBytes >= flushSize { fullMemtable = m }
    }

    func record(_ telemetry: Telemetry, costNanos: UInt64) {
        telemetry.record(kind == .put ? .store : .delete, partition.unsafelyUnwrapped, key: key, bytes: key.count + value.count,
                         costNanos: costNanos)
    }

    func afterCommit(_ engine: Engine) {
        guard let memtable = fullMemtable else { return }
        let flusher = engine.flusher
        flusher.sleepOff(flusher.afterWrite(to: partition.unsafelyUnwrapped, memtable: memtable, bytes: memtableBytes,
                                            written: key.count + value.count))
    }
}

/// The operations of a `WriteBatch`, on tables without secondary indexes.
struct BatchWrite: CommitBatch {
    let ops: [WriteBatch.Op]
    let payloadSize: Int
    private var routing = BatchRouting()

    /// `payloadSize`: the frame's payload for `ops` (the caller validated them on the way).
    init(ops: [WriteBatch.Op], payloadSize: Int) {
        self.ops = ops
        self.payloadSize = payloadSize
    }

    mutating func route() -> HeldGates { routing.route(ops) }
    var layoutChanged: Bool { routing.layoutChanged }
    var needsIndexMaintenance: Bool { ops.contains { $0.table.hasIndexes.load(ordering: .acquiring) } }
    var operationCount: Int { ops.count }
    func checkUsable() throws(AugurError) { try ops.checkUsable() }

    func encode(into w: inout WALPayloadWriter) {
        for op in ops {
            op.key.withUnsafeBytes { k in op.value.withUnsafeBytes { v in w.add(kind: op.kind, tableID: op.table.id, key: k, value: v) } }
        }
    }

    mutating func apply(firstSeq: UInt64) {
        for (i, op) in ops.enumerated() {
            let p = routing.targets[i]
            let memtable = p.activeMemtable
            op.key.withUnsafeBytes { k in
                op.value.withUnsafeBytes { v in
                    p.writeLock.withLock { memtable.apply(key: k, seq: firstSeq + UInt64(i), kind: op.kind, value: v) }
                }
            }
        }
    }

    func record(_ telemetry: Telemetry, costNanos: UInt64) {
        let share = costNanos / UInt64(ops.count)
        for (i, op) in ops.enumerated() {
            op.key.withUnsafeBytes { k in
                telemetry.record(op.kind == .put ? .store : .delete, routing.targets[i], key: k, bytes: op.key.count + op.value.count, costNanos: share)
            }
        }
    }

    /// Key and value bytes of the operations routed to `p` (a slowed writer's charge).
    private func bytes(to p: Partition) -> Int {
        var sum = 0
        for (i, op) in ops.enumerated() where routing.targets[i] === p { sum += op.key.count + op.value.count }
        return sum
    }

    func afterCommit(_ engine: Engine) {
        var owed: UInt64 = 0
        for p in routing.distinct {
            // Through the view (retained): outside the gates `activeMemtable` may name a
            // memtable a writer froze and the flush lane freed meanwhile.
            let memtable = p.view.memtable
            owed = max(owed, engine.flusher.afterWrite(to: p, memtable: memtable, bytes: memtable.approximateBytes, written: bytes(to: p)))
        }
        engine.flusher.sleepOff(owed)
    }
}
