import Logging

/// What the engine driver must do with a control request.
package enum ControlOutcome {
    /// Send this reply now.
    case reply([UInt8])
    /// Write these snapshots to disk, then reply (the core stays free of I/O; the driver owns the
    /// checkpoint writer, and the core's ``CheckpointWait`` — for a change, its ``DurableChange`` — says when the
    /// reply is complete, through ``EngineCore/takeCheckpointReply()``).
    case checkpoint([ModelSnapshot])
    /// Look for this model's checkpoint off the engine thread (a disk read), then finish the `add` with
    /// ``EngineCore/completeAdd(_:lookedUp:)``, whose result is the outcome. `reset`: `add` with `"reset": true`, the
    /// explicit way to discard learned state the model cannot resume (incompatible, unreadable).
    case lookUpCheckpoint(ModelConfiguration, reset: Bool)
}

/// A control failure, with the text for the reply.
package struct ControlError: Error, Sendable {
    /// The `error` of the reply.
    package var message: String
    init(_ message: String) { self.message = message }
}

/// One control request: its JSON object and its `cmd`.
package struct ControlRequest {
    /// The whole request.
    package let json: JSON
    /// Its `cmd`.
    package let command: String

    /// The request's member `key`.
    package subscript(key: String) -> JSON? { json[key] }

    /// The model the request names in `"model"`.
    func model(in models: ModelRegistry) throws(ControlError) -> ModelRunner {
        guard let name = json["model"]?.string else { throw ControlError("\(command) needs \"model\"") }
        guard let runner = models[name] else { throw ControlError("no model named \"\(name)\"") }
        return runner
    }
}

/// One control command: its name, one line of help, and its handler. The handler writes its members into the
/// `{"ok":true,…}` reply, or returns a deferred outcome (a checkpoint, a checkpoint look-up).
package struct ControlCommand: Sendable {
    /// The `cmd` value.
    package let name: String
    /// What it does.
    package let help: String
    /// Serves one request on the engine thread.
    /// (Declared `throws`: closure literals do not infer a typed throw yet; each handler throws only ``ControlError``.)
    let run: @Sendable (EngineCore, ControlRequest, inout JSONWriter) throws -> ControlOutcome?
}

/// The control socket's protocol: parses a request, finds its command in ``commands`` (the one list of them,
/// from which the error messages naming the commands are derived too), runs it, and answers every request —
/// `{"ok":true,…}` or `{"ok":false,"error":"…"}` — so that the REP socket never wedges. It also holds the
/// pending `checkpoint` reply (``CheckpointWait``) and rate-limits the log lines of failed requests.
package struct ControlHandler {
    /// Every control command, in the order listings name them.
    package static let commands: [ControlCommand] = [
        ControlCommand(name: "status", help: "counters, memory and each model's progress") { core, _, w in
            core.writeStatus(&w); return nil
        },
        ControlCommand(name: "models", help: "each model's configuration") { core, _, w in
            core.writeModels(&w); return nil
        },
        ControlCommand(name: "snapshot", help: "a model's latest coefficient message, coefficients inline, and its statistics") { core, request, w in
            try core.writeSnapshot(request, &w); return nil
        },
        ControlCommand(name: "predict", help: "predictions for rows \"x\" with the published coefficients") { core, request, w in
            try core.writePrediction(request, &w); return nil
        },
        ControlCommand(name: "checkpoint", help: "write a checkpoint of one model or all, reply when written") { core, request, _ in
            try core.requestCheckpoint(request)
        },
        ControlCommand(name: "reset", help: "a model back to its initial state") { core, request, _ in
            try core.resetCommand(request)
        },
        ControlCommand(name: "set", help: "change a model's hyper-parameters (\(EngineCore.settableKeys.joined(separator: ", ")))") { core, request, _ in
            try core.setCommand(request)
        },
        ControlCommand(name: "add", help: "add a model from its table (resumed from its checkpoints when compatible)") { core, request, _ in
            try core.addCommand(request)
        },
        ControlCommand(name: "remove", help: "remove a model (its final state is checkpointed)") { core, request, _ in
            try core.removeCommand(request)
        },
    ]

    /// The commands' names as the error messages list them.
    static let commandList = "(\(commands.map(\.name).joined(separator: ", ")))"

    /// The `checkpoint` request whose reply waits for its writes (the control socket is parked meanwhile).
    package internal(set) var checkpointWait: CheckpointWait?
    /// The change (a control command's or a reload's) that waits for its checkpoints before it is acknowledged;
    /// ingest is held meanwhile (``DurableChange``).
    package internal(set) var durableChange: DurableChange?
    private var failureLog: LogRateLimiter

    /// A handler whose failure log admits a line per `reportInterval` seconds.
    init(reportInterval: Double) { failureLog = LogRateLimiter(interval: reportInterval) }

    /// Parses and serves one request. Throws the reply's error for a request that fails.
    static func serve(_ bytes: UnsafeRawBufferPointer, core: EngineCore) throws(ControlError) -> ControlOutcome {
        let maximum = core.settings.maxInlineBytes
        guard bytes.count <= maximum else {
            throw ControlError("a request of \(bytes.count) bytes exceeds limits.max_inline_bytes = \(maximum)")
        }
        let json: JSON
        do { json = try JSONParser.parse(bytes) } catch { throw ControlError("request is not JSON: \(error)") }
        guard json.object != nil else { throw ControlError("request must be a JSON object with \"cmd\"") }
        guard let name = json["cmd"]?.string else { throw ControlError("missing \"cmd\" \(commandList)") }
        guard let command = commands.first(where: { $0.name == name }) else {
            throw ControlError("unknown cmd \"\(name)\" \(commandList)")
        }
        var w = JSONWriter(capacity: 512)
        w.beginObject()
        w.key("ok"); w.bool(true)
        let deferred: ControlOutcome?
        do { deferred = try command.run(core, ControlRequest(json: json, command: name), &w) } catch {
            throw error as? ControlError ?? ControlError("\(error)")
        }
        if let deferred { return deferred }
        w.endObject()
        return .reply(w.bytes)
    }

    /// The reply to a failed request, logged rate-limited.
    mutating func failure(_ message: String, now: Double, logger: Logger) -> [UInt8] {
        if let suppressed = failureLog.admit("control", now: now) {
            var metadata: Logger.Metadata = ["error": .wire(message)]
            if suppressed > 0 { metadata["control.suppressed"] = "\(suppressed)" }
            logger.notice("control request failed", metadata: metadata)
        }
        return JSON.object([("ok", .bool(false)), ("error", .string(message))]).serialized
    }

    /// Records a checkpoint write's outcome in whatever waits for it.
    mutating func record(model: String, taken: Double, result: CheckpointWait.WriteResult) {
        checkpointWait?.record(model: model, taken: taken, result: result)
        durableChange?.writes.record(model: model, taken: taken, result: result)
    }

    /// The durable change whose writes have finished or whose deadline has passed at monotonic time `now` (the
    /// wait ends; the caller runs its ``DurableChange/finish``); nil while it still waits, or when none does.
    mutating func takeFinishedChange(now: Double) -> DurableChange? {
        guard let change = durableChange, change.writes.isComplete || change.writes.isExpired(now: now) else { return nil }
        durableChange = nil
        return change
    }

    /// The waiting `checkpoint` reply once it is complete or its deadline has passed at monotonic time `now`
    /// (the wait ends); nil while it still waits, or when none does.
    mutating func takeCheckpointReply(now: Double) -> [UInt8]? {
        guard let wait = checkpointWait, wait.isComplete || wait.isExpired(now: now) else { return nil }
        checkpointWait = nil
        return wait.reply()
    }
}
