import Testing
import Augur
import AugurPlanner
import AugurSys
import AugurTestSupport

/// `ReshardCostModel` against the executor: real reshards (split, merge, boundary move) on an
/// engine in a temporary directory, in both data modes; the model's predicted copied and shared
/// bytes must equal what the executor reports, to the byte.
///
/// Why equality holds: the sources are flushed first (so the executor's own flush finds empty
/// memtables and the sources' runs are what it cuts), and the model is given exactly what
/// the executor reads, each source's `PartitionStats.viewedBytes` (the data its runs view).
@Suite struct ReshardCostExecutorTests {
    static let keys = 4000

    static func key(_ i: Int) -> [UInt8] { Array("k\(padded(i))".utf8) }

    static func open(_ dir: TemporaryDirectory, _ mode: ReshardDataMode) throws -> Engine {
        var o = EngineOptions()
        o.durability = .none
        o.reshardData = mode
        return try Engine.open(at: dir.child("db"), options: o)
    }

    /// A table of `keys` records (100-byte values) in two partitions split at key 2000, flushed.
    static func load(_ engine: Engine) throws -> Table {
        let table = try engine.createTable("t")
        for i in 0..<keys { try table.put(key(i), [UInt8](repeating: UInt8(i & 0xFF), count: 100)) }
        try engine.flush()
        try table.splitPartition(at: key(2000))
        try engine.flush()
        return table
    }

    /// Runs `plan`, having predicted it from the sources' viewed bytes; returns the status.
    @discardableResult
    static func check(_ engine: Engine, _ table: Table, _ plan: ReshardPlan, sources: [Int], _ context: String) throws -> ReshardStatus {
        try engine.flush()
        let stats = try table.partitionStats()
        let viewed = sources.map { UInt64(stats[$0].viewedBytes) }
        #expect(viewed.allSatisfy { $0 > 0 }, "\(context): sources hold data")
        let predicted = engine.reshardCostModel.predict(sourceBytes: viewed)
        let status = try table.requestResharding(plan).wait()
        #expect(status.state == .committed, "\(context)")
        #expect(UInt64(status.bytesCopied) == predicted.copiedBytes, "\(context): copied \(status.bytesCopied), predicted \(predicted.copiedBytes)")
        #expect(UInt64(status.bytesShared) == predicted.sharedBytes, "\(context): shared \(status.bytesShared), predicted \(predicted.sharedBytes)")
        #expect(status.runNanos >= status.copyNanos, "\(context)")
        print("reshard cost: \(context): predicted copied \(predicted.copiedBytes) B shared \(predicted.sharedBytes) B in \(predicted.seconds) s; executor copied \(status.bytesCopied) B shared \(status.bytesShared) B, copy \(Double(status.copyNanos) / 1e6) ms of \(Double(status.runNanos) / 1e6) ms")
        // The targets view what the sources viewed: no byte lost or counted twice.
        let after = try table.partitionStats().reduce(0) { $0 + $1.viewedBytes }
        #expect(after == stats.reduce(0) { $0 + $1.viewedBytes }, "\(context)")
        return status
    }

    @Test(arguments: ReshardDataMode.allCases)
    func predictedBytesEqualExecutorBytes(mode: ReshardDataMode) throws {
        let dir = TemporaryDirectory()
        let engine = try Self.open(dir, mode)
        let table = try Self.load(engine)
        // Split the right partition (3-way), move the boundary between the first two, merge them.
        let split = try Self.check(engine, table, .splitMany(at: [Self.key(2600), Self.key(3300)]), sources: [1], "\(mode) split")
        try Self.check(engine, table, .moveBoundary(from: Self.key(2000), to: Self.key(1200)), sources: [0, 1], "\(mode) move")
        try Self.check(engine, table, .merge(boundary: Self.key(1200)), sources: [0, 1], "\(mode) merge")
        switch mode {
        case .copy: #expect(split.bytesCopied > 0 && split.bytesShared == 0)
        case .shareFiles: #expect(split.bytesCopied == 0 && split.bytesShared > 0)
        }
        // Every committed reshard refined the model.
        #expect(engine.reshardCostModel.measuredReshards == 4)    // the load's split too
        #expect(engine.reshardCostModel.dataMode == mode)
        for i in stride(from: 0, to: Self.keys, by: 97) { #expect(try table.get(Self.key(i))?.first == UInt8(i & 0xFF)) }
        try engine.close()
    }

    /// Copying sources that are views of shared files copies only what they view, not the files.
    @Test func copyingSharedViewsCopiesTheViewedBytes() throws {
        let dir = TemporaryDirectory()
        do {
            let engine = try Self.open(dir, .shareFiles)
            let table = try Self.load(engine)
            try Self.check(engine, table, .split(at: Self.key(1000)), sources: [0], "shared split")
            try engine.close()
        }
        let engine = try Self.open(dir, .copy)
        let table = try engine.table(named: "t")
        let stats = try table.partitionStats()
        #expect(!Set(stats[0].segmentFiles).isDisjoint(with: stats[1].segmentFiles), "the sources view one shared file")
        let status = try Self.check(engine, table, .merge(boundary: Self.key(1000)), sources: [0, 1], "copy of shared views")
        #expect(status.bytesCopied > 0)
        try engine.close()
    }
}
