@_spi(Testing) import Augur
// The oracle of acknowledged operations, kept outside the engine.
//
// With one writer and `sync` durability the only states a crash may leave are "every
// acknowledged operation applied" and, if an operation was in flight, "… plus that one". An
// operation that failed (fault injection) is uncertain: its record may or may not have reached
// the log, so it may or may not be applied — but always in its place in the history. The
// possible states are therefore the prefixes of the history in which every acknowledged
// operation is applied and each uncertain one is applied or not; anything else is a hole (an
// acknowledged write lost, or an operation applied out of order or without its predecessors).

/// What the oracle decided about a recovered state.
public struct OracleVerdict: Sendable, CustomStringConvertible {
    public var matches: Bool
    /// Whether the state includes the operation that was in flight (nil when none was, or no match).
    public var inFlightApplied: Bool?
    /// Keys whose acknowledged value is missing or different in the closest allowed state.
    public var lostWrites: Int
    /// Keys present that no allowed state has.
    public var unexpectedRecords: Int
    /// The in-flight batch is partly applied (an atomicity violation, not a lost acknowledged
    /// write): how many of its entries are present, out of how many that change the state.
    public var partialBatch: (applied: Int, of: Int)? = nil
    public var detail: String

    public var description: String { matches ? "ok" : detail }
}

public struct Oracle: Sendable {
    /// Every acknowledged operation applied, up to the first uncertain one.
    public private(set) var base: StoreState
    /// Data operations after `base`: acknowledged (certain) or failed (uncertain).
    public private(set) var tail: [(op: Op, certain: Bool)] = []
    /// The data operation started and not yet acknowledged or failed.
    public private(set) var inFlight: Op? = nil
    /// Counters for summaries.
    public private(set) var acknowledged = 0

    public init(state: StoreState = StoreState()) { base = state }

    /// Marks the start of an operation (only data operations matter).
    public mutating func begin(_ op: Op) {
        precondition(inFlight == nil, "oracle: an operation began while another was in flight")
        if op.isDataOp { inFlight = op }
    }

    /// The operation in flight returned successfully.
    public mutating func acknowledge() {
        guard let op = inFlight else { return }
        inFlight = nil
        acknowledged += 1
        if tail.isEmpty { base.apply(op) } else { tail.append((op, true)) }
    }

    /// The operation in flight returned an error: it may or may not be applied.
    public mutating func fail() {
        guard let op = inFlight else { return }
        inFlight = nil
        tail.append((op, false))
    }

    /// The state with every acknowledged operation and no uncertain one.
    public var committed: StoreState {
        var s = base
        for e in tail where e.certain { s.apply(e.op) }
        return s
    }

    /// Every state a crash may leave (the in-flight operation counts as uncertain). Bounded by
    /// 2^(uncertain operations); callers keep that small.
    public func possibleStates() -> [StoreState] {
        var states: [StoreState] = [base]
        var history = tail
        if let inFlight { history.append((inFlight, false)) }
        for e in history {
            if e.certain {
                states = states.map { $0.applying(e.op) }
            } else {
                for s in states {
                    let next = s.applying(e.op)
                    if !states.contains(next) { states.append(next) }
                }
            }
        }
        return states
    }

    /// Keys the uncertain and in-flight operations touch, per table (where allowed states differ).
    public var uncertainKeys: [String: Set<[UInt8]>] {
        var out: [String: Set<[UInt8]>] = [:]
        var ops = tail.map(\.op)
        if let inFlight { ops.append(inFlight) }
        for op in ops {
            switch op {
            case .put(let t, let k, _), .delete(let t, let k): out[t, default: []].insert(k)
            case .batch(let es): for e in es { out[e.table, default: []].insert(e.key) }
            case .flush, .reshard, .rebuildIndex: break
            }
        }
        return out
    }

    /// Checks a recovered state against the possible states.
    public func verify(_ actual: StoreState) -> OracleVerdict {
        // Fast path, one pass: every key no uncertain operation touched must hold its committed
        // value; the touched keys must together match one of the possible states.
        let touched = uncertainKeys
        let expected = committed
        var matches = true
        outer: for name in Set(expected.rows.keys).union(actual.rows.keys) {
            let e = expected.records(name), a = actual.records(name), skip = touched[name] ?? []
            if skip.isEmpty && e.count != a.count { matches = false; break }
            for (k, v) in e where !skip.contains(k.bytes) {
                if a[k] != v { matches = false; break outer }
            }
            for k in a.keys where e[k] == nil && !skip.contains(k.bytes) { matches = false; break outer }
        }
        if matches {
            var projection = Oracle(state: project(base, touched))
            for e in tail {
                projection.begin(e.op)
                if e.certain { projection.acknowledge() } else { projection.fail() }
            }
            if let inFlight { projection.begin(inFlight) }
            let actualProjection = project(actual, touched)
            let candidates = projection.possibleStates()
            if candidates.contains(actualProjection) {
                var applied: Bool? = nil
                if let inFlight {
                    let without = project(expected, touched)
                    let with = without.applying(inFlight)
                    if with != without { applied = (actualProjection == with) }
                }
                return OracleVerdict(matches: true, inFlightApplied: applied, lostWrites: 0, unexpectedRecords: 0, detail: "ok")
            }
        }
        let actualN = actual
        let states = possibleStates()
        // An in-flight batch applied in part, everything else as acknowledged?
        if case .batch(let entries)? = inFlight, let partial = partialBatch(entries, actual) {
            let detail = "the in-flight batch of \(entries.count) operations is partly applied after recovery (\(partial.applied) of the \(partial.of) entries that change the state are present): batch atomicity violated"
            return OracleVerdict(matches: false, inFlightApplied: nil, lostWrites: 0, unexpectedRecords: 0,
                                 partialBatch: partial, detail: detail)
        }
        // The closest allowed state explains the failure best.
        var best: (lost: [(String, [UInt8])], extra: [(String, [UInt8])], state: StoreState)? = nil
        for s in states {
            let d = s.normalized.differences(from: actualN)
            if best == nil || d.0.count + d.1.count < best!.lost.count + best!.extra.count { best = (d.0, d.1, s) }
        }
        let b = best!
        var examples: [String] = []
        for (t, k) in b.lost.prefix(3) {
            examples.append("\(t)/\(formatKeyShort(k)): expected \(describeValue(b.state.value(t, k))), found \(describeValue(actual.value(t, k)))")
        }
        for (t, k) in b.extra.prefix(2) {
            examples.append("\(t)/\(formatKeyShort(k)): unexpected \(describeValue(actual.value(t, k)))")
        }
        let detail = "state matches none of the \(states.count) allowed states: \(b.lost.count) acknowledged records missing or changed, \(b.extra.count) unexpected; e.g. " + examples.joined(separator: "; ")
        return OracleVerdict(matches: false, inFlightApplied: nil, lostWrites: b.lost.count, unexpectedRecords: b.extra.count, detail: detail)
    }

    /// When `actual` is the committed state with some (not all, not none) of the in-flight
    /// batch's entries applied, how many are.
    func partialBatch(_ entries: [BatchEntry], _ actual: StoreState) -> (applied: Int, of: Int)? {
        guard tail.allSatisfy(\.certain) else { return nil }
        let without = committed
        let with = without.applying(.batch(entries))
        // Last entry per key wins inside a batch.
        var touched: [String: Set<[UInt8]>] = [:]
        for e in entries { touched[e.table, default: []].insert(e.key) }
        var applied = 0, changing = 0
        for (table, keys) in touched {
            for k in keys {
                let w = with.value(table, k), wo = without.value(table, k), a = actual.value(table, k)
                if w == wo { continue }
                changing += 1
                if a == w { applied += 1 } else if a != wo { return nil }
            }
        }
        guard applied > 0 && applied < changing else { return nil }
        // Every other key as committed.
        var rest = actual
        for (table, keys) in touched { for k in keys { rest.delete(table, k) } }
        var expectedRest = without
        for (table, keys) in touched { for k in keys { expectedRest.delete(table, k) } }
        return rest == expectedRest ? (applied, changing) : nil
    }

    /// The part of `state` on the given keys.
    func project(_ state: StoreState, _ keys: [String: Set<[UInt8]>]) -> StoreState {
        var out = StoreState()
        for (t, ks) in keys {
            for k in ks { if let v = state.value(t, k) { out.put(t, k, v) } }
        }
        return out
    }

    /// After a check: the recovered state becomes the new base (it was one of the allowed ones;
    /// when it was not, the harness has reported that and continues from what is there).
    public mutating func settle(on actual: StoreState) {
        base = actual.normalized
        tail = []
        inFlight = nil
    }
}

/// The engine's `formatKey`, cut to 40 characters for one-line reports.
func formatKeyShort(_ k: [UInt8]) -> String {
    let s = formatKey(k)
    return s.count > 40 ? String(s.prefix(40)) + "…" : s
}
