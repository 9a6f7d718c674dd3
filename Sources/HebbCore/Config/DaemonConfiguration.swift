#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HebbianRegression
import Logging

/// The daemon's whole configuration, as read from its TOML file (every key documented in Configs/hebbd.toml).
///
/// Every property has the documented default, so `DaemonConfiguration()` is a working loopback setup
/// without models, and tests can start from it and change what they need. Values are validated when
/// parsed; a value built in code is trusted.
package struct DaemonConfiguration: Sendable, Equatable {
    /// `[daemon]`: process-wide settings.
    package struct Daemon: Sendable, Equatable {
        /// `state_dir`: where checkpoints live. systemd's `$STATE_DIRECTORY` wins (see ``effectiveStateDirectory(environment:)``).
        package var stateDirectory = "/var/lib/hebbd"
        /// `checkpoint_interval`: seconds between time-based checkpoints; 0 disables them.
        package var checkpointInterval: Double = 30
        /// `checkpoint_every`: also checkpoint a model after this many updates; 0 disables it.
        package var checkpointEvery = 0
        /// `checkpoint_keep`: checkpoints kept per model (older ones are deleted), at least 1.
        package var checkpointKeep = 5
        /// `log_level`: trace, debug, info, notice, warning, error or critical (swift-log's levels).
        package var logLevel: Logger.Level = .info
        /// `blas_threads`: threads for one update's matrix products (the fused kernels' and OpenBLAS's). By default the
        /// CPUs the process may use, at most 4 (``BLASThreads/automatic``): only a product of ~1 ms of one core's work
        /// or more is split (a 4096×64 model by 1024 rows: 1.27× end to end on 2 cores), so small models stay on the
        /// engine thread. 1 keeps every product there. Applies at start.
        package var blasThreads = BLASThreads.automatic

        /// The defaults.
        package init() {}

        static let keys = ["state_dir", "checkpoint_interval", "checkpoint_every", "checkpoint_keep", "log_level", "blas_threads"]

        init(_ r: TableReader) throws(ConfigError) {
            stateDirectory = try r.string("state_dir", default: stateDirectory)
            checkpointInterval = try r.duration("checkpoint_interval", default: checkpointInterval)
            checkpointEvery = try r.integer("checkpoint_every", default: checkpointEvery, in: 0...Int64.max)
            checkpointKeep = try r.integer("checkpoint_keep", default: checkpointKeep, in: 1...Int64.max)
            logLevel = try r.choice("log_level", default: logLevel)
            blasThreads = try r.integer("blas_threads", default: blasThreads, in: 1...1024)
        }

        /// The state directory to use: the first entry of systemd's `$STATE_DIRECTORY` (set by
        /// `StateDirectory=` in the unit, colon-separated when several) when present, else `state_dir`.
        package func effectiveStateDirectory(environment: [String: String]) -> String {
            environment["STATE_DIRECTORY"]?.split(separator: ":").first.map(String.init) ?? stateDirectory
        }
    }

    /// `[endpoints]`: where the daemon listens.
    package struct Endpoints: Sendable, Equatable {
        /// `ingest`: the PULL socket the daemon binds for samples.
        package var ingest = "tcp://127.0.0.1:5555"
        /// `publish`: the XPUB socket the daemon binds for coefficients.
        package var publish = "tcp://127.0.0.1:5556"
        /// `control`: the REP socket the daemon binds for control commands.
        package var control = "tcp://127.0.0.1:5557"
        /// `reliable`: the ROUTER socket the daemon binds for acknowledged ingest (docs/PROTOCOL.md, "Reliable ingest");
        /// `""` (the default) does not open it. Needs `[journal] enabled` (a config error otherwise).
        package var reliable = ""
        /// `subscribe`: PUB streams the daemon connects SUB sockets to (lossy tap), none by default.
        package var subscribe: [String] = []
        /// `metrics`: `host:port` of the Prometheus `/metrics` HTTP endpoint; nil (`metrics = ""`) disables it.
        package var metrics: String? = "127.0.0.1:9464"

        /// The defaults.
        package init() {}

        static let keys = ["ingest", "publish", "control", "reliable", "subscribe", "metrics"]

        init(_ r: TableReader) throws(ConfigError) {
            let zmq = TableReader.isZeroMQEndpoint, expected = TableReader.endpointExpected
            func endpoint(_ key: String, _ fallback: String) throws(ConfigError) -> String {
                try r.read(key, fallback, expected, { if case let .string(s) = $0 { s } else { nil } }, check: zmq)
            }
            ingest = try endpoint("ingest", ingest)
            publish = try endpoint("publish", publish)
            control = try endpoint("control", control)
            reliable = try r.read("reliable", reliable, expected + ", or \"\" for none", { if case let .string(s) = $0 { s } else { nil } },
                                  check: { $0.isEmpty || zmq($0) })
            subscribe = try r.strings("subscribe", default: subscribe, check: zmq,
                                   expected: "an array of ZeroMQ endpoints (tcp://host:port, ipc://path or inproc://name)")
            let address = try r.read("metrics", metrics ?? "", "host:port, or \"\" to disable metrics",
                                     { if case let .string(s) = $0 { s } else { nil } },
                                     check: { $0.isEmpty || TableReader.isHostPort($0, wildcardPort: false) })
            metrics = address.isEmpty ? nil : address
        }
    }

    /// `[publish]`: how coefficients are published.
    package struct Publish: Sendable, Equatable {
        /// The encoding of published coefficient messages.
        package enum Format: String, Sendable, Equatable, CaseIterable, Codable {
            /// Coefficients inside the JSON message (`"coefficients": [[…]]`).
            case json
            /// The JSON without `coefficients`, followed by a frame of float32 little-endian, row-major (no text formatting cost).
            case binary
        }
        /// `format`: json or binary.
        package var format = Format.json
        /// `window`: number of updates in the rolling prequential error.
        package var window = 100
        /// `heartbeat`: seconds between `hb/` heartbeats when idle; 0 disables them.
        package var heartbeat: Double = 5
        /// `hwm`: ZMQ_SNDHWM of the publish socket (0 = unlimited, as in ZeroMQ).
        package var highWaterMark = 10_000
        /// `every`: publish a model's coefficients after every Nth update only (1: after each).
        package var every = 1
        /// `max_rate`: at most this many coefficient messages per second per model, the latest state winning
        /// (0: no limit).
        package var maxRate: Double = 0

        /// The defaults.
        package init() {}

        static let keys = ["format", "window", "heartbeat", "hwm", "every", "max_rate"]

        init(_ r: TableReader) throws(ConfigError) {
            format = try r.choice("format", default: format)
            window = try r.integer("window", default: window, in: 1...Int64.max)
            heartbeat = try r.duration("heartbeat", default: heartbeat)
            highWaterMark = try r.integer("hwm", default: highWaterMark, in: 0...Int64(Int32.max))
            every = try r.integer("every", default: every, in: 1...Int64(Int32.max))
            maxRate = try r.number("max_rate", default: maxRate, expected: "a number ≥ 0 (messages per second; 0: no limit)",
                                   check: { $0 >= 0 && $0.isFinite })
        }
    }

    /// `[limits]`: bounds on what a producer may send.
    package struct Limits: Sendable, Equatable {
        /// `max_message_bytes`: largest message accepted; also set as ZMQ_MAXMSGSIZE so libzmq drops bigger ones.
        package var maxMessageBytes = 67_108_864
        /// `max_rows_per_message`: most sample rows one message may carry.
        package var maxRowsPerMessage = 1_000_000
        /// `max_inline_bytes`: largest JSON frame — an inline sample message's header, a control request — parsed.
        /// JSON is parsed into a tree that briefly takes several times its size, so it has its own, small bound;
        /// large sample blocks go as binary frames (bounded by `max_message_bytes`).
        package var maxInlineBytes = 1 << 20
        /// `max_reply_bytes`: largest control reply (a `snapshot` of a big model, `predict` on many rows), estimated
        /// before it is built; a bigger one is refused with an error that names this limit.
        package var maxReplyBytes = 16 << 20
        /// `ingest_hwm`: receive high-water mark of the ingest socket (and of each SUB tap), in messages per
        /// connection: how much a bursting producer may queue before PUSH blocks it. At most
        /// ingest_hwm × max_message_bytes bytes are queued per producer connection.
        package var ingestHighWaterMark = 1000
        /// `max_ingest_bytes`: when set (> 0), a bound in bytes on what one producer connection may queue: the
        /// ingest HWM becomes the smaller of `ingest_hwm` and `max_ingest_bytes / max_message_bytes` (at least 1),
        /// since libzmq counts its queue in messages. 0 (the default): `ingest_hwm` alone.
        package var maxIngestBytes = 0
        /// The receive HWM the ingest socket and the SUB taps get: `ingest_hwm`, lowered by `max_ingest_bytes`.
        package var effectiveIngestHighWaterMark: Int {
            guard maxIngestBytes > 0 else { return ingestHighWaterMark }
            return min(ingestHighWaterMark, max(1, maxIngestBytes / maxMessageBytes))
        }
        /// `max_models`: most models one daemon holds.
        package var maxModels = 1000
        /// `max_memory_bytes`: the daemon's total for models (weights, optimiser state, scratch), batch buffers and
        /// the last-value cache, as estimated by ``ModelFootprint``. Default: half the machine's memory.
        package var maxMemoryBytes = MachineMemory.defaultBudget
        /// `max_model_weights`: most coefficients (dict_dim × sys_dim) in one model. Default: as many as
        /// the default memory budget holds for one Adam model.
        package var maxModelWeights = MachineMemory.defaultBudget / ModelFootprint.bytesPerWeight(adam: true, fittedPrior: false)

        /// The defaults.
        package init() {}

        static let keys = ["max_message_bytes", "max_rows_per_message", "max_inline_bytes", "max_reply_bytes", "ingest_hwm", "max_ingest_bytes",
                           "max_models", "max_memory_bytes", "max_model_weights"]

        init(_ r: TableReader) throws(ConfigError) {
            maxMessageBytes = try r.integer("max_message_bytes", default: maxMessageBytes, in: 1...Int64(Int32.max))
            maxRowsPerMessage = try r.integer("max_rows_per_message", default: maxRowsPerMessage, in: 1...Int64.max)
            maxInlineBytes = try r.integer("max_inline_bytes", default: maxInlineBytes, in: 64...Int64(Int32.max))
            maxReplyBytes = try r.integer("max_reply_bytes", default: maxReplyBytes, in: 1024...Int64.max)
            ingestHighWaterMark = try r.integer("ingest_hwm", default: ingestHighWaterMark, in: 1...Int64(Int32.max))
            maxIngestBytes = try r.integer("max_ingest_bytes", default: maxIngestBytes, in: 0...Int64.max)
            maxModels = try r.integer("max_models", default: maxModels, in: 1...Int64.max)
            maxMemoryBytes = try r.integer("max_memory_bytes", default: maxMemoryBytes, in: 1...Int64.max)
            maxModelWeights = try r.integer("max_model_weights", default: maxModelWeights, in: 1...Int64(Int32.max))
        }
    }

    /// `[security]`: optional CURVE encryption and authentication on every socket.
    package struct Security: Sendable, Equatable {
        /// `curve`: enable CURVE.
        package var curve = false
        /// `secret_key_file`: the server's z85 secret key.
        package var secretKeyFile = "/etc/hebbd/server.key"
        /// `authorized_keys_dir`: one z85 client package key per file.
        package var authorizedKeysDir = "/etc/hebbd/clients"

        /// The defaults.
        package init() {}

        static let keys = ["curve", "secret_key_file", "authorized_keys_dir"]

        init(_ r: TableReader) throws(ConfigError) {
            curve = try r.bool("curve", default: curve)
            secretKeyFile = try r.string("secret_key_file", default: secretKeyFile)
            authorizedKeysDir = try r.string("authorized_keys_dir", default: authorizedKeysDir)
        }
    }

    /// `[daemon]`.
    package var daemon = Daemon()
    /// `[endpoints]`.
    package var endpoints = Endpoints()
    /// `[publish]`.
    package var publish = Publish()
    /// `[limits]`.
    package var limits = Limits()
    /// `[security]`.
    package var security = Security()
    /// `[journal]` (JournalTable.swift).
    package var journal = Journal()
    /// `[[model]]` tables, in file order. May be empty: models can be added at run time.
    package var models: [ModelConfiguration] = []

    /// The defaults, without models.
    package init() {}

    static let keys = ["daemon", "endpoints", "publish", "limits", "security", "journal", "model"]

    /// The settings that differ from `running` and that a reload cannot apply (they shape sockets or files
    /// made at start-up), named as in the file; empty when a reload applies everything.
    package func restartOnlyChanges(from running: DaemonConfiguration) -> [String] {
        var changed: [String] = []
        if endpoints != running.endpoints { changed.append("endpoints") }
        if limits != running.limits { changed.append("limits") }
        if security != running.security { changed.append("security") }
        if journal != running.journal { changed.append("journal") }
        if publish.format != running.publish.format { changed.append("publish.format") }
        if publish.highWaterMark != running.publish.highWaterMark { changed.append("publish.hwm") }
        if daemon.stateDirectory != running.daemon.stateDirectory { changed.append("daemon.state_dir") }
        if daemon.blasThreads != running.daemon.blasThreads { changed.append("daemon.blas_threads") }
        return changed
    }

    /// Parses TOML text; `file` names it in error messages.
    package static func parse(toml text: String, file: String) throws(ConfigError) -> DaemonConfiguration {
        try decode(ConfigValue.parse(toml: text, file: file), file: file)
    }

    /// Decodes an already parsed document (any format).
    package static func decode(_ root: ConfigTable, file: String) throws(ConfigError) -> DaemonConfiguration {
        let top = try TableReader(root, file: file, table: "top level", known: keys)
        func section(_ key: String, _ known: [String]) throws(ConfigError) -> TableReader {
            try TableReader(top.table(key) ?? [:], file: file, table: "[\(key)]", known: known)
        }
        var config = DaemonConfiguration()
        config.daemon = try Daemon(section("daemon", Daemon.keys))
        config.endpoints = try Endpoints(section("endpoints", Endpoints.keys))
        config.publish = try Publish(section("publish", Publish.keys))
        config.limits = try Limits(section("limits", Limits.keys))
        config.security = try Security(section("security", Security.keys))
        config.journal = try Journal(section("journal", Journal.keys))
        try config.journal.validate(against: config.limits, endpoints: config.endpoints, file: file)

        switch top.raw("model") {
        case nil: break
        case let .array(tables)?:
            for (index, table) in tables.enumerated() {
                let model = try ModelConfiguration.decode(table, file: file, index: index)
                if config.models.contains(where: { $0.name == model.name }) {
                    throw .duplicateModelName(file: file, name: model.name)
                }
                config.models.append(model)
            }
        case let other?:
            throw top.wrongType("model", "an array of tables, written [[model]]", other)
        }
        return config
    }
}
