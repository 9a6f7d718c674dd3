import HebbianRegression

/// The publish side of the engine: everything that becomes a message on the XPUB socket.
///
/// It owns the outbox (messages the driver sends, in order), the coefficient encoder, the last-value resends to
/// late joiners, the pacing of `publish.every` / `publish.max_rate` (``PublishPacing``), the `hb/` heartbeat, the
/// per-second rejection summaries and the `event/M/` events, whose payloads are typed ``JSON`` values. It decides
/// nothing about learning: ``EngineCore`` hands it models and reports.
///
/// No work for nobody (``encodesOnlyForSubscribers``, which the daemon's driver turns on: its XPUB socket reports
/// every subscription): a coefficient message is encoded only while some subscription matches its topic. Otherwise
/// the update leaves a ``DeferredPublication`` (report, seq, time) and the model's state stays at hand: the
/// message is encoded on demand — a late joiner's last-value resend, `snapshot` — or just before anything changes
/// that state, so it is byte for byte what encoding at once would have produced. Everything observable stays as
/// it was: a deferred message counts as published (XPUB would have dropped it) and holds off the heartbeat.
/// Events (`event/…`, `hb/`) are small JSON and are always encoded.
package final class Publisher {
    /// Messages waiting for the publish socket, in order; the driver empties it with ``drain(_:)``.
    package private(set) var outbox: [PublishedMessage] = []
    /// Messages handed to the outbox so far (deferred coefficient messages included: see the type's comment).
    package private(set) var published = 0
    /// Coefficient messages encoded so far (at once or on demand): what the lazy encoding saves shows here.
    package private(set) var encoded = 0
    /// Distinct topics with a live subscription (subscribe minus unsubscribe messages seen by XPUB).
    package var subscriptions: Int { subscribedTopics.count }
    /// `publish.every` and `publish.max_rate` (a reload changes them).
    package var pacing: PublishPacing
    /// Seconds of publish silence before a heartbeat (0: none; a reload changes it).
    package var heartbeat: Double
    /// Whether coefficient messages whose topic no subscription matches are deferred instead of encoded. Only a
    /// driver that hands every XPUB subscription frame to ``handleSubscription(_:models:)`` may turn it on; off,
    /// every message is encoded and queued (a bare core's outbox has a reader: whoever drains it).
    package var encodesOnlyForSubscribers = false

    private let clock: EngineClock
    private var encoder: PublishEncoder
    private var lastPublish: Double = 0
    private var subscribedTopics: Set<[UInt8]> = []
    /// Rises with every subscription change, so that each runner works out again whether one matches its topic.
    private var subscriptionGeneration = 0
    /// Whether a subscription went untracked (over ``maximumTrackedTopics``): then any topic may have a
    /// subscriber, and every message is encoded at once.
    private var untrackedSubscriptions = false
    private var pendingRejections: [String: [RejectionReason: Int]] = [:]
    private var lastRejectionSummary: Double = 0

    /// Least time between two last-value resends of one model.
    static let resendInterval = 0.1
    /// Distinct subscribed topics tracked for the gauge (a bound against hostile subscription floods).
    static let maximumTrackedTopics = 100_000

    /// A publisher with an empty outbox.
    package init(format: PublishFormat, pacing: PublishPacing, heartbeat: Double, clock: EngineClock) {
        encoder = PublishEncoder(format: format)
        self.pacing = pacing
        self.heartbeat = heartbeat
        self.clock = clock
    }

    /// Hands every queued message to `send`, in order, and empties the queue.
    package func drain(_ send: (PublishedMessage) -> Void) {
        for message in outbox { send(message) }
        outbox.removeAll(keepingCapacity: true)
    }

    // MARK: Coefficient messages

    /// The coefficient message of an update, unless `publish.every` skips it or `publish.max_rate` holds it back.
    /// Returns its seq when it went out.
    func publishUpdate(_ runner: ModelRunner, report: UpdateReport) -> UInt64? {
        if publishesEveryUpdate {
            let sequence = runner.nextSequence()
            publishState(runner, report: report, sequence: sequence)
            return sequence
        }
        let now = clock.monotonic()
        switch pacing.decide(step: runner.updates, now: now, state: runner.pacing) {
        case .skip:
            return nil
        case .holdBack:
            runner.pacing.heldBack = PublishPacing.HeldBack(report: report)
            return nil
        case .publish:
            runner.pacing.heldBack = nil
            runner.pacing.lastPublished = now
            let sequence = runner.nextSequence()
            publishState(runner, report: report, sequence: sequence)
            return sequence
        }
    }

    /// Whether every update gets its coefficient message (neither `publish.every` nor `publish.max_rate` paces).
    private var publishesEveryUpdate: Bool { pacing.every == 1 && pacing.maxRate == 0 }

    /// A new state that replaces whatever the model learnt before (a reset): the message `max_rate` held back
    /// describes the old state and must never follow it, so it is dropped; the new state goes out at once with
    /// the next seq.
    func publishReplacedState(_ runner: ModelRunner) {
        runner.pacing.heldBack = nil
        publishState(runner, report: nil, sequence: runner.nextSequence())
    }

    /// Encodes, caches (last-value cache) and queues a coefficient message of `runner` — or, when no subscription
    /// matches its topic, records it for encoding on demand (``DeferredPublication``).
    func publishState(_ runner: ModelRunner, report: UpdateReport?, sequence: UInt64) {
        let time = clock.wall()
        runner.resendPending = false
        // The encoder's buffer is the previous message's storage; dropping that message first (it has been sent and
        // is being replaced) lets the encoder write over it instead of allocating a second one (a 4096×64 JSON
        // message is ~3 MB).
        runner.latest = nil
        runner.deferred = DeferredPublication(report: report, sequence: sequence, time: time)
        guard mayHaveSubscriber(runner) else {
            if runner.encodeDeferred == nil {
                runner.encodeDeferred = { [weak self] runner, beforeUpdate in
                    // An update publishes (and so replaces the deferred message) unless `publish.every` or
                    // `publish.max_rate` may pace it out: then the message is encoded before the state moves on.
                    guard let self, !beforeUpdate || !self.publishesEveryUpdate else { return }
                    self.encodeDeferred(runner)
                }
            }
            countPublished()
            return
        }
        encodeDeferred(runner)
        enqueue(runner.latest!)
    }

    /// Encodes `runner`'s deferred message (if any) into its last-value cache, from the state at hand.
    private func encodeDeferred(_ runner: ModelRunner) {
        guard let deferred = runner.deferred else { return }
        runner.deferred = nil
        runner.latest = encoder.encode(runner, report: deferred.report, sequence: deferred.sequence, time: deferred.time)
        runner.latestTime = deferred.time
        encoded += 1
    }

    /// The last-value cache of `runner`, encoded now if it was deferred (nil before its first message).
    package func latestMessage(of runner: ModelRunner) -> PublishedMessage? {
        encodeDeferred(runner)
        return runner.latest
    }

    /// Whether some live subscription is a prefix of `runner`'s topic (worked out once per subscription change).
    private func mayHaveSubscriber(_ runner: ModelRunner) -> Bool {
        if !encodesOnlyForSubscribers || untrackedSubscriptions { return true }
        if runner.subscriberCheck.generation != subscriptionGeneration {
            let topic = runner.topic
            let subscribed = (0...topic.count).contains { subscribedTopics.contains(Array(topic[0..<$0])) }
            runner.subscriberCheck = (subscriptionGeneration, subscribed)
        }
        return runner.subscriberCheck.subscribed
    }

    /// The `snapshot` control reply's coefficient message: the latest published one in JSON format, else the
    /// latest state re-encoded with the coefficients inline.
    func inlineSnapshot(of runner: ModelRunner) -> [UInt8] {
        if encoder.format == .json, let json = latestMessage(of: runner)?.json { return json }
        encodeDeferred(runner)   // its time is the reply's
        return encoder.encode(runner, report: runner.lastReport, sequence: runner.sequence, time: runner.latestTime,
                              forceInlineCoefficients: true).json
    }

    /// Seconds until a held-back coefficient message is due (nil: none is held back).
    func heldBackDueIn(_ models: some Sequence<ModelRunner>) -> Double? {
        guard pacing.maxRate > 0 else { return nil }
        let now = clock.monotonic(), interval = pacing.interval
        var soonest: Double?
        for runner in models where runner.pacing.heldBack != nil {
            let due = max(0, runner.pacing.lastPublished + interval - now)
            soonest = min(soonest ?? due, due)
        }
        return soonest
    }

    // MARK: Subscriptions and last-value resends

    /// A subscription frame from the XPUB socket (byte 1 = subscribe, 0 = unsubscribe, then the topic
    /// prefix). A new subscription to `coef/M/` (or any prefix of it) resends M's latest message.
    func handleSubscription(_ frame: UnsafeRawBufferPointer, models: [ModelRunner]) {
        guard frame.count >= 1 else { return }
        let prefix = Array(frame.dropFirst())
        // XPUB passes every subscribe (verbose: each late joiner must trigger a resend) but an unsubscribe only
        // when a topic's last subscriber leaves, once however often it was subscribed: so the gauge counts the
        // distinct topics with a subscriber, which both kinds of message keep exact.
        // The same set decides which coefficient messages are encoded at once (see the type's comment).
        guard frame[0] == 1 else {
            if frame[0] == 0, subscribedTopics.remove(prefix) != nil { subscriptionGeneration += 1 }
            return
        }
        if subscribedTopics.count < Self.maximumTrackedTopics || subscribedTopics.contains(prefix) {
            if subscribedTopics.insert(prefix).inserted { subscriptionGeneration += 1 }
        } else {
            untrackedSubscriptions = true
        }
        for runner in models where runner.latest != nil || runner.deferred != nil {
            if prefix.count <= runner.topic.count, runner.topic.starts(with: prefix) { requestResend(runner) }
        }
    }

    /// The last-value resend, conflated: at once if the model's last resend is older than ``resendInterval``,
    /// else once when it is (``tick(models:uptime:updates:)``). A client subscribing in a loop therefore costs at
    /// most one copy of each model's latest message per interval; every joiner still gets the latest value within
    /// the interval. A new update satisfies a pending resend (it reaches every subscriber).
    private func requestResend(_ runner: ModelRunner) {
        let now = clock.monotonic()
        if now - runner.lastResend >= Self.resendInterval, let latest = latestMessage(of: runner) {
            runner.lastResend = now
            runner.resendPending = false
            enqueue(latest)
        } else {
            runner.resendPending = true
        }
    }

    // MARK: Periodic work

    /// Pending last-value resends, coefficient messages `publish.max_rate` held back whose interval has passed,
    /// rejection summaries on `event/…` and the `hb/` heartbeat when idle.
    func tick(models: [ModelRunner], uptime: Double, updates: Int) {
        let now = clock.monotonic()
        if pacing.maxRate > 0 {
            let interval = pacing.interval
            for runner in models {
                guard let held = runner.pacing.heldBack, now - runner.pacing.lastPublished >= interval else { continue }
                runner.pacing.heldBack = nil
                runner.pacing.lastPublished = now
                publishState(runner, report: held.report, sequence: runner.nextSequence())
            }
        }
        for runner in models where runner.resendPending { requestResend(runner) }
        if !pendingRejections.isEmpty && now - lastRejectionSummary >= 1 {
            for (model, counts) in pendingRejections.sorted(by: { $0.key < $1.key }) {
                let sorted = counts.sorted { $0.key.rawValue < $1.key.rawValue }
                publishEvent(model: model, event: "rejected",
                             fields: [("counts", .object(sorted.map { ($0.key.rawValue, .integer(Int64($0.value))) }))])
            }
            pendingRejections.removeAll()
            lastRejectionSummary = now
        }
        if heartbeat > 0 && now - lastPublish >= heartbeat {
            let body = JSON.object([("v", .integer(1)), ("time", .string(Timestamp.rfc3339(clock.wall()))),
                                    ("uptime", .number(uptime)), ("models", .integer(Int64(models.count))),
                                    ("updates", .integer(Int64(updates)))])
            enqueue(PublishedMessage(topic: Array("hb/".utf8), json: body.serialized))
        }
    }

    /// Counts a rejected message toward the next summary of `model` (`*` when the model does not exist).
    func noteRejection(model: String, reason: RejectionReason) {
        pendingRejections[model, default: [:]][reason, default: 0] += 1
    }

    // MARK: Events

    /// Publishes `{"v":1,"model":M,"event":E,"time":…,…fields}` on `event/M/` (`event/*/` for the daemon).
    package func publishEvent(model: String, event: String, fields: [(String, JSON)] = []) {
        let body = JSON.object([("v", .integer(1)), ("model", .string(model)), ("event", .string(event)),
                                ("time", .string(Timestamp.rfc3339(clock.wall())))] + fields)
        enqueue(PublishedMessage(topic: Array("event/\(model)/".utf8), json: body.serialized))
    }

    private func enqueue(_ message: PublishedMessage) {
        outbox.append(message)
        countPublished()
    }

    private func countPublished() {
        published += 1
        lastPublish = clock.monotonic()
    }
}

/// A coefficient message published while nobody subscribed to its topic, not yet encoded: what it needs besides
/// the model's state (``Publisher``).
package struct DeferredPublication: Sendable {
    /// The update's report (nil: the state after a reset or restore, no loss to report).
    package var report: UpdateReport?
    /// Its `seq`.
    package var sequence: UInt64
    /// Its `time` (wall-clock seconds when it was published).
    package var time: Double
}
