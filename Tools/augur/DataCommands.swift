import ArgumentParser
import Augur
import AugurPlanner
import AugurSys
import Foundation

// `augur get | scan | put | delete`: read and write a store's records from the shell. Reads
// open the store read-only (never changing it); writes open it as an application would, with
// the default durability (`sync`: acknowledged once on disk), and close it.
//
// Keys and values are text (their UTF-8 bytes) unless `--hex` is given, when they are written
// and printed as hexadecimal. Printed text escapes what a terminal or a line-based reader would
// misread: `\\`, tab, newline and every byte outside printable ASCII (`\xNN`), so one record is
// always one line, `key<TAB>value`.

/// The store and table a data command works on.
struct TableTarget: ParsableArguments {
    @Option(help: "Store directory.")
    var dir: String
    @Option(help: "Table.")
    var table: String

    func validate() throws { try FlagLimits.checkPath("dir", dir) }
}

/// How keys and values are given and printed.
struct RecordEncoding: ParsableArguments {
    @Flag(help: "Keys and values are hexadecimal (in arguments and output) instead of text.")
    var hex = false

    /// Arguments of this process that are not valid UTF-8, as Swift decoded them (each bad byte
    /// replaced by U+FFFD): their text is not the bytes the user passed.
    static let argumentsNotUTF8: [String] = (0..<Int(CommandLine.argc)).compactMap { i in
        guard let p = CommandLine.unsafeArgv[i] else { return nil }
        let raw = UnsafeRawBufferPointer(start: p, count: strlen(p))
        let decoded = String(decoding: raw, as: UTF8.self)
        return decoded.utf8.elementsEqual(raw) ? nil : decoded
    }

    /// The bytes of `text` as `flag` names it (a key, a value, a bound).
    func bytes(_ text: String, flag: String) throws -> [UInt8] {
        guard hex else {
            // Two different invalid keys both became U+FFFD (EF BF BD) and read each other's
            // values: refuse rather than store other bytes than the ones given.
            if text.unicodeScalars.contains("\u{FFFD}"),
               Self.argumentsNotUTF8.contains(where: { $0 == text || $0.hasSuffix("=" + text) }) {
                throw ValidationError("\(flag) is not valid UTF-8 text (bytes such as \\xfe); give it in hexadecimal with --hex")
            }
            return Array(text.utf8)
        }
        var digits = Substring(text)
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        guard digits.utf8.count % 2 == 0 else {
            throw ValidationError("\(flag) \(text): an odd number of hex digits (--hex takes two per byte)")
        }
        // KeyFormat.parse reads "-" and "-inf" as the empty key; here they are not hex.
        guard !digits.hasPrefix("-"), let bytes = KeyFormat.parse(String(digits)) else {
            throw ValidationError("\(flag) \(text): not hexadecimal (--hex takes 0-9, a-f)")
        }
        return bytes
    }

    func show(_ b: [UInt8]) -> String {
        if hex { return b.isEmpty ? "" : KeyFormat.hex(b) }   // KeyFormat writes "-" for empty
        return Self.escaped(b)
    }

    /// `b` as printable ASCII: `\\`, `\t`, `\n` and `\xNN` for every other byte outside
    /// 0x20...0x7e; with `quote`, `"` as `\"` too (for text printed between quotes).
    static func escaped(_ b: some Sequence<UInt8>, quote: Bool = false) -> String {
        var s = ""
        for c in b {
            switch c {
            case UInt8(ascii: "\\"): s += "\\\\"
            case UInt8(ascii: "\t"): s += "\\t"
            case UInt8(ascii: "\n"): s += "\\n"
            case UInt8(ascii: "\"") where quote: s += "\\\""
            case 0x20..<0x7f: s.unicodeScalars.append(Unicode.Scalar(c))
            default: s += String(format: "\\x%02x", c)
            }
        }
        return s
    }
}

/// A table name as the tools print it: quoted, escaped as keys are. Printed raw, a name with a
/// newline or tab faked output lines, and one of spaces only was invisible.
func quoted(table name: String) -> String {
    "\"" + RecordEncoding.escaped(name.utf8, quote: true) + "\""
}

/// Writes `text` to standard output now (after anything `print` buffered). A full or closed
/// output ends the command with exit 74 (EX_IOERR): the handler that
/// `StandardStream.exitWithAnErrorWhenOutputIsLost` registers at exit counts the failure and
/// prints the one message every command gives, naming the error. (These wrote through
/// FileHandle and exited 1 with another message, while info, forecast and help exited 74.)
/// Checked per call so that a scan stops at its first failed page instead of reading the rest
/// of the table.
private func writeOutput(_ text: String) throws {
    guard StandardStream.flushOutput(), StandardStream.output(text) else { throw ExitCode(74) }
}

/// A table of a store opened for `body`, with the engine's errors (no such table, a key too
/// large) as one-line failures.
private func withTable<R>(_ dir: String, _ name: String, forWriting: Bool, createIfMissing: Bool = false,
                          writing: Int? = nil, _ body: (Table) throws -> R) throws -> R {
    let engine = forWriting || createIfMissing ? try InfoCommand.openForChange(dir, createIfMissing: createIfMissing, writing: writing)
                                               : try InfoCommand.openReadOnly(dir)
    do {
        let table: Table
        if createIfMissing, !(try engine.tableNames()).contains(name) {
            table = try engine.createTable(name)
        } else {
            table = try engine.table(named: name)
        }
        let result = try body(table)
        try engine.close()
        return result
    } catch let error as AugurError {
        try? engine.close()
        throw CommandFailure("\(dir): \(error)")
    } catch {
        try? engine.close()
        throw error
    }
}

/// `augur get --dir DIR --table T KEY`: prints the value, or fails (exit 1) when there is none.
struct GetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print the value of a key.")

    @OptionGroup var target: TableTarget
    @Argument(help: "The key.")
    var key: String
    @OptionGroup var encoding: RecordEncoding

    func run() throws {
        let k = try encoding.bytes(key, flag: "key")
        let value = try withTable(target.dir, target.table, forWriting: false) { try $0.get(k) }
        guard let value else { throw CommandFailure("no key \(encoding.show(k)) in table \(quoted(table: target.table))") }
        try writeOutput(encoding.show(value) + "\n")
    }
}

/// `augur scan --dir DIR --table T [--from K] [--to K] [--limit N] [--reverse]`: one line per
/// record, `key<TAB>value`, in key order (or reverse).
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan", abstract: "Print a table's records in key order, one `key<TAB>value` line each.")

    @OptionGroup var target: TableTarget
    @Option(help: "First key (inclusive; default: the start).")
    var from: String?
    @Option(help: "End key (exclusive; default: the end).")
    var to: String?
    @Option(help: "At most this many records (1...10000000; default: all).")
    var limit: Int?
    @Flag(help: "Descending key order (from --to down to --from).")
    var reverse = false
    @OptionGroup var encoding: RecordEncoding

    /// Records read per scan call.
    static let pageSize = 4_096

    func validate() throws {
        if let limit { try FlagLimits.check("limit", limit, 1...10_000_000) }
        // Checked here, not in run(), so the usage line printed with the error is scan's.
        // An empty --to is below every key: the scan returned nothing with exit 0. An empty
        // --from is the default start; refused alike, so an empty bound always means a mistake.
        if let to, try encoding.bytes(to, flag: "--to").isEmpty {
            throw ValidationError("--to is empty: no key is below the empty key; leave --to out to scan to the end")
        }
        if let from, try encoding.bytes(from, flag: "--from").isEmpty {
            throw ValidationError("--from is empty: leave --from out to scan from the start")
        }
        let range = try keyRange()
        if let lo = range.lowerBound, let hi = range.upperBound, !lo.lexicographicallyPrecedes(hi) {
            throw ValidationError("--from \(encoding.show(lo)) is not below --to \(encoding.show(hi))")
        }
    }

    private func keyRange() throws -> KeyRange {
        KeyRange(from: try from.map { try encoding.bytes($0, flag: "--from") }, to: try to.map { try encoding.bytes($0, flag: "--to") })
    }

    func run() throws {
        let range = try keyRange()
        // In pages, written as they come: a table larger than memory scans in bounded memory.
        try withTable(target.dir, target.table, forWriting: false) { t in
            var rest = range
            var left = limit ?? Int.max
            while left > 0 {
                let page = try t.scan(range: rest, limit: min(left, Self.pageSize), reverse: reverse)
                var out = ""
                for r in page { out += encoding.show(r.key) + "\t" + encoding.show(r.value) + "\n" }
                try writeOutput(out)
                left -= page.count
                guard page.count == Self.pageSize, let last = page.last?.key else { break }
                // Past the last key: its successor (last ++ 0x00) going up, itself going down.
                if reverse { rest.upper = last } else { rest.lower = last + [0] }
            }
        }
    }
}

/// `augur put --dir DIR --table T KEY (VALUE | --value-file PATH) [--create-table]`.
struct PutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "put", abstract: "Write a key's value (durable when the command returns).")

    @OptionGroup var target: TableTarget
    @Flag(help: "Create the table (range-partitioned), and the store, when they do not exist.")
    var createTable = false
    @Argument(help: "The key.")
    var key: String
    @Argument(help: "The value (or give --value-file).")
    var value: String?
    /// An argument is capped by the kernel (128 KiB on Linux: a 1 MB value failed in the shell
    /// with "Argument list too long"); a file takes values up to the engine's maxValueSize.
    @Option(help: ArgumentHelp("Read the value's bytes, as they are (--hex applies to the key only), from this file; - for standard input.", valueName: "path"))
    var valueFile: String?
    @OptionGroup var encoding: RecordEncoding

    func validate() throws {
        if value == nil && valueFile == nil { throw ValidationError("give the value as an argument or with --value-file PATH") }
        if value != nil && valueFile != nil { throw ValidationError("give the value as an argument or with --value-file, not both") }
        if let valueFile { try FlagLimits.checkPath("value-file", valueFile) }
    }

    /// The value's bytes: the argument, or the file read up to the engine's maxValueSize.
    private func valueBytes() throws -> [UInt8] {
        guard let valueFile else { return try encoding.bytes(value!, flag: "value") }
        let limit = EngineOptions().maxValueSize
        do { return try InputFile.bytes(valueFile, text: false, limit: (limit, "the engine's maxValueSize")) } catch {
            throw CommandFailure("--value-file: \(error)")
        }
    }

    func run() throws {
        let k = try encoding.bytes(key, flag: "key"), v = try valueBytes()
        try withTable(target.dir, target.table, forWriting: true, createIfMissing: createTable,
                      writing: k.count + v.count) { try $0.put(k, v) }
    }
}

/// `augur delete --dir DIR --table T KEY`.
struct DeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a key (durable when the command returns).")

    @OptionGroup var target: TableTarget
    @Argument(help: "The key.")
    var key: String
    @OptionGroup var encoding: RecordEncoding

    func run() throws {
        let k = try encoding.bytes(key, flag: "key")
        try withTable(target.dir, target.table, forWriting: true, writing: k.count) { try $0.delete(k) }
    }
}
