// A small stock-keeping program on Augur: items keyed by SKU, a secondary index by warehouse,
// atomic transfers between items, load-based partitioning switched on, and a reopen that finds
// every acknowledged write. Run: swift run Inventory [directory]  (default: a fresh temporary one)
import Augur
import AugurPlanner
import Foundation

struct Failure: Error, CustomStringConvertible {
    let description: String
}

func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw Failure(description: message()) }
}

/// Stock record: "warehouse|quantity".
func record(_ warehouse: String, _ quantity: Int) -> String { "\(warehouse)|\(quantity)" }
func quantity(_ value: String) -> Int { Int(value.split(separator: "|").last ?? "") ?? 0 }

let directory = CommandLine.arguments.count > 1
    ? CommandLine.arguments[1]
    : NSTemporaryDirectory() + "augur-inventory-\(ProcessInfo.processInfo.processIdentifier)"

do {
    var options = EngineOptions()
    options.durability = .sync
    options.partitioning.policy = .predictive(PredictiveOptions())

    var engine = try Engine.open(at: directory, options: options)
    let items = try (try? engine.table(named: "items")) ?? engine.createTable("items")
    let byWarehouse = try items.createSecondaryIndex(name: "warehouse") { value in
        Array(value.prefix { $0 != UInt8(ascii: "|") })
    }
    for n in 0..<1_000 {
        try items.put(String(format: "sku-%05d", n), record(n % 3 == 0 ? "north" : "south", 10))
    }
    // Move 4 units from one item to another atomically.
    var transfer = WriteBatch()
    transfer.put("sku-00001", record("south", 6), in: items)
    transfer.put("sku-00002", record("south", 14), in: items)
    try engine.write(transfer)
    try byWarehouse.waitUntilReady()
    let north = try byWarehouse.scan(range: KeyRange(from: Array("north".utf8), to: Array("norti".utf8)))
    try check(north.count == 334, "north holds \(north.count) items, expected 334")
    try items.splitPartition(at: Array("sku-00500".utf8))
    try engine.close()

    // Reopen: every acknowledged write is there, in both partitions.
    engine = try Engine.open(at: directory, options: options)
    let reopened = try engine.table(named: "items")
    let total = try reopened.scan().reduce(0) { $0 + quantity(String(decoding: $1.value, as: UTF8.self)) }
    try check(total == 10_000, "total stock \(total), expected 10000")
    try check(try reopened.get("sku-00002").map(quantity) == 14, "transfer lost")
    // The predictive policy may split the table further on its own: the split asked for must
    // be there, not necessarily alone.
    let bounds = try reopened.partitionStats().map { String(decoding: $0.lowerBound, as: UTF8.self) }
    try check(bounds.contains("sku-00500"), "expected a partition starting at sku-00500 after the split, found \(bounds)")

    // Bad input is a typed error naming the value and the limit, not a crash.
    do {
        try reopened.put(Array(repeating: 0x41, count: 1 << 20), [1])
        throw Failure(description: "a 1 MiB key was accepted")
    } catch let error as AugurError {
        print("refused as expected: \(error)")
    }
    try engine.close()
    print("inventory: 1000 items, total stock \(total), 2 partitions, reopened intact in \(directory)")
    if CommandLine.arguments.count <= 1 { try? FileManager.default.removeItem(atPath: directory) }
} catch {
    FileHandle.standardError.write(Data("inventory: \(error)\n".utf8))
    exit(1)
}
