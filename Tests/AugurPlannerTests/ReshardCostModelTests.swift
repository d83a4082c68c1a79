import AugurPlanner
import Testing

@Suite("Reshard cost model")
struct ReshardCostModelTests {
    static func model(_ mode: ReshardDataMode, rate: Double = 100, overhead: Double = 2, weight: Double = 0.5) throws -> ReshardCostModel {
        try ReshardCostModel(dataMode: mode, copyBytesPerSecond: rate, overheadSeconds: overhead, refinementWeight: weight)
    }

    @Test("copying: every source byte is copied, whatever the plan; time = overhead + copied ÷ rate")
    func copying() throws {
        let m = try Self.model(.copy)
        // A split of 300 bytes, a merge of 70 + 30, a move between 70 and 30: every target is new.
        #expect(m.predict(sourceBytes: [300]) == ReshardCostPrediction(copiedBytes: 300, sharedBytes: 0, seconds: 5))
        #expect(m.predict(sourceBytes: [70, 30]) == ReshardCostPrediction(copiedBytes: 100, sharedBytes: 0, seconds: 3))
        #expect(m.predict(sources: [ReshardSource(viewedBytes: 70), ReshardSource(viewedBytes: 30)]).copiedBytes == 100)
        #expect(m.predict(viewedBytes: 100, reshards: 3) == ReshardCostPrediction(copiedBytes: 100, sharedBytes: 0, seconds: 7))
        #expect(m.predict(sourceBytes: []) == ReshardCostPrediction(copiedBytes: 0, sharedBytes: 0, seconds: 2))
    }

    @Test("sharing files: nothing copied, every source byte shared; time = overhead")
    func sharing() throws {
        let m = try Self.model(.shareFiles)
        #expect(m.predict(sourceBytes: [70, 30]) == ReshardCostPrediction(copiedBytes: 0, sharedBytes: 100, seconds: 2))
        #expect(ReshardCostModel().dataMode == .shareFiles)
        #expect(ReshardCostModel().copyBytesPerSecond == ReshardCostModel.defaultCopyBytesPerSecond)
        #expect(ReshardCostModel().overheadSeconds == ReshardCostModel.defaultOverheadSeconds)
    }

    @Test("refinement: EWMA of the measured rate and of the time outside the copy")
    func refinement() throws {
        let m = try Self.model(.copy, rate: 100, overhead: 2, weight: 0.5)
        // 4 MiB in 1 s of a 4 s reshard: rate 4 MiB/s, overhead 3 s.
        let mib4 = UInt64(4 << 20)
        let once = try m.refined(by: MeasuredReshard(copiedBytes: mib4, copySeconds: 1, totalSeconds: 4))
        #expect(once.copyBytesPerSecond == 0.5 * 100 + 0.5 * Double(mib4))
        #expect(once.overheadSeconds == 2.5)
        #expect(once.measuredReshards == 1)
        #expect(once.dataMode == .copy)
        // Repeated, it converges on the measurement.
        var r = m
        for _ in 0..<60 { r = try r.refined(by: MeasuredReshard(copiedBytes: mib4, copySeconds: 1, totalSeconds: 4)) }
        #expect(abs(r.copyBytesPerSecond - Double(mib4)) < 1e-6 * Double(mib4))
        #expect(abs(r.overheadSeconds - 3) < 1e-9)
        // A copy under 1 MiB (or a shared reshard) leaves the rate alone; the overhead still learns.
        let small = try m.refined(by: MeasuredReshard(copiedBytes: 1000, copySeconds: 0.5, totalSeconds: 1))
        #expect(small.copyBytesPerSecond == 100)
        #expect(small.overheadSeconds == 0.5 * 2 + 0.5 * 0.5)
        let shared = try m.refined(by: MeasuredReshard(copiedBytes: 0, copySeconds: 0, totalSeconds: 0.2))
        #expect(shared.copyBytesPerSecond == 100)
        #expect(shared.overheadSeconds == 1.1)
    }

    /// `body` throws `.invalidValue` naming `name` (NaN is not equal to itself, so the value is
    /// checked by `isNaN` there).
    func rejects(_ name: String, _ value: Double, _ body: () throws(ReshardCostError) -> Void) {
        do throws(ReshardCostError) {
            try body()
            Issue.record("\(name) = \(value) was accepted")
        } catch {
            guard case let .invalidValue(n, v, _) = error else { return }
            #expect(n == name && (v == value || (v.isNaN && value.isNaN)), "\(error)")
        }
    }

    @Test("bad rates, overheads, weights and measurements are typed errors")
    func badValues() throws {
        #expect(throws: ReshardCostError.invalidValue(name: "copyBytesPerSecond", value: -1, limit: "must be finite and > 0")) {
            try ReshardCostModel(dataMode: .copy, copyBytesPerSecond: -1, overheadSeconds: 1)
        }
        for rate in [-1.0, 0, .nan, .infinity, -.infinity] {
            rejects("copyBytesPerSecond", rate) { () throws(ReshardCostError) in
                _ = try ReshardCostModel(dataMode: .copy, copyBytesPerSecond: rate, overheadSeconds: 1)
            }
        }
        for overhead in [-0.5, .nan, .infinity] {
            rejects("overheadSeconds", overhead) { () throws(ReshardCostError) in
                _ = try ReshardCostModel(dataMode: .copy, copyBytesPerSecond: 1, overheadSeconds: overhead)
            }
        }
        for weight in [0.0, -0.1, 1.5, .nan] {
            rejects("refinementWeight", weight) { () throws(ReshardCostError) in
                _ = try ReshardCostModel(dataMode: .copy, copyBytesPerSecond: 1, overheadSeconds: 1, refinementWeight: weight)
            }
        }
        let m = ReshardCostModel(dataMode: .copy)
        #expect(throws: ReshardCostError.invalidValue(name: "copySeconds", value: -1, limit: "must be finite and ≥ 0")) {
            try m.refined(by: MeasuredReshard(copiedBytes: 1 << 20, copySeconds: -1, totalSeconds: 1))
        }
        #expect(throws: ReshardCostError.invalidValue(name: "totalSeconds", value: .infinity, limit: "must be finite and ≥ 0")) {
            try m.refined(by: MeasuredReshard(copiedBytes: 1 << 20, copySeconds: 1, totalSeconds: .infinity))
        }
        #expect(throws: ReshardCostError.invalidValue(name: "copySeconds", value: 2, limit: "must not exceed totalSeconds (1.0)")) {
            try m.refined(by: MeasuredReshard(copiedBytes: 1 << 20, copySeconds: 2, totalSeconds: 1))
        }
    }
}
