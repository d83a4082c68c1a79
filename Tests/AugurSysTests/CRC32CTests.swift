import Testing
import AugurSys
import AugurStats

@Suite struct CRC32CTests {
    // Standard CRC-32C check values (RFC 3720 appendix B.4 and the "123456789" check).
    @Test func standardVectors() {
        let vectors: [([UInt8], UInt32)] = [
            (Array("123456789".utf8), 0xE306_9283),
            ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
            ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
            (Array(0..<32), 0x46DD_794E),
            (Array((0..<32).reversed()), 0x113F_DB5C),
            ([], 0),
        ]
        for (input, expected) in vectors {
            #expect(CRC32C.checksum(input) == expected, "hardware path, \(input.count) bytes")
            #expect(CRC32C.portableChecksum(input) == expected, "portable path, \(input.count) bytes")
        }
    }

    /// The hardware path steps byte by byte to an 8-byte boundary, then by words, then by bytes
    /// (CAugurSys.c): every start address modulo 8 and every length up to 80 — records and WAL
    /// frames start anywhere — must agree with the portable table path, alone and continuing a
    /// checksum. (The arrays of the tests above all start aligned.)
    @Test func everyStartAndTailAgreesWithThePortablePath() {
        var rng = SplitMix64(seed: 7)
        let bytes = (0..<200).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var wrong: [String] = []
        bytes.withUnsafeBytes { all in
            for start in 0..<16 {
                for length in 0...80 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    if CRC32C.checksum(slice) != CRC32C.portableChecksum(Array(slice)) { wrong.append("start \(start) length \(length)") }
                    let seed: UInt32 = 0x1234_5678
                    if CRC32C.checksum(slice, continuing: seed) != CRC32C.portableChecksum(Array(slice), continuing: seed) {
                        wrong.append("start \(start) length \(length), continuing")
                    }
                }
            }
        }
        let disagreeing = wrong.count
        #expect(disagreeing == 0, "first \(wrong.prefix(3))")
    }

    @Test func incrementalEqualsWholeAndPathsAgree() {
        var rng = SplitMix64(seed: 42)
        for length in [1, 7, 8, 9, 63, 64, 65, 1000, 4099] {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let whole = CRC32C.checksum(bytes)
            let cut = length / 3
            let part = CRC32C.checksum(Array(bytes[cut...]), continuing: CRC32C.checksum(Array(bytes[..<cut])))
            #expect(part == whole, "length \(length)")
            #expect(CRC32C.portableChecksum(bytes) == whole, "length \(length)")
        }
    }
}
