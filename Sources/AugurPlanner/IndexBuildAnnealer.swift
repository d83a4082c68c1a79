// The simulated-annealing search of the index-build planner (IndexBuildPlanner.swift describes
// the search space, objective and moves) over the flattened problem's states.
import AugurStats
import RealModule

extension SplitMix64 {
    /// Uniform in `0..<n` (`n ≥ 1`; the modulo bias is irrelevant at these sizes).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// The simulated-annealing search over ``IndexBuildState``s.
struct IndexBuildAnnealer {
    let problem: IndexBuildProblem
    var rng: SplitMix64
    var scratch: IndexBuildProblem.Scratch
    let staticState: IndexBuildState
    let staticObjective: Double

    init(problem: IndexBuildProblem) {
        self.problem = problem
        rng = SplitMix64(seed: problem.options.seed)
        var scratch = problem.makeScratch()
        staticState = problem.staticState()
        // The static layout moves nothing and keeps every piece: always feasible.
        staticObjective = problem.evaluate(staticState, scratch: &scratch)!
        self.scratch = scratch
    }

    mutating func run(shouldStop: () -> Bool) -> (best: IndexBuildState, iterations: Int, stoppedEarly: Bool) {
        let options = problem.options
        var best = staticState
        var bestObjective = staticObjective
        var iterations = 0
        var stopped = false
        // Nothing to search: one piece and no candidate, or zero budget.
        let searchable = problem.pointCount > 0 || (problem.workers > 1 && problem.segmentCount > 1)
        if searchable && options.maxIterations > 0 && staticObjective > 0 {
            let t0 = options.initialTemperature * staticObjective
            let ratio = options.finalTemperature / options.initialTemperature
            rounds: for round in 0..<options.restarts {
                let roundIterations = options.maxIterations / options.restarts
                    + (round < options.maxIterations % options.restarts ? 1 : 0)
                var current = best
                var currentObjective = bestObjective
                for k in 0..<roundIterations {
                    if iterations % options.stopCheckInterval == 0, iterations > 0, shouldStop() {
                        stopped = true
                        break rounds
                    }
                    iterations += 1
                    let progress = roundIterations > 1 ? Double(k) / Double(roundIterations - 1) : 1
                    let temperature = t0 * Double.pow(ratio, progress)
                    var candidate = current
                    guard propose(&candidate), let objective = problem.evaluate(candidate, scratch: &scratch) else { continue }
                    let delta = objective - currentObjective
                    if delta <= 0 || rng.unit() < Double.exp(-delta / temperature) {
                        current = candidate
                        currentObjective = objective
                        if objective < bestObjective {
                            best = current
                            bestObjective = objective
                        }
                    }
                }
            }
        }
        polish(&best, objective: &bestObjective)
        return (best, iterations, stopped)
    }

    /// Applies one random neighbour move; false when it changed nothing.
    mutating func propose(_ s: inout IndexBuildState) -> Bool {
        let points = problem.pointCount
        let workers = problem.workers
        let segments = problem.segmentCount
        switch rng.below(4) {
        case 0 where points > 0:
            // Add or remove a cut; half the time followed by an LPT reassignment, so a layout
            // change is judged with a balanced assignment rather than a random one.
            let i = rng.below(points)
            s.used[i].toggle()
            if s.used[i] { s.owner[i + 1] = rng.below(workers) }
            if workers > 1, rng.below(2) == 0 { problem.reassignLPT(&s) }
            return true
        case 1 where points > 0:
            // Shift a cut to the neighbouring point (likewise, half the time with LPT).
            var usedPoints: [Int] = []
            for i in 0..<points where s.used[i] { usedPoints.append(i) }
            guard !usedPoints.isEmpty else { return false }
            let i = usedPoints[rng.below(usedPoints.count)]
            let j = rng.below(2) == 0 ? i - 1 : i + 1
            guard j >= 0, j < points, !s.used[j] else { return false }
            s.used[i] = false
            s.used[j] = true
            s.owner[j + 1] = s.owner[i + 1]
            if workers > 1, rng.below(2) == 0 { problem.reassignLPT(&s) }
            return true
        case 2 where workers > 1:
            // Move a piece to another worker.
            let start = problem.pieceStart(s, segment: rng.below(segments))
            s.owner[start] = (s.owner[start] + 1 + rng.below(workers - 1)) % workers
            return true
        case 3 where workers > 1:
            // Swap two pieces' workers.
            let a = problem.pieceStart(s, segment: rng.below(segments))
            let b = problem.pieceStart(s, segment: rng.below(segments))
            guard s.owner[a] != s.owner[b] else { return false }
            s.owner.swapAt(a, b)
            return true
        default:
            return false
        }
    }

    /// Work allowed for ``polish(_:objective:)``, in segment visits (one evaluation visits every
    /// segment): about 0.1 s of a release build.
    static let polishBudget = 100_000_000

    /// Improves the assignment of the best layout without changing its cuts: LPT, then single
    /// moves and pairwise swaps while they lower the objective, within ``polishBudget``.
    mutating func polish(_ state: inout IndexBuildState, objective: inout Double) {
        let starts = problem.pieceStarts(state)
        guard problem.workers > 1, starts.count > 1 else { return }
        var lpt = state
        problem.reassignLPT(&lpt)
        if let o = problem.evaluate(lpt, scratch: &scratch), o < objective {
            state = lpt
            objective = o
        }
        var budget = Self.polishBudget
        func tryState(_ trial: IndexBuildState, _ state: inout IndexBuildState, _ objective: inout Double,
                      _ scratch: inout IndexBuildProblem.Scratch) -> Bool {
            budget -= problem.segmentCount
            guard let o = problem.evaluate(trial, scratch: &scratch), o < objective else { return false }
            state = trial
            objective = o
            return true
        }
        for _ in 0..<8 {
            var improved = false
            for a in starts {
                for w in 0..<problem.workers where w != state.owner[a] {
                    guard budget > 0 else { return }
                    var trial = state
                    trial.owner[a] = w
                    if tryState(trial, &state, &objective, &scratch) { improved = true }
                }
            }
            for (x, a) in starts.enumerated() {
                for b in starts[(x + 1)...] where state.owner[a] != state.owner[b] {
                    guard budget > 0 else { return }
                    var trial = state
                    trial.owner.swapAt(a, b)
                    if tryState(trial, &state, &objective, &scratch) { improved = true }
                }
            }
            if !improved { break }
        }
    }
}
