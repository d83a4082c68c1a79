import ArgumentParser
import Augur

/// `augur set-strategy --dir DIR --table T (--strategy S | --advised) [--partitions N]`: opens
/// the store, rewrites the table under another partitioning strategy, and closes it. A running
/// application calls `Table.changeStrategy(to:)`, which does the same while it keeps serving.
struct SetStrategyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-strategy",
        abstract: "Rewrite a table under another partitioning strategy (range, hash, composite).",
        discussion: """
            --strategy takes range, hash[:BUCKETS] or composite:PREFIX[:BUCKETS]; --advised takes what \
            `augur advise` recommends from the table's recorded workload. The rewrite is atomic: after a \
            crash the table is wholly under the old strategy or wholly under the new one.
            """)

    @Option(help: "Store directory.")
    var dir: String

    @Option(help: "Table to rewrite.")
    var table: String

    @Option(help: "The new strategy: range, hash[:BUCKETS], composite:PREFIX[:BUCKETS].")
    var strategy: String?

    @Flag(help: "Use the strategy the advisor recommends from the recorded workload.")
    var advised = false

    @Option(help: "Partitions afterwards (default: as many as now; a hash table at most its buckets).")
    var partitions: Int?

    func validate() throws {
        try FlagLimits.checkPath("dir", dir)
        if (strategy == nil) == !advised { throw ValidationError("give exactly one of --strategy and --advised") }
        if let strategy, PartitioningStrategy(parsing: strategy.lowercased()) == nil {
            throw ValidationError("--strategy \(strategy): expected range, hash[:BUCKETS] or composite:PREFIX[:BUCKETS]")
        }
    }

    func run() throws {
        let engine = try InfoCommand.openForChange(dir)
        defer { try? engine.close() }
        do {
            let t = try engine.table(named: table)
            let target: PartitioningStrategy
            if let strategy {
                target = PartitioningStrategy(parsing: strategy.lowercased())!
            } else {
                let advice = try engine.adviseStrategy(table: table)
                target = advice.strategy
                print("advisor: \(advice.strategy) — " + advice.reasons.joined(separator: "; "))
            }
            let s = try t.changeStrategy(to: target, partitions: partitions)
            if s.from == s.to {
                // Asked for another partition count and given none: an error, not a quiet 0.
                if let partitions, partitions != s.partitionsAfter {
                    throw CommandFailure("table \(quoted(table: table)) is already \(s.to): nothing rewritten, so --partitions \(partitions) was not applied (it has \(s.partitionsAfter)); --partitions takes effect only with a change of strategy")
                }
                print("table \(quoted(table: table)) is already \(s.to): nothing rewritten")
                return
            }
            print("table \(quoted(table: table)): \(s.from) → \(s.to), \(s.partitionsBefore) → \(s.partitionsAfter) partitions; "
                  + "\(s.recordsRewritten) records rewritten, \(formatBytes(Int64(s.bytesWritten))) written in \(format2(s.seconds)) s")
        } catch AugurError.invalidOption(let name, let value, let reason) where name == "partitions" || name == "strategy" {
            // A count or strategy out of its limits is a bad argument (exit 64), as flags are;
            // the limits are the engine's (they depend on the strategy, known only here with --advised).
            throw ValidationError("--\(name) \(value): \(reason)")
        } catch {
            throw CommandFailure("set-strategy of \(quoted(table: table)) in \(dir) failed: \(error)")
        }
    }
}
