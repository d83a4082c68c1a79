import AugurTestSupport
import Foundation
import Testing

/// `augur-load` stopped by SIGTERM (issue 15's hostile user, found from outside): it printed
/// the part that ran and exited 0, so a script could not tell a run cut short from a whole one.
@Suite struct InterruptedRunToolTests {
    @Test func aRunCutShortBySIGTERMExitsWith143AfterItsResults() throws {
        let dir = TemporaryDirectory()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try ToolTests.tool("augur-load"))
        p.arguments = ["run", "-w", "c", "--records", "1000", "--duration", "120", "--warmup", "0",
                       "--progress", "plain", "--progress-interval", "0.2", "--json", "run.json"]
        p.currentDirectoryURL = URL(fileURLWithPath: dir.path)
        let out = dir.child("out"), err = dir.child("err")
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try p.run()
        // Wait for the measured run to be under way (a progress line), then stop it.
        var running = false
        for _ in 0..<600 where !running {
            running = ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").contains("ops/s")
            if !running { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(running, "no progress line: \((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
        p.terminate()
        p.waitUntilExit()
        let stdout = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        #expect(p.terminationReason == .exit && p.terminationStatus == 128 + SIGTERM, "\(p.terminationStatus): \(stderr)")
        #expect(stdout.contains("throughput"), "the part that ran is reported: \(stdout)")
        #expect(FileManager.default.fileExists(atPath: dir.child("run.json")), "--json is still written")
        #expect(stderr.contains("stopped by SIGTERM; the figures above are of the part that ran"), "\(stderr)")
    }
}
