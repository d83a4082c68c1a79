@testable import AugurWorkload
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import AugurTestSupport

/// Parses a document with Foundation's XMLParser, collecting elements and their attributes.
final class ElementCollector: NSObject, XMLParserDelegate {
    struct Element { var name: String; var attributes: [String: String]; var svgIndex: Int? }
    var elements: [Element] = []
    var svgCount = 0
    var depthInSVG = 0
    var error: String?
    var texts: [String] = []

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if name == "svg" { svgCount += 1; depthInSVG += 1 }
        elements.append(Element(name: name, attributes: attributes, svgIndex: depthInSVG > 0 ? svgCount - 1 : nil))
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "svg" { depthInSVG -= 1 }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { texts.append(string) }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
        error = "line \(parser.lineNumber) column \(parser.columnNumber): \(parseError)"
    }

    static func parse(_ text: String) -> ElementCollector {
        let c = ElementCollector()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = c
        if !parser.parse(), c.error == nil { c.error = parser.parserError.map { "\($0)" } ?? "parse failed" }
        return c
    }
}

@Suite("HTML report")
struct ReportTests {
    func sampleResult(forecast: Bool, seed: UInt64) throws -> RunResult {
        let spec = try WorkloadSpec.preset("a", recordCount: 100)
        return try manualRun(spec, { c in
            c.profile = .diurnal(low: 100, high: 400, periodSeconds: 10)
            c.loop = .open
            c.warmupSeconds = 2
            c.stop = .duration(seconds: 10)
            c.seed = seed
        }, store: { s, _ in
            s.serviceNanoseconds = 5_000
            s.partitionsAt = { ns in ns < 4_000_000_000 ? 1 : 2 }
            if forecast { s.forecastAt = { ns in IntervalForecast(predicted: 250, lower: 150, upper: 350) } }
        }).0
    }

    func numbers(_ s: String?) -> [Double] { (s ?? "").split(separator: " ").compactMap { Double($0) } }

    @Test("the report is well-formed and its SVG holds the recorded series")
    func seriesInSVG() throws {
        let result = try sampleResult(forecast: true, seed: testSeed(41))
        let html = HTMLReport.render(result)
        let doc = ElementCollector.parse(html)
        #expect(doc.error == nil, "not well-formed: \(doc.error ?? "")")
        #expect(doc.elements.first?.name == "html")
        #expect(!html.contains("<script"), "no scripts")
        #expect(!html.contains("http://") || !html.replacingOccurrences(of: "http://www.w3.org/", with: "").contains("http://"), "no network references")
        let charts = doc.elements.filter { $0.name == "svg" }.compactMap { $0.attributes["data-chart"] }
        #expect(charts == ["throughput", "latency", "partitions", "forecast"])

        func series(_ chart: String, _ name: String) -> ElementCollector.Element? {
            let idx = doc.elements.filter { $0.name == "svg" }.firstIndex { $0.attributes["data-chart"] == chart }
            return doc.elements.first { $0.svgIndex == idx && $0.attributes["data-series"] == name }
        }
        let tp = try #require(series("throughput", "throughput"))
        #expect(numbers(tp.attributes["data-times"]) == result.series.map(\.seconds))
        let values = numbers(tp.attributes["data-values"])
        #expect(values.count == result.series.count)
        for (v, s) in zip(values, result.series) { #expect(abs(v - s.opsPerSecond) <= 1e-5 * Swift.max(1, s.opsPerSecond)) }
        // The polyline has one vertex per sample.
        #expect((tp.attributes["points"] ?? "").split(separator: " ").count == result.series.count)
        let target = try #require(series("throughput", "target"))
        #expect(numbers(target.attributes["data-values"]).count == result.series.count)
        let p99 = try #require(series("latency", "p99"))
        #expect(numbers(p99.attributes["data-values"]).count == result.series.compactMap(\.p99Microseconds).count)
        let parts = try #require(series("partitions", "partitions"))
        #expect(numbers(parts.attributes["data-values"]) == result.series.compactMap(\.partitions).map(Double.init))
        let band = try #require(series("forecast", "band"))
        #expect(numbers(band.attributes["data-upper"]).allSatisfy { $0 == 350 })
        #expect(numbers(band.attributes["data-lower"]).allSatisfy { $0 == 150 })
        #expect(series("forecast", "forecast") != nil && series("forecast", "actual") != nil)
        // Reshard events as markers (one split at 4 s), on every chart.
        let markers = doc.elements.filter { $0.name == "line" && $0.attributes["data-kind"] == "split" }
        #expect(markers.count == 4)
        #expect(markers.allSatisfy { numbers($0.attributes["data-seconds"]) == [result.events[0].seconds] })
        // The warm-up is shaded.
        #expect(doc.elements.contains { $0.name == "rect" && $0.attributes["class"] == "warmup" })
    }

    @Test("without forecast data the forecast chart is an empty placeholder with a note")
    func forecastPlaceholder() throws {
        let result = try sampleResult(forecast: false, seed: testSeed(42))
        let html = HTMLReport.render(result)
        let doc = ElementCollector.parse(html)
        #expect(doc.error == nil, "not well-formed: \(doc.error ?? "")")
        let svgs = doc.elements.filter { $0.name == "svg" }
        let fc = try #require(svgs.first { $0.attributes["data-chart"] == "forecast" })
        #expect(fc.attributes["data-empty"] == "true")
        let idx = svgs.firstIndex { $0.attributes["data-chart"] == "forecast" }
        #expect(!doc.elements.contains { $0.svgIndex == idx && $0.name == "polyline" })
        #expect(doc.texts.joined().contains("No forecast data"))
    }

    @Test("text is escaped")
    func escaping() throws {
        var result = try sampleResult(forecast: false, seed: testSeed(43))
        result.engine = "a<b>&\"c\""
        result.notes = ["x < y & z"]
        let doc = ElementCollector.parse(HTMLReport.render(result))
        #expect(doc.error == nil, "not well-formed: \(doc.error ?? "")")
        #expect(doc.texts.joined().contains("a<b>&\"c\""))
    }

    @Test("JSON results round-trip")
    func json() throws {
        let result = try sampleResult(forecast: true, seed: testSeed(44))
        let decoded = try JSONDecoder().decode(RunResult.self, from: Data(result.json().utf8))
        #expect(decoded == result)
        let table = result.table()
        #expect(table.contains("p99.9 µs") && table.contains("throughput"))
        #expect(table.contains("bytes moved"))
    }

    @Test("the final table names the last write stall's reason, only when the run had stalls")
    func lastWriteStall() throws {
        func table(stallsBefore: Int, after: Int) throws -> String {
            let spec = try WorkloadSpec.preset("a", recordCount: 100)
            return try manualRun(spec, { c in
                c.stop = .duration(seconds: 10)
                c.warmupSeconds = 1
            }, store: { s, _ in
                s.serviceNanoseconds = 5_000
                s.partitionsAt = { _ in 1 }
                s.stallsAt = { ns in ns < 5_000_000_000 ? (stallsBefore, "partition 3: before the run")
                                                        : (after, "partition 7: memtable 134217728 B ≥ writeStallMemtableBytes") }
            }).0.table()
        }
        let stalled = try table(stallsBefore: 1, after: 3)
        #expect(stalled.contains("write stalls                   2 (1.000 s waited)"), "\(stalled)")
        #expect(stalled.contains("last write stall               partition 7: memtable 134217728 B ≥ writeStallMemtableBytes"), "\(stalled)")
        #expect(stalled.contains("write slowdowns                20 (0.020 s slept)"), "\(stalled)")
        // A stall before the run (the load phase) is not the run's.
        let calm = try table(stallsBefore: 1, after: 1)
        #expect(calm.contains("write stalls                   0"), "\(calm)")
        #expect(!calm.contains("last write stall"), "\(calm)")
        #expect(calm.contains("write slowdowns                0 (0.000 s slept)"), "\(calm)")
    }

    @Test("the final table shows n/a where the engine reports nothing")
    func notAvailable() throws {
        let spec = try WorkloadSpec.preset("c", recordCount: 10)
        let clock = ManualClock()
        let store = MemoryStore()
        store.clock = clock
        store.serviceNanoseconds = 1000
        var config = RunConfiguration()
        config.stop = .operations(100)
        let result = try WorkloadRunner(store: store, spec: spec, config: config, clock: clock).run()
        let table = result.table()
        #expect(table.contains("splits / merges / moves        n/a / n/a / n/a"))
        #expect(table.contains("forecast error (MAPE)          n/a"))
        #expect(table.contains("forecast fallbacks             n/a"))
        let doc = ElementCollector.parse(HTMLReport.render(result))
        #expect(doc.error == nil)
        #expect(doc.elements.contains { $0.attributes["data-chart"] == "partitions" && $0.attributes["data-empty"] == "true" })
    }
}
