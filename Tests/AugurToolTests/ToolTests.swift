import AugurSys
import AugurTestSupport
import Foundation
import Testing

/// The built `augur` and `augur-load`, run as processes (issue 15): hostile input is a usage
/// error, runtime errors are one line and exit 1, outputs never replace what the path names,
/// a full stderr does not kill the tool, the demo survives a tiny --kill-after-ms.
@Suite struct ToolTests {
    struct Outcome {
        var status: Int32
        var signaled: Bool
        var stdout: String
        var stderr: String
    }

    /// The tool built next to this test bundle (the package's test target depends on it).
    static func tool(_ name: String) throws -> String {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let path = me.appendingPathComponent(name).path
        try #require(FileManager.default.isExecutableFile(atPath: path), "\(name) not built next to the tests at \(path)")
        return path
    }

    /// Runs `name args` in `dir` and waits for it; stderr goes to `stderrPath` when given.
    static func run(_ name: String, _ args: [String], in dir: String, stderrPath: String? = nil,
                    environment: [String: String] = [:]) throws -> Outcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try tool(name))
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = dir + "/.stdout", err = dir + "/.stderr"
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath ?? err))
        try p.run()
        p.waitUntilExit()
        return Outcome(status: p.terminationStatus, signaled: p.terminationReason == .uncaughtSignal,
                       stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// A half-hourly-looking series that is not exactly periodic (so MASE is defined).
    static func writeSeries(_ path: String, constant: Bool = false) throws {
        var text = "t,v\n"
        for i in 0..<240 { text += "\(i),\(constant ? 5 : 100 + 40 * sin(Double(i) * .pi / 24) + Double((i * 7919) % 13))\n" }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test func simulateRefusesHostileNumbers() throws {
        let dir = TemporaryDirectory()
        try Self.writeSeries(dir.child("s.csv"))
        let cases: [(String, String)] = [("peak-multiple", "inf"), ("peak-multiple", "1e308"), ("hotspot-speed", "nan"),
                                         ("hotspot-speed", "1e308"), ("copy-mib-per-second", "1e-300"), ("copy-mib-per-second", "inf"),
                                         ("seconds-per-row", "1e308"), ("hot-key-share", "-1"), ("rows-per-day", "9223372036854775807")]
        for (flag, value) in cases {
            let r = try Self.run("augur", ["simulate", "--csv", "s.csv", "--column", "v", "--policy", "reactive", "--\(flag)=\(value)"], in: dir.path)
            #expect(!r.signaled && r.status == 64, "--\(flag) \(value): status \(r.status), signaled \(r.signaled)")
            #expect(r.stderr.contains("--\(flag)") && r.stderr.contains(value == "9223372036854775807" ? value : "range"),
                    "--\(flag) \(value): \(r.stderr)")
        }
    }

    @Test func outputsAreWrittenThroughSymlinksNotOverThem() throws {
        let dir = TemporaryDirectory()
        try Self.writeSeries(dir.child("s.csv"))
        #expect(symlink("forecast-target.csv", dir.child("forecast-link")) == 0)
        #expect(symlink("trace-target.txt", dir.child("trace-link")) == 0)
        let f = try Self.run("augur", ["forecast", "--csv", "s.csv", "--column", "v", "--period", "48", "--output", "forecast-link"], in: dir.path)
        #expect(f.status == 0, "\(f.stderr)")
        let s = try Self.run("augur", ["simulate", "--csv", "s.csv", "--column", "v", "--policy", "static", "--trace", "trace-link"], in: dir.path)
        #expect(s.status == 0, "\(s.stderr)")
        for (link, target) in [("forecast-link", "forecast-target.csv"), ("trace-link", "trace-target.txt")] {
            let attributes = try FileManager.default.attributesOfItem(atPath: dir.child(link))
            #expect(attributes[.type] as? FileAttributeType == .typeSymbolicLink, "\(link) must stay a symlink")
            #expect(FileManager.default.fileExists(atPath: dir.child(target)))
        }
        #expect(try String(contentsOfFile: dir.child("forecast-target.csv"), encoding: .utf8).hasPrefix("origin,step,actual"))
    }

    @Test func forecastOfOneModelKeepsTheColumnsAndRefusesUnknownNames() throws {
        let dir = TemporaryDirectory()
        try Self.writeSeries(dir.child("s.csv"))
        let r = try Self.run("augur", ["forecast", "--csv", "s.csv", "--column", "v", "--period", "48",
                                       "--model", "seasonal_naive", "--output", "one.csv"], in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOfFile: dir.child("one.csv"), encoding: .utf8).split(separator: "\n")
        #expect(lines.first == "origin,step,actual,model,forecast,lower80,upper80,lower95,upper95")
        #expect(lines.count > 1 && lines.dropFirst().allSatisfy { $0.split(separator: ",", omittingEmptySubsequences: false)[3] == "seasonal_naive" })
        let table = r.stdout.split(separator: "\n").filter { $0.hasPrefix("seasonal_naive") || $0.hasPrefix("ensemble") }
        #expect(table.count == 1 && table[0].hasPrefix("seasonal_naive"), "\(r.stdout)")

        let bad = try Self.run("augur", ["forecast", "--csv", "s.csv", "--column", "v", "--period", "48",
                                         "--model", "prophet", "--output", "bad.csv"], in: dir.path)
        #expect(!bad.signaled && bad.status == 64, "status \(bad.status)")
        #expect(bad.stderr.contains("prophet") && bad.stderr.contains("ensemble"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.child("bad.csv")))
    }

    /// Found from outside: these were exit 1 with internal names ("option seasonalPeriods =
    /// 48.0 is invalid"); they are usage errors naming the flag and its limit.
    @Test func forecastPeriodAndHorizonLimitsAreUsageErrors() throws {
        let dir = TemporaryDirectory()
        try Self.writeSeries(dir.child("s.csv"))
        let cases: [([String], String)] = [
            (["--period", "0"], "--period must be 2…65536, got 0"),
            (["--period", "100000"], "--period must be 2…65536, got 100000"),
            (["--period", "48", "--period", "48"], "the two --period values must differ, got 48 twice"),
            (["--period", "48", "--horizon", "9223372036854775807"], "--horizon must be at most 4096, got 9223372036854775807"),
        ]
        for (args, message) in cases {
            let r = try Self.run("augur", ["forecast", "--csv", "s.csv", "--column", "v", "--output", "f.csv"] + args, in: dir.path)
            #expect(!r.signaled && r.status == 64, "\(args): status \(r.status), \(r.stderr)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }

    /// Found from outside: a negative number as an option's next word was "Missing value for
    /// '--limit <limit>'"; each tool now names the value and the limit, as for `--limit=-1`.
    @Test func aNegativeNumberAfterAnOptionIsCheckedAsItsValue() throws {
        let dir = TemporaryDirectory()
        let cases: [(String, [String], String)] = [
            ("augur", ["scan", "--dir", "s", "--table", "t", "--limit", "-1"], "-1"),
            ("augur-load", ["run", "--threads", "-1"], "invalid option threads=-1"),
            ("augur-crash", ["--cycles", "-3"], "--cycles must be at least 1 (got -3)"),
        ]
        for (tool, args, message) in cases {
            let r = try Self.run(tool, args, in: dir.path)
            #expect(!r.signaled && r.status == 64, "\(tool) \(args): status \(r.status), \(r.stderr)")
            #expect(r.stderr.contains(message) && !r.stderr.contains("Missing value"), "\(tool) \(args): \(r.stderr)")
        }
    }

    @Test func forecastOfAConstantSeriesSaysMASEIsUndefined() throws {
        let dir = TemporaryDirectory()
        try Self.writeSeries(dir.child("c.csv"), constant: true)
        let r = try Self.run("augur", ["forecast", "--csv", "c.csv", "--column", "v", "--period", "48", "--output", "f.csv"], in: dir.path)
        #expect(!r.signaled && r.status == 2, "status \(r.status)")
        #expect(r.stdout.contains("MASE is undefined"))
        #expect(!r.stdout.lowercased().contains("nan"), "\(r.stdout)")
        #expect(FileManager.default.fileExists(atPath: dir.child("f.csv")), "the forecasts are still written")
    }

    @Test func runtimeErrorsAreOneLineAndExit1() throws {
        let dir = TemporaryDirectory()
        for sub in ["info", "stats", "plan"] {
            let r = try Self.run("augur", [sub, "--dir", "no-such-store"], in: dir.path)
            #expect(!r.signaled && r.status == 1, "\(sub): status \(r.status)")
            #expect(r.stderr.contains("no-such-store") && !r.stderr.contains("Usage"), "\(sub): \(r.stderr)")
        }
        let w = try Self.run("augur", ["demo-writer", "--dir", "db", "--ack-log", "missing/acks"], in: dir.path)
        #expect(!w.signaled && w.status == 1, "demo-writer with a bad --ack-log: status \(w.status), signaled \(w.signaled)")
        #expect(w.stderr.contains("--ack-log"))
    }

    /// `augur put | get | scan | delete` from the shell: text and hex keys, bytes a line-based
    /// reader would misread escaped, ranges, reverse, limits; bad input is a usage error naming
    /// it, a missing key or table one line and exit 1, and a full output device (/dev/full) a
    /// failure with exit 74 like every command's, not a trap (FileHandle's write trapped on ENOSPC).
    @Test func dataCommandsFromTheShell() throws {
        let dir = TemporaryDirectory()
        func augur(_ args: [String]) throws -> Outcome {
            let r = try Self.run("augur", args, in: dir.path)
            #expect(!r.signaled, "\(args): killed by a signal; \(r.stderr)")
            return r
        }
        let store = ["--dir", "db", "--table", "t"]
        #expect(try augur(["put"] + store + ["k1", "v1"]).status == 1, "put into a missing store without --create-table")
        #expect(try augur(["put"] + store + ["--create-table", "k1", "v1"]).status == 0)
        #expect(try augur(["put"] + store + ["k2\tx", "line\nbreak\\"]).status == 0)
        #expect(try augur(["put"] + store + ["--hex", "0x00ff", "0a0b"]).status == 0)
        #expect(try augur(["get"] + store + ["k1"]).stdout == "v1\n")
        let all = try augur(["scan"] + store)
        #expect(all.stdout == "\\x00\\xff\t\\n\\x0b\nk1\tv1\nk2\\tx\tline\\nbreak\\\\\n", "\(all.stdout)")
        #expect(try augur(["scan"] + store + ["--hex", "--reverse", "--limit", "1"]).stdout == "6b320978\t6c696e650a627265616b5c\n")
        #expect(try augur(["scan"] + store + ["--from", "k", "--to", "k2"]).stdout == "k1\tv1\n")
        #expect(try augur(["delete"] + store + ["k1"]).status == 0)
        let missing = try augur(["get"] + store + ["k1"])
        #expect(missing.status == 1 && missing.stderr.contains("no key k1") && missing.stdout.isEmpty, "\(missing.stderr)")
        let noTable = try augur(["scan", "--dir", "db", "--table", "nope"])
        #expect(noTable.status == 1 && noTable.stderr.contains("\"nope\" does not exist"), "\(noTable.stderr)")
        let badHex = try augur(["get"] + store + ["--hex", "0g"])
        #expect(badHex.status == 64 && badHex.stderr.contains("not hexadecimal"), "\(badHex.stderr)")
        let badLimit = try augur(["scan"] + store + ["--limit", "0"])
        #expect(badLimit.status == 64 && badLimit.stderr.contains("--limit 0"), "\(badLimit.stderr)")
        let inverted = try augur(["scan"] + store + ["--from", "z", "--to", "a"])
        #expect(inverted.status == 64 && inverted.stderr.contains("not below --to"), "\(inverted.stderr)")
        let huge = try augur(["put"] + store + [String(repeating: "k", count: 5_000), "v"])
        #expect(huge.status == 1 && huge.stderr.contains("exceeds the limit of 4096"), "\(huge.stderr)")
        // Past a page (4,096 records a scan call): 10,000 sequential keys, every one once, in
        // order both ways, and a limit across the page boundary.
        let load = try Self.run("augur-load", ["run", "-w", "fillseq", "--records", "10000", "--operations", "10000",
                                               "--warmup", "0", "--durability", "none", "--dir", "big"], in: dir.path)
        #expect(load.status == 0, "\(load.stderr)")
        let big = ["--dir", "big", "--table", "usertable", "--hex"]
        let up = try augur(["scan"] + big).stdout.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
        let down = try augur(["scan", "--reverse"] + big).stdout.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
        #expect(up.count == 10_000 && Set(up).count == 10_000 && up == up.sorted(), "\(up.count) keys")
        #expect(down == up.reversed())
        #expect(try augur(["scan", "--limit", "5000"] + big).stdout.split(separator: "\n").count == 5_000)
        let full = try Self.runToAFullDevice(["scan"] + store, in: dir.path)
        #expect(!full.signaled && full.status == 74, "scan > /dev/full: \(full.status)")
    }

    /// Runs `augur args` in `dir` with standard output on /dev/full (stderr discarded).
    static func runToAFullDevice(_ args: [String], in dir: String) throws -> (status: Int32, signaled: Bool) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try tool("augur"))
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/full"))
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return (p.terminationStatus, p.terminationReason == .uncaughtSignal)
    }

    /// Found by a hostile-input audit (2026-12-07): each exited 0 with the output gone, or
    /// trapped. Every command's printed output to a full device is an error (exit 74), not
    /// only `get` and `scan`'s.
    @Test func printedOutputToAFullDeviceIsAnError() throws {
        let dir = TemporaryDirectory()
        #expect(try Self.run("augur", ["put", "--dir", "db", "--table", "t", "--create-table", "k", "v"], in: dir.path).status == 0)
        try Self.writeSeries(dir.child("s.csv"))
        for args in [["info", "--dir", "db"], ["simulate", "--csv", "s.csv", "--column", "v", "--policy", "static"]] {
            let r = try Self.runToAFullDevice(args, in: dir.path)
            #expect(!r.signaled && r.status == 74, "\(args[0]) > /dev/full: \(r.status)")
        }
    }

    /// Bytes that are not UTF-8 in a text key: Swift decoded them as U+FFFD, so `\xfe` was
    /// stored as EF BF BD and `get \xfd` returned its value. Now a usage error pointing to --hex.
    @Test func aTextKeyThatIsNotUTF8IsRefused() throws {
        let dir = TemporaryDirectory()
        // A Swift String cannot hold the byte 0xFE: the shell puts it in the argument.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "\"$0\" put --dir db --table t --create-table \"$(printf '\\376')\" v 2>err", try Self.tool("augur")]
        p.currentDirectoryURL = URL(fileURLWithPath: dir.path)
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let err = (try? String(contentsOfFile: dir.child("err"), encoding: .utf8)) ?? ""
        #expect(p.terminationReason == .exit && p.terminationStatus == 64 && err.contains("--hex"), "\(p.terminationStatus) \(err)")
        #expect(try Self.run("augur", ["put", "--dir", "db", "--table", "t", "--create-table", "héllo", "wörld"], in: dir.path).status == 0)
        let back = try Self.run("augur", ["get", "--dir", "db", "--table", "t", "héllo"], in: dir.path)
        #expect(back.status == 0 && back.stdout.contains("w\\xc3\\xb6rld"), "\(back.stdout) \(back.stderr)")
    }

    @Test func anOutputOverItsOwnInputIsRefused() throws {
        let dir = TemporaryDirectory()
        try Self.writeSeries(dir.child("s.csv"))
        let before = try String(contentsOfFile: dir.child("s.csv"), encoding: .utf8)
        for args in [["forecast", "--csv", "s.csv", "--column", "v", "--period", "48", "--output", "./s.csv"],
                     ["simulate", "--csv", "s.csv", "--column", "v", "--policy", "static", "--trace", "s.csv"]] {
            let r = try Self.run("augur", args, in: dir.path)
            #expect(!r.signaled && r.status == 1 && r.stderr.contains("is the input file"), "\(args[0]): \(r.status) \(r.stderr)")
            #expect(try String(contentsOfFile: dir.child("s.csv"), encoding: .utf8) == before, "\(args[0]) wrote over its input")
        }
        let load = try Self.run("augur-load", ["run", "--profile", "replay", "--csv", "s.csv", "--column", "v", "--peak-rate", "1000",
                                               "--duration", "1", "--json", "s.csv"], in: dir.path)
        #expect(load.status == 64 && load.stderr.contains("is the --csv input file"), "\(load.status) \(load.stderr)")
        #expect(try String(contentsOfFile: dir.child("s.csv"), encoding: .utf8) == before)
    }

    /// Rows that are no load: the simulator trapped on a negative row, on a first --rows N all
    /// zero and on a subnormal maximum (its scale was infinite).
    @Test func simulateRefusesRowsThatAreNoLoad() throws {
        let dir = TemporaryDirectory()
        try "v\n100\n-1\n100\n100\n".write(toFile: dir.child("neg.csv"), atomically: true, encoding: .utf8)
        try "v\n0\n0\n100\n".write(toFile: dir.child("zero.csv"), atomically: true, encoding: .utf8)
        try "v\n5e-324\n0\n".write(toFile: dir.child("tiny.csv"), atomically: true, encoding: .utf8)
        let neg = try Self.run("augur", ["simulate", "--csv", "neg.csv", "--column", "v"], in: dir.path)
        #expect(!neg.signaled && neg.status == 1 && neg.stderr.contains("row 2 is -1.0"), "\(neg.status) \(neg.stderr)")
        let zero = try Self.run("augur", ["simulate", "--csv", "zero.csv", "--column", "v", "--rows", "2"], in: dir.path)
        #expect(!zero.signaled && zero.status == 1 && zero.stderr.contains("no row is above 0"), "\(zero.status) \(zero.stderr)")
        let tiny = try Self.run("augur", ["simulate", "--csv", "tiny.csv", "--column", "v"], in: dir.path)
        #expect(!tiny.signaled && tiny.status == 0, "\(tiny.status) \(tiny.stderr)")
    }

    @Test func demoWriterWhoseParentIsGoneDoesNotStart() throws {
        let dir = TemporaryDirectory()
        FileManager.default.createFile(atPath: dir.child("acks"), contents: nil)
        // Its real parent is this test process, not pid 1: as if the demo had died before it started.
        let r = try Self.run("augur", ["demo-writer", "--dir", "db", "--ack-log", "acks", "--parent-pid", "1"], in: dir.path)
        #expect(!r.signaled && r.status == 1)
        #expect(r.stderr.contains("parent process 1 is gone"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.child("db")), "it stops before opening the store")
    }

    @Test func demoSurvivesAChildKilledBeforeItWroteAnything() throws {
        let dir = TemporaryDirectory()
        let r = try Self.run("augur", ["demo", "--dir", "db", "--records", "1000", "--kill-after-ms", "1"], in: dir.path)
        #expect(!r.signaled && r.status == 0, "status \(r.status): \(r.stderr)")
        #expect(r.stdout.contains("lost: 0"), "\(r.stdout)")
        // Never into a directory that holds anything (a second demo there failed half way,
        // after writing into it).
        let again = try Self.run("augur", ["demo", "--dir", "db", "--records", "1000"], in: dir.path)
        #expect(again.status == 64 && again.stderr.contains("--dir db is not empty"), "\(again.status) \(again.stderr)")
        let big = try Self.run("augur", ["demo", "--kill-after-ms", "9223372036854775807"], in: dir.path)
        #expect(big.status == 64 && big.stderr.contains("600000"), "\(big.stderr)")
    }

    @Test func augurLoadSurvivesAFullStderr() throws {
        let dir = TemporaryDirectory()
        let r = try Self.run("augur-load", ["-w", "a", "--records", "200", "--operations", "200", "--warmup", "0",
                                            "--progress", "plain", "--dir", "db"], in: dir.path, stderrPath: "/dev/full")
        #expect(!r.signaled && r.status == 0, "status \(r.status), signaled \(r.signaled)")
        #expect(r.stdout.contains("throughput"))
    }

    @Test func augurLoadRemovesStoresOfKilledRuns() throws {
        let dir = TemporaryDirectory()
        // pid 2^22 + 1 is above Linux's pid_max limit (4194304), so no process has it.
        let stale = dir.child("augur-load-augur-4194305-1")
        try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: false)
        let r = try Self.run("augur-load", ["-w", "a", "--records", "100", "--operations", "100", "--warmup", "0", "--progress", "none"],
                             in: dir.path, environment: ["TMPDIR": dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: stale), "\(r.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("augur-load-") }
        #expect(left.isEmpty, "the run removes its own temporary store too: \(left)")
    }
}
