// NUMA placement: the seam between the build worker pool and the kernel (issue 9).
//
// `NumaPlacement` is what the pool calls to pin its threads, allocate node-local buffers and ask
// where the pages of a mapped range live. `LinuxNumaPlacement` does it for real (through the
// CAugurSys shim: pthread_setaffinity_np, numa_run_on_node, numa_alloc_onnode / numa_alloc_local,
// move_pages); `RecordingNumaPlacement` records every request and can be told to fail, so tests
// can check placement on a synthetic multi-node topology that this machine does not have.
import CAugurSys
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed placement request: what was asked and the errno the kernel (or libnuma) gave.
public struct NumaPlacementError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Operation: Equatable, Sendable {
        /// `pinCurrentThread(toCPU:)` (pthread_setaffinity_np with one CPU).
        case pinToCPU(Int)
        /// `runCurrentThread(onNode:)` (numa_run_on_node).
        case runOnNode(Int)
    }

    public let operation: Operation
    public let errno: Errno

    public init(_ operation: Operation, errno: Errno) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        switch operation {
        case .pinToCPU(let cpu): "pinning to CPU \(cpu) failed: \(errno) (errno \(errno.rawValue))"
        case .runOnNode(let node): "binding to node \(node) failed: \(errno) (errno \(errno.rawValue))"
        }
    }
}

/// Memory for a build buffer, preferably on one NUMA node. Freed (numa_free or free) when the
/// last reference goes away.
///
/// Thread-safety: the object is immutable; the bytes are the owner's to synchronise. Contents are
/// zero-filled at allocation. Page aligned.
public final class NumaBuffer: @unchecked Sendable {
    /// How the memory was obtained.
    public enum Backing: Equatable, Sendable {
        /// numa_alloc_onnode: bound to this node.
        case numaNode(Int)
        /// numa_alloc_local: on the node of the allocating thread (first touch by a pinned
        /// worker lands there too). Used when the requested node does not exist (a synthetic
        /// topology) or none was requested.
        case numaLocal
        /// posix_memalign: libnuma unavailable, or a test double.
        case aligned
    }

    public let base: UnsafeMutableRawPointer
    public let count: Int
    /// The node the caller asked for (nil: the allocating thread's node).
    public let requestedNode: Int?
    public let backing: Backing
    private let release: @Sendable (UnsafeMutableRawPointer, Int) -> Void

    public init(base: UnsafeMutableRawPointer, count: Int, requestedNode: Int?, backing: Backing,
                release: @escaping @Sendable (UnsafeMutableRawPointer, Int) -> Void) {
        self.base = base
        self.count = count
        self.requestedNode = requestedNode
        self.backing = backing
        self.release = release
    }

    deinit { release(base, count) }

    /// The buffer's bytes (valid while this object is alive).
    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }

    /// A zero-filled, page-aligned plain allocation (the fallback when NUMA is unavailable).
    public static func aligned(bytes: Int, requestedNode: Int?) -> NumaBuffer {
        let count = max(bytes, 1)
        var raw: UnsafeMutableRawPointer?
        let rc = posix_memalign(&raw, NumaPages.size, count)
        precondition(rc == 0 && raw != nil, "NumaBuffer: out of memory allocating \(count) bytes")
        memset(raw!, 0, count)
        return NumaBuffer(base: raw!, count: count, requestedNode: requestedNode, backing: .aligned) { p, _ in free(p) }
    }
}

/// The placement operations the build worker pool needs; the seam for tests.
///
/// Every method may be called from any thread; the `CurrentThread` ones act on the caller.
public protocol NumaPlacement: Sendable {
    /// Restricts the calling thread to `cpu` (sched_setaffinity with one CPU).
    func pinCurrentThread(toCPU cpu: Int) throws(NumaPlacementError)
    /// Restricts the calling thread to the CPUs of `node` (numa_run_on_node). Widens a CPU pin,
    /// so the pool calls it only when pinning to the CPU failed.
    func runCurrentThread(onNode node: Int) throws(NumaPlacementError)
    /// A zero-filled buffer on `node` (nil: the calling thread's node). Never fails short of
    /// running out of memory: an unknown node or missing libnuma falls back (see `NumaBuffer.Backing`).
    func allocateBuffer(bytes: Int, node: Int?) -> NumaBuffer
    /// The node holding the page at `address`, or nil when unknown (not faulted in, not mapped,
    /// the query is not permitted). Never faults the page in.
    func node(ofAddress address: UnsafeRawPointer) -> Int?
    /// `node(ofAddress:)` for many pages in one call (one move_pages system call on Linux).
    func nodes(ofPages pages: [UnsafeRawPointer]) -> [Int?]
}

extension NumaPlacement {
    public func nodes(ofPages pages: [UnsafeRawPointer]) -> [Int?] { pages.map { node(ofAddress: $0) } }

    /// Where a mapped range lives: samples up to `samples` pages spread evenly over `range` and
    /// returns the node holding most of the sampled pages that are resident (ties go to the
    /// lower node id). nil when no sampled page is resident or the query is not possible: then
    /// the range is "first touch", and whichever worker reads it first places its pages.
    public func preferredNode(forMappedRange range: UnsafeRawBufferPointer, samples: Int = 16) -> Int? {
        guard let base = range.baseAddress, range.count > 0, samples > 0 else { return nil }
        let pageSize = NumaPages.size
        let first = Int(bitPattern: base) & ~(pageSize - 1)
        let last = (Int(bitPattern: base) + range.count - 1) & ~(pageSize - 1)
        let pageCount = (last - first) / pageSize + 1
        let n = min(samples, pageCount)
        var pages: [UnsafeRawPointer] = []
        pages.reserveCapacity(n)
        for i in 0..<n {
            // Evenly spaced, first and last page included when n > 1.
            let page = n == 1 ? 0 : i * (pageCount - 1) / (n - 1)
            pages.append(UnsafeRawPointer(bitPattern: first + page * pageSize)!)
        }
        var votes: [Int: Int] = [:]
        for case let node? in nodes(ofPages: pages) { votes[node, default: 0] += 1 }
        return votes.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }?.key
    }

    /// `preferredNode(forMappedRange:)` over a whole mapped region.
    public func preferredNode(for region: MappedRegion, samples: Int = 16) -> Int? {
        preferredNode(forMappedRange: region.bytes, samples: samples)
    }
}

enum NumaPages {
    static var size: Int { MappedRegion.pageSize }
}

// MARK: - Linux

/// The real placement: pthread_setaffinity_np, numa_run_on_node, numa_alloc_onnode /
/// numa_alloc_local / numa_free, and move_pages(2) to query page nodes.
///
/// Without libnuma (numa_available() < 0, e.g. get_mempolicy blocked by a sandbox) node binding
/// fails with ENOSYS, buffers are plain aligned allocations and page queries return nil; CPU
/// pinning still works.
public struct LinuxNumaPlacement: NumaPlacement {
    public init() {}

    /// Whether libnuma is usable in this process.
    public var isNumaAvailable: Bool { caugur_numa_available() }

    public func pinCurrentThread(toCPU cpu: Int) throws(NumaPlacementError) {
        // CPU_SET ignores CPUs beyond CPU_SETSIZE; reject them here rather than pin to nothing.
        guard cpu >= 0, cpu < 1024 else { throw NumaPlacementError(.pinToCPU(cpu), errno: .invalidArgument) }
        let rc = caugur_pin_thread_to_cpu(Int32(cpu))
        if rc != 0 { throw NumaPlacementError(.pinToCPU(cpu), errno: Errno(rawValue: rc)) }
    }

    public func runCurrentThread(onNode node: Int) throws(NumaPlacementError) {
        guard node >= 0, node <= Int(Int32.max) else { throw NumaPlacementError(.runOnNode(node), errno: .invalidArgument) }
        let rc = caugur_numa_run_on_node(Int32(node))
        if rc != 0 { throw NumaPlacementError(.runOnNode(node), errno: Errno(rawValue: rc)) }
    }

    public func allocateBuffer(bytes: Int, node: Int?) -> NumaBuffer {
        let count = max(bytes, 1)
        var onNode: Int32 = 0
        let requested = node.flatMap { $0 >= 0 && $0 <= Int(Int32.max) ? Int32($0) : nil } ?? -1
        if let p = caugur_numa_alloc(count, requested, &onNode) {
            let backing: NumaBuffer.Backing = onNode != 0 ? .numaNode(Int(requested)) : .numaLocal
            return NumaBuffer(base: p, count: count, requestedNode: node, backing: backing) { p, n in caugur_numa_free(p, n) }
        }
        return NumaBuffer.aligned(bytes: count, requestedNode: node)
    }

    public func node(ofAddress address: UnsafeRawPointer) -> Int? {
        nodes(ofPages: [address])[0]
    }

    public func nodes(ofPages pages: [UnsafeRawPointer]) -> [Int?] {
        if pages.isEmpty { return [] }
        let mask = ~(NumaPages.size - 1)
        var aligned: [UnsafeRawPointer?] = pages.map { UnsafeRawPointer(bitPattern: Int(bitPattern: $0) & mask) }
        var status = [Int32](repeating: -1, count: pages.count)
        let ok = aligned.withUnsafeMutableBufferPointer { pp in
            status.withUnsafeMutableBufferPointer { sp in
                caugur_query_page_nodes(UInt(pages.count), pp.baseAddress, sp.baseAddress) == 0
            }
        }
        guard ok else { return Array(repeating: nil, count: pages.count) }
        return status.map { $0 >= 0 ? Int($0) : nil }
    }
}

// MARK: - Recording fake

/// A placement for tests: records every request (with the kernel thread id of the caller),
/// fails the CPUs and nodes it is told to, allocates plain aligned memory and answers page
/// queries from a table the test fills in. Touches no affinity.
/// Thread-safety: the recorded requests and the tables the test fills in live in one `Mutex`;
/// `failureErrno` is immutable.
public final class RecordingNumaPlacement: NumaPlacement, @unchecked Sendable {
    /// One recorded request.
    public enum Request: Equatable, Sendable {
        case pinToCPU(cpu: Int, thread: Int32, succeeded: Bool)
        case runOnNode(node: Int, thread: Int32, succeeded: Bool)
        case allocate(bytes: Int, node: Int?, thread: Int32)
    }

    private struct State {
        var requests: [Request] = []
        var failingCPUs: Set<Int>
        var failingNodes: Set<Int>
        var pageNodes: [Int: Int] = [:]
    }

    private let state: Mutex<State>
    /// The errno reported for failing requests.
    public let failureErrno: Errno

    /// - Parameters:
    ///   - failingCPUs: `pinCurrentThread(toCPU:)` throws for these.
    ///   - failingNodes: `runCurrentThread(onNode:)` throws for these.
    public init(failingCPUs: Set<Int> = [], failingNodes: Set<Int> = [], failureErrno: Errno = .invalidArgument) {
        state = Mutex(State(failingCPUs: failingCPUs, failingNodes: failingNodes))
        self.failureErrno = failureErrno
    }

    /// Every request so far, in the order they were made.
    public var requests: [Request] { state.withLock { $0.requests } }

    /// The CPUs asked for by each thread (kernel thread id → CPUs, in request order).
    public var pinRequestsByThread: [Int32: [Int]] {
        var result: [Int32: [Int]] = [:]
        for case let .pinToCPU(cpu, thread, _) in requests { result[thread, default: []].append(cpu) }
        return result
    }

    /// Makes `node(ofAddress:)` answer `node` for every page overlapping `range`.
    public func assignNode(_ node: Int, toPagesIn range: UnsafeRawBufferPointer) {
        guard let base = range.baseAddress, range.count > 0 else { return }
        let size = NumaPages.size
        let first = Int(bitPattern: base) & ~(size - 1)
        let last = (Int(bitPattern: base) + range.count - 1) & ~(size - 1)
        state.withLock { s in
            for page in stride(from: first, through: last, by: size) { s.pageNodes[page] = node }
        }
    }

    public func pinCurrentThread(toCPU cpu: Int) throws(NumaPlacementError) {
        let thread = caugur_thread_id()
        let fails = state.withLock { s in
            let fails = s.failingCPUs.contains(cpu)
            s.requests.append(.pinToCPU(cpu: cpu, thread: thread, succeeded: !fails))
            return fails
        }
        if fails { throw NumaPlacementError(.pinToCPU(cpu), errno: failureErrno) }
    }

    public func runCurrentThread(onNode node: Int) throws(NumaPlacementError) {
        let thread = caugur_thread_id()
        let fails = state.withLock { s in
            let fails = s.failingNodes.contains(node)
            s.requests.append(.runOnNode(node: node, thread: thread, succeeded: !fails))
            return fails
        }
        if fails { throw NumaPlacementError(.runOnNode(node), errno: failureErrno) }
    }

    public func allocateBuffer(bytes: Int, node: Int?) -> NumaBuffer {
        let thread = caugur_thread_id()
        state.withLock { $0.requests.append(.allocate(bytes: bytes, node: node, thread: thread)) }
        return NumaBuffer.aligned(bytes: bytes, requestedNode: node)
    }

    public func node(ofAddress address: UnsafeRawPointer) -> Int? {
        let page = Int(bitPattern: address) & ~(NumaPages.size - 1)
        return state.withLock { $0.pageNodes[page] }
    }
}
