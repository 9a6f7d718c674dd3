/// Bayesian linear regression with the exact conjugate posterior, per output (`kind = "bayesian"`; docs/MATH.md §10).
///
/// Prior W[:, k] ~ N(μ₀, diag(v₀)), likelihood y_k | x ~ N(x·W[:, k] (+ b_k), 1/β_k). After rows with weights w_i:
///
///     P_k = c·diag(1/v₀) + β_k·Σ w·x̃x̃ᵀ        (posterior precision; c = the prior's weight, s^N with smoothing)
///     η_k = c·μ₀/v₀     + β_k·Σ w·x̃·ỹ_k       (natural mean; the posterior mean is P_k⁻¹η_k)
///
/// in the learning space x̃, ỹ (raw, centred, or standardised; see ``BayesianConfiguration``). The model keeps only
/// the raw-unit sufficient statistics (``CrossMoments``, Double) and forms P and η from them when the posterior is
/// read, then factors P (``GaussianPosterior``): the accumulators are exact sums, so no rounding compounds across
/// updates, and the standardisation, the prior and the noise in force apply to the whole history.
///
/// An update scores the batch prequentially (at the posterior before it), then folds it in. Float rows are widened
/// to Double; Double rows (float64 ingest frames) keep their precision.
///
/// Driven by one thread; ``state`` is a value snapshot for checkpoints.
public final class BayesianRegression {
    /// The configuration in force.
    public private(set) var configuration: BayesianConfiguration
    /// The sufficient statistics.
    public private(set) var moments: CrossMoments
    /// `fit_noise`'s accumulators: Σ ω·e²·f per output (raw units²), Σ ω, and the starting value's weight.
    public private(set) var noise: NoiseEstimate
    /// Mini-batch updates done.
    public private(set) var updates = 0
    /// Rows learned from.
    public private(set) var samples = 0

    private var cache: Posterior?
    private var workspace: [Double] = []
    private var widenedX: [Double] = [], widenedY: [Double] = []

    /// A fresh model (the prior, no data).
    public init(_ configuration: BayesianConfiguration) throws(CircuitError) {
        try configuration.validate()
        self.configuration = configuration
        moments = CrossMoments(features: configuration.dictDim, outputs: configuration.sysDim)
        noise = NoiseEstimate(outputs: configuration.sysDim)
    }

    /// A model continuing from a saved state.
    public init(restoring state: BayesianState) throws(CircuitError) {
        try state.configuration.validate()
        let c = state.configuration
        guard state.moments.features == c.dictDim, state.moments.outputs == c.sysDim, state.moments.isFinite,
              state.moments.mean.count == c.dictDim + c.sysDim,
              state.moments.upperComoment.count == (c.dictDim + c.sysDim) * (c.dictDim + c.sysDim)
        else { throw .incompatibleState("bayesian statistics do not describe a \(c.dictDim)×\(c.sysDim) model") }
        guard state.noise.sum.count == c.sysDim, state.noise.sum.count == state.noise.weight.count,
              state.noise.sum.allSatisfy(\.isFinite), state.noise.weight.allSatisfy({ $0.isFinite && $0 >= 0 }),
              state.noise.startWeight.isFinite, state.noise.startWeight >= 0
        else { throw .incompatibleState("noise estimate does not describe \(c.sysDim) outputs") }
        configuration = c
        moments = state.moments
        noise = state.noise
        updates = state.updates
        samples = state.samples
    }

    /// A value snapshot of everything needed to continue exactly.
    public var state: BayesianState {
        BayesianState(configuration: configuration, moments: moments, noise: noise, updates: updates, samples: samples)
    }

    /// Applies a new configuration live (prior, noise_std, standardize, intercept, level); see
    /// ``BayesianConfiguration/incompatibility(with:)`` for what may not change.
    public func reconfigure(_ new: BayesianConfiguration) throws(CircuitError) {
        try new.validate()
        if let why = configuration.incompatibility(with: new) {
            throw .incompatibleState("\(why): cannot change on a live model (reset or re-create it)")
        }
        configuration = new
        cache = nil
    }

    /// Back to the prior: statistics, noise estimate and counters cleared.
    public func reset() {
        moments = CrossMoments(features: configuration.dictDim, outputs: configuration.sysDim)
        noise = NoiseEstimate(outputs: configuration.sysDim)
        updates = 0
        samples = 0
        cache = nil
    }

    // MARK: Learning

    /// One mini-batch (X rows × dict_dim, Y rows × sys_dim, row-major, Double): scored at the current posterior
    /// (the report's `loss` = ½Σe² and `mse`, raw units), then learned. Non-finite input is refused (an error, the
    /// state unchanged); a batch whose statistics would overflow is rolled back (`diverged`).
    @discardableResult
    public func update(x: UnsafeBufferPointer<Double>, y: UnsafeBufferPointer<Double>, rows: Int) throws(CircuitError) -> UpdateReport {
        let d = configuration.dictDim, s = configuration.sysDim
        guard rows > 0 else { throw .invalidParameter(name: "rows", value: "\(rows)", expected: "at least one row") }
        guard x.count == rows * d else { throw .shapeMismatch(what: "x", expected: rows * d, got: x.count) }
        guard y.count == rows * s else { throw .shapeMismatch(what: "y", expected: rows * s, got: y.count) }
        if let bad = x.firstIndex(where: { !$0.isFinite }) {
            throw .invalidParameter(name: "x[\(bad / d)][\(bad % d)]", value: "\(x[bad])", expected: "a finite number")
        }
        if let bad = y.firstIndex(where: { !$0.isFinite }) {
            throw .invalidParameter(name: "y[\(bad / s)][\(bad % s)]", value: "\(y[bad])", expected: "a finite number")
        }
        let posterior = try posteriorInForce()
        // Prequential score, and fit_noise's terms (e² − v) with weights f² (see ``NoiseEstimate``), per row and output.
        var squaredError = 0.0
        var noiseTerms = [Double](repeating: 0, count: rows * s), noiseWeights = noiseTerms
        var u = [Double](repeating: 0, count: d)
        for r in 0..<rows {
            for k in 0..<s {
                let p = posterior.predict(row: UnsafeBufferPointer(rebasing: x[(r * d)..<(r * d + d)]), output: k, scratch: &u)
                let e = y[r * s + k] - p.mean
                squaredError += e * e
                guard p.parameterVariance.isFinite else { continue }
                let share = p.noiseVariance / (p.noiseVariance + p.parameterVariance)
                noiseTerms[r * s + k] = e * e - p.parameterVariance
                noiseWeights[r * s + k] = share * share
            }
        }
        let saved = (moments, noise)
        moments.add(x: x, y: y, rows: rows, smoothing: configuration.smoothing, workspace: &workspace)
        if configuration.fitNoise { noise.add(terms: noiseTerms, weights: noiseWeights, outputs: s, smoothing: configuration.smoothing) }
        cache = nil
        var report = UpdateReport(loss: squaredError / 2, mse: squaredError / Double(rows * s), penalty: 0, prior: 0, rows: rows)
        if !moments.isFinite || !noise.sum.allSatisfy(\.isFinite) {
            (moments, noise) = saved
            report.diverged = true
            return report
        }
        updates += 1
        samples += rows
        return report
    }

    /// The same for float32 rows, widened to Double.
    @discardableResult
    public func update(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) throws(CircuitError) -> UpdateReport {
        widenedX.removeAll(keepingCapacity: true)
        widenedY.removeAll(keepingCapacity: true)
        widenedX.append(contentsOf: x.lazy.map(Double.init))
        widenedY.append(contentsOf: y.lazy.map(Double.init))
        let wx = widenedX, wy = widenedY
        return try wx.withUnsafeBufferPointer { xp throws(CircuitError) in
            try wy.withUnsafeBufferPointer { yp throws(CircuitError) in try update(x: xp, y: yp, rows: rows) }
        }
    }

    // MARK: Reading the posterior

    /// The posterior means, standard deviations and intervals at `uncertainty_level`, raw units.
    public func uncertainty() throws(CircuitError) -> CoefficientUncertainty {
        try posteriorInForce().coefficients(level: configuration.uncertaintyLevel)
    }

    /// The posterior predictive mean and standard deviation (noise included) of each output for `rows` raw rows
    /// (rows × dict_dim); both rows × sys_dim. Before any row, a model with a free intercept has an infinite std.
    public func predict(x: UnsafeBufferPointer<Double>, rows: Int) throws(CircuitError) -> (mean: [Double], std: [Double]) {
        let d = configuration.dictDim, s = configuration.sysDim
        guard x.count == rows * d else { throw .shapeMismatch(what: "x", expected: rows * d, got: x.count) }
        let posterior = try posteriorInForce()
        var mean = [Double](repeating: 0, count: rows * s), std = mean
        var u = [Double](repeating: 0, count: d)
        for r in 0..<rows {
            for k in 0..<s {
                let p = posterior.predict(row: UnsafeBufferPointer(rebasing: x[(r * d)..<(r * d + d)]), output: k, scratch: &u)
                mean[r * s + k] = p.mean
                std[r * s + k] = (p.noiseVariance + p.parameterVariance).squareRoot()
            }
        }
        return (mean, std)
    }

    /// The noise standard deviation per output in force, raw units (`noise_std`, or `fit_noise`'s estimate).
    public var noiseStd: [Double] { (0..<configuration.sysDim).map { learningSpace().noiseVariance(output: $0, configuration: configuration, noise: noise).squareRoot() * learningSpace().yScale[$0] } }

    private func learningSpace() -> LearningSpace { LearningSpace(moments: moments, configuration: configuration) }

    private func posteriorInForce() throws(CircuitError) -> Posterior {
        if let cache { return cache }
        do {
            let posterior = try Posterior(moments: moments, configuration: configuration, noise: noise)
            cache = posterior
            return posterior
        } catch {
            throw .incompatibleState("\(error)")
        }
    }
}

/// `fit_noise`'s running estimate of the noise variance from the prequential residuals (docs/MATH.md §10).
///
/// A row scored at the posterior before it has E[e²] = σ² + v, where v = x̃ᵀΣx̃ (+ the intercept's share) is the
/// parameters' part of the predictive variance; so e² − v is an unbiased term for σ². Its variance grows like
/// (σ² + v)², so each term is weighted by f² with f = σ̂²/(σ̂² + v), the noise's share of the predictive variance
/// when the row was scored: rows met while the posterior was still wide (the first ones) count little, and a
/// wrong starting value does not stay frozen into the sum. With `noise_std` σ₀ as a start worth one row:
///
///     σ̂²_k = (a·σ₀²·s_y² + Σ f²·(e² − v)) / (a + Σ f²)     (raw units; floored at 10⁻¹²·σ₀²·s_y²)
///
/// With smoothing s every term and the start's weight a decay by s per row (a window of about 1/(1 − s) rows).
public struct NoiseEstimate: Sendable, Equatable, Codable {
    /// Σ f²·(e² − v) per output, raw units².
    public var sum: [Double]
    /// Σ f² per output.
    public var weight: [Double]
    /// The weight a of the starting value noise_std².
    public var startWeight: Double = 1

    /// No rows yet.
    public init(outputs: Int) {
        sum = [Double](repeating: 0, count: outputs)
        weight = sum
    }

    /// A saved estimate.
    public init(sum: [Double], weight: [Double], startWeight: Double) {
        self.sum = sum
        self.weight = weight
        self.startWeight = startWeight
    }

    /// The variance estimate of output k given the start's raw value.
    func variance(output k: Int, start: Double) -> Double {
        max((startWeight * start + sum[k]) / (startWeight + weight[k]), 1e-12 * start)
    }

    /// Folds in a batch's terms and weights (rows × outputs, oldest row first).
    mutating func add(terms: [Double], weights: [Double], outputs: Int, smoothing: Double?) {
        let decay = smoothing ?? 1
        for r in 0..<(terms.count / max(outputs, 1)) {
            startWeight *= decay
            for k in 0..<outputs {
                sum[k] = decay * sum[k] + weights[r * outputs + k] * terms[r * outputs + k]
                weight[k] = decay * weight[k] + weights[r * outputs + k]
            }
        }
    }
}

/// A value snapshot of a ``BayesianRegression``: everything a checkpoint holds.
public struct BayesianState: Sendable, Equatable, Codable {
    /// The configuration.
    public var configuration: BayesianConfiguration
    /// The sufficient statistics.
    public var moments: CrossMoments
    /// `fit_noise`'s accumulators.
    public var noise: NoiseEstimate
    /// Mini-batch updates done.
    public var updates: Int
    /// Rows learned.
    public var samples: Int

    /// A state from its parts.
    public init(configuration: BayesianConfiguration, moments: CrossMoments, noise: NoiseEstimate, updates: Int, samples: Int) {
        self.configuration = configuration
        self.moments = moments
        self.noise = noise
        self.updates = updates
        self.samples = samples
    }
}

/// The affine map between raw units and the learning space: x̃_j = (x_j − xShift_j)/xScale_j, and likewise y.
/// Centred (intercept or standardize): shifts are the weighted means; standardised: scales are the weighted
/// standard deviations (1 for a column without spread); else the identity.
struct LearningSpace {
    var xShift: [Double], xScale: [Double], yShift: [Double], yScale: [Double]
    let centred: Bool

    init(moments: CrossMoments, configuration: BayesianConfiguration) {
        let d = configuration.dictDim, s = configuration.sysDim
        centred = configuration.centred
        xShift = [Double](repeating: 0, count: d); xScale = [Double](repeating: 1, count: d)
        yShift = [Double](repeating: 0, count: s); yScale = [Double](repeating: 1, count: s)
        guard centred else { return }
        for j in 0..<d { xShift[j] = moments.mean[j] }
        for k in 0..<s { yShift[k] = moments.mean[d + k] }
        guard configuration.standardize else { return }
        func scale(_ i: Int) -> Double {
            let sd = moments.variance(i).squareRoot()
            // No spread yet, or below Double's resolution at the column's magnitude: rounding, not signal.
            return sd > 0 && sd > 1e-12 * abs(moments.mean[i]) ? sd : 1
        }
        for j in 0..<d { xScale[j] = scale(j) }
        for k in 0..<s { yScale[k] = scale(d + k) }
    }

    /// The Gram entry Σ w·x̃_i·x̃_j (i, j < d for x; d + k for output k), in the learning space.
    func gram(_ moments: CrossMoments, _ i: Int, _ j: Int) -> Double {
        let d = xScale.count
        let si = i < d ? xScale[i] : yScale[i - d], sj = j < d ? xScale[j] : yScale[j - d]
        return (centred ? moments.comoment(i, j) : moments.rawMoment(i, j)) / (si * sj)
    }

    /// The noise variance of output k in the learning space.
    func noiseVariance(output k: Int, configuration: BayesianConfiguration, noise: NoiseEstimate) -> Double {
        let start = configuration.noiseStd * configuration.noiseStd
        guard configuration.fitNoise else { return start }
        return noise.variance(output: k, start: start * yScale[k] * yScale[k]) / (yScale[k] * yScale[k])
    }
}

/// The posterior of every output, formed from the statistics in force.
struct Posterior {
    let space: LearningSpace
    let outputs: [GaussianPosterior]
    /// Noise variance per output, learning space.
    let noiseVariance: [Double]
    /// W (weight of the rows), for the intercept's variance.
    let weight: Double
    let dictDim: Int, sysDim: Int

    init(moments: CrossMoments, configuration: BayesianConfiguration, noise: NoiseEstimate) throws(PosteriorError) {
        let d = configuration.dictDim, s = configuration.sysDim
        let space = LearningSpace(moments: moments, configuration: configuration)
        let (priorMean, priorVariance) = configuration.priorMoments()
        let c = moments.priorWeight
        var gram = [Double](repeating: 0, count: d * d)
        for i in 0..<d { for j in i..<d { let g = space.gram(moments, i, j); gram[i * d + j] = g; gram[j * d + i] = g } }
        var outputs: [GaussianPosterior] = []
        var noiseVariances: [Double] = []
        for k in 0..<s {
            let noiseVariance = space.noiseVariance(output: k, configuration: configuration, noise: noise)
            let beta = 1 / noiseVariance
            var precision = [Double](repeating: 0, count: d * d)
            for i in 0..<(d * d) { precision[i] = beta * gram[i] }
            var eta = [Double](repeating: 0, count: d)
            for j in 0..<d {
                let v = priorVariance[j * s + k]
                precision[j * d + j] += c / v
                eta[j] = c * priorMean[j * s + k] / v + beta * space.gram(moments, j, d + k)
            }
            outputs.append(try GaussianPosterior(precision: precision, naturalMean: eta, dimension: d))
            noiseVariances.append(noiseVariance)
        }
        self.space = space
        self.outputs = outputs
        self.noiseVariance = noiseVariances
        weight = moments.weight
        dictDim = d
        sysDim = s
    }

    /// The predictive mean, the noise variance and the parameters' share of the variance (raw units) of output k
    /// at one raw row. `scratch` holds d values.
    func predict(row: UnsafeBufferPointer<Double>, output k: Int, scratch u: inout [Double]) -> (mean: Double, noiseVariance: Double, parameterVariance: Double) {
        let yScale2 = space.yScale[k] * space.yScale[k]
        let noise = noiseVariance[k] * yScale2
        if space.centred && weight == 0 { return (space.yShift[k], noise, .infinity) }
        for j in 0..<dictDim { u[j] = (row[j] - space.xShift[j]) / space.xScale[j] }
        let posterior = outputs[k]
        let mean = space.yShift[k] + space.yScale[k] * posterior.meanValue(u)
        var parameter = posterior.quadraticForm(u)
        if space.centred { parameter += noiseVariance[k] / weight }
        return (mean, noise, parameter * yScale2)
    }

    /// The raw-unit coefficients, their stds and intervals.
    func coefficients(level: Double) -> CoefficientUncertainty {
        let d = dictDim, s = sysDim
        var mean = [Double](repeating: 0, count: d * s), std = mean
        var intercept = [Double](repeating: 0, count: s), interceptStd = intercept
        for k in 0..<s {
            let posterior = outputs[k]
            let variances = posterior.marginalVariances()
            var a = [Double](repeating: 0, count: d)
            var b = space.yShift[k]
            for j in 0..<d {
                let toRaw = space.yScale[k] / space.xScale[j]
                mean[j * s + k] = posterior.mean[j] * toRaw
                std[j * s + k] = variances[j].squareRoot() * toRaw
                a[j] = space.xShift[j] * toRaw
                b -= a[j] * posterior.mean[j]
            }
            guard space.centred else { continue }
            intercept[k] = b
            interceptStd[k] = weight > 0
                ? (noiseVariance[k] * space.yScale[k] * space.yScale[k] / weight + posterior.quadraticForm(a)).squareRoot()
                : .infinity
        }
        return CoefficientUncertainty(coefficients: mean, std: std, intercept: intercept, interceptStd: interceptStd, level: level)
    }
}
