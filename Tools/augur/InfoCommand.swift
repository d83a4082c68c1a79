import ArgumentParser
import Augur
import Foundation

/// `augur info --dir DIR`: tables, partitions (range, bytes, records, segments) and WAL
/// segments of a store, plus what opening it recovered.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Show tables, partitions and WAL of a store.")

    @Option(help: "Store directory.")
    var dir: String

    @Option(help: "Only this table.")
    var table: String?

    func run() throws {
        var options = EngineOptions()
        options.createIfMissing = false
        let engine: Engine
        do { engine = try Engine.open(at: dir, options: options) } catch {
            throw CommandFailure("cannot open \(dir): \(error)")
        }
        defer { try? engine.close() }
        let r = engine.recoveryReport
        print("store \(dir): manifest \(r.manifest), last sequence \(r.lastSequence), WAL segments \(engine.walSegments)")
        let names = try table.map { [$0] } ?? engine.tableNames()
        for name in names {
            let t = try engine.table(named: name)
            let parts = try t.partitionStats()
            print("\ntable \(name): \(parts.count) partitions")
            print("  id     lower bound           upper bound           bytes         records   segments")
            for p in parts {
                let lo = p.lowerBound.isEmpty ? "-inf" : formatKey(p.lowerBound)
                let hi = p.upperBound.map(formatKey) ?? "+inf"
                print("  " + [pad(String(p.id), 6), pad(lo, 21), pad(hi, 21), pad(String(p.bytes), 13),
                              pad(String(p.records), 9), String(p.segmentCount)].joined(separator: " "))
            }
        }
    }

    private func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? String(s.prefix(n)) : s + String(repeating: " ", count: n - s.count)
    }
}
