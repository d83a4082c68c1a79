import ArgumentParser
import AugurPlanner
import AugurSimulation
import AugurSys
import Foundation

/// `augur simulate --from-run FILE.json`: reads augur-load runs, replays each under its own
/// policy (``EngineReplay``) and prints predicted against measured partitions and bytes moved.
///
/// Thread-safety: part of the command value, run once on the main thread.
extension SimulateCommand {
    /// Largest run file read. Unit: bytes (256 MiB: a day of 1 s samples is a few hundred MiB
    /// less than that).
    static let maxRunFileBytes = 256 << 20

    /// The runs of an augur-load --json file (one run object or an array of them).
    static func readRuns(_ path: String) throws(EngineRunError) -> [EngineRun] {
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if attributes[.type] as? FileAttributeType == .typeDirectory { throw EngineRunError.unreadable(path: path, reason: "it is a directory") }
            if let size = attributes[.size] as? Int, size > maxRunFileBytes {
                throw EngineRunError.unreadable(path: path, reason: "\(size) bytes, more than the \(maxRunFileBytes >> 20) MiB a run file may hold")
            }
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let e as EngineRunError {
            throw e
        } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        let decoder = JSONDecoder()
        // augur-load writes non-finite numbers as strings; decoded back, validation names them.
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let file: EngineRunFile
        do {
            file = try decoder.decode(EngineRunFile.self, from: data)
        } catch let e as DecodingError {
            throw .malformed(path: path, reason: describe(e))
        } catch {
            throw .malformed(path: path, reason: "\(error)")
        }
        guard !file.runs.isEmpty else { throw .noRuns(path: path) }
        return file.runs
    }

    /// A decoding error as `at series[3].opsPerSecond: expected a number`.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var s = ""
            for k in keys {
                if let i = k.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
            }
            return s.isEmpty ? "the top level" : s
        }
        switch error {
        case let .typeMismatch(type, c): return "at \(path(c.codingPath)): expected \(type) (\(c.debugDescription))"
        case let .valueNotFound(type, c): return "at \(path(c.codingPath)): expected \(type), found null"
        case let .keyNotFound(key, c): return "at \(path(c.codingPath + [key])): missing"
        case let .dataCorrupted(c):
            let underlying = (c.underlyingError as NSError?)?.localizedDescription
            return "at \(path(c.codingPath)): \(c.debugDescription)" + (underlying.map { " (\($0))" } ?? "")
        @unknown default: return "\(error)"
        }
    }

    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    static func mib(_ bytes: Double) -> String { String(format: "%.1f", bytes / 1_048_576) }

    func replay(_ path: String) throws {
        let runs = try Self.readRuns(path)
        let chosen = runs.enumerated().filter { policy == "all" || $0.element.policy == policy }
        guard !chosen.isEmpty else {
            throw EngineRunError.noRunWithPolicy(policy: policy, available: runs.compactMap(\.policy))
        }
        let measuredRates = runs.compactMap { $0.partitions?.copyBytesPerSecond }.filter { $0.isFinite && $0 > 0 }
        let sibling = measuredRates.isEmpty ? nil : measuredRates.reduce(0, +) / Double(measuredRates.count)
        let overrides = EngineReplay.Overrides(capacity: capacity, copyBytesPerSecond: copyMibPerSecond.map { $0 * 1_048_576 },
                                               sampleNoise: sampleNoise, seed: seed)
        var replays: [EngineReplay] = []
        for (i, run) in chosen {
            replays.append(try EngineReplay(run: run, index: i + 1, overrides: overrides, siblingCopyBytesPerSecond: sibling))
        }
        var predictions: [EngineRunPrediction] = []
        var traceLines: [String] = []
        for r in replays {
            let p = r.predict(recordingActions: trace != nil)
            predictions.append(p)
            traceLines += p.actions.map { "\(r.label) \($0)" }
        }
        if let trace {
            do {
                try OutputFile.write(traceLines.joined(separator: "\n") + "\n", to: trace, inputs: [path])
            } catch {
                throw CommandFailure("cannot write --trace '\(trace)': \(error)")
            }
        }
        if json {
            struct Output: Encodable {
                var fromRun: String
                var seed: UInt64
                var tolerance: Double
                var predictions: [EngineRunPrediction]
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            let out = Output(fromRun: path, seed: seed, tolerance: EngineRunPrediction.tolerance, predictions: predictions)
            print(String(decoding: try encoder.encode(out), as: UTF8.self))
            return
        }
        print("replaying \(predictions.count) run\(predictions.count == 1 ? "" : "s") of \(path); seed \(seed)")
        for (r, p) in zip(replays, predictions) {
            let o = r.options
            print("\(r.label): \(r.rows.count) intervals × \(FlagLimits.show(o.secondsPerRow)) s, capacity \(String(format: "%.0f", p.capacity)) ops/s, copy \(Self.mib(p.copyBytesPerSecond)) MiB/s, data \(Self.mib(Double(o.totalDataBytes))) MiB; \(Self.count(p.metrics.splits, "split")), \(Self.count(p.metrics.merges, "merge")), \(Self.count(p.metrics.moves, "move")) predicted")
            for n in p.notes { print("  note: \(n)") }
        }
        for line in EngineRunPrediction.table(predictions) { print(line) }
    }
}
