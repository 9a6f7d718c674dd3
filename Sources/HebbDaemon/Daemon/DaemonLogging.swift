import HebbCore
import Logging
import Synchronization

/// How `hebbd run` logs. Every line goes through swift-log's `StreamLogHandler` to stderr (journald adds
/// the time). The level comes from `daemon.log_level`, and a SIGHUP reload can change it while the daemon
/// runs.
///
/// swift-log copies a handler into every `Logger`, so a level set when the handler is made would stay
/// frozen in each logger for good. The handlers made by ``bootstrap(level:)`` read one process-wide level
/// instead, which is the "global log level override" that swift-log's `LogHandler.logLevel` documentation
/// allows. A logger whose `logLevel` is set in code keeps that level.
package enum DaemonLogging {
    private static let level = Mutex<Logger.Level>(.info)

    /// The level the bootstrapped handlers log at.
    package static var logLevel: Logger.Level {
        level.withLock { $0 }
    }

    /// Changes the level of every logger that has not set one of its own; returns the previous level.
    @discardableResult
    package static func setLogLevel(_ newLevel: Logger.Level) -> Logger.Level {
        level.withLock { current in
            defer { current = newLevel }
            return current
        }
    }

    /// Bootstraps swift-log for the process (at most once per process, as swift-log requires).
    package static func bootstrap(level: Logger.Level) {
        setLogLevel(level)
        LoggingSystem.bootstrap { label in Handler(stream: StreamLogHandler.standardError(label: label)) }
    }

    /// `StreamLogHandler` at the process-wide level, unless a level was set on this handler.
    struct Handler: LogHandler {
        var stream: StreamLogHandler
        var ownLevel: Logger.Level?

        init(stream: StreamLogHandler) {
            self.stream = stream
        }

        var logLevel: Logger.Level {
            get { ownLevel ?? DaemonLogging.logLevel }
            set { ownLevel = newValue }
        }

        var metadata: Logger.Metadata {
            get { stream.metadata }
            set { stream.metadata = newValue }
        }

        var metadataProvider: Logger.MetadataProvider? {
            get { stream.metadataProvider }
            set { stream.metadataProvider = newValue }
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { stream[metadataKey: key] }
            set { stream[metadataKey: key] = newValue }
        }

        func log(event: LogEvent) {
            stream.log(event: event)
        }
    }
}
