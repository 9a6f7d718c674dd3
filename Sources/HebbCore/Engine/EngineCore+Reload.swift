import HebbianRegression
import Logging

/// What a reload changed that the driver must carry out, because it touches things outside the core (the
/// process-wide log level, the checkpoint store, SUB sockets).
package struct ReloadEffects: Sendable, Equatable {
    /// The new `daemon.log_level`, when it changed.
    package var logLevel: Logger.Level?
    /// The new `daemon.checkpoint_keep`, when it changed.
    package var checkpointKeep: Int?
    /// Settings that changed but apply only after a restart, named as in the file.
    package var restartOnly: [String] = []
    /// Every model name after the reload: each SUB tap must be subscribed to them.
    package var modelNames: [String] = []
}

extension EngineCore {
    /// The models of `configuration` that a reload would add (not running now): the driver looks up their
    /// checkpoints, off the engine thread, before it calls ``reload(_:restoring:)``.
    package func modelsToAdd(by configuration: DaemonConfiguration) -> [ModelConfiguration] {
        configuration.models.filter { models[$0.name] == nil }
    }

    /// Applies a reloaded configuration: models that disappeared are removed (their final snapshots become
    /// due), new ones added (resumed from `snapshots`, by name, when the driver found a checkpoint), changed ones
    /// reconfigured; `publish.window`, `publish.heartbeat`, the pacing and the checkpoint schedule apply at once.
    /// Everything is checked first — each changed model by the same check as `set`
    /// (``ModelRegistry/reconfigureRefusal(_:to:)``), the whole set against `[limits]` — so an invalid
    /// configuration is rejected whole and the running one stays.
    package func reload(_ configuration: DaemonConfiguration, restoring snapshots: [String: ModelSnapshot] = [:]) -> Result<ReloadEffects, ReloadRejection> {
        let wanted = configuration.models
        // Dry run: every change must be acceptable before any is made.
        for model in wanted {
            if let runner = models[model.name] {
                if let why = models.reconfigureRefusal(runner, to: model) { return .failure(ReloadRejection(model: model.name, reason: why)) }
            } else {
                do { try model.validate() } catch { return .failure(ReloadRejection(model: model.name, reason: "\(error)")) }
            }
        }
        let wantedNames = Set(wanted.map(\.name))
        // The daemon after the reload — the file's models and those added at run time that stay — must fit [limits].
        let staying = models.ordered.filter { !configuredNames.contains($0.name) && !wantedNames.contains($0.name) }.map(\.configuration)
        if let limit = limitViolation(after: wanted + staying) {
            return .failure(ReloadRejection(model: "*", reason: limit.description))
        }
        // Models that left the file go; models added at run time (`add`) and never in a file stay.
        for name in modelNames where configuredNames.contains(name) && !wantedNames.contains(name) { removeModel(name) }
        configuredNames = wantedNames
        for model in wanted {
            do {
                if models[model.name] != nil { try reconfigureModel(model) } else { try addModel(model, restoring: snapshots[model.name]) }
            } catch {
                // Unreachable after the dry run; logged rather than trapping.
                logger.error("reload failed after validation", metadata: ["model": .wire(model.name), "error": .wire("\(error)")])
            }
        }
        settings.heartbeat = configuration.publish.heartbeat
        settings.window = configuration.publish.window
        settings.pacing = PublishPacing(configuration.publish)
        publisher.heartbeat = settings.heartbeat
        publisher.pacing = settings.pacing
        for runner in models.ordered {
            runner.setWindowSize(settings.window)
            runner.publishes(settings.pacing)
        }
        schedule.configure(interval: configuration.daemon.checkpointInterval, every: configuration.daemon.checkpointEvery)
        var effects = ReloadEffects(modelNames: modelNames)
        if let live = liveConfiguration {
            if configuration.daemon.logLevel != live.daemon.logLevel { effects.logLevel = configuration.daemon.logLevel }
            if configuration.daemon.checkpointKeep != live.daemon.checkpointKeep { effects.checkpointKeep = configuration.daemon.checkpointKeep }
        }
        if let start = startConfiguration { effects.restartOnly = configuration.restartOnlyChanges(from: start) }
        liveConfiguration = configuration
        publisher.publishEvent(model: "*", event: "reloaded")
        return .success(effects)
    }
}

/// Why a reload was refused (the running configuration stays).
package struct ReloadRejection: Error, Equatable, CustomStringConvertible {
    /// The model whose new table cannot be applied.
    package var model: String
    /// Why.
    package var reason: String
    package var description: String { "model \"\(model)\": \(reason)" }
}
