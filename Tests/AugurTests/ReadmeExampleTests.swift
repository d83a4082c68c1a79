import Testing
import Augur
import AugurSys
import AugurTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The README's example, compiled and run. `readmeMatches` keeps the two in step: the
/// example's body below must appear verbatim in README.md. The README sets `directory` to a
/// fixed path just above the checked body; here it is a fresh directory per run, removed after.
@Suite struct ReadmeExampleTests {
    @Test func readmeExampleRuns() throws {
        let scratch = TemporaryDirectory("augur-readme")
        defer { withExtendedLifetime(scratch) {} }      // removed when the test ends, not before
        let directory = scratch.child("store")
        // --- README example start
        var options = EngineOptions()
        options.durability = .sync                      // ack after fdatasync; concurrent writers share one sync
        let engine = try Engine.open(at: directory, options: options)
        let users = try (try? engine.table(named: "users")) ?? engine.createTable("users")

        try users.put("alice", "admin")
        try users.put("bob", "reader")
        print(try users.get("alice") ?? "missing")      // admin

        var batch = WriteBatch()                        // atomic across partitions and tables
        batch.put("carol", "writer", in: users)
        batch.delete("bob", in: users)
        try engine.write(batch)

        let byRole = try users.createSecondaryIndex(name: "role") { value in value }   // index key: the value
        try byRole.waitUntilReady()                     // built online; every later write maintains it
        for entry in try byRole.scan(range: KeyRange(from: Array("w".utf8))) {
            print(String(decoding: entry.primaryKey, as: UTF8.self))   // carol
        }

        for row in try users.scan(range: KeyRange(from: Array("a".utf8), to: Array("d".utf8)), limit: 10) {
            print(String(decoding: row.key, as: UTF8.self), String(decoding: row.value, as: UTF8.self))
        }
        try users.splitPartition(at: Array("c".utf8))   // two partitions from now on
        try engine.close()
        // --- README example end
        let reopened = try Engine.open(at: directory)
        let t = try reopened.table(named: "users")
        #expect(try t.scan().map { String(decoding: $0.key, as: UTF8.self) } == ["alice", "carol"])
        #expect(try t.partitionStats().count == 2)
        let role = try t.attachSecondaryIndex(name: "role") { value in value }
        #expect(try role.scan().map { String(decoding: $0.primaryKey, as: UTF8.self) } == ["alice", "carol"])
        try reopened.close()
    }

    @Test func readmeMatches() throws {
        let here = String(#filePath)
        let root = parentDirectory(parentDirectory(parentDirectory(here)))
        let fs = PosixFileSystem()
        let readme = String(decoding: try fs.readFile(joinPath(root, "README.md")), as: UTF8.self)
        let source = String(decoding: try fs.readFile(here), as: UTF8.self)
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.contains("--- README example start") })
        let end = try #require(lines.firstIndex { $0.contains("--- README example end") })
        let body = lines[(start + 1)..<end].map { $0.hasPrefix("        ") ? String($0.dropFirst(8)) : String($0) }
        #expect(readme.contains(body.joined(separator: "\n")), "README.md's example differs from ReadmeExampleTests")
    }
}
