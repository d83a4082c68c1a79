import CAugurSys

/// CRC32C (Castagnoli), the checksum of every WAL frame, segment record and manifest edit.
/// Uses the SSE4.2 `crc32` instruction when the CPU has it (checked once), else slicing-by-8.
/// Thread-safe: pure functions.
public enum CRC32C {
    @inline(__always)
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return caugur_crc32c(crc, base, bytes.count)
    }

    public static func checksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0, continuing: crc) }
    }

    /// The table-driven path regardless of the CPU, for tests.
    public static func portableChecksum(_ bytes: [UInt8], continuing crc: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { b in
            guard let base = b.baseAddress, b.count > 0 else { return crc }
            return caugur_crc32c_portable(crc, base, b.count)
        }
    }

    public static var isHardwareAccelerated: Bool { caugur_crc32c_is_hardware() }

    /// `crc` as 8 lowercase hex digits, as the text files that carry one write it (LOADHISTORY,
    /// a backup's catalog).
    public static func hex(_ crc: UInt32) -> String {
        let digits = String(crc, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// Masked form stored on disk (as LevelDB does): a CRC of data that itself embeds CRCs is
    /// otherwise prone to accidental matches.
    @inline(__always)
    public static func mask(_ crc: UInt32) -> UInt32 { ((crc >> 15) | (crc << 17)) &+ 0xa282_ead8 }
}
