import ArgumentParser

/// Range checks for numeric flags, so a bad number is a usage error that names the flag, the
/// value and the limit — never an inf, nan or overflow that traps deep in a computation.
enum FlagLimits {
    /// `value` must be finite and in `low...high` (or `(low, high]` when `lowExclusive`).
    static func check(_ flag: String, _ value: Double, _ low: Double, _ high: Double,
                      lowExclusive: Bool = false, unit: String = "") throws {
        let ok = value.isFinite && (lowExclusive ? value > low : value >= low) && value <= high
        if !ok {
            let range = (lowExclusive ? "(\(show(low)), " : "[\(show(low)), ") + "\(show(high))]"
            throw ValidationError("--\(flag) \(show(value)) is out of range: must be a finite number in \(range)\(unit.isEmpty ? "" : " " + unit)")
        }
    }

    /// `value` must be in `range`.
    static func check(_ flag: String, _ value: Int, _ range: ClosedRange<Int>, unit: String = "") throws {
        if !range.contains(value) {
            throw ValidationError("--\(flag) \(value) is out of range: must be in \(range.lowerBound)...\(range.upperBound)\(unit.isEmpty ? "" : " " + unit)")
        }
    }

    /// A path flag must not be empty: `--dir ""` failed with "createDirectory  failed" and
    /// `--output ""` with "rename .tmp-NNN", neither saying that the path was empty.
    static func checkPath(_ flag: String, _ value: String) throws {
        if value.isEmpty { throw ValidationError("--\(flag) is empty: give a path") }
    }

    static func show(_ v: Double) -> String {
        v.isFinite && v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }
}
