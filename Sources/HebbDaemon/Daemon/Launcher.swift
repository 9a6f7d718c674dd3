import HebbCore
import Foundation
import HebbianRegression
import Logging
import ServiceLifecycle
import UnixSignals

/// Why the daemon refused to start.
package enum LaunchError: Error, CustomStringConvertible {
    /// A checkpoint's model differs from the config in kind, shape, optimiser or prior.
    case incompatibleCheckpoint(ResumeRefusal)
    /// The engine could not start.
    case engine(EngineError)

    package var description: String {
        switch self {
        case let .incompatibleCheckpoint(refusal): return refusal.description
        case let .engine(e): return e.description
        }
    }
}

/// `hebbd run`: loads checkpoints, starts the engine and runs the service group until SIGTERM/SIGINT.
package enum Launcher {
    /// Options of `hebbd run` beyond the config.
    package struct Options: Sendable {
        package var configPath: String
        package var resetModels: Set<String> = []
        package var environment: [String: String] = ProcessInfo.processInfo.environment

        package init(configPath: String) { self.configPath = configPath }
    }

    /// Pairs each configured model with the checkpoint it resumes from (see ``CheckpointStore/resumable(_:resetRequested:strict:logger:)``).
    package static func loadModels(_ configuration: DaemonConfiguration, store: CheckpointStore, resetModels: Set<String>,
                                   logger: Logger) throws(LaunchError) -> [(ModelConfiguration, ModelSnapshot?)] {
        var result: [(ModelConfiguration, ModelSnapshot?)] = []
        for model in configuration.models {
            do {
                result.append((model, try store.resumable(model, resetRequested: resetModels.contains(model.name), strict: true, logger: logger)))
            } catch {
                throw .incompatibleCheckpoint(error)
            }
        }
        return result
    }

    /// Runs the daemon until it is told to stop. Logging must already be bootstrapped.
    package static func run(_ options: Options, logger: Logger) async throws {
        // SIGTERM/SIGINT are trapped first, before anything is loaded or bound: a stop sent as soon as the control
        // socket answers (or during a long journal replay) is a graceful stop with final checkpoints, never the
        // default action (exit by signal 15). The service group is told once it exists; a request that comes before
        // it runs is remembered and carried out when it starts (ServiceGroup.triggerGracefulShutdown).
        let stopSignals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let configuration = try DaemonConfiguration.load(path: options.configPath)
        let stateDirectory = configuration.daemon.effectiveStateDirectory(environment: options.environment)
        let store = CheckpointStore(directory: stateDirectory, keep: configuration.daemon.checkpointKeep)
        let models = try loadModels(configuration, store: store, resetModels: options.resetModels, logger: logger)
        let writer = CheckpointWriter(store: store)
        let notifier = SystemdNotifier(environment: options.environment)
        let metrics = DaemonMetrics()
        let observer = DaemonObserver(notifier: notifier, chained: [metrics])
        // Bind the metrics port before anything is announced, so a taken port fails the start cleanly.
        let metricsServer = try configuration.endpoints.metrics.map {
            try MetricsServer(address: $0, metrics: metrics, health: observer, logger: logger)
        }
        let engine: Engine
        do {
            engine = try Engine(configuration: configuration, models: models, checkpointer: writer, observer: observer,
                                metrics: metrics, logger: logger)
            try engine.start()
        } catch let e as EngineError {
            throw LaunchError.engine(e)
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: EngineService(engine: engine, notifier: notifier), successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: ReloadService(configPath: options.configPath, engine: engine, notifier: notifier, observer: observer, logger: logger)),
        ]
        if let metricsServer { services.append(.init(service: metricsServer)) }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        let stopForwarder = Task {
            for await signal in stopSignals {
                logger.notice("stop signal received", metadata: ["signal": "\(signal)"])
                await group.triggerGracefulShutdown()
            }
        }
        defer { stopForwarder.cancel() }
        try await group.run()
        writer.stop()
        logger.info("hebbd stopped")
    }
}
