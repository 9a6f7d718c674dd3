import CHebbKernels

/// One Hebbian sparse-regression circuit: a synapse W (dict_dim × sys_dim) and a Gaussian error cell.
///
/// A training step on a batch (X, Y) of n rows, exactly as ngclearn's `Iterative_*` modules
/// (docs/MATH.md):
///
///     e    = Y − X·W                         (error cell, Σ = 1)
///     loss = ½ Σ e²                          (ngclearn's −L, scored before the step)
///     G    = −Xᵀe + λ·g(W) + ∇prior(W)       (a sum over rows, not a mean)
///     W    ← optimiser(W, G)
///
/// ``update(x:y:rows:)`` runs `epochs` such steps on one mini-batch and reports the loss of the
/// first (prequential: the batch is scored before the model learns from it).
///
/// Two options make it usable on raw streams (both off by default, which keeps it ngclearn-exact):
/// - `standardize`: X and Y are standardised per column with running statistics (a ``Standardizer``, which also
///   maps W back to the user's units), and W learns in that space. A batch is scored with the statistics of the rows *before* it (prequential), then
///   folded into them, then learned from with the updated statistics — the order of River's
///   `StandardScaler | LinearRegression` pipeline, which keeps the first steps of a raw-unit stream (a date
///   ordinal near 7·10⁵) from taking a raw-unit gradient step.
/// - `intercept`: a bias b per output, e = Ỹ − X̃·W − 1·bᵀ, learned with the same optimiser kind (its own
///   state and learning rate `intercept_lr`) from G_b = −Σ_rows e; no penalty, prior or threshold touches it.
///
/// Whatever the options, what leaves the circuit is in the user's units: ``coefficients(into:intercept:)``
/// (raw-unit W and b with ŷ = x·W + b, the threshold judged on the standardised W), ``predict(x:rows:thresholded:)``,
/// and the reported `loss`/`mse` (raw target units).
///
/// The circuit owns reusable work buffers and is meant to be driven by one thread; take a
/// ``state`` snapshot (a value) to hand its state to another thread, e.g. for a checkpoint.
public final class HebbianCircuit {
    // Every stored property is `@exclusivity(unchecked)`: the circuit is driven by one thread (see above), and the
    // run-time exclusivity checks on them were ~7% of a small model's update (Swift's access set lives in
    // thread-local storage). The compiler still checks every access it can see statically.

    /// The configuration in force.
    @exclusivity(unchecked) public private(set) var configuration: CircuitConfiguration
    /// W, row-major dict_dim × sys_dim. Keeps learning; thresholding is for output only (unless `prune`).
    @exclusivity(unchecked) public private(set) var weights: [Float]
    /// The optimiser's state for W.
    @exclusivity(unchecked) public private(set) var optimizer: OptimizerState
    /// The prior, with its (possibly fitted) hyper-parameters and their optimiser state.
    @exclusivity(unchecked) public private(set) var prior: WeightPrior<Float>?
    /// The circuit's random generator (used by `prior_sample`).
    @exclusivity(unchecked) public private(set) var generator: SeededGenerator
    /// Mini-batch updates done (each of `epochs` optimiser steps).
    @exclusivity(unchecked) public private(set) var updates: Int = 0
    /// Rows learned from.
    @exclusivity(unchecked) public private(set) var samples: Int = 0
    /// Whether the last update would have made the state non-finite and was rolled back (see ``update(x:y:rows:stepLoss:)``).
    /// Cleared by the next update that stays finite, by ``reset(keepStatistics:)`` and by ``reconfigure(_:)``.
    @exclusivity(unchecked) public private(set) var diverged = false
    /// The bias per output, in the learning space (empty without `intercept`).
    @exclusivity(unchecked) public private(set) var intercept: [Float]
    /// The optimiser's state for the bias (empty without `intercept`).
    @exclusivity(unchecked) public private(set) var interceptOptimizer: OptimizerState
    /// Running statistics of X (nil without `standardize`).
    public var xMoments: RunningMoments? { standardizer?.xMoments }
    /// Running statistics of Y (nil without `standardize`).
    public var yMoments: RunningMoments? { standardizer?.yMoments }

    @exclusivity(unchecked) private var penalty: Penalty
    @exclusivity(unchecked) private var residual: [Float] = []
    @exclusivity(unchecked) private var gradient: [Float]
    @exclusivity(unchecked) private var interceptGradient: [Float]
    /// The optimiser's per-coordinate step sizes of the last step, for a prior's proximal step (reused buffer).
    @exclusivity(unchecked) private var stepSizes: [Float]
    /// The statistics, buffers and unit mappings of `standardize` (nil without it).
    @exclusivity(unchecked) private var standardizer: Standardizer?

    /// A fresh circuit. W starts at `weight_fill`, the prior mean or a prior draw, per `initialization`.
    public init(_ configuration: CircuitConfiguration) throws(CircuitError) {
        try configuration.validate()
        _ = LinearAlgebra.singleThreaded
        self.configuration = configuration
        penalty = Penalty(kind: configuration.kind, lmbda: configuration.lmbda, l1Ratio: configuration.l1Ratio)
        optimizer = OptimizerState(kind: configuration.optimizer, count: configuration.weightCount)
        if let p = configuration.prior {
            prior = try p.makePrior(dictDim: configuration.dictDim, sysDim: configuration.sysDim, optimizer: configuration.optimizer)
        }
        generator = SeededGenerator(seed: configuration.seed)
        gradient = [Float](repeating: 0, count: configuration.weightCount)
        stepSizes = [Float](repeating: 0, count: configuration.weightCount)
        let biases = configuration.intercept ? configuration.sysDim : 0
        intercept = [Float](repeating: 0, count: biases)
        interceptOptimizer = OptimizerState(kind: configuration.optimizer, count: biases)
        interceptGradient = [Float](repeating: 0, count: biases)
        if configuration.standardize { standardizer = Standardizer(dictDim: configuration.dictDim, sysDim: configuration.sysDim) }
        weights = []
        weights = initialWeights()
    }

    /// A circuit continuing from a saved state.
    public init(restoring state: CircuitState) throws(CircuitError) {
        try state.configuration.validate()
        let n = state.configuration.weightCount
        guard state.weights.count == n else { throw .shapeMismatch(what: "weights", expected: n, got: state.weights.count) }
        guard state.optimizer.kind == state.configuration.optimizer,
              state.optimizer.m.count == (state.optimizer.kind == .adam ? n : 0),
              state.optimizer.v.count == state.optimizer.m.count
        else { throw .incompatibleState("optimizer state does not match \(state.configuration.optimizer.rawValue) on \(n) weights") }
        switch (state.prior, state.configuration.prior) {
        case (nil, nil): break
        case let (prior?, configured?):
            let c = state.configuration
            if let why = prior.incompatibility(with: configured, rows: c.dictDim, columns: c.sysDim, optimizer: c.optimizer) {
                throw .incompatibleState(why)
            }
        default: throw .incompatibleState("prior present in only one of configuration and state")
        }
        let biases = state.configuration.intercept ? state.configuration.sysDim : 0
        guard state.intercept.count == biases, state.interceptOptimizer.kind == state.configuration.optimizer,
              state.interceptOptimizer.m.count == (state.configuration.optimizer == .adam ? biases : 0),
              state.interceptOptimizer.v.count == state.interceptOptimizer.m.count
        else { throw .incompatibleState("intercept state does not match intercept = \(state.configuration.intercept)") }
        if state.configuration.standardize {
            guard state.xMoments?.columns == state.configuration.dictDim, state.yMoments?.columns == state.configuration.sysDim
            else { throw .incompatibleState("standardisation statistics missing or of the wrong shape") }
        } else {
            guard state.xMoments == nil, state.yMoments == nil else { throw .incompatibleState("statistics present without standardize") }
        }
        _ = LinearAlgebra.singleThreaded
        configuration = state.configuration
        penalty = Penalty(kind: state.configuration.kind, lmbda: state.configuration.lmbda, l1Ratio: state.configuration.l1Ratio)
        weights = state.weights
        optimizer = state.optimizer
        prior = state.prior
        generator = state.generator
        updates = state.updates
        samples = state.samples
        gradient = [Float](repeating: 0, count: n)
        stepSizes = [Float](repeating: 0, count: n)
        intercept = state.intercept
        interceptOptimizer = state.interceptOptimizer
        interceptGradient = [Float](repeating: 0, count: biases)
        if let xm = state.xMoments, let ym = state.yMoments { standardizer = Standardizer(x: xm, y: ym) }
    }

    /// A value snapshot of everything needed to continue bit-for-bit.
    public var state: CircuitState {
        CircuitState(configuration: configuration, weights: weights, optimizer: optimizer, prior: prior,
                     generator: generator, updates: updates, samples: samples, intercept: intercept,
                     interceptOptimizer: interceptOptimizer, xMoments: xMoments, yMoments: yMoments)
    }

    // MARK: Learning

    /// One mini-batch update: `epochs` optimiser steps on these `rows` rows (X row-major rows × dict_dim,
    /// Y rows × sys_dim). Returns the batch's scores at the weights it was scored with (before the first step);
    /// `stepLoss` sees ½Σe² before every step (for `hebbd fit --json`).
    ///
    /// **Divergence guard.** If the update would leave W, the optimiser state, the intercept, the fitted prior or
    /// the statistics non-finite (a learning rate too large for the data, overflowing inputs), it is refused:
    /// the state is exactly what it was before, ``diverged`` is set and the report says so (`diverged = true`).
    /// Nothing non-finite can then be published or checkpointed.
    ///
    /// A step is judged *before* it writes W and its moments: the optimiser's arithmetic is run once without
    /// storing (``OptimizerState/stepIsFinite(weights:gradient:learningRate:l1Shrink:)``), so the guard needs no copy
    /// of the large arrays — 3×W of memory and a copy per update saved. Only with `epochs > 1`, where a later step's
    /// refusal must undo the earlier ones, are W and its moments copied first. The small parts of the state (the
    /// statistics, the intercept, the prior's hyper-parameters, the counters) are always copied.
    @discardableResult
    public func update(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int,
                       stepLoss: (Double) -> Void = { _ in }) throws(CircuitError) -> UpdateReport {
        try checkShapes(x: x, y: y, rows: rows)
        return guardedUpdate(x: x, y: y, rows: rows, refusingNonFiniteInput: false, stepLoss: stepLoss)!
    }

    /// ``update(x:y:rows:stepLoss:)`` on a batch not yet checked for NaN and ±Inf (X read in place from an ingest
    /// frame): nil, and nothing learnt — the state exactly as before, ``diverged`` untouched — when X or Y holds one.
    ///
    /// The check costs no pass of its own. A non-finite value in X or Y makes a residual non-finite (NaN and ±Inf
    /// survive every product and sum of the fused kernels, and the standardisation: ∞·0 is NaN), hence gradient
    /// entries — all of them for a value of X, its output's column for one of Y — so the divergence guard refuses the
    /// step before W or its moments are written (StepKernelTests checks the kernels' part on every instruction set). Only a
    /// refused update scans X and Y to tell bad input from a divergence. OpenBLAS (shapes the kernels do not take)
    /// makes no such promise about a NaN met with a zero, so there X and Y are scanned first.
    public func updateRefusingNonFinite(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>,
                                        rows: Int) throws(CircuitError) -> UpdateReport? {
        try checkShapes(x: x, y: y, rows: rows)
        guard LinearAlgebra.fusedKernelApplies(dictDim: configuration.dictDim, sysDim: configuration.sysDim) else {
            guard Self.allFinite(x), Self.allFinite(y) else { return nil }
            return guardedUpdate(x: x, y: y, rows: rows, refusingNonFiniteInput: false, stepLoss: { _ in })
        }
        return guardedUpdate(x: x, y: y, rows: rows, refusingNonFiniteInput: true, stepLoss: { _ in })
    }

    /// One update under the divergence guard; nil when `refusingNonFiniteInput` and the refused update's input was
    /// not finite (then not a divergence: ``diverged`` stays as it was).
    private func guardedUpdate(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int,
                               refusingNonFiniteInput: Bool, stepLoss: (Double) -> Void) -> UpdateReport? {
        saveForRollback(copyingWeights: configuration.epochs > 1)
        let report = learn(x: x, y: y, rows: rows, stepLoss: stepLoss)
        if report.diverged {
            rollBack()
            if refusingNonFiniteInput && !(Self.allFinite(x) && Self.allFinite(y)) { return nil }
            diverged = true
        } else {
            diverged = false
        }
        assert(stateIsFinite(), "a step judged finite left the state non-finite")
        return report
    }

    private static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        values.isEmpty || hebb_all_finite(values.baseAddress!, values.count) != 0
    }

    private func learn(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int,
                       stepLoss: (Double) -> Void) -> UpdateReport {
        let penaltyValue = weights.withUnsafeBufferPointer { penalty.value(of: $0) }
        let priorValue = prior.map { p in weights.withUnsafeBufferPointer { p.loss(of: $0) } } ?? 0
        // With standardisation the batch is scored with the statistics of earlier rows only (prequential), then
        // joins them, then is learned from at the updated statistics; without, the first step's own residual
        // is the score.
        var score: Double?
        var applied = true
        if standardizer != nil {
            standardizer!.standardize(x: x, y: y, rows: rows)
            score = standardizer!.withStandardizedBatch(rows: rows) { sx, sy in computeResidual(x: sx, y: sy, rows: rows) }
            applied = standardizer!.add(x: x, y: y, rows: rows)
            if applied { standardizer!.standardize(x: x, y: y, rows: rows) }
        }
        if applied {
            withLearningBatch(x: x, y: y, rows: rows) { lx, ly in
                for epoch in 0..<max(configuration.epochs, 1) {
                    let step = takeStep(x: lx, y: ly, rows: rows)
                    if epoch == 0 && score == nil { score = step.loss }
                    stepLoss(epoch == 0 ? score! : step.loss)
                    applied = step.applied
                    if !applied { break }
                }
            }
        }
        let loss = score!
        // A refused update writes nothing large, so it must not prune either: W is restored from a copy only with epochs > 1.
        if applied && configuration.prune { pruneWeights() }
        updates += 1
        samples += rows
        var report = UpdateReport(loss: loss, mse: 2 * loss / Double(rows * configuration.sysDim),
                                  penalty: penaltyValue, prior: priorValue, rows: rows)
        report.diverged = !applied
        return report
    }

    // MARK: Divergence guard

    /// The state an update may change, copied before it into buffers kept between updates (no allocation once
    /// sized). W and its optimiser moments only with `epochs > 1` (see ``update(x:y:rows:stepLoss:)``).
    private struct Rollback {
        var weights: [Float] = [], m: [Float] = [], v: [Float] = []
        var copiedWeights = false
        var t: Float = 0
        var intercept: [Float] = [], interceptOptimizer: OptimizerState?
        var prior: WeightPrior<Float>?
        var xMoments: RunningMoments?, yMoments: RunningMoments?
        var generator: SeededGenerator?
        var updates = 0, samples = 0
    }
    @exclusivity(unchecked) private var rollback = Rollback()

    private func saveForRollback(copyingWeights: Bool) {
        rollback.copiedWeights = copyingWeights
        if copyingWeights {
            Self.copy(weights, into: &rollback.weights)
            Self.copy(optimizer.m, into: &rollback.m)
            Self.copy(optimizer.v, into: &rollback.v)
        }
        rollback.t = optimizer.t
        rollback.intercept = intercept
        rollback.interceptOptimizer = interceptOptimizer
        if prior != nil || rollback.prior != nil { rollback.prior = prior }
        rollback.xMoments = standardizer?.xMoments
        rollback.yMoments = standardizer?.yMoments
        rollback.generator = generator
        rollback.updates = updates
        rollback.samples = samples
    }

    private func rollBack() {
        if rollback.copiedWeights {
            Self.copy(rollback.weights, into: &weights)
            Self.copy(rollback.m, into: &optimizer.m)
            Self.copy(rollback.v, into: &optimizer.v)
        }
        optimizer.t = rollback.t
        intercept = rollback.intercept
        interceptOptimizer = rollback.interceptOptimizer ?? interceptOptimizer
        prior = rollback.prior
        if let xm = rollback.xMoments, let ym = rollback.yMoments { standardizer?.restore(x: xm, y: ym) }
        generator = rollback.generator ?? generator
        updates = rollback.updates
        samples = rollback.samples
    }

    private static func copy(_ source: [Float], into target: inout [Float]) {
        if target.count != source.count { target = [Float](repeating: 0, count: source.count) }
        target.withUnsafeMutableBufferPointer { t in source.withUnsafeBufferPointer { s in t.baseAddress!.update(from: s.baseAddress!, count: s.count) } }
    }

    private static func hyperParametersAreFinite(_ p: WeightPrior<Float>) -> Bool {
        p.weight.isFinite && p.hyperParameters.allSatisfy { $0.values.allSatisfy(\.isFinite) }
            && p.components.allSatisfy(hyperParametersAreFinite)
    }

    private func stateIsFinite() -> Bool {
        func finite(_ values: [Float]) -> Bool {
            values.withUnsafeBufferPointer { v in v.isEmpty || hebb_all_finite(v.baseAddress!, v.count) != 0 }
        }
        guard finite(weights), finite(optimizer.m), finite(optimizer.v), optimizer.t.isFinite, finite(intercept),
              finite(interceptOptimizer.m), finite(interceptOptimizer.v) else { return false }
        if let p = prior, p.fitsHyperParameters, !Self.hyperParametersAreFinite(p) { return false }
        return standardizer?.isFinite ?? true
    }

    /// One optimiser step on `rows` rows, ignoring `epochs`, `prune` and the counters; returns ½Σe²
    /// at the weights before the step. This is ngclearn's `fit(y, X)` with `epochs = 1`. A step that would make W or
    /// its moments non-finite is not taken (``update(x:y:rows:stepLoss:)`` also restores the rest and reports it).
    @discardableResult
    public func step(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) throws(CircuitError) -> Double {
        try checkShapes(x: x, y: y, rows: rows)
        return takeStep(x: x, y: y, rows: rows).loss
    }

    /// ½Σe² of these rows at the current state (raw target units), without learning.
    public func evaluate(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) throws(CircuitError) -> Double {
        try checkShapes(x: x, y: y, rows: rows)
        guard standardizer != nil else { return computeResidual(x: x, y: y, rows: rows) }
        standardizer!.standardize(x: x, y: y, rows: rows)
        return standardizer!.withStandardizedBatch(rows: rows) { sx, sy in computeResidual(x: sx, y: sy, rows: rows) }
    }

    /// Predictions for `rows` raw rows of X (row-major): rows × sys_dim values in the target's units, x·W + b.
    /// With `thresholded`, the published coefficients (see ``coefficients(into:intercept:)``) instead of W.
    public func predict(x: UnsafeBufferPointer<Float>, rows: Int, thresholded: Bool = false) throws(CircuitError) -> [Float] {
        let d = configuration.dictDim, s = configuration.sysDim
        guard x.count == rows * d else { throw .shapeMismatch(what: "x", expected: rows * d, got: x.count) }
        var out = [Float](repeating: 0, count: rows * s)
        guard rows > 0 else { return out }
        var matrix = [Float](repeating: 0, count: weights.count)
        var bias = [Float](repeating: 0, count: s)
        matrix.withUnsafeMutableBufferPointer { m in
            bias.withUnsafeMutableBufferPointer { b in _ = userUnitCoefficients(into: m, intercept: b, thresholded: thresholded) }
        }
        for r in 0..<rows { for k in 0..<s { out[r * s + k] = bias[k] } }
        matrix.withUnsafeBufferPointer { w in
            out.withUnsafeMutableBufferPointer { o in
                LinearAlgebra.multiply(x.baseAddress!, w.baseAddress!, into: o.baseAddress!, m: rows, k: d, n: s, alpha: 1, beta: 1)
            }
        }
        return out
    }

    // MARK: Output

    /// The published coefficients, in the user's units: W with |w| < threshold set to exactly 0 (the threshold
    /// is judged on the standardised W when `standardize` is on: a scale-free test of importance), mapped back
    /// to raw units; and, into `intercept` (sys_dim values) when given, the bias b that goes with them, so that
    /// ŷ = x·W + b for raw rows x. Without `standardize` or `intercept`, b is 0 and W is the learned W. Returns
    /// the number of nonzero coefficients.
    @discardableResult
    public func coefficients(into out: UnsafeMutableBufferPointer<Float>, intercept: UnsafeMutableBufferPointer<Float>? = nil) -> Int {
        userUnitCoefficients(into: out, intercept: intercept, thresholded: true)
    }

    /// The published coefficients as an array (see ``coefficients(into:intercept:)``).
    public var coefficients: [Float] {
        var out = [Float](repeating: 0, count: weights.count)
        out.withUnsafeMutableBufferPointer { _ = coefficients(into: $0) }
        return out
    }

    /// The published intercept, one per output (see ``coefficients(into:intercept:)``).
    public var publishedIntercept: [Float] {
        var w = [Float](repeating: 0, count: weights.count), b = [Float](repeating: 0, count: configuration.sysDim)
        w.withUnsafeMutableBufferPointer { w in b.withUnsafeMutableBufferPointer { b in _ = coefficients(into: w, intercept: b) } }
        return b
    }

    /// Raw-unit W (thresholded or not) and b. For standardised X̃ = (X − μx)/σx, Ỹ = (Y − μy)/σy:
    /// ŷ = μy + σy·(x̃·W̃ + b̃), so W_jk = W̃_jk·σy_k/σx_j and b_k = μy_k + σy_k·b̃_k − Σ_j μx_j·W_jk.
    private func userUnitCoefficients(into out: UnsafeMutableBufferPointer<Float>, intercept b: UnsafeMutableBufferPointer<Float>?,
                                      thresholded: Bool) -> Int {
        let threshold = thresholded ? configuration.threshold : 0
        let s = configuration.sysDim
        var nonzero = 0
        weights.withUnsafeBufferPointer { w in
            if let standardizer {
                nonzero = standardizer.userUnitCoefficients(weights: w, intercept: intercept, threshold: threshold, into: out, intercept: b)
            } else {
                nonzero = hebb_threshold(w.baseAddress, w.count, threshold, out.baseAddress)
                if let b { for k in 0..<s { b[k] = intercept.isEmpty ? 0 : intercept[k] } }
            }
        }
        return nonzero
    }

    // MARK: Control

    /// Back to the initial weights (the prior's `reset_value()` with `init = "prior_mean"`, a new `sample_init` draw
    /// with `"prior_sample"`, else
    /// `weight_fill`), optimiser state cleared, intercept zeroed, counters zeroed. Fitted prior hyper-parameters
    /// are kept. The standardisation statistics are cleared too (a fresh start), unless `keepStatistics`: they
    /// describe the stream, not the model, so keeping them lets a reset model learn in a well-scaled space from
    /// its first batch.
    public func reset(keepStatistics: Bool = false) {
        diverged = false
        weights = initialWeights()
        optimizer.reset()
        intercept = [Float](repeating: 0, count: intercept.count)
        interceptOptimizer.reset()
        if !keepStatistics { standardizer?.clear() }
        updates = 0
        samples = 0
    }

    /// Applies a new configuration live. Hyper-parameters (lr, lmbda, l1_ratio, threshold, epochs,
    /// update, prune, weight_fill) may change; what defines W's meaning or its state (kind, shape,
    /// optimiser, prior, init, seed) may not.
    public func reconfigure(_ new: CircuitConfiguration) throws(CircuitError) {
        try new.validate()
        if let why = configuration.incompatibility(with: new) {
            throw .incompatibleState("\(why): cannot change on a live model (reset or re-create it)")
        }
        configuration = new
        penalty = Penalty(kind: new.kind, lmbda: new.lmbda, l1Ratio: new.l1Ratio)
        diverged = false   // new hyper-parameters (a smaller lr) get their chance
    }

    // MARK: Internals

    private func checkShapes(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) throws(CircuitError) {
        guard rows > 0 else { throw .invalidParameter(name: "rows", value: "\(rows)", expected: "at least one row") }
        let d = configuration.dictDim, s = configuration.sysDim
        guard x.count == rows * d else { throw .shapeMismatch(what: "x", expected: rows * d, got: x.count) }
        guard y.count == rows * s else { throw .shapeMismatch(what: "y", expected: rows * s, got: y.count) }
    }

    /// residual ← Y − X·W (− b), and G ← −Xᵀ·residual when `computeGradient`; returns ½Σ residual², accumulated in
    /// Double — in the target's own units: with `standardize`, each output's squared residual is scaled back by its
    /// variance σy².
    private func computeResidual(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int,
                                 computeGradient: Bool = false) -> Double {
        let d = configuration.dictDim, s = configuration.sysDim, count = rows * s
        if residual.count < count { residual = [Float](repeating: 0, count: count) }
        return weights.withUnsafeBufferPointer { w in
            residual.withUnsafeMutableBufferPointer { e in
                let e = e.baseAddress!
                intercept.withUnsafeBufferPointer { b in
                    gradient.withUnsafeMutableBufferPointer { g in
                        LinearAlgebra.residual(
                            x: x.baseAddress!, y: y.baseAddress!, w: w.baseAddress!, bias: intercept.isEmpty ? nil : b.baseAddress,
                            into: e, gradient: computeGradient ? g.baseAddress : nil, rows: rows, d: d, s: s)
                    }
                }
                var sum = 0.0
                if let yScale = standardizer?.targetScale {
                    for r in 0..<rows { for k in 0..<s { let v = Double(e[r * s + k]) * yScale[k]; sum += v * v } }
                } else {
                    for i in 0..<count { sum += Double(e[i]) * Double(e[i]) }
                }
                return sum / 2
            }
        }
    }

    /// Runs `body` on the batch the optimiser learns from: the standardised copy when `standardize` is on
    /// (``Standardizer/standardize(x:y:rows:)`` must have run), else the raw rows.
    @inline(__always)
    private func withLearningBatch(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int,
                                   _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) -> Void) {
        if let standardizer { standardizer.withStandardizedBatch(rows: rows, body) } else { body(x, y) }
    }

    /// One optimiser step; returns ½Σe² at the weights before it, and whether it was taken: a step that would
    /// leave W, its moments, the intercept or the prior's fitted hyper-parameters non-finite is judged so before
    /// anything large is written, and not taken (the caller restores the small state, see ``update(x:y:rows:stepLoss:)``).
    private func takeStep(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) -> (loss: Double, applied: Bool) {
        let s = configuration.sysDim
        let loss = computeResidual(x: x, y: y, rows: rows, computeGradient: true)
        let hebbian = configuration.update == .hebbian
        let lr = configuration.learningRate
        let shrink: Float = hebbian ? 0 : penalty.l1Strength
        let proximalPrior = !hebbian && prior?.hasProximalStep == true
        let penalty = self.penalty
        let interceptRate = configuration.interceptLearningRate ?? lr
        if !intercept.isEmpty {
            // G_b = −Σ_rows e: the bias's share of the same data term, unpenalised.
            for k in 0..<s { interceptGradient[k] = 0 }
            for r in 0..<rows { for k in 0..<s { interceptGradient[k] -= residual[r * s + k] } }
        }
        return weights.withUnsafeMutableBufferPointer { w in
            let wr = UnsafeBufferPointer(w)
            let applied = gradient.withUnsafeMutableBufferPointer { g in
                penalty.accumulateGradient(of: wr, into: g, includeL1: hebbian)
                if prior != nil {
                    // With the proximal update, the prior's non-smooth part (L1, group lasso) is its proximal
                    // step below, not a subgradient here.
                    if proximalPrior { prior!.accumulateSmoothGradient(of: wr, into: g) } else { prior!.accumulateGradient(of: wr, into: g) }
                    // The hyper-parameters see the same W_k as W's own gradient.
                    prior!.fitHyperParameters(at: wr, learningRate: lr)
                    if prior!.fitsHyperParameters && !Self.hyperParametersAreFinite(prior!) { return false }
                }
                let gr = UnsafeBufferPointer(g)
                guard optimizer.stepIsFinite(weights: wr, gradient: gr, learningRate: lr, l1Shrink: shrink) else { return false }
                if !intercept.isEmpty {
                    let finite = intercept.withUnsafeBufferPointer { b in
                        interceptGradient.withUnsafeBufferPointer { gb in
                            interceptOptimizer.stepIsFinite(weights: b, gradient: gb, learningRate: interceptRate)
                        }
                    }
                    guard finite else { return false }
                }
                optimizer.step(weights: w, gradient: gr, learningRate: lr, l1Shrink: shrink)
                return true
            }
            guard applied else { return (loss, false) }
            if proximalPrior {
                // In the optimiser's metric: the step each coordinate just took (η, or Adam's η/(√v̂+ε)).
                // A proximal step maps finite values to finite values, so it needs no judging.
                stepSizes.withUnsafeMutableBufferPointer { sizes in
                    optimizer.stepSizes(learningRate: lr, into: sizes)
                    prior!.applyProximalStep(to: w, stepSizes: UnsafeBufferPointer(sizes))
                }
            }
            if !intercept.isEmpty {
                intercept.withUnsafeMutableBufferPointer { b in
                    interceptGradient.withUnsafeBufferPointer { g in interceptOptimizer.step(weights: b, gradient: g, learningRate: interceptRate) }
                }
            }
            return (loss, true)
        }
    }

    private func pruneWeights() {
        let threshold = configuration.threshold
        weights.withUnsafeMutableBufferPointer { w in _ = hebb_threshold(w.baseAddress, w.count, threshold, w.baseAddress) }
    }

    private func initialWeights() -> [Float] {
        let n = configuration.weightCount
        switch (configuration.initialization, prior) {
        case (.priorMean, let p?): return p.resetValue(count: n)
        case (.priorSample, let p?): return p.sampleInit(count: n, using: &generator)
        default: return [Float](repeating: configuration.weightFill, count: n)
        }
    }
}

/// What one mini-batch update reports. All terms are evaluated at the weights that scored the batch
/// (before its first step), so `loss + penalty + prior` is the objective there.
public struct UpdateReport: Sendable, Equatable {
    /// ½Σe² over the batch (ngclearn's −L).
    public var loss: Double
    /// Σe² / (rows · sys_dim).
    public var mse: Double
    /// The penalty term (see ``Penalty``).
    public var penalty: Double
    /// The prior's loss (0 without a prior).
    public var prior: Double
    /// Rows in the batch.
    public var rows: Int
    /// The update was rolled back because it would have made the state non-finite.
    public var diverged = false
}

/// A value snapshot of a circuit: everything a checkpoint must hold to continue bit-for-bit.
public struct CircuitState: Sendable, Equatable, Codable {
    /// The configuration.
    public var configuration: CircuitConfiguration
    /// W, row-major.
    public var weights: [Float]
    /// The optimiser state (m, v, t).
    public var optimizer: OptimizerState
    /// The prior and its (fitted) hyper-parameters and their optimiser state.
    public var prior: WeightPrior<Float>?
    /// The random generator's state.
    public var generator: SeededGenerator
    /// Mini-batch updates done.
    public var updates: Int
    /// Rows learned.
    public var samples: Int
    /// The bias per output in the learning space (empty without `intercept`).
    public var intercept: [Float]
    /// The bias's optimiser state (empty without `intercept`).
    public var interceptOptimizer: OptimizerState
    /// Running statistics of X and Y (nil without `standardize`).
    public var xMoments: RunningMoments?
    public var yMoments: RunningMoments?

    /// A state from its parts (used when decoding checkpoints). The last four default to "no intercept, no
    /// standardisation".
    public init(configuration: CircuitConfiguration, weights: [Float], optimizer: OptimizerState, prior: WeightPrior<Float>?,
                generator: SeededGenerator, updates: Int, samples: Int, intercept: [Float] = [],
                interceptOptimizer: OptimizerState? = nil, xMoments: RunningMoments? = nil, yMoments: RunningMoments? = nil) {
        self.configuration = configuration
        self.weights = weights
        self.optimizer = optimizer
        self.prior = prior
        self.generator = generator
        self.updates = updates
        self.samples = samples
        self.intercept = intercept
        self.interceptOptimizer = interceptOptimizer ?? OptimizerState(kind: configuration.optimizer, count: intercept.count)
        self.xMoments = xMoments
        self.yMoments = yMoments
    }
}
