import HebbianRegression
import Logging

/// Why a model is reset: every cause goes through ``EngineCore/resetModel(_:keepStatistics:cause:)``.
package enum ResetCause: Sendable, Equatable {
    /// The control `reset` command (announced with an `event/M/` `reset`).
    case request
    /// A drift alarm with `action = "reset"` (its `drift` event, published just before, says so).
    case driftAlarm
}

/// The engine's protocol logic with no sockets, threads or files: feed it frames, read its outbox.
///
/// Like SwiftNIO's `EmbeddedChannel`, this is what tests drive directly; ``Engine`` wraps it with the real ZeroMQ
/// sockets and a poll loop. Everything here runs on one thread. It is a router over types of one idea each:
/// the models and their limits (``ModelRegistry``), the publish side (``Publisher``), the control protocol
/// (``ControlHandler``), the checkpoint policy (``CheckpointSchedule``); what is left here is the ingest path and
/// the few actions that touch several of them (add, remove, reconfigure, reset, reload).
package final class EngineCore {
    /// Settings in force.
    package internal(set) var settings: EngineSettings
    /// The live models and their limits.
    package internal(set) var models: ModelRegistry
    /// The publish side: outbox, last-value resends, pacing, heartbeat, rejection summaries, events.
    package let publisher: Publisher
    /// The control protocol's state (the pending `checkpoint` reply, the failure log).
    package internal(set) var control: ControlHandler
    /// When checkpoints are due. The driver sets `enabled` when it can write them.
    package var schedule: CheckpointSchedule
    /// Whether the driver looks up a run-time model's checkpoints (`add`, reload) before it is added, so that a
    /// model that comes back resumes instead of starting over and overwriting its learned state. The look-up
    /// reads the disk, so the driver does it off the engine thread; false keeps the core free of I/O (and
    /// models start fresh).
    package var looksUpCheckpoints = false
    /// Told about every `add`, `set` and `remove` that succeeded, before the reply (with ``durableChanges``, once
    /// the change's checkpoint is written): the driver keeps them across restarts (``RuntimeState``). Not called for
    /// reloads and start-up models (the driver reconciles those itself).
    package var runtimeChange: ((RuntimeChange) -> Void)?
    /// Whether a change to the models (`set`, `reset`, `add`, `remove`, a reload) is checkpointed, with ingest held,
    /// before it is acknowledged (``DurableChange``). The driver turns it on with the journal, whose replay needs it.
    package var durableChanges = false
    /// Where each value of a model came from (`config` or `runtime`), listed by `models` (and `add`, `set`) as `"sources"`.
    package var valueSources: ((ModelConfiguration) -> [String: ValueSource])?
    /// The journal's figures for `status`, refreshed by the driver that owns the journal (nil: no journal).
    package var journalStatus: JournalStatus?
    /// The configuration the daemon started with and the one in force after reloads (nil for a bare core).
    package internal(set) var startConfiguration: DaemonConfiguration?
    package internal(set) var liveConfiguration: DaemonConfiguration?
    /// Called with each update's duration in nanoseconds (the update-duration histogram).
    package var updateDurationObserver: ((Int64) -> Void)?
    /// Logger for rejections and control events.
    package var logger: Logger
    /// The time source of every time-driven decision here (injected; ``EngineClock/system`` in the daemon).
    package let clock: EngineClock

    /// Counts of the ingest and control paths (the publisher keeps its own).
    var tallies = EngineCounters()
    private var decoder: SampleDecoder
    private let startTime: Double
    private var rejectionLog: LogRateLimiter
    private var connectionLog: LogRateLimiter

    /// An engine with no models yet.
    package init(settings: EngineSettings, clock: EngineClock = .system, logger: Logger = Logger(label: "hebbd.engine")) {
        self.settings = settings
        self.logger = logger
        self.clock = clock
        models = ModelRegistry(limits: ModelLimits(settings))
        publisher = Publisher(format: settings.publishFormat, pacing: settings.pacing, heartbeat: settings.heartbeat, clock: clock)
        control = ControlHandler(reportInterval: settings.rejectionReportInterval)
        decoder = SampleDecoder(maxMessageBytes: settings.maxMessageBytes, maxRowsPerMessage: settings.maxRowsPerMessage,
                                maxInlineBytes: settings.maxInlineBytes)
        startTime = clock.monotonic()
        rejectionLog = LogRateLimiter(interval: settings.rejectionReportInterval)
        connectionLog = LogRateLimiter(interval: settings.rejectionReportInterval)
        schedule = CheckpointSchedule(interval: settings.checkpointInterval, every: settings.checkpointEvery, now: startTime)
    }

    /// An engine for a daemon configuration, with no models yet (the driver adds them, restored or fresh).
    package convenience init(configuration: DaemonConfiguration, clock: EngineClock = .system, logger: Logger = Logger(label: "hebbd.engine")) {
        self.init(settings: EngineSettings(configuration), clock: clock, logger: logger)
        startConfiguration = configuration
        liveConfiguration = configuration
        models.configuredNames = Set(configuration.models.map(\.name))
    }

    // MARK: Views

    /// Counters of every path.
    package var counters: EngineCounters {
        var c = tallies
        c.published = publisher.published
        c.subscriptions = publisher.subscriptions
        return c
    }
    /// Live models by name.
    package var runners: [String: ModelRunner] { models.runners }
    /// Model names in the order they were added.
    package var modelNames: [String] { models.names }
    /// Names of the models the config file defines (set by the driver at start, by ``reload(_:restoring:)`` after).
    package var configuredNames: Set<String> {
        get { models.configuredNames }
        set { models.configuredNames = newValue }
    }
    /// Messages waiting for the publish socket, in order.
    package var outbox: [PublishedMessage] { publisher.outbox }
    /// The memory the running models take, as ``ModelFootprint`` estimates it.
    package var memoryInUse: Int { models.memoryInUse }
    /// Seconds since the engine started, to the millisecond.
    var uptime: Double { ((clock.monotonic() - startTime) * 1000).rounded() / 1000 }

    /// Hands every queued publish message to `send`, in order, and empties the queue.
    package func drainOutbox(_ send: (PublishedMessage) -> Void) { publisher.drain(send) }

    /// Publishes `{"v":1,"model":M,"event":E,"time":…,…fields}` on `event/M/` (`event/*/` for the daemon).
    package func publishEvent(model: String, event: String, fields: [(String, JSON)] = []) {
        publisher.publishEvent(model: model, event: event, fields: fields)
    }

    // MARK: Models

    /// Which limit a daemon running exactly `models` would break, with the figures; nil when they fit.
    package func limitViolation(after configurations: [ModelConfiguration]) -> ResourceLimitViolation? {
        models.limits.violation(by: configurations)
    }

    /// Whether `configuration` could be added now (no model of its name, within `[limits]`).
    func checkAdmission(_ configuration: ModelConfiguration) throws(ModelAdmissionError) {
        guard models[configuration.name] == nil else { throw .duplicate(configuration.name) }
        if let limit = models.admissionViolation(configuration) { throw .limit(limit) }
    }

    /// Adds a model (fresh, or resumed from `snapshot`). Its current state becomes its latest message,
    /// so late joiners get it at once, restored or not.
    /// `[limits]` are checked first, from the configuration alone: a model that would not fit is refused
    /// before anything is allocated.
    package func addModel(_ configuration: ModelConfiguration, restoring snapshot: ModelSnapshot? = nil) throws(ModelAdmissionError) {
        try checkAdmission(configuration)
        let runner: ModelRunner
        do {
            if let snapshot {
                runner = try ModelRunner(restoring: snapshot, windowSize: settings.window, clock: clock)
                // The config's hyper-parameters win over the checkpoint's (the resume rule has checked that
                // kind, shape, optimiser and prior are unchanged).
                if configuration != snapshot.model { try runner.reconfigure(configuration) }
            } else {
                runner = try ModelRunner(configuration: configuration, windowSize: settings.window, clock: clock)
            }
        } catch {
            throw .invalid(error)
        }
        runner.publishes(settings.pacing)
        models.insert(runner)
        if snapshot != nil { schedule.restored(runner) }
        publisher.publishState(runner, report: nil, sequence: runner.sequence)
        publisher.publishEvent(model: configuration.name, event: snapshot == nil ? "added" : "restored")
    }

    /// Removes a model; its final snapshot is due for a checkpoint (``dueCheckpoints()``).
    @discardableResult
    package func removeModel(_ name: String) -> ModelSnapshot? {
        guard let runner = models.remove(name) else { return nil }
        let snapshot = runner.snapshot(wallClock: clock.wall())
        schedule.removed(runner, finalSnapshot: snapshot)
        publisher.publishEvent(model: name, event: "removed")
        return snapshot
    }

    /// Applies a new configuration to an existing model (hyper-parameters only).
    package func reconfigureModel(_ configuration: ModelConfiguration) throws(CircuitError) {
        guard let runner = models[configuration.name] else { throw .incompatibleState("no model named \"\(configuration.name)\"") }
        guard runner.configuration != configuration else { return }
        try runner.reconfigure(configuration)
        publisher.publishEvent(model: configuration.name, event: "reconfigured")
    }

    /// Resets a model to its initial state — the one path for every cause (``ResetCause``). The coefficient
    /// message `publish.max_rate` held back describes the state before the reset and is dropped; the reset state
    /// goes out at once with the next seq, so no update from before a reset is ever published after it.
    package func resetModel(_ runner: ModelRunner, keepStatistics: Bool = false, cause: ResetCause) {
        runner.reset(keepStatistics: keepStatistics)
        publisher.publishReplacedState(runner)
        if cause == .request { publisher.publishEvent(model: runner.name, event: "reset") }
    }

    // MARK: Ingest

    /// Validates one ingest message and, when valid, buffers its rows and runs every update it
    /// completes, queueing a coefficient message per update. An invalid message changes nothing.
    @discardableResult
    package func handleSample(_ frames: [UnsafeRawBufferPointer]) -> Rejection? {
        tallies.messagesReceived += 1
        let decoded: DecodedSamples
        do {
            decoded = try decoder.decode(frames) { self.models[$0]?.shape }
        } catch {
            reject(error)
            return error
        }
        guard let runner = models[decoded.model] else { return nil }
        // A NaN or ±Inf in a binary float32 message is found by the pass that reads it (ModelRunner.ingest).
        let refused = runner.ingest(decoded) { report, nanoseconds in
            updateDurationObserver?(Int64(nanoseconds))
            guard !report.diverged else {
                noteDivergence(runner, report: report)
                return
            }
            tallies.updates += 1
            // The detector sees every update, published or paced out (publish.every / max_rate): its event names
            // the update's seq, or the last published one when this update's message was held back.
            let sequence = publisher.publishUpdate(runner, report: report) ?? runner.sequence
            if checkDrift(runner, report: report, sequence: sequence) { tallies.drifts += 1 }
        }
        if let refused {
            reject(refused)
            return refused
        }
        tallies.samplesReceived += decoded.rows
        return nil
    }

    /// A rolled-back update: nothing changed, so nothing is published but the news, once per episode.
    private func noteDivergence(_ runner: ModelRunner, report: UpdateReport) {
        tallies.divergences += 1
        guard runner.newlyDiverged else { return }
        publisher.publishEvent(model: runner.name, event: "diverged", fields: [
            ("step", .integer(Int64(runner.updates))),
            ("loss", .number(report.loss.isFinite ? report.loss : 0)),
            ("hint", .string("the update would have made the model non-finite and was rolled back; reset the model or set a smaller lr")),
        ])
        logger.error("model diverged; update rolled back", metadata: ["model": .wire(runner.name), "step": "\(runner.updates)"])
    }

    private func reject(_ rejection: Rejection) {
        tallies.rejected[rejection.reason, default: 0] += 1
        let key = rejection.model.flatMap { models[$0] != nil ? $0 : nil }
        if let key { models[key]?.rejected[rejection.reason, default: 0] += 1 }
        publisher.noteRejection(model: key ?? "*", reason: rejection.reason)
        // Rate-limited: the first of each (model, reason) is logged, then one line per interval. The key uses the
        // model name only when the model exists, so hostile names cannot grow the limiter.
        guard let suppressed = rejectionLog.admit("\(key ?? "*")/\(rejection.reason.rawValue)", now: clock.monotonic()) else { return }
        var metadata: Logger.Metadata = ["rejection.reason": .string(rejection.reason.rawValue), "error": .wire(rejection.detail)]
        if let model = rejection.model { metadata["model"] = .wire(model) }
        if suppressed > 0 { metadata["rejection.suppressed"] = "\(suppressed)" }
        logger.warning("sample rejected", metadata: metadata)
    }

    // MARK: Publish side

    /// A subscription frame from the XPUB socket: a new subscription to `coef/M/` (or any prefix of it) resends
    /// M's latest message, the last-value cache for late joiners (``Publisher``).
    package func handleSubscription(_ frame: UnsafeRawBufferPointer) {
        publisher.handleSubscription(frame, models: models.ordered)
    }

    /// Periodic work of the publish side: pending last-value resends, held-back coefficient messages whose
    /// interval has passed, rejection summaries and the heartbeat.
    package func tick() {
        publisher.tick(models: models.ordered, uptime: uptime, updates: tallies.updates)
    }

    /// Seconds until a held-back coefficient message is due (nil: none is held back), so that the driver polls
    /// no longer than that and the latest state goes out on time.
    package var heldBackDueIn: Double? { publisher.heldBackDueIn(models.runners.values) }

    // MARK: Control

    /// Serves one control request (a JSON object with `"cmd"`) through ``ControlHandler``. Always produces a
    /// reply (now or deferred), so the REP socket never wedges. A deferred reply (`checkpoint`, a durable change)
    /// is held by the handler until ``takeCheckpointReply()`` hands it out.
    package func handleControl(_ request: UnsafeRawBufferPointer) -> ControlOutcome {
        tallies.controlRequests += 1
        do {
            return try ControlHandler.serve(request, core: self)
        } catch {
            tallies.controlErrors += 1
            return .reply(control.failure(error.message, now: clock.monotonic(), logger: logger))
        }
    }

    /// A control request that is not one frame (the driver cannot hand it over): counted and answered like any
    /// other failed request.
    package func malformedControlRequest(frames: Int) -> [UInt8] {
        tallies.controlRequests += 1
        tallies.controlErrors += 1
        return control.failure("a request is one frame of JSON, not \(frames)", now: clock.monotonic(), logger: logger)
    }

    /// Whether a `checkpoint` reply or a change (``DurableChange``) waits for its writes (the control socket must
    /// not read meanwhile).
    package var awaitsCheckpointReply: Bool { control.checkpointWait != nil || control.durableChange != nil }

    /// The waiting `checkpoint` reply, or the reply of a change, once every write it waits for has finished or its
    /// deadline (measured with ``clock``) has passed; nil otherwise (and for a reload's change, which is finished
    /// here but has nobody to answer).
    package func takeCheckpointReply() -> [UInt8]? {
        let now = clock.monotonic()
        // Taken out of `control` before it runs: its finish writes the reply through the core.
        if let change = control.takeFinishedChange(now: now), let reply = change.finish(change.writes.problems) { return reply }
        return control.takeCheckpointReply(now: now)
    }

    /// A connection event the driver read from a socket monitor: counted, and logged rate-limited per socket and
    /// event (a peer address from the connection, escaped). Closed connections are where a frame over
    /// `limits.max_message_bytes` shows up: libzmq drops such a frame by closing the connection.
    package func handleConnectionEvent(socket: String, event: ConnectionEvent, peer: String?) {
        tallies.connections[ConnectionEventKey(socket: socket, event: event), default: 0] += 1
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
}
