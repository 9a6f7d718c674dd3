import HebbianRegression

/// The handlers of the control commands (``ControlHandler/commands`` lists them): each reads the request, acts
/// through the core's one path for that action, and writes its reply members.
extension EngineCore {
    /// The model keys `set` may change live: hyper-parameters that do not change what W means.
    static let settableKeys = ["lr", "lmbda", "l1_ratio", "threshold", "epochs", "intercept_lr",
                               "noise_std", "uncertainty_level", "prior"]

    // MARK: Reading

    /// `status`: counters, connections, memory and each model's progress.
    func writeStatus(_ w: inout JSONWriter) {
        let counters = self.counters
        w.key("version"); w.string(HebbdVersion.current)
        w.key("uptime"); w.double(uptime)
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
        w.key("models_bytes"); w.int(models.memoryInUse)
        w.key("limit_bytes"); w.int(settings.maxMemoryBytes)
        w.key("models"); w.int(models.runners.count)
        w.key("max_models"); w.int(settings.maxModels)
        w.endObject()
        if let journalStatus { w.key("journal"); journalStatus.write(&w) }
        w.key("models")
        w.beginObject()
        for r in models.ordered {
            w.key(r.name)
            w.beginObject()
            w.key("step"); w.int(r.updates)
            w.key("samples"); w.int(r.samples)
            w.key("seq"); w.int(r.sequence)
            w.key("loss"); if let l = r.lastReport?.loss { w.double(l) } else { w.null() }
            w.key("prequential_mse"); if let p = r.prequentialMSE { w.double(p) } else { w.null() }
            w.key("buffered"); w.int(r.pendingRows)
            w.key("batch_size"); w.int(r.configuration.batchSize)
            w.key("rejected"); Self.writeCounts(r.rejected, &w)
            w.key("diverged"); w.bool(r.diverged)
            w.key("divergences"); w.int(r.divergences)
            w.key("gaps"); w.int(r.gaps)
            w.key("sequence_resets"); w.int(r.sequenceResets)
            w.key("drifts"); w.int(r.drift?.drifts ?? 0)
            w.key("last_drift_step"); if let step = r.drift?.lastDriftStep { w.int(step) } else { w.null() }
            w.endObject()
        }
        w.endObject()
    }

    /// `models`: every model's description.
    func writeModels(_ w: inout JSONWriter) {
        w.key("models")
        w.beginArray()
        for r in models.ordered { writeModelDescription(r, &w) }
        w.endArray()
    }

    /// `snapshot`: the latest coefficient message with the coefficients inline (and a model's uncertainty arrays),
    /// and the standardisation in force.
    func writeSnapshot(_ request: ControlRequest, _ w: inout JSONWriter) throws(ControlError) {
        let runner = try request.model(in: models)
        let c = runner.configuration.circuit
        try checkReply(values: c.weightCount * (runner.configuration.publishesUncertainty ? 4 : 1), "snapshot of \(c.dictDim)×\(c.sysDim) coefficients",
                       hint: "subscribe to coef/\(runner.name)/ with publish.format = \"binary\", or read a checkpoint")
        w.key("snapshot")
        w.raw(publisher.inlineSnapshot(of: runner))
        if let xm = runner.circuit?.xMoments, let ym = runner.circuit?.yMoments {
            // What standardisation is in force: the running mean and population variance of every column.
            w.key("statistics")
            w.beginObject()
            w.key("count"); w.int(xm.count)
            w.key("x_mean"); w.beginArray(); for v in xm.mean { w.double(v) }; w.endArray()
            w.key("x_var"); w.beginArray(); for j in 0..<xm.columns { w.double(xm.variance(j)) }; w.endArray()
            w.key("y_mean"); w.beginArray(); for v in ym.mean { w.double(v) }; w.endArray()
            w.key("y_var"); w.beginArray(); for k in 0..<ym.columns { w.double(ym.variance(k)) }; w.endArray()
            w.endObject()
        } else if let model = runner.bayesian, c.standardize {
            // A bayesian model standardises by its (weighted) statistics: the same members from them.
            let m = model.moments, d = c.dictDim
            w.key("statistics")
            w.beginObject()
            w.key("count"); w.int(m.count)
            w.key("x_mean"); w.beginArray(); for j in 0..<d { w.double(m.mean[j]) }; w.endArray()
            w.key("x_var"); w.beginArray(); for j in 0..<d { w.double(m.variance(j)) }; w.endArray()
            w.key("y_mean"); w.beginArray(); for k in 0..<c.sysDim { w.double(m.mean[d + k]) }; w.endArray()
            w.key("y_var"); w.beginArray(); for k in 0..<c.sysDim { w.double(m.variance(d + k)) }; w.endArray()
            w.endObject()
        }
    }

    /// `predict`: `y` for the rows `x`, with the published (thresholded) coefficients: the model consumers see. A
    /// bayesian model answers with its posterior predictive mean and `y_std` (noise included), from Double rows.
    func writePrediction(_ request: ControlRequest, _ w: inout JSONWriter) throws(ControlError) {
        let runner = try request.model(in: models)
        let c = runner.configuration.circuit
        guard let x = request["x"] else { throw ControlError("predict needs \"x\" (rows of dict_dim numbers)") }
        switch runner.learner {
        case let .circuit(circuit):
            let rows: (rows: Int, values: [Float])
            do { rows = try SampleDecoder.matrix(x, name: "x", columns: c.dictDim, rowsHint: nil, model: runner.name) } catch {
                throw ControlError(error.detail)
            }
            try checkReply(values: rows.rows * c.sysDim, "predict of \(rows.rows) rows", hint: "send fewer rows per request")
            let y: [Float]
            do { y = try rows.values.withUnsafeBufferPointer { try circuit.predict(x: $0, rows: rows.rows, thresholded: true) } } catch {
                throw ControlError("\(error)")
            }
            w.key("y")
            y.withUnsafeBufferPointer { w.matrix($0, rows: rows.rows, columns: c.sysDim) }
            guard let statistics = runner.uncertainty else { return }
            // `uncertainty = true`: the relaxed refit's predictive std, noise included (centred at the refit, as
            // its intervals are; docs/MATH.md §11), from the rows in Double.
            let wide: (rows: Int, values: [Double])
            do { wide = try SampleDecoder.matrix(x, name: "x", columns: c.dictDim, rowsHint: nil, model: runner.name, as: Double.self) } catch {
                throw ControlError(error.detail)
            }
            let std = (try? wide.values.withUnsafeBufferPointer { try statistics.predict(of: circuit, x: $0, rows: wide.rows) })?.std
                ?? [Double](repeating: .nan, count: wide.rows * c.sysDim)   // too few rows for the refit yet: null
            writeRows("y_std", std, rows: wide.rows, columns: c.sysDim, &w)
        case let .bayesian(model):
            let rows: (rows: Int, values: [Double])
            do { rows = try SampleDecoder.matrix(x, name: "x", columns: c.dictDim, rowsHint: nil, model: runner.name, as: Double.self) } catch {
                throw ControlError(error.detail)
            }
            try checkReply(values: 2 * rows.rows * c.sysDim, "predict of \(rows.rows) rows", hint: "send fewer rows per request")
            let predicted: (mean: [Double], std: [Double])
            do { predicted = try rows.values.withUnsafeBufferPointer { try model.predict(x: $0, rows: rows.rows) } } catch {
                throw ControlError("\(error)")
            }
            // Doubles in full (shortest round-trip): the predictive distribution is the point of asking.
            writeRows("y", predicted.mean, rows: rows.rows, columns: c.sysDim, &w)
            writeRows("y_std", predicted.std, rows: rows.rows, columns: c.sysDim, &w)
        }
    }

    /// `key`: rows × columns Doubles as rows of numbers (a non-finite one as null).
    private func writeRows(_ key: String, _ values: [Double], rows: Int, columns: Int, _ w: inout JSONWriter) {
        w.key(key)
        w.beginArray()
        for r in 0..<rows {
            w.beginArray()
            for k in 0..<columns { w.double(values[r * columns + k]) }
            w.endArray()
        }
        w.endArray()
    }

    // MARK: Acting

    /// `checkpoint`: the snapshots to write (one model's, or every model's, which restarts the interval).
    func requestCheckpoint(_ request: ControlRequest) throws(ControlError) -> ControlOutcome {
        guard schedule.enabled else { throw ControlError("checkpoints are disabled") }
        let snapshots: [ModelSnapshot]
        if request["model"] != nil {
            let runner = try request.model(in: models)
            schedule.markSubmitted(runner)
            snapshots = [runner.snapshot(wallClock: clock.wall())]
        } else {
            snapshots = checkpointAllModels()
        }
        control.checkpointWait = CheckpointWait(snapshots: snapshots, now: clock.monotonic())
        return .checkpoint(snapshots)
    }

    /// `reset`: the model back to its initial state, through ``resetModel(_:keepStatistics:cause:)``; durable before
    /// the reply (``finishChange(snapshots:_:reply:)``).
    func resetCommand(_ request: ControlRequest) throws(ControlError) -> ControlOutcome {
        let runner = try request.model(in: models)
        // The standardisation statistics describe the stream, not the model: `"keep_statistics": true` keeps
        // them so the reset model learns in a well-scaled space from its first batch; by default a reset is
        // a fresh start, as for a new model.
        let keep: Bool
        switch request["keep_statistics"] {
        case nil: keep = false
        case let .bool(b)?: keep = b
        case let other?: throw ControlError("\"keep_statistics\" must be true or false, not \(other.typeName)")
        }
        resetModel(runner, keepStatistics: keep, cause: .request)
        return finishChange(snapshots: changeSnapshot(runner), nil) { _, w in w.key("model"); w.string(runner.name) }
    }

    /// `set`: new hyper-parameters, checked like a reload's (``reconfigureRefusal(_:to:)``) and against `[limits]`;
    /// durable before the reply (``finishChange(snapshots:_:reply:)``).
    func setCommand(_ request: ControlRequest) throws(ControlError) -> ControlOutcome {
        let runner = try request.model(in: models)
        // The new values go through the config decoder, so `set` accepts exactly what a config file would
        // (types, ranges, error messages) and nothing else.
        guard case var .table(table) = runner.configuration.configValue else { throw ControlError("internal: model table") }
        var changed: [String] = []
        for (key, value) in request.json.object! where key != "cmd" && key != "model" {
            guard Self.settableKeys.contains(key) else {
                throw ControlError("set cannot change \"\(key)\" (\(Self.settableKeys.joined(separator: ", ")))")
            }
            do { table[key] = try ConfigValue(json: value, source: "control request") } catch { throw ControlError("\(error)") }
            changed.append(key)
        }
        guard !changed.isEmpty else { throw ControlError("set needs at least one of \(Self.settableKeys.joined(separator: ", "))") }
        let new: ModelConfiguration
        do { new = try ModelConfiguration.decode(.table(table), source: "control request") } catch { throw ControlError("\(error)") }
        if let why = models.reconfigureRefusal(runner, to: new) { throw ControlError(why) }
        // `epochs` 1 → 2 adds the divergence guard's copies: the model must still fit, as for `add` and a reload.
        if let limit = models.violation(replacing: new) { throw ControlError(limit.description) }
        do { try runner.reconfigure(new) } catch { throw ControlError("\(error)") }
        publisher.publishEvent(model: runner.name, event: "set", fields: [("changed", .array(changed.map { .string($0) }))])
        return finishChange(snapshots: changeSnapshot(runner), .running(new)) { core, w in w.key("model"); core.writeModelDescription(runner, &w) }
    }

    /// `add`: a new model from its table; resumed from its checkpoints when the driver looks them up (off the
    /// engine thread: the outcome asks for the look-up, ``completeAdd(_:lookedUp:)`` finishes).
    func addCommand(_ request: ControlRequest) throws(ControlError) -> ControlOutcome {
        guard let table = request["model"], table.object != nil else { throw ControlError("add needs \"model\": a model table as a JSON object") }
        let configuration: ModelConfiguration
        do { configuration = try ModelConfiguration.decode(json: table, source: "control request") } catch {
            throw ControlError("\(error)")
        }
        let reset: Bool
        switch request["reset"] {
        case nil: reset = false
        case let .bool(b)?: reset = b
        case let other?: throw ControlError("\"reset\" must be true or false, not \(other.typeName)")
        }
        if looksUpCheckpoints {
            // Refused now if it cannot be added whatever its checkpoints hold: no disk read for nothing.
            do { try checkAdmission(configuration) } catch { throw ControlError("\(error)") }
            return .lookUpCheckpoint(configuration, reset: reset)
        }
        do { try addModel(configuration) } catch { throw ControlError("\(error)") }
        return addedModel(configuration)
    }

    /// Finishes an `add` whose checkpoint look-up is done: a refusal (learned state that cannot be resumed and may
    /// not be discarded implicitly) is the reply's error and nothing changes; otherwise the model is added (resumed
    /// from the snapshot found, when there is one), durable before the reply.
    package func completeAdd(_ configuration: ModelConfiguration, lookedUp: Result<ModelSnapshot?, ResumeRefusal>) -> ControlOutcome {
        do {
            try addModel(configuration, restoring: lookedUp.get())
        } catch {
            tallies.controlErrors += 1
            return .reply(control.failure("\(error)", now: clock.monotonic(), logger: logger))
        }
        return addedModel(configuration)
    }

    /// The end of a successful `add`: the new model's state is checkpointed at this journal position (so a replay
    /// never teaches it what came before it), then the change is stored and answered (``finishChange(snapshots:_:reply:)``).
    private func addedModel(_ configuration: ModelConfiguration) -> ControlOutcome {
        let runner = models[configuration.name]!
        return finishChange(snapshots: changeSnapshot(runner), .running(configuration)) { core, w in
            w.key("model"); core.writeModelDescription(runner, &w)
        }
    }

    /// `remove`: the model goes; its final state is checkpointed (with ``durableChanges``, before the reply, so an
    /// `add` right after it resumes from that state).
    func removeCommand(_ request: ControlRequest) throws(ControlError) -> ControlOutcome {
        let runner = try request.model(in: models)
        removeModel(runner.name)
        // Written by the change itself when it is made durable; otherwise handed out by dueCheckpoints() as before.
        let finals = durableChanges && schedule.enabled ? schedule.takeFinalSnapshots() : []
        return finishChange(snapshots: finals, .removed(runner.name)) { _, w in w.key("model"); w.string(runner.name) }
    }

    // MARK: Helpers

    /// Refuses a reply that would exceed `limits.max_reply_bytes`, estimated at 16 bytes per number of JSON, before
    /// it is built: one request must not hold the engine for a second while it formats a 100 MB reply.
    private func checkReply(values: Int, _ what: String, hint: String) throws(ControlError) {
        let estimate = values.multipliedReportingOverflow(by: 16)
        if estimate.overflow || estimate.partialValue > settings.maxReplyBytes {
            throw ControlError("\(what) would make a reply of about \(estimate.overflow ? Int.max : estimate.partialValue) bytes, "
                               + "over limits.max_reply_bytes = \(settings.maxReplyBytes); \(hint)")
        }
    }

    private static func writeCounts(_ counts: [RejectionReason: Int], _ w: inout JSONWriter) {
        w.beginObject()
        for reason in RejectionReason.allCases { if let n = counts[reason] { w.key(reason.rawValue); w.int(n) } }
        w.endObject()
    }

    fileprivate func writeModelDescription(_ r: ModelRunner, _ w: inout JSONWriter) {
        // Every configuration key, as the one key table writes it for this reply; then the model's progress.
        w.beginObject()
        for (key, value) in r.configuration.replyMembers { w.key(key); w.value(value) }
        w.key("step"); w.int(r.updates)
        if let sources = valueSources?(r.configuration) {
            w.key("sources")
            w.beginObject()
            for key in sources.keys.sorted() { w.key(key); w.string(sources[key]!.rawValue) }
            w.endObject()
        }
        w.endObject()
    }
}
