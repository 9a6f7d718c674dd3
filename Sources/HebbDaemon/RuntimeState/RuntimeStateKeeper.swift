import HebbCore
import Logging
import Synchronization

/// The running daemon's run-time state: the config file last read, the ``RuntimeState`` merged with it, and the file
/// that keeps it (``RuntimeStateStore``). The engine tells it about every successful `add`, `set` and `remove` and
/// hands it every reloaded config file; it stores the new state before the engine answers, so an acknowledged change
/// survives a crash.
///
/// The rule (which value wins) is HebbCore's ``RuntimeState/reconcile(file:)``; this type does the file I/O and the
/// logging around it.
package final class RuntimeStateKeeper: Sendable {
    private struct Current: Sendable {
        var file: DaemonConfiguration
        var state: RuntimeState
        /// The reload being applied: its file and reconcile, stored by ``commitReload()`` once the engine accepted it.
        var pendingReload: (file: DaemonConfiguration, result: RuntimeReconciliation)?
    }

    /// Where the state is stored.
    package let store: RuntimeStateStore
    private let current: Mutex<Current>
    private let logger: Logger

    /// A keeper of `state` (already reconciled with `file`), stored in `store`.
    package init(file: DaemonConfiguration, state: RuntimeState, store: RuntimeStateStore, logger: Logger) {
        self.store = store
        self.current = Mutex(Current(file: file, state: state))
        self.logger = logger
    }

    /// The run-time state now.
    package var state: RuntimeState { current.withLock { $0.state } }

    /// Loads the stored state, applies `hebbd run --reset-runtime` / `--reset-model`, reconciles it with the config
    /// file (logging every decision), stores the result and returns the configuration to run: the file's, with the
    /// models and values the run-time state keeps.
    package static func start(file: DaemonConfiguration, store: RuntimeStateStore, resetRuntime: Bool, resetModels: Set<String>,
                              now: Int, logger: Logger) throws(RuntimeStateError) -> (DaemonConfiguration, RuntimeStateKeeper) {
        if resetRuntime, let discarded = try store.discard(now: now) {
            logger.notice("run-time changes discarded (--reset-runtime)", metadata: ["runtime_state.path": "\(discarded)"])
        }
        var state = try store.load()
        for name in resetModels.sorted() where state[name] != nil {
            state.forget(name)
            logger.notice("run-time changes of the model discarded (--reset-model)", metadata: ["model": .wire(name)])
        }
        let keeper = RuntimeStateKeeper(file: file, state: state, store: store, logger: logger)
        return (try keeper.apply(file, stored: state), keeper)
    }

    /// A reloaded config file (SIGHUP): the same rule as at start. Returns the configuration for the engine to apply;
    /// the state is stored once the engine has accepted it (``commitReload()``).
    package func reconcile(_ file: DaemonConfiguration) -> DaemonConfiguration {
        let (merged, result) = merge(file)
        current.withLock { $0.pendingReload = (file, result) }
        return merged
    }

    /// Records the reload ``reconcile(_:)`` prepared, now applied: logs its decisions and stores the reconciled state.
    package func commitReload() {
        guard let pending = current.withLock({ c -> (file: DaemonConfiguration, result: RuntimeReconciliation)? in
            defer { c.pendingReload = nil }
            return c.pendingReload
        }) else { return }
        log(pending.result.decisions)
        current.withLock { $0 = Current(file: pending.file, state: pending.result.state) }
        persist(pending.result.state)
    }

    private func merge(_ file: DaemonConfiguration) -> (DaemonConfiguration, RuntimeReconciliation) {
        let state = current.withLock { $0.state }
        let result = state.reconcile(file: file.models)
        var merged = file
        merged.models = result.models
        return (merged, result)
    }

    /// `add` or `set` left `model` running so.
    package func recordRunning(_ model: ModelConfiguration) {
        let state = current.withLock { c -> RuntimeState in
            c.state.recordRunning(model, fileModel: c.file.models.first { $0.name == model.name })
            return c.state
        }
        persist(state)
    }

    /// `remove` took the model `name` away.
    package func recordRemoved(_ name: String) {
        let state = current.withLock { c -> RuntimeState in
            c.state.recordRemoved(name, fileModel: c.file.models.first { $0.name == name })
            return c.state
        }
        persist(state)
    }

    /// Where each value of `model` came from (`config` or `runtime`), for the `models` command.
    package func sources(of model: ModelConfiguration) -> [String: ValueSource] {
        current.withLock { $0.state.sources(of: model) }
    }

    private func apply(_ file: DaemonConfiguration, stored: RuntimeState) throws(RuntimeStateError) -> DaemonConfiguration {
        let (merged, result) = merge(file)
        log(result.decisions)
        current.withLock { $0.state = result.state }
        if result.state != stored { try store.save(result.state) }
        return merged
    }

    private func persist(_ state: RuntimeState) {
        do throws(RuntimeStateError) { try store.save(state) } catch {
            // The change is live but would not survive a restart: loud, and retried with the next change.
            logger.error("run-time state not stored; this change may not survive a restart",
                         metadata: ["runtime_state.path": "\(store.path)", "error": .wire("\(error)", limit: 1000)])
        }
    }

    private func log(_ decisions: [RuntimeDecision]) {
        for d in decisions {
            var metadata: Logger.Metadata = ["model": .wire(d.model), "decision": .string(d.outcome.rawValue),
                                             "winner": .string(d.winner.rawValue), "reason": .wire(d.reason, limit: 1000)]
            if let key = d.key { metadata["key"] = .string(key) }
            if let value = d.value { metadata["value"] = .wire(value, limit: 1000) }
            if let overridden = d.overridden { metadata["overridden"] = .wire(overridden, limit: 1000) }
            logger.notice("run-time state decision", metadata: metadata)
        }
    }
}
