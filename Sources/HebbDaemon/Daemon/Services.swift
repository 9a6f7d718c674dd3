import HebbCore
import Logging
import ServiceLifecycle
import UnixSignals

/// Runs the engine inside a `ServiceGroup`: returns when the engine loop ends; a graceful shutdown
/// (SIGTERM/SIGINT) asks the engine to stop, which writes final checkpoints first.
package struct EngineService: Service, CustomStringConvertible {
    let engine: Engine
    let notifier: SystemdNotifier

    /// What systemd is asked for when a stop begins (`EXTEND_TIMEOUT_USEC`, with `STOPPING=1`): the engine's
    /// wait for the final checkpoints (``Engine/finalCheckpointTimeout``) plus 15 s for the rest of the
    /// shutdown, so a large final checkpoint is not SIGKILLed by a shorter `TimeoutStopSec=`.
    package static let stopAllowance = Engine.finalCheckpointTimeout + .seconds(15)

    package init(engine: Engine, notifier: SystemdNotifier) {
        self.engine = engine
        self.notifier = notifier
    }

    package func run() async throws {
        await withGracefulShutdownHandler {
            await engine.waitUntilStopped()
        } onGracefulShutdown: {
            _ = notifier.stopping(extendingTimeoutBy: Self.stopAllowance)
            engine.send(.stop)
        }
        if let failure = engine.failure { throw EngineError.failed(failure) }
    }

    package var description: String { "EngineService" }
}

/// SIGHUP → re-read the config file; a valid one is applied live by the engine, an invalid one is
/// logged and the running configuration stays.
package struct ReloadService: Service, CustomStringConvertible {
    let configPath: String
    let engine: Engine
    let notifier: SystemdNotifier
    let observer: DaemonObserver
    let logger: Logger

    package init(configPath: String, engine: Engine, notifier: SystemdNotifier, observer: DaemonObserver, logger: Logger) {
        self.configPath = configPath
        self.engine = engine
        self.notifier = notifier
        self.observer = observer
        self.logger = logger
    }

    package func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        // Launcher.run trapped SIGTERM/SIGINT before the engine started, and SIGHUP is trapped
        // now: only from here on may systemd be told READY=1.
        observer.signalsTrapped()
        for await _ in hangups.cancelOnGracefulShutdown() {
            _ = notifier.reloading()
            // The file is read on the engine's file thread, not here: no blocking read in async code.
            let (configPath, engine, notifier, logger) = (configPath, engine, notifier, logger)
            engine.readConfiguration(at: configPath) { result in
                switch result {
                case let .success(configuration):
                    logger.info("SIGHUP: reloading", metadata: ["config.path": "\(configPath)"])
                    engine.send(.reload(configuration))
                    // READY=1 follows once the engine has applied (or refused) it: see DaemonObserver.
                case let .failure(error):
                    logger.error("SIGHUP: config rejected, keeping the running one", metadata: ["config.path": "\(configPath)", "error": .wire("\(error)", limit: 1000)])
                    _ = notifier.ready()
                }
            }
        }
    }

    package var description: String { "ReloadService" }
}
