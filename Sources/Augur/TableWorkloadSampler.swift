// What the strategy advisor needs that the telemetry does not keep (StrategyAdvisor.swift): the
// user keys of sampled writes in arrival order (are they sequential, overall or per prefix?),
// and the length and first and last keys of scans. Operation rates come from the telemetry's
// windows instead (Engine.strategyWorkload).
//
// Cost on the write path: a write is sampled when the CRC-32C of its user key is 0 mod 32 — the
// CRC and a compare for every write, a lock and a copy of the key for one write in 32 (of
// distinct keys: an update of the same key is sampled always or never). Scans count every
// scan with two relaxed atomic adds, small against a scan's own cost.
//
// Thread-safety: any thread; the rings are behind one mutex each, taken only for samples.
import AugurPlanner
import AugurSys
import Synchronization

final class TableWorkloadSampler: Sendable {
    static let writeKeysKept = 2048
    static let scanSpansKept = 256
    static let writeSampleMask: UInt32 = 31
    static let scanSampleMask: UInt32 = 7

    /// The rates LOADHISTORY saved (point reads, scans, writes per second), used until the
    /// telemetry sees operations again.
    private let saved = Mutex<(Double, Double, Double)?>(nil)
    var savedRates: (Double, Double, Double)? { saved.withLock { $0 } }

    let scans = Atomic<UInt64>(0)
    let scannedRecords = Atomic<UInt64>(0)
    private let writeKeys = Mutex(Ring<[UInt8]>(capacity: TableWorkloadSampler.writeKeysKept))
    private let scanSpans = Mutex(Ring<StrategyWorkload.ScanSpan>(capacity: TableWorkloadSampler.scanSpansKept))

    @inline(__always)
    func sampleWrite(_ key: UnsafeRawBufferPointer) {
        guard CRC32C.checksum(key) & Self.writeSampleMask == 0 else { return }
        let copy = Array(key)
        writeKeys.withLock { $0.append(copy) }
    }

    func sampleScan(_ rows: [KeyValue]) {
        scans.add(1, ordering: .relaxed)
        scannedRecords.add(UInt64(rows.count), ordering: .relaxed)
        guard let first = rows.first, let last = rows.last, CRC32C.checksum(first.key) & Self.scanSampleMask == 0 else { return }
        scanSpans.withLock { $0.append(StrategyWorkload.ScanSpan(first: first.key, last: last.key)) }
    }

    var sampledWriteKeys: [[UInt8]] { writeKeys.withLock { $0.elements } }
    var sampledScanSpans: [StrategyWorkload.ScanSpan] { scanSpans.withLock { $0.elements } }

    /// Starts from a saved profile (LOADHISTORY), so a reopened store advises from what it saw.
    func restore(writeKeys saved: [[UInt8]], scanSpans spans: [StrategyWorkload.ScanSpan], scans: UInt64, scannedRecords: UInt64,
                 rates: (Double, Double, Double)) {
        self.saved.withLock { $0 = rates }
        writeKeys.withLock { ring in for k in saved { ring.append(k) } }
        scanSpans.withLock { ring in for s in spans { ring.append(s) } }
        self.scans.add(scans, ordering: .relaxed)
        self.scannedRecords.add(scannedRecords, ordering: .relaxed)
    }

    /// A fixed-capacity ring that keeps the newest elements.
    struct Ring<Element> {
        let capacity: Int
        private var storage: [Element] = []
        private var next = 0

        init(capacity: Int) { self.capacity = capacity }

        mutating func append(_ e: Element) {
            if storage.count < capacity {
                storage.append(e)
            } else {
                storage[next] = e
                next = (next + 1) % capacity
            }
        }

        /// Oldest first.
        var elements: [Element] { Array(storage[next...] + storage[..<next]) }
    }
}
