// The engine's copy-cost model: `ReshardCostModel` (AugurPlanner) for this store's data mode,
// refined with every committed reshard's measured copy and run times. The controller plans
// with it (`CapacityModel.reshardCost`), index-build reshaping too.
//
// Thread-safety: the model sits in `ReshardExecutor.cost`, a `Mutex`; the reshard queue writes
// it after each commit, planners read a copy.
import AugurPlanner

extension Engine {
    /// The copy-cost model as refined by the reshards so far: its data mode is
    /// `EngineOptions.reshardData`.
    public var reshardCostModel: ReshardCostModel { reshards.cost.withLock { $0 } }
}

extension ReshardExecutor {

    /// Feeds a committed reshard into the model: bytes copied, copy time, and the run's time.
    func refineReshardCost(_ status: ReshardStatus) {
        let measured = MeasuredReshard(copiedBytes: UInt64(status.bytesCopied), copySeconds: Double(status.copyNanos) / 1e9,
                                       totalSeconds: Double(status.runNanos) / 1e9)
        cost.withLock { model in
            // Both times come from one clock, the copy inside the run: a refusal here would be
            // a clock that goes backwards, and then the model keeps what it had.
            if let next = try? model.refined(by: measured) { model = next }
        }
    }
}
