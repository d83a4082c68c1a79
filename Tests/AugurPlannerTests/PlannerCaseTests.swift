import AugurPlanner
import Foundation
import Testing

/// Runs every `testdata/*.txt` case: the snapshot in, the expected plan out.
@Suite struct PlannerCaseTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata")

    static var caseNames: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".txt") }.sorted()
    }

    @Test func testDataIsPresent() {
        #expect(Self.caseNames.count >= 12, "expected the planner cases in \(Self.directory.path)")
    }

    @Test(arguments: caseNames)
    func plannerCase(_ file: String) throws {
        let text = try String(contentsOf: Self.directory.appendingPathComponent(file), encoding: .utf8)
        let c = try PlannerCase.parse(name: file, text: text)
        #expect(PlanValidator.validate(snapshot: c.snapshot).isEmpty, "\(file): snapshot is not a valid tiling")
        let plan = Planner(policy: c.policy).plan(c.snapshot, capacity: c.capacity, now: c.now)
        var actual = PlanRendering.lines(plan)
        // Score lines are only compared for the partitions the case names.
        for line in c.expected where line.hasPrefix("score ") {
            let id = line.split(separator: " ")[1]
            if let s = plan.scores.first(where: { $0.partition.description == id }) { actual.append(PlanRendering.line(s)) }
        }
        let expected = c.expected
        #expect(actual == expected, "\(file):\nexpected:\n\(expected.joined(separator: "\n"))\nactual:\n\(actual.joined(separator: "\n"))\nreasons:\n\(plan.actions.map(\.reason.message).joined(separator: "\n"))")
        let violations = PlanValidator(policy: c.policy, capacity: c.capacity).validate(plan, snapshot: c.snapshot, now: c.now)
        #expect(violations.isEmpty, "\(file): \(violations)")
    }
}
