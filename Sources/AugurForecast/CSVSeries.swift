/// Reads one numeric column out of CSV text (header row first): the one CSV reader of Augur,
/// for `augur forecast`, `augur simulate` and augur-load's replay profile. Pure: the caller
/// reads the file and names it, so errors can say where the bad value is. Handles the simple
/// CSV the engine exports — comma-separated, optional surrounding quotes and whitespace, `\n`,
/// `\r\n` or `\r` line ends, blank lines skipped, a leading UTF-8 byte-order mark ignored, commas
/// inside double quotes kept in their cell — not newlines in quotes. A data row may leave out
/// trailing cells but may not have more than the header: an unquoted comma inside a value
/// shifts the columns after it, and the wrong column's numbers were read without a word (found
/// from outside).
///
/// Thread-safety: stateless; safe from any thread.
public enum CSVSeries {
    /// The values of column `column`, in row order. `file` names the text in errors (a path).
    /// Throws `.noData` (no header or no data rows), `.unknownColumn`, `.duplicateColumn` (the
    /// header names `column` more than once), `.badValue` for a cell that is missing, not a
    /// number, or NaN/∞ (with its 1-based line in the file), `.rowWidth` for a data row with
    /// more cells than the header, and `.lineTooLong` for a line over `maxLineBytes`.
    public static func column(named column: String, in text: String, file: String) throws(CSVError) -> [Double] {
        var index: Int? = nil
        var width = 0
        var values: [Double] = []
        var lineNumber = 0
        let body = text.first == "\u{FEFF}" ? text.dropFirst() : Substring(text)
        for line in body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            lineNumber += 1
            // Before the line is cut into cells: one line of 200 MB held 5 GB as cells.
            if line.utf8.count > maxLineBytes { throw .lineTooLong(file: file, line: lineNumber, limit: maxLineBytes) }
            if line.allSatisfy(\.isWhitespace) { continue }
            let fields = cells(line)
            guard let index else {
                width = fields.count
                let matches = fields.indices.filter { fields[$0] == column }
                guard let found = matches.first else {
                    throw .unknownColumn(file: file, name: column, available: fields)
                }
                // Taking the first of two same-named columns forecast the wrong data without a
                // word: which one the user meant is theirs to say.
                if matches.count > 1 { throw .duplicateColumn(file: file, name: column, positions: matches.map { $0 + 1 }) }
                index = found
                continue
            }
            if fields.count > width {
                throw .rowWidth(file: file, line: lineNumber, cells: fields.count, header: width)
            }
            let cell = index < fields.count ? fields[index] : ""
            guard let value = Double(cell), value.isFinite else {
                throw .badValue(file: file, line: lineNumber, column: column, text: cell)
            }
            values.append(value)
        }
        guard !values.isEmpty else { throw .noData(file: file) }
        return values
    }

    /// The longest line read, in bytes: far above any real row (a header of a thousand long
    /// names), far below what would exhaust memory once cut into cells.
    public static let maxLineBytes = 1 << 20

    /// The line's cells: split at commas outside double quotes (`"peak, high"` is one cell).
    private static func cells(_ line: Substring) -> [String] {
        var parts: [Substring] = []
        var start = line.startIndex, quoted = false
        for i in line.indices {
            if line[i] == "\"" { quoted.toggle() } else if line[i] == "," && !quoted {
                parts.append(line[start..<i])
                start = line.index(after: i)
            }
        }
        parts.append(line[start...])
        return parts.map { cell in
            var s = Substring(cell)
            while let f = s.first, f.isWhitespace { s.removeFirst() }
            while let l = s.last, l.isWhitespace { s.removeLast() }
            if s.count >= 2, s.first == "\"", s.last == "\"" { s = s.dropFirst().dropLast() }
            return String(s)
        }
    }
}

/// Every way `CSVSeries` rejects its input. Each case names the file, and where a value is
/// at fault its line and text, so a caller prints `description` to a user as is.
///
/// Thread-safety: a plain value; `Sendable`.
public enum CSVError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text has no header row, or a header and no data rows.
    case noData(file: String)
    /// The column is not in the header row; `available` lists the header's columns.
    case unknownColumn(file: String, name: String, available: [String])
    /// The header names the column more than once; `positions` are the 1-based columns that
    /// carry the name.
    case duplicateColumn(file: String, name: String, positions: [Int])
    /// A data row's cell is missing (`text` empty), not a number, or NaN/∞. `line` is its
    /// 1-based line in the file (header and blank lines counted).
    case badValue(file: String, line: Int, column: String, text: String)
    /// A data row at 1-based `line` has `cells` cells, more than the header's `header`.
    case rowWidth(file: String, line: Int, cells: Int, header: Int)
    /// The line at 1-based `line` is longer than `limit` bytes.
    case lineTooLong(file: String, line: Int, limit: Int)

    public var description: String {
        switch self {
        case let .noData(file):
            "\(file) has no data rows"
        case let .unknownColumn(file, name, available):
            "column \"\(name)\" not found in \(file); available columns: \(available.joined(separator: ", "))"
        case let .duplicateColumn(file, name, positions):
            "column \"\(name)\" appears \(positions.count) times in the header of \(file), at columns "
                + positions.dropLast().map(String.init).joined(separator: ", ") + " and \(positions.last ?? 0) (counting from 1); rename all but one"
        case let .badValue(file, line, column, text):
            "\(file) line \(line), column \"\(column)\": \"\(text)\" is not a finite number"
        case let .rowWidth(file, line, cells, header):
            "\(file) line \(line) has \(cells) cells, more than the header's \(header): a comma inside a value shifts the columns after it (quote the value)"
        case let .lineTooLong(file, line, limit):
            "\(file) line \(line) is longer than the limit of \(limit) bytes"
        }
    }
}
