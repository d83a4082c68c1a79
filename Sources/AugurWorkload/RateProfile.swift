import AugurForecast
import AugurSys
import Foundation
import Synchronization

/// Target operation rate over time, in operations per second across all runner threads.
public enum RateProfile: Sendable, Equatable {
    /// As fast as the engine answers (closed loop only).
    case unthrottled
    case constant(Double)
    /// Linear from `from` to `to` over `seconds`, then holds `to`.
    case ramp(from: Double, to: Double, seconds: Double)
    /// `base`, except `peak` during `[at, at + seconds)`.
    case spike(base: Double, peak: Double, at: Double, seconds: Double)
    /// A smooth day: `low` at t = 0, `high` at half a period, back to `low` after a period
    /// (`low + (high − low)·(1 − cos 2πt/P)/2`).
    case diurnal(low: Double, high: Double, periodSeconds: Double)
    /// A recorded load curve (e.g. a CSV column), one row per `secondsPerRow`.
    case replay(ReplayCurve)

    public static let names = ["unthrottled", "constant", "ramp", "spike", "diurnal", "replay"]

    public var isThrottled: Bool { self != .unthrottled }

    /// Target rate at `t` seconds into the run; nil when unthrottled.
    public func rate(atSeconds t: Double) -> Double? {
        switch self {
        case .unthrottled: return nil
        case .constant(let r): return r
        case .ramp(let a, let b, let s):
            if t >= s || s <= 0 { return b }
            return a + (b - a) * Swift.max(0, t) / s
        case .spike(let base, let peak, let at, let s):
            return t >= at && t < at + s ? peak : base
        case .diurnal(let low, let high, let period):
            return low + (high - low) * (1 - cos(2 * Double.pi * t / period)) / 2
        case .replay(let curve):
            return curve.rate(atSeconds: t)
        }
    }

    /// Operations the profile asks for in `[a, b)` seconds (numerical integral).
    public func expectedOperations(from a: Double, to b: Double) -> Double? {
        guard isThrottled, b > a else { return isThrottled ? 0 : nil }
        let steps = Swift.max(1, Int(((b - a) * 1000).rounded(.up)))
        let h = (b - a) / Double(steps)
        var sum = 0.0
        for i in 0..<steps { sum += rate(atSeconds: a + (Double(i) + 0.5) * h)! * h }
        return sum
    }

    /// Rejects negative, non-finite and nonsensical parameters.
    public func validate() throws(WorkloadError) {
        func rate(_ name: String, _ v: Double, allowZero: Bool = true) throws(WorkloadError) {
            if !v.isFinite || v < 0 || (!allowZero && v == 0) || (v > 0 && v < WorkloadLimits.minRate) || v > WorkloadLimits.maxRate {
                throw .invalidRate(name: name, value: v)
            }
        }
        func positive(_ name: String, _ v: Double) throws(WorkloadError) { try WorkloadLimits.checkSpan(name, v) }
        switch self {
        case .unthrottled: break
        case .constant(let r): try rate("rate", r, allowZero: false)
        case .ramp(let a, let b, let s):
            try rate("rate", a); try rate("peak-rate", b)
            if a == 0 && b == 0 { throw .invalidRate(name: "peak-rate", value: b) }
            try positive("ramp-seconds", s)
        case .spike(let base, let peak, let at, let s):
            try rate("rate", base); try rate("peak-rate", peak, allowZero: false)
            if !(at >= 0 && at <= WorkloadLimits.maxSeconds) {
                throw .invalidOption(name: "spike-at", value: formatNumber(at), reason: "must be in 0...\(formatNumber(WorkloadLimits.maxSeconds)) seconds")
            }
            try positive("spike-seconds", s)
        case .diurnal(let low, let high, let p):
            try rate("rate", low); try rate("peak-rate", high, allowZero: false)
            if high < low { throw .invalidOption(name: "peak-rate", value: formatNumber(high), reason: "must be at least --rate (\(formatNumber(low)))") }
            try positive("period", p)
        case .replay(let c):
            if c.rates.isEmpty { throw .csv(.noData(file: c.source)) }
            if c.rates.allSatisfy({ $0 == 0 }) { throw .invalidRate(name: "peak-rate", value: 0) }
            if let bad = c.rates.first(where: { !($0 >= 0 && $0 <= WorkloadLimits.maxRate) }) { throw .invalidRate(name: "peak-rate", value: bad) }
            try positive("row-seconds", c.secondsPerRow)
        }
    }

    public var description: String {
        switch self {
        case .unthrottled: "unthrottled"
        case .constant(let r): "constant \(formatNumber(r)) ops/s"
        case .ramp(let a, let b, let s): "ramp \(formatNumber(a))→\(formatNumber(b)) ops/s over \(formatNumber(s)) s"
        case .spike(let base, let peak, let at, let s): "spike \(formatNumber(base)) ops/s, \(formatNumber(peak)) ops/s at \(formatNumber(at)) s for \(formatNumber(s)) s"
        case .diurnal(let low, let high, let p): "diurnal \(formatNumber(low))–\(formatNumber(high)) ops/s, period \(formatNumber(p)) s"
        case .replay(let c): "replay \(c.column) of \(c.source), \(formatNumber(c.secondsPerRow)) s/row, \(formatNumber(c.rates.min() ?? 0))–\(formatNumber(c.rates.max() ?? 0)) ops/s"
        }
    }
}

/// A recorded rate curve: `rates[i]` ops/s at `i · secondsPerRow`, linearly interpolated,
/// wrapping around at the end.
public struct ReplayCurve: Sendable, Equatable {
    public var rates: [Double]
    public var secondsPerRow: Double
    public var source: String
    public var column: String

    public init(rates: [Double], secondsPerRow: Double, source: String = "inline", column: String = "rate") {
        self.rates = rates
        self.secondsPerRow = secondsPerRow
        self.source = source
        self.column = column
    }

    public func rate(atSeconds t: Double) -> Double {
        guard !rates.isEmpty else { return 0 }
        if rates.count == 1 { return rates[0] }
        let x = Swift.max(0, t) / secondsPerRow
        let i = Int(x.rounded(.down))
        let f = x - Double(i)
        let a = rates[i % rates.count], b = rates[(i + 1) % rates.count]
        return a + (b - a) * f
    }

    /// Reads `column` from the CSV file at `path` (header row first) and maps its values
    /// linearly so the column's maximum becomes `peakRate` and, when `lowRate` is given, its
    /// minimum becomes `lowRate` (otherwise rates are proportional to the values).
    /// `startRow` skips data rows; `rows` limits how many are used. With `scaledOverSeconds`
    /// only the rows a run of that length plays (and the one it interpolates towards at its end)
    /// are kept and scaled, so `peakRate` is the peak the run meets, not the peak of data it
    /// never reaches; a run longer than those rows would replay them again from the first.
    /// The largest CSV file replayed: years of per-second rows; a bigger one is refused before it is read.
    public static let maxFileBytes = 1 << 30

    /// Texts read from a pipe, a FIFO or standard input, by path: they can be read once, and
    /// augur-load builds its scenario more than once (to validate the options, to run, once per
    /// policy) — the second read found no data rows. Regular files are read each time.
    private static let streamedTexts = Mutex<[String: String]>([:])

    private static func csvText(_ path: String) throws(InputFile.Failure) -> String {
        var st = stat()
        let streamed = path == "-" || (stat(path, &st) == 0 && st.st_mode & S_IFMT != S_IFREG && st.st_mode & S_IFMT != S_IFDIR)
        if streamed, let text = streamedTexts.withLock({ $0[path] }) { return text }
        let text = try InputFile.text(of: InputFile.bytes(path, limit: (maxFileBytes, "the replay limit")), path: path)
        if streamed { streamedTexts.withLock { $0[path] = text } }
        return text
    }

    public static func load(path: String, column: String, secondsPerRow: Double, peakRate: Double,
                            lowRate: Double? = nil, startRow: Int = 0, rows: Int? = nil,
                            scaledOverSeconds: Double? = nil) throws(WorkloadError) -> ReplayCurve {
        if !(peakRate >= WorkloadLimits.minRate && peakRate <= WorkloadLimits.maxRate) { throw .invalidRate(name: "peak-rate", value: peakRate) }
        if let lowRate, !lowRate.isFinite || lowRate < 0 || lowRate > peakRate { throw .invalidRate(name: "rate", value: lowRate) }
        try WorkloadLimits.checkSpan("row-seconds", secondsPerRow)
        if startRow < 0 { throw .invalidOption(name: "csv-start-row", value: String(startRow), reason: "must be zero or more rows") }
        // One reader with `augur`'s (`InputFile`): open(2) and read(2) to end of file, so a pipe,
        // a FIFO, process substitution and "-" (standard input) work as well as a file (pread
        // failed on them with "No such device or address"); errno, not Foundation's words
        // (/dev/null was "permission denied or I/O error", a symlink loop "file not found"); a
        // NUL byte refused as read (a binary file's bytes came back as its "columns", and
        // /dev/zero would fill memory), and bytes that are not UTF-8 named by line and offset.
        let fs = PosixFileSystem()
        if !fs.isDirectory(path), let size = try? fs.fileSize(path), size > Self.maxFileBytes {
            throw .invalidOption(name: "csv", value: path, reason: "\(size) bytes, more than the limit of \(Self.maxFileBytes)")
        }
        let text: String
        do throws(InputFile.Failure) {
            text = try Self.csvText(path)
        } catch {
            switch error {
            case .missing: throw .fileNotFound(path: path)
            case .isDirectory: throw .unreadableFile(path: path, reason: "is a directory")
            case let .unreadable(_, reason): throw .unreadableFile(path: path, reason: reason)
            case let .tooLarge(_, limit, _):
                throw .invalidOption(name: "csv", value: path, reason: "more than the limit of \(limit) bytes")
            case let .notText(_, line, offset, what):
                throw .unreadableFile(path: path, reason: "it is not UTF-8 text: line \(line) (byte offset \(offset)) holds \(what)")
            }
        }
        var values: [Double]
        do throws(CSVError) {
            values = try CSVSeries.column(named: column, in: text, file: path)
        } catch {
            throw .csv(error)
        }
        // A load is never negative: scaled, -50 became a rate of 0 without a word (augur
        // simulate refused the same file).
        if let i = values.firstIndex(where: { $0 < 0 }) {
            throw .invalidOption(name: "csv", value: path,
                                 reason: "data row \(i + 1) of column \(column) is \(formatNumber(values[i])); every row must be a load ≥ 0")
        }
        if startRow > 0 {
            // Named here: the CSV reader's "has no data rows" blamed a file that had them.
            if startRow >= values.count {
                throw .invalidOption(name: "csv-start-row", value: String(startRow),
                                     reason: "skips every row: \(path) has \(values.count) data rows in column \(column)")
            }
            values = Array(values.dropFirst(startRow))
        }
        if let rows { values = Array(values.prefix(rows)) }
        if let seconds = scaledOverSeconds, seconds.isFinite, seconds > 0 {
            // Both factors are bounded (checkSpan above; a run phase is at most a week), so
            // the row count fits an Int.
            let played = (Swift.min(seconds, 2 * WorkloadLimits.maxSeconds) / secondsPerRow).rounded(.up) + 1
            values = Array(values.prefix(Int(played)))
        }
        if values.isEmpty { throw .csv(.noData(file: path)) }
        let hi = values.max()!, lo = values.min()!
        let rates: [Double]
        if let lowRate, hi > lo {
            rates = values.map { lowRate + ($0 - lo) / (hi - lo) * (peakRate - lowRate) }
        } else if hi > 0 {
            rates = values.map { Swift.max(0, $0) / hi * peakRate }
        } else {
            throw .invalidOption(name: "column", value: column, reason: "has no positive values to scale to a rate")
        }
        return ReplayCurve(rates: rates, secondsPerRow: secondsPerRow, source: path, column: column)
    }
}

/// When one runner thread should start each operation: thread `index` of `threads` issues
/// its share (1/threads) of the profile's rate, phase-shifted so threads interleave.
/// Times are seconds from the start of the run.
public struct OpenLoopSchedule: Sendable {
    public let profile: RateProfile
    let share: Double
    /// Intended start of the next operation, seconds from the start.
    public private(set) var nextSeconds: Double

    public init(profile: RateProfile, threads: Int, index: Int) {
        self.profile = profile
        share = 1 / Double(Swift.max(1, threads))
        let r0 = profile.rate(atSeconds: 0) ?? 0
        // Below the rate `next` treats as zero, index / r0 could be 1e300 s (an Int trap later).
        nextSeconds = r0 > 1e-9 ? Double(index) / r0 : 0
    }

    /// The intended start of the next operation, or nil when it falls at or after `end`
    /// seconds. Advances the schedule by one operation.
    public mutating func next(before end: Double) -> Double? {
        // Skip stretches where the target rate is zero.
        var t = nextSeconds
        var r = (profile.rate(atSeconds: t) ?? 0) * share
        while r <= 1e-9 {
            t += 0.001
            if t >= end { nextSeconds = t; return nil }
            r = (profile.rate(atSeconds: t) ?? 0) * share
        }
        if t >= end { nextSeconds = t; return nil }
        // Midpoint step so ramps and curves integrate to the requested count.
        let half = (profile.rate(atSeconds: t + 0.5 / r) ?? 0) * share
        let step = 1 / Swift.max(half > 1e-9 ? half : r, 1e-9)
        nextSeconds = t + Swift.min(step, 1 / r * 4)
        return t
    }
}
