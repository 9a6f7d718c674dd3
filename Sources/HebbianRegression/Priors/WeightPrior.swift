/// One stored hyper-parameter of a prior, named as brainstate stores it (`precision`, `df`, `alpha`…).
public struct PriorHyperParameter<Scalar: PriorFloatingPoint>: Sendable, Equatable, Codable {
    /// brainstate's attribute name.
    public var name: String
    /// One value (broadcast over W) or one per coefficient; stored raw, read through the kind's guard.
    public var values: [Scalar]
    /// Whether `fit_hyper` trains it.
    public var trainable: Bool
    /// Its optimiser state (empty moments unless trainable).
    public var optimizer: OptimizerState

    private enum CodingKeys: String, CodingKey {
        case name, values, trainable, optimizer
    }

    /// A hyper-parameter; the optimiser state is sized for `values` when trainable.
    public init(name: String, values: [Scalar], trainable: Bool, optimizer: OptimizerKind) {
        self.name = name
        self.values = values
        self.trainable = trainable
        self.optimizer = OptimizerState(kind: optimizer, count: trainable ? values.count : 0)
    }
}

/// A configured prior of any ``PriorKind`` on a W of ``rows`` × ``columns`` (row-major), with its
/// (possibly fitted) hyper-parameters: the runtime state a circuit keeps and a checkpoint stores.
///
/// The circuit uses `WeightPrior<Float>` (which conforms to ``Prior``); `WeightPrior<Double>` runs
/// the same kernels in Double, which is how the tests check brainstate's float64 values. Every
/// loss is summed over all coefficients and accumulated in Double; gradients are added into the
/// caller's buffer. Guards and derivatives at kinks follow brainstate and JAX (see `docs/PRIORS.md`).
public struct WeightPrior<Scalar: PriorFloatingPoint>: Sendable, Equatable, Codable {
    /// Which prior.
    public var kind: PriorKind
    /// brainstate's `weight` (the chain's own weight for a chain; 1 for the elastic net, which has none). Never trained.
    public var weight: Scalar
    /// Rows of W (dict_dim).
    public var rows: Int
    /// Columns of W (sys_dim).
    public var columns: Int
    /// The stored hyper-parameters, in ``PriorKind/storedHyperParameters`` order.
    public var hyperParameters: [PriorHyperParameter<Scalar>]
    /// Group lasso: consecutive coefficients per group (sys_dim: the rows of W).
    public var groupSize: Int
    /// Total variation: 1 (first differences) or 2 (second differences).
    public var order: Int
    /// Entropy: maximise (true) or minimise the entropy of softmax(W).
    public var maximize: Bool
    /// Spectral norm: stored and unused, as in brainstate (the norm is exact).
    public var powerIterations: Int
    /// `fit_hyper` as configured (a chain's own flag is kept but not forwarded, as in brainstate).
    public var fitHyper: Bool
    /// A chain's components (empty otherwise).
    public var components: [WeightPrior<Scalar>]

    private enum CodingKeys: String, CodingKey {
        case kind, weight, rows, columns
        case hyperParameters = "hyper_parameters"
        case groupSize = "group_size"
        case order, maximize
        case powerIterations = "n_power_iterations"
        case fitHyper = "fit_hyper"
        case components
    }

    /// The prior a configuration describes. It does not validate: call
    /// ``PriorConfiguration/validate(weightCount:dictDim:sysDim:)`` (or use ``PriorConfiguration/makePrior(dictDim:sysDim:optimizer:)``).
    /// Values are rounded to `Scalar`, as brainstate rounds them to its dtype; the Gaussian precision is
    /// 1/(std² + 1e-8) computed in Double from the rounded std (as ``GaussianPrior``) and rounded once.
    public init(_ configuration: PriorConfiguration, rows: Int, columns: Int, optimizer: OptimizerKind) {
        kind = configuration.kind
        weight = Scalar(configuration.weight)
        self.rows = rows
        self.columns = columns
        groupSize = configuration.integer(.groupSize) ?? 1
        order = configuration.integer(.order) ?? 1
        maximize = configuration.kind == .entropy ? configuration.flag(.maximize) : true
        powerIterations = configuration.integer(.nPowerIterations) ?? 1
        fitHyper = configuration.fitHyper
        let trainable = configuration.fitHyper ? Set(configuration.kind.trainableHyperParameters) : []
        hyperParameters = configuration.kind.storedHyperParameters.map { name in
            let values: [Scalar]
            if name == "precision" {
                // In Double from the std rounded to Scalar, exactly as GaussianPrior.precision(std:) for Float.
                values = configuration.numbers(.std).map { std in
                    let s = Double(Scalar(std))
                    return Scalar(1 / (s * s + 1e-8))
                }
            } else {
                values = configuration.numbers(PriorArgument(rawValue: name)!).map { Scalar($0) }
            }
            return PriorHyperParameter(name: name, values: values, trainable: trainable.contains(name), optimizer: optimizer)
        }
        components = configuration.components.map { WeightPrior($0, rows: rows, columns: columns, optimizer: optimizer) }
    }

    /// Number of coefficients, rows × columns.
    public var count: Int { rows * columns }

    /// The values of the hyper-parameter called `name` (nil if the kind has none of that name).
    public func hyperParameter(_ name: String) -> [Scalar]? {
        hyperParameters.first { $0.name == name }?.values
    }

    /// Whether `fit_hyper` trains anything here (for a chain: in any component).
    public var fitsHyperParameters: Bool {
        kind == .chain ? components.contains { $0.fitsHyperParameters } : hyperParameters.contains { $0.trainable }
    }

    // MARK: Loss and gradients

    /// The loss at `x` (W, row-major, ``count`` values), summed over all coefficients in Double.
    @inlinable
    public func loss(of x: UnsafeBufferPointer<Scalar>) -> Double {
        var outputs = PriorOutputs<Scalar>()
        return evaluate(x, scale: 1, outputs: &outputs)
    }

    /// Adds ∂loss/∂W at `x` to `gradient`.
    @inlinable
    public func accumulateGradient(of x: UnsafeBufferPointer<Scalar>, into gradient: UnsafeMutableBufferPointer<Scalar>) {
        var outputs = PriorOutputs<Scalar>(gradient: gradient)
        _ = evaluate(x, scale: 1, outputs: &outputs)
    }

    /// ∂loss/∂h at `x` for every stored hyper-parameter h (trainable or not), each summed down to h's
    /// own shape, by name. A chain reports its components' as `"<index>.<name>"`, scaled by the chain weight.
    public func hyperGradients(at x: UnsafeBufferPointer<Scalar>) -> [String: [Double]] {
        hyperGradients(at: x, scale: 1)
    }

    func hyperGradients(at x: UnsafeBufferPointer<Scalar>, scale: Scalar) -> [String: [Double]] {
        if kind == .chain {
            var all: [String: [Double]] = [:]
            for (index, component) in components.enumerated() {
                for (name, gradient) in component.hyperGradients(at: x, scale: scale * weight) { all["\(index).\(name)"] = gradient }
            }
            return all
        }
        var outputs = PriorOutputs<Scalar>(hyperCounts: hyperParameters.map(\.values.count))
        _ = evaluate(x, scale: scale, outputs: &outputs)
        return Dictionary(uniqueKeysWithValues: zip(hyperParameters.map(\.name), outputs.hyperGradients))
    }

    // MARK: Reset and sampling

    /// The value W returns to on reset (brainstate's `reset_value()`), one per coefficient. A chain
    /// takes its first component's (0 when empty).
    public func resetValue(count: Int) -> [Scalar] {
        if kind == .chain { return components.first?.resetValue(count: count) ?? Array(repeating: 0, count: count) }
        var values = [Scalar](repeating: 0, count: count)
        for i in 0..<count { values[i] = resetValue(at: i) }
        return values
    }

    /// A draw of W from the prior (brainstate's `sample_init`) with `generator`. A chain draws from its
    /// first component (zeros when empty).
    public func sampleInit(count: Int, using generator: inout SeededGenerator) -> [Scalar] {
        if kind == .chain { return components.first?.sampleInit(count: count, using: &generator) ?? Array(repeating: 0, count: count) }
        return PriorSampler(prior: self).draw(count: count, using: &generator).map { Scalar($0) }
    }

    @inlinable
    func value(_ k: Int, _ i: Int) -> Scalar {
        let values = hyperParameters[k].values
        return values.count == 1 ? values[0] : values[i]
    }

    private func resetValue(at i: Int) -> Scalar {
        let positive = PriorMath.positive(_:) as (Scalar) -> Scalar
        switch kind {
        case .gaussian: return value(0, i)
        case .uniform: return (value(0, i) + value(1, i)) / 2
        case .logNormal: return Scalar.exponential(value(0, i))
        case .gamma:
            let a = positive(value(0, i)), b = positive(value(1, i))
            return max((a - 1) / b, Scalar(1e-8))
        case .inverseGamma:
            let a = positive(value(0, i)), b = positive(value(1, i))
            return b / (a + 1)
        case .beta:
            let a = positive(value(0, i)), b = positive(value(1, i))
            return min(max((a - 1) / (a + b - 2 + Scalar(1e-8)), 0), 1)
        case .logUniform:
            return (positive(value(0, i)) * positive(value(1, i))).squareRoot()
        default: return 0
        }
    }
}

/// What one evaluation of a prior writes besides its loss.
@usableFromInline
struct PriorOutputs<Scalar: PriorFloatingPoint> {
    /// Receives scale · ∂loss/∂W (nil: not wanted).
    @usableFromInline var gradient: UnsafeMutableBufferPointer<Scalar>?
    /// scale · ∂loss/∂h per stored hyper-parameter (empty: not wanted).
    @usableFromInline var hyperGradients: [[Double]]
    /// Leave out the terms a proximal step applies instead (L1, the elastic net's L1 part, group lasso).
    @usableFromInline var smoothOnly: Bool

    @usableFromInline
    init(gradient: UnsafeMutableBufferPointer<Scalar>? = nil, hyperCounts: [Int] = [], smoothOnly: Bool = false) {
        self.gradient = gradient
        self.hyperGradients = hyperCounts.map { [Double](repeating: 0, count: $0) }
        self.smoothOnly = smoothOnly
    }

    @usableFromInline var wantsHyper: Bool { !hyperGradients.isEmpty }
}

extension WeightPrior: Prior where Scalar == Float {
    /// One optimiser step on every trainable hyper-parameter from the prior loss at `weights`; all
    /// gradients are taken at the same W before any value moves. A chain steps its components, whose
    /// gradients carry the chain's weight.
    public mutating func fitHyperParameters(at weights: UnsafeBufferPointer<Float>, learningRate: Float) {
        fitHyperParameters(at: weights, learningRate: learningRate, scale: 1)
    }

    mutating func fitHyperParameters(at weights: UnsafeBufferPointer<Float>, learningRate: Float, scale: Float) {
        if kind == .chain {
            for index in components.indices {
                components[index].fitHyperParameters(at: weights, learningRate: learningRate, scale: scale * weight)
            }
            return
        }
        guard fitsHyperParameters else { return }
        var outputs = PriorOutputs<Float>(hyperCounts: hyperParameters.map(\.values.count))
        _ = evaluate(weights, scale: scale, outputs: &outputs)
        for k in hyperParameters.indices where hyperParameters[k].trainable {
            let gradient = outputs.hyperGradients[k].map { Float($0) }
            var parameter = hyperParameters[k]
            parameter.optimizer.apply(gradient: gradient, to: &parameter.values, learningRate: learningRate)
            hyperParameters[k] = parameter
        }
    }
}

extension WeightPrior where Scalar == Float {
    /// The same prior and fitted state as a ``GaussianPrior`` (to carry an existing circuit's prior over).
    public init(_ gaussian: GaussianPrior, rows: Int, columns: Int) {
        let optimizer = gaussian.meanOptimizer.kind
        self.init(PriorConfiguration(kind: .gaussian, arguments: [.weight: .numbers([Double(gaussian.weight)]),
                                                                  .fitHyper: .flag(gaussian.fitHyper)]),
                  rows: rows, columns: columns, optimizer: optimizer)
        hyperParameters[0].values = gaussian.mean
        hyperParameters[0].optimizer = gaussian.meanOptimizer
        hyperParameters[1].values = gaussian.precision
        hyperParameters[1].optimizer = gaussian.precisionOptimizer
    }
}

extension WeightPrior {
    /// Why this state cannot continue under `configuration` on a `rows` × `columns` W with `optimizer`
    /// (nil: it can). Fitted values of trainable hyper-parameters may differ from the configuration;
    /// everything else (kind, shape, fixed values, which values train and their optimiser state's size)
    /// must be what the configuration builds. For restoring a checkpoint or a live reconfiguration.
    public func incompatibility(with configuration: PriorConfiguration, rows: Int, columns: Int, optimizer: OptimizerKind) -> String? {
        incompatibility(with: WeightPrior(configuration, rows: rows, columns: columns, optimizer: optimizer), path: "prior")
    }

    private func incompatibility(with fresh: WeightPrior, path: String) -> String? {
        if kind != fresh.kind { return "\(path) kind \(kind.rawValue) → \(fresh.kind.rawValue)" }
        if rows != fresh.rows || columns != fresh.columns { return "\(path) shape \(rows)×\(columns) → \(fresh.rows)×\(fresh.columns)" }
        if weight != fresh.weight || groupSize != fresh.groupSize || order != fresh.order || maximize != fresh.maximize
            || powerIterations != fresh.powerIterations || fitHyper != fresh.fitHyper {
            return "\(path) settings changed"
        }
        if hyperParameters.map(\.name) != fresh.hyperParameters.map(\.name) { return "\(path) hyper-parameters differ" }
        for (ours, theirs) in zip(hyperParameters, fresh.hyperParameters) {
            let name = "\(path).\(ours.name)"
            if ours.values.count != theirs.values.count { return "\(name) has \(ours.values.count) values, expected \(theirs.values.count)" }
            if ours.trainable != theirs.trainable { return "\(name) trainable \(ours.trainable) → \(theirs.trainable)" }
            if !ours.trainable && ours.values != theirs.values { return "\(name) changed" }
            if ours.optimizer.kind != theirs.optimizer.kind || ours.optimizer.m.count != theirs.optimizer.m.count
                || ours.optimizer.v.count != theirs.optimizer.m.count {
                return "\(name) optimizer state does not match \(theirs.optimizer.kind.rawValue) on \(theirs.values.count) values"
            }
        }
        if components.count != fresh.components.count { return "\(path) has \(components.count) components, expected \(fresh.components.count)" }
        for (index, pair) in zip(components, fresh.components).enumerated() {
            if let why = pair.0.incompatibility(with: pair.1, path: "\(path)[\(index)]") { return why }
        }
        return nil
    }
}
