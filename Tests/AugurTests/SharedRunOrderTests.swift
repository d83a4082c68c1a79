import Testing
@testable import Augur
import AugurStats
import AugurTestSupport

/// `SharedRunOrder.interleave`: a reshard target's runs from its sources' run lists (newest
/// first), each list's order kept, adjacent views of one file joined where both orders allow.
/// Runs here are integer pieces of "files": `(file, begin, end)`, joinable when of one file and
/// the first ends where the next begins. Replay one seed with AUGUR_SEED=<n>.
@Suite struct SharedRunOrderTests {
    struct Piece: Equatable, CustomStringConvertible {
        var file: Int
        var begin: Int
        var end: Int
        /// The source pieces this one covers, in key order.
        var parts: [Int]
        var description: String { "f\(file)[\(begin),\(end))" }
    }

    static func join(_ a: Piece, _ b: Piece) -> Piece? {
        a.file == b.file && a.end == b.begin ? Piece(file: a.file, begin: a.begin, end: b.end, parts: a.parts + b.parts) : nil
    }

    /// A split's halves merged back: each half lists its own new run, then its views of the
    /// two files the parent had. The merge has the parent's two runs again, after both new
    /// runs, not four views.
    @Test func aSplitMergedBackHasItsRunsAgain() {
        let left = [Piece(file: 10, begin: 0, end: 5, parts: [0]), Piece(file: 1, begin: 0, end: 50, parts: [1]),
                    Piece(file: 2, begin: 0, end: 40, parts: [2])]
        let right = [Piece(file: 11, begin: 0, end: 7, parts: [3]), Piece(file: 1, begin: 50, end: 90, parts: [4]),
                     Piece(file: 2, begin: 40, end: 80, parts: [5])]
        let runs = SharedRunOrder.interleave([left, right], join: Self.join)
        #expect(runs.map(\.description) == ["f10[0,5)", "f11[0,7)", "f1[0,90)", "f2[0,80)"])
    }

    /// Views that do not touch in their file (a record between them) stay two runs, and so do
    /// views of one file in crossing orders (each list older than the other's other file).
    @Test func viewsApartOrInCrossingOrderStayApart() {
        let gap = SharedRunOrder.interleave([[Piece(file: 1, begin: 0, end: 5, parts: [0])],
                                             [Piece(file: 1, begin: 6, end: 9, parts: [1])]], join: Self.join)
        #expect(gap.count == 2)
        let crossing = SharedRunOrder.interleave(
            [[Piece(file: 1, begin: 0, end: 5, parts: [0]), Piece(file: 2, begin: 0, end: 5, parts: [1])],
             [Piece(file: 2, begin: 5, end: 9, parts: [2]), Piece(file: 1, begin: 5, end: 9, parts: [3])]], join: Self.join)
        #expect(crossing.count == 3, "one of the two joins at most: \(crossing)")
        #expect(SharedRunOrder.interleave([[Piece]](), join: Self.join).isEmpty)
    }

    /// Random lists of random pieces: every source piece is in exactly one run; each list's
    /// pieces keep their order; and with two lists the number of joins is the most any
    /// order-keeping interleaving allows (checked by exhaustive search).
    @Test("random lists keep their orders and join as much as possible", arguments: seeds)
    func randomListsKeepOrdersAndJoinMost(seed: UInt64) {
        print("SharedRunOrderTests seed \(seed) (AUGUR_SEED=\(seed) replays it)")
        var rng = SplitMix64(seed: seed)
        for round in 0..<400 {
            var next = 0
            let listCount = 1 + Int(rng.next() % 3)
            var lists: [[Piece]] = []
            for l in 0..<listCount {
                let n = Int(rng.next() % 5)
                lists.append((0..<n).map { _ in
                    // Few files and positions, so joins and near misses are common; a piece may
                    // end where the list after next begins (the list between viewing none of it).
                    let file = Int(rng.next() % 3), begin = 10 * l + Int(rng.next() % 2) * 5
                    let end = 10 * (l + 1 + Int(rng.next() % 2))
                    defer { next += 1 }
                    return Piece(file: file, begin: begin, end: end, parts: [next])
                })
            }
            let runs = SharedRunOrder.interleave(lists, join: Self.join)
            let order = runs.flatMap(\.parts)
            #expect(order.sorted() == Array(0..<next), "round \(round): every piece once: \(runs) (seed \(seed))")
            for list in lists {
                let positions = list.map { p in order.firstIndex(of: p.parts[0]) ?? -1 }
                #expect(positions == positions.sorted(), "round \(round): a list's order changed: \(lists) → \(runs) (seed \(seed))")
            }
            if listCount == 2 {
                let most = Self.mostJoins(lists[0][...], lists[1][...])
                #expect(order.count - runs.count == most, "round \(round): \(order.count - runs.count) joins, \(most) possible: \(lists) → \(runs) (seed \(seed))")
            }
        }
    }

    /// The most joins between `a` and `b` keeping both orders, by trying every choice.
    static func mostJoins(_ a: ArraySlice<Piece>, _ b: ArraySlice<Piece>) -> Int {
        guard let x = a.first, let y = b.first else { return 0 }
        var best = max(mostJoins(a.dropFirst(), b), mostJoins(a, b.dropFirst()))
        if join(x, y) != nil { best = max(best, 1 + mostJoins(a.dropFirst(), b.dropFirst())) }
        return best
    }

    static var seeds: [UInt64] {
        if let s = environmentValue("AUGUR_SEED"), let seed = UInt64(s) { return [seed] }
        return [1, 0x5EED_2026]
    }
}
