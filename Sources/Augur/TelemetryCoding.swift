import FoundationEssentials

/// JSON for TELEMETRY.json. FoundationEssentials only, and only off the hot path.
func encodeTelemetry(_ file: TelemetryFile) -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return (try? Array(encoder.encode(file))) ?? []
}

extension TelemetryFile {
    /// Decodes a TELEMETRY.json written by an engine.
    public static func decode(_ bytes: [UInt8]) throws -> TelemetryFile {
        try JSONDecoder().decode(TelemetryFile.self, from: Data(bytes))
    }
}
