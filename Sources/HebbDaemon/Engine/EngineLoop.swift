import HebbCore
import HebbianRegression
import Logging
import ZeroMQ

/// The engine thread's poll loop over the sockets of one ``Engine``: each wake-up runs the commands from the rest
/// of the process, reads the sockets (connection events, ZAP, subscriptions, control, ingest last), hands due
/// checkpoints to the writer, runs the core's periodic work and flushes its outbox. Each step is one method.
///
/// Lives and dies on the engine thread; it owns the sockets' poll set and the receive buffers.
final class EngineLoop {
    private let engine: Engine
    private let core: EngineCore
    private let sockets: Engine.Sockets
    /// The write-ahead journal (`[journal] enabled` with a state directory): ingest is journaled before it is learned.
    private let journal: EngineJournal?
    private let logger: Logger
    private let poller: Poller
    private let indices: Indices
    /// Receive buffers, reused by every read.
    private var frames: [Message] = []
    private var framePointers: [UnsafeRawBufferPointer] = []
    /// Peer addresses by socket and connection file descriptor, learnt when libzmq accepts the connection (the fd
    /// is closed by the time its disconnect is reported).
    private var peers: [String: [UInt32: String]] = [:]
    private var refusalLog = LogRateLimiter(interval: 10)
    /// An `add` whose checkpoint look-up runs on the file thread: the control socket is parked until it is done.
    private var addAwaitingLookup = false
    /// Reloads that arrived while a change was being made durable: applied once it is (one change at a time).
    private var deferredReloads: [EngineCommand] = []
    private var running = true

    /// One poll wake-up reads ingest for at most `ingestBudget` (a clock read per message, ~25 ns) and at most
    /// `ingestBurst` messages, then serves control, subscriptions and the outbox again: a backlog of big messages
    /// delays a control reply by a few milliseconds, not by 512 messages' worth of updates.
    private static let ingestBurst = 512
    private static let ingestBudget = Duration.milliseconds(5)
    /// Received frames at least this large are freed as soon as the core is done with them (see ``drain(_:tap:)``).
    static let releasedFrameBytes = 64 * 1024

    private struct Indices {
        var ingest, control, publish, wake: Int
        var taps: [Int]
        var zap: Int?
        var monitors: [Int]
        var reliable: Int?
    }

    init(engine: Engine, core: EngineCore, sockets: Engine.Sockets, journal: EngineJournal?) {
        self.engine = engine
        self.core = core
        self.sockets = sockets
        self.journal = journal
        core.journalStatus = journal?.status
        logger = engine.logger
        // The XPUB socket (verbose) hands every subscription to the core (readSubscriptions), so the core knows
        // which topics have a reader and may leave the others' coefficient messages unencoded until asked.
        core.publisher.encodesOnlyForSubscribers = true
        let poller = Poller()
        self.poller = poller
        indices = Indices(ingest: poller.add(sockets.ingest), control: poller.add(sockets.control), publish: poller.add(sockets.publish),
                          wake: poller.add(sockets.wake), taps: sockets.taps.map { poller.add($0) },
                          zap: sockets.zap.map { poller.add($0) }, monitors: sockets.monitors.map { poller.add($0.pair) },
                          reliable: sockets.reliable.map { poller.add($0) })
    }

    /// Runs until a `.stop` command or a failed poll, then writes the final checkpoints.
    func run() {
        while running, poll() {
            if poller.isReadable(indices.wake) || (!deferredReloads.isEmpty && !core.holdsIngest) { runCommands() }
            readConnectionEvents()
            if let index = indices.zap, let zap = sockets.zap, poller.isReadable(index) { authenticate(zap) }
            if poller.isReadable(indices.publish) { readSubscriptions() }
            serveControl()
            // Ingest last: a subscription or control request that was waiting is served before the next
            // burst of updates, so it waits for the update in hand at most, not for one more burst.
            if poller.isReadable(indices.ingest) { drain(sockets.ingest, tap: false) }
            for (tap, index) in zip(sockets.taps, indices.taps) where poller.isReadable(index) { drain(tap, tap: true) }
            if let journal { serveReliable(journal) }
            // An idle model is rewritten at the interval when its checkpoint keeps sealed segments from deletion.
            submit(core.dueCheckpoints { journal?.holdsBackDeletion($0) ?? false })
            collectCheckpointResults()
            core.tick()
            if let journal { core.journalStatus = journal.status }
            engine.observer?.engineLoopTick(core)
            flushOutbox()
        }
        shutDown()
    }

    // MARK: Steps

    /// Waits for the next readable socket or timeout; false when polling failed (the engine then stops).
    private func poll() -> Bool {
        // A REP socket must answer before it reads again: while a reply is deferred (a checkpoint, a look-up) the
        // control socket is parked, so a waiting request neither spins the loop nor gets read.
        poller.setEvents(controlParked ? [] : .readable, at: indices.control)
        // The writer thread does not wake the loop: poll briefly while a checkpoint reply is pending.
        var timeout = !core.outbox.isEmpty ? 0 : (core.awaitsCheckpointReply ? 5 : 100)
        // A message held back by publish.max_rate goes out when due, not at the next 100 ms wake-up.
        if let due = core.heldBackDueIn { timeout = min(timeout, Int((due * 1000).rounded(.up))) }
        if let journal {
            // A full journal pauses plain ingest (producers block at their HWM) until checkpoints free segments; a
            // change being made durable (DurableChange) pauses every ingest path until its checkpoints are written.
            let held = core.holdsIngest
            let events: PollEvents = journal.isFull || held ? [] : .readable
            poller.setEvents(events, at: indices.ingest)
            for index in indices.taps { poller.setEvents(events, at: index) }
            if let index = indices.reliable { poller.setEvents(held ? [] : .readable, at: index) }
            // Replies waiting for the journal thread's sync (`batch`) need no polling: it wakes the loop after each.
        }
        do { _ = try poller.poll(timeoutMilliseconds: timeout) } catch {
            logger.critical("poll failed; stopping", metadata: ["error": "\(error)"])
            engine.recordFailure("poll failed: \(error)")
            return false
        }
        return true
    }

    private var controlParked: Bool { core.awaitsCheckpointReply || addAwaitingLookup }

    /// The commands other threads queued (``Engine/send(_:)``).
    private func runCommands() {
        while (try? sockets.wake.receiveMultipart(into: &frames, dontWait: true)) ?? 0 > 0 {}
        var commands = engine.takeCommands()
        if !core.holdsIngest, !deferredReloads.isEmpty {
            commands.insert(contentsOf: deferredReloads, at: 0)
            deferredReloads.removeAll()
        }
        for command in commands {
            switch command {
            case .reload, .reloadLookedUp:
                // One change at a time: a reload waits for the durable change in hand (its checkpoints are stamped
                // with the position of that change, and its run-time state is stored after it).
                if core.holdsIngest { deferredReloads.append(command); continue }
            default: break
            }
            switch command {
            case .stop:
                running = false
            case let .reload(file):
                // The same rule as at start: the file wins for what it changed, run-time changes stay otherwise.
                reload(engine.runtimeState?.reconcile(file) ?? file, lookups: CheckpointLookups())
            case let .reloadLookedUp(configuration, lookups):
                reload(configuration, lookups: lookups)
            case let .addLookedUp(model, lookedUp):
                addAwaitingLookup = false
                carryOut(core.completeAdd(model, lookedUp: lookedUp))
            case .checkpoint:
                submit(core.checkpointAllModels())
            }
        }
    }

    /// Applies a reloaded configuration once the checkpoints of the models it adds have been looked up (on the
    /// file thread: this asks for them and returns, and the look-up comes back as ``EngineCommand/reloadLookedUp(_:_:)``).
    private func reload(_ configuration: DaemonConfiguration, lookups: CheckpointLookups) {
        if core.looksUpCheckpoints {
            let missing = core.modelsToAdd(by: configuration).filter { !lookups.searched.contains($0.name) }
            if !missing.isEmpty {
                engine.lookUpCheckpoints(of: missing, into: lookups) { .reloadLookedUp(configuration, $0) }
                return
            }
        }
        if let (name, refusal) = lookups.refused.min(by: { $0.key < $1.key }) {
            // A model the reload would add holds learned state it cannot take over: rejected whole, like a start.
            logger.error("reload rejected, the running configuration stays", metadata: ["model": .wire(name), "error": .wire(refusal.description)])
            engine.observer?.engineReloaded(error: refusal.description)
            return
        }
        switch core.reload(configuration, restoring: lookups.found) {
        case let .failure(rejection):
            logger.error("reload rejected, the running configuration stays", metadata: ["model": .wire(rejection.model), "error": .wire(rejection.reason)])
            engine.observer?.engineReloaded(error: rejection.description)
        case let .success(effects):
            // Stored once the models' new states are written (DurableChange), so a crash never pairs the new
            // run-time state with a checkpoint from before the reload.
            let runtimeState = engine.runtimeState
            submit(core.finishReload { runtimeState?.commitReload() })
            apply(effects)
            logger.info("reloaded", metadata: ["models": .wire(effects.modelNames.joined(separator: ","), limit: 2000)])
            engine.observer?.engineReloaded(error: nil)
        }
    }

    /// Carries out what a reload changed outside the core.
    private func apply(_ effects: ReloadEffects) {
        // New models need their names on every SUB tap.
        for tap in sockets.taps { for name in effects.modelNames { try? tap.subscribe(name) } }
        if let level = effects.logLevel {
            DaemonLogging.setLogLevel(level)
            logger.notice("log level changed", metadata: ["daemon.log_level": "\(level)"])
        }
        if let keep = effects.checkpointKeep { engine.checkpointer?.store.setKeep(keep) }
        if !effects.restartOnly.isEmpty {
            logger.warning("reload: settings apply only after a restart", metadata: ["reload.restart_only": "\(effects.restartOnly.joined(separator: ","))"])
        }
    }

    /// Connection events of the two sockets clients write to: accepted, closed (libzmq closes a connection that
    /// sends a frame over max_message_bytes — otherwise invisible), failed handshakes.
    private func readConnectionEvents() {
        for ((name, pair), index) in zip(sockets.monitors, indices.monitors) where poller.isReadable(index) {
            while let count = try? pair.receiveMultipart(into: &frames, dontWait: true), count > 0 {
                guard let event = SocketEvent(frames: frames, count: count) else { continue }
                if event.event == .accepted {
                    let peer = SocketEvent.peerAddress(fileDescriptor: Int32(bitPattern: event.value))
                    if peers[name, default: [:]].count < 65_536 { peers[name, default: [:]][event.value] = peer }
                    core.handleConnectionEvent(socket: name, event: .accepted, peer: peer)
                } else if event.event == .disconnected {
                    core.handleConnectionEvent(socket: name, event: .disconnected, peer: peers[name]?.removeValue(forKey: event.value))
                } else {
                    core.handleConnectionEvent(socket: name, event: .handshakeFailed, peer: nil)   // the value is an error code
                }
            }
        }
    }

    /// Answers one ZAP request (RFC 27): admit a CURVE client whose public key is authorized.
    private func authenticate(_ zap: Socket) {
        guard let count = try? zap.receiveMultipart(into: &frames, dontWait: true), count >= 6 else { return }
        let requestID = frames[1].bytes
        let mechanism = frames[5].string
        var status = "400", text = "client key not authorized"
        var user = ""
        if mechanism == "CURVE", count >= 7, let key = try? Curve.z85Encode(frames[6].bytes), sockets.authorizedKeys.contains(key) {
            (status, text, user) = ("200", "OK", key)
        } else if let suppressed = refusalLog.admit(mechanism, now: core.clock.monotonic()) {
            // Rate-limited like rejections: a client retrying its handshake in a loop costs a line per interval.
            var metadata: Logger.Metadata = ["peer.address": .wire(frames[3].string), "security.mechanism": .wire(mechanism),
                                             "reason": .string(text)]
            if suppressed > 0 { metadata["connection.suppressed"] = "\(suppressed)" }
            logger.warning("connection refused", metadata: metadata)
        }
        _ = try? zap.send(parts: [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), Array(user.utf8), []], dontWait: true)
    }

    private func readSubscriptions() {
        while let count = try? sockets.publish.receiveMultipart(into: &frames, dontWait: true), count > 0 {
            core.handleSubscription(frames[0].unsafeBytes)
        }
    }

    /// One control request, answered now or deferred (a checkpoint's writes, an `add`'s checkpoint look-up).
    private func serveControl() {
        guard !controlParked, poller.isReadable(indices.control),
              let count = try? sockets.control.receiveMultipart(into: &frames, dontWait: true), count > 0 else { return }
        carryOut(count == 1 ? frames[0].withUnsafeBytes { core.handleControl($0) } : .reply(core.malformedControlRequest(frames: count)))
    }

    /// What a control request's handling asked for: a reply now, checkpoint writes before the reply, or an `add`'s
    /// checkpoint look-up.
    private func carryOut(_ outcome: ControlOutcome) {
        switch outcome {
        case let .reply(bytes):
            _ = try? sockets.control.send(bytes, flags: .dontWait)
        case let .checkpoint(snapshots):
            submit(snapshots)
        case let .lookUpCheckpoint(model, reset):
            addAwaitingLookup = true
            engine.lookUpCheckpoints(of: [model], into: CheckpointLookups(), reset: reset) { lookups in
                .addLookedUp(model, lookups.refused[model.name].map { .failure($0) } ?? .success(lookups.found[model.name]))
            }
        }
    }

    /// Reads one socket's ingest messages, within the burst limits, into the core.
    private func drain(_ socket: Socket, tap: Bool) {
        let clock = ContinuousClock()
        let burstStart = clock.now
        for received in 0..<Self.ingestBurst {
            if received > 0, burstStart.duration(to: clock.now) > Self.ingestBudget { return }
            let count: Int
            do { count = try socket.receiveMultipart(into: &frames, dontWait: true) } catch {
                logger.error("ingest receive failed", metadata: ["error": "\(error)"])
                return
            }
            if count == 0 { return }
            framePointers.removeAll(keepingCapacity: true)
            for i in 0..<count { framePointers.append(frames[i].unsafeBytes) }
            // A SUB tap's prefix filter `m1` also lets `m10` through; such messages are not ours
            // (another shard's) and are dropped silently rather than counted as rejections.
            let ours = !tap || String(validating: framePointers[0], as: UTF8.self).map { core.runners[$0] != nil } ?? true
            if ours {
                // Journaled before it is learned (docs/JOURNAL.md): what the engine took is replayed after a crash.
                journal?.journalPlain(framePointers)
                core.handleSample(framePointers)
            }
            // The core has learnt from or copied the rows: free a large frame now rather than at the next
            // receive, so a batch-sized message is not held while the next one is allocated beside it (one
            // 4096×64 batch is 17 MB; Benchmarks/README.md, memory).
            framePointers.removeAll(keepingCapacity: true)
            for i in 0..<count where frames[i].count >= Self.releasedFrameBytes { frames[i].release() }
        }
    }

    /// The reliable ROUTER's requests (within the burst limits), a forced checkpoint when the journal is full, then
    /// the group commit: one sync (with `always`) for the whole burst, and the acknowledgements it made durable.
    private func serveReliable(_ journal: EngineJournal) {
        if let reliable = sockets.reliable, let index = indices.reliable, poller.isReadable(index) { drainReliable(reliable, journal) }
        if journal.takeForcedCheckpoint() { submit(core.checkpointAllModels()) }
        journal.flushReplies { peer, reply in _ = try? sockets.reliable?.send(parts: [peer, reply], dontWait: true) }
    }

    /// Reads reliable requests: routing id, then the request's frames (docs/PROTOCOL.md, "Reliable ingest").
    private func drainReliable(_ socket: Socket, _ journal: EngineJournal) {
        let clock = ContinuousClock()
        let burstStart = clock.now
        for received in 0..<Self.ingestBurst {
            if received > 0, burstStart.duration(to: clock.now) > Self.ingestBudget { return }
            guard let count = try? socket.receiveMultipart(into: &frames, dontWait: true), count > 0 else { return }
            framePointers.removeAll(keepingCapacity: true)
            for i in 1..<count { framePointers.append(frames[i].unsafeBytes) }
            journal.receiveReliable(from: frames[0].bytes, framePointers, core: core)
            framePointers.removeAll(keepingCapacity: true)
            for i in 0..<count where frames[i].count >= Self.releasedFrameBytes { frames[i].release() }
        }
    }

    // MARK: Checkpoints

    /// Hands snapshots to the writer, stamped with the journal coverage they will record.
    private func submit(_ snapshots: [ModelSnapshot]) {
        guard let checkpointer = engine.checkpointer else { return }
        for snapshot in journal?.stamp(snapshots) ?? snapshots { _ = checkpointer.submit(snapshot) }
    }

    /// Logs, counts and reports to the core each finished write; sends a `checkpoint` reply once it is complete.
    private func collectCheckpointResults() {
        guard let checkpointer = engine.checkpointer else { return }
        for outcome in checkpointer.drainResults() {
            switch outcome.result {
            case let .success(written):
                logger.info("checkpoint written", metadata: ["model": "\(outcome.model)", "checkpoint.path": "\(written.path)",
                                                             "checkpoint.bytes": "\(written.bytes)", "checkpoint.seconds": "\(written.seconds)"])
                engine.metrics?.recordCheckpoint(model: outcome.model, seconds: written.seconds, bytes: written.bytes, wallClock: core.clock.wall())
                engine.observer?.engineCheckpointed(model: outcome.model, path: written.path)
                core.checkpointWritten(model: outcome.model, path: written.path, updates: outcome.updates, taken: outcome.taken)
                journal?.checkpointWritten(model: outcome.model, taken: outcome.taken, modelNames: core.modelNames)
            case let .failure(error):
                logger.error("checkpoint failed", metadata: ["model": .wire(outcome.model), "error": .wire("\(error)", limit: 1000)])
                engine.metrics?.recordCheckpointFailure()
                core.checkpointFailed(model: outcome.model, error: "\(error)", taken: outcome.taken)
                journal?.checkpointFailed(model: outcome.model, taken: outcome.taken)
            }
        }
        if let reply = core.takeCheckpointReply() { _ = try? sockets.control.send(reply, flags: .dontWait) }
    }

    /// Shutdown: the message in hand is done; write every model's final state and wait for it.
    private func shutDown() {
        if let checkpointer = engine.checkpointer {
            submit(core.finalCheckpoints())
            if !checkpointer.flush(timeout: Engine.finalCheckpointTimeout) {
                logger.error("final checkpoints did not finish", metadata: ["timeout.seconds": "\(Engine.finalCheckpointTimeout.components.seconds)"])
            }
            collectCheckpointResults()
        }
        core.publishEvent(model: "*", event: "stopping")
        flushOutbox()
    }

    /// Sends the core's queued messages on the publish socket without blocking (XPUB drops for slow
    /// subscribers) and empties the queue.
    func flushOutbox() {
        let publish = sockets.publish
        core.drainOutbox { message in
            do {
                _ = try publish.send(parts: message.frames, dontWait: true)
            } catch {
                logger.error("publish failed", metadata: ["error": "\(error)"])
            }
        }
    }
}
