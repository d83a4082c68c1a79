import AugurSys
import Testing
import Synchronization
@testable import AugurStats

@Suite("Per-thread rings and sampling")
struct RingTests {
    static func vector(producer: Int, seq: Int) -> WorkloadVector {
        WorkloadVector(type: .store, partition: UInt64(producer), keyHash: UInt64(seq), keyPrefix: 0,
                       timestamp: UInt64(seq), clientID: UInt64(producer), bytes: 1)
    }

    @Test("concurrent producers and one consumer: nothing lost below capacity, order kept per producer")
    func noLossBelowCapacity() {
        let registry = StatsSlotRegistry(options: ThreadSlotOptions(maxSlots: 4))
        let rec = WorkloadRecorder(slots: registry, options: SamplingOptions(samplingPeriod: 1, ringCapacity: 4096))
        let producers = 3, perProducer = 4096  // never more than capacity in a ring: no drop is possible
        let slots = (0..<producers).map { _ in registry.acquire()! }
        let received = UnsafeResults<[Int]>([[Int]](repeating: [], count: producers))
        let rejected = UnsafeResults<Int>([Int](repeating: 0, count: producers))
        var bodies: [() -> Void] = (0..<producers).map { p in
            {
                for i in 0..<perProducer where !rec.push(Self.vector(producer: p, seq: i), slot: slots[p]) { rejected.values[p] += 1 }
            }
        }
        bodies.append {
            var total = 0
            var spins = 0
            while total < producers * perProducer, spins < 50_000_000 {
                let n = rec.drainAll { v in received.values[Int(v.partition)].append(Int(v.keyHash)) }
                total += n
                spins += 1
            }
        }
        runOnThreads(bodies)
        #expect(rejected.values == [0, 0, 0])
        for p in 0..<producers {
            #expect(received.values[p] == Array(0..<perProducer), "producer \(p): got \(received.values[p].count)")
        }
        let st = rec.statistics()
        #expect(st.droppedFull == 0 && st.pushed == UInt64(producers * perProducer) && st.drained == st.pushed)
    }

    @Test("a full ring drops and counts; the producer never blocks")
    func dropsAboveCapacity() {
        let registry = StatsSlotRegistry()
        let rec = WorkloadRecorder(slots: registry, options: SamplingOptions(samplingPeriod: 1, ringCapacity: 50))
        #expect(rec.ringCapacity == 64)
        let s = registry.acquire()!
        var accepted = 0
        for i in 0..<(64 + 37) where rec.push(Self.vector(producer: 0, seq: i), slot: s) { accepted += 1 }
        #expect(accepted == 64)
        #expect(rec.drops(slotIndex: s.index) == 37)
        var seqs: [Int] = []
        #expect(rec.drain(slotIndex: s.index) { seqs.append(Int($0.keyHash)) } == 64)
        #expect(seqs == Array(0..<64))
        #expect(rec.push(Self.vector(producer: 0, seq: 999), slot: s))
        #expect(!rec.push(Self.vector(producer: 0, seq: 1), slot: .unregistered))
        let st = rec.statistics()
        #expect(st.droppedFull == 37 && st.droppedUnslotted == 1 && st.pushed == 65 && st.drained == 64)
    }

    @Test("producers racing a consumer over small rings: received + dropped == offered, order kept")
    func concurrentOverflow() {
        let registry = StatsSlotRegistry(options: ThreadSlotOptions(maxSlots: 2))
        let rec = WorkloadRecorder(slots: registry, options: SamplingOptions(samplingPeriod: 1, ringCapacity: 256))
        let offered = 50_000
        let slots = [registry.acquire()!, registry.acquire()!]
        let accepted = UnsafeResults<Int>([0, 0])
        let received = UnsafeResults<[Int]>([[], []])
        let done = Atomic<Int>(0)
        runOnThreads([
            { for i in 0..<offered where rec.push(Self.vector(producer: 0, seq: i), slot: slots[0]) { accepted.values[0] += 1 }; done.add(1, ordering: .releasing) },
            { for i in 0..<offered where rec.push(Self.vector(producer: 1, seq: i), slot: slots[1]) { accepted.values[1] += 1 }; done.add(1, ordering: .releasing) },
            {
                while done.load(ordering: .acquiring) < 2 {
                    rec.drainAll(maxPerSlot: 100) { received.values[Int($0.partition)].append(Int($0.keyHash)) }
                }
                rec.drainAll { received.values[Int($0.partition)].append(Int($0.keyHash)) }
            },
        ])
        for p in 0..<2 {
            #expect(received.values[p].count == accepted.values[p])
            #expect(UInt64(accepted.values[p]) + rec.drops(slotIndex: slots[p].index) == UInt64(offered))
            #expect(zip(received.values[p], received.values[p].dropFirst()).allSatisfy { $0 < $1 }, "producer \(p) out of order")
        }
    }

    @Test("sampling: about one in N operations becomes a vector with weight N")
    func samplingRate() {
        let registry = StatsSlotRegistry()
        let seed = testSeed(0x5A3B_0001)
        let rec = WorkloadRecorder(slots: registry, options: SamplingOptions(samplingPeriod: 16, ringCapacity: 1 << 16, seed: seed))
        let s = registry.acquire()!
        let n = 160_000
        for i in 0..<n {
            rec.record(.retrieve, partition: 1, key: [UInt8(i & 255), 7], timestamp: UInt64(i), clientID: 1, bytes: 5, slot: s)
        }
        var vectors = 0
        var weight: UInt64 = 0
        rec.drainAll { v in
            vectors += 1
            weight += UInt64(v.weight)
            #expect(v.keyHash == KeyHash.hash([UInt8(v.timestamp & 255), 7]))
            #expect(v.keyPrefix == UInt64(v.timestamp & 255) << 56 | UInt64(7) << 48)
        }
        #expect(abs(Double(vectors) - 10_000) < 300, "seed \(seed): \(vectors) samples")
        #expect(abs(Double(weight) - Double(n)) / Double(n) < 0.03, "seed \(seed)")
        // Unslotted threads are counted, never sampled.
        rec.record(.retrieve, partition: 1, key: [1], timestamp: 0, clientID: 1, bytes: 5, slot: .unregistered)
        #expect(rec.statistics().droppedUnslotted == 1)
    }

    @Test("collector drains a recorder fed by several threads; period 1 counts are exact")
    func collectorDrain() {
        let registry = StatsSlotRegistry(options: ThreadSlotOptions(maxSlots: 3))
        let rec = WorkloadRecorder(slots: registry, options: SamplingOptions(samplingPeriod: 1, ringCapacity: 8192))
        let c = WorkloadCollector()
        let slots = (0..<3).map { _ in registry.acquire()! }
        runOnThreads((0..<3).map { t in
            { for i in 0..<5000 { rec.record(.modify, partition: UInt64(t), key: [UInt8(i & 255)], timestamp: UInt64(i) * 1_000_000, clientID: UInt64(t), bytes: 2, slot: slots[t]) } }
        })
        #expect(c.drain(rec) == 15_000)
        for t in 0..<3 as Range<UInt64> {
            let w = c.workload(partition: t, now: 5 * 1_000_000_000)!.window(.fiveMinutes)!
            #expect(w.operations == 5000)
            #expect(abs(w.operationsPerSecond.modify - 1000) < 1e-9)
        }
        #expect(c.statistics().vectorsFolded == 15_000)
    }

    @Test("slot registry hands out each slot once")
    func registry() {
        let r = StatsSlotRegistry(options: ThreadSlotOptions(maxSlots: 3))
        let a = r.acquire(), b = r.acquire(), c = r.acquire()
        #expect(Set([a!.index, b!.index, c!.index]) == [0, 1, 2])
        #expect(r.acquire() == nil)
        r.release(b!)
        #expect(r.acquire() == b)
        #expect(StatsSlot.unregistered.isRegistered == false)
        let big = StatsSlotRegistry(options: ThreadSlotOptions(maxSlots: 64))
        #expect((0..<64).compactMap { _ in big.acquire() }.count == 64)
        #expect(big.acquire() == nil)
    }
}
