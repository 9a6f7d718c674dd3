/// One Hebbian sparse-regression circuit: a synapse W (dict_dim × sys_dim) and a Gaussian error cell.
///
/// A training step on a batch (X, Y) of n rows, exactly as ngclearn's `Iterative_*` modules
/// (`spec/ngclearn-regression.md` §2–3):
///
///     e    = Y − X·W                         (error cell, Σ = 1)
///     loss = ½ Σ e²                          (ngclearn's −L, scored before the step)
///     G    = −Xᵀe + λ·g(W) + ∇prior(W)       (a sum over rows, not a mean)
///     W    ← optimiser(W, G)
///
/// ``update(x:y:rows:)`` runs `epochs` such steps on one mini-batch and reports the loss of the
/// first (prequential: the batch is scored before the model learns from it).
///
/// The circuit owns reusable work buffers and is meant to be driven by one thread; take a
/// ``state`` snapshot (a value) to hand its state to another thread, e.g. for a checkpoint.
public final class HebbianCircuit {
    /// The configuration in force.
    public private(set) var configuration: CircuitConfiguration
    /// W, row-major dict_dim × sys_dim. Keeps learning; thresholding is for output only (unless `prune`).
    public private(set) var weights: [Float]
    /// The optimiser's state for W.
    public private(set) var optimizer: OptimizerState
    /// The prior, with its (possibly fitted) hyper-parameters.
    public private(set) var prior: GaussianPrior?
    /// The circuit's random generator (used by `prior_sample`).
    public private(set) var generator: SeededGenerator
    /// Mini-batch updates done (each of `epochs` optimiser steps).
    public private(set) var updates: Int = 0
    /// Rows learned from.
    public private(set) var samples: Int = 0

    private var penalty: Penalty
    private var residual: [Float] = []
    private var gradient: [Float]

    /// A fresh circuit. W starts at `weight_fill`, the prior mean or a prior draw, per `initialization`.
    public init(_ configuration: CircuitConfiguration) throws(CircuitError) {
        try configuration.validate()
        _ = LinearAlgebra.singleThreaded
        self.configuration = configuration
        penalty = Penalty(kind: configuration.kind, lmbda: configuration.lmbda, l1Ratio: configuration.l1Ratio)
        optimizer = OptimizerState(kind: configuration.optimizer, count: configuration.weightCount)
        prior = configuration.prior.map { GaussianPrior($0, optimizer: configuration.optimizer) }
        generator = SeededGenerator(seed: configuration.seed)
        gradient = [Float](repeating: 0, count: configuration.weightCount)
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
        guard (state.prior == nil) == (state.configuration.prior == nil) else {
            throw .incompatibleState("prior present in only one of configuration and state")
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
    }

    /// A value snapshot of everything needed to continue bit-for-bit.
    public var state: CircuitState {
        CircuitState(configuration: configuration, weights: weights, optimizer: optimizer, prior: prior,
                     generator: generator, updates: updates, samples: samples)
    }

    // MARK: Learning

    /// One mini-batch update: `epochs` optimiser steps on these `rows` rows (X row-major rows × dict_dim,
    /// Y rows × sys_dim). Returns the batch's scores at the weights it was scored with (before the first step);
    /// `stepLoss` sees ½Σe² before every step (for `hebbd fit --json`).
    @discardableResult
    public func update(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int,
                       stepLoss: (Double) -> Void = { _ in }) throws(CircuitError) -> UpdateReport {
        try checkShapes(x: x, y: y, rows: rows)
        let penaltyValue = weights.withUnsafeBufferPointer { penalty.value(of: $0) }
        let priorValue = prior.map { p in weights.withUnsafeBufferPointer { p.loss(of: $0) } } ?? 0
        let loss = takeStep(x: x, y: y, rows: rows)
        stepLoss(loss)
        for _ in 1..<max(configuration.epochs, 1) { stepLoss(takeStep(x: x, y: y, rows: rows)) }
        if configuration.prune { pruneWeights() }
        updates += 1
        samples += rows
        return UpdateReport(loss: loss, mse: 2 * loss / Double(rows * configuration.sysDim),
                            penalty: penaltyValue, prior: priorValue, rows: rows)
    }

    /// One optimiser step on `rows` rows, ignoring `epochs`, `prune` and the counters; returns ½Σe²
    /// at the weights before the step. This is ngclearn's `fit(y, X)` with `epochs = 1`.
    @discardableResult
    public func step(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) throws(CircuitError) -> Double {
        try checkShapes(x: x, y: y, rows: rows)
        return takeStep(x: x, y: y, rows: rows)
    }

    /// ½Σe² of these rows at the current W, without learning.
    public func evaluate(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) throws(CircuitError) -> Double {
        try checkShapes(x: x, y: y, rows: rows)
        return computeResidual(x: x, y: y, rows: rows)
    }

    /// X·W for `rows` rows of X (row-major), rows × sys_dim values; with `thresholded`, X times the
    /// published coefficients instead of W.
    public func predict(x: UnsafeBufferPointer<Float>, rows: Int, thresholded: Bool = false) throws(CircuitError) -> [Float] {
        let d = configuration.dictDim, s = configuration.sysDim
        guard x.count == rows * d else { throw .shapeMismatch(what: "x", expected: rows * d, got: x.count) }
        var out = [Float](repeating: 0, count: rows * s)
        guard rows > 0 else { return out }
        let matrix = thresholded ? coefficients : weights
        matrix.withUnsafeBufferPointer { w in
            out.withUnsafeMutableBufferPointer { o in
                LinearAlgebra.multiply(x.baseAddress!, w.baseAddress!, into: o.baseAddress!, m: rows, k: d, n: s, alpha: 1, beta: 0)
            }
        }
        return out
    }

    // MARK: Output

    /// The published coefficients: W with |w| < threshold set to 0. Returns the number of nonzeros.
    @discardableResult
    public func coefficients(into out: UnsafeMutableBufferPointer<Float>) -> Int {
        let threshold = configuration.threshold
        var nonzero = 0
        weights.withUnsafeBufferPointer { w in
            for i in 0..<w.count {
                let kept = abs(w[i]) >= threshold ? w[i] : 0
                out[i] = kept
                if kept != 0 { nonzero += 1 }
            }
        }
        return nonzero
    }

    /// The published coefficients as an array (see ``coefficients(into:)``).
    public var coefficients: [Float] {
        var out = [Float](repeating: 0, count: weights.count)
        out.withUnsafeMutableBufferPointer { _ = coefficients(into: $0) }
        return out
    }

    // MARK: Control

    /// Back to the initial weights (prior mean when there is a prior and `init` is not `fill`, else
    /// `weight_fill`), optimiser state cleared, counters zeroed. Fitted prior hyper-parameters are kept.
    public func reset() {
        weights = initialWeights()
        optimizer.reset()
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
    }

    // MARK: Internals

    private func checkShapes(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) throws(CircuitError) {
        guard rows > 0 else { throw .invalidParameter(name: "rows", value: "\(rows)", expected: "at least one row") }
        let d = configuration.dictDim, s = configuration.sysDim
        guard x.count == rows * d else { throw .shapeMismatch(what: "x", expected: rows * d, got: x.count) }
        guard y.count == rows * s else { throw .shapeMismatch(what: "y", expected: rows * s, got: y.count) }
    }

    /// residual ← Y − X·W; returns ½Σ residual², accumulated in Double.
    private func computeResidual(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) -> Double {
        let d = configuration.dictDim, s = configuration.sysDim, count = rows * s
        if residual.count < count { residual = [Float](repeating: 0, count: count) }
        return weights.withUnsafeBufferPointer { w in
            residual.withUnsafeMutableBufferPointer { e in
                let e = e.baseAddress!
                e.update(from: y.baseAddress!, count: count)
                LinearAlgebra.multiply(x.baseAddress!, w.baseAddress!, into: e, m: rows, k: d, n: s, alpha: -1, beta: 1)
                var sum = 0.0
                for i in 0..<count { sum += Double(e[i]) * Double(e[i]) }
                return sum / 2
            }
        }
    }

    private func takeStep(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) -> Double {
        let d = configuration.dictDim, s = configuration.sysDim
        let loss = computeResidual(x: x, y: y, rows: rows)
        let hebbian = configuration.update == .hebbian
        let lr = configuration.learningRate
        let shrink: Float = hebbian ? 0 : penalty.l1Strength
        let penalty = self.penalty
        weights.withUnsafeMutableBufferPointer { w in
            let wr = UnsafeBufferPointer(w)
            gradient.withUnsafeMutableBufferPointer { g in
                residual.withUnsafeBufferPointer { e in
                    // G = −Xᵀe (the Hebbian term preᵀ·post, times sign_value −1)
                    LinearAlgebra.multiplyTransposed(x.baseAddress!, e.baseAddress!, into: g.baseAddress!,
                                                     m: d, k: rows, n: s, alpha: -1, beta: 0)
                }
                penalty.accumulateGradient(of: wr, into: g, includeL1: hebbian)
                if prior != nil {
                    prior!.accumulateGradient(of: wr, into: g)
                    // The hyper-parameters see the same W_k as W's own gradient.
                    prior!.fitHyperParameters(at: wr, learningRate: lr)
                }
                optimizer.step(weights: w, gradient: UnsafeBufferPointer(g), learningRate: lr, l1Shrink: shrink)
            }
        }
        return loss
    }

    private func pruneWeights() {
        let threshold = configuration.threshold
        for i in weights.indices where abs(weights[i]) < threshold { weights[i] = 0 }
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
    public var prior: GaussianPrior?
    /// The random generator's state.
    public var generator: SeededGenerator
    /// Mini-batch updates done.
    public var updates: Int
    /// Rows learned.
    public var samples: Int

    /// A state from its parts (used when decoding checkpoints).
    public init(configuration: CircuitConfiguration, weights: [Float], optimizer: OptimizerState, prior: GaussianPrior?,
                generator: SeededGenerator, updates: Int, samples: Int) {
        self.configuration = configuration
        self.weights = weights
        self.optimizer = optimizer
        self.prior = prior
        self.generator = generator
        self.updates = updates
        self.samples = samples
    }
}
