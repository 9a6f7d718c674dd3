/// The three regularised regressions that a circuit can learn.
///
/// Each one minimises ½‖Y − XW‖² plus its penalty (see ``Penalty``); the raw values are the
/// names used in config files and on the wire.
public enum RegressionKind: String, Sendable, Codable, CaseIterable {
    /// L1 penalty λ‖W‖₁ (ngclearn's `Iterative_Lasso`).
    case lasso
    /// L2 penalty (λ/2)‖W‖² (ngclearn's `Iterative_Ridge`).
    case ridge
    /// λ·r‖W‖₁ + λ(1−r)/4‖W‖² (ngclearn's `Iterative_ElasticNet`, including its extra ½ on the L2 part).
    case elasticNet = "elastic_net"

    /// ngclearn's real default threshold for this kind (the ElasticNet docstring says 0.001; the code uses 0.05).
    public var defaultThreshold: Float {
        switch self {
        case .lasso, .ridge: return 0.001
        case .elasticNet: return 0.05
        }
    }
}

/// The optimiser that turns a gradient into a weight update.
public enum OptimizerKind: String, Sendable, Codable, CaseIterable {
    /// Adam with β1 = 0.9, β2 = 0.999, ε = 1e-8 added outside the square root, bias-corrected, t from 1.
    case adam
    /// Plain gradient descent W ← W − η·G.
    case sgd
}

/// How the L1 part of the penalty enters the update.
public enum UpdateRule: String, Sendable, Codable, CaseIterable {
    /// ngclearn-exact: the L1 subgradient λ·sign(W) joins the gradient. Coefficients that should be
    /// zero chatter around zero with an amplitude of order lr·λ (SGD) or lr (Adam).
    case hebbian
    /// Proximal gradient (ISTA): the L1 part is applied as soft-thresholding after the optimiser step,
    /// which gives exact zeros. With Adam the soft-threshold uses Adam's per-coordinate step size
    /// η/(√v̂+ε), i.e. the proximal step in Adam's diagonal metric.
    case proximal
}

/// How W is filled when a circuit is created or reset.
public enum WeightInitialization: String, Sendable, Codable, CaseIterable {
    /// Every entry equals `weightFill` (ngclearn's constant initialiser).
    case fill
    /// W starts at the prior's mean (`reset_value()` in brainstate).
    case priorMean = "prior_mean"
    /// W is drawn from the prior with the circuit's seeded generator (`sample_init`).
    case priorSample = "prior_sample"
}

/// Everything that defines one circuit: shape, penalty, optimiser and prior.
///
/// Defaults are ngclearn's real code defaults, except `epochs`: ngclearn's `fit` defaults to 100
/// full-batch steps per call, which on a stream would fit every mini-batch a hundred times and
/// forget the past; hebbd takes one step per mini-batch (`epochs = 1`), the online-learning setting.
public struct CircuitConfiguration: Sendable, Equatable, Codable {
    /// The regression kind.
    public var kind: RegressionKind
    /// Number of features (rows of W).
    public var dictDim: Int
    /// Number of targets (columns of W).
    public var sysDim: Int
    /// Optimiser steps per mini-batch.
    public var epochs: Int = 1
    /// The optimiser.
    public var optimizer: OptimizerKind = .adam
    /// Learning rate η.
    public var learningRate: Float = 0.01
    /// Penalty strength λ.
    public var lmbda: Float = 0.0001
    /// L1 share r of the elastic net penalty (ignored by lasso and ridge).
    public var l1Ratio: Float = 0.5
    /// Coefficients with |w| below this are published as 0.
    public var threshold: Float
    /// The constant initial weight.
    public var weightFill: Float = 0.05
    /// ngclearn-exact subgradient or proximal update.
    public var update: UpdateRule = .hebbian
    /// Write the thresholded zeros back into W after every update (ngclearn's destructive `thresholding()`, unscaled).
    public var prune: Bool = false
    /// How W starts.
    public var initialization: WeightInitialization = .fill
    /// Optional prior on W: any of brainstate's 23 regularisers, or a chain of them (`kind = .chain`).
    public var prior: PriorConfiguration?
    /// Seed of the circuit's random generator (used by `prior_sample`).
    public var seed: UInt64 = 0
    /// Standardise X and Y online (running mean and variance per column) and learn in that space. W and the
    /// loss are still published in the user's units. Off by default: ngclearn has no scaling.
    public var standardize = false
    /// Learn an unpenalised bias per output (no penalty, prior or threshold on it). Off by default: ngclearn
    /// has none.
    public var intercept = false
    /// The intercept's learning rate; nil uses `learningRate`.
    public var interceptLearningRate: Float?

    /// A configuration with ngclearn's defaults for `kind`.
    public init(kind: RegressionKind, dictDim: Int, sysDim: Int = 1) {
        self.kind = kind
        self.dictDim = dictDim
        self.sysDim = sysDim
        self.threshold = kind.defaultThreshold
    }

    /// The most optimiser steps one mini-batch may take.
    public static let maximumEpochs = 1000

    /// Number of coefficients, dictDim × sysDim.
    public var weightCount: Int { dictDim * sysDim }

    /// Why `new` cannot take over this configuration's learned state (nil: it can; only hyper-parameters
    /// differ). Kind, shape, optimiser and prior define what W and the optimiser state mean. The one rule
    /// behind live reconfiguration, config reloads and resuming from a checkpoint.
    public func incompatibility(with new: CircuitConfiguration) -> String? {
        if kind != new.kind { return "kind \(kind.rawValue) → \(new.kind.rawValue)" }
        if dictDim != new.dictDim || sysDim != new.sysDim { return "shape \(dictDim)×\(sysDim) → \(new.dictDim)×\(new.sysDim)" }
        if optimizer != new.optimizer { return "optim \(optimizer.rawValue) → \(new.optimizer.rawValue)" }
        if prior != new.prior { return "prior changed" }
        if standardize != new.standardize { return "standardize \(standardize) → \(new.standardize)" }
        if intercept != new.intercept { return "intercept \(intercept) → \(new.intercept)" }
        return nil
    }

    /// Checks every value; the error names the offending parameter and what was expected.
    public func validate() throws(CircuitError) {
        func require(_ ok: Bool, _ name: String, _ value: CustomStringConvertible, _ expected: String) throws(CircuitError) {
            if !ok { throw .invalidParameter(name: name, value: value.description, expected: expected) }
        }
        try require(dictDim > 0, "dict_dim", dictDim, "an integer > 0")
        try require(sysDim > 0, "sys_dim", sysDim, "an integer > 0")
        // Bounded so that one mini-batch cannot hold the engine for minutes (ngclearn's default is 100).
        try require((1...CircuitConfiguration.maximumEpochs).contains(epochs), "epochs", epochs,
                    "an integer in [1, \(CircuitConfiguration.maximumEpochs)]")
        try require(learningRate.isFinite && learningRate > 0, "lr", learningRate, "a finite number > 0")
        try require(lmbda.isFinite && lmbda >= 0, "lmbda", lmbda, "a finite number ≥ 0")
        try require(l1Ratio.isFinite && (0...1).contains(l1Ratio), "l1_ratio", l1Ratio, "a number in [0, 1]")
        try require(threshold.isFinite && threshold >= 0, "threshold", threshold, "a finite number ≥ 0")
        try require(weightFill.isFinite, "weight_fill", weightFill, "a finite number")
        if let rate = interceptLearningRate {
            try require(rate.isFinite && rate > 0, "intercept_lr", rate, "a finite number > 0")
        }
        if let prior {
            try prior.validate(weightCount: weightCount, dictDim: dictDim, sysDim: sysDim)
        } else if initialization != .fill {
            throw .invalidParameter(name: "init", value: initialization.rawValue, expected: "\"fill\" unless a [model.prior] is given")
        }
    }
}

/// Errors of the learning core. Each case says what was wrong and what was expected.
public enum CircuitError: Error, Equatable, CustomStringConvertible {
    /// A hyper-parameter is out of range.
    case invalidParameter(name: String, value: String, expected: String)
    /// A buffer does not have the size its shape requires.
    case shapeMismatch(what: String, expected: Int, got: Int)
    /// A restored state does not belong to this configuration.
    case incompatibleState(String)

    public var description: String {
        switch self {
        case let .invalidParameter(name, value, expected):
            return "invalid \(name) = \(value): expected \(expected)"
        case let .shapeMismatch(what, expected, got):
            return "\(what) has \(got) values, expected \(expected)"
        case let .incompatibleState(why):
            return "incompatible state: \(why)"
        }
    }
}
