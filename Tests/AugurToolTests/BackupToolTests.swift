import Augur
import AugurSys
import AugurTestSupport
import Foundation
import Testing

/// `augur backup` and `augur restore` as a user runs them (issue 18): a round trip keeps every
/// record and gives the asked-for layout, a damaged backup is refused in one line naming the
/// file, bad flags are usage errors, and nothing is written over an existing directory.
@Suite struct BackupToolTests {
    @Test func backupThenRestoreKeepsEveryRecordAndRefusesDamage() throws {
        let dir = TemporaryDirectory()
        let engine = try Engine.open(at: dir.child("db"))
        let t = try engine.createTable("t")
        for i in 0..<2000 { try t.put(Array(String(format: "k%05d", i).utf8), Array("v\(i)".utf8)) }
        try engine.flush()
        try engine.close()

        let backup = try ToolTests.run("augur", ["backup", "--dir", "db", "--to", "bk"], in: dir.path)
        #expect(backup.status == 0, "status \(backup.status): \(backup.stderr)")
        #expect(backup.stdout.contains("backed up db to bk"), "\(backup.stdout)")
        let again = try ToolTests.run("augur", ["backup", "--dir", "db", "--to", "bk"], in: dir.path)
        #expect(again.status == 1 && again.stderr.contains("already exists"), "status \(again.status): \(again.stderr)")

        let check = try ToolTests.run("augur", ["restore", "--from", "bk", "--check"], in: dir.path)
        #expect(check.status == 0 && check.stdout.contains("every file matches"), "\(check.stdout) \(check.stderr)")
        let checkTo = try ToolTests.run("augur", ["restore", "--from", "bk", "--check", "--to", "r5"], in: dir.path)
        #expect(checkTo.status == 64 && checkTo.stderr.contains("restores nothing"), "\(checkTo.status) \(checkTo.stderr)")

        let restored = try ToolTests.run("augur", ["restore", "--from", "bk", "--to", "r", "--partitions", "4"], in: dir.path)
        #expect(restored.status == 0, "status \(restored.status): \(restored.stderr)")
        #expect(restored.stdout.contains("4 now"), "\(restored.stdout)")
        let copy = try Engine.open(at: dir.child("r"))
        let rt = try copy.table(named: "t")
        #expect(try rt.partitionStats().count == 4)
        #expect(try rt.scan().count == 2000)
        try copy.close()
        let log = (try? String(contentsOfFile: dir.child("r") + "/decisions.jsonl", encoding: .utf8)) ?? ""
        #expect(log.contains("restore-override"), "\(log)")

        for bad in ["0", "4097", "many", "-1"] {
            let r = try ToolTests.run("augur", ["restore", "--from", "bk", "--to", "r2", "--partitions", bad], in: dir.path)
            #expect(r.status == 64 && r.stderr.contains("--partitions"), "\(bad): status \(r.status): \(r.stderr)")
        }

        // One flipped byte in a segment file of the backup.
        let seg = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.child("bk/seg")).first)
        let path = dir.child("bk/seg/" + seg)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: path))
        let refused = try ToolTests.run("augur", ["restore", "--from", "bk", "--to", "r3"], in: dir.path)
        #expect(refused.status == 1, "status \(refused.status)")
        #expect(refused.stderr.contains(seg) && refused.stderr.contains("crc32c"), "\(refused.stderr)")
        #expect(refused.stderr.split(separator: "\n").count == 1, "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.child("r3")))
        #expect(!FileManager.default.fileExists(atPath: dir.child("r3.augur-partial")))
    }

    /// `augur backup` and `augur restore` killed with SIGKILL at spread-out moments: the
    /// source and the backup still open with every record, and the target is either absent or
    /// complete (a restore of it holds every record).
    @Test func backupAndRestoreKilledAtAnyMomentLeaveNoTargetOrACompleteOne() throws {
        let dir = TemporaryDirectory()
        let records = 20_000
        let engine = try Engine.open(at: dir.child("db"))
        let t = try engine.createTable("t")
        let value = [UInt8](repeating: 0x61, count: 1000)
        for i in 0..<records { try t.put(Array(String(format: "k%06d", i).utf8), value) }
        try engine.close()
        func count(_ path: String) throws -> Int {
            let e = try Engine.open(at: path)
            defer { try? e.close() }
            return try e.table(named: "t").scan().count
        }
        let augur = try ToolTests.tool("augur")
        // How long each takes unkilled here; the kills land at spread-out fractions of that.
        var took: [Double] = []
        for args in [["backup", "--dir", "db", "--to", "bk"], ["restore", "--from", "bk", "--to", "r-whole"]] {
            let started = ContinuousClock.now
            let made = try ToolTests.run("augur", args, in: dir.path)
            try #require(made.status == 0, "\(made.stderr)")
            let d = ContinuousClock.now - started
            took.append(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
        }
        #expect(try count(dir.child("r-whole")) == records)
        var complete = [0, 0], absent = [0, 0]
        for (i, fraction) in [0.05, 0.15, 0.3, 0.45, 0.6, 0.7, 0.8, 0.9, 0.97, 1.5, 3].enumerated() {
            for (k, args) in [["backup", "--dir", dir.child("db"), "--to", dir.child("bk\(i)")],
                              ["restore", "--from", dir.child("bk"), "--to", dir.child("r\(i)")]].enumerated() {
                let delay = took[k] * fraction
                let child = try ChildProcess(executable: augur, arguments: args, standardOutput: "/dev/null", standardError: "/dev/null")
                Thread.sleep(forTimeInterval: delay)
                _ = child.kill()
                let target = k == 0 ? dir.child("bk\(i)") : dir.child("r\(i)")
                if FileManager.default.fileExists(atPath: target) {
                    complete[k] += 1
                    if k == 0 {
                        _ = try Backup.verify(at: target)
                        _ = try Backup.restore(from: target, to: target + "-restored")
                        #expect(try count(target + "-restored") == records, "backup killed after \(delay) s")
                    } else {
                        #expect(try count(target) == records, "restore killed after \(delay) s")
                    }
                } else {
                    absent[k] += 1
                }
            }
            #expect(try count(dir.child("db")) == records)
        }
        _ = try Backup.verify(at: dir.child("bk"))
        print("backup \(took[0]) s, restore \(took[1]) s; killed backups: \(complete[0]) complete, \(absent[0]) absent; "
              + "killed restores: \(complete[1]) complete, \(absent[1]) absent")
        #expect(absent[0] > 0 && absent[1] > 0, "no kill landed inside a backup or a restore")
    }
}
