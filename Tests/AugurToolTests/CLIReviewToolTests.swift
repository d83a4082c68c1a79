import AugurTestSupport
import Foundation
import Testing

/// Found by a hostile-user review of the `augur` CLI (2026-12-07, /tmp/review/cli/FINDINGS.md
/// F4, F5, F7-F11): inputs read with Foundation gave untyped errors, a duplicated column was
/// used silently, a combination of flags failed with an internal formula, a full stdout gave
/// two exit codes, table names could fake output lines, counts were wrong, and empty paths and
/// bounds were accepted or misreported.
@Suite struct CLIReviewToolTests {
    /// Runs `script` with `sh -c` in `dir`, `$A` the built augur; stdout and stderr as text.
    static func shell(_ script: String, in dir: String) throws -> ToolTests.Outcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "A=\"$0\"; { " + script + "; } >.out 2>.err", try ToolTests.tool("augur")]
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        func read(_ name: String) -> String { (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)) ?? "" }
        return ToolTests.Outcome(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
                                 stdout: read(".out"), stderr: read(".err"))
    }

    /// F4: two columns of the requested name are an error naming both, not the first silently.
    @Test func aColumnNamedTwiceIsRefusedByForecastAndSimulate() throws {
        let dir = TemporaryDirectory()
        var text = "load,t,load\n"
        for i in 0..<240 { text += "\(i),\(i),\(100 + i % 7)\n" }
        try text.write(toFile: dir.child("dup.csv"), atomically: true, encoding: .utf8)
        for args in [["forecast", "--csv", "dup.csv", "--column", "load", "--period", "48", "--output", "o.csv"],
                     ["simulate", "--csv", "dup.csv", "--column", "load", "--policy", "static"]] {
            let r = try ToolTests.run("augur", args, in: dir.path)
            #expect(!r.signaled && r.status == 1 && r.stderr.contains("column \"load\" appears 2 times") && r.stderr.contains("columns 1 and 3"),
                    "\(args[0]): \(r.status) \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.child("o.csv")))
    }

    /// F5: --csv read with open/read, not Foundation: a directory, /dev/null, bytes that are not
    /// UTF-8 and /dev/zero each say what they are; a FIFO and a pipe are read.
    @Test func csvInputsThatAreNotRegularFilesGetClearErrorsOrAreRead() throws {
        let dir = TemporaryDirectory()
        try ToolTests.writeSeries(dir.child("s.csv"))
        try FileManager.default.createDirectory(atPath: dir.child("d"), withIntermediateDirectories: false)
        try Data(Array("t,v\n1,2\n3,".utf8) + [0xff, 0xfe] + Array("\n".utf8)).write(to: URL(fileURLWithPath: dir.child("bad.csv")))
        let cases: [(String, String)] = [("d", "--csv: d is a directory, not a file"),
                                         ("/dev/null", "/dev/null has no data rows"),
                                         ("bad.csv", "bad.csv is not UTF-8 text: line 3 (byte offset 10) holds the byte 0xff"),
                                         ("/dev/zero", "/dev/zero is not UTF-8 text: line 1 (byte offset 0) holds a NUL byte"),
                                         ("missing.csv", "missing.csv does not exist")]
        for sub in [["forecast", "--period", "48"], ["simulate", "--policy", "static"]] {
            for (csv, message) in cases {
                let r = try ToolTests.run("augur", [sub[0], "--csv", csv, "--column", "v"] + sub.dropFirst(), in: dir.path)
                #expect(!r.signaled && r.status == 1 && r.stderr.contains(message), "\(sub[0]) \(csv): \(r.status) \(r.stderr)")
                #expect(!r.stderr.contains("permission") && !r.stderr.contains("NSCocoaErrorDomain"), "\(r.stderr)")
            }
        }
        let fifo = try Self.shell("mkfifo fifo && (cat s.csv > fifo &) && \"$A\" forecast --csv fifo --column v --period 48 --output f.csv", in: dir.path)
        #expect(fifo.status == 0 && fifo.stdout.contains("240 observations"), "\(fifo.status) \(fifo.stderr)")
        let pipe = try Self.shell("cat s.csv | \"$A\" simulate --csv /dev/stdin --column v --policy static", in: dir.path)
        #expect(pipe.status == 0 && pipe.stdout.contains("240 rows"), "\(pipe.status) \(pipe.stderr)")
    }

    /// F7: --rows-per-day passed 2...65536 alone, then failed naming forecastStepSeconds.
    @Test func rowsPerDayIsCheckedWithSecondsPerRow() throws {
        let dir = TemporaryDirectory()
        try ToolTests.writeSeries(dir.child("s.csv"))
        let cases: [([String], [String])] = [
            (["--rows-per-day", "65536"], ["--rows-per-day 65536 × --seconds-per-row 60", "--rows-per-day can be at most 21845"]),
            (["--rows-per-day", "40000", "--seconds-per-row", "40"], ["--rows-per-day can be at most 32768"]),
            (["--rows-per-day", "3", "--seconds-per-row", "7"], ["daily cycle of 21 simulated s", "at least 40 s"]),
            (["--rows-per-day", "3", "--seconds-per-row", "30"], ["not a whole number", "multiple of 20 s"]),
        ]
        for (flags, messages) in cases {
            let r = try ToolTests.run("augur", ["simulate", "--csv", "s.csv", "--column", "v", "--policy", "static"] + flags, in: dir.path)
            #expect(!r.signaled && r.status == 64 && messages.allSatisfy(r.stderr.contains) && !r.stderr.contains("forecastStepSeconds"),
                    "\(flags): \(r.status) \(r.stderr)")
        }
        let most = try ToolTests.run("augur", ["simulate", "--csv", "s.csv", "--column", "v", "--policy", "static", "--rows-per-day", "21845",
                                               "--rows", "10"], in: dir.path)
        #expect(most.status != 64, "\(most.stderr)")
    }

    /// F8: get and scan to a full stdout exited 1 with their own message; now 74 and the
    /// message every other command gives.
    @Test func aFullStandardOutputIsExit74ForEveryCommand() throws {
        let dir = TemporaryDirectory()
        #expect(try ToolTests.run("augur", ["put", "--dir", "db", "--table", "t", "--create-table", "k", "v"], in: dir.path).status == 0)
        for cmd in ["info --dir db", "get --dir db --table t k", "scan --dir db --table t", "help"] {
            let r = try Self.shell("\"$A\" \(cmd) >/dev/full; echo $? >rc", in: dir.path)
            let status = (try? String(contentsOfFile: dir.child("rc"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(status == "74", "\(cmd): \(status ?? "?") \(r.stderr)")
            #expect(r.stderr.contains("standard output could not be written (No space left on device)"), "\(cmd): \(r.stderr)")
        }
    }

    /// F9: table names are quoted and escaped like keys: a newline or tab cannot fake a line, an
    /// all-space name is visible.
    @Test func tableNamesAreQuotedAndEscaped() throws {
        let dir = TemporaryDirectory()
        for name in ["a\nb", " ", "t\tq\"x"] {
            let r = try ToolTests.run("augur", ["put", "--dir", "db", "--table", name, "--create-table", "k", "v"], in: dir.path)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let info = try ToolTests.run("augur", ["info", "--dir", "db"], in: dir.path)
        #expect(info.status == 0, "\(info.stderr)")
        let tables = info.stdout.split(separator: "\n").filter { $0.hasPrefix("table ") }
        #expect(tables.count == 3 && !info.stdout.contains("\nb ("), "\(info.stdout)")
        for shown in ["table \"a\\nb\" (range)", "table \" \" (range)", "table \"t\\tq\\\"x\" (range)"] {
            #expect(info.stdout.contains(shown), "\(shown) in \(info.stdout)")
        }
        let advise = try ToolTests.run("augur", ["advise", "--dir", "db", "--table", "a\nb"], in: dir.path)
        #expect(advise.stdout.hasPrefix("table \"a\\nb\" ") && advise.stdout.split(separator: "\n").count == 1, "\(advise.stdout) \(advise.stderr)")
        let missing = try ToolTests.run("augur", ["get", "--dir", "db", "--table", " ", "nokey"], in: dir.path)
        #expect(missing.status == 1 && missing.stderr.contains("in table \" \""), "\(missing.stderr)")
    }

    /// F10c: the demo's spot check printed "1,000 keys" whatever it checked.
    @Test func demoPrintsTheKeysItSpotChecked() throws {
        let dir = TemporaryDirectory()
        let r = try ToolTests.run("augur", ["demo", "--dir", "db", "--records", "3", "--kill-after-ms", "1"], in: dir.path)
        #expect(r.status == 0 && r.stdout.contains("spot check (3 of 3 keys): 0 missing") && !r.stdout.contains("1,000"), "\(r.stdout) \(r.stderr)")
    }

    /// F11a: a value from a file or standard input, past the kernel's per-argument limit, up to
    /// the engine's maxValueSize.
    @Test func putTakesItsValueFromAFileUpToMaxValueSize() throws {
        let dir = TemporaryDirectory()
        let big = [UInt8]((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try Data(big).write(to: URL(fileURLWithPath: dir.child("big.bin")))
        let put = try ToolTests.run("augur", ["put", "--dir", "db", "--table", "t", "--create-table", "--value-file", "big.bin", "k"], in: dir.path)
        #expect(put.status == 0, "\(put.stderr)")
        let back = try ToolTests.run("augur", ["get", "--dir", "db", "--table", "t", "--hex", "6b"], in: dir.path)
        #expect(back.stdout == big.map { String(format: "%02x", $0) }.joined() + "\n", "\(back.stdout.prefix(80)) \(back.stderr)")
        let stdin = try Self.shell("printf 'a\\tb' | \"$A\" put --dir db --table t --value-file - s && \"$A\" get --dir db --table t s", in: dir.path)
        #expect(stdin.status == 0 && stdin.stdout == "a\\tb\n", "\(stdin.stdout) \(stdin.stderr)")
        // One byte past 16 MiB (the default maxValueSize), sparse so the test writes little.
        FileManager.default.createFile(atPath: dir.child("huge.bin"), contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: dir.child("huge.bin")))
        try h.truncate(atOffset: UInt64(16 << 20) + 1)
        try h.close()
        let huge = try ToolTests.run("augur", ["put", "--dir", "db", "--table", "t", "--value-file", "huge.bin", "h"], in: dir.path)
        #expect(huge.status == 1 && huge.stderr.contains("huge.bin holds more than the engine's maxValueSize of 16777216 bytes"), "\(huge.stderr)")
        let both = try ToolTests.run("augur", ["put", "--dir", "db", "--table", "t", "--value-file", "big.bin", "k", "v"], in: dir.path)
        #expect(both.status == 64 && both.stderr.contains("not both"), "\(both.stderr)")
        let neither = try ToolTests.run("augur", ["put", "--dir", "db", "--table", "t", "k"], in: dir.path)
        #expect(neither.status == 64 && neither.stderr.contains("--value-file"), "\(neither.stderr)")
    }

    /// Every writable open preallocates a log segment; `put` and `delete` write one record, so
    /// theirs are 1 MiB (a larger record: the next power of two above it and 64 KiB), not the
    /// engine's 64 MiB — with which a two-byte put failed "disk full" on a disk with less free,
    /// and three such puts wedged a store on 150 MiB.
    @Test func oneRecordCommandsPreallocateSmallLogSegments() throws {
        let dir = TemporaryDirectory()
        #expect(try ToolTests.run("augur", ["put", "--dir", "db", "--table", "t", "--create-table", "a", "1"], in: dir.path).status == 0)
        for k in ["b", "c"] { #expect(try ToolTests.run("augur", ["put", "--dir", "db", "--table", "t", k, "2"], in: dir.path).status == 0) }
        #expect(try ToolTests.run("augur", ["delete", "--dir", "db", "--table", "t", "a"], in: dir.path).status == 0)
        func sizes() throws -> [Int] {
            try FileManager.default.contentsOfDirectory(atPath: dir.child("db/wal")).map {
                (try FileManager.default.attributesOfItem(atPath: dir.child("db/wal/" + $0))[.size] as? Int) ?? -1
            }
        }
        let small = try sizes()
        #expect(!small.isEmpty && small.allSatisfy { $0 == 1 << 20 }, "\(small)")
        try Data(repeating: 0x61, count: 1 << 20).write(to: URL(fileURLWithPath: dir.child("v.bin")))
        #expect(try ToolTests.run("augur", ["put", "--dir", "db", "--table", "t", "--value-file", "v.bin", "big"], in: dir.path).status == 0)
        let after = try sizes()
        #expect(after.contains(2 << 20), "\(after)")
        let scan = try ToolTests.run("augur", ["scan", "--dir", "db", "--table", "t"], in: dir.path)
        #expect(scan.stdout.split(separator: "\n").map { $0.prefix(3) } == ["b\t2", "big", "c\t2"], "\(scan.stdout.prefix(200))")
    }

    /// F11b, c: an empty path says so; an empty scan bound is refused instead of returning
    /// nothing with exit 0.
    @Test func emptyPathsAndBoundsAreRefused() throws {
        let dir = TemporaryDirectory()
        try ToolTests.writeSeries(dir.child("s.csv"))
        #expect(try ToolTests.run("augur", ["put", "--dir", "db", "--table", "t", "--create-table", "k", "v"], in: dir.path).status == 0)
        let cases: [([String], String)] = [
            (["put", "--dir", "", "--table", "t", "k", "v"], "--dir is empty"),
            (["info", "--dir", ""], "--dir is empty"),
            (["plan", "--dir", ""], "--dir is empty"),
            (["backup", "--dir", "db", "--to", ""], "--to is empty"),
            (["forecast", "--csv", "s.csv", "--column", "v", "--period", "48", "--output", ""], "--output is empty"),
            (["simulate", "--csv", "", "--column", "v"], "--csv is empty"),
            (["scan", "--dir", "db", "--table", "t", "--to", ""], "--to is empty"),
            (["scan", "--dir", "db", "--table", "t", "--hex", "--to", "0x"], "--to is empty"),
            (["scan", "--dir", "db", "--table", "t", "--from", ""], "--from is empty"),
        ]
        for (args, message) in cases {
            let r = try ToolTests.run("augur", args, in: dir.path)
            #expect(!r.signaled && r.status == 64 && r.stderr.contains(message), "\(args): \(r.status) \(r.stderr)")
        }
    }

    /// A store the CLI closed cleanly whose newest log segment lost its last frame (the delete
    /// of k1) and its seal: every command refuses, naming the file, and says how to keep what
    /// is intact — the point-in-time `recover` it names then opens the store. (Before the
    /// close's manifest record, `get k1` printed the deleted value, exit 0.)
    @Test func aRefusedOpenOfADamagedLogNamesThePointInTimeRecovery() throws {
        let dir = TemporaryDirectory()
        for args in [["put", "--dir", "s", "--table", "t", "--create-table", "k1", "v1"],
                     ["put", "--dir", "s", "--table", "t", "k2", "v2"], ["delete", "--dir", "s", "--table", "t", "k1"]] {
            let r = try ToolTests.run("augur", args, in: dir.path)
            try #require(r.status == 0, "\(args): \(r.stderr)")
        }
        let wal = try FileManager.default.contentsOfDirectory(atPath: dir.child("s/wal")).sorted()
        let newest = dir.child("s/wal/" + (try #require(wal.last)))
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: newest)))
        func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        var at = 56, lastData: Int? = nil          // FORMAT.md: the header frame, then frames
        while at + 24 <= bytes.count, u32(at + 4) > 0 {
            if u32(at + 16) > 0 { lastData = at }
            at += (24 + u32(at + 4) + 7) & ~7
        }
        let last = try #require(lastData)
        for i in last..<bytes.count { bytes[i] = 0 }
        try Data(bytes).write(to: URL(fileURLWithPath: newest))
        for command in ["get", "scan"] {
            let r = try ToolTests.run("augur", [command, "--dir", "s", "--table", "t"] + (command == "get" ? ["k1"] : []), in: dir.path)
            #expect(!r.signaled && r.status == 1 && !r.stdout.contains("v1"), "\(command): \(r.status) \(r.stdout) \(r.stderr)")
            #expect(r.stderr.contains("closed cleanly") && r.stderr.contains("augur recover --dir s --mode point-in-time"), "\(command): \(r.stderr)")
        }
        let recover = try ToolTests.run("augur", ["recover", "--dir", "s"], in: dir.path)
        #expect(recover.status == 1 && recover.stderr.contains("--mode point-in-time"), "\(recover.stderr)")
        let cut = try ToolTests.run("augur", ["recover", "--dir", "s", "--mode", "point-in-time"], in: dir.path)
        #expect(cut.status == 0 && cut.stdout.contains("closed cleanly"), "\(cut.status) \(cut.stdout) \(cut.stderr)")
        let k2 = try ToolTests.run("augur", ["get", "--dir", "s", "--table", "t", "k2"], in: dir.path)
        #expect(k2.status == 0 && k2.stdout.contains("v2"), "\(k2.stdout) \(k2.stderr)")
    }
}
