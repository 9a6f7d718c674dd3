import HebbianRegression

/// What learns inside a ``ModelRunner``: a Hebbian circuit (the sparse kinds) or the exact Bayesian regression
/// (`kind = "bayesian"`). Class references, so a switch over it costs nothing on the hot path.
package enum ModelLearner {
    /// `lasso`, `ridge`, `elastic_net`.
    case circuit(HebbianCircuit)
    /// `bayesian`.
    case bayesian(BayesianRegression)
}

/// One live model: its learner, the rows buffered toward the next mini-batch, its publish sequence,
/// rolling prequential error and last published message (the last-value cache).
///
/// Owned by the engine thread. Rows are copied once, from the message frames straight into the batch
/// buffer; a full buffer is learnt from in place, so nothing is allocated per row. A message that brings a
/// whole batch while none is buffered is learnt from in its own frame, without even that copy.
package final class ModelRunner: PublishableModel {
    // Every stored property is `@exclusivity(unchecked)`: a runner belongs to the engine thread alone, and the
    // run-time exclusivity checks were ~7% of the engine thread with one-row messages (perf).

    /// The model's configuration (name, batch size, circuit).
    @exclusivity(unchecked) package private(set) var configuration: ModelConfiguration
    /// What learns: the circuit or the Bayesian regression.
    package let learner: ModelLearner
    /// The learning circuit (nil for `kind = "bayesian"`).
    package let circuit: HebbianCircuit?
    /// The Bayesian regression (nil for the circuit kinds).
    package let bayesian: BayesianRegression?
    /// The statistics beside a circuit with `uncertainty = true` (nil otherwise): every batch the circuit learns
    /// from is folded in; the refit itself runs only when a message is encoded.
    @exclusivity(unchecked) package private(set) var uncertainty: CircuitUncertainty?
    /// Rows buffered toward the next batch.
    @exclusivity(unchecked) package private(set) var pendingRows = 0
    /// Unique within the process (set by the engine core as it adds the model): a model removed and added
    /// again is a new instance.
    @exclusivity(unchecked) package var instance = 0
    /// Rises with every change of the state a checkpoint holds (rows, updates, reset, reconfiguration), so
    /// an unchanged model is not written again.
    @exclusivity(unchecked) package private(set) var revision = 0
    /// The `seq` of the last published message (0: none yet).
    @exclusivity(unchecked) package private(set) var sequence: UInt64 = 0
    /// mse of the last `publish.window` updates, oldest first.
    @exclusivity(unchecked) package private(set) var window: [Double] = []
    /// The last published message (topic, JSON, optional binary frame), resent to late joiners; nil while
    /// ``deferred`` holds it unencoded (read it through ``Publisher/latestMessage(of:)``).
    @exclusivity(unchecked) package var latest: PublishedMessage?
    /// The last published message when nobody subscribed to ``topic``: what encoding it needs besides the model's
    /// state, which stays as it was until the message is encoded (``settleDeferred(beforeUpdate:)``).
    @exclusivity(unchecked) package var deferred: DeferredPublication?
    /// Encodes ``deferred`` into ``latest`` (set by the ``Publisher`` that deferred it); the flag says whether
    /// an update is about to change the state (which publishes, and so replaces the message, unless paced out).
    @exclusivity(unchecked) package var encodeDeferred: ((ModelRunner, _ beforeUpdate: Bool) -> Void)?
    /// The ``Publisher``'s subscription generation this runner's `subscribed` answer was worked out for.
    @exclusivity(unchecked) package var subscriberCheck: (generation: Int, subscribed: Bool) = (-1, false)
    /// When ``latest`` was last resent to late joiners (monotonic seconds), and whether a resend waits.
    @exclusivity(unchecked) package var lastResend = -Double.infinity
    @exclusivity(unchecked) package var resendPending = false
    /// When ``latest`` was encoded (its `time`).
    @exclusivity(unchecked) package var latestTime: Double = 0
    /// The last update's report.
    @exclusivity(unchecked) package private(set) var lastReport: UpdateReport?
    /// When this model last published, and what `publish.max_rate` holds back (``PublishPacing``).
    @exclusivity(unchecked) package var pacing = PublishPacing.State()
    /// Rejected messages for this model, by reason.
    @exclusivity(unchecked) package var rejected: [RejectionReason: Int] = [:]
    /// Sequence gaps seen per producer (messages missing between consecutive `seq` values).
    @exclusivity(unchecked) package private(set) var gaps = 0
    /// Messages whose `seq` went backwards (a restarted producer).
    @exclusivity(unchecked) package private(set) var sequenceResets = 0
    /// Updates rolled back because they would have made the state non-finite (see `HebbianCircuit.diverged`).
    @exclusivity(unchecked) package private(set) var divergences = 0
    /// Whether the update just reported started a divergence episode (the model was fine before it).
    @exclusivity(unchecked) package private(set) var newlyDiverged = false
    /// The drift alarm's detector and history (nil without `[model.drift]`).
    @exclusivity(unchecked) package internal(set) var drift: DriftState?
    @exclusivity(unchecked) private var producerSequence: [String: Int] = [:]
    /// The batch buffer for X: empty until the first message that does not bring a whole batch, so a producer
    /// that always does (learnt in place from its frame) never pays batch_size × dict_dim floats of memory.
    @exclusivity(unchecked) private var pendingX: [Float] = []
    @exclusivity(unchecked) private var pendingY: [Float]
    /// A bayesian model's batch buffer, in Double: float64 ingest frames keep their precision into its update.
    @exclusivity(unchecked) private var pendingX64: [Double] = []
    @exclusivity(unchecked) private var pendingY64: [Double] = []
    /// Whether a bayesian model's last update was rolled back (the circuit keeps its own flag).
    @exclusivity(unchecked) private var bayesianDiverged = false
    /// Updates in the rolling prequential error (`publish.window`).
    @exclusivity(unchecked) package private(set) var windowSize: Int

    /// The `coef/<name>/` topic.
    package let topic: [UInt8]
    /// Times each update (the update-duration histogram): the engine's injected clock, like every reading of time
    /// in the core.
    private let clock: EngineClock

    /// A fresh model.
    package init(configuration: ModelConfiguration, windowSize: Int, clock: EngineClock = .system) throws(CircuitError) {
        self.configuration = configuration
        self.clock = clock
        (learner, circuit, bayesian) = try Self.learner(for: configuration)
        if configuration.uncertainty, !configuration.isBayesian {
            uncertainty = CircuitUncertainty(dictDim: configuration.circuit.dictDim, sysDim: configuration.circuit.sysDim,
                                             smoothing: configuration.smoothing, level: configuration.uncertaintyLevel)
        }
        self.windowSize = max(windowSize, 1)
        pendingY = configuration.isBayesian ? [] : [Float](repeating: 0, count: configuration.batchSize * configuration.circuit.sysDim)
        topic = Array("coef/\(configuration.name)/".utf8)
        drift = DriftState.continuing(nil, under: configuration.drift)
    }

    /// A model resumed from a checkpoint snapshot.
    package init(restoring snapshot: ModelSnapshot, windowSize: Int, clock: EngineClock = .system) throws(CircuitError) {
        configuration = snapshot.model
        self.clock = clock
        let c = snapshot.model.circuit, b = snapshot.model.batchSize
        switch (snapshot.circuit, snapshot.bayesian) {
        case let (state?, nil) where !snapshot.model.isBayesian:
            let restored = try HebbianCircuit(restoring: state)
            (learner, circuit, bayesian) = (.circuit(restored), restored, nil)
        case let (nil, state?) where snapshot.model.isBayesian:
            let restored = try BayesianRegression(restoring: state)
            (learner, circuit, bayesian) = (.bayesian(restored), nil, restored)
        default:
            throw .incompatibleState("the snapshot's learned state is not that of a \(snapshot.model.kindName) model")
        }
        if snapshot.model.uncertainty, !snapshot.model.isBayesian {
            let moments = snapshot.uncertainty ?? CrossMoments(features: c.dictDim, outputs: c.sysDim)
            guard moments.features == c.dictDim, moments.outputs == c.sysDim, moments.isFinite else {
                throw .incompatibleState("uncertainty statistics do not describe a \(c.dictDim)×\(c.sysDim) model")
            }
            uncertainty = CircuitUncertainty(moments: moments, smoothing: snapshot.model.smoothing, level: snapshot.model.uncertaintyLevel)
        }
        self.windowSize = max(windowSize, 1)
        let (pendingXCount, pendingYCount) = snapshot.model.isBayesian ? (snapshot.pendingX64.count, snapshot.pendingY64.count)
                                                                       : (snapshot.pendingX.count, snapshot.pendingY.count)
        guard snapshot.pendingRows <= b, pendingXCount == snapshot.pendingRows * c.dictDim,
              pendingYCount == snapshot.pendingRows * c.sysDim
        else { throw .incompatibleState("buffered rows do not match batch_size \(b)") }
        if snapshot.model.isBayesian {
            pendingX64 = [Double](repeating: 0, count: b * c.dictDim)
            pendingX64.replaceSubrange(0..<pendingXCount, with: snapshot.pendingX64)
            pendingY64 = [Double](repeating: 0, count: b * c.sysDim)
            pendingY64.replaceSubrange(0..<pendingYCount, with: snapshot.pendingY64)
            pendingY = []
        } else {
            if snapshot.pendingRows > 0 {
                pendingX = [Float](repeating: 0, count: b * c.dictDim)
                pendingX.replaceSubrange(0..<snapshot.pendingX.count, with: snapshot.pendingX)
            }
            pendingY = [Float](repeating: 0, count: b * c.sysDim)
            pendingY.replaceSubrange(0..<snapshot.pendingY.count, with: snapshot.pendingY)
        }
        pendingRows = snapshot.pendingRows
        sequence = snapshot.sequence
        window = Array(snapshot.window.suffix(self.windowSize))
        topic = Array("coef/\(snapshot.model.name)/".utf8)
        drift = DriftState.continuing(snapshot.drift, under: snapshot.model.drift)
    }

    /// The learner for a fresh model of `configuration`.
    private static func learner(for configuration: ModelConfiguration) throws(CircuitError)
        -> (ModelLearner, HebbianCircuit?, BayesianRegression?) {
        if configuration.isBayesian {
            let model = try BayesianRegression(configuration.bayesianConfiguration)
            return (.bayesian(model), nil, model)
        }
        let circuit = try HebbianCircuit(configuration.circuit)
        return (.circuit(circuit), circuit, nil)
    }

    /// Mini-batch updates learnt (the published `step`).
    package var updates: Int {
        switch learner {
        case let .circuit(c): return c.updates
        case let .bayesian(b): return b.updates
        }
    }

    /// Rows learnt.
    package var samples: Int {
        switch learner {
        case let .circuit(c): return c.samples
        case let .bayesian(b): return b.samples
        }
    }

    /// Whether the last update was rolled back (see `HebbianCircuit.diverged`).
    package var diverged: Bool {
        switch learner {
        case let .circuit(c): return c.diverged
        case .bayesian: return bayesianDiverged
        }
    }

    /// Coefficients published nonzero: the circuit's above its threshold; a bayesian model publishes every
    /// posterior mean (no threshold), so all of its dict_dim × sys_dim.
    package var publishedNonzero: Int {
        switch learner {
        case let .circuit(c): return c.coefficients.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        case .bayesian: return configuration.circuit.weightCount
        }
    }

    /// The model's name.
    package var name: String { configuration.name }
    /// The shape ingest rows must have.
    package var shape: SampleShape { SampleShape(dictDim: configuration.circuit.dictDim, sysDim: configuration.circuit.sysDim) }

    /// How many updates the rolling prequential error spans now.
    package var windowCount: Int { window.count }

    /// Mean mse over the window (the rolling prequential error), nil before the first update.
    /// Summed afresh each time so a resumed model reports exactly what an uninterrupted one would.
    package var prequentialMSE: Double? {
        window.isEmpty ? nil : window.reduce(0, +) / Double(window.count)
    }

    /// Buffers the message's rows; every time the buffer holds `batch_size` rows, runs one update and
    /// calls `onUpdate` with its report and duration in nanoseconds. The message must have been
    /// validated against ``shape``. Returns the rejection of a message with a NaN or ±Inf value, which changes
    /// nothing (no row buffered or learnt, no counter moved).
    ///
    /// A binary float32 message comes unchecked for those (``DecodedSamples/isCheckedFinite``) and is checked in
    /// the pass that first reads it: by the step itself when it is one whole batch learnt in place, by the copy into
    /// the batch buffer when it fits there; only a message that would complete a batch before its last row is read
    /// is scanned first.
    package func ingest(_ samples: DecodedSamples, onUpdate: (UpdateReport, UInt64) -> Void) -> Rejection? {
        let circuit: HebbianCircuit
        switch learner {
        case let .circuit(c): circuit = c
        case let .bayesian(model): return ingest(samples, into: model, onUpdate: onUpdate)
        }
        let d = configuration.circuit.dictDim, s = configuration.circuit.sysDim, batch = configuration.batchSize
        var checkInStep = false, checkInCopy = false
        if !samples.isCheckedFinite {
            if pendingRows == 0, samples.rows == batch, samples.float32X(0..<batch) != nil {
                checkInStep = true
            } else if pendingRows + samples.rows <= batch {
                checkInCopy = true
            } else if let rejection = samples.nonFiniteRejection() {
                return rejection
            }
        }
        var row = 0
        while row < samples.rows {
            // A whole batch in the message and none buffered: learn from X in its frame, no copy (Y too when it is
            // aligned; else its few values go through the empty batch buffer).
            if pendingRows == 0, samples.rows - row >= batch, let x = samples.float32X(row..<(row + batch)) {
                settleDeferred(beforeUpdate: true)
                let wasDiverged = circuit.diverged
                let started = clock.monotonic()
                let rows = row..<(row + batch)
                let learnt: UpdateReport?
                if let y = samples.float32Y(rows) {
                    learnt = checkInStep ? try! circuit.updateRefusingNonFinite(x: x, y: y, rows: batch) : try! circuit.update(x: x, y: y, rows: batch)
                } else {
                    learnt = pendingY.withUnsafeMutableBufferPointer { y in
                        samples.copyTargets(rows, y: y.baseAddress!)
                        let y = UnsafeBufferPointer(rebasing: y[0..<(batch * s)])
                        return checkInStep ? try! circuit.updateRefusingNonFinite(x: x, y: y, rows: batch) : try! circuit.update(x: x, y: y, rows: batch)
                    }
                }
                guard let report = learnt else { return samples.nonFiniteRejection() }
                if uncertainty != nil, !report.diverged { foldIntoUncertainty(samples, rows, x: x) }
                row += batch
                finish(report, started: started, wasDiverged: wasDiverged, onUpdate: onUpdate)
                continue
            }
            let take = min(batch - pendingRows, samples.rows - row)
            if pendingX.count < batch * d { pendingX += [Float](repeating: 0, count: batch * d - pendingX.count) }
            let finite = pendingX.withUnsafeMutableBufferPointer { x in
                pendingY.withUnsafeMutableBufferPointer { y in
                    samples.copyRows(row..<(row + take), x: x.baseAddress! + pendingRows * d, y: y.baseAddress! + pendingRows * s,
                                     checkingFiniteness: checkInCopy)
                }
            }
            // Only the rows beyond pendingRows were written: dropping them leaves the buffer as it was.
            guard finite else { return samples.nonFiniteRejection() }
            pendingRows += take
            row += take
            if pendingRows == batch {
                settleDeferred(beforeUpdate: true)
                let wasDiverged = circuit.diverged
                let started = clock.monotonic()
                let report = pendingX.withUnsafeBufferPointer { x in
                    pendingY.withUnsafeBufferPointer { y in
                        // Shapes were validated by the decoder and the buffers are sized by batch_size.
                        try! circuit.update(x: x, y: y, rows: batch)
                    }
                }
                if uncertainty != nil, !report.diverged {
                    pendingX.withUnsafeBufferPointer { x in
                        pendingY.withUnsafeBufferPointer { y in
                            uncertainty!.add(x: UnsafeBufferPointer(rebasing: x[0..<(batch * d)]), y: UnsafeBufferPointer(rebasing: y[0..<(batch * s)]), rows: batch)
                        }
                    }
                }
                pendingRows = 0
                finish(report, started: started, wasDiverged: wasDiverged, onUpdate: onUpdate)
            }
        }
        noteSequence(producer: samples.producer, sequence: samples.sequence)
        revision += 1
        return nil
    }

    /// Folds a batch learnt in place from its frame into the uncertainty statistics (X in place; Y copied, small).
    private func foldIntoUncertainty(_ samples: DecodedSamples, _ rows: Range<Int>, x: UnsafeBufferPointer<Float>) {
        let s = configuration.circuit.sysDim
        if let y = samples.float32Y(rows) {
            uncertainty!.add(x: x, y: y, rows: rows.count)
        } else {
            pendingY.withUnsafeMutableBufferPointer { y in
                samples.copyTargets(rows, y: y.baseAddress!)
                uncertainty!.add(x: x, y: UnsafeBufferPointer(rebasing: y[0..<(rows.count * s)]), rows: rows.count)
            }
        }
    }

    /// ``ingest(_:onUpdate:)`` for a bayesian model: rows are buffered in Double (a float64 frame's values exactly,
    /// float32 ones widened) and every full batch updates the posterior's statistics.
    private func ingest(_ samples: DecodedSamples, into model: BayesianRegression, onUpdate: (UpdateReport, UInt64) -> Void) -> Rejection? {
        // The Bayesian update reads every value anyway; a binary float32 message is checked whole first.
        if !samples.isCheckedFinite, let rejection = samples.nonFiniteRejection() { return rejection }
        let d = configuration.circuit.dictDim, s = configuration.circuit.sysDim, batch = configuration.batchSize
        if pendingX64.count < batch * d { pendingX64 += [Double](repeating: 0, count: batch * d - pendingX64.count) }
        if pendingY64.count < batch * s { pendingY64 += [Double](repeating: 0, count: batch * s - pendingY64.count) }
        var row = 0
        while row < samples.rows {
            let take = min(batch - pendingRows, samples.rows - row)
            pendingX64.withUnsafeMutableBufferPointer { x in
                pendingY64.withUnsafeMutableBufferPointer { y in
                    samples.copyRows(row..<(row + take), x: x.baseAddress! + pendingRows * d, y: y.baseAddress! + pendingRows * s)
                }
            }
            pendingRows += take
            row += take
            guard pendingRows == batch else { continue }
            settleDeferred(beforeUpdate: true)
            let wasDiverged = bayesianDiverged
            let started = clock.monotonic()
            let report = pendingX64.withUnsafeBufferPointer { x in
                pendingY64.withUnsafeBufferPointer { y in
                    // Finite values of the validated shape: the update cannot refuse them.
                    try! model.update(x: UnsafeBufferPointer(rebasing: x[0..<(batch * d)]), y: UnsafeBufferPointer(rebasing: y[0..<(batch * s)]),
                                      rows: batch)
                }
            }
            bayesianDiverged = report.diverged
            pendingRows = 0
            finish(report, started: started, wasDiverged: wasDiverged, onUpdate: onUpdate)
        }
        noteSequence(producer: samples.producer, sequence: samples.sequence)
        revision += 1
        return nil
    }

    /// After an update (from the batch buffer or in place): the window, the divergence bookkeeping, the callback.
    private func finish(_ report: UpdateReport, started: Double, wasDiverged: Bool, onUpdate: (UpdateReport, UInt64) -> Void) {
        let elapsed = UInt64(max(0, (clock.monotonic() - started) * 1e9))
        newlyDiverged = report.diverged && !wasDiverged
        if report.diverged {
            divergences += 1   // rolled back: the state and the window are as they were
        } else {
            record(report)
        }
        onUpdate(report, elapsed)
    }

    /// Encodes the deferred message now, while the state it describes is at hand: called before anything changes
    /// that state, so that a message encoded late is byte for byte the one encoded at once.
    private func settleDeferred(beforeUpdate: Bool) {
        if deferred != nil { encodeDeferred?(self, beforeUpdate) }
    }

    /// Takes the next publish sequence number.
    package func nextSequence() -> UInt64 {
        sequence += 1
        return sequence
    }

    /// Back to the initial weights, optimiser cleared, buffered rows dropped, window emptied.
    /// `seq` keeps rising so subscribers can tell the reset message from a stale one.
    /// A bayesian model goes back to its prior (its statistics are its learned state, so `keepStatistics` keeps
    /// nothing there); a circuit's uncertainty statistics describe the stream, like the standardisation's, and
    /// `keepStatistics` keeps them too.
    package func reset(keepStatistics: Bool = false) {
        revision += 1
        switch learner {
        case let .circuit(c): c.reset(keepStatistics: keepStatistics)
        case let .bayesian(b): b.reset()
        }
        bayesianDiverged = false
        if !keepStatistics, let u = uncertainty {
            uncertainty = CircuitUncertainty(dictDim: u.moments.features, sysDim: u.moments.outputs, smoothing: u.smoothing, level: u.level)
        }
        pendingRows = 0
        window.removeAll()
        lastReport = nil
        // The errors of a fresh model are a new stream; the alarm history stays.
        drift?.detector.reset()
    }

    /// Applies new hyper-parameters (see ``HebbianCircuit/reconfigure(_:)``); `batch_size` may change
    /// only while no rows are buffered toward a batch of the old size.
    package func reconfigure(_ new: ModelConfiguration) throws(CircuitError) {
        guard new.name == configuration.name else { throw .incompatibleState("name cannot change") }
        if new.batchSize != configuration.batchSize && pendingRows >= new.batchSize {
            throw .incompatibleState("batch_size cannot shrink below the \(pendingRows) rows already buffered")
        }
        if let why = configuration.incompatibility(with: new) {
            throw .incompatibleState("\(why): cannot change on a live model (reset or re-create it)")
        }
        settleDeferred(beforeUpdate: false)
        switch learner {
        case let .circuit(c): try c.reconfigure(new.circuit)
        case let .bayesian(b): try b.reconfigure(new.bayesianConfiguration)
        }
        uncertainty?.level = new.uncertaintyLevel
        if new.uncertainty, !new.isBayesian, uncertainty == nil {
            // Turned on: the statistics start with the next batch (the refit covers the rows from now on).
            uncertainty = CircuitUncertainty(dictDim: new.circuit.dictDim, sysDim: new.circuit.sysDim, smoothing: new.smoothing,
                                             level: new.uncertaintyLevel)
        }
        revision += 1
        if new.batchSize != configuration.batchSize, new.isBayesian {
            pendingX64 += [Double](repeating: 0, count: max(0, new.batchSize * new.circuit.dictDim - pendingX64.count))
            pendingY64 += [Double](repeating: 0, count: max(0, new.batchSize * new.circuit.sysDim - pendingY64.count))
        } else if new.batchSize != configuration.batchSize {
            if !pendingX.isEmpty {
                pendingX += [Float](repeating: 0, count: max(0, new.batchSize * new.circuit.dictDim - pendingX.count))
            }
            pendingY += [Float](repeating: 0, count: max(0, new.batchSize * new.circuit.sysDim - pendingY.count))
        }
        drift = DriftState.continuing(drift, under: new.drift)
        configuration = new
    }

    /// A value copy of everything a checkpoint needs.
    package func snapshot(wallClock: Double) -> ModelSnapshot {
        let c = configuration.circuit
        switch learner {
        case let .circuit(circuit):
            var snapshot = ModelSnapshot(model: configuration, circuit: circuit.state, sequence: sequence, pendingRows: pendingRows,
                                         pendingX: Array(pendingX[0..<(pendingRows * c.dictDim)]),
                                         pendingY: Array(pendingY[0..<(pendingRows * c.sysDim)]),
                                         window: window, wallClockSeconds: wallClock, drift: drift)
            snapshot.uncertainty = uncertainty?.moments
            return snapshot
        case let .bayesian(model):
            return ModelSnapshot(model: configuration, bayesian: model.state, sequence: sequence, pendingRows: pendingRows,
                                 pendingX: Array(pendingX64[0..<(pendingRows * c.dictDim)]),
                                 pendingY: Array(pendingY64[0..<(pendingRows * c.sysDim)]),
                                 window: window, wallClockSeconds: wallClock, drift: drift)
        }
    }

    /// Tells a Bayesian model how often its posterior is published (``BayesianRegression/readShare``), which picks the
    /// cheaper way to learn its long batches; at start and on a reload.
    package func publishes(_ pacing: PublishPacing) {
        bayesian?.readShare = pacing.publishedShare
    }

    /// Changes ``windowSize`` (a reload); a smaller window drops its oldest errors at once.
    package func setWindowSize(_ size: Int) {
        settleDeferred(beforeUpdate: false)
        windowSize = max(size, 1)
        if window.count > windowSize { window.removeFirst(window.count - windowSize) }
    }

    private func record(_ report: UpdateReport) {
        lastReport = report
        if window.count >= windowSize { window.removeFirst(window.count - windowSize + 1) }
        window.append(report.mse)
    }

    private func noteSequence(producer: String?, sequence: Int?) {
        guard let sequence else { return }
        let key = producer ?? ""
        if let last = producerSequence[key] {
            // Both are ≥ 0, so `sequence - last` cannot overflow; `last + 1` could (a producer's `seq` may be
            // Int64.max), and the counts saturate rather than trap, whatever a producer sends.
            if sequence > last {
                let (total, overflow) = gaps.addingReportingOverflow(sequence - last - 1)
                gaps = overflow ? .max : total
            } else {
                sequenceResets = sequenceResets == .max ? .max : sequenceResets + 1
            }
        }
        producerSequence[key] = sequence
    }
}
