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
