// Tests of NumaTopology, NumaPlacement and BuildWorkerPool (issue 9). This machine has one NUMA
// node, so multi-node placement is checked on a synthetic 2 × 4 topology with the recording
// placement; the real placement is checked on the detected topology (pins for real, verified
// with sched_getaffinity / sched_getcpu from inside the workers) and on topologies naming CPUs
// that do not exist (pinning fails for real, is logged and counted, and the work still runs).
//
// Workers never call #expect: they record what they saw under a Mutex and the test checks it on
// its own thread after waitForAll().
import Testing
import Synchronization
import Dispatch
import CAugurSys
@testable import AugurSys
import AugurTestSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: - helpers

/// What one work item saw.
private struct Observation: Sendable, Equatable {
    let index: Int
    let cpu: Int
    let node: Int
    let thread: Int32
    let tag: Int
    var affinity: [Int] = []
    var currentCPU: Int? = nil
}

private final class Recorder<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    func append(_ item: T) { items.withLock { $0.append(item) } }
    var all: [T] { items.withLock { $0 } }
}

private func observe(_ c: WorkerContext, tag: Int = 0) -> Observation {
    Observation(index: c.index, cpu: c.cpu, node: c.node, thread: c.threadID, tag: tag)
}

// MARK: - topology

@Suite struct NumaTopologyTests {
    @Test func syntheticTwoByFour() {
        let t = NumaTopology.synthetic(nodes: 2, cpusPerNode: 4)
        #expect(t.nodes.map(\.id) == [0, 1])
        #expect(t.nodes[0].cpus == [0, 1, 2, 3])
        #expect(t.nodes[1].cpus == [4, 5, 6, 7])
        #expect(t.cpus == Array(0..<8))
        #expect(t.node(ofCPU: 2) == 0)
        #expect(t.node(ofCPU: 5) == 1)
        #expect(t.node(ofCPU: 8) == nil)
        #expect(t.source == .synthetic)
    }

    @Test func cpuListParsing() {
        #expect(NumaTopology.parseCPUList("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11])
        #expect(NumaTopology.parseCPUList("\n") == [])
        #expect(NumaTopology.parseCPUList("5") == [5])
        #expect(NumaTopology.parseCPUList("3-1") == nil)
        #expect(NumaTopology.parseCPUList("a-b") == nil)
        #expect(NumaTopology.parseCPUList("1-2-3") == nil)
    }

    @Test func detectedTopologyCoversTheAffinityMask() {
        let t = NumaTopology.detect()
        let allowed = CPUAffinity.allowedCPUs()
        #expect(!allowed.isEmpty)
        #expect(Set(t.cpus) == Set(allowed), "\(t)")
        #expect(t.cpus.count == Set(t.cpus).count)
        if caugur_numa_available() { #expect(t.source == .libnuma, "\(t)") }
    }

    @Test func sysfsReadsThisMachine() throws {
        let nodes = try #require(NumaTopology.sysfsNodes(root: "/sys/devices/system/node"))
        #expect(!nodes.isEmpty)
        #expect(!nodes.flatMap(\.cpus).isEmpty)
        #expect(NumaTopology.sysfsNodes(root: "/nonexistent/augur") == nil)
    }
}

// MARK: - pool with the recording placement

@Suite struct BuildWorkerPoolFakeTests {
    let topology = NumaTopology.synthetic(nodes: 2, cpusPerNode: 4)

    @Test func eachWorkerPinsItsOwnCPUOnItsOwnThread() throws {
        let placement = RecordingNumaPlacement()
        let logs = LogCapture()
        let pool = try BuildWorkerPool(topology: topology, placement: placement,
                                       options: .init(stealing: .never), logger: logs.logger(label: BuildWorkerPool.loggerLabel))
        #expect(pool.workerCount == 8)
        let seen = Recorder<Observation>()
        for i in 0..<64 {
            try pool.submit(preferredNode: i % 2) { c in
                seen.append(observe(c, tag: i))
                usleep(200)
            }
        }
        pool.waitForAll()
        let stats = pool.statistics
        pool.shutdown()

        // Exactly one pin request per CPU, each from a distinct thread, none failing, no node
        // binding (a CPU pin is already node-local; numa_run_on_node would widen it).
        let pins = placement.requests.compactMap { r -> (Int, Int32)? in
            if case let .pinToCPU(cpu, thread, succeeded) = r, succeeded { return (cpu, thread) } else { return nil }
        }
        #expect(pins.map(\.0).sorted() == Array(0..<8))
        #expect(Set(pins.map(\.1)).count == 8)
        #expect(!placement.requests.contains { if case .runOnNode = $0 { true } else { false } })
        #expect(stats.pinFailures == 0)
        #expect(logs.messages().isEmpty)
        #expect(stats.workers.map(\.cpu) == Array(0..<8))
        #expect(stats.workers.map(\.node) == [0, 0, 0, 0, 1, 1, 1, 1])
        #expect(stats.workers.map(\.pinning) == (0..<8).map { .cpu($0) })

        // The thread that ran each item is the one that asked for that worker's CPU.
        let byThread = placement.pinRequestsByThread
        for o in seen.all {
            #expect(byThread[o.thread] == [o.cpu], "item \(o.tag) ran on thread \(o.thread) as CPU \(o.cpu)")
            #expect(topology.node(ofCPU: o.cpu) == o.node)
            #expect(o.node == o.tag % 2, "item \(o.tag) for node \(o.tag % 2) ran on node \(o.node)")
        }
        #expect(seen.all.count == 64)
        #expect(stats.workers.reduce(0) { $0 + $1.itemsRun } == 64)
        #expect(stats.itemsSubmitted == 64 && stats.itemsOutstanding == 0)
    }

    @Test func workForNodeOneRunsOnlyOnNodeOneWorkers() throws {
        let placement = RecordingNumaPlacement()
        let pool = try BuildWorkerPool(topology: topology, placement: placement,
                                       options: .init(stealing: .never), logger: LogCapture.silent)
        let seen = Recorder<Observation>()
        // The first four items hold their worker until all four have started, so they run on
        // four different workers: every node-1 worker takes part.
        let arrived = Mutex(0)
        let allArrived = DispatchSemaphore(value: 0)
        for i in 0..<200 {
            try pool.submit(preferredNode: 1) { c in
                seen.append(observe(c, tag: i))
                if i < 4 {
                    if arrived.withLock({ $0 += 1; return $0 }) == 4 { for _ in 0..<4 { allArrived.signal() } }
                    _ = allArrived.wait(timeout: .now() + .seconds(10))
                }
                usleep(100)
            }
        }
        pool.waitForAll()
        let stats = pool.statistics
        pool.shutdown()
        #expect(seen.all.count == 200)
        #expect(seen.all.allSatisfy { $0.node == 1 && (4...7).contains($0.cpu) })
        #expect(stats.workers.filter { $0.node == 0 }.allSatisfy { $0.itemsRun == 0 })
        #expect(stats.workers.filter { $0.node == 1 }.reduce(0) { $0 + $1.itemsRun } == 200)
        #expect(stats.workers.allSatisfy { $0.itemsStolen == 0 })
        #expect(Set(seen.all.filter { $0.tag < 4 }.map(\.cpu)) == [4, 5, 6, 7])
    }

    @Test func workWithoutNodeOrForAnUnknownNodeRunsAnywhere() throws {
        let pool = try BuildWorkerPool(topology: topology, placement: RecordingNumaPlacement(),
                                       options: .init(stealing: .never), logger: LogCapture.silent)
        let seen = Recorder<Observation>()
        for i in 0..<40 {
            try pool.submit(preferredNode: i % 2 == 0 ? nil : 9) { c in seen.append(observe(c, tag: i)) }
        }
        pool.waitForAll()
        #expect(seen.all.count == 40)
        #expect(pool.statistics.itemsOutstanding == 0)
    }

    @Test func failedPinIsLoggedOnceCountedAndFallsBackToTheNode() throws {
        let placement = RecordingNumaPlacement(failingCPUs: [2, 5, 6], failingNodes: [1])
        let logs = LogCapture()
        let pool = try BuildWorkerPool(topology: topology, placement: placement,
                                       options: .init(stealing: .never), logger: logs.logger(label: BuildWorkerPool.loggerLabel))
        let seen = Recorder<Observation>()
        for i in 0..<32 { try pool.submit(preferredNode: i % 2) { c in seen.append(observe(c, tag: i)); usleep(100) } }
        pool.waitForAll()
        let stats = pool.statistics
        pool.shutdown()

        #expect(stats.pinFailures == 3)
        #expect(pool.pinFailures == 3)
        let pinning = Dictionary(uniqueKeysWithValues: stats.workers.map { ($0.cpu, $0.pinning) })
        #expect(pinning[2] == .node(0))      // node 0 binding works
        #expect(pinning[5] == .unpinned)     // node 1 binding fails too
        #expect(pinning[6] == .unpinned)
        #expect(pinning[0] == .cpu(0) && pinning[7] == .cpu(7))
        // Node binding was asked only by the workers whose pin failed, for their own node.
        let nodeRequests = placement.requests.compactMap { r -> Int? in
            if case let .runOnNode(node, _, _) = r { return node } else { return nil }
        }
        #expect(nodeRequests.sorted() == [0, 1, 1])

        let lines = logs.messages()
        #expect(lines.count == 3, "\(lines)")
        for cpu in [2, 5, 6] {
            #expect(lines.filter { $0.contains("CPU \(cpu) ") && $0.contains("errno 22") }.count == 1, "\(lines)")
        }
        #expect(lines.filter { $0.contains("continuing unpinned") }.count == 2)
        // The work still ran, on the right nodes.
        #expect(seen.all.count == 32)
        #expect(seen.all.allSatisfy { $0.node == $0.tag % 2 })
    }

    @Test func scratchBufferIsAllocatedOnTheWorkersNodeByTheWorkerAndReused() throws {
        let placement = RecordingNumaPlacement()
        let pool = try BuildWorkerPool(topology: topology, placement: placement,
                                       options: .init(stealing: .never), logger: LogCapture.silent)
        struct Scratch: Sendable { let node: Int; let thread: Int32; let first: Int; let second: Int; let count: Int }
        let seen = Recorder<Scratch>()
        for i in 0..<16 {
            try pool.submit(preferredNode: i % 2) { c in
                let a = c.scratch(bytes: 10_000)
                a.storeBytes(of: UInt64(i), toByteOffset: 0, as: UInt64.self)
                let b = c.scratch(bytes: 100)   // smaller: same buffer
                seen.append(Scratch(node: c.node, thread: c.threadID, first: Int(bitPattern: a.baseAddress),
                                    second: Int(bitPattern: b.baseAddress), count: a.count))
            }
        }
        pool.waitForAll()
        pool.shutdown()
        let allocations = placement.requests.compactMap { r -> (Int?, Int32)? in
            if case let .allocate(_, node, thread) = r { return (node, thread) } else { return nil }
        }
        for s in seen.all {
            #expect(s.first == s.second)
            #expect(s.count >= 10_000)
            // Allocated by this worker's thread, for its node, once per worker.
            #expect(allocations.filter { $0.1 == s.thread }.map(\.0) == [s.node])
        }
    }

    @Test func idleWorkersStealOldWorkButNotWithNever() throws {
        // Node 0 and node 1 have one worker each; node 1's worker is held busy.
        let small = NumaTopology.synthetic(nodes: 2, cpusPerNode: 1)
        for policy in [BuildWorkerPool.StealPolicy.afterWaiting(nanoseconds: 2_000_000), .never] {
            let pool = try BuildWorkerPool(topology: small, placement: RecordingNumaPlacement(),
                                           options: .init(stealing: policy), logger: LogCapture.silent)
            let gate = DispatchSemaphore(value: 0)
            let busy = DispatchSemaphore(value: 0)
            let ran = DispatchSemaphore(value: 0)
            let seen = Recorder<Observation>()
            try pool.submit(preferredNode: 1) { _ in busy.signal(); gate.wait() }
            busy.wait()
            try pool.submit(preferredNode: 1) { c in seen.append(observe(c, tag: 1)); ran.signal() }
            // Stealing happens 2 ms in (waits up to 5 s under load); without it, nothing in 300 ms.
            let early = ran.wait(timeout: .now() + (policy == .never ? .milliseconds(300) : .seconds(5)))
            gate.signal()
            pool.waitForAll()
            let stats = pool.statistics
            pool.shutdown()
            switch policy {
            case .never:
                #expect(early == .timedOut)
                #expect(seen.all.map(\.node) == [1])
                #expect(stats.workers.allSatisfy { $0.itemsStolen == 0 })
            case .afterWaiting:
                #expect(early == .success)
                #expect(seen.all.map(\.node) == [0])
                #expect(stats.workers[0].itemsStolen == 1)
            }
        }
    }

    @Test func manyItemsFromManyThreadsWithStealingAllRunExactlyOnce() async throws {
        let pool = try BuildWorkerPool(topology: topology, placement: RecordingNumaPlacement(),
                                       options: .init(stealing: .afterWaiting(nanoseconds: 50_000)), logger: LogCapture.silent)
        final class Counts: Sendable { let runs = Mutex([Int](repeating: 0, count: 4000)) }
        let counts = Counts()
        await withTaskGroup(of: Void.self) { group in
            for submitter in 0..<4 {
                group.addTask {
                    for k in 0..<1000 {
                        let i = submitter * 1000 + k
                        // Skewed: three quarters of the items prefer node 0.
                        let node: Int? = i % 8 == 7 ? nil : (i % 4 == 3 ? 1 : 0)
                        try? pool.submit(preferredNode: node) { _ in
                            counts.runs.withLock { $0[i] += 1 }
                            if i % 16 == 0 { usleep(50) }
                        }
                    }
                }
            }
        }
        pool.waitForAll()
        let stats = pool.statistics
        pool.shutdown()
        #expect(counts.runs.withLock { $0.allSatisfy { $0 == 1 } })
        #expect(stats.itemsSubmitted == 4000 && stats.itemsOutstanding == 0)
        #expect(stats.workers.reduce(0) { $0 + $1.itemsRun } == 4000)
    }

    @Test func submitAfterShutdownThrowsAndShutdownIsIdempotent() throws {
        let pool = try BuildWorkerPool(topology: topology, placement: RecordingNumaPlacement(), logger: LogCapture.silent)
        let count = Mutex(0)
        for _ in 0..<100 { try pool.submit(preferredNode: 0) { _ in count.withLock { $0 += 1 } } }
        pool.shutdown()   // queued work still runs
        #expect(count.withLock { $0 } == 100)
        pool.shutdown()
        #expect(throws: BuildWorkerPoolError.shutDown) { try pool.submit(preferredNode: nil) { _ in } }
    }

    @Test func statisticsCountItemsAndBusyTime() throws {
        let pool = try BuildWorkerPool(topology: topology, placement: RecordingNumaPlacement(),
                                       options: .init(stealing: .never), logger: LogCapture.silent)
        for _ in 0..<8 { try pool.submit(preferredNode: 0) { _ in usleep(2_000) } }
        pool.waitForAll()
        let stats = pool.statistics
        let node0 = stats.workers.filter { $0.node == 0 }
        #expect(node0.reduce(0) { $0 + $1.itemsRun } == 8)
        #expect(node0.reduce(UInt64(0)) { $0 + $1.busyNanoseconds } >= 8 * 2_000_000)
        #expect(stats.workers.filter { $0.node == 1 }.allSatisfy { $0.itemsRun == 0 && $0.busyNanoseconds == 0 })
    }

    @Test func preferredNodeIsTheMajorityOfSampledPages() {
        let placement = RecordingNumaPlacement()
        let page = NumaPages.size
        let buffer = NumaBuffer.aligned(bytes: 16 * page, requestedNode: nil)
        let all = UnsafeRawBufferPointer(buffer.bytes)
        #expect(placement.preferredNode(forMappedRange: all) == nil)  // nothing resident: first touch
        placement.assignNode(1, toPagesIn: UnsafeRawBufferPointer(rebasing: all[0 ..< 10 * page]))
        placement.assignNode(0, toPagesIn: UnsafeRawBufferPointer(rebasing: all[10 * page ..< 16 * page]))
        #expect(placement.preferredNode(forMappedRange: all) == 1)
        #expect(placement.preferredNode(forMappedRange: all, samples: 64) == 1)
        #expect(placement.preferredNode(forMappedRange: UnsafeRawBufferPointer(rebasing: all[11 * page ..< 16 * page])) == 0)
        #expect(placement.preferredNode(forMappedRange: UnsafeRawBufferPointer(rebasing: all[page + 5 ..< page + 6])) == 1)
    }
}

// MARK: - pool with the real placement

@Suite(.serialized) struct BuildWorkerPoolLinuxTests {
    @Test func detectedTopologyReallyPins() throws {
        let topology = NumaTopology.detect()
        let logs = LogCapture()
        let pool = try BuildWorkerPool(topology: topology, placement: LinuxNumaPlacement(), logger: logs.logger(label: BuildWorkerPool.loggerLabel))
        let seen = Recorder<Observation>()
        for i in 0..<(20 * pool.workerCount) {
            let node = topology.nodes[i % topology.nodes.count].id
            try pool.submit(preferredNode: node) { c in
                var o = observe(c, tag: i)
                o.affinity = CPUAffinity.allowedCPUs()
                o.currentCPU = CPUAffinity.currentCPU()
                seen.append(o)
                usleep(500)
            }
        }
        pool.waitForAll()
        let stats = pool.statistics
        pool.shutdown()
        #expect(stats.pinFailures == 0, "\(logs.messages())")
        #expect(logs.messages().isEmpty)
        #expect(stats.workers.allSatisfy { $0.pinning == .cpu($0.cpu) })
        #expect(seen.all.count == 20 * stats.workers.count)
        for o in seen.all {
            #expect(o.affinity == [o.cpu], "worker \(o.index) for CPU \(o.cpu) has affinity \(o.affinity)")
            #expect(o.currentCPU == o.cpu, "worker \(o.index) for CPU \(o.cpu) runs on \(String(describing: o.currentCPU))")
        }
        // The test thread itself was not pinned.
        #expect(Set(CPUAffinity.allowedCPUs()) == Set(topology.cpus))
    }

    @Test func pinningToCPUsThatDoNotExistFailsIsLoggedAndTheWorkStillRuns() throws {
        // Synthetic 2 × 4 on the real placement: on this 2-CPU machine, CPUs 2...7 do not exist
        // (EINVAL); node 1 does not exist either, so its workers end up unpinned.
        let topology = NumaTopology.synthetic(nodes: 2, cpusPerNode: 4)
        let allowed = Set(CPUAffinity.allowedCPUs())
        let missing = topology.cpus.filter { !allowed.contains($0) }
        let logs = LogCapture()
        let pool = try BuildWorkerPool(topology: topology, placement: LinuxNumaPlacement(), logger: logs.logger(label: BuildWorkerPool.loggerLabel))
        let seen = Recorder<Observation>()
        for i in 0..<80 {
            try pool.submit(preferredNode: i % 2) { c in
                var o = observe(c, tag: i)
                o.affinity = CPUAffinity.allowedCPUs()
                seen.append(o)
            }
        }
        pool.waitForAll()
        let stats = pool.statistics
        pool.shutdown()

        #expect(stats.pinFailures == missing.count)
        let lines = logs.messages()
        #expect(lines.count == missing.count, "\(lines)")
        for cpu in missing {
            #expect(lines.filter { $0.contains("CPU \(cpu) ") && $0.contains("errno 22") }.count == 1, "\(lines)")
        }
        #expect(seen.all.count == 80)
        #expect(stats.workers.reduce(0) { $0 + $1.itemsRun } == 80)
        for w in stats.workers {
            if allowed.contains(w.cpu) {
                #expect(w.pinning == .cpu(w.cpu))
            } else if caugur_numa_node_exists(Int32(w.node)) {
                #expect(w.pinning == .node(w.node))
            } else {
                #expect(w.pinning == .unpinned)
            }
        }
        for o in seen.all where allowed.contains(o.cpu) { #expect(o.affinity == [o.cpu]) }
    }

    @Test func nodeBoundBuffersAndPageQueries() throws {
        let placement = LinuxNumaPlacement()
        let page = NumaPages.size
        let topology = NumaTopology.detect()
        let node0 = topology.nodes[0].id
        let buffer = placement.allocateBuffer(bytes: 8 * page, node: node0)
        #expect(buffer.count == 8 * page)
        #expect(Int(bitPattern: buffer.base) % page == 0)
        if placement.isNumaAvailable {
            #expect(buffer.backing == .numaNode(node0))
            #expect(placement.allocateBuffer(bytes: page, node: 4000).backing == .numaLocal)
        } else {
            #expect(buffer.backing == .aligned)
        }
        // Untouched pages are not resident: no node, i.e. first touch.
        #expect(placement.preferredNode(forMappedRange: UnsafeRawBufferPointer(buffer.bytes)) == nil)
        #expect(buffer.bytes.allSatisfy { $0 == 0 })   // touches every page (reads fault them in)
        memset(buffer.base, 0xAB, buffer.count)
        if placement.isNumaAvailable {
            #expect(placement.node(ofAddress: buffer.base + 3 * page + 17) == node0)
            #expect(placement.preferredNode(forMappedRange: UnsafeRawBufferPointer(buffer.bytes)) == node0)
        }
        let fallback = NumaBuffer.aligned(bytes: 100, requestedNode: 3)
        #expect(fallback.backing == .aligned && fallback.requestedNode == 3 && fallback.count == 100)
    }

    @Test func realPinFailureErrorsAreTyped() {
        let placement = LinuxNumaPlacement()
        #expect(throws: NumaPlacementError(.pinToCPU(1000), errno: .invalidArgument)) {
            try placement.pinCurrentThread(toCPU: 1000)
        }
        #expect(throws: NumaPlacementError(.pinToCPU(-1), errno: .invalidArgument)) {
            try placement.pinCurrentThread(toCPU: -1)
        }
        if placement.isNumaAvailable {
            #expect(throws: NumaPlacementError(.runOnNode(4000), errno: .invalidArgument)) {
                try placement.runCurrentThread(onNode: 4000)
            }
        }
    }
}
