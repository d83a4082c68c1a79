import Testing
@testable import Augur
@_spi(Testing) import AugurSys
import AugurTestSupport

/// Segment footers name their file since 2026-12-07 (the word at +56; 0 in older files, which
/// checks nothing). The manifest's `nameChecksFrom` says from which file number on every file
/// carries one, so an older file put in a newer one's place is caught
/// (`CorruptionRecoveryTests.aRunReplacedByASameSizedSiblingIsCorruption`) while a store
/// written by an older Augur — its files without checks — still opens and is upgraded.
@Suite struct NameCheckUpgradeTests {
    /// A store as an Augur before 2026-12-07 leaves it: its manifest without `nameChecksFrom`
    /// (rewritten as one snapshot record) and its first run's footer without a name check.
    static func olderStore() throws -> (CrashSimulatingFileSystem, firstRun: String) {
        let fs = CrashSimulatingFileSystem()
        var o = EngineOptions()
        o.fileSystem = fs
        o.telemetry.enabled = false
        let engine = try Engine.open(at: "/db", options: o)
        let t = try engine.createTable("t")
        for i in 0..<50 { try t.put(Array("k\(i)".utf8), [UInt8](repeating: 1, count: 40)) }
        try engine.flush()
        try engine.close()
        let (manifest, _) = try Manifest.load(fileSystem: fs, directory: "/db", rotationSize: 1 << 30, crashPoint: nil,
                                              skipCurrentDirectorySyncBug: false, readOnly: true)
        var state = manifest.state
        #expect(state.nameChecksFrom == 1, "a store this Augur created checks every file")
        state.nameChecksFrom = nil
        state.walClosed = nil
        let h = try fs.open("/db/" + Manifest.fileName(manifest.number), mode: .readWrite)
        try h.truncate(size: 0)
        try h.write(at: 0, Manifest.encodeRecord(state.snapshot))
        try h.sync()
        h.close()
        let run = try #require(state.referencedFiles.first)
        let bytes = withoutNameCheck(try fs.readFile("/db/seg/" + run))
        let f = try fs.open("/db/seg/" + run, mode: .readWrite)
        try f.write(at: 0, bytes)
        try f.sync()
        f.close()
        return (fs, run)
    }

    /// A segment file's bytes as an Augur before the name check wrote them: the footer's word
    /// at +56 zero, the footer's checksum made again.
    static func withoutNameCheck(_ file: [UInt8]) -> [UInt8] {
        var bytes = file
        let footer = bytes.count - SegmentFormat.footerSize
        for i in 56..<60 { bytes[footer + i] = 0 }
        let crc = bytes[footer..<(footer + 60)].withUnsafeBytes { CRC32C.mask(CRC32C.checksum($0)) }
        for i in 0..<4 { bytes[footer + 60 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        return bytes
    }

    /// The older store opens read-only and writable with every key; the writable open records
    /// `nameChecksFrom` at the next file number, above the older run's, which keeps opening.
    /// With `requiresNameCheck` true for every file (tried), the older run was refused.
    @Test func aStoreOfAnOlderAugurOpensAndChecksOnlyNewerFiles() throws {
        let (fs, run) = try Self.olderStore()
        var o = EngineOptions()
        o.fileSystem = fs
        o.telemetry.enabled = false
        var ro = o
        ro.readOnly = true
        for options in [ro, o, o] {
            let engine = try Engine.open(at: "/db", options: options)
            let t = try engine.table(named: "t")
            #expect(try (0..<50).allSatisfy { try t.get(Array("k\($0)".utf8)) == [UInt8](repeating: 1, count: 40) })
            try engine.close()
        }
        let (manifest, _) = try Manifest.load(fileSystem: fs, directory: "/db", rotationSize: 1 << 30, crashPoint: nil,
                                              skipCurrentDirectorySyncBug: false, readOnly: true)
        let from = try #require(manifest.state.nameChecksFrom)
        #expect(!manifest.state.requiresNameCheck(run), "\(run) below \(from)")
        #expect(manifest.state.requiresNameCheck("1-\(from).seg") && manifest.state.requiresNameCheck("7-\(from + 5).seg"))
        #expect(!manifest.state.requiresNameCheck("1-\(from - 1).seg") && !manifest.state.requiresNameCheck("LOCK"))
    }
}
