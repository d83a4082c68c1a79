import Testing
import Augur
import AugurSys
import AugurTestSupport

@Suite struct SmokeTests {
    @Test func putGetDeleteScanAndReopen() throws {
        let dir = TemporaryDirectory()
        var options = EngineOptions()
        options.durability = .none
        do {
            let engine = try Engine.open(at: dir.path, options: options)
            let t = try engine.createTable("users")
            try t.put("a", "1")
            try t.put("b", "2")
            try t.put("c", "3")
            try t.delete("b")
            #expect(try t.get("a") == "1")
            #expect(try t.get("b") == nil)
            #expect(try t.scan().map { String(decoding: $0.key, as: UTF8.self) } == ["a", "c"])
            #expect(try t.scan(reverse: true).map { String(decoding: $0.key, as: UTF8.self) } == ["c", "a"])
            try engine.close()
        }
        do {
            let engine = try Engine.open(at: dir.path, options: options)
            let t = try engine.table(named: "users")
            #expect(try t.get("a") == "1")
            #expect(try t.get("b") == nil)
            #expect(try t.get("c") == "3")
            #expect(engine.recoveryReport.walRecordsApplied == 4)
            try engine.flush()
            try t.splitPartition(at: Array("b".utf8))
            #expect(try t.partitionStats().count == 2)
            #expect(try t.scan().count == 2)
            try engine.close()
        }
        do {
            let engine = try Engine.open(at: dir.path, options: options)
            let t = try engine.table(named: "users")
            #expect(try t.partitionStats().count == 2)
            #expect(try t.scan().map(\.value) == [Array("1".utf8), Array("3".utf8)])
            try engine.close()
        }
    }
}
