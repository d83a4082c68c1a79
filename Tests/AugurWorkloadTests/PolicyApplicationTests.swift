@testable import AugurLoadCLI
@testable import AugurWorkload
import Foundation
import Synchronization
import Testing

/// When the command line applies the partition policy, and what the run records of it.
@Suite("Policy application")
struct PolicyApplicationTests {
    @Test("run: the policy is applied after the load; static split keys before it")
    func policyAfterLoad() throws {
        EngineRegistry.register("order-probe") { _ in OrderProbeStore() }
        for (policy, expected) in [("reactive", ["apply static, 0 split keys", "write", "apply reactive, 0 split keys", "write"]),
                                   ("static", ["apply static, 3 split keys", "write"])] {
            let cmd = try #require(try AugurLoad.parseAsRoot(["-w", "a", "--records", "100", "--operations", "10", "--warmup", "0",
                                                              "--policy", policy, "--partitions", policy == "static" ? "4" : "1",
                                                              "--engine", "order-probe", "--progress", "none"]) as? RunCommand)
            OrderProbeStore.log.withLock { $0 = [] }
            let result = try execute(try cmd.options.scenario(), engine: "order-probe", options: cmd.options)
            let log = OrderProbeStore.log.withLock { $0 }
            var collapsed: [String] = []
            for e in log where e != "read" && collapsed.last != e { collapsed.append(e) }
            #expect(collapsed == expected, "\(policy): \(log)")
            #expect(result.policy == PartitionPolicy(rawValue: policy))
        }
    }

    @Test("run through Augur: no --capacity, the policy and mean partitions in the JSON")
    func augurRunRecordsPolicy() throws {
        let cmd = try #require(try AugurLoad.parseAsRoot(["-w", "a", "--records", "2000", "--operations", "300", "--warmup", "0",
                                                          "--policy", "predictive", "--progress", "none",
                                                          "--durability", "none"]) as? RunCommand)
        let scenario = try cmd.options.scenario()
        #expect(scenario.engine.partitionCapacity == nil)
        let result = try execute(scenario, engine: "augur", options: cmd.options)
        #expect(result.policy == .predictive)
        let json = result.json()
        #expect(json.contains("\"policy\" : \"predictive\"") && json.contains("\"mean\" : "), "\(json.prefix(400))")
        #expect(json.contains("\"overloadSeconds\"") && json.contains("\"bytesMoved\"") && json.contains("\"merges\""))
    }
}

/// A store that logs the order of partitioning requests and writes (for `policyAfterLoad`).
final class OrderProbeStore: KeyValueStore, @unchecked Sendable {
    static let log = Mutex<[String]>([])
    let engineName = "order-probe"
    var supportedPolicies: [PartitionPolicy] { PartitionPolicy.allCases }
    func apply(_ request: PartitionPolicyRequest) throws {
        Self.log.withLock { $0.append("apply \(request.policy.rawValue), \(request.splitKeys.count) split keys") }
    }
    func put(_ key: [UInt8], _ value: [UInt8]) throws { Self.log.withLock { $0.append("write") } }
    func get(_ key: [UInt8]) throws -> [UInt8]? { Self.log.withLock { $0.append("read") }; return nil }
    func delete(_ key: [UInt8]) throws { Self.log.withLock { $0.append("write") } }
    func scan(from start: [UInt8], limit: Int) throws -> Int { Self.log.withLock { $0.append("read") }; return 0 }
    func write(_ operations: [BatchOperation]) throws { Self.log.withLock { $0.append("write") } }
}
