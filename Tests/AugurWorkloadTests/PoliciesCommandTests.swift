import ArgumentParser
@testable import AugurLoadCLI
@testable import AugurWorkload
import Foundation
import Testing

/// The `policies` command line.
@Suite("policies command")
struct PoliciesCommandTests {
    @Test("--policies: names, order, and an unknown name as a typed error naming it")
    func parsePolicies() throws {
        #expect(try PoliciesCommand.parse("static,reactive,predictive") == [.static, .reactive, .predictive])
        #expect(try PoliciesCommand.parse(" Predictive , static") == [.predictive, .static])
        #expect(throws: WorkloadError.unknownPolicy("clever", valid: ["static", "reactive", "predictive"])) {
            try PoliciesCommand.parse("static,clever")
        }
        #expect(throws: WorkloadError.unknownPolicy("", valid: ["static", "reactive", "predictive"])) {
            try PoliciesCommand.parse("static,,reactive")
        }
        #expect(throws: WorkloadError.self) { try PoliciesCommand.parse("static,STATIC") }
    }

    @Test("the policies subcommand parses the run options and refuses --policy")
    func subcommand() throws {
        let cmd = try #require(try AugurLoad.parseAsRoot(["policies", "-w", "a", "--distribution", "moving-hotspot",
                                                          "--records", "500", "--partitions", "4", "--seed", "9"]) as? PoliciesCommand)
        #expect(cmd.policies == "static,reactive,predictive")
        let fixed = try cmd.options.scenario(policy: .static), reactive = try cmd.options.scenario(policy: .reactive)
        #expect(fixed.policy.splitKeys.count == 3, "--partitions pre-splits the static run")
        #expect(reactive.policy == PartitionPolicyRequest(policy: .reactive), "and only the static run")
        #expect(fixed.config.seed == 9 && reactive.config.seed == 9)
        #expect(fixed.engine.partitionCapacity == nil, "no --capacity: the engine's own")

        func refused(_ args: [String]) -> (String, Int32)? {
            do { _ = try AugurLoad.parseAsRoot(args); return nil } catch {
                return (AugurLoad.message(for: error), AugurLoad.exitCode(for: error).rawValue)
            }
        }
        let unknown = try #require(refused(["policies", "--policies", "static,clever"]))
        #expect(unknown.0.contains("unknown partition policy \"clever\"") && unknown.1 == 64, "\(unknown)")
        let withPolicy = try #require(refused(["policies", "--policy", "reactive"]))
        #expect(withPolicy.0.contains("--policies") && withPolicy.1 == 64, "\(withPolicy)")
        let twice = try #require(refused(["policies", "--policies", "reactive,reactive"]))
        #expect(twice.0.contains("reactive is named twice"), "\(twice)")
        #expect(refused(["policies", "--capacity", "2000"]) == nil)
        #expect(refused(["policies", "--capacity=-1"])?.0.contains("capacity") == true)
    }
}
