import HebbianRegression

/// Everything one model needs to resume **bit-for-bit** after a restart: its configuration, the
/// circuit's full state, and the engine-side state around it (publish sequence, the rows buffered
/// toward the next mini-batch, the rolling prequential error window).
///
/// It is a value: the engine thread copies it out of the live model (cheap copy-on-write arrays) and
/// hands it to a ``CheckpointWriter``, so the slow part (encoding, fsync) never runs on the engine thread.
package struct ModelSnapshot: Sendable, Equatable {
    /// The model's configuration (name, batch size, circuit configuration) at snapshot time.
    package var model: ModelConfiguration
    /// The circuit: W, optimiser moments and step, prior hyper-parameters and their optimiser state,
    /// generator state, update and sample counters (nil for `kind = "bayesian"`).
    package var circuit: CircuitState?
    /// The Bayesian regression's statistics, noise estimate and counters (`kind = "bayesian"` only).
    package var bayesian: BayesianState?
    /// The uncertainty statistics of a circuit with `uncertainty = true` (nil otherwise).
    package var uncertainty: CrossMoments?
    /// The last publish `seq` of this model, so a resumed model continues the sequence without a gap or repeat.
    package var sequence: UInt64
    /// Rows buffered toward the next mini-batch (0 ≤ pendingRows; they were received, not yet learned).
    package var pendingRows: Int
    /// The buffered features, row-major, pendingRows × dictDim.
    package var pendingX: [Float]
    /// The buffered targets, row-major, pendingRows × sysDim.
    package var pendingY: [Float]
    /// A bayesian model's buffered rows, in Double (``pendingX`` and ``pendingY`` are then empty).
    package var pendingX64: [Double] = []
    package var pendingY64: [Double] = []
    /// The rolling prequential error values, oldest first.
    package var window: [Double]
    /// When the snapshot was taken, Unix time in seconds (a `Double`, not a `Date`, so it round-trips exactly).
    package var wallClockSeconds: Double
    /// The drift detector's running state and alarm history (nil without `[model.drift]`).
    package var drift: DriftState?
    /// The journal position this state covers and the producers' marks there (nil: no journal, or a file written
    /// before format 4; docs/JOURNAL.md).
    package var journal: JournalCoverage? = nil

    /// A snapshot from its parts.
    package init(model: ModelConfiguration, circuit: CircuitState, sequence: UInt64, pendingRows: Int,
                pendingX: [Float], pendingY: [Float], window: [Double], wallClockSeconds: Double, drift: DriftState? = nil) {
        self.drift = drift
        self.model = model
        self.circuit = circuit
        self.sequence = sequence
        self.pendingRows = pendingRows
        self.pendingX = pendingX
        self.pendingY = pendingY
        self.window = window
        self.wallClockSeconds = wallClockSeconds
    }

    /// A bayesian model's snapshot: its state and its rows buffered in Double.
    package init(model: ModelConfiguration, bayesian: BayesianState, sequence: UInt64, pendingRows: Int,
                pendingX: [Double], pendingY: [Double], window: [Double], wallClockSeconds: Double, drift: DriftState? = nil) {
        self.model = model
        self.bayesian = bayesian
        self.sequence = sequence
        self.pendingRows = pendingRows
        self.pendingX = []
        self.pendingY = []
        pendingX64 = pendingX
        pendingY64 = pendingY
        self.window = window
        self.wallClockSeconds = wallClockSeconds
        self.drift = drift
    }

    /// Mini-batch updates of the learned state.
    package var updates: Int { circuit?.updates ?? bayesian?.updates ?? 0 }
    /// Rows of the learned state.
    package var samples: Int { circuit?.samples ?? bayesian?.samples ?? 0 }

    /// The model's name (its checkpoint subdirectory).
    package var name: String { model.name }

    /// Checks the snapshot against itself before it is written: a checkpoint that cannot be restored
    /// is worse than none, because it would shadow the previous good one.
    func validate() throws(CheckpointError) {
        func fail(_ reason: String) -> CheckpointError { .invalidSnapshot(model: model.name, reason: reason) }
        if model.isBayesian {
            guard circuit == nil, let bayesian else { throw fail("a bayesian model's snapshot holds no bayesian state") }
            let c = bayesian.configuration
            guard pendingRows >= 0, pendingX.isEmpty, pendingY.isEmpty,
                  pendingX64.count == pendingRows * c.dictDim, pendingY64.count == pendingRows * c.sysDim else {
                throw fail("buffered rows do not match pendingRows = \(pendingRows)")
            }
            guard bayesian.updates >= 0, bayesian.samples >= 0 else { throw fail("negative counters") }
            return
        }
        guard let circuit, bayesian == nil else { throw fail("a \(model.kindName) model's snapshot holds no circuit state") }
        guard model.uncertainty == (uncertainty != nil) else { throw fail("uncertainty statistics present: \(uncertainty != nil), configured: \(model.uncertainty)") }
        let c = circuit.configuration
        guard pendingRows >= 0 else { throw fail("pendingRows is \(pendingRows)") }
        guard c.dictDim > 0, c.sysDim > 0 else { throw fail("shape \(c.dictDim)×\(c.sysDim)") }
        let (px, ox) = pendingRows.multipliedReportingOverflow(by: c.dictDim)
        let (py, oy) = pendingRows.multipliedReportingOverflow(by: c.sysDim)
        guard !ox, !oy, pendingX.count == px else {
            throw fail("pendingX has \(pendingX.count) values, expected pendingRows × dictDim = \(pendingRows) × \(c.dictDim)")
        }
        guard pendingY.count == py else {
            throw fail("pendingY has \(pendingY.count) values, expected pendingRows × sysDim = \(pendingRows) × \(c.sysDim)")
        }
        guard circuit.weights.count == c.weightCount else {
            throw fail("weights have \(circuit.weights.count) values, expected \(c.weightCount)")
        }
        guard circuit.generator.state.count == 4 else {
            throw fail("generator state has \(circuit.generator.state.count) words, expected 4")
        }
        guard circuit.updates >= 0, circuit.samples >= 0 else {
            throw fail("negative counters (updates \(circuit.updates), samples \(circuit.samples))")
        }
    }
}
