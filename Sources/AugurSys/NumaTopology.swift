// NUMA topology: which CPUs belong to which node (issue 9, secondary index builds).
//
// `detect()` asks libnuma, then sysfs, then falls back to one node holding the CPUs of the
// thread's affinity mask. `synthetic(nodes:cpusPerNode:)` builds a made-up topology so tests can
// exercise multi-node placement on this one-node machine (with `RecordingNumaPlacement`; on the
// real placement, pinning to a CPU that does not exist fails with EINVAL, which the worker pool
// logs and survives).
import CAugurSys

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The machine's NUMA nodes and their CPUs, as the build worker pool sees them.
///
/// Immutable and `Sendable`. CPU ids are the kernel's (the numbers `sched_setaffinity` takes);
/// node ids are libnuma's. Each CPU belongs to at most one node; a node may have no CPU (a
/// memory-only node), in which case work preferring it goes to any worker.
public struct NumaTopology: Sendable, Equatable, CustomStringConvertible {
    /// One NUMA node.
    public struct Node: Sendable, Equatable {
        /// The node id (libnuma numbering; not necessarily dense).
        public let id: Int
        /// The CPUs of the node this process may run on, ascending.
        public let cpus: [Int]

        public init(id: Int, cpus: [Int]) {
            self.id = id
            self.cpus = cpus.sorted()
        }
    }

    /// Where a topology came from.
    public enum Source: String, Sendable, Equatable {
        /// libnuma (`numa_max_node`, `numa_node_to_cpus`).
        case libnuma
        /// `/sys/devices/system/node/node<N>/cpulist` (libnuma unavailable, e.g. get_mempolicy
        /// blocked by a sandbox).
        case sysfs
        /// One node 0 holding the CPUs of the affinity mask (no NUMA information at all).
        case affinityMask
        /// Made up by `synthetic(nodes:cpusPerNode:)` or `init(nodes:)`.
        case synthetic
    }

    /// The nodes, ascending by id.
    public let nodes: [Node]
    /// How this topology was obtained.
    public let source: Source

    /// A topology from explicit nodes (for tests and callers that know better).
    /// - Precondition: node ids are unique and no CPU appears twice.
    public init(nodes: [Node], source: Source = .synthetic) {
        let sorted = nodes.sorted { $0.id < $1.id }
        precondition(Set(sorted.map(\.id)).count == sorted.count, "NumaTopology: duplicate node id")
        let allCPUs = sorted.flatMap(\.cpus)
        precondition(Set(allCPUs).count == allCPUs.count, "NumaTopology: a CPU appears in two nodes")
        precondition(allCPUs.allSatisfy { $0 >= 0 } && sorted.allSatisfy { $0.id >= 0 },
                     "NumaTopology: negative CPU or node id")
        self.nodes = sorted
        self.source = source
    }

    /// `nodes` nodes of `cpusPerNode` CPUs each: node *n* has CPUs
    /// `n * cpusPerNode ..< (n + 1) * cpusPerNode` (2 × 4: node 0 = 0…3, node 1 = 4…7).
    public static func synthetic(nodes: Int, cpusPerNode: Int) -> NumaTopology {
        precondition(nodes > 0 && cpusPerNode > 0, "NumaTopology.synthetic: need at least one node and CPU")
        return NumaTopology(nodes: (0..<nodes).map { n in
            Node(id: n, cpus: Array(n * cpusPerNode ..< (n + 1) * cpusPerNode))
        }, source: .synthetic)
    }

    /// Every CPU of every node, ascending by node, then CPU.
    public var cpus: [Int] { nodes.flatMap(\.cpus) }

    /// The node holding `cpu`, or nil if no node lists it.
    public func node(ofCPU cpu: Int) -> Int? {
        nodes.first { $0.cpus.contains(cpu) }?.id
    }

    /// The node with id `id`, or nil.
    public func node(id: Int) -> Node? { nodes.first { $0.id == id } }

    public var description: String {
        "\(source.rawValue): " + nodes.map { "node \($0.id) cpus \($0.cpus)" }.joined(separator: "; ")
    }

    // MARK: - detection

    /// The topology of this machine, restricted to the CPUs this thread may run on (so a
    /// process confined by a cpuset gets one worker per CPU it can actually use).
    ///
    /// Order: libnuma (when `numa_available()` succeeds), else sysfs, else one node 0 with the
    /// affinity mask's CPUs. Nodes that end up without an allowed CPU are kept (memory-only
    /// nodes: their memory can still be the preferred node of a partition).
    public static func detect() -> NumaTopology {
        let allowed = Set(CPUAffinity.allowedCPUs())
        if caugur_numa_available() {
            var nodes: [Node] = []
            let maxNode = Int(caugur_numa_max_node())
            for id in 0...max(0, maxNode) where caugur_numa_node_exists(Int32(id)) {
                guard let cpus = libnumaCPUs(ofNode: id) else { continue }
                nodes.append(Node(id: id, cpus: cpus.filter { allowed.isEmpty || allowed.contains($0) }))
            }
            if nodes.contains(where: { !$0.cpus.isEmpty }) { return NumaTopology(nodes: nodes, source: .libnuma) }
        }
        if let nodes = sysfsNodes(root: "/sys/devices/system/node"), !nodes.isEmpty {
            let filtered = nodes.map { Node(id: $0.id, cpus: $0.cpus.filter { allowed.isEmpty || allowed.contains($0) }) }
            if filtered.contains(where: { !$0.cpus.isEmpty }) { return NumaTopology(nodes: filtered, source: .sysfs) }
        }
        let cpus = allowed.isEmpty ? [0] : allowed.sorted()
        return NumaTopology(nodes: [Node(id: 0, cpus: cpus)], source: .affinityMask)
    }

    static func libnumaCPUs(ofNode node: Int) -> [Int]? {
        var capacity = 256
        while true {
            var buffer = [Int32](repeating: 0, count: capacity)
            let n = buffer.withUnsafeMutableBufferPointer {
                caugur_numa_node_cpus(Int32(node), $0.baseAddress, Int32(capacity))
            }
            if n < 0 { return nil }
            if Int(n) <= capacity { return buffer.prefix(Int(n)).map(Int.init) }
            capacity = Int(n)
        }
    }

    /// Reads `<root>/node<N>/cpulist` for every `node<N>` directory; nil if `root` cannot be read.
    static func sysfsNodes(root: String) -> [Node]? {
        guard let dir = opendir(root) else { return nil }
        defer { closedir(dir) }
        var nodes: [Node] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard name.hasPrefix("node"), let id = Int(name.dropFirst(4)), id >= 0 else { continue }
            guard let text = readSmallFile("\(root)/\(name)/cpulist"), let cpus = parseCPUList(text) else { continue }
            nodes.append(Node(id: id, cpus: cpus))
        }
        return nodes
    }

    /// Parses the kernel's CPU list format ("0-3,8,10-11\n"; empty for a node without CPUs).
    /// Returns nil for malformed text.
    static func parseCPUList(_ text: String) -> [Int]? {
        var cpus: [Int] = []
        let trimmed = text.split(whereSeparator: { $0 == "\n" || $0 == " " }).joined()
        if trimmed.isEmpty { return [] }
        for part in trimmed.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            switch bounds.count {
            case 1:
                guard let c = Int(bounds[0]), c >= 0 else { return nil }
                cpus.append(c)
            case 2:
                guard let lo = Int(bounds[0]), let hi = Int(bounds[1]), lo >= 0, lo <= hi else { return nil }
                cpus.append(contentsOf: lo...hi)
            default:
                return nil
            }
        }
        return Array(Set(cpus)).sorted()
    }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = bytes.withUnsafeMutableBytes { buf in
            Syscall.retrying { read(fd, buf.baseAddress, buf.count) }
        }
        guard case .success(let count) = n else { return nil }
        return String(decoding: bytes.prefix(count), as: UTF8.self)
    }
}

/// The calling thread's CPU placement as the kernel sees it (for logs and tests).
public enum CPUAffinity {
    /// The CPUs the calling thread may run on (`sched_getaffinity`), ascending; empty if the
    /// call fails.
    public static func allowedCPUs() -> [Int] {
        var capacity = 256
        while true {
            var buffer = [Int32](repeating: 0, count: capacity)
            let n = buffer.withUnsafeMutableBufferPointer {
                caugur_thread_affinity_cpus($0.baseAddress, Int32(capacity))
            }
            if n < 0 { return [] }
            if Int(n) <= capacity { return buffer.prefix(Int(n)).map(Int.init) }
            capacity = Int(n)
        }
    }

    /// The CPUs background work keeps to by default, given the CPUs a thread may run on
    /// (`allowed`, ascending): the last quarter of them, at least one, so the others are left to
    /// the callers' threads; nil — no restriction — when fewer than two are allowed (nothing to
    /// leave). Two CPUs: the second; eight: the last two; 64: the last 16.
    public static func backgroundCPUs(amongAllowed allowed: [Int]) -> [Int]? {
        guard allowed.count >= 2 else { return nil }
        return Array(allowed.suffix(max(1, allowed.count / 4)))
    }

    /// The CPU the calling thread is running on now (`sched_getcpu`), or nil if unknown.
    public static func currentCPU() -> Int? {
        let c = caugur_sched_getcpu()
        return c >= 0 ? Int(c) : nil
    }
}
