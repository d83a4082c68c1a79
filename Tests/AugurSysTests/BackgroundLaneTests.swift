import AugurSys
import Foundation
import Synchronization
import Testing

/// `BackgroundLane` (issue 19): the engine's background work runs on threads of its own whose
/// priority is lowered, so a woken foreground thread gets the CPU back at once.
@Suite struct BackgroundLaneTests {
    @Test("jobs run in submission order, one at a time; sync waits for every earlier job")
    func order() {
        let lane = BackgroundLane(name: "test.order", nice: 5)
        let seen = Mutex<[Int]>([])
        let running = Atomic<Int>(0)
        let overlapped = Atomic<Bool>(false)
        for i in 0..<2000 {
            lane.async {
                if running.add(1, ordering: .relaxed).newValue > 1 { overlapped.store(true, ordering: .relaxed) }
                seen.withLock { $0.append(i) }
                running.subtract(1, ordering: .relaxed)
            }
        }
        let atSync = Mutex(-1)
        lane.sync { atSync.withLock { $0 = seen.withLock { $0.count } } }
        #expect(atSync.withLock { $0 } == 2000)
        #expect(seen.withLock { $0 } == Array(0..<2000))
        let didOverlap = overlapped.load(ordering: .relaxed)
        #expect(!didOverlap)
    }

    @Test("the lane's thread runs the asked steps below its creator; the caller's priority is untouched",
          arguments: [10, 19, 40])
    func priority(asked: Int) {
        let before = BackgroundLane.currentThreadNice
        let expected = min(19, before + Int32(min(19, asked)))
        let lane = BackgroundLane(name: "test.nice", nice: asked)
        let seen = Mutex<(nice: Int32, thread: Int32)>((-100, 0))
        lane.sync { seen.withLock { $0 = (BackgroundLane.currentThreadNice, BackgroundLane.currentThreadID) } }
        let (inside, thread) = seen.withLock { $0 }
        // Raising one's own nice value is always allowed (no privilege), so the lane must get it.
        #expect(inside == expected, "nice inside the lane: \(inside), creator's \(before)")
        #expect(lane.priorityLowered == (expected > before))
        #expect(thread != BackgroundLane.currentThreadID)
        #expect(BackgroundLane.currentThreadNice == before)
    }

    @Test("nice 0 or below runs at the process's priority")
    func unlowered() {
        let before = BackgroundLane.currentThreadNice
        for asked in [0, -5] {
            let lane = BackgroundLane(name: "test.zero", nice: asked)
            let seen = Mutex<Int32>(-100)
            lane.sync { seen.withLock { $0 = BackgroundLane.currentThreadNice } }
            let inside = seen.withLock { $0 }
            #expect(inside == before)
            #expect(!lane.priorityLowered)
        }
    }

    @Test("a lane given CPUs keeps to them; one without keeps its creator's; a refused set leaves it where it was",
          .enabled(if: CPUAffinity.allowedCPUs().count >= 2, "a placement can only be seen with two CPUs to choose from"))
    func placement() {
        let allowed = CPUAffinity.allowedCPUs()
        let last = allowed.last!
        let kept = BackgroundLane(name: "test.cpus", nice: 10, cpus: [last])
        #expect(kept.allowedCPUs == [last])
        #expect(kept.placed)
        #expect(CPUAffinity.allowedCPUs() == allowed, "the creator's CPUs are untouched")
        let free = BackgroundLane(name: "test.free", nice: 10)
        #expect(free.allowedCPUs == allowed)
        #expect(!free.placed)
        let refused = BackgroundLane(name: "test.refused", nice: 10, cpus: [1023])
        #expect(refused.allowedCPUs == allowed)
        #expect(!refused.placed)
    }

    @Test("a placement spreads its lanes when behind and brings them home after the settle time; lanes started while spread start wide",
          .enabled(if: CPUAffinity.allowedCPUs().count >= 2, "a placement can only be seen with two CPUs to choose from"))
    func placementAdapts() {
        let allowed = CPUAffinity.allowedCPUs()
        let home = [allowed.last!]
        let placement = LanePlacement(home: home, wide: allowed, adapts: true, settleNanos: 1_000)
        let a = BackgroundLane(name: "test.home", nice: 10, placement: placement)
        #expect(a.allowedCPUs == home && a.placed)
        placement.behind(now: 5_000)
        #expect(placement.isSpread)
        #expect(a.allowedCPUs == allowed && !a.placed)
        let b = BackgroundLane(name: "test.late", nice: 10, placement: placement)
        #expect(b.allowedCPUs == allowed, "a lane started while spread")
        placement.settle(now: 5_999)
        #expect(placement.isSpread, "not yet the settle time")
        placement.behind(now: 5_500)
        placement.settle(now: 6_499)
        #expect(placement.isSpread, "a later behind restarts the settle time")
        placement.settle(now: 6_500)
        #expect(!placement.isSpread)
        #expect(a.allowedCPUs == home && b.allowedCPUs == home && a.placed && b.placed)

        let fixed = LanePlacement(home: home, wide: allowed, adapts: false)
        let c = BackgroundLane(name: "test.fixed", nice: 10, placement: fixed)
        fixed.behind(now: 1)
        #expect(!fixed.isSpread && c.allowedCPUs == home, "an explicit list is kept")
        let d = BackgroundLane(name: "test.free", nice: 10, placement: .unrestricted)
        LanePlacement.unrestricted.behind(now: 1)
        #expect(d.allowedCPUs == allowed && !d.placed)
    }

    @Test("the rule: lanes are starved when they wait for a CPU 1.5 times as long as they run, and a twentieth of the time")
    func starvationRule() {
        let second: UInt64 = 1_000_000_000
        #expect(!LanePlacement.lanesStarved(ran: second / 2, waited: second / 4, interval: second))   // one writer
        #expect(LanePlacement.lanesStarved(ran: second / 4, waited: second, interval: second))        // two writers
        #expect(LanePlacement.lanesStarved(ran: second / 10, waited: second / 10 * 3 / 2, interval: second))
        #expect(!LanePlacement.lanesStarved(ran: 0, waited: second / 25, interval: second), "too little to tell")
        #expect(LanePlacement.lanesStarved(ran: 0, waited: second / 20, interval: second))
    }

    @Test("a review spreads the lanes while they are starved, and brings them home after the settle time once they are not",
          .enabled(if: CPUAffinity.allowedCPUs().count >= 2, "a placement can only be seen with two CPUs to choose from"))
    func reviewFollowsTheLanesWaits() {
        let allowed = CPUAffinity.allowedCPUs()
        let home = [allowed.last!]
        let placement = LanePlacement(home: home, wide: allowed, adapts: true, settleNanos: 5_000_000_000)
        let lane = BackgroundLane(name: "test.review", nice: 10, placement: placement)
        let second: UInt64 = 1_000_000_000
        var ran: UInt64 = 0, waited: UInt64 = 0
        placement.review(now: 10 * second, laneRanNanos: ran, laneWaitedNanos: waited)   // the first measures nothing
        #expect(!placement.isSpread)
        // Half a second of waiting: too short an interval to judge.
        waited += second
        placement.review(now: 10 * second + second / 2, laneRanNanos: ran, laneWaitedNanos: waited)
        #expect(!placement.isSpread)
        // A second in which the lanes ran 0.2 s and waited 0.8 s.
        ran += second / 5; waited += second * 4 / 5
        placement.review(now: 11 * second, laneRanNanos: ran, laneWaitedNanos: waited)
        #expect(placement.isSpread)
        #expect(lane.allowedCPUs == allowed)
        // Fed lanes (ran 0.5 s, waited 0.25 s a second): home only after the settle time.
        for t in 12...15 {
            ran += second / 2; waited += second / 4
            placement.review(now: UInt64(t) * second, laneRanNanos: ran, laneWaitedNanos: waited)
            #expect(placement.isSpread, "\(t) s: within the settle time")
        }
        ran += second / 2; waited += second / 4
        placement.review(now: 16 * second, laneRanNanos: ran, laneWaitedNanos: waited)
        #expect(!placement.isSpread)
        #expect(lane.allowedCPUs == home)
        // A placement that does not adapt ignores reviews.
        let fixed = LanePlacement(home: home, wide: allowed, adapts: false)
        fixed.review(now: 1, laneRanNanos: 0, laneWaitedNanos: 0)
        fixed.review(now: 2 * second, laneRanNanos: 0, laneWaitedNanos: 2 * second)
        #expect(!fixed.isSpread)
        // The real review reads the lanes' schedstat without harm (a starved lane is unlikely
        // in a test; what it decides is not asserted).
        placement.review(now: MonotonicClock.nanos())
    }

    @Test("the thread runs what was queued, then exits once the lane is released")
    func threadExits() throws {
        var lane: BackgroundLane? = BackgroundLane(name: "test.exit", nice: 10)
        let thread = Mutex<Int32>(0)
        let ran = Atomic<Int>(0)
        lane!.async { thread.withLock { $0 = BackgroundLane.currentThreadID } }
        for _ in 0..<100 { lane!.async { usleep(100); ran.add(1, ordering: .relaxed) } }
        lane = nil
        let deadline = Date().addingTimeInterval(10)
        while ran.load(ordering: .relaxed) < 100 && Date() < deadline { usleep(1000) }
        let task = "/proc/self/task/\(thread.withLock { $0 })"
        while FileManager.default.fileExists(atPath: task) && Date() < deadline { usleep(1000) }
        let count = ran.load(ordering: .relaxed)
        #expect(count == 100, "every job queued before the release ran")
        #expect(!FileManager.default.fileExists(atPath: task), "\(task) still exists")
    }
}
