import AugurPlanner
import AugurStats

/// Parser of the data-driven planner cases in `testdata/*.txt`.
///
/// A case is an input section, a line `----`, and the expected output. Input lines:
///
///     # comment
///     policy predictive|reactive|static [targetFill=0.6 level=0.95 maxWays=8 mergeWindow=1800s
///                                        trough=0.1 hotKey=0.5 splitP=0.5 sustain=10s splitInterval=60s]
///     capacity ops=1000 wbytes=4M size=8G minsize=64M hw=0.8 lw=0.3 horizon=120s cooldown=600s concurrency=4
///              data=share|copy     (the executor's data mode, `CapacityModel.reshardCost`; default share)
///     now 3600s
///     partition p1 lo=- hi=80 size=2G created=0s recent=700x15 wbpo=0 peaks=300s:750,1800s:800
///               hist=flat|w1,w2,… whist=w1,w2,… fc=p:u,p:u,… fcstep=20s hot=4142:0.9 state=pre
///     inflight split p3 @ 90          (or: merge p3 p4 / move p3 p4 @ 90 / activate p3)
///     history split p0 -> p1,p2 issued=100s done=120s
///
/// Keys are hex (`-` = empty lower bound, `+` = open upper bound); sizes take K/M/G suffixes;
/// times take an `s` suffix. `recent` is a comma list of ops/s values, each optionally
/// `valuexN` for N repeats. `fc` gives each step's point and 95% upper bound in ops/s (the
/// lower bound mirrors the upper, the 80% interval is scaled by 1.2816/1.96). `hist=flat` is 16
/// equal buckets. Expected output lines are `PlanRendering` lines (actions, then findings, in
/// plan order); `score pN …` lines are compared with that partition's score line.
struct PlannerCase {
    var name: String
    var policy: PlannerPolicy
    var capacity: CapacityModel
    var now: UInt64
    var snapshot: TableSnapshot
    var expected: [String]

    struct ParseError: Error, CustomStringConvertible {
        var line: Int
        var message: String
        var description: String { "line \(line): \(message)" }
    }

    static func seconds(_ s: String) throws -> UInt64 {
        let t = s.hasSuffix("s") ? String(s.dropLast()) : s
        guard let v = Double(t) else { throw ParseError(line: 0, message: "bad time '\(s)'") }
        return UInt64((v * 1e9).rounded())
    }

    static func bytes(_ s: String) throws -> UInt64 {
        var t = s
        var scale: Double = 1
        if let last = t.last, let m = ["K": 1024.0, "M": 1048576.0, "G": 1073741824.0, "T": 1099511627776.0][String(last)] {
            scale = m
            t.removeLast()
        }
        guard let v = Double(t) else { throw ParseError(line: 0, message: "bad size '\(s)'") }
        return UInt64((v * scale).rounded())
    }

    static func key(_ s: String) throws -> [UInt8] {
        guard let k = KeyFormat.parse(s) else { throw ParseError(line: 0, message: "bad key '\(s)'") }
        return k
    }

    static func id(_ s: String) throws -> PartitionID {
        guard s.hasPrefix("p"), let v = UInt64(s.dropFirst()) else { throw ParseError(line: 0, message: "bad partition id '\(s)'") }
        return PartitionID(v)
    }

    static func doubles(_ s: String) throws -> [Double] {
        var out: [Double] = []
        for item in s.split(separator: ",") {
            let parts = item.split(separator: "x")
            guard let v = Double(parts[0]) else { throw ParseError(line: 0, message: "bad number '\(item)'") }
            let n = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
            out.append(contentsOf: Array(repeating: v, count: n))
        }
        return out
    }

    static func keyValues(_ tokens: ArraySlice<Substring>) throws -> [String: String] {
        var kv: [String: String] = [:]
        for t in tokens {
            guard let eq = t.firstIndex(of: "=") else { throw ParseError(line: 0, message: "expected key=value, got '\(t)'") }
            kv[String(t[..<eq])] = String(t[t.index(after: eq)...])
        }
        return kv
    }

    static func histogram(range: KeyRange, reads: [Double], writes: [Double]) -> HistogramSnapshot {
        let n = max(reads.count, writes.count)
        let map = KeyPositionMap(lowerBound: range.lower, upperBound: range.upper, bucketCount: n)
        func counts(_ w: [Double]) -> [UInt64] { (0..<n).map { $0 < w.count ? UInt64((w[$0] * 100).rounded()) : 0 } }
        let r = counts(reads), wr = counts(writes)
        return HistogramSnapshot(map: map, reads: r, writes: wr, readBytes: r.map { $0 * 100 }, writeBytes: wr.map { $0 * 100 })
    }

    static func action(_ t: [Substring]) throws -> ReshardAction {
        switch t.first {
        case "split": return .split(try id(String(t[1])), at: try t[3].split(separator: ",").map { try key(String($0)) })
        case "precreate": return .precreate(try id(String(t[1])), at: try t[3].split(separator: ",").map { try key(String($0)) })
        case "merge": return .merge(left: try id(String(t[1])), right: try id(String(t[2])))
        case "move": return .moveBoundary(left: try id(String(t[1])), right: try id(String(t[2])), to: try key(String(t[4])))
        case "activate": return .activate(try id(String(t[1])))
        default: throw ParseError(line: 0, message: "unknown action '\(t.joined(separator: " "))'")
        }
    }

    static func parse(name: String, text: String) throws -> PlannerCase {
        var policy = PlannerPolicy.static
        var capacity = CapacityModel()
        var now: UInt64 = 0
        var partitions: [PartitionSnapshot] = []
        var inFlight: [InFlightReshard] = []
        var history: [CompletedReshard] = []
        var expected: [String] = []
        var inExpected = false
        var pendingForecasts: [(Int, [Double], UInt64)] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters()
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line == "----" { inExpected = true; continue }
            if inExpected { expected.append(line); continue }
            let tokens = line.split(separator: " ", omittingEmptySubsequences: true)
            do {
                switch tokens[0] {
                case "policy":
                    let kv = try keyValues(tokens.dropFirst(2))
                    switch tokens[1] {
                    case "static": policy = .static
                    case "reactive":
                        var o = ReactiveOptions()
                        if let v = kv["sustain"] { o.sustainNanos = try seconds(v) }
                        if let v = kv["smoothing"] { o.smoothingNanos = try seconds(v) }
                        if let v = kv["splitInterval"] { o.splitIntervalNanos = try seconds(v) }
                        if let v = kv["mergeWindow"] { o.mergeWindowNanos = try seconds(v) }
                        policy = .reactive(o)
                    case "predictive":
                        var o = PredictiveOptions()
                        if let v = kv["targetFill"].flatMap(Double.init) { o.targetFill = v }
                        if let v = kv["level"].flatMap(Double.init) { o.intervalLevel = v }
                        if let v = kv["maxWays"].flatMap(Int.init) { o.maxSplitWays = v }
                        if let v = kv["mergeWindow"] { o.mergeWindowNanos = try seconds(v) }
                        if let v = kv["trough"].flatMap(Double.init) { o.troughTolerance = v }
                        if let v = kv["hotKey"].flatMap(Double.init) { o.hotKeyFraction = v }
                        if let v = kv["splitP"].flatMap(Double.init) { o.splitProbability = v }
                        policy = .predictive(o)
                    default: throw ParseError(line: n + 1, message: "unknown policy \(tokens[1])")
                    }
                case "capacity":
                    let kv = try keyValues(tokens.dropFirst())
                    if let v = kv["ops"] { capacity.opsPerSecond = Double(try bytes(v)) }
                    if let v = kv["wbytes"] { capacity.writeBytesPerSecond = Double(try bytes(v)) }
                    if let v = kv["size"] { capacity.maxPartitionBytes = try bytes(v) }
                    if let v = kv["minsize"] { capacity.minPartitionBytes = try bytes(v) }
                    if let v = kv["hw"].flatMap(Double.init) { capacity.highWatermark = v }
                    if let v = kv["lw"].flatMap(Double.init) { capacity.lowWatermark = v }
                    if let v = kv["horizon"] { capacity.horizonNanos = try seconds(v) }
                    if let v = kv["cooldown"] { capacity.cooldownNanos = try seconds(v) }
                    if let v = kv["concurrency"].flatMap(Int.init) { capacity.maxConcurrentReshards = v }
                    if let v = kv["data"] {
                        guard let mode = ReshardDataMode(rawValue: v) else { throw ParseError(line: 0, message: "data must be share or copy (got \(v))") }
                        capacity.reshardCost.dataMode = mode
                    }
                case "now":
                    now = try seconds(String(tokens[1]))
                case "partition":
                    let kv = try keyValues(tokens.dropFirst(2))
                    let hiText = kv["hi"] ?? "+"
                    let range = KeyRange(lower: try key(kv["lo"] ?? "-"), upper: hiText == "+" ? nil : try key(hiText))
                    var p = PartitionSnapshot(id: try id(String(tokens[1])), range: range, sizeBytes: try bytes(kv["size"] ?? "1G"))
                    if let v = kv["created"] { p.createdAt = try seconds(v) }
                    if kv["state"] == "pre" { p.state = .preCreated }
                    let wbpo = kv["wbpo"].flatMap(Double.init) ?? 0
                    if let v = kv["recent"] { p.recent = try doubles(v).map { LoadSample(opsPerSecond: $0, writeBytesPerSecond: $0 * wbpo) } }
                    if let v = kv["peaks"] {
                        for item in v.split(separator: ",") {
                            let parts = item.split(separator: ":")
                            let w = try seconds(String(parts[0]))
                            let ops = Double(parts[1]) ?? 0
                            p.windowPeaks.append(WindowPeak(windowNanos: w, peak: LoadSample(opsPerSecond: ops, writeBytesPerSecond: ops * wbpo), coveredNanos: w))
                        }
                    }
                    let reads: [Double]? = kv["hist"].map { $0 == "flat" ? Array(repeating: 1, count: 16) : ((try? doubles($0)) ?? []) }
                    let writes: [Double]? = try kv["whist"].map { try doubles($0) }
                    if reads != nil || writes != nil { p.histogram = histogram(range: range, reads: reads ?? [], writes: writes ?? []) }
                    if let v = kv["hot"] {
                        let parts = v.split(separator: ":")
                        p.hotKey = HotKeyObservation(key: try key(String(parts[0])), loadFraction: Double(parts[1]) ?? 0)
                    }
                    if let v = kv["fc"] {
                        var flat: [Double] = []
                        for item in v.split(separator: ",") {
                            let parts = item.split(separator: ":")
                            flat.append(Double(parts[0]) ?? 0)
                            flat.append(Double(parts.count > 1 ? parts[1] : parts[0]) ?? 0)
                        }
                        pendingForecasts.append((partitions.count, flat, try seconds(kv["fcstep"] ?? "20s")))
                    }
                    partitions.append(p)
                case "inflight":
                    let kv = try keyValues(tokens.dropFirst().filter { $0.contains("=") }[...])
                    let a = try action(Array(tokens.dropFirst().filter { !$0.contains("=") }))
                    inFlight.append(InFlightReshard(action: a, startedAt: try seconds(kv["started"] ?? "0s")))
                case "history":
                    guard tokens.count >= 5, let kind = ReshardKind(rawValue: String(tokens[1])) else {
                        throw ParseError(line: n + 1, message: "history needs: history <kind> <sources> -> <results> issued=… done=…")
                    }
                    let kv = try keyValues(tokens.dropFirst(5))
                    let sources = try tokens[2].split(separator: ",").map { try id(String($0)) }
                    let results = try tokens[4].split(separator: ",").map { try id(String($0)) }
                    let done = try seconds(kv["done"] ?? "0s")
                    history.append(CompletedReshard(kind: kind, issuedAt: try kv["issued"].map(seconds) ?? done, completedAt: done,
                                                    sources: sources, results: results))
                default:
                    throw ParseError(line: n + 1, message: "unknown directive '\(tokens[0])'")
                }
            } catch let e as ParseError {
                throw ParseError(line: n + 1, message: e.message)
            }
        }
        for (i, flat, step) in pendingForecasts {
            var steps: [ForecastPoint] = []
            for h in 0..<(flat.count / 2) {
                let point = flat[2 * h], upper = flat[2 * h + 1]
                steps.append(ForecastPoint(step: h + 1, point: point, upper80: point + (upper - point) * 1.2816 / 1.96, upper95: upper))
            }
            partitions[i].forecast = PartitionForecast(issuedAt: now, stepNanos: step, ops: steps)
        }
        return PlannerCase(name: name, policy: policy, capacity: capacity, now: now,
                           snapshot: TableSnapshot(partitions: partitions, inFlight: inFlight, history: history), expected: expected)
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
