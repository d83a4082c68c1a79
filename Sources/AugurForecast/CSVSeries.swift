/// Reads one numeric column out of CSV text (header row first). Pure: the caller reads the
/// file. Handles the simple CSV the engine exports — comma-separated, optional surrounding
/// quotes and whitespace, `\n` or `\r\n` line ends — not embedded commas or newlines in quotes.
///
/// Thread-safety: stateless; safe from any thread.
public enum CSVSeries {
    /// The values of column `column`, in row order. Blank lines are skipped.
    /// Throws `.emptySeries` (no header or no data rows), `.unknownColumn`, `.unparsableValue`
    /// or `.nonFinite` (a NaN/∞ cell; `index` is the 0-based data row).
    public static func column(named column: String, in text: String) throws(ForecastError) -> [Double] {
        var lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.trimmingTrailingCarriageReturn() }
            .filter { !$0.allSatisfy(\.isWhitespace) }
        guard !lines.isEmpty else { throw .emptySeries }
        let header = cells(lines.removeFirst())
        guard let index = header.firstIndex(of: column) else {
            throw .unknownColumn(name: column, available: header)
        }
        guard !lines.isEmpty else { throw .emptySeries }
        var values: [Double] = []
        values.reserveCapacity(lines.count)
        for (row, line) in lines.enumerated() {
            let fields = cells(line)
            guard index < fields.count, let value = Double(fields[index]) else {
                throw .unparsableValue(row: row + 1, text: index < fields.count ? fields[index] : "")
            }
            guard value.isFinite else { throw .nonFinite(index: row, value: value) }
            values.append(value)
        }
        return values
    }

    private static func cells(_ line: Substring) -> [String] {
        line.split(separator: ",", omittingEmptySubsequences: false).map { cell in
            var s = Substring(cell)
            while let f = s.first, f.isWhitespace { s.removeFirst() }
            while let l = s.last, l.isWhitespace { s.removeLast() }
            if s.count >= 2, s.first == "\"", s.last == "\"" { s = s.dropFirst().dropLast() }
            return String(s)
        }
    }
}

private extension Substring {
    func trimmingTrailingCarriageReturn() -> Substring {
        last == "\r" ? dropLast() : self
    }
}
