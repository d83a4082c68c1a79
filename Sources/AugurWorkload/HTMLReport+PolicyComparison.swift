import Foundation

extension HTMLReport {
    /// One page for runs of one scenario under several policies: the side-by-side table, the
    /// criteria with their outcomes, and throughput, p99 and partition count of every run on
    /// shared charts. `links` pairs a run's label with the file name of its own report.
    public static func render(_ comparison: PolicyComparison, links: [(label: String, file: String)] = []) -> String {
        let runs = comparison.runs
        guard let first = runs.first else { return "" }
        let title = "augur-load: policies · \(first.workload)"
        var h = "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
        h += "<title>\(esc(title))</title>\n<style>\n\(css)</style>\n</head>\n<body>\n<h1>\(esc(title))</h1>\n"
        h += "<p class=\"meta\">\(esc(first.workloadSummary)). Mix: \(esc(first.mix)). Keys: \(esc(first.distribution)), \(esc(first.keyOrder)), "
        h += "\(first.records) records. \(first.threads) threads, \(esc(first.loop)) loop, \(esc(first.profile)). Seed \(first.seed). "
        h += "The same scenario under each policy, a fresh \(esc(first.engine)) store each, one after another.</p>\n"

        h += "<h2>Policies</h2>\n<table class=\"policies\">\n<tr><th>policy</th><th>ops/s</th><th>p50 µs</th><th>p99 µs</th><th>p99.9 µs</th>"
        h += "<th>overload s</th><th>mean partitions</th><th>max partitions</th><th>splits / merges / moves</th><th>bytes moved</th><th>bytes shared</th><th>forecast MAPE</th><th>host stolen s</th></tr>\n"
        func opt<T>(_ v: T?, _ f: (T) -> String) -> String { v.map(f) ?? "n/a" }
        for r in runs {
            let p = r.partitions
            let cells = [r.policy?.rawValue ?? r.engine, String(format: "%.0f", r.throughput), fmtLatency(r.all.p50Microseconds),
                         fmtLatency(r.all.p99Microseconds), fmtLatency(r.all.p999Microseconds), opt(p.overloadSeconds, fmt),
                         opt(p.mean) { String(format: "%.2f", $0) }, opt(p.maximum) { String($0) },
                         "\(opt(p.splits) { String($0) }) / \(opt(p.merges) { String($0) }) / \(opt(p.moves) { String($0) })",
                         opt(p.bytesMoved, fmtBytes), opt(p.bytesShared, fmtBytes), opt(p.forecastError) { String(format: "%.1f%%", $0 * 100) },
                         opt(r.hostSteal) { String(format: "%.2f", $0.seconds) }]
            h += "<tr>" + cells.map { "<td>\(esc($0))</td>" }.joined() + "</tr>\n"
        }
        h += "</table>\n<h2>Criteria</h2>\n<table class=\"criteria\">\n"
        for c in comparison.checks() {
            h += "<tr data-rule=\"\(c.rule.rawValue)\" data-outcome=\"\(esc(c.outcome.rawValue))\"><td>(\(c.rule.rawValue))</td>"
            h += "<td class=\"\(c.outcome == .pass ? "pass" : c.outcome == .fail ? "fail" : "na")\">\(esc(c.outcome.rawValue))</td><td>\(esc(c.detail))</td></tr>\n"
        }
        h += "</table>\n"

        let xMax = Swift.max(runs.map { Swift.max($0.series.last?.seconds ?? 1, $0.runSeconds) }.max() ?? 1, 1)
        let warm = first.warmupSeconds
        func series(_ f: (IntervalSample) -> Double?) -> [Series] {
            runs.map { r in
                let name = r.policy?.rawValue ?? r.engine
                return Series(name: name, label: name, cls: policyClass(r.policy), points: r.series.compactMap { s in f(s).map { (s.seconds, $0) } })
            }
        }
        h += section("Partitions", "Partition count sampled each interval, per policy.")
        let parts = series { $0.partitions.map(Double.init) }
        if parts.allSatisfy(\.points.isEmpty) {
            h += placeholder(id: "partitions", note: "The engine reports no partition count.")
        } else {
            h += chart(id: "partitions", series: parts, xMax: xMax, yLabel: "partitions", warmup: warm, events: [], step: true)
        }
        h += section("Latency", "p99 per interval, per policy.")
        h += chart(id: "latency", series: series(\.p99Microseconds), xMax: xMax, yLabel: "p99 µs (log scale)", warmup: warm, events: [], logScale: true)
        let stolen = series(\.stolenMilliseconds)
        if !stolen.allSatisfy(\.points.isEmpty) {
            h += section("Host steal", "CPU time the host took from this machine per interval (all CPUs, 10 ms resolution), per policy: "
                         + "over \(Int(HostSteal.pausedIntervalMilliseconds)) ms the host paused the run, and every latency of that interval includes the pause.")
            h += chart(id: "steal", series: stolen, xMax: xMax, yLabel: "stolen ms", warmup: warm, events: [])
        }
        h += section("Throughput", "Completions per interval, per policy.")
        h += chart(id: "throughput", series: series { $0.opsPerSecond }, xMax: xMax, yLabel: "ops/s", warmup: warm, events: [])

        if !links.isEmpty {
            h += "<h2>Each run</h2>\n<ul>\n"
            for l in links { h += "<li><a href=\"\(esc(l.file))\">\(esc(l.label))</a></li>\n" }
            h += "</ul>\n"
        }
        h += "<p class=\"meta\">Generated by augur-load policies. Self-contained: inline SVG, no scripts.</p>\n</body>\n</html>\n"
        return h
    }

    /// Line colour of a policy on the shared charts.
    static func policyClass(_ policy: PartitionPolicy?) -> String {
        switch policy {
        case .static: "s2"
        case .reactive: "s3"
        case .predictive: "s1"
        case nil: "s4"
        }
    }
}
