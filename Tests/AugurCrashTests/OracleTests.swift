@_spi(Testing) import Augur
@_spi(Testing) import AugurCrashHarness
import Testing

/// The oracle itself: prefix semantics, the in-flight operation, holes, partial batches, and
/// the text form the child logs operations in.
@Suite struct OracleTests {
    static func k(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func inFlightOperationMayBePresentOrAbsent() {
        var o = Oracle()
        o.begin(.put(table: "a", key: Self.k("x"), value: Self.k("1")))
        o.acknowledge()
        o.begin(.put(table: "a", key: Self.k("y"), value: Self.k("2")))
        var with = StoreState(), without = StoreState()
        with.put("a", Self.k("x"), Self.k("1")); with.put("a", Self.k("y"), Self.k("2"))
        without.put("a", Self.k("x"), Self.k("1"))
        #expect(o.verify(with).matches && o.verify(with).inFlightApplied == true)
        #expect(o.verify(without).matches && o.verify(without).inFlightApplied == false)
        #expect(!o.verify(StoreState()).matches, "losing an acknowledged write must be reported")
        #expect(o.verify(StoreState()).lostWrites == 1)
    }

    @Test func holesAreReported() {
        // Acknowledged x=1, then x deleted, then y=2: "x=1, y=2" is a hole (the delete vanished).
        var o = Oracle()
        for op: Op in [.put(table: "a", key: Self.k("x"), value: Self.k("1")), .delete(table: "a", key: Self.k("x")),
                       .put(table: "a", key: Self.k("y"), value: Self.k("2"))] {
            o.begin(op)
            o.acknowledge()
        }
        var hole = StoreState()
        hole.put("a", Self.k("x"), Self.k("1")); hole.put("a", Self.k("y"), Self.k("2"))
        let v = o.verify(hole)
        #expect(!v.matches && v.unexpectedRecords == 1)
    }

    @Test func failedOperationsAreUncertainInTheirPlace() {
        var o = Oracle()
        o.begin(.put(table: "a", key: Self.k("x"), value: Self.k("1")))
        o.fail()
        o.begin(.put(table: "a", key: Self.k("x"), value: Self.k("2")))
        o.acknowledge()
        var two = StoreState()
        two.put("a", Self.k("x"), Self.k("2"))
        var one = StoreState()
        one.put("a", Self.k("x"), Self.k("1"))
        #expect(o.verify(two).matches)
        #expect(!o.verify(one).matches, "the uncertain write cannot land after the acknowledged one")
    }

    @Test func partialBatchIsAnAtomicityViolation() {
        var o = Oracle()
        o.begin(.batch([BatchEntry(table: "a", key: Self.k("x"), value: Self.k("1")),
                        BatchEntry(table: "b", key: Self.k("y"), value: Self.k("2"))]))
        var half = StoreState()
        half.put("a", Self.k("x"), Self.k("1"))
        let v = o.verify(half)
        #expect(!v.matches)
        #expect(v.partialBatch?.applied == 1 && v.partialBatch?.of == 2)
        #expect(v.lostWrites == 0)
    }

    @Test func operationsRoundTripThroughTheLogFormat() {
        var g = WorkloadGenerator(seed: 42)
        var bounds: [String: PartitionBounds] = ["a": [([], Self.k("k0500")), (Self.k("k0500"), nil)], "b": [([], nil)]]
        for _ in 0..<2000 {
            let op = g.next(partitions: bounds)
            #expect(Op(encoded: Substring(op.encoded)) == op, "\(op.encoded)")
            bounds["b"] = [([], nil)]
        }
        for odd: Op in [.put(table: "a", key: Self.k("x"), value: Array("#1.zz".utf8)), .put(table: "a", key: Self.k("x"), value: []),
                        .put(table: "a", key: Self.k("x"), value: Array("#12".utf8))] {
            #expect(Op(encoded: Substring(odd.encoded)) == odd, "\(odd.encoded)")
        }
        #expect(Op(encoded: "put a x6b") == nil)
        #expect(Op(encoded: "put a x6b g5.2") == nil)
        #expect(Op(encoded: "put a x6 x00") == nil)
        #expect(Op(encoded: "bogus") == nil)
    }
}
