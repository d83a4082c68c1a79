// The memtable: a skiplist in an arena, in the manner of LevelDB's, with one twist — each key
// has exactly one node, and the node points at its newest value record through an atomic
// pointer. An overwrite allocates a new value record and publishes it with a release store;
// the node never moves. So readers never lock, never see a torn value, and scans see at most
// one version per key.
//
// Threading contract: any number of readers may run concurrently with one writer. Writers are
// serialised by the owner (the partition's `writeLock`). Memory lives until the memtable
// object dies; readers keep it alive by holding a reference.
//
// Node layout (8-byte aligned, from the front of an arena chunk):
//   0   value record pointer (atomic)
//   8   key prefix  u32: the key's first 4 bytes as a big-endian number, zero-padded
//   12  height << 24 | key length   u32 (keys are at most 1 MiB, `EngineOptions.validate`)
//   16  next[height] pointers (atomic)
//   16+8h key bytes
// Why the prefix: a search is bound by the cache misses of the nodes it visits (fillrandom:
// two thirds of the search's samples wait for a node's header), and a node's key lies past
// its pointers, for a tall or straddling node on the next cache line (another eighth of them
// waited there). Keys whose first 4 bytes differ are ordered by the prefix, beside the
// header; the key bytes are read only on a tie. Four bytes, not eight: the header stays 16
// bytes (an 8-byte prefix made every node 8 bytes larger and the search no faster).
// Value record layout (from the back of an arena chunk):
//   0   sequence number u64
//   8   value length    u32
//   12  kind            u32   (1 = put, 2 = delete)
//   16  value bytes
import AugurSys
import CAugurSys
import Synchronization

/// What a record does to its key.
public enum RecordKind: UInt8, Sendable {
    case put = 1
    case delete = 2
}

/// Bump allocator in chunks, from both ends of each: skiplist nodes from the front, value
/// records from the back (`End`). Not thread-safe: used by the single writer. Chunks come from
/// and go back to `ArenaChunkPool`; values too large for a chunk get an allocation of their own.
///
/// Chunk sizes grow: a memtable's first chunk is `firstChunkSize` (16 KiB), each next one four
/// times the last (64 KiB, 256 KiB, 1 MiB), up to `chunkSize` (2 MiB), the size of every chunk
/// after that. Why: every partition always holds an active memtable, and with one 1 MiB chunk
/// as the least a memtable took, a store of a thousand partitions reserved a GiB for memtables
/// holding a few writes each, and the memory budget (`memtableBudgetBytes`, which counts
/// chunks) saw a MiB per partition that had been written at all. Now a memtable with a few
/// writes holds 16 KiB, and the extra chunks a full 32 MiB memtable takes on its way up cost
/// nothing measurable.
///
/// Why full-size chunks are 2 MiB huge pages (`HugePageMemory`): a search in a full memtable
/// visits ~35 nodes spread over its 32 MiB; with 4 KiB pages most visits missed the TLB as well
/// as the cache. On 2 MiB pages a full memtable takes 16 TLB entries: inserts 15-24 % and
/// lookups 22-30 % faster in `augur-bench --workload memtable` (docs/PERFORMANCE.md).
///
/// Why two ends: a search touches only nodes — about four per level at branching factor 4,
/// most of them cache misses in a 32 MiB memtable. Laid out in arrival order, each node sat
/// next to its value record, so with 100-byte values the nodes were ~160 bytes apart; with the
/// records packed from the other end they are ~45 bytes apart, and the nodes a search visits
/// share more cache lines and pages. fillrandom at one thread (16-byte keys, 100-byte values):
/// 8-12 % more puts per second (docs/PERFORMANCE.md). One chunk for both keeps a memtable's
/// smallest footprint at one chunk (two arenas would double it per partition).
struct Arena: ~Copyable {
    /// The largest chunk, and the size of every chunk once a memtable has grown past the
    /// smaller ones. A value above a quarter of it gets an allocation of its own.
    static let chunkSize = 2 << 20
    /// A memtable's first chunk; the next ones are 4× larger up to `chunkSize`.
    static let firstChunkSize = 16 << 10
    /// Which end of the current chunk an allocation comes from.
    enum End { case nodes, values }
    private var chunks: [(address: UnsafeMutableRawPointer, size: Int)] = []
    private var large: [UnsafeMutableRawPointer] = []
    private var front: UnsafeMutableRawPointer? = nil   // the next node's address
    private var back: UnsafeMutableRawPointer? = nil    // the last value record's address
    private var remaining = 0                           // back - front
    private var nextChunkSize = Arena.firstChunkSize
    private(set) var allocatedBytes = 0

    mutating func allocate(_ size: Int, from end: End = .nodes) -> UnsafeMutableRawPointer {
        let size = (size + 7) & ~7
        if size > remaining {
            if size > Arena.chunkSize / 4 {
                // Large values get a chunk of their own so the current chunk's tail is not wasted.
                let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
                large.append(p)
                allocatedBytes += size
                return p
            }
            // The next size up, or a larger one when the record needs it.
            var chunk = nextChunkSize
            while chunk < size { chunk *= 4 }
            nextChunkSize = min(chunk * 4, Arena.chunkSize)
            let p = ArenaChunkPool.take(size: chunk)
            chunks.append((p, chunk))
            front = p
            back = p + chunk
            remaining = chunk
            allocatedBytes += chunk
        }
        remaining -= size
        switch end {
        case .nodes:
            let p = front!
            front = p + size
            return p
        case .values:
            let p = back! - size
            back = p
            return p
        }
    }

    deinit {
        ArenaChunkPool.give(chunks)
        for c in large { c.deallocate() }
    }
}

/// Chunks of freed memtables, kept for the next ones, and a reserve of fresh full-size chunks
/// kept ready for writers (process-wide, `shared`; of each size class at most `capacity`).
///
/// Why recycle: a writer that needs a new chunk from malloc may have to grow the heap (brk) or
/// map memory, and both take the process's mmap lock for writing — behind whoever holds it (an
/// munmap of a large segment mapping, a populate): writers of `fillrandom` at one thread waited
/// up to 14 ms there. With memtables recycled through the pool, a steady write load maps few
/// chunks after the first memtable is freed, and the recycled chunks' pages are already
/// faulted in. The bound (32 chunks of 2 MiB, two default-sized memtables, 64 MiB; and 64 of
/// each smaller size, 85 MiB) caps what an idle process keeps.
///
/// Why a reserve as well: freed memtables give their chunks back only after their flush, so
/// under a steady load the pool still ran dry now and then (`strace` of a 10-s one-thread
/// fillrandom: 23 chunks mapped by the writer itself after the warm-up). Such a put mapped
/// 4 MiB, unmapped the unaligned part and advised the rest (three takings of the mmap lock for
/// writing, each behind whoever held it for reading: the WAL's populate, a page fault), then
/// zeroed a 2 MiB huge page on its first store — in `perf sched` traces the writer waited in
/// `rwsem_down_write_slowpath` under `mmap`/`munmap` and ran 2.2 ms in `folio_zero_user`. So
/// when a `take` leaves fewer than half of `reserve` full-size chunks, a background thread
/// (`refillLane`, lowered priority) maps and faults in new ones until there are `reserve`
/// again, and the chunk costs a writer a pop from a list. The writer maps a chunk itself only
/// when the reserve is gone (the lane starved, or a burst faster than it).
///
/// Thread-safety: a mutex around a list of addresses per size; `take` on a writer, `give`
/// wherever the last reference to a memtable goes, the refill on its lane.
final class ArenaChunkPool: Sendable {
    /// The pool every memtable uses.
    static let shared = ArenaChunkPool(reserve: 8)

    /// Chunks kept of each smaller size; of full-size chunks, two default memtables' worth.
    static let capacity = 64
    static func capacity(_ size: Int) -> Int { size == Arena.chunkSize ? 32 : capacity }
    /// The chunk sizes an arena uses: 16 KiB × 4ⁱ up to `Arena.chunkSize`.
    static let sizes: [Int] = {
        var out: [Int] = []
        var s = Arena.firstChunkSize
        while s < Arena.chunkSize { out.append(s); s *= 4 }
        return out + [Arena.chunkSize]
    }()
    private static func sizeClass(_ size: Int) -> Int? { sizes.firstIndex(of: size) }
    private static let fullSizeClass = sizes.count - 1

    /// Full-size chunks kept ready (`shared`: 8, 16 MiB — at 100 MB/s of memtable writes a
    /// writer takes a chunk every 20 ms, and the lane makes one in well under a millisecond).
    let reserve: Int
    private let free = Mutex<[[UInt]]>(ArenaChunkPool.sizes.map { _ in
        var a: [UInt] = []
        a.reserveCapacity(ArenaChunkPool.capacity)
        return a
    })
    /// Maps and faults in reserve chunks. Nice 10, the default of the engine's background
    /// work (`EngineOptions.backgroundNice`; the pool is process-wide, not an engine's).
    /// Unrestricted until an engine whose lanes keep to CPUs of their own opens
    /// (`placeRefills`): a refill zeroes 2 MiB huge pages, 4 ms of kernel time each where the
    /// host backs the memory lazily, and on the writer's CPU that was one tick of a
    /// one-thread fillrandom's put (perf, docs/PERFORMANCE.md "The flush's WAL sync").
    private let refillLane: Mutex<BackgroundLane>
    /// Whether a refill is queued and has not started, so a burst of takes queues one.
    private let refillQueued = Atomic<Bool>(false)

    init(reserve: Int) {
        precondition(reserve >= 0 && reserve <= ArenaChunkPool.capacity(Arena.chunkSize), "Augur bug: reserve \(reserve)")
        self.reserve = reserve
        refillLane = Mutex(BackgroundLane(name: "augur.arena", nice: 10))
    }

    /// Refills run on `placement`'s home CPUs from now on, unless an earlier call already
    /// placed them: the pool serves every engine of the process, and the first engine that
    /// keeps its lanes to CPUs of its own decides, for the life of the process. The lane keeps
    /// to them with a placement of its own that never spreads: joined to the engine's, it
    /// would count in that engine's starvation review and move with that engine only. A
    /// placement without a home changes nothing. A refill queued on the lane replaced is
    /// waited for here.
    func placeRefills(_ placement: LanePlacement) {
        guard let home = placement.home else { return }
        let replaced: BackgroundLane? = refillLane.withLock { lane in
            guard lane.cpus == nil else { return nil }
            let old = lane
            lane = BackgroundLane(name: "augur.arena", nice: 10, placement: LanePlacement(home: home, wide: [], adapts: false))
            return old
        }
        replaced?.sync {}
    }

    /// The refill lane (tests).
    var refillLaneNow: BackgroundLane { refillLane.withLock { $0 } }

    static func take(size: Int) -> UnsafeMutableRawPointer { shared.take(size: size) }
    static func give(_ chunks: [(address: UnsafeMutableRawPointer, size: Int)]) { shared.give(chunks) }

    func take(size: Int) -> UnsafeMutableRawPointer {
        if let c = Self.sizeClass(size) {
            let (address, left) = free.withLock { lists in (lists[c].popLast(), lists[c].count) }
            if c == Self.fullSizeClass && left < reserve / 2 { requestRefill() }
            if let address { return UnsafeMutableRawPointer(bitPattern: address)! }
        }
        if size == Arena.chunkSize { return HugePageMemory.allocate(bytes: size) }
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
    }

    /// Frees a chunk the pool has no room for (`take`'s allocation of its size).
    private static func release(_ chunk: UnsafeMutableRawPointer, size: Int) {
        if size == Arena.chunkSize { HugePageMemory.release(chunk, bytes: size) } else { chunk.deallocate() }
    }

    func give(_ chunks: [(address: UnsafeMutableRawPointer, size: Int)]) {
        var dropped: [(address: UnsafeMutableRawPointer, size: Int)] = []
        free.withLock { lists in
            for (address, size) in chunks {
                if let c = Self.sizeClass(size), lists[c].count < Self.capacity(size) {
                    lists[c].append(UInt(bitPattern: address))
                } else {
                    dropped.append((address, size))
                }
            }
        }
        for c in dropped { Self.release(c.address, size: c.size) }
    }

    private func requestRefill() {
        if refillQueued.exchange(true, ordering: .acquiringAndReleasing) { return }
        refillLane.withLock { $0 }.async { [self] in
            refillQueued.store(false, ordering: .releasing)    // a take from here on queues the next
            refill()
        }
    }

    /// Maps and faults in full-size chunks until the pool holds `reserve` of them, yielding the
    /// CPU after each (a chunk is a map and 2 MiB of zeroing).
    private func refill() {
        while free.withLock({ $0[Self.fullSizeClass].count }) < reserve {
            let chunk = HugePageMemory.allocate(bytes: Arena.chunkSize)
            HugePageMemory.prefault(chunk, bytes: Arena.chunkSize)
            give([(chunk, Arena.chunkSize)])
            ThreadPause.yield()
        }
    }

    /// Waits for a queued refill (tests).
    func drainRefill() { refillLane.withLock { $0 }.sync {} }

    /// Chunks of `Arena.chunkSize` held now (tests).
    var count: Int { free.withLock { $0[Self.fullSizeClass].count } }

    /// Returns every chunk held (tests: a pool of their own, released at the end).
    func releaseAll() {
        let held = free.withLock { lists in
            defer { for c in lists.indices { lists[c].removeAll() } }
            return lists
        }
        for (c, list) in held.enumerated() {
            for address in list { Self.release(UnsafeMutableRawPointer(bitPattern: address)!, size: Self.sizes[c]) }
        }
    }
}

/// One entry as seen by a reader: pointers into the memtable's arena, valid while the
/// memtable is alive.
package struct MemtableEntry {
    package let key: UnsafeRawBufferPointer
    package let seq: UInt64
    package let kind: RecordKind
    package let value: UnsafeRawBufferPointer
}

/// Thread-safety: the writer's fields (`arena`, `height`, `rng`, `prevs`, `_count`, `maxSeq`) are
/// touched by one writer at a time (the partition's write lock); readers use only the atomic
/// node and value links and the published counters and height.
package final class Memtable: @unchecked Sendable {
    static let maxHeight = 12
    private static let nodeHeader = 16
    private static let valueHeader = 16

    private var arena = Arena()
    private let head: UnsafeMutableRawPointer
    private var height = 1                       // the writer's; readers read `publishedHeight`
    private var rng: UInt64
    private let prevs: UnsafeMutablePointer<UnsafeMutableRawPointer>
    /// Distinct keys, counted by the writer (under the partition's write lock).
    private var _count = 0
    /// `_count` published for readers on other threads (stats, telemetry, the controller),
    /// which must not read the writer's plain field while it changes.
    private let publishedCount: UnsafeMutablePointer<UInt64>
    /// `height` published for readers, who start their search at its top level instead of at
    /// `maxHeight`: an empty or small memtable's lookup no longer walks twelve levels of nil
    /// (about 150 of a readrandom get's ~1,700 instructions when every memtable is empty).
    /// A stale value is harmless: lower, the search starts lower (every node above is linked
    /// below too); higher, the head's pointers up there are nil until a node is linked.
    private let publishedHeight: UnsafeMutablePointer<UInt64>
    /// Arena bytes in use; read by the flush trigger from any thread (relaxed).
    private let bytesUsed: UnsafeMutablePointer<UInt64>
    /// Smallest and largest sequence numbers applied (writer-only; read after quiescing).
    private(set) var maxSeq: UInt64 = 0

    package init(seed: UInt64 = 0x9E3779B97F4A7C15) {
        rng = seed | 1
        prevs = .allocate(capacity: Memtable.maxHeight)
        bytesUsed = .allocate(capacity: 1)
        bytesUsed.initialize(to: 0)
        publishedCount = .allocate(capacity: 1)
        publishedCount.initialize(to: 0)
        publishedHeight = .allocate(capacity: 1)
        publishedHeight.initialize(to: 1)
        let size = Memtable.nodeHeader + 8 * Memtable.maxHeight
        head = arena.allocate(size)
        head.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        storeU32(head, 12, UInt32(Memtable.maxHeight) << 24)
    }

    deinit {
        prevs.deallocate()
        bytesUsed.deallocate()
        publishedCount.deallocate()
        publishedHeight.deallocate()
    }

    /// Approximate memory held, in bytes (any thread).
    package var approximateBytes: Int {
        Int(caugur_load_acquire_u64(bytesUsed))
    }

    /// Number of distinct keys (any thread; as of the last completed insert).
    package var count: Int { Int(caugur_load_acquire_u64(publishedCount)) }
    var isEmpty: Bool { nextNode(head, 0) == nil }

    // MARK: node accessors

    @inline(__always) private func nextSlot(_ node: UnsafeMutableRawPointer, _ level: Int) -> UnsafeMutablePointer<UnsafeMutableRawPointer?> {
        (node + Memtable.nodeHeader + 8 * level).assumingMemoryBound(to: UnsafeMutableRawPointer?.self)
    }
    @inline(__always) private func nextNode(_ node: UnsafeMutableRawPointer, _ level: Int) -> UnsafeMutableRawPointer? {
        nextSlot(node, level).withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 1) { slot in
            caugur_load_acquire_ptr(UnsafeRawPointer(slot).assumingMemoryBound(to: UnsafeMutableRawPointer?.self))
        }
    }
    @inline(__always) private func setNext(_ node: UnsafeMutableRawPointer, _ level: Int, _ value: UnsafeMutableRawPointer?) {
        caugur_store_release_ptr(nextSlot(node, level), value)
    }
    /// `key`'s first 4 bytes as a big-endian number, zero-padded: ordered as the keys are
    /// wherever two prefixes differ (a shorter key pads with zeros, below any byte it lacks).
    @inline(__always) static func prefix(_ key: UnsafeRawBufferPointer) -> UInt32 {
        if key.count >= 4 { return UInt32(bigEndian: key.loadUnaligned(as: UInt32.self)) }
        var p: UInt32 = 0
        for i in 0..<key.count { p |= UInt32(key[i]) << (24 - 8 * UInt32(i)) }
        return p
    }

    /// The order of `node`'s key against `key` (whose prefix is `keyPrefix`): the sign only.
    @inline(__always) private func compare(_ node: UnsafeMutableRawPointer, _ key: UnsafeRawBufferPointer, _ keyPrefix: UInt32) -> Int {
        let p = node.load(fromByteOffset: 8, as: UInt32.self)
        if p != keyPrefix { return p < keyPrefix ? -1 : 1 }
        return compareKeys(keyOf(node), key)
    }

    @inline(__always) private func keyOf(_ node: UnsafeMutableRawPointer) -> UnsafeRawBufferPointer {
        let word = node.load(fromByteOffset: 12, as: UInt32.self)
        return UnsafeRawBufferPointer(start: node + Memtable.nodeHeader + 8 * Int(word >> 24), count: Int(word & 0xFF_FFFF))
    }
    @inline(__always) private func valueRecord(_ node: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        caugur_load_acquire_ptr(node.assumingMemoryBound(to: UnsafeMutableRawPointer?.self))!
    }

    private func entry(_ node: UnsafeMutableRawPointer) -> MemtableEntry {
        let v = valueRecord(node)
        return MemtableEntry(
            key: keyOf(node), seq: loadU64(v), kind: RecordKind(rawValue: UInt8(loadU32(v, 12))) ?? .put,
            value: UnsafeRawBufferPointer(start: v + Memtable.valueHeader, count: Int(loadU32(v, 8))))
    }

    // MARK: search

    /// The level a reader's search starts at (`publishedHeight`).
    @inline(__always) private var readerTopLevel: Int { Int(caugur_load_acquire_u64(publishedHeight)) - 1 }

    /// First node with key ≥ `key` (whose prefix is `keyPrefix`: callers that compare the
    /// node found compute it once); fills `prevs` when asked (writer only: it starts at the
    /// list's height, which only the writer may read; `apply` points the levels above at head).
    private func findGreaterOrEqual(_ key: UnsafeRawBufferPointer, _ keyPrefix: UInt32, fillPrevs: Bool) -> UnsafeMutableRawPointer? {
        var x = head
        var level = fillPrevs ? height - 1 : readerTopLevel
        while true {
            let next = nextNode(x, level)
            if let next, compare(next, key, keyPrefix) < 0 {
                x = next
            } else {
                if fillPrevs { prevs[level] = x }
                if level == 0 { return next }
                level -= 1
            }
        }
    }

    /// Last node with key < `key` (head when none).
    private func findLessThan(_ key: UnsafeRawBufferPointer) -> UnsafeMutableRawPointer {
        let keyPrefix = Memtable.prefix(key)
        var x = head
        var level = readerTopLevel
        while true {
            if let next = nextNode(x, level), compare(next, key, keyPrefix) < 0 {
                x = next
            } else {
                if level == 0 { return x }
                level -= 1
            }
        }
    }

    private func findLast() -> UnsafeMutableRawPointer {
        var x = head
        var level = readerTopLevel
        while true {
            if let next = nextNode(x, level) {
                x = next
            } else {
                if level == 0 { return x }
                level -= 1
            }
        }
    }

    // MARK: writer

    private func randomHeight() -> Int {
        var h = 1
        while h < Memtable.maxHeight {
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            if rng & 3 != 0 { break }      // branching factor 4, as LevelDB
            h += 1
        }
        return h
    }

    /// Applies a record. If the key already holds a newer sequence number (writers to one key
    /// can reach the memtable out of order), the older record is dropped. Caller holds the
    /// partition's write lock.
    package func apply(key: UnsafeRawBufferPointer, seq: UInt64, kind: RecordKind, value: UnsafeRawBufferPointer) {
        let v = arena.allocate(Memtable.valueHeader + value.count, from: .values)
        storeU64(v, 0, seq)
        storeU32(v, 8, UInt32(value.count))
        storeU32(v, 12, UInt32(kind.rawValue))
        if value.count > 0 { (v + Memtable.valueHeader).copyMemory(from: value.baseAddress!, byteCount: value.count) }
        if seq > maxSeq { maxSeq = seq }

        let keyPrefix = Memtable.prefix(key)
        let found = findGreaterOrEqual(key, keyPrefix, fillPrevs: true)
        if let found, compare(found, key, keyPrefix) == 0 {
            if loadU64(valueRecord(found)) < seq {
                caugur_store_release_ptr(UnsafeMutableRawPointer(found).assumingMemoryBound(to: UnsafeMutableRawPointer?.self), v)
            }
        } else {
            assert(key.count <= 0xFF_FFFF, "a key of \(key.count) bytes: the engine's limit is 1 MiB")
            let h = randomHeight()
            let node = arena.allocate(Memtable.nodeHeader + 8 * h + key.count)
            node.storeBytes(of: v, as: UnsafeMutableRawPointer.self)
            node.storeBytes(of: keyPrefix, toByteOffset: 8, as: UInt32.self)
            node.storeBytes(of: UInt32(h) << 24 | UInt32(key.count), toByteOffset: 12, as: UInt32.self)
            if key.count > 0 { (node + Memtable.nodeHeader + 8 * h).copyMemory(from: key.baseAddress!, byteCount: key.count) }
            if h > height {
                for level in height..<h { prevs[level] = head }
                height = h
                caugur_store_release_u64(publishedHeight, UInt64(h))
            }
            // Link bottom-up: a reader that finds the node at level i also finds it below.
            for level in 0..<h {
                nextSlot(node, level).pointee = nextNode(prevs[level], level)
                setNext(prevs[level], level, node)
            }
            _count += 1
            caugur_store_release_u64(publishedCount, UInt64(_count))
        }
        caugur_store_release_u64(bytesUsed, UInt64(arena.allocatedBytes))
    }

    // MARK: readers

    /// The newest record for `key`, if any (any thread).
    package func lookup(_ key: UnsafeRawBufferPointer) -> MemtableEntry? {
        let keyPrefix = Memtable.prefix(key)
        guard let node = findGreaterOrEqual(key, keyPrefix, fillPrevs: false), compare(node, key, keyPrefix) == 0 else { return nil }
        return entry(node)
    }

    /// Starts loading what a forward walk reads next, one and two steps ahead of `node` (a
    /// hint: no effect on what the walk sees). Why: a walk in key order visits nodes in random
    /// arena order, and each step waited for two cache misses in a row, the next node's
    /// header, then its value record through the pointer in it — a flush of fillrandom's
    /// memtable spent about half its CPU time on those two loads (perf annotate, `augur-bench
    /// --workload flush`). Here the node after next starts loading while `node` is written
    /// out, and the value record of the next node, whose header an earlier step already
    /// asked for. The links are read as a reader reads them (acquire loads), so a walk beside
    /// a writer prefetches only nodes it may visit.
    @inline(__always) fileprivate func prefetchAhead(of node: UnsafeMutableRawPointer) {
        guard let next = nextNode(node, 0) else { return }
        let record = UnsafeRawPointer(valueRecord(next))
        caugur_prefetch_read(record)
        caugur_prefetch_read(record + 64)           // a 100-byte value's record spans two lines
        if let after = nextNode(next, 0) { caugur_prefetch_read(UnsafeRawPointer(after)) }
    }

    /// A cursor over the memtable in key order. Valid while the memtable is alive; sees
    /// inserts that happen concurrently (or not), never a torn entry. Forward steps prefetch
    /// the nodes ahead (`prefetchAhead`).
    struct Cursor {
        let table: Memtable
        private(set) var node: UnsafeMutableRawPointer?

        init(_ table: Memtable) {
            self.table = table
            node = nil
        }

        var isValid: Bool { node != nil }
        var current: MemtableEntry { table.entry(node!) }

        mutating func seekToFirst() {
            node = table.nextNode(table.head, 0)
            if let node { table.prefetchAhead(of: node) }
        }
        mutating func seek(atLeast key: UnsafeRawBufferPointer) {
            node = table.findGreaterOrEqual(key, Memtable.prefix(key), fillPrevs: false)
            if let node { table.prefetchAhead(of: node) }
        }
        mutating func seekToLast() {
            let n = table.findLast()
            node = n == table.head ? nil : n
        }
        mutating func seek(before key: UnsafeRawBufferPointer) {
            let n = table.findLessThan(key)
            node = n == table.head ? nil : n
        }
        mutating func next() {
            node = table.nextNode(node!, 0)
            if let node { table.prefetchAhead(of: node) }
        }
        mutating func prev() {
            let n = table.findLessThan(table.keyOf(node!))
            node = n == table.head ? nil : n
        }
    }
}

