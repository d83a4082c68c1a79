import Foundation

/// A self-contained HTML page for one or more runs: inline SVG charts (no scripts, no network)
/// of throughput against target, p99 latency, partition count, forecast against actual with its
/// band, and reshard events as vertical markers. The page is well-formed XML (XHTML syntax) so
/// it can be checked with any XML parser.
public enum HTMLReport {
    public static func render(_ result: RunResult, title: String? = nil) -> String {
        var h = ""
        let pageTitle = title ?? "augur-load: \(result.engine) · \(result.workload)"
        h += "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        h += "<title>\(esc(pageTitle))</title>\n<style>\n\(css)</style>\n</head>\n<body>\n"
        h += "<h1>\(esc(pageTitle))</h1>\n"
        h += "<p class=\"meta\">\(esc(result.workloadSummary)). Mix: \(esc(result.mix)). Keys: \(esc(result.distribution)), \(esc(result.keyOrder)), "
        h += "\(result.keySize) B keys, \(result.valueSize) B values, \(result.records) records. \(result.threads) threads, \(esc(result.loop)) loop, "
        h += "\(esc(result.profile)). Seed \(result.seed). Warm-up \(fmt(result.warmupSeconds)) s (shaded), measured \(fmt(result.measuredSeconds)) s.</p>\n"
        for n in result.notes { h += "<p class=\"note\">\(esc(n))</p>\n" }
        h += summaryTable(result)

        let s = result.series
        let times = s.map(\.seconds)
        let xMax = Swift.max(times.last ?? 1, result.runSeconds, 1)
        let warm = result.warmupSeconds
        let ev = result.events

        // Throughput.
        var tp = [Series(name: "throughput", label: "achieved ops/s", cls: "s1", points: s.map { ($0.seconds, $0.opsPerSecond) })]
        let target = s.compactMap { x in x.targetRate.map { (x.seconds, $0) } }
        if !target.isEmpty { tp.append(Series(name: "target", label: "target ops/s", cls: "s2 dashed", points: target)) }
        h += section("Throughput", "Completions per \(fmt(intervalWidth(s))) s interval\(target.isEmpty ? "" : ", with the rate profile's target").")
        h += chart(id: "throughput", series: tp, xMax: xMax, yLabel: "ops/s", warmup: warm, events: ev)

        // Latency.
        var lat = [Series(name: "p99", label: "p99 µs", cls: "s3", points: s.compactMap { x in x.p99Microseconds.map { (x.seconds, $0) } })]
        lat.append(Series(name: "p50", label: "p50 µs", cls: "s1", points: s.compactMap { x in x.p50Microseconds.map { (x.seconds, $0) } }))
        let longest = s.compactMap { x in x.maxMicroseconds.map { (x.seconds, $0) } }
        if !longest.isEmpty { lat.insert(Series(name: "max", label: "max µs", cls: "s2 dashed", points: longest), at: 0) }
        h += section("Latency", result.loop == "open"
            ? "Per-interval percentiles and longest operation, measured from each operation's intended start (coordinated-omission corrected)."
            : "Per-interval percentiles and longest operation, measured from each operation's actual start (closed loop).")
        h += chart(id: "latency", series: lat, xMax: xMax, yLabel: "µs (log scale)", warmup: warm, events: ev, logScale: true)
        h += stealSection([Series(name: "stolen", label: "stolen ms", cls: "s3",
                                  points: s.compactMap { x in x.stolenMilliseconds.map { (x.seconds, $0) } })],
                          perPolicy: false, xMax: xMax, warmup: warm, events: ev)

        // Partitions.
        let parts = s.compactMap { x in x.partitions.map { (x.seconds, Double($0)) } }
        h += section("Partitions", "Partition count sampled each interval; vertical markers are reshard events.")
        if parts.isEmpty {
            h += placeholder(id: "partitions", note: "The engine reports no partition count.")
        } else {
            var ps = [Series(name: "partitions", label: "partitions", cls: "s4 step", points: parts)]
            let inflight = s.compactMap { x in x.reshardsInFlight.map { (x.seconds, Double($0)) } }
            if !inflight.isEmpty { ps.append(Series(name: "reshards-in-flight", label: "reshards in flight", cls: "s2", points: inflight)) }
            h += chart(id: "partitions", series: ps, xMax: xMax, yLabel: "partitions", warmup: warm, events: ev, step: true)
        }

        // Forecast.
        let fc = s.filter { $0.forecast != nil }
        h += section("Forecast", "The engine's load forecast for each interval against the measured throughput, with its prediction band.")
        if fc.isEmpty {
            h += placeholder(id: "forecast", note: "No forecast data: \(result.engine) does not report a load forecast yet.")
        } else {
            let band = Band(lower: fc.map { ($0.seconds, $0.forecast!.lower) }, upper: fc.map { ($0.seconds, $0.forecast!.upper) })
            let f = [Series(name: "forecast", label: "forecast ops/s", cls: "s2", points: fc.map { ($0.seconds, $0.forecast!.predicted) }),
                     Series(name: "actual", label: "actual ops/s", cls: "s1", points: fc.map { ($0.seconds, $0.opsPerSecond) })]
            h += chart(id: "forecast", series: f, xMax: xMax, yLabel: "ops/s", warmup: warm, events: ev, band: band)
        }

        if !ev.isEmpty {
            h += "<h2>Reshard events</h2>\n<table class=\"events\">\n<tr><th>time s</th><th>kind</th><th>detail</th><th>source</th></tr>\n"
            for e in ev {
                h += "<tr><td>\(fmt(e.seconds))</td><td>\(esc(e.kind.rawValue))</td><td>\(esc(e.detail))</td><td>\(e.inferred ? "inferred" : "engine")</td></tr>\n"
            }
            h += "</table>\n"
        }
        h += "<p class=\"meta\">Generated by augur-load. Self-contained: inline SVG, no scripts.</p>\n</body>\n</html>\n"
        return h
    }

    // MARK: pieces

    struct Series {
        var name: String
        var label: String
        var cls: String
        var points: [(Double, Double)]
    }

    struct Band {
        var lower: [(Double, Double)]
        var upper: [(Double, Double)]
    }

    static func intervalWidth(_ s: [IntervalSample]) -> Double {
        s.count >= 2 ? s[1].seconds - s[0].seconds : (s.first?.seconds ?? 1)
    }

    /// The host-steal chart (HostSteal.swift) of one run or of each policy's, or nothing when
    /// no interval has a steal figure.
    static func stealSection(_ series: [Series], perPolicy: Bool, xMax: Double, warmup: Double, events: [ReshardEvent]) -> String {
        if series.allSatisfy(\.points.isEmpty) { return "" }
        return section("Host steal", "CPU time the host took from this machine per interval (all CPUs, 10 ms resolution)"
                       + (perPolicy ? ", per policy" : "") + ": over \(Int(HostSteal.pausedIntervalMilliseconds)) ms the host "
                       + "paused the run, and every latency of that interval includes the pause.")
            + chart(id: "steal", series: series, xMax: xMax, yLabel: "stolen ms", warmup: warmup, events: events)
    }

    static func section(_ title: String, _ text: String) -> String {
        "<h2>\(esc(title))</h2>\n<p class=\"caption\">\(esc(text))</p>\n"
    }

    static func summaryTable(_ r: RunResult) -> String {
        var h = "<h2>Summary</h2>\n<p class=\"big\">\(esc(fmtRate(r.throughput))) ops/s <span class=\"meta\">(\(r.operations) operations, \(r.errors) errors)</span></p>\n"
        h += "<table class=\"summary\">\n<tr><th>operation</th><th>count</th><th>ops/s</th><th>p50 µs</th><th>p95 µs</th><th>p99 µs</th><th>p99.9 µs</th><th>max µs</th><th>errors</th></tr>\n"
        for s in r.perOperation + [r.all] {
            h += "<tr><td>\(esc(s.kind))</td><td>\(s.count)</td><td>\(fmtRate(s.opsPerSecond))</td><td>\(fmtLatency(s.p50Microseconds))</td>"
            h += "<td>\(fmtLatency(s.p95Microseconds))</td><td>\(fmtLatency(s.p99Microseconds))</td><td>\(fmtLatency(s.p999Microseconds))</td>"
            h += "<td>\(fmtLatency(s.maxMicroseconds))</td><td>\(s.errors)</td></tr>\n"
        }
        h += "</table>\n"
        let p = r.partitions
        func opt<T>(_ v: T?, _ f: (T) -> String) -> String { v.map(f) ?? "n/a" }
        let kv = [("partitions start / end / max", "\(opt(p.atStart) { String($0) }) / \(opt(p.atEnd) { String($0) }) / \(opt(p.maximum) { String($0) })"),
                  ("splits / merges / moves", "\(opt(p.splits) { String($0) }) / \(opt(p.merges) { String($0) }) / \(opt(p.moves) { String($0) })"),
                  ("bytes moved", opt(p.bytesMoved) { fmtBytes($0) }),
                  ("bytes shared (not copied)", opt(p.bytesShared) { fmtBytes($0) }),
                  ("overload seconds", opt(p.overloadSeconds) { fmt($0) }),
                  ("forecast error (MAPE)", opt(p.forecastError) { String(format: "%.1f%%", $0 * 100) }),
                  ("forecast fallbacks to reactive rules", opt(p.forecastFallbacks) { String($0) }),
                  ("host CPU stolen (latencies include the host's pauses)", opt(r.hostSteal) { $0.text })]
        h += "<table class=\"kv\">\n"
        for (k, v) in kv { h += "<tr><th>\(esc(k))</th><td>\(esc(v))</td></tr>\n" }
        h += "</table>\n"
        return h
    }

    static func placeholder(id: String, note: String) -> String {
        var h = "<figure class=\"chart\">\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(W)\" height=\"\(H)\" viewBox=\"0 0 \(W) \(H)\" data-chart=\"\(id)\" data-empty=\"true\" role=\"img\">\n"
        h += "<rect class=\"frame\" x=\"\(L)\" y=\"\(T)\" width=\"\(W - L - R)\" height=\"\(H - T - B)\"/>\n"
        h += "<text class=\"note\" x=\"\(W / 2)\" y=\"\(H / 2)\" text-anchor=\"middle\">\(esc(note))</text>\n</svg>\n</figure>\n"
        return h
    }

    static let W = 860, H = 260, L = 70, R = 20, T = 20, B = 40

    static func chart(id: String, series: [Series], xMax: Double, yLabel: String, warmup: Double,
                      events: [ReshardEvent], band: Band? = nil, step: Bool = false, logScale: Bool = false) -> String {
        let pw = Double(W - L - R), ph = Double(H - T - B)
        let all = series.flatMap { $0.points.map(\.1) }
        var yMaxRaw = all.max() ?? 1
        if let band { yMaxRaw = Swift.max(yMaxRaw, band.upper.map(\.1).max() ?? 0) }
        let yMax = niceCeiling(Swift.max(yMaxRaw, 1e-9))
        // Log scale: whole decades around the data.
        let lo = floor(log10(Swift.max(all.filter { $0 > 0 }.min() ?? 1, 1e-3)))
        let hi = Swift.max(lo + 1, ceil(log10(Swift.max(yMaxRaw, 1e-3))))
        func x(_ t: Double) -> Double { Double(L) + Swift.min(1, Swift.max(0, t / xMax)) * pw }
        func y(_ v: Double) -> Double {
            if logScale {
                let f = (log10(Swift.max(v, pow(10, lo))) - lo) / (hi - lo)
                return Double(T) + ph - Swift.min(1, Swift.max(0, f)) * ph
            }
            return Double(T) + ph - Swift.min(1, Swift.max(0, v / yMax)) * ph
        }
        var h = "<figure class=\"chart\">\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(W)\" height=\"\(H)\" viewBox=\"0 0 \(W) \(H)\" data-chart=\"\(id)\" role=\"img\">\n"
        h += "<rect class=\"frame\" x=\"\(L)\" y=\"\(T)\" width=\"\(W - L - R)\" height=\"\(H - T - B)\"/>\n"
        if warmup > 0 {
            h += "<rect class=\"warmup\" x=\"\(p(x(0)))\" y=\"\(T)\" width=\"\(p(x(warmup) - x(0)))\" height=\"\(H - T - B)\"><title>warm-up</title></rect>\n"
        }
        // Grid and ticks.
        let ticks: [Double] = logScale ? stride(from: lo, through: hi, by: 1).map { pow(10, $0) } : (0...4).map { yMax * Double($0) / 4 }
        for v in ticks {
            let yy = p(y(v))
            h += "<line class=\"grid\" x1=\"\(L)\" y1=\"\(yy)\" x2=\"\(W - R)\" y2=\"\(yy)\"/>"
            h += "<text class=\"tick\" x=\"\(L - 6)\" y=\"\(yy)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(esc(tickLabel(v)))</text>\n"
        }
        let xStep = niceCeiling(xMax / 8)
        var t = 0.0
        while t <= xMax + 1e-9 {
            h += "<text class=\"tick\" x=\"\(p(x(t)))\" y=\"\(H - B + 16)\" text-anchor=\"middle\">\(esc(tickLabel(t)))</text>\n"
            t += xStep
        }
        h += "<text class=\"axis\" x=\"\(W / 2)\" y=\"\(H - 4)\" text-anchor=\"middle\">seconds</text>\n"
        h += "<text class=\"axis\" x=\"14\" y=\"\(T + Int(ph / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(T + Int(ph / 2)))\">\(esc(yLabel))</text>\n"
        if let band, !band.lower.isEmpty {
            let pts = band.upper.map { "\(p(x($0.0))),\(p(y($0.1)))" } + band.lower.reversed().map { "\(p(x($0.0))),\(p(y($0.1)))" }
            h += "<polygon class=\"band\" data-series=\"band\" data-lower=\"\(band.lower.map { num($0.1) }.joined(separator: " "))\" "
            h += "data-upper=\"\(band.upper.map { num($0.1) }.joined(separator: " "))\" points=\"\(pts.joined(separator: " "))\"><title>prediction band</title></polygon>\n"
        }
        for s in series {
            var pts: [String] = []
            var prevY: Double? = nil
            for (tt, v) in s.points {
                if step, let prevY { pts.append("\(p(x(tt))),\(p(prevY))") }
                pts.append("\(p(x(tt))),\(p(y(v)))")
                prevY = y(v)
            }
            h += "<polyline class=\"line \(s.cls)\" data-series=\"\(esc(s.name))\" data-times=\"\(s.points.map { num($0.0) }.joined(separator: " "))\" "
            h += "data-values=\"\(s.points.map { num($0.1) }.joined(separator: " "))\" points=\"\(pts.joined(separator: " "))\"><title>\(esc(s.label))</title></polyline>\n"
        }
        for e in events {
            let xx = p(x(e.seconds))
            h += "<line class=\"event \(e.kind.rawValue)\" data-kind=\"\(e.kind.rawValue)\" data-seconds=\"\(num(e.seconds))\" x1=\"\(xx)\" y1=\"\(T)\" x2=\"\(xx)\" y2=\"\(H - B)\">"
            h += "<title>\(esc("\(e.kind.rawValue) at \(fmt(e.seconds)) s: \(e.detail)\(e.inferred ? " (inferred)" : "")"))</title></line>\n"
        }
        // Legend.
        var lx = L + 10
        for s in series {
            h += "<line class=\"line \(s.cls)\" x1=\"\(lx)\" y1=\"\(T + 12)\" x2=\"\(lx + 18)\" y2=\"\(T + 12)\"/>"
            h += "<text class=\"legend\" x=\"\(lx + 22)\" y=\"\(T + 16)\">\(esc(s.label))</text>\n"
            lx += 34 + s.label.count * 7
        }
        if !events.isEmpty {
            h += "<line class=\"event\" x1=\"\(lx)\" y1=\"\(T + 4)\" x2=\"\(lx)\" y2=\"\(T + 18)\"/><text class=\"legend\" x=\"\(lx + 6)\" y=\"\(T + 16)\">reshard event</text>\n"
        }
        h += "</svg>\n</figure>\n"
        return h
    }

    static func p(_ v: Double) -> String { String(format: "%.1f", v) }

    static func num(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: "%.6g", v)
    }

    static func niceCeiling(_ v: Double) -> Double {
        guard v > 0, v.isFinite else { return 1 }
        let e = pow(10, floor(log10(v)))
        for m in [1.0, 2, 2.5, 5, 10] where m * e >= v * (1 - 1e-12) { return m * e }
        return 10 * e
    }

    static func tickLabel(_ v: Double) -> String {
        if v >= 1e6 { return num(v / 1e6) + "M" }
        if v >= 1e4 { return num(v / 1e3) + "k" }
        return num((v * 100).rounded() / 100)
    }

    /// Escapes text and attribute values.
    public static func esc(_ s: String) -> String {
        var o = ""
        o.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default: o.append(c)
            }
        }
        return o
    }

    static let css = """
    body { font: 14px/1.45 system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 900px; color: #222; }
    h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
    .meta, .caption { color: #555; } .note { color: #8a4b00; } .big { font-size: 22px; font-weight: 600; }
    table { border-collapse: collapse; margin: 8px 0; } th, td { padding: 3px 10px; text-align: right; border-bottom: 1px solid #e3e3e3; }
    th:first-child, td:first-child { text-align: left; } table.kv th { text-align: left; font-weight: normal; color: #555; }
    figure.chart { margin: 0; } svg { background: #fff; }
    .frame { fill: none; stroke: #bbb; } .grid { stroke: #eee; } .tick, .axis, .legend { font-size: 11px; fill: #555; }
    .warmup { fill: #f2f2f2; } .line { fill: none; stroke-width: 1.8; }
    .s1 { stroke: #1f77b4; } .s2 { stroke: #7f7f7f; } .s3 { stroke: #d62728; } .s4 { stroke: #2ca02c; }
    .dashed { stroke-dasharray: 5 4; } .band { fill: #7f7f7f; fill-opacity: 0.18; stroke: none; }
    .event { stroke: #ff7f0e; stroke-width: 1.2; stroke-dasharray: 2 2; } .note { font-size: 13px; fill: #888; }
    td.pass { color: #1a7f37; font-weight: 600; } td.fail { color: #c62828; font-weight: 600; } td.na { color: #888; }
    table.criteria td { text-align: left; }

    """
}
