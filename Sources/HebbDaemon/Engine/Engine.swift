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
    /// A reload's checkpoint look-ups are done (on the file thread): apply it with the checkpoints found.
    case reloadLookedUp(DaemonConfiguration, CheckpointLookups)
    /// A control `add`'s checkpoint look-up is done: add the model (resumed from the snapshot found) and reply, or
    /// refuse it (learned state it cannot take over).
    case addLookedUp(ModelConfiguration, Result<ModelSnapshot?, ResumeRefusal>)
}

/// The checkpoints the file thread looked up for models added at run time, by model name.
package struct CheckpointLookups: Sendable {
    /// Every model looked up, found or not.
    package var searched: Set<String> = []
    /// The newest usable checkpoint of each model that has one.
    package var found: [String: ModelSnapshot] = [:]
    /// Models whose learned state can neither be resumed nor discarded implicitly (incompatible, unreadable).
    package var refused: [String: ResumeRefusal] = [:]

    package init() {}
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
    /// Called while the journal is replayed at start, before READY=1: once as it begins, then about every second
    /// (`records` replayed so far), so that systemd can be asked for more start-up time.
    func engineReplaying(records: Int)
}

extension EngineObserver {
    package func engineCheckpointed(model: String, path: String) {}
    package func engineReplaying(records: Int) {}
}

/// The engine: **one thread owns every ZeroMQ socket** (docs/ARCHITECTURE.md, "Threads") and runs a `zmq_poll` loop over
/// ingest (PULL, plus optional SUB taps), control (REP), publish (XPUB) and an `inproc://` PAIR on
/// which the rest of the process wakes it with ``EngineCommand``s. It is a dedicated `Thread`, not a
/// Swift concurrency task, because `zmq_poll` blocks.
package final class Engine: Sendable {
    /// How long shutdown waits for the final checkpoints (systemd is asked for this and more: ``EngineService/stopAllowance``).
    package static let finalCheckpointTimeout: Duration = .seconds(60)
    struct Shared {
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
    /// Models started with `--reset-model`: their learned state is discarded, the journal's records of it included.
    private let resetModels: Set<String>
    let logger: Logger
    let observer: (any EngineObserver)?
    let checkpointer: CheckpointWriter?
    let metrics: DaemonMetrics?
    /// The run-time state (models added, removed, set at run time), kept across restarts.
    let runtimeState: RuntimeStateKeeper?
    /// The thread that reads files for the engine (checkpoint look-ups, the reloaded config file).
    let files = BlockingWorker(name: "hebbd-files")
    private let wakeEndpoint: String
    private let shared = Mutex(Shared())

    /// An engine for `configuration`; models start from their snapshot when one is given.
    package init(configuration: DaemonConfiguration, models: [(ModelConfiguration, ModelSnapshot?)], resetModels: Set<String> = [],
                checkpointer: CheckpointWriter? = nil, observer: (any EngineObserver)? = nil,
                metrics: DaemonMetrics? = nil, runtimeState: RuntimeStateKeeper? = nil,
                logger: Logger = Logger(label: "hebbd.engine")) throws {
        context = try Context(ioThreads: 1)
        self.configuration = configuration
        self.initialModels = models
        self.resetModels = resetModels
        self.logger = logger
        self.observer = observer
        self.checkpointer = checkpointer
        self.metrics = metrics
        self.runtimeState = runtimeState
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

    /// Wakes the engine loop without a command: the journal's sync thread after each sync, so that the
    /// acknowledgements it made durable leave at once instead of at the next poll timeout.
    package func wake() {
        shared.withLock { state in _ = try? state.waker?.send([UInt8(1)], flags: .dontWait) }
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

    struct Sockets {
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
        if checkpointer != nil {
            core.schedule.enabled = true
            core.looksUpCheckpoints = true
        }
        if let runtimeState {
            // Stored before the reply goes out: an acknowledged add/set/remove survives a crash.
            core.runtimeChange = { change in
                switch change {
                case let .running(model): runtimeState.recordRunning(model)
                case let .removed(name): runtimeState.recordRemoved(name)
                }
            }
            core.valueSources = { runtimeState.sources(of: $0) }
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
                // Nobody is subscribed during the replay: its updates leave their messages unencoded (EngineLoop
                // keeps this on; the XPUB socket reports every subscription).
                core.publisher.encodesOnlyForSubscribers = true
                do {
                    journal = try EngineJournal(stateDirectory: checkpointer.store.directory, configuration: configuration, core: core,
                                                snapshots: Dictionary(initialModels.map { ($0.0.name, $0.1) }, uniquingKeysWith: { a, _ in a }),
                                                discarded: resetModels, logger: logger,
                                                progress: { [observer] in observer?.engineReplaying(records: $0) },
                                                onDurable: { [weak self] in self?.wake() })
                } catch {
                    for s in sockets.all { s.close() }
                    throw EngineError.failed("journal: \(error)")
                }
                // The replay runs under the configuration the daemon starts with: a run-time change is checkpointed
                // before it is acknowledged, so no record is ever replayed under values it was not learned with.
                core.durableChanges = true
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
            files.stop()
            markStopped()
            started(.failure(error))
            return
        } catch {
            files.stop()
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
        let loop = EngineLoop(engine: self, core: core, sockets: sockets, journal: journal)
        loop.flushOutbox()
        observer?.engineReady(endpoints)
        started(.success(endpoints))
        loop.run()
        journal?.close()
        files.stop()
        for s in sockets.all { s.close() }
        shared.withLock { $0.waker?.close(); $0.waker = nil }
        context.terminate()
        observer?.engineStopped()
        markStopped()
    }

    /// Queues a read of the config file at `path` on the file thread, which calls `completion` with the
    /// configuration or why it was refused: SIGHUP's reload never reads the disk in async code.
    package func readConfiguration(at path: String, completion: @escaping @Sendable (Result<DaemonConfiguration, any Error>) -> Void) {
        files.submit { completion(Result { try DaemonConfiguration.load(path: path) }) }
    }

    /// Looks up the newest usable checkpoint of each of `models` on the file thread, adds them to `lookups`, and
    /// sends the engine the command `then` makes of the result. The same rule as at start: learned state that cannot
    /// be resumed (incompatible, unreadable) goes to `refused` unless `reset` (`add` with `"reset": true`). The
    /// writer's unwritten snapshot of a model comes first: `remove` then `add` resumes from the final state.
    func lookUpCheckpoints(of models: [ModelConfiguration], into lookups: CheckpointLookups, reset: Bool = false,
                           then command: @escaping @Sendable (CheckpointLookups) -> EngineCommand) {
        let checkpointer = self.checkpointer, logger = self.logger
        files.submit { [self] in
            var result = lookups
            for model in models {
                result.searched.insert(model.name)
                guard let checkpointer else { continue }
                do throws(ResumeRefusal) {
                    if let snapshot = try checkpointer.store.resumable(model, resetRequested: reset, unwritten: checkpointer.unwritten(model: model.name),
                                                                        logger: logger) {
                        result.found[model.name] = snapshot
                    }
                } catch {
                    result.refused[model.name] = error
                }
            }
            send(command(result))
        }
    }

    /// The commands queued since the last call (engine thread).
    func takeCommands() -> [EngineCommand] {
        shared.withLock { state in
            defer { state.commands.removeAll() }
            return state.commands
        }
    }

    /// The loop ended on its own: `failure` says why.
    func recordFailure(_ why: String) { shared.withLock { $0.failure = why } }

    private func markStopped() {
        let waiters = shared.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stopped = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for w in waiters { w.resume() }
    }
}
