import AugurLoadCLI
import Dispatch
import Foundation

/// A failed call into a peer engine's C library.
struct PeerError: Error, CustomStringConvertible {
    let engine: String
    let call: String
    let message: String
    var description: String { "\(engine): \(call) failed: \(message)" }
}

/// Calls `body` every `milliseconds` on a background queue until cancelled (periodic sync).
final class PeriodicTimer: @unchecked Sendable {
    private let timer: DispatchSourceTimer
    init(milliseconds: Int, _ body: @escaping @Sendable () -> Void) {
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "peer.periodic-sync"))
        timer.schedule(deadline: .now() + .milliseconds(milliseconds), repeating: .milliseconds(milliseconds))
        timer.setEventHandler(handler: body)
        timer.resume()
    }
    func cancel() { timer.cancel() }
}
