import HebbCore
import Foundation
import HebbianRegression
import Logging
import ServiceLifecycle
import UnixSignals

/// Why the daemon refused to start.
package enum LaunchError: Error, CustomStringConvertible {
    /// A model's learned state can neither be resumed nor discarded implicitly: its checkpoint differs from the
    /// config in kind, shape, optimiser or prior, or cannot be read for a reason other than corruption.
    case refused(ResumeRefusal)
    /// The run-time state file (models added, removed or set at run time) cannot be read or stored.
    case runtimeState(RuntimeStateError)
    /// The engine could not start.
    case engine(EngineError)

    package var description: String {
        switch self {
        case let .refused(refusal): return refusal.description
        case let .runtimeState(error):
            return "\(error); fix the cause, or start with --reset-runtime to discard the run-time changes (the file is kept aside)"
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
        /// `--reset-runtime`: discard every run-time change (the state file is set aside, not deleted).
        package var resetRuntime = false
        package var environment: [String: String] = ProcessInfo.processInfo.environment

        package init(configPath: String) { self.configPath = configPath }
    }

    /// Pairs each configured model with the checkpoint it resumes from (see ``CheckpointStore/resumable(_:resetRequested:unwritten:logger:)``).
    package static func loadModels(_ configuration: DaemonConfiguration, store: CheckpointStore, resetModels: Set<String>,
                                   logger: Logger) throws(LaunchError) -> [(ModelConfiguration, ModelSnapshot?)] {
        var result: [(ModelConfiguration, ModelSnapshot?)] = []
        for model in configuration.models {
            do {
                result.append((model, try store.resumable(model, resetRequested: resetModels.contains(model.name), logger: logger)))
            } catch {
                throw .refused(error)
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
        let keepsIngestBuffers = IngestBufferMemory.apply()
        logger.debug("allocator policy", metadata: ["keeps_freed_ingest_buffers": "\(keepsIngestBuffers)"])
        let fileConfiguration = try DaemonConfiguration.load(path: options.configPath)
        let stateDirectory = fileConfiguration.daemon.effectiveStateDirectory(environment: options.environment)
        let store = CheckpointStore(directory: stateDirectory, keep: fileConfiguration.daemon.checkpointKeep)
        let notifier = SystemdNotifier(environment: options.environment)
        let configuration: DaemonConfiguration
        let runtimeState: RuntimeStateKeeper
        let models: [(ModelConfiguration, ModelSnapshot?)]
        do {
            do throws(RuntimeStateError) {
                // The config file with what was added, removed and set at run time before the restart.
                (configuration, runtimeState) = try RuntimeStateKeeper.start(
                    file: fileConfiguration, store: RuntimeStateStore(directory: stateDirectory), resetRuntime: options.resetRuntime,
                    resetModels: options.resetModels, now: Int(Timestamp.now()), logger: logger)
            } catch {
                throw LaunchError.runtimeState(error)
            }
            models = try loadModels(configuration, store: store, resetModels: options.resetModels, logger: logger)
        } catch {
            // `systemctl status` shows why the unit keeps failing: the model, the file and the cause.
            notifier.status("refused to start: \(error)")
            throw error
        }
        let writer = CheckpointWriter(store: store)
        let metrics = DaemonMetrics()
        let observer = DaemonObserver(notifier: notifier, chained: [metrics])
        // Bind the metrics port before anything is announced, so a taken port fails the start cleanly.
        let metricsServer = try configuration.endpoints.metrics.map {
            try MetricsServer(address: $0, metrics: metrics, health: observer, logger: logger)
        }
        let engine: Engine
        do {
            engine = try Engine(configuration: configuration, models: models, resetModels: options.resetModels,
                                checkpointer: writer, observer: observer,
                                metrics: metrics, runtimeState: runtimeState, logger: logger)
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
