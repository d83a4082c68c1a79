// Whether the engine is closed, and the first error background work hit: the two facts every
// collaborator (flusher, reshard executor, index builder, timers) checks before and after its
// work, kept apart from the engine so that they depend on this, not on the engine.
//
// Threading: any thread. The flag is an atomic (set once by `close`); the error a mutex.
import Logging
import Synchronization

final class EngineLifecycle: Sendable {
    private let closed = Atomic<Bool>(false)
    private let firstError = Mutex<AugurError?>(nil)
    private let metrics: EngineMetrics
    /// `augur.engine`: the first background error is logged here, and the flushes and merges
    /// at `debug` (Flusher.swift).
    let logger: Logger

    init(metrics: EngineMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Marks the engine closed; false when it already was (close is idempotent).
    func close() -> Bool { !closed.exchange(true, ordering: .acquiringAndReleasing) }

    /// Keeps the first error for `takeError`; counts every one, logs the one kept.
    func record(_ error: AugurError) {
        metrics.backgroundErrorRecorded()
        let first = firstError.withLock { e in
            if e != nil { return false }
            e = error
            return true
        }
        if first { logger.error("background work failed: \(error)") }
    }

    /// The error kept since the last call, cleared.
    func takeError() -> AugurError? { firstError.withLock { e in defer { e = nil }; return e } }

    /// Whether an error awaits `takeError`.
    var errorPending: Bool { firstError.withLock { $0 != nil } }
}
