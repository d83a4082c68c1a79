/// Follows each load-driven action's original key range with the noise-free expected load
/// (a pure function of time), to find when that range overloads (or had begun to) relative to
/// the action's completion.
///
/// Thread-safety: not thread-safe; owned by one ``Simulator``.
struct LeadTimeTracker {
    struct Watch {
        var lo: Double
        var hi: Double
        var issuedAt: Int
        var completedAt: Int?
        var overloadAt: Int?
        var actionKey: Int
    }

    private(set) var watches: [Watch] = []
    private(set) var leads: [Int] = []
    private(set) var noOverload = 0
    let watchSeconds: Int
    /// How far back an overload already in progress at issue is traced. Unit: s.
    let lookBackSeconds = 3600

    init(watchSeconds: Int) { self.watchSeconds = watchSeconds }

    /// Starts watching `[lo, hi)` for action `key` issued at `t`; `utilization(lo, hi, t)` is
    /// the range's expected utilization at any time.
    mutating func start(lo: Double, hi: Double, issuedAt t: Int, key: Int, utilization: (Double, Double, Int) -> Double) {
        var w = Watch(lo: lo, hi: hi, issuedAt: t, completedAt: nil, overloadAt: nil, actionKey: key)
        if utilization(lo, hi, t) > 1 {
            var s = t
            while s > max(0, t - lookBackSeconds), utilization(lo, hi, s - 1) > 1 { s -= 1 }
            w.overloadAt = s
        }
        watches.append(w)
    }

    mutating func completed(key: Int, at t: Int) {
        for i in watches.indices where watches[i].actionKey == key { watches[i].completedAt = t }
        resolve(now: t)
    }

    /// Checks open watches at time `t`.
    mutating func tick(_ t: Int, utilization: (Double, Double, Int) -> Double) {
        for i in watches.indices where watches[i].overloadAt == nil {
            if utilization(watches[i].lo, watches[i].hi, t) > 1 { watches[i].overloadAt = t }
        }
        resolve(now: t)
    }

    private mutating func resolve(now t: Int) {
        var keep: [Watch] = []
        for w in watches {
            if let c = w.completedAt, let o = w.overloadAt {
                leads.append(o - c)
            } else if let c = w.completedAt, t > c + watchSeconds {
                noOverload += 1
            } else {
                keep.append(w)
            }
        }
        watches = keep
    }
}
