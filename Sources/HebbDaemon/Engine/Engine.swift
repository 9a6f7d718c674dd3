import HebbCore
import Foundation
import HebbianRegression
import Logging
import Synchronization
import ZeroMQ

/// Requests from the rest of the process to the engine thread.
package enum EngineCommand: Sendable {
    /// Finish the message in hand, write final checkpoints, close the sockets and exit the loop.
    case stop
    /// Apply a new configuration (models added/removed/reconfigured); rejected whole if invalid.
    case reload(DaemonConfiguration)
    /// Write a checkpoint of every model now.
    case checkpoint
}

/// Endpoints as actually bound (a `tcp://127.0.0.1:*` in the config becomes a real port here).
package struct BoundEndpoints: Sendable, Equatable {
    package var ingest: String
    package var publish: String
    package var control: String
    /// The reliable ingest ROUTER's endpoint, when `endpoints.reliable` is set and the journal is on.
    package var reliable: String? = nil
}

/// Errors of the engine's start-up.
package enum EngineError: Error, CustomStringConvertible {
    /// A socket could not be created, configured, bound or connected.
    case socket(endpoint: String, role: String, underlying: ZeroMQError)
    /// A model could not be created from its configuration or snapshot.
    case model(name: String, underlying: ModelAdmissionError)
    /// The engine thread did not come up.
    case notStarted(String)
    /// The engine loop ended without being asked to.
    case failed(String)

    package var description: String {
        switch self {
        case let .socket(endpoint, role, underlying): return "cannot set up the \(role) socket on \(endpoint): \(underlying)"
        case let .model(name, underlying): return "model \"\(name)\": \(underlying)"
        case let .notStarted(why): return "engine did not start: \(why)"
        case let .failed(why): return "engine failed: \(why)"
        }
    }
}

/// Observer of the engine loop, called **on the engine thread** (so it must be cheap and thread-safe):
/// systemd's watchdog and status line, metrics, checkpoint scheduling hook in here.
package protocol EngineObserver: Sendable {
    /// Called on every loop iteration (at least every 100 ms).
    func engineLoopTick(_ core: EngineCore)
    /// Called once the sockets are bound and models loaded, before the first poll.
    func engineReady(_ endpoints: BoundEndpoints)
    /// Called after a reload was applied (`nil` error) or rejected.
    func engineReloaded(error: String?)
    /// Called when the loop has ended and final checkpoints are written.
    func engineStopped()
    /// Called after a checkpoint of `model` was written to `path`.
    func engineCheckpointed(model: String, path: String)
}

extension EngineObserver {
    package func engineCheckpointed(model: String, path: String) {}
}

/// The engine: **one thread owns every ZeroMQ socket** (docs/ARCHITECTURE.md, "Threads") and runs a `zmq_poll` loop over
/// ingest (PULL, plus optional SUB taps), control (REP), publish (XPUB) and an `inproc://` PAIR on
/// which the rest of the process wakes it with ``EngineCommand``s. It is a dedicated `Thread`, not a
/// Swift concurrency task, because `zmq_poll` blocks.
package final class Engine: Sendable {
    /// Received frames at least this large are freed as soon as the core is done with them (see `drain`).
    static let releasedFrameBytes = 64 * 1024

    private struct Shared {
        var commands: [EngineCommand] = []
        var waker: Socket?
        var stopped = false
        /// Why the loop ended other than by `.stop` (nil after a requested stop).
        var failure: String?
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let context: Context
    private let configuration: DaemonConfiguration
    private let initialModels: [(ModelConfiguration, ModelSnapshot?)]
    private let logger: Logger
    private let observer: (any EngineObserver)?
    private let checkpointer: CheckpointWriter?
    private let metrics: DaemonMetrics?
    private let wakeEndpoint: String
    private let shared = Mutex(Shared())

    /// An engine for `configuration`; models start from their snapshot when one is given.
    package init(configuration: DaemonConfiguration, models: [(ModelConfiguration, ModelSnapshot?)],
                checkpointer: CheckpointWriter? = nil, observer: (any EngineObserver)? = nil,
                metrics: DaemonMetrics? = nil, logger: Logger = Logger(label: "hebbd.engine")) throws {
        context = try Context(ioThreads: 1)
        self.configuration = configuration
        self.initialModels = models
        self.logger = logger
        self.observer = observer
        self.checkpointer = checkpointer
        self.metrics = metrics
        wakeEndpoint = "inproc://hebbd-engine-\(UInt(bitPattern: ObjectIdentifier(context).hashValue))"
    }

    /// Starts the engine thread and returns once every socket is bound (or throws why not).
    @discardableResult
    package func start() throws -> BoundEndpoints {
        let started = Mutex<Result<BoundEndpoints, EngineError>?>(nil)
        let semaphore = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            self.run { result in
                started.withLock { $0 = result }
                semaphore.signal()
            }
        }
        thread.name = "hebbd-engine"
        thread.stackSize = 8 << 20
        thread.start()
        semaphore.wait()
        let result = started.withLock { $0 }!
        let endpoints = try result.get()
        // Created inside the lock: a socket never leaves the lock's protection (sockets are not Sendable).
        try shared.withLock { state in
            let waker = try context.makeSocket(.pair, lingerMilliseconds: 0)
            try waker.connect(wakeEndpoint)
            state.waker = waker
        }
        return endpoints
    }

    /// Queues a command and wakes the engine thread. Safe from any thread; never blocks.
    package func send(_ command: EngineCommand) {
        shared.withLock { state in
            state.commands.append(command)
            _ = try? state.waker?.send([UInt8(1)], flags: .dontWait)
        }
    }

    /// Why the engine loop ended on its own (a failed poll), nil after a requested stop: a daemon whose
    /// engine died must exit non-zero so that systemd restarts it.
    package var failure: String? { shared.withLock { $0.failure } }

    /// Suspends until the engine loop has ended.
    package func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = shared.withLock { state -> Bool in
                if state.stopped { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Blocks the calling (non-async) thread until the loop has ended, at most `timeout` seconds.
    package func waitUntilStopped(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if shared.withLock({ $0.stopped }) { return true }
            usleep(10_000)
        }
        return false
    }

    // MARK: The engine thread

    private struct Sockets {
        let ingest: Socket, publish: Socket, control: Socket, wake: Socket
        var taps: [Socket]
        /// The reliable ingest ROUTER (`endpoints.reliable`, with the journal on).
        var reliable: Socket? = nil
        /// The ZAP handler (`inproc://zeromq.zap.01`) when CURVE is on, and the client keys it admits.
        var zap: Socket?
        var authorizedKeys: Set<String> = []
        /// PAIR sockets reading libzmq's monitor events of ingest and of control, with the socket each watches.
        var monitors: [(socket: String, pair: Socket)] = []

        var all: [Socket] { [ingest, publish, control, wake] + taps + (zap.map { [$0] } ?? []) + (reliable.map { [$0] } ?? []) + monitors.map(\.pair) }
    }

    private func makeSockets(_ endpoints: DaemonConfiguration.Endpoints, _ limits: DaemonConfiguration.Limits,
                             _ publishSettings: DaemonConfiguration.Publish, modelNames: [String]) throws(EngineError) -> Sockets {
        func attempt<T>(_ endpoint: String, _ role: String, _ body: () throws -> T) throws(EngineError) -> T {
            do { return try body() } catch let e as ZeroMQError { throw .socket(endpoint: endpoint, role: role, underlying: e) } catch {
                throw .notStarted("\(error)")
            }
        }
        let security = try attempt(configuration.security.secretKeyFile, "security") { try CurveServerKeys(configuration.security) }
        // libzmq asks the ZAP handler about every CURVE handshake; it must be bound before any CURVE socket.
        var zap: Socket?
        if let security {
            if security.authorizedKeys.isEmpty {
                logger.warning("CURVE is on but no client key is authorized: every client will be refused",
                               metadata: ["security.authorized_keys_dir": "\(configuration.security.authorizedKeysDir)"])
            }
            zap = try attempt("inproc://zeromq.zap.01", "ZAP handler") {
                let s = try context.makeSocket(.rep, lingerMilliseconds: 0)
                try s.bind("inproc://zeromq.zap.01")
                return s
            }
        }
        let ingest = try attempt(endpoints.ingest, "ingest") {
            let s = try context.makeSocket(.pull, lingerMilliseconds: 0)
            try s.set(.maxMessageSize, Int64(limits.maxMessageBytes))
            // Ingest has its own bound (not publish.hwm): at most ingest_hwm messages queued per producer.
            try s.set(.receiveHighWaterMark, Int32(clamping: limits.effectiveIngestHighWaterMark))
            try security?.apply(to: s)
            try s.bind(endpoints.ingest)
            return s
        }
        let publish = try attempt(endpoints.publish, "publish") {
            let s = try context.makeSocket(.xpub, lingerMilliseconds: 100)
            try s.set(.sendHighWaterMark, Int32(clamping: publishSettings.highWaterMark))
            // Every subscription reaches us, even a topic already subscribed by another peer: each
            // late joiner must trigger the last-value resend.
            try s.set(.xpubVerbose, true)
            try security?.apply(to: s)
            try s.bind(endpoints.publish)
            return s
        }
        let control = try attempt(endpoints.control, "control") {
            let s = try context.makeSocket(.rep, lingerMilliseconds: 100)
            // Up to max_message_bytes is read, so that a request over limits.max_inline_bytes gets an error reply
            // (the core refuses it before parsing) instead of a dropped connection.
            try s.set(.maxMessageSize, Int64(limits.maxMessageBytes))
            try security?.apply(to: s)
            try s.bind(endpoints.control)
            return s
        }
        let wake = try attempt(wakeEndpoint, "command") {
            let s = try context.makeSocket(.pair, lingerMilliseconds: 0)
            try s.bind(wakeEndpoint)
            return s
        }
        var taps: [Socket] = []
        for endpoint in endpoints.subscribe {
            taps.append(try attempt(endpoint, "subscribe tap") {
                let s = try context.makeSocket(.sub, lingerMilliseconds: 0)
                try s.set(.maxMessageSize, Int64(limits.maxMessageBytes))
                try s.set(.receiveHighWaterMark, Int32(clamping: limits.effectiveIngestHighWaterMark))
                for name in modelNames { try s.subscribe(name) }
                try s.connect(endpoint)
                return s
            })
        }
        // Connection events of the two sockets clients write to: accepted, closed (libzmq closes a connection that
        // sends a frame over max_message_bytes — otherwise invisible), failed handshakes.
        var monitors: [(socket: String, pair: Socket)] = []
        for (name, watched) in [("ingest", ingest), ("control", control)] {
            let endpoint = "\(wakeEndpoint)-monitor-\(name)"
            monitors.append((name, try attempt(endpoint, "\(name) monitor") {
                try watched.monitor(endpoint, events: [.accepted, .disconnected, .handshakeFailedProtocol, .handshakeFailedNoDetail, .handshakeFailedAuth])
                let pair = try context.makeSocket(.pair, lingerMilliseconds: 0)
                try pair.connect(endpoint)
                return pair
            }))
        }
        return Sockets(ingest: ingest, publish: publish, control: control, wake: wake, taps: taps,
                       zap: zap, authorizedKeys: security?.authorizedKeys ?? [], monitors: monitors)
    }

    private func run(started: (Result<BoundEndpoints, EngineError>) -> Void) {
        let core = EngineCore(configuration: configuration, logger: logger)
        if let checkpointer {
            core.schedule.enabled = true
            core.looksUpCheckpoints = true
        }
        if let metrics { core.updateDurationObserver = { metrics.recordUpdate(nanoseconds: $0) } }
        // Process-wide, and only the engine thread runs BLAS: set before the first product.
        BLASThreads.set(configuration.daemon.blasThreads)
        var sockets: Sockets
        var journal: EngineJournal?
        do {
            for (model, snapshot) in initialModels {
                do { try core.addModel(model, restoring: snapshot) } catch { throw EngineError.model(name: model.name, underlying: error) }
            }
            sockets = try makeSockets(configuration.endpoints, configuration.limits, configuration.publish, modelNames: core.modelNames)
            if configuration.journal.enabled, let checkpointer {
                do {
                    journal = try EngineJournal(stateDirectory: checkpointer.store.directory, configuration: configuration, core: core,
                                                snapshots: Dictionary(initialModels.map { ($0.0.name, $0.1) }, uniquingKeysWith: { a, _ in a }),
                                                logger: logger)
                } catch {
                    for s in sockets.all { s.close() }
                    throw EngineError.failed("journal: \(error)")
                }
                if !configuration.endpoints.reliable.isEmpty {
                    let endpoint = configuration.endpoints.reliable
                    do {
                        let s = try context.makeSocket(.router, lingerMilliseconds: 0)
                        try s.set(.maxMessageSize, Int64(configuration.limits.maxMessageBytes))
                        try s.set(.receiveHighWaterMark, Int32(clamping: configuration.limits.effectiveIngestHighWaterMark))
                        try s.bind(endpoint)
                        sockets.reliable = s
                    } catch let error as ZeroMQError {
                        for s in sockets.all { s.close() }
                        throw EngineError.socket(endpoint: endpoint, role: "reliable", underlying: error)
                    }
                }
            }
        } catch let error as EngineError {
            markStopped()
            started(.failure(error))
            return
        } catch {
            markStopped()
            started(.failure(.notStarted("\(error)")))
            return
        }
        let endpoints = BoundEndpoints(ingest: (try? sockets.ingest.lastEndpoint) ?? configuration.endpoints.ingest,
                                       publish: (try? sockets.publish.lastEndpoint) ?? configuration.endpoints.publish,
                                       control: (try? sockets.control.lastEndpoint) ?? configuration.endpoints.control,
                                       reliable: sockets.reliable.map { (try? $0.lastEndpoint) ?? configuration.endpoints.reliable })
        logger.info("engine listening", metadata: ["ingest": "\(endpoints.ingest)", "publish": "\(endpoints.publish)",
                                                   "control": "\(endpoints.control)", "reliable": "\(endpoints.reliable ?? "")", "models": "\(core.modelNames.joined(separator: ","))",
                                                   "kernels.isa": "\(StepKernels.current)", "products.threads": "\(BLASThreads.current)"])
        // The start-up messages (each model's initial state, "added"/"restored") go out before anyone can be
        // told the endpoints: a subscriber that connects later gets the state once, from the last-value
        // resend its subscription triggers, never a second copy from this first flush.
        flushOutbox(of: core, to: sockets.publish)
        observer?.engineReady(endpoints)
        started(.success(endpoints))
        loop(core: core, sockets: &sockets, journal: journal)
        journal?.close()
        for s in sockets.all { s.close() }
        shared.withLock { $0.waker?.close(); $0.waker = nil }
        context.terminate()
        observer?.engineStopped()
        markStopped()
    }

    /// Answers one ZAP request (RFC 27): admit a CURVE client whose package key is authorized.
    private func authenticate(_ zap: Socket, authorizedKeys: Set<String>, frames: inout [Message], refusalLog: inout LogRateLimiter) {
        guard let count = try? zap.receiveMultipart(into: &frames, dontWait: true), count >= 6 else { return }
        let requestID = frames[1].bytes
        let mechanism = frames[5].string
        var status = "400", text = "client key not authorized"
        var user = ""
        if mechanism == "CURVE", count >= 7, let key = try? Curve.z85Encode(frames[6].bytes), authorizedKeys.contains(key) {
            (status, text, user) = ("200", "OK", key)
        } else if let suppressed = refusalLog.admit(mechanism, now: EngineClock.system.monotonic()) {
            // Rate-limited like rejections: a client retrying its handshake in a loop costs a line per interval.
            var metadata: Logger.Metadata = ["peer.address": .wire(frames[3].string), "security.mechanism": .wire(mechanism),
                                             "reason": .string(text)]
            if suppressed > 0 { metadata["connection.suppressed"] = "\(suppressed)" }
            logger.warning("connection refused", metadata: metadata)
        }
        _ = try? zap.send(parts: [Array("1.0".utf8), requestID, Array(status.utf8), Array(text.utf8), Array(user.utf8), []], dontWait: true)
    }

    /// The newest usable checkpoint of a model added at run time (`add`, reload), so that a model that comes back
    /// resumes instead of starting over. Not strict: a run-time model never refuses, it starts afresh (and says why).
    private func lookUpCheckpoint(_ model: ModelConfiguration) -> ModelSnapshot? {
        guard let store = checkpointer?.store else { return nil }
        return (try? store.resumable(model, resetRequested: false, strict: false, logger: logger)) ?? nil
    }

    private func markStopped() {
        let waiters = shared.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stopped = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for w in waiters { w.resume() }
    }

    /// Sends the core's queued messages on the publish socket without blocking (XPUB drops for slow
    /// subscribers) and empties the queue.
    private func flushOutbox(of core: EngineCore, to publish: Socket) {
        core.drainOutbox { message in
            do {
                if let binary = message.binary {
                    _ = try publish.send(parts: [message.topic, message.json, binary], dontWait: true)
                } else {
                    _ = try publish.send(parts: [message.topic, message.json], dontWait: true)
                }
            } catch {
                logger.error("publish failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func loop(core: EngineCore, sockets: inout Sockets, journal: EngineJournal?) {
        let poller = Poller()
        let ingestIndex = poller.add(sockets.ingest)
        let controlIndex = poller.add(sockets.control)
        let publishIndex = poller.add(sockets.publish)
        let wakeIndex = poller.add(sockets.wake)
        let tapIndices = sockets.taps.map { poller.add($0) }
        let zapIndex = sockets.zap.map { poller.add($0) }
        let monitorIndices = sockets.monitors.map { poller.add($0.pair) }
        let reliableIndex = sockets.reliable.map { poller.add($0) }
        // Peer addresses by connection file descriptor, learnt when libzmq accepts the connection (the fd is
        // closed by the time its disconnect is reported).
        var peers: [String: [UInt32: String]] = [:]
        var refusalLog = LogRateLimiter(interval: 10)
        var frames: [Message] = []
        var framePointers: [UnsafeRawBufferPointer] = []
        var running = true
        // One poll wake-up reads ingest for at most `ingestBudget` (a clock read per message, ~25 ns) and at most
        // `ingestBurst` messages, then serves control, subscriptions and the outbox again: a backlog of big
        // messages delays a control reply by a few milliseconds, not by 512 messages' worth of updates.
        let ingestBurst = 512
        let ingestBudget = Duration.milliseconds(5)
        let clock = ContinuousClock()

        func drain(_ socket: Socket, tap: Bool) {
            let burstStart = clock.now
            for received in 0..<ingestBurst {
                if received > 0, burstStart.duration(to: clock.now) > ingestBudget { return }
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
                for i in 0..<count where frames[i].count >= Engine.releasedFrameBytes { frames[i].release() }
            }
        }

        func submitCheckpoint(_ snapshots: [ModelSnapshot]) {
            guard let checkpointer else { return }
            for snapshot in journal?.stamp(snapshots) ?? snapshots { _ = checkpointer.submit(snapshot) }
        }

        /// Reliable requests: routing id, then the request's frames (docs/PROTOCOL.md, "Reliable ingest").
        func drainReliable(_ socket: Socket, _ journal: EngineJournal) {
            let burstStart = clock.now
            for received in 0..<ingestBurst {
                if received > 0, burstStart.duration(to: clock.now) > ingestBudget { return }
                guard let count = try? socket.receiveMultipart(into: &frames, dontWait: true), count > 0 else { return }
                framePointers.removeAll(keepingCapacity: true)
                for i in 1..<count { framePointers.append(frames[i].unsafeBytes) }
                journal.receiveReliable(from: frames[0].bytes, framePointers, core: core)
                framePointers.removeAll(keepingCapacity: true)
                for i in 0..<count where frames[i].count >= Engine.releasedFrameBytes { frames[i].release() }
            }
        }

        func handleCheckpointResults() {
            guard let checkpointer else { return }
            for outcome in checkpointer.drainResults() {
                switch outcome.result {
                case let .success(written):
                    logger.info("checkpoint written", metadata: ["model": "\(outcome.model)", "checkpoint.path": "\(written.path)",
                                                                 "checkpoint.bytes": "\(written.bytes)", "checkpoint.seconds": "\(written.seconds)"])
                    metrics?.recordCheckpoint(model: outcome.model, seconds: written.seconds, bytes: written.bytes, wallClock: Timestamp.now())
                    observer?.engineCheckpointed(model: outcome.model, path: written.path)
                    core.checkpointWritten(model: outcome.model, path: written.path, updates: outcome.updates, taken: outcome.taken)
                    journal?.checkpointWritten(model: outcome.model, taken: outcome.taken, modelNames: core.modelNames)
                case let .failure(error):
                    logger.error("checkpoint failed", metadata: ["model": .wire(outcome.model), "error": .wire("\(error)", limit: 1000)])
                    metrics?.recordCheckpointFailure()
                    core.checkpointFailed(model: outcome.model, error: "\(error)", taken: outcome.taken)
                }
            }
            if let reply = core.takeCheckpointReply() { _ = try? sockets.control.send(reply, flags: .dontWait) }
        }

        while running {
            // A REP socket must answer before it reads again: while a checkpoint reply is pending the control
            // socket is parked, so a waiting request neither spins the loop nor gets read.
            poller.setEvents(core.awaitsCheckpointReply ? [] : .readable, at: controlIndex)
            // The writer thread does not wake the loop: poll briefly while a checkpoint reply is pending.
            var timeout = !core.outbox.isEmpty ? 0 : (core.awaitsCheckpointReply ? 5 : 100)
            // A message held back by publish.max_rate goes out when due, not at the next 100 ms wake-up.
            if let due = core.heldBackDueIn { timeout = min(timeout, Int((due * 1000).rounded(.up))) }
            if let journal {
                // A full journal pauses plain ingest (producers block at their HWM) until checkpoints free segments.
                let events: PollEvents = journal.isFull ? [] : .readable
                poller.setEvents(events, at: ingestIndex)
                for index in tapIndices { poller.setEvents(events, at: index) }
                // Replies wait for the journal thread's sync (`batch`): look again soon.
                if journal.pendingReplies > 0 { timeout = min(timeout, 2) }
            }
            do { _ = try poller.poll(timeoutMilliseconds: timeout) } catch {
                logger.critical("poll failed; stopping", metadata: ["error": "\(error)"])
                shared.withLock { $0.failure = "poll failed: \(error)" }
                break
            }
            if poller.isReadable(wakeIndex) {
                while (try? sockets.wake.receiveMultipart(into: &frames, dontWait: true)) ?? 0 > 0 {}
                let commands = shared.withLock { state -> [EngineCommand] in
                    defer { state.commands.removeAll() }
                    return state.commands
                }
                for command in commands {
                    switch command {
                    case .stop:
                        running = false
                    case let .reload(new):
                        var snapshots: [String: ModelSnapshot] = [:]
                        for model in core.modelsToAdd(by: new) { snapshots[model.name] = lookUpCheckpoint(model) }
                        switch core.reload(new, restoring: snapshots) {
                        case let .failure(rejection):
                            logger.error("reload rejected, the running configuration stays", metadata: ["model": .wire(rejection.model), "error": .wire(rejection.reason)])
                            observer?.engineReloaded(error: rejection.description)
                        case let .success(effects):
                            // New models need their names on every SUB tap.
                            for tap in sockets.taps { for name in effects.modelNames { try? tap.subscribe(name) } }
                            if let level = effects.logLevel {
                                DaemonLogging.setLogLevel(level)
                                logger.notice("log level changed", metadata: ["daemon.log_level": "\(level)"])
                            }
                            if let keep = effects.checkpointKeep { checkpointer?.store.setKeep(keep) }
                            if !effects.restartOnly.isEmpty {
                                logger.warning("reload: settings apply only after a restart", metadata: ["reload.restart_only": "\(effects.restartOnly.joined(separator: ","))"])
                            }
                            logger.info("reloaded", metadata: ["models": .wire(effects.modelNames.joined(separator: ","), limit: 2000)])
                            observer?.engineReloaded(error: nil)
                        }
                    case .checkpoint:
                        submitCheckpoint(core.checkpointAllModels())
                    }
                }
            }
            for ((name, pair), index) in zip(sockets.monitors, monitorIndices) where poller.isReadable(index) {
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
            if let zapIndex, let zap = sockets.zap, poller.isReadable(zapIndex) {
                authenticate(zap, authorizedKeys: sockets.authorizedKeys, frames: &frames, refusalLog: &refusalLog)
            }
            if poller.isReadable(publishIndex) {
                while let count = try? sockets.publish.receiveMultipart(into: &frames, dontWait: true), count > 0 {
                    core.handleSubscription(frames[0].unsafeBytes)
                }
            }
            if !core.awaitsCheckpointReply, poller.isReadable(controlIndex) {
                if let count = try? sockets.control.receiveMultipart(into: &frames, dontWait: true), count > 0 {
                    let outcome: ControlOutcome = count == 1
                        ? frames[0].withUnsafeBytes { core.handleControl($0) }
                        : .reply(core.malformedControlRequest(frames: count))
                    switch outcome {
                    case let .reply(bytes):
                        _ = try? sockets.control.send(bytes, flags: .dontWait)
                    case let .checkpoint(snapshots):
                        submitCheckpoint(snapshots)
                    case let .lookUpCheckpoint(model):
                        _ = try? sockets.control.send(core.completeAdd(model, restoring: lookUpCheckpoint(model)), flags: .dontWait)
                    }
                }
            }
            // Ingest last: a subscription or control request that was waiting is served before the next
            // burst of updates, so it waits for the update in hand at most, not for one more burst.
            if poller.isReadable(ingestIndex) { drain(sockets.ingest, tap: false) }
            for (tap, index) in zip(sockets.taps, tapIndices) where poller.isReadable(index) { drain(tap, tap: true) }
            if let journal {
                if let reliable = sockets.reliable, let reliableIndex, poller.isReadable(reliableIndex) { drainReliable(reliable, journal) }
                if journal.takeForcedCheckpoint() { submitCheckpoint(core.checkpointAllModels()) }
                // Group commit: one sync (with `always`) for the whole burst, then the acknowledgements it made durable.
                journal.flushReplies { peer, reply in _ = try? sockets.reliable?.send(parts: [peer, reply], dontWait: true) }
            }
            submitCheckpoint(core.dueCheckpoints())
            handleCheckpointResults()
            core.tick()
            observer?.engineLoopTick(core)
            flushOutbox(of: core, to: sockets.publish)
        }
        // Shutdown: the message in hand is done; write every model's final state and wait for it.
        if let checkpointer {
            submitCheckpoint(core.finalCheckpoints())
            if !checkpointer.flush(timeout: .seconds(60)) { logger.error("final checkpoints did not finish", metadata: ["timeout.seconds": "60"]) }
            handleCheckpointResults()
        }
        core.publishEvent(model: "*", event: "stopping")
        flushOutbox(of: core, to: sockets.publish)
    }
}
