/// The uncertainty kept beside a sparse circuit (`lasso`, `ridge`, `elastic_net` with `uncertainty = true`): the
/// raw-unit statistics of every row the circuit learned from (``CrossMoments``, Double, with the model's smoothing
/// as forgetting), and the relaxed active-set refit (``ActiveSetRefit``) of the circuit's published coefficients on
/// demand — only for the updates that are published, since the refit costs O(|A|³) per output.
///
/// The circuit's `[model.prior]`, when it is a `gaussian` one, is the refit's prior, read as N(mean, std²) (its
/// configured values; `weight` does not scale it, as in `kind = "bayesian"`) and carried from the circuit's
/// standardised space to raw units with the circuit's own statistics; any other prior, or none, gives the weak
/// default. The intercept is free (centring) when the circuit publishes one: with `intercept` or `standardize`.
public struct CircuitUncertainty: Sendable, Equatable {
    /// The statistics of the rows learned so far.
    public private(set) var moments: CrossMoments
    /// Forgetting s in (0, 1), nil for none.
    public var smoothing: Double?
    /// The interval level.
    public var level: Double
    private var workspace: [Double] = []
    private var widenedX: [Double] = [], widenedY: [Double] = []

    /// No rows yet, for a dict_dim × sys_dim circuit.
    public init(dictDim: Int, sysDim: Int, smoothing: Double? = nil, level: Double = 0.95) {
        moments = CrossMoments(features: dictDim, outputs: sysDim)
        self.smoothing = smoothing
        self.level = level
    }

    /// Restores saved statistics.
    public init(moments: CrossMoments, smoothing: Double?, level: Double) {
        self.moments = moments
        self.smoothing = smoothing
        self.level = level
    }

    /// Folds in the rows the circuit just learned from (float32, widened).
    public mutating func add(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) {
        widenedX.removeAll(keepingCapacity: true)
        widenedY.removeAll(keepingCapacity: true)
        widenedX.append(contentsOf: x.lazy.map(Double.init))
        widenedY.append(contentsOf: y.lazy.map(Double.init))
        let wx = widenedX, wy = widenedY
        wx.withUnsafeBufferPointer { xp in
            wy.withUnsafeBufferPointer { yp in moments.add(x: xp, y: yp, rows: rows, smoothing: smoothing, workspace: &workspace) }
        }
    }

    /// Folds in Double rows (float64 ingest keeps its precision).
    public mutating func add(x: UnsafeBufferPointer<Double>, y: UnsafeBufferPointer<Double>, rows: Int) {
        moments.add(x: x, y: y, rows: rows, smoothing: smoothing, workspace: &workspace)
    }

    /// The refit at `circuit`'s published (thresholded) coefficients: exact zeros there get std 0 and [0, 0].
    public func uncertainty(of circuit: HebbianCircuit) throws(PosteriorError) -> CoefficientUncertainty {
        let c = circuit.configuration
        let published = circuit.coefficients
        return try ActiveSetRefit.refit(moments: moments, active: published.map { $0 != 0 }, prior: Self.rawPrior(of: circuit),
                                        intercept: c.intercept || c.standardize, level: level)
    }

    /// The refit's predictive mean and std (noise included) at `rows` raw rows (rows × dict_dim): what `predict`
    /// answers as `y_std` for a sparse model with uncertainty.
    public func predict(of circuit: HebbianCircuit, x: UnsafeBufferPointer<Double>, rows: Int) throws(PosteriorError) -> (mean: [Double], std: [Double]) {
        let c = circuit.configuration
        return try ActiveSetRefit.predict(moments: moments, active: circuit.coefficients.map { $0 != 0 }, prior: Self.rawPrior(of: circuit),
                                          intercept: c.intercept || c.standardize, x: x, rows: rows)
    }

    /// The circuit's Gaussian prior in raw units (nil: none, or not a `gaussian` one).
    static func rawPrior(of circuit: HebbianCircuit) -> ActiveSetRefit.Prior? {
        let c = circuit.configuration
        guard let prior = c.prior, prior.kind == .gaussian else { return nil }
        let d = c.dictDim, s = c.sysDim
        let means = prior.numbers(.mean), stds = prior.numbers(.std)
        var mean = [Double](repeating: 0, count: d * s), std = mean
        for j in 0..<d {
            for k in 0..<s {
                let i = j * s + k
                // Standardised coefficient w̃ = w·s_x/s_y, so raw = standardised · s_y/s_x.
                var toRaw = 1.0
                if let xm = circuit.xMoments, let ym = circuit.yMoments { toRaw = ym.scale(k) / xm.scale(j) }
                mean[i] = (means.count == 1 ? means[0] : means[i]) * toRaw
                std[i] = (stds.count == 1 ? stds[0] : stds[i]) * toRaw
            }
        }
        return ActiveSetRefit.Prior(mean: mean, std: std)
    }
}
