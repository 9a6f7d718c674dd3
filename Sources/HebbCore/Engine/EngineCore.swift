import HebbianRegression
import Logging

/// Counters of the engine, read by `status` and exported as metrics.
package struct EngineCounters: Sendable, Equatable {
    /// Ingest messages received (valid or not).
    package var messagesReceived = 0
    /// Rows accepted.
    package var samplesReceived = 0
    /// Mini-batch updates run.
    package var updates = 0
    /// Messages handed to the publish socket.
    package var published = 0
    /// Rejected messages by reason (all models, including unknown ones).
    package var rejected: [RejectionReason: Int] = [:]
    /// Control requests served, and how many got an error reply.
    package var controlRequests = 0
    /// Control requests that got an error reply.
    package var controlErrors = 0
    /// Live subscriptions on the publish socket (subscribe minus unsubscribe messages seen by XPUB).
    package var subscriptions = 0
    /// Updates rolled back by the divergence guard.
    package var divergences = 0
    /// Connection events on the bound sockets (libzmq's socket monitor), by socket and event: a peer that
    /// connects, goes away, or is cut off by libzmq (a frame over `limits.max_message_bytes`, a failed handshake).
    package var connections: [ConnectionEventKey: Int] = [:]
    /// Drift alarms raised (all models).
    package var drifts = 0

    /// All zero.
    package init() {}
}

/// Settings of the engine core taken from the daemon configuration.
package struct EngineSettings: Sendable, Equatable {
    /// How coefficients are published.
    package var publishFormat: PublishFormat = .json
    /// Updates in the rolling prequential error.
    package var window = 100
    /// Seconds of publish silence before a heartbeat (0: none).
    package var heartbeat: Double = 5
    /// Per-message byte limit.
    package var maxMessageBytes = 64 << 20
    /// Per-message row limit.
    package var maxRowsPerMessage = 1_000_000
    /// Largest JSON frame parsed (an inline sample header, a control request).
    package var maxInlineBytes = 1 << 20
    /// Largest control reply built.
    package var maxReplyBytes = 16 << 20
    /// Most models.
    package var maxModels = 1000
    /// Most bytes for the models' state (``ModelFootprint``).
    package var maxMemoryBytes = MachineMemory.defaultBudget
    /// Most coefficients in one model.
    package var maxModelWeights = Int(Int32.max)
    /// Minimum seconds between rejection summaries / log lines per model and reason.
    package var rejectionReportInterval: Double = 10
    /// `daemon.checkpoint_interval` (seconds; 0: none).
    package var checkpointInterval: Double = 30
    /// `daemon.checkpoint_every` (updates; 0: none).
    package var checkpointEvery = 0
    /// `publish.every` and `publish.max_rate`.
    package var pacing = PublishPacing()

    package init() {}
}

extension EngineSettings {
    /// The engine-core settings of a daemon configuration.
    package init(_ c: DaemonConfiguration) {
        self.init()
        publishFormat = c.publish.format
        window = c.publish.window
        heartbeat = c.publish.heartbeat
        maxMessageBytes = c.limits.maxMessageBytes
        maxRowsPerMessage = c.limits.maxRowsPerMessage
        maxInlineBytes = c.limits.maxInlineBytes
        maxReplyBytes = c.limits.maxReplyBytes
        maxModels = c.limits.maxModels
        maxMemoryBytes = c.limits.maxMemoryBytes
        maxModelWeights = c.limits.maxModelWeights
        checkpointInterval = c.daemon.checkpointInterval
        checkpointEvery = c.daemon.checkpointEvery
        pacing = PublishPacing(c.publish)
    }
}

/// A `[limits]` value a model (or a set of models) would exceed.
package struct ResourceLimitViolation: Error, Sendable, Equatable, CustomStringConvertible {
    /// The config key, e.g. `limits.max_memory_bytes`.
    package var limit: String
    /// Its value.
    package var maximum: Int
    /// What would be needed.
    package var needed: Int
    /// What is counted.
    package var what: String
    package var description: String { "\(limit) = \(maximum) is exceeded: \(needed) \(what) would be needed" }
}

/// Why a model cannot be added.
package enum ModelAdmissionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A model of that name exists.
    case duplicate(String)
    /// It would exceed a `[limits]` value (checked before anything is allocated).
    case limit(ResourceLimitViolation)
    /// The configuration or snapshot is not a valid circuit.
    case invalid(CircuitError)

    package var description: String {
        switch self {
        case let .duplicate(name): return "a model named \"\(name)\" exists"
        case let .limit(violation): return violation.description
        case let .invalid(error): return error.description
        }
    }
}

/// A connection event on one of the daemon's bound sockets.
package enum ConnectionEvent: String, Sendable, CaseIterable {
    /// A peer connected.
    case accepted
    /// A connection closed: the peer left, or libzmq cut it off (e.g. a frame over `limits.max_message_bytes`).
    case disconnected
    /// The ZMTP or CURVE handshake failed (not a ZeroMQ peer, a malformed greeting, an unauthorized key).
    case handshakeFailed = "handshake_failed"
}

/// Which socket and which event a connection count is for.
package struct ConnectionEventKey: Hashable, Sendable {
    /// `ingest` or `control`.
    package var socket: String
    /// The event.
    package var event: ConnectionEvent
    package init(socket: String, event: ConnectionEvent) {
        self.socket = socket
        self.event = event
    }
}

/// What the engine driver must do with a control request.
package enum ControlOutcome {
    /// Send this reply now.
    case reply([UInt8])
    /// Write these snapshots to disk, then reply (the core stays free of I/O; the driver owns the
    /// checkpoint writer and defers the reply until the write is done).
    case checkpoint([ModelSnapshot])
}

/// The engine's protocol logic with no sockets, threads or files: feed it frames, read its outbox.
///
/// Like SwiftNIO's `EmbeddedChannel`, this is what tests drive directly; ``Engine`` wraps it with
/// the real ZeroMQ sockets and a poll loop. Everything here runs on one thread.
package final class EngineCore {
    /// Settings in force.
    package private(set) var settings: EngineSettings
    /// Live models by name.
    package private(set) var runners: [String: ModelRunner] = [:]
    /// Model names in the order they were added (for stable listings).
    package private(set) var modelNames: [String] = []
    /// Messages waiting for the publish socket, in order; the driver empties it with ``drainOutbox(_:)``.
    package private(set) var outbox: [PublishedMessage] = []
    /// Counters.
    package private(set) var counters = EngineCounters()
    /// Finds the newest usable checkpoint of a model added at run time (`add`, reload), so a model that
    /// comes back resumes instead of starting over and overwriting its learned state. Set by the driver,
    /// which owns the disk; nil keeps the core free of I/O (and models start fresh).
    package var checkpointLookup: ((ModelConfiguration) -> ModelSnapshot?)?
    /// Names of the models the config file defines (set by the driver at start, by ``reload(_:)`` after).
    package var configuredNames: Set<String> = []
    /// Snapshots of models removed by `remove` or a reload, waiting for their final checkpoint
    /// (``dueCheckpoints()`` hands them out).
    private var removedSnapshots: [ModelSnapshot] = []
    /// The time source of every time-driven decision here (injected; ``EngineClock/system`` in the daemon).
    package let clock: EngineClock
    /// When checkpoints are due (see ``CheckpointSchedule``). The driver sets `enabled` when it can write them.
    package var schedule: CheckpointSchedule
    /// The configuration the daemon started with and the one in force after reloads (nil for a bare core).
    package private(set) var startConfiguration: DaemonConfiguration?
    package private(set) var liveConfiguration: DaemonConfiguration?
    /// Called with each update's duration in nanoseconds (the update-duration histogram).
    package var updateDurationObserver: ((Int64) -> Void)?
    /// Logger for rejections and control events.
    package var logger: Logger

    private var instances = 0
    private var decoder: SampleDecoder
    private var encoder: PublishEncoder
    private var lastPublish: Double = 0
    private var startTime: Double
    private var subscribedTopics: Set<[UInt8]> = []
    private var rejectionLog: LogRateLimiter
    private var controlFailureLog: LogRateLimiter
    private var connectionLog: LogRateLimiter
    private var pendingRejections: [String: [RejectionReason: Int]] = [:]
    private var lastRejectionSummary: Double = 0

    /// An engine with no models yet.
    package init(settings: EngineSettings, clock: EngineClock = .system, logger: Logger = Logger(label: "hebbd.engine")) {
        self.settings = settings
        self.logger = logger
        self.clock = clock
        decoder = SampleDecoder(maxMessageBytes: settings.maxMessageBytes, maxRowsPerMessage: settings.maxRowsPerMessage,
                                maxInlineBytes: settings.maxInlineBytes)
        encoder = PublishEncoder(format: settings.publishFormat)
        startTime = clock.monotonic()
        rejectionLog = LogRateLimiter(interval: settings.rejectionReportInterval)
        controlFailureLog = LogRateLimiter(interval: settings.rejectionReportInterval)
        connectionLog = LogRateLimiter(interval: settings.rejectionReportInterval)
        schedule = CheckpointSchedule(now: clock.monotonic())
        schedule.interval = settings.checkpointInterval
        schedule.every = settings.checkpointEvery
    }

    /// An engine for a daemon configuration, with no models yet (the driver adds them, restored or fresh).
    package convenience init(configuration: DaemonConfiguration, clock: EngineClock = .system, logger: Logger = Logger(label: "hebbd.engine")) {
        self.init(settings: EngineSettings(configuration), clock: clock, logger: logger)
        startConfiguration = configuration
        liveConfiguration = configuration
        configuredNames = Set(configuration.models.map(\.name))
    }

    /// Hands every queued publish message to `send`, in order, and empties the queue.
    package func drainOutbox(_ send: (PublishedMessage) -> Void) {
        for message in outbox { send(message) }
        outbox.removeAll(keepingCapacity: true)
    }

    /// The snapshots of removed models not yet handed out.
    func takeRemovedSnapshots() -> [ModelSnapshot] {
        defer { removedSnapshots.removeAll() }
        return removedSnapshots
    }

    // MARK: Models

    /// Adds a model (fresh, or resumed from `snapshot`). Its current state becomes its latest message,
    /// so late joiners get it at once, restored or not.
    /// `[limits]` are checked first, from the configuration alone: a model that would not fit is refused
    /// before anything is allocated.
    package func addModel(_ configuration: ModelConfiguration, restoring snapshot: ModelSnapshot? = nil) throws(ModelAdmissionError) {
        guard runners[configuration.name] == nil else { throw .duplicate(configuration.name) }
        if let limit = limitViolation(after: modelNames.compactMap { runners[$0]?.configuration } + [configuration]) {
            throw .limit(limit)
        }
        let runner: ModelRunner
        do {
            if let snapshot {
                runner = try ModelRunner(restoring: snapshot, windowSize: settings.window)
                // The config's hyper-parameters win over the checkpoint's (the resume rule has checked that
                // kind, shape, optimiser and prior are unchanged).
                if configuration != snapshot.model { try runner.reconfigure(configuration) }
            } else {
                runner = try ModelRunner(configuration: configuration, windowSize: settings.window)
            }
        } catch {
            throw .invalid(error)
        }
        instances += 1
        runner.instance = instances
        runners[configuration.name] = runner
        modelNames.append(configuration.name)
        // The restored state is on disk already; a config change since (revision > 0) makes it due again.
        if snapshot != nil { schedule.submitted[runner.instance] = (0, runner.circuit.updates) }
        publishLatest(runner, report: nil, sequence: runner.sequence)
        publishEvent(model: configuration.name, event: snapshot == nil ? "added" : "restored")
    }

    /// The memory the running models take, as ``ModelFootprint`` estimates it.
    package var memoryInUse: Int {
        runners.values.reduce(0) { $0 &+ ModelFootprint.bytes(of: $1.configuration, publishFormat: settings.publishFormat) }
    }

    /// Which limit a daemon running exactly `models` would break, with the figures; nil when they fit.
    package func limitViolation(after models: [ModelConfiguration]) -> ResourceLimitViolation? {
        if models.count > settings.maxModels {
            return ResourceLimitViolation(limit: "limits.max_models", maximum: settings.maxModels, needed: models.count, what: "models")
        }
        var total = 0
        for model in models {
            let weights = model.circuit.dictDim.multipliedReportingOverflow(by: model.circuit.sysDim)
            if weights.overflow || weights.partialValue > settings.maxModelWeights {
                return ResourceLimitViolation(limit: "limits.max_model_weights", maximum: settings.maxModelWeights,
                                              needed: weights.overflow ? .max : weights.partialValue,
                                              what: "coefficients in model \"\(model.name)\" (dict_dim × sys_dim)")
            }
            total = total.addingReportingOverflow(ModelFootprint.bytes(of: model, publishFormat: settings.publishFormat)).partialValue
        }
        if total > settings.maxMemoryBytes {
            return ResourceLimitViolation(limit: "limits.max_memory_bytes", maximum: settings.maxMemoryBytes, needed: total,
                                          what: "bytes for the models' state, batch buffers and caches")
        }
        return nil
    }

    /// Removes a model; its final snapshot goes to ``removedSnapshots`` for the driver to checkpoint.
    @discardableResult
    package func removeModel(_ name: String) -> ModelSnapshot? {
        guard let runner = runners.removeValue(forKey: name) else { return nil }
        modelNames.removeAll { $0 == name }
        let snapshot = runner.snapshot(wallClock: clock.wall())
        schedule.submitted[runner.instance] = nil
        removedSnapshots.append(snapshot)
        publishEvent(model: name, event: "removed")
        return snapshot
    }

    /// Applies a new configuration to an existing model (hyper-parameters only).
    package func reconfigureModel(_ configuration: ModelConfiguration) throws(CircuitError) {
        guard let runner = runners[configuration.name] else { throw .incompatibleState("no model named \"\(configuration.name)\"") }
        guard runner.configuration != configuration else { return }
        try runner.reconfigure(configuration)
        publishEvent(model: configuration.name, event: "reconfigured")
    }


    // MARK: Ingest

    /// Validates one ingest message and, when valid, buffers its rows and runs every update it
    /// completes, queueing a coefficient message per update. An invalid message changes nothing.
    @discardableResult
    package func handleSample(_ frames: [UnsafeRawBufferPointer]) -> Rejection? {
        counters.messagesReceived += 1
        let decoded: DecodedSamples
        do {
            decoded = try decoder.decode(frames) { self.runners[$0]?.shape }
        } catch {
            reject(error)
            return error
        }
        guard let runner = runners[decoded.model] else { return nil }
        // A NaN or ±Inf in a binary float32 message is found by the pass that reads it (ModelRunner.ingest).
        let refused = runner.ingest(decoded) { report, nanoseconds in
            updateDurationObserver?(Int64(nanoseconds))
            guard !report.diverged else {
                // Rolled back: nothing changed, so nothing is published but the news, once per episode.
                counters.divergences += 1
                if runner.newlyDiverged {
                    publishEvent(model: runner.name, event: "diverged", extra: [
                        ("step", JSON.integer(Int64(runner.circuit.updates)).serialized),
                        ("loss", JSON.number(report.loss.isFinite ? report.loss : 0).serialized),
                        ("hint", JSON.string("the update would have made the model non-finite and was rolled back; "
                                              + "reset the model or set a smaller lr").serialized)])
                    logger.error("model diverged; update rolled back", metadata: ["model": .wire(runner.name), "step": "\(runner.circuit.updates)"])
                }
                return
            }
            counters.updates += 1
            // The detector sees every update, published or paced out (publish.every / max_rate): its event names
            // the update's seq, or the last published one when this update's message was held back.
            let sequence = publishUpdate(runner, report: report) ?? runner.sequence
            if checkDrift(runner, report: report, sequence: sequence) { counters.drifts += 1 }
        }
        if let refused {
            reject(refused)
            return refused
        }
        counters.samplesReceived += decoded.rows
        return nil
    }

    private func reject(_ rejection: Rejection) {
        counters.rejected[rejection.reason, default: 0] += 1
        let key = rejection.model.flatMap { runners[$0] != nil ? $0 : nil }
        if let key { runners[key]?.rejected[rejection.reason, default: 0] += 1 }
        pendingRejections[key ?? "*", default: [:]][rejection.reason, default: 0] += 1
        // Rate-limited: the first of each (model, reason) is logged, then one line per interval. The key uses the
        // model name only when the model exists, so hostile names cannot grow the limiter.
        guard let suppressed = rejectionLog.admit("\(key ?? "*")/\(rejection.reason.rawValue)", now: clock.monotonic()) else { return }
        var metadata: Logger.Metadata = ["rejection.reason": .string(rejection.reason.rawValue), "error": .wire(rejection.detail)]
        if let model = rejection.model { metadata["model"] = .wire(model) }
        if suppressed > 0 { metadata["rejection.suppressed"] = "\(suppressed)" }
        logger.warning("sample rejected", metadata: metadata)
    }

    // MARK: Publish side

    /// A subscription frame from the XPUB socket (byte 1 = subscribe, 0 = unsubscribe, then the topic
    /// prefix). A new subscription to `coef/M/` (or any prefix of it) resends M's latest message:
    /// the last-value cache for late joiners.
    package func handleSubscription(_ frame: UnsafeRawBufferPointer) {
        guard frame.count >= 1 else { return }
        let prefix = Array(frame.dropFirst())
        // XPUB passes every subscribe (verbose: each late joiner must trigger a resend) but an unsubscribe only
        // when a topic's last subscriber leaves, once however often it was subscribed: so the gauge counts the
        // distinct topics with a subscriber, which both kinds of message keep exact.
        guard frame[0] == 1 else {
            if frame[0] == 0 { subscribedTopics.remove(prefix) }
            counters.subscriptions = subscribedTopics.count
            return
        }
        if subscribedTopics.count < Self.maximumTrackedTopics { subscribedTopics.insert(prefix) }
        counters.subscriptions = subscribedTopics.count
        for name in modelNames {
            guard let runner = runners[name], runner.latest != nil else { continue }
            if prefix.count <= runner.topic.count, runner.topic.starts(with: prefix) { requestResend(runner) }
        }
    }

    /// The last-value resend, conflated: at once if the model's last resend is older than ``resendInterval``,
    /// else once when it is (``tick()``). A client subscribing in a loop therefore costs at most one copy of each
    /// model's latest message per interval, not one per subscription; every joiner still gets the latest value
    /// within the interval. A new update satisfies a pending resend (it reaches every subscriber).
    private func requestResend(_ runner: ModelRunner) {
        let now = clock.monotonic()
        if let latest = runner.latest, now - runner.lastResend >= Self.resendInterval {
            runner.lastResend = now
            runner.resendPending = false
            enqueue(latest)
        } else {
            runner.resendPending = true
        }
    }

    /// Least time between two last-value resends of one model.
    static let resendInterval = 0.1
    /// Distinct subscribed topics tracked for the gauge (a bound against hostile subscription floods).
    static let maximumTrackedTopics = 100_000

    /// Periodic work: pending last-value resends, coefficient messages `publish.max_rate` held back whose interval
    /// has passed, rejection summaries on `event/…` and the `hb/` heartbeat when idle.
    package func tick() {
        let now = clock.monotonic()
        publishHeldBack(now: now)
        for name in modelNames { if let runner = runners[name], runner.resendPending { requestResend(runner) } }
        if !pendingRejections.isEmpty && now - lastRejectionSummary >= 1 {
            for (model, counts) in pendingRejections.sorted(by: { $0.key < $1.key }) {
                var w = JSONWriter()
                w.beginObject()
                for (reason, n) in counts.sorted(by: { $0.key.rawValue < $1.key.rawValue }) { w.key(reason.rawValue); w.int(n) }
                w.endObject()
                publishEvent(model: model, event: "rejected", extra: [("counts", w.bytes)])
            }
            pendingRejections.removeAll()
            lastRejectionSummary = now
        }
        if settings.heartbeat > 0 && now - lastPublish >= settings.heartbeat {
            var w = JSONWriter()
            w.beginObject()
            w.key("v"); w.int(1)
            w.key("time"); w.string(Timestamp.rfc3339(clock.wall()))
            w.key("uptime"); w.double(((now - startTime) * 1000).rounded() / 1000)
            w.key("models"); w.int(runners.count)
            w.key("updates"); w.int(counters.updates)
            w.endObject()
            enqueue(PublishedMessage(topic: Array("hb/".utf8), json: w.bytes))
        }
    }

    /// The coefficient message of an update, unless `publish.every` skips it or `publish.max_rate` holds it back.
    /// Publishes an update's coefficient message now, or not (paced), and returns its seq when it went out.
    private func publishUpdate(_ runner: ModelRunner, report: UpdateReport) -> UInt64? {
        let pacing = settings.pacing
        if pacing.every == 1 && pacing.maxRate == 0 {
            let sequence = runner.nextSequence()
            publishLatest(runner, report: report, sequence: sequence)
            return sequence
        }
        let now = clock.monotonic()
        switch pacing.decide(step: runner.circuit.updates, now: now, state: runner.pacing) {
        case .skip:
            return nil
        case .holdBack:
            runner.pacing.heldBack = PublishPacing.HeldBack(report: report)
            return nil
        case .publish:
            runner.pacing.heldBack = nil
            runner.pacing.lastPublished = now
            let sequence = runner.nextSequence()
            publishLatest(runner, report: report, sequence: sequence)
            return sequence
        }
    }

    /// Publishes the held-back state of every model whose `max_rate` interval has passed.
    private func publishHeldBack(now: Double) {
        guard settings.pacing.maxRate > 0 else { return }
        let interval = settings.pacing.interval
        for name in modelNames {
            guard let runner = runners[name], let held = runner.pacing.heldBack, now - runner.pacing.lastPublished >= interval else { continue }
            runner.pacing.heldBack = nil
            runner.pacing.lastPublished = now
            publishLatest(runner, report: held.report, sequence: runner.nextSequence())
        }
    }

    /// Seconds until a held-back coefficient message is due (nil: none is held back), so that the driver polls
    /// no longer than that and the latest state goes out on time.
    package var heldBackDueIn: Double? {
        guard settings.pacing.maxRate > 0 else { return nil }
        let now = clock.monotonic(), interval = settings.pacing.interval
        var soonest: Double?
        for runner in runners.values where runner.pacing.heldBack != nil {
            let due = max(0, runner.pacing.lastPublished + interval - now)
            soonest = min(soonest ?? due, due)
        }
        return soonest
    }

    /// Encodes, caches (last-value cache) and queues a coefficient message of `runner`.
    func publishLatest(_ runner: ModelRunner, report: UpdateReport?, sequence: UInt64) {
        let time = clock.wall()
        // The encoder's buffer is the previous message's storage; dropping that message first (it has been sent and
        // is being replaced) lets the encoder write over it instead of allocating a second one (a 4096×64 JSON
        // message is ~3 MB).
        runner.latest = nil
        let message = encoder.encode(runner, report: report, sequence: sequence, time: time)
        runner.latest = message
        runner.resendPending = false
        runner.latestTime = time
        enqueue(message)
    }

    private func enqueue(_ message: PublishedMessage) {
        outbox.append(message)
        counters.published += 1
        lastPublish = clock.monotonic()
    }

    /// Publishes `{"v":1,"model":M,"event":E,"time":…,…}` on `event/M/` (`event/*/` for the daemon).
    package func publishEvent(model: String, event: String, extra: [(String, [UInt8])] = []) {
        var w = JSONWriter()
        w.beginObject()
        w.key("v"); w.int(1)
        w.key("model"); w.string(model)
        w.key("event"); w.string(event)
        w.key("time"); w.string(Timestamp.rfc3339(clock.wall()))
        for (k, raw) in extra { w.key(k); w.raw(raw) }
        w.endObject()
        enqueue(PublishedMessage(topic: Array("event/\(model)/".utf8), json: w.bytes))
    }

    // MARK: Control

    /// Serves one control request (a JSON object with `"cmd"`). Always produces a reply, so the REP
    /// socket never wedges: `{"ok":true,…}` or `{"ok":false,"error":"…"}`.
    package func handleControl(_ request: UnsafeRawBufferPointer) -> ControlOutcome {
        counters.controlRequests += 1
        do {
            return try control(request)
        } catch {
            counters.controlErrors += 1
            if let suppressed = controlFailureLog.admit("control", now: clock.monotonic()) {
                var metadata: Logger.Metadata = ["error": .wire(error.message)]
                if suppressed > 0 { metadata["control.suppressed"] = "\(suppressed)" }
                logger.notice("control request failed", metadata: metadata)
            }
            var w = JSONWriter()
            w.beginObject()
            w.key("ok"); w.bool(false)
            w.key("error"); w.string(error.message)
            w.endObject()
            return .reply(w.bytes)
        }
    }

    /// Refuses a reply that would exceed `limits.max_reply_bytes`, estimated at 16 bytes per number of JSON, before
    /// it is built: one request must not hold the engine for a second while it formats a 100 MB reply.
    private func checkReply(values: Int, _ what: String, hint: String) throws(ControlError) {
        let estimate = values.multipliedReportingOverflow(by: 16)
        if estimate.overflow || estimate.partialValue > settings.maxReplyBytes {
            throw ControlError("\(what) would make a reply of about \(estimate.overflow ? Int.max : estimate.partialValue) bytes, "
                               + "over limits.max_reply_bytes = \(settings.maxReplyBytes); \(hint)")
        }
    }

    /// The model keys `set` may change live: hyper-parameters that do not change what W means.
    static let settableKeys = ["lr", "lmbda", "l1_ratio", "threshold", "epochs", "intercept_lr"]

    /// A connection event the driver read from a socket monitor: counted, and logged rate-limited per socket and
    /// event (a peer address from the connection, escaped). Closed connections are where a frame over
    /// `limits.max_message_bytes` shows up: libzmq drops such a frame by closing the connection.
    package func handleConnectionEvent(socket: String, event: ConnectionEvent, peer: String?) {
        counters.connections[ConnectionEventKey(socket: socket, event: event), default: 0] += 1
        guard event != .accepted, let suppressed = connectionLog.admit("\(socket)/\(event.rawValue)", now: clock.monotonic()) else { return }
        var metadata: Logger.Metadata = ["socket": .string(socket), "connection.event": .string(event.rawValue)]
        if let peer { metadata["peer.address"] = .wire(peer) }
        if suppressed > 0 { metadata["connection.suppressed"] = "\(suppressed)" }
        if event == .handshakeFailed {
            logger.warning("connection handshake failed", metadata: metadata)
        } else {
            logger.notice("connection closed", metadata: metadata)
        }
    }

    /// A control request that is not one frame (the driver cannot hand it over): counted and answered like any
    /// other failed request.
    package func malformedControlRequest(frames: Int) -> [UInt8] {
        counters.controlRequests += 1
        counters.controlErrors += 1
        let message = "a request is one frame of JSON, not \(frames)"
        if let suppressed = controlFailureLog.admit("control", now: clock.monotonic()) {
            var metadata: Logger.Metadata = ["error": .string(message)]
            if suppressed > 0 { metadata["control.suppressed"] = "\(suppressed)" }
            logger.notice("control request failed", metadata: metadata)
        }
        var w = JSONWriter()
        w.beginObject()
        w.key("ok"); w.bool(false)
        w.key("error"); w.string(message)
        w.endObject()
        return w.bytes
    }

    /// A control failure, with the text for the reply.
    package struct ControlError: Error {
        /// The `error` of the reply.
        package var message: String
        init(_ message: String) { self.message = message }
    }

    private func control(_ bytes: UnsafeRawBufferPointer) throws(ControlError) -> ControlOutcome {
        guard bytes.count <= settings.maxInlineBytes else {
            throw ControlError("a request of \(bytes.count) bytes exceeds limits.max_inline_bytes = \(settings.maxInlineBytes)")
        }
        let request: JSON
        do { request = try JSONParser.parse(bytes) } catch { throw ControlError("request is not JSON: \(error)") }
        guard request.object != nil else { throw ControlError("request must be a JSON object with \"cmd\"") }
        guard let cmd = request["cmd"]?.string else { throw ControlError("missing \"cmd\" (status, models, snapshot, predict, checkpoint, reset, set, add, remove)") }
        func model() throws(ControlError) -> ModelRunner {
            guard let name = request["model"]?.string else { throw ControlError("\(cmd) needs \"model\"") }
            guard let runner = runners[name] else { throw ControlError("no model named \"\(name)\"") }
            return runner
        }
        var w = JSONWriter(capacity: 512)
        w.beginObject()
        w.key("ok"); w.bool(true)
        switch cmd {
        case "status":
            writeStatus(&w)
        case "models":
            w.key("models")
            w.beginArray()
            for name in modelNames { if let r = runners[name] { writeModelDescription(r, &w) } }
            w.endArray()
        case "snapshot":
            let runner = try model()
            try checkReply(values: runner.circuit.weights.count, "snapshot of \(runner.configuration.circuit.dictDim)×\(runner.configuration.circuit.sysDim) coefficients",
                           hint: "subscribe to coef/\(runner.name)/ with publish.format = \"binary\", or read a checkpoint")
            // The latest published message, re-encoded only to put the coefficients inline in binary format.
            let json = settings.publishFormat == .json ? runner.latest?.json : nil
            w.key("snapshot")
            w.raw(json ?? encoder.encode(runner, report: runner.lastReport, sequence: runner.sequence, time: runner.latestTime,
                                         forceInlineCoefficients: true).json)
            if let xm = runner.circuit.xMoments, let ym = runner.circuit.yMoments {
                // What standardisation is in force: the running mean and population variance of every column.
                w.key("statistics")
                w.beginObject()
                w.key("count"); w.int(xm.count)
                w.key("x_mean"); w.beginArray(); for v in xm.mean { w.double(v) }; w.endArray()
                w.key("x_var"); w.beginArray(); for j in 0..<xm.columns { w.double(xm.variance(j)) }; w.endArray()
                w.key("y_mean"); w.beginArray(); for v in ym.mean { w.double(v) }; w.endArray()
                w.key("y_var"); w.beginArray(); for k in 0..<ym.columns { w.double(ym.variance(k)) }; w.endArray()
                w.endObject()
            }
        case "predict":
            let runner = try model()
            guard let x = request["x"] else { throw ControlError("predict needs \"x\" (rows of dict_dim numbers)") }
            let rows: (rows: Int, values: [Float])
            do { rows = try SampleDecoder.matrix(x, name: "x", columns: runner.configuration.circuit.dictDim, rowsHint: nil, model: runner.name) } catch {
                throw ControlError(error.detail)
            }
            try checkReply(values: rows.rows * runner.configuration.circuit.sysDim, "predict of \(rows.rows) rows", hint: "send fewer rows per request")
            let y: [Float]
            // With the published (thresholded) coefficients: the model consumers see.
            do { y = try rows.values.withUnsafeBufferPointer { try runner.circuit.predict(x: $0, rows: rows.rows, thresholded: true) } } catch {
                throw ControlError("\(error)")
            }
            w.key("y")
            y.withUnsafeBufferPointer { w.matrix($0, rows: rows.rows, columns: runner.configuration.circuit.sysDim) }
        case "checkpoint":
            guard schedule.enabled else { throw ControlError("checkpoints are disabled") }
            if request["model"] != nil {
                let runner = try model()
                schedule.submitted[runner.instance] = (runner.revision, runner.circuit.updates)
                return .checkpoint([runner.snapshot(wallClock: clock.wall())])
            }
            return .checkpoint(checkpointAllModels())
        case "reset":
            let runner = try model()
            // The standardisation statistics describe the stream, not the model: `"keep_statistics": true` keeps
            // them so the reset model learns in a well-scaled space from its first batch; by default a reset is
            // a fresh start, as for a new model.
            let keep: Bool
            switch request["keep_statistics"] {
            case nil: keep = false
            case let .bool(b)?: keep = b
            case let other?: throw ControlError("\"keep_statistics\" must be true or false, not \(other.typeName)")
            }
            runner.reset(keepStatistics: keep)
            runner.pacing.heldBack = nil
            publishLatest(runner, report: nil, sequence: runner.nextSequence())
            publishEvent(model: runner.name, event: "reset")
            w.key("model"); w.string(runner.name)
        case "set":
            let runner = try model()
            // The new values go through the config decoder, so `set` accepts exactly what a config file would
            // (types, ranges, error messages) and nothing else.
            guard case var .table(table) = runner.configuration.configValue else { throw ControlError("internal: model table") }
            var changed: [String] = []
            for (key, value) in request.object! where key != "cmd" && key != "model" {
                guard Self.settableKeys.contains(key) else {
                    throw ControlError("set cannot change \"\(key)\" (\(Self.settableKeys.joined(separator: ", ")))")
                }
                do { table[key] = try ConfigValue(json: value, source: "control request") } catch { throw ControlError("\(error)") }
                changed.append(key)
            }
            guard !changed.isEmpty else { throw ControlError("set needs at least one of \(Self.settableKeys.joined(separator: ", "))") }
            let new: ModelConfiguration
            do { new = try ModelConfiguration.decode(.table(table), source: "control request") } catch { throw ControlError("\(error)") }
            do { try runner.reconfigure(new) } catch { throw ControlError("\(error)") }
            publishEvent(model: runner.name, event: "set", extra: [("changed", JSON.array(changed.map { .string($0) }).serialized)])
            w.key("model"); writeModelDescription(runner, &w)
        case "add":
            guard let table = request["model"], table.object != nil else { throw ControlError("add needs \"model\": a model table as a JSON object") }
            let configuration: ModelConfiguration
            do { configuration = try ModelConfiguration.decode(json: table, source: "control request") } catch {
                throw ControlError("\(error)")
            }
            do { try addModel(configuration, restoring: checkpointLookup?(configuration)) } catch { throw ControlError("\(error)") }
            w.key("model"); writeModelDescription(runners[configuration.name]!, &w)
        case "remove":
            let runner = try model()
            removeModel(runner.name)
            w.key("model"); w.string(runner.name)
        default:
            throw ControlError("unknown cmd \"\(cmd)\" (status, models, snapshot, predict, checkpoint, reset, set, add, remove)")
        }
        w.endObject()
        return .reply(w.bytes)
    }

    private func writeStatus(_ w: inout JSONWriter) {
        let now = clock.monotonic()
        w.key("uptime"); w.double(((now - startTime) * 1000).rounded() / 1000)
        w.key("messages"); w.int(counters.messagesReceived)
        w.key("samples"); w.int(counters.samplesReceived)
        w.key("updates"); w.int(counters.updates)
        w.key("published"); w.int(counters.published)
        w.key("rejected"); Self.writeCounts(counters.rejected, &w)
        w.key("connections")
        w.beginObject()
        for socket in ["ingest", "control"] {
            w.key(socket)
            w.beginObject()
            for event in ConnectionEvent.allCases {
                w.key(event.rawValue); w.int(counters.connections[ConnectionEventKey(socket: socket, event: event)] ?? 0)
            }
            w.endObject()
        }
        w.endObject()
        w.key("memory")
        w.beginObject()
        w.key("models_bytes"); w.int(memoryInUse)
        w.key("limit_bytes"); w.int(settings.maxMemoryBytes)
        w.key("models"); w.int(runners.count)
        w.key("max_models"); w.int(settings.maxModels)
        w.endObject()
        w.key("models")
        w.beginObject()
        for name in modelNames {
            guard let r = runners[name] else { continue }
            w.key(name)
            w.beginObject()
            w.key("step"); w.int(r.circuit.updates)
            w.key("samples"); w.int(r.circuit.samples)
            w.key("seq"); w.int(r.sequence)
            w.key("loss"); if let l = r.lastReport?.loss { w.double(l) } else { w.null() }
            w.key("prequential_mse"); if let p = r.prequentialMSE { w.double(p) } else { w.null() }
            w.key("buffered"); w.int(r.pendingRows)
            w.key("batch_size"); w.int(r.configuration.batchSize)
            w.key("rejected"); Self.writeCounts(r.rejected, &w)
            w.key("diverged"); w.bool(r.circuit.diverged)
            w.key("divergences"); w.int(r.divergences)
            w.key("gaps"); w.int(r.gaps)
            w.key("sequence_resets"); w.int(r.sequenceResets)
            w.key("drifts"); w.int(r.drift?.drifts ?? 0)
            w.key("last_drift_step"); if let step = r.drift?.lastDriftStep { w.int(step) } else { w.null() }
            w.endObject()
        }
        w.endObject()
    }

    private static func writeCounts(_ counts: [RejectionReason: Int], _ w: inout JSONWriter) {
        w.beginObject()
        for reason in RejectionReason.allCases { if let n = counts[reason] { w.key(reason.rawValue); w.int(n) } }
        w.endObject()
    }

    private func writeModelDescription(_ r: ModelRunner, _ w: inout JSONWriter) {
        let c = r.configuration.circuit
        w.beginObject()
        w.key("name"); w.string(r.name)
        w.key("kind"); w.string(c.kind.rawValue)
        w.key("dict_dim"); w.int(c.dictDim)
        w.key("sys_dim"); w.int(c.sysDim)
        w.key("batch_size"); w.int(r.configuration.batchSize)
        w.key("epochs"); w.int(c.epochs)
        w.key("optim"); w.string(c.optimizer.rawValue)
        w.key("lr"); w.float(c.learningRate)
        w.key("lmbda"); w.float(c.lmbda)
        w.key("l1_ratio"); w.float(c.l1Ratio)
        w.key("threshold"); w.float(c.threshold)
        w.key("update"); w.string(c.update.rawValue)
        w.key("prior"); w.bool(c.prior != nil)
        w.key("standardize"); w.bool(c.standardize)
        w.key("intercept"); w.bool(c.intercept)
        w.key("intercept_lr"); w.float(c.interceptLearningRate ?? c.learningRate)
        // The prior and the drift alarm as their config tables (a chain as an array of tables), null when absent.
        w.key("prior_config"); w.value(c.prior.map { PriorTable.configValue($0).json } ?? .null)
        w.key("drift"); w.value(r.configuration.drift.map { $0.configValue.json } ?? .null)
        w.key("step"); w.int(r.circuit.updates)
        w.endObject()
    }
}

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
    /// Applies a reloaded configuration: models that disappeared are removed (their final snapshots become
    /// due), new ones added (resumed through ``checkpointLookup`` when it finds a checkpoint), changed ones
    /// reconfigured; `publish.window`, `publish.heartbeat` and the checkpoint schedule apply at once.
    /// Everything is checked first, so an invalid configuration is rejected whole and the running one stays.
    package func reload(_ configuration: DaemonConfiguration) -> Result<ReloadEffects, ReloadRejection> {
        let wanted = configuration.models
        // Dry run: every change must be acceptable before any is made.
        for model in wanted {
            if let runner = runners[model.name] {
                let old = runner.configuration
                do { try model.circuit.validate() } catch { return .failure(ReloadRejection(model: model.name, reason: "\(error)")) }
                if let why = old.circuit.incompatibility(with: model.circuit) {
                    return .failure(ReloadRejection(model: model.name, reason: "\(why); remove it first or restart with --reset-model \(model.name)"))
                }
                if model.batchSize != old.batchSize && runner.pendingRows >= model.batchSize {
                    return .failure(ReloadRejection(model: model.name, reason: "batch_size \(model.batchSize) is below the \(runner.pendingRows) rows buffered"))
                }
            } else {
                do { try model.circuit.validate() } catch { return .failure(ReloadRejection(model: model.name, reason: "\(error)")) }
            }
        }
        let wantedNames = Set(wanted.map(\.name))
        // The daemon after the reload — the file's models and those added at run time that stay — must fit [limits].
        let staying = modelNames.filter { !configuredNames.contains($0) && !wantedNames.contains($0) }.compactMap { runners[$0]?.configuration }
        if let limit = limitViolation(after: wanted + staying) {
            return .failure(ReloadRejection(model: "*", reason: limit.description))
        }
        // Models that left the file go; models added at run time (`add`) and never in a file stay.
        for name in modelNames where configuredNames.contains(name) && !wantedNames.contains(name) { removeModel(name) }
        configuredNames = wantedNames
        for model in wanted {
            do {
                if runners[model.name] != nil { try reconfigureModel(model) } else { try addModel(model, restoring: checkpointLookup?(model)) }
            } catch {
                // Unreachable after the dry run; logged rather than trapping.
                logger.error("reload failed after validation", metadata: ["model": .wire(model.name), "error": .wire("\(error)")])
            }
        }
        settings.heartbeat = configuration.publish.heartbeat
        settings.window = configuration.publish.window
        settings.pacing = PublishPacing(configuration.publish)
        for runner in runners.values { runner.setWindowSize(settings.window) }
        schedule.interval = configuration.daemon.checkpointInterval
        schedule.every = configuration.daemon.checkpointEvery
        var effects = ReloadEffects(modelNames: modelNames)
        if let live = liveConfiguration {
            if configuration.daemon.logLevel != live.daemon.logLevel { effects.logLevel = configuration.daemon.logLevel }
            if configuration.daemon.checkpointKeep != live.daemon.checkpointKeep { effects.checkpointKeep = configuration.daemon.checkpointKeep }
        }
        if let start = startConfiguration { effects.restartOnly = configuration.restartOnlyChanges(from: start) }
        liveConfiguration = configuration
        publishEvent(model: "*", event: "reloaded")
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
