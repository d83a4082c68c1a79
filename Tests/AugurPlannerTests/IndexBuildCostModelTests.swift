import AugurPlanner
import Testing

@Suite("Index build cost model")
struct IndexBuildCostModelTests {
    @Test("estimate = per-partition constant + (bytes × rate + records × rate) × skew factor")
    func estimateFormula() {
        let m = IndexBuildCostModel(nanosPerByte: 2, nanosPerRecord: 100, nanosPerPartition: 1000, skewPenalty: 0.5)
        #expect(m.estimate(bytes: 10, records: 2, skew: 1) == 1000 + 220)
        #expect(m.estimate(bytes: 10, records: 2, skew: 3) == 1000 + 220 * 2)
    }

    @Test("refined blends the measured per-byte rate with exponential weighting")
    func refinement() throws {
        let m = IndexBuildCostModel(nanosPerByte: 1, nanosPerRecord: 100, skewPenalty: 0, refinementWeight: 0.3)
        // 1000 bytes and 2 records took 3200 ns: 200 ns for the records, so 3 ns/byte measured.
        let once = try m.refined(observedBytes: 1000, observedRecords: 2, observedNanos: 3200)
        #expect(abs(once.nanosPerByte - (0.7 * 1 + 0.3 * 3)) < 1e-12)
        #expect(once.nanosPerRecord == 100)
        var r = m
        for _ in 0..<60 { r = try r.refined(observedBytes: 1000, observedRecords: 2, observedNanos: 3200) }
        #expect(abs(r.nanosPerByte - 3) < 1e-6)
        // The skew factor is divided out before the per-byte rate is inferred.
        let skewed = IndexBuildCostModel(nanosPerByte: 1, nanosPerRecord: 0, skewPenalty: 1, refinementWeight: 1)
        #expect(try skewed.refined(observedBytes: 100, observedRecords: 0, skew: 2, observedNanos: 400).nanosPerByte == 2)
        // Faster than the per-record part alone: the per-byte rate cannot go below 0.
        #expect(try m.refined(observedBytes: 1000, observedRecords: 2, observedNanos: 10).nanosPerByte == 0.7)
    }

    @Test("refined and validate reject bad values with typed errors")
    func badValues() {
        let m = IndexBuildCostModel()
        #expect(throws: IndexBuildPlanningError.invalidOption(name: "observedBytes", value: 0, limit: "must be > 0")) {
            try m.refined(observedBytes: 0, observedRecords: 1, observedNanos: 1)
        }
        #expect(throws: IndexBuildPlanningError.invalidOption(name: "observedNanos", value: -1, limit: "must be finite and ≥ 0")) {
            try m.refined(observedBytes: 1, observedRecords: 1, observedNanos: -1)
        }
        #expect(throws: IndexBuildPlanningError.invalidOption(name: "nanosPerByte", value: -2, limit: "must be finite and ≥ 0")) {
            try IndexBuildCostModel(nanosPerByte: -2).validate()
        }
        #expect(throws: IndexBuildPlanningError.invalidOption(name: "refinementWeight", value: 0, limit: "must be in (0, 1]")) {
            try IndexBuildCostModel(refinementWeight: 0).validate()
        }
    }
}
