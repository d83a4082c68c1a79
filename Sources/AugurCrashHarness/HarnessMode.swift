// The harness's modes, and which of them can show each planted bug. A planted bug is a proof
// that the harness can fail; run where its damage cannot happen, it "passes" and proves
// nothing (finding F11: `--mode sigkill --planted-bug skip-wal-sync` printed PASSED, lost 0 —
// SIGKILL keeps the page cache, so a missing fsync loses nothing). So each bug names its mode.
@_spi(Testing) import Augur

public enum HarnessMode: String, Sendable, CaseIterable {
    case sigkill
    case powerLoss = "power-loss"
    case faults
    case corruption
}

extension PlantedBug {
    /// The one harness mode whose crashes can show this bug.
    public var exposingMode: HarnessMode {
        switch self {
        case .skipWALSync, .skipCurrentDirectorySync: .powerLoss
        case .corruptionAsTornTail: .corruption
        }
    }

    /// Why `mode` cannot show this bug (for the refusal message).
    public func whyNotShown(by mode: HarnessMode) -> String {
        switch mode {
        case .sigkill:
            "SIGKILL keeps the page cache, so data that was never synced survives the kill; a missing fsync or a misjudged checksum cannot lose anything there"
        case .powerLoss:
            "power loss only tears what was written last; it never damages synced bytes, which is what this bug misreads"
        case .faults:
            "the fault matrix checks error handling and does not run planted bugs"
        case .corruption:
            "the corruption campaign damages synced files; it does not cut power before a sync"
        }
    }
}
