// One mapped segment file of the write-ahead log, and a position in it: the offsets the
// append protocol and group commit move forward (see WriteAheadLog.swift's header for the
// protocol; WALFormat.swift and docs/FORMAT.md for the bytes).
import AugurSys
import CAugurSys
import Synchronization

/// Thread-safety: `durableEnd`/`completeEnd` are guarded by the log's `syncLock`, `sealedEnd` by
/// its `rollLock`; the rest is immutable or atomic; writers copy into disjoint reserved ranges.
final class WALSegment: @unchecked Sendable {
    let number: UInt64
    let file: MappedFile
    /// Where batches must end: the file's size less the room kept for the seal.
    let capacity: Int
    /// Next free offset; set to `sealed` when the segment is full.
    let reserved: Atomic<Int>
    /// Highest sequence number written into this segment.
    let maxSeq = Atomic<UInt64>(0)
    /// Offset below which every frame is complete and synced (guarded by the log's syncLock).
    var durableEnd = 0 { didSet { durablePrefix.store(durableEnd, ordering: .relaxed) } }
    /// `durableEnd` for writers, who copy it into each frame (WALFormat: durable prefix).
    let durablePrefix = Atomic<Int>(0)
    /// Offset below which every frame is known complete (guarded by syncLock).
    var completeEnd = 0 { didSet { completeHint.store(completeEnd, ordering: .releasing) } }
    /// `completeEnd` for the roll, which waits for the full segment's last frames without
    /// syncLock (see `WriteAheadLog.roll`).
    let completeHint = Atomic<Int>(0)
    /// End of data once sealed (guarded by rollLock), nil while current.
    var sealedEnd: Int? = nil

    static let sealed = Int.max / 2

    init(number: UInt64, file: MappedFile, start: Int) {
        self.number = number
        self.file = file
        capacity = file.capacity - WALFormat.sealFrameSize
        reserved = Atomic(start)
        durableEnd = start
        durablePrefix.store(start, ordering: .relaxed)
        completeEnd = start
        completeHint.store(start, ordering: .relaxed)
    }

    var path: String { file.path }

    /// Length word of the frame at `offset` (acquire: its contents are visible once non-zero).
    @inline(__always) func frameLength(at offset: Int) -> Int {
        Int(caugur_load_acquire_u32(file.base + offset + 4))
    }
}

/// Where a frame ended; what a writer waits to see durable.
struct WALPosition {
    let segment: WALSegment
    let end: Int
    /// Sequence number of the frame's first operation.
    let firstSeq: UInt64
}
