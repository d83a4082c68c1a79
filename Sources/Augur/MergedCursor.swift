/// One sorted source under a merge: a memtable or a segment run.
enum SourceCursor {
    case memtable(Memtable.Cursor)
    case segment(Segment.Cursor)

    var isValid: Bool {
        switch self {
        case .memtable(let c): c.isValid
        case .segment(let c): c.isValid
        }
    }
    var key: UnsafeRawBufferPointer {
        switch self {
        case .memtable(let c): c.current.key
        case .segment(let c): c.current.key
        }
    }
    var kind: RecordKind {
        switch self {
        case .memtable(let c): c.current.kind
        case .segment(let c): c.current.kind
        }
    }
    var value: UnsafeRawBufferPointer {
        switch self {
        case .memtable(let c): c.current.value
        case .segment(let c): c.current.value
        }
    }
    /// The current record's kind, key and value at once: one look at the source where the three
    /// accessors above take three (each a copy of the source's cursor, its retain and release,
    /// and of a segment a parse of the record's header). For loops that read all three.
    var record: (kind: RecordKind, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        switch self {
        case .memtable(let c):
            let e = c.current
            return (e.kind, e.key, e.value)
        case .segment(let c):
            let r = c.current
            return (r.kind, r.key, r.value)
        }
    }
    mutating func seekToFirst() {
        switch self {
        case .memtable(var c): c.seekToFirst(); self = .memtable(c)
        case .segment(var c): c.seekToFirst(); self = .segment(c)
        }
    }
    mutating func seekToLast() {
        switch self {
        case .memtable(var c): c.seekToLast(); self = .memtable(c)
        case .segment(var c): c.seekToLast(); self = .segment(c)
        }
    }
    mutating func seek(atLeast key: UnsafeRawBufferPointer) {
        switch self {
        case .memtable(var c): c.seek(atLeast: key); self = .memtable(c)
        case .segment(var c): c.seek(atLeast: key); self = .segment(c)
        }
    }
    mutating func seek(before key: UnsafeRawBufferPointer) {
        switch self {
        case .memtable(var c): c.seek(before: key); self = .memtable(c)
        case .segment(var c): c.seek(before: key); self = .segment(c)
        }
    }
    mutating func next() {
        switch self {
        case .memtable(var c): c.next(); self = .memtable(c)
        case .segment(var c): c.next(); self = .segment(c)
        }
    }
    mutating func prev() {
        switch self {
        case .memtable(var c): c.prev(); self = .memtable(c)
        case .segment(var c): c.prev(); self = .segment(c)
        }
    }
}

/// Merges a partition's sources (newest first) into one key-ordered stream with one record
/// per key: the newest source's record wins. Tombstones are surfaced (callers decide whether
/// to keep them: a flush into a run over older runs must, a full merge or a scan must not).
///
/// Each source's current key is read once per move of that source and kept (`keys`): choosing
/// the next record compares every source's key, and reading a key through the source costs a
/// copy of its cursor (a retain and a release) and, of a segment, a parse of the record's
/// header — with a memtable and four runs about fifteen of each per record merged.
///
/// Not thread-safe; the sources it holds keep their memtables and segments alive, and with
/// them the key bytes `keys` points at.
struct MergedCursor {
    private var sources: [SourceCursor]
    /// `sources[i]`'s current key, nil when it is exhausted.
    private var keys: [UnsafeRawBufferPointer?]
    private var currentIndex = -1
    private let reverse: Bool

    init(view: PartitionView, reverse: Bool = false) {
        var s: [SourceCursor] = [.memtable(Memtable.Cursor(view.memtable))]
        for f in view.frozen { s.append(.memtable(Memtable.Cursor(f.memtable))) }
        for r in view.runs { s.append(.segment(Segment.Cursor(r))) }
        self.init(sources: s, reverse: reverse)
    }

    init(sources: [SourceCursor], reverse: Bool = false) {
        self.sources = sources
        keys = Array(repeating: nil, count: sources.count)
        self.reverse = reverse
    }

    var isValid: Bool { currentIndex >= 0 }
    var key: UnsafeRawBufferPointer { keys[currentIndex]! }
    var kind: RecordKind { sources[currentIndex].kind }
    var value: UnsafeRawBufferPointer { sources[currentIndex].value }
    var record: (kind: RecordKind, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) { sources[currentIndex].record }

    /// Positions at the first key ≥ `start` (forward) or the last key < `end` (reverse).
    mutating func position(start: [UInt8]?, end: [UInt8]?) {
        for i in sources.indices {
            if reverse {
                if let end { end.withUnsafeBytes { sources[i].seek(before: $0) } } else { sources[i].seekToLast() }
            } else {
                if let start { start.withUnsafeBytes { sources[i].seek(atLeast: $0) } } else { sources[i].seekToFirst() }
            }
            keys[i] = sources[i].isValid ? sources[i].key : nil
        }
        pick()
    }

    /// Chooses the smallest (largest, in reverse) key; ties go to the newest source.
    private mutating func pick() {
        var best = -1
        var bestKey = UnsafeRawBufferPointer(start: nil, count: 0)
        for i in keys.indices {
            guard let k = keys[i] else { continue }
            if best < 0 {
                best = i
                bestKey = k
                continue
            }
            let c = compareKeys(k, bestKey)
            if reverse ? c > 0 : c < 0 {
                best = i
                bestKey = k
            }
        }
        currentIndex = best
    }

    /// Moves past the current key in every source that holds it.
    mutating func advance() {
        guard currentIndex >= 0, let k = keys[currentIndex] else { return }
        // Key bytes live in an arena or a mapping that the sources keep alive, so the pointer
        // stays valid while the cursors move.
        for i in keys.indices {
            guard let key = keys[i], compareKeys(key, k) == 0 else { continue }
            if reverse { sources[i].prev() } else { sources[i].next() }
            keys[i] = sources[i].isValid ? sources[i].key : nil
        }
        pick()
    }
}
