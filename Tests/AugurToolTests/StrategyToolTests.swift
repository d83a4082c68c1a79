import Augur
import AugurTestSupport
import Foundation
import Testing

/// `augur-load --strategy`, `augur advise` and `augur set-strategy` (issue 18, part 1), as processes.
@Suite struct StrategyToolTests {
    @Test func aHashTableFromAugurLoadAndTheAdviceForItsWorkload() throws {
        let dir = TemporaryDirectory()
        let r = try ToolTests.run("augur-load", ["-w", "fillseq", "--records", "200000", "--operations", "30000", "--warmup", "0",
                                                  "--progress", "none", "--strategy", "hash:8", "--dir", "store"], in: dir.path)
        #expect(r.status == 0, "status \(r.status): \(r.stderr)")
        let info = try ToolTests.run("augur", ["info", "--dir", "store"], in: dir.path)
        #expect(info.stdout.contains("table \"usertable\" (hash:8): 4 partitions"), "\(info.stdout)")
        let advice = try ToolTests.run("augur", ["advise", "--dir", "store"], in: dir.path)
        #expect(advice.status == 0, "status \(advice.status): \(advice.stderr)")
        #expect(advice.stdout.contains("table \"usertable\":") && advice.stdout.contains("scores: "), "\(advice.stdout)")
        // fillseq's writes are in key order, up to the interleaving of concurrent writers
        // (a CI run measured 99 %).
        let ordered = advice.stdout.split(separator: "\n").first { $0.contains("of sampled writes are in key order") }
        let percent = ordered.flatMap { Int($0.split(separator: "-").last!.split(separator: "%").first!.trimmingCharacters(in: .whitespaces)) }
        #expect((percent ?? 0) >= 90, "\(advice.stdout)")

        // Rewritten as a range table of 3 partitions, then as the advisor says.
        let set = try ToolTests.run("augur", ["set-strategy", "--dir", "store", "--table", "usertable", "--strategy", "range",
                                              "--partitions", "3"], in: dir.path)
        #expect(set.status == 0 && set.stdout.contains("hash:8 → range, 4 → 3 partitions"), "status \(set.status): \(set.stdout) \(set.stderr)")
        let after = try ToolTests.run("augur", ["info", "--dir", "store"], in: dir.path)
        #expect(after.stdout.contains("table \"usertable\" (range): 3 partitions"), "\(after.stdout)")
        // The same strategy with another count: nothing is rewritten, so it is an error that
        // says so (it used to exit 0 with the count ignored).
        let same = try ToolTests.run("augur", ["set-strategy", "--dir", "store", "--table", "usertable", "--strategy", "range",
                                               "--partitions", "5"], in: dir.path)
        #expect(same.status == 1 && same.stderr.contains("--partitions 5 was not applied (it has 3)"), "status \(same.status): \(same.stderr)")
        let advised = try ToolTests.run("augur", ["set-strategy", "--dir", "store", "--table", "usertable", "--advised"], in: dir.path)
        #expect(advised.status == 0 && advised.stdout.contains("advisor: "), "status \(advised.status): \(advised.stdout) \(advised.stderr)")
        // A strategy or count out of its limits is a bad argument (64, it was 1), named with its
        // limit, and the table is left as it was.
        let before = try ToolTests.run("augur", ["info", "--dir", "store"], in: dir.path)
        for (arguments, message) in [(["--strategy", "hash:1"], "--strategy hash:1: buckets 1 must be in 2...256"),
                                     (["--strategy", "composite:99:4"], "--strategy composite:99:4: prefixLength 99 must be in 1...64"),
                                     (["--strategy", "hash:4", "--partitions", "9"], "--partitions 9: a hash:4 table is rewritten into 1...4 partitions"),
                                     (["--strategy", "range", "--partitions", "0"], "--partitions 0: a range table is rewritten into 1...4096 partitions")] {
            let badSet = try ToolTests.run("augur", ["set-strategy", "--dir", "store", "--table", "usertable"] + arguments, in: dir.path)
            #expect(badSet.status == 64 && badSet.stderr.contains(message), "\(arguments): status \(badSet.status): \(badSet.stderr)")
        }
        // Every open starts a WAL segment, so the store line differs; the table's lines may not.
        let unchanged = try ToolTests.run("augur", ["info", "--dir", "store"], in: dir.path)
        #expect(unchanged.stdout.split(separator: "\n").dropFirst() == before.stdout.split(separator: "\n").dropFirst(),
                "\(before.stdout)\n→\n\(unchanged.stdout)")
        let both = try ToolTests.run("augur", ["set-strategy", "--dir", "store", "--table", "usertable", "--strategy", "range", "--advised"],
                                     in: dir.path)
        #expect(both.status == 64, "status \(both.status): \(both.stderr)")
        let noTable = try ToolTests.run("augur", ["set-strategy", "--dir", "store", "--table", "nope", "--strategy", "range"], in: dir.path)
        #expect(noTable.status == 1 && noTable.stderr.contains("nope"), "status \(noTable.status): \(noTable.stderr)")

        for bad in ["hash:1", "composite:0", "tree", "hash:x", "composite:17"] {
            let refused = try ToolTests.run("augur-load", ["-w", "fillseq", "--records", "100", "--operations", "100", "--strategy", bad],
                                            in: dir.path)
            #expect(refused.status == 64 && refused.stderr.contains("strategy"), "\(bad): status \(refused.status): \(refused.stderr)")
        }
    }

    @Test func adviseNamesAStoreWithoutAWorkloadAndAMissingOne() throws {
        let dir = TemporaryDirectory()
        do {
            let engine = try Engine.open(at: dir.child("empty"))
            try engine.createTable("t")
            try engine.close()
        }
        let none = try ToolTests.run("augur", ["advise", "--dir", "empty", "--table", "t"], in: dir.path)
        #expect(none.status == 2 && none.stdout.contains("no recorded workload"), "status \(none.status): \(none.stdout) \(none.stderr)")
        let missing = try ToolTests.run("augur", ["advise", "--dir", "nowhere"], in: dir.path)
        #expect(missing.status == 1 && missing.stderr.contains("cannot open"), "status \(missing.status): \(missing.stderr)")
    }
}
