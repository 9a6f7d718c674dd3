/// Everything that defines one Bayesian linear regression (`kind = "bayesian"`): shape, prior, noise, forgetting,
/// and the interval level. docs/MATH.md §10 has the model.
public struct BayesianConfiguration: Sendable, Equatable, Codable {
    /// Number of features (rows of W).
    public var dictDim: Int
    /// Number of targets (columns of W); each output has its own posterior.
    public var sysDim: Int
    /// The prior N(mean, std²) on each coefficient: a `[model.prior]` of kind `gaussian` (its `mean` and `std`,
    /// scalar or one per coefficient, row-major dict_dim × sys_dim; its `weight` and `fit_hyper` are not used).
    /// nil: N(0, 1), River's default (alpha = 1).
    public var prior: PriorConfiguration?
    /// The noise standard deviation of the likelihood (River's beta = 1/noise_std²); with ``fitNoise``, the
    /// estimate's starting value, worth one row.
    public var noiseStd: Double = 1
    /// Estimate the noise variance online from the prequential residuals (docs/MATH.md §10).
    public var fitNoise = false
    /// Exponential forgetting s in (0, 1) (River's `smoothing`); nil: none.
    public var smoothing: Double?
    /// Standardise X and Y by the running statistics: the prior and `noise_std` are then in standardised units,
    /// and the intercept is free (centring).
    public var standardize = false
    /// A free (flat-prior) intercept per output, integrated out by centring.
    public var intercept = false
    /// The coverage of the published intervals.
    public var uncertaintyLevel: Double = 0.95

    /// The default configuration for a dict_dim × sys_dim model.
    public init(dictDim: Int, sysDim: Int = 1) {
        self.dictDim = dictDim
        self.sysDim = sysDim
    }

    /// Number of coefficients.
    public var weightCount: Int { dictDim * sysDim }

    /// Whether the intercept is integrated out by centring (`intercept`, or `standardize`, which centres).
    public var centred: Bool { intercept || standardize }

    /// The prior mean and variance of coefficient (j, k), in the learning space.
    public func priorMoments() -> (mean: [Double], variance: [Double]) {
        let n = weightCount
        guard let prior else { return ([Double](repeating: 0, count: n), [Double](repeating: 1, count: n)) }
        let means = prior.numbers(.mean), stds = prior.numbers(.std)
        return ((0..<n).map { means.count == 1 ? means[0] : means[$0] },
                (0..<n).map { let s = stds.count == 1 ? stds[0] : stds[$0]; return s * s })
    }

    /// Checks every value; the error names the offending parameter and what was expected.
    public func validate() throws(CircuitError) {
        func require(_ ok: Bool, _ name: String, _ value: CustomStringConvertible, _ expected: String) throws(CircuitError) {
            if !ok { throw .invalidParameter(name: name, value: value.description, expected: expected) }
        }
        try require(dictDim > 0, "dict_dim", dictDim, "an integer > 0")
        try require(sysDim > 0, "sys_dim", sysDim, "an integer > 0")
        try require(noiseStd.isFinite && noiseStd > 0, "noise_std", noiseStd, "a finite number > 0")
        if let smoothing { try require(smoothing > 0 && smoothing < 1, "smoothing", smoothing, "a number in (0, 1)") }
        try require(uncertaintyLevel > 0 && uncertaintyLevel < 1, "uncertainty_level", uncertaintyLevel, "a number in (0, 1)")
        if let prior {
            try require(prior.kind == .gaussian, "prior.kind", prior.kind.rawValue, "\"gaussian\" for kind = \"bayesian\"")
            try prior.validate(weightCount: weightCount, dictDim: dictDim, sysDim: sysDim)
        }
    }

    /// Why `new` cannot take over this configuration's learned state (nil: it can). The statistics are raw, so
    /// the prior, the noise, the level and even `standardize` could change live; only the shape, the forgetting
    /// (which weighted the rows kept) and `fit_noise`'s estimate are fixed.
    public func incompatibility(with new: BayesianConfiguration) -> String? {
        if dictDim != new.dictDim || sysDim != new.sysDim { return "shape \(dictDim)×\(sysDim) → \(new.dictDim)×\(new.sysDim)" }
        if smoothing != new.smoothing { return "smoothing \(smoothing.map { "\($0)" } ?? "off") → \(new.smoothing.map { "\($0)" } ?? "off")" }
        if fitNoise != new.fitNoise { return "fit_noise \(fitNoise) → \(new.fitNoise)" }
        return nil
    }
}
