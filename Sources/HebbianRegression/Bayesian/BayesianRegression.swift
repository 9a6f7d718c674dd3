import CHebbKernels

/// Bayesian linear regression with the exact conjugate posterior, per output (`kind = "bayesian"`; docs/MATH.md §10).
///
/// Prior W[:, k] ~ N(μ₀, diag(v₀)), likelihood y_k | x ~ N(x·W[:, k] (+ b_k), 1/β_k). After rows with weights w_i:
///
///     P_k = c·diag(1/v₀) + β_k·Σ w·x̃x̃ᵀ        (posterior precision; c = the prior's weight, s^N with smoothing)
///     η_k = c·μ₀/v₀     + β_k·Σ w·x̃·ỹ_k       (natural mean; the posterior mean is P_k⁻¹η_k)
///
/// in the learning space x̃, ỹ (raw, centred, or standardised; see ``BayesianConfiguration``). The truth is the
/// raw-unit sufficient statistics (``CrossMoments``, Double): exact sums, checkpointed, from which the
/// standardisation, the prior and the noise in force apply to the whole history. How the posterior is read from
/// them (docs/MATH.md §10):
///
/// * with a fixed noise and no `standardize` (P_k changes by rank one per row), from a derived
///   ``CovarianceCache`` — Σ_k = P_k⁻¹ and η_k carried through each row by Sherman–Morrison in O(d²), rebuilt from
///   the truth when its rounding may have drifted; the rows reach the truth in blocks of ``pendingBlock`` (one
///   `dsyrk`), and at a snapshot (``state``), which also rebuilds the cache: a model restored from a snapshot and
///   the model that took it continue bit for bit alike. A long batch of a model seldom published goes into the
///   truth alone and the posterior is factored from it when next read (``BatchMethod/refactor``), cheaper than the
///   cache's steps from max(24, 2.5·√d) rows;
/// * otherwise P_k and η_k are formed from the truth when the posterior is read and P_k is factored
///   (``GaussianPosterior``), O(d³).
///
/// An update scores the batch prequentially (at the posterior before it), then folds it in. Float rows are widened
/// to Double; Double rows (float64 ingest frames) keep their precision.
///
/// Driven by one thread; ``state`` is a value snapshot for checkpoints.
public final class BayesianRegression {
    /// The configuration in force.
    public private(set) var configuration: BayesianConfiguration
    /// The sufficient statistics, every row learned folded in. Reading them does not change when the model folds its
    /// pending rows (a copy is folded), so the model's arithmetic does not depend on who looked at it.
    public var moments: CrossMoments {
        guard pendingRows > 0 else { return statistics }
        var folded = statistics, scratch: [Double] = []
        pendingX.withUnsafeBufferPointer { xp in
            pendingY.withUnsafeBufferPointer { yp in
                folded.add(x: xp, y: yp, rows: pendingRows, smoothing: configuration.smoothing, workspace: &scratch)
            }
        }
        return folded
    }
    /// `fit_noise`'s accumulators: Σ ω·e²·f per output (raw units²), Σ ω, and the starting value's weight.
    public private(set) var noise: NoiseEstimate
    /// Mini-batch updates done.
    public private(set) var updates = 0
    /// Rows learned from.
    public private(set) var samples = 0

    /// The truth without the rows still pending (fast path).
    private var statistics: CrossMoments
    /// Rows learned by the covariance cache and not yet folded into ``statistics`` (row-major, oldest first).
    private var pendingX: [Double] = [], pendingY: [Double] = []
    private var pendingRows = 0
    /// The fast path's posterior; nil: rebuilt from the truth when next needed.
    private var covarianceCache: CovarianceCache?
    /// The exact path's posterior, formed from the truth; nil: formed when next needed.
    private var cache: Posterior?
    private var workspace: [Double] = []
    private var scores: [Double] = []

    /// Rows the fast path collects before folding them into the truth with one `dsyrk` (a rank-one `dsyr` per row
    /// would cost as much as the covariance update itself).
    public static let pendingBlock = 64

    /// The largest magnitude a value may have on the fast path: its statistics (sums of squares over up to 2⁶³ rows)
    /// then stay finite. A row beyond it is not learned (the update reports `diverged`).
    public static let largestLearnedMagnitude = 0x1p448
    private var widenedX: [Double] = [], widenedY: [Double] = []

    /// A fresh model (the prior, no data).
    public init(_ configuration: BayesianConfiguration) throws(CircuitError) {
        try configuration.validate()
        self.configuration = configuration
        statistics = CrossMoments(features: configuration.dictDim, outputs: configuration.sysDim)
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
        statistics = state.moments
        noise = state.noise
        updates = state.updates
        samples = state.samples
    }

    /// A value snapshot of everything needed to continue exactly. Taking it folds the pending rows into the truth
    /// and rebuilds the covariance cache from it, so that this model and one restored from the snapshot continue
    /// with the same arithmetic.
    public var state: BayesianState {
        foldPendingRows()
        if covarianceCache != nil { covarianceCache = nil }
        return BayesianState(configuration: configuration, moments: statistics, noise: noise, updates: updates, samples: samples)
    }

    /// Applies a new configuration live (prior, noise_std, standardize, intercept, level); see
    /// ``BayesianConfiguration/incompatibility(with:)`` for what may not change.
    public func reconfigure(_ new: BayesianConfiguration) throws(CircuitError) {
        try new.validate()
        if let why = configuration.incompatibility(with: new) {
            throw .incompatibleState("\(why): cannot change on a live model (reset or re-create it)")
        }
        foldPendingRows()
        configuration = new
        cache = nil
        covarianceCache = nil
    }

    /// Back to the prior: statistics, noise estimate and counters cleared.
    public func reset() {
        statistics = CrossMoments(features: configuration.dictDim, outputs: configuration.sysDim)
        noise = NoiseEstimate(outputs: configuration.sysDim)
        pendingX.removeAll(keepingCapacity: true)
        pendingY.removeAll(keepingCapacity: true)
        pendingRows = 0
        updates = 0
        samples = 0
        cache = nil
        covarianceCache = nil
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
        // One pass that every ordinary batch passes (NaN and ±∞ fail it too); the error's details only when it fails.
        let ordinary = Self.allWithin(x, Self.largestLearnedMagnitude) && Self.allWithin(y, Self.largestLearnedMagnitude)
        if !ordinary, let bad = x.firstIndex(where: { !$0.isFinite }) {
            throw .invalidParameter(name: "x[\(bad / d)][\(bad % d)]", value: "\(x[bad])", expected: "a finite number")
        }
        if !ordinary, let bad = y.firstIndex(where: { !$0.isFinite }) {
            throw .invalidParameter(name: "y[\(bad / s)][\(bad % s)]", value: "\(y[bad])", expected: "a finite number")
        }
        if CovarianceCache.applies(to: configuration) {
            guard ordinary else {
                // Finite, but beyond what the fast path's statistics can hold: not learned.
                var report = UpdateReport(loss: 0, mse: 0, penalty: 0, prior: 0, rows: rows)
                report.diverged = true
                return report
            }
            return try fastUpdate(x: x, y: y, rows: rows)
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
        foldPendingRows()
        let saved = (statistics, noise)
        statistics.add(x: x, y: y, rows: rows, smoothing: configuration.smoothing, workspace: &workspace)
        if configuration.fitNoise { noise.add(terms: noiseTerms, weights: noiseWeights, outputs: s, smoothing: configuration.smoothing) }
        cache = nil
        var report = UpdateReport(loss: squaredError / 2, mse: squaredError / Double(rows * s), penalty: 0, prior: 0, rows: rows)
        if !statistics.isFinite || !noise.sum.allSatisfy(\.isFinite) {
            (statistics, noise) = saved
            report.diverged = true
            return report
        }
        updates += 1
        samples += rows
        return report
    }

    /// How the fast path folds a mini-batch into the posterior (docs/MATH.md §10, "A long batch folded into the
    /// statistics").
    package enum BatchMethod: Equatable, Sendable {
        /// The covariance cache's rank-one steps, row by row: 2·d² multiply-adds a row and output.
        case rowByRow
        /// The covariance cache's Woodbury step for the whole batch: ~1.5·k·d² + 1.5·k²·d.
        case woodbury
        /// Into the truth alone, the cache dropped: the posterior is factored from the truth when next read (the next
        /// batch's score), d³/6 whatever the batch's size.
        case refactor
    }

    /// Rows from which a batch of `features` features is folded into the truth: max(24, 2.5·√d). Not a count of
    /// multiply-adds — `dpotrf` runs far below its peak at small d, and the cache's steps slow down once Σ leaves
    /// the cache at large d — but the crossover measured with each method forced (`hebbd bench --kind bayesian
    /// --blas-threads 1`, d = 4…512, k = 2…96; Benchmarks/README.md, "A batch folded into the statistics"): ~16–32
    /// rows up to d = 64, ~28 at 128, ~30–48 at 256, ~48–64 at 512.
    static func refactorRows(features d: Int) -> Int {
        max(24, Int((2.5 * Double(d).squareRoot()).rounded(.up)))
    }

    /// The share of updates read from which a model keeps its long batches on the cache: one in four (`publish.every`
    /// up to 4). A read needs the stds, diag(P⁻¹): free on the cache's Σ, but a triangular inverse of the factor
    /// (OpenBLAS's `dtrtri`, 0.53 ms at d = 256, more than the factor itself) — read after every update, a 256 × 1 / 64
    /// model that refactored took 1.0–1.2 ms an update against the cache's 0.65 (`hebbd bench --path engine`).
    static let cacheReadShare = 0.25

    /// The ``BatchMethod`` for a batch of `rows` rows of `features` features of a model whose stds are read after a
    /// share `readShare` of its updates: one row a rank-one step; from ``refactorRows(features:)`` rows, into the truth
    /// unless the model is read at least ``cacheReadShare`` of the time; otherwise the cache's Woodbury step while the
    /// batch has fewer rows than features, its rank-one steps if not.
    static func batchMethod(rows k: Int, features d: Int, readShare: Double = 0) -> BatchMethod {
        guard k > 1 else { return .rowByRow }
        if readShare < cacheReadShare && k >= refactorRows(features: d) { return .refactor }
        return cacheMethod(rows: k, features: d)
    }

    /// The covariance cache's way for a batch: one Woodbury step while it has fewer rows than features, rank-one
    /// steps otherwise (2·k·d² against ~1.5·k·d² + 1.5·k²·d).
    package static func cacheMethod(rows k: Int, features d: Int) -> BatchMethod {
        k > 1 && k < d ? .woodbury : .rowByRow
    }

    /// The share of updates after which the model's stds are read — published: the daemon sets it from `publish.every`
    /// (1/N; 1 with `max_rate`, whose share depends on the stream's pace). A hint that chooses how long batches are
    /// learned (``batchMethod(rows:features:readShare:)``) and how a read forms the posterior, never what is learned; a
    /// function of the configuration, not of who happened to read, so that a restart with the journal replayed takes
    /// the same way and gives the same bits. 0 (read at the end only) by default.
    public var readShare = 0.0
    /// Forces a ``BatchMethod`` for every batch of more than one row (nil: ``batchMethod(rows:features:readShare:)``):
    /// tests, and `hebbd bench --bayesian-batch`, which measures the crossover ``refactorRows(features:)`` encodes.
    package var batchMethodOverride: BatchMethod?
    /// How the fast path took the last update (nil: none yet, or the exact path).
    package private(set) var lastBatchMethod: BatchMethod?

    /// The fast path's update (rows within ``largestLearnedMagnitude``): the batch scored at the posterior before it,
    /// then learned by the covariance cache (rank-one or Woodbury steps, the rows queued for the truth) or folded
    /// straight into the truth (``BatchMethod``).
    private func fastUpdate(x: UnsafeBufferPointer<Double>, y: UnsafeBufferPointer<Double>, rows: Int) throws(CircuitError) -> UpdateReport {
        let d = configuration.dictDim, s = configuration.sysDim
        let method = rows == 1 ? .rowByRow : batchMethodOverride ?? Self.batchMethod(rows: rows, features: d, readShare: readShare)
        lastBatchMethod = method
        var squaredError = 0.0
        if method == .refactor {
            // Scored at the posterior before the batch (the cache while it is fresh, else the factor); the truth then
            // takes the batch, and the next read factors the posterior from it.
            let predicted: [Double]
            if let covarianceCache = freshCovarianceCache {
                predicted = covarianceCache.predict(x: x, rows: rows, withStd: false).mean
            } else {
                predicted = try posteriorInForce().predictedMeans(x: x, rows: rows)
            }
            for i in 0..<(rows * s) { let e = y[i] - predicted[i]; squaredError += e * e }
            covarianceCache = nil
        } else {
            squaredError = try learnByCovarianceCache(x: x, y: y, rows: rows, woodbury: method == .woodbury)
        }
        queueForTruth(x: x, y: y, rows: rows)
        if method == .refactor || pendingRows >= Self.pendingBlock || rows >= Self.refactorRows(features: d) { foldPendingRows() }
        cache = nil
        updates += 1
        samples += rows
        return UpdateReport(loss: squaredError / 2, mse: squaredError / Double(rows * s), penalty: 0, prior: 0, rows: rows)
    }

    /// Scores a batch at the covariance cache (rebuilt first if need be) and learns it there, by one Woodbury step or
    /// rank-one steps; the batch's squared prequential error.
    private func learnByCovarianceCache(x: UnsafeBufferPointer<Double>, y: UnsafeBufferPointer<Double>, rows: Int,
                                        woodbury: Bool) throws(CircuitError) -> Double {
        let d = configuration.dictDim, s = configuration.sysDim
        try refreshCovarianceCacheIfNeeded()
        if scores.count < rows * s { scores = [Double](repeating: 0, count: rows * s) }
        let smoothing = configuration.smoothing
        var squaredError = 0.0
        scores.withUnsafeMutableBufferPointer { scored in
            if rows > 1 {
                // A batch is scored at the posterior before it, then learned at once (Woodbury) or row by row: the
                // same posterior as one merge of the batch (the same statistics).
                let predicted = covarianceCache!.predict(x: x, rows: rows, withStd: false).mean
                for i in 0..<(rows * s) { scored[i] = predicted[i] }
            }
            if woodbury {
                covarianceCache!.learn(batch: x, y: y, rows: rows, smoothing: smoothing)
            } else {
                for r in 0..<rows {
                    covarianceCache!.learn(x: x.baseAddress! + r * d, y: y.baseAddress! + r * s, smoothing: smoothing,
                                           scores: rows == 1 ? scored.baseAddress! : nil)
                }
            }
            for i in 0..<(rows * s) { let e = y[i] - scored[i]; squaredError += e * e }
        }
        if !covarianceCache!.isFinite { covarianceCache = nil }
        return squaredError
    }

    /// Queues a batch for the truth. The queue is folded in (one `dsyrk`) once it holds ``pendingBlock`` rows or
    /// takes a batch of ``refactorRows(features:)`` rows or more, whichever way the batch was learned: the truth's bits
    /// then depend on the batches' sizes only, not on the ``BatchMethod`` the read share chose.
    private func queueForTruth(x: UnsafeBufferPointer<Double>, y: UnsafeBufferPointer<Double>, rows: Int) {
        pendingX.append(contentsOf: x)
        pendingY.append(contentsOf: y)
        pendingRows += rows
    }

    /// Folds the fast path's pending rows into the truth.
    private func foldPendingRows() {
        guard pendingRows > 0 else { return }
        pendingX.withUnsafeBufferPointer { xp in
            pendingY.withUnsafeBufferPointer { yp in
                statistics.add(x: xp, y: yp, rows: pendingRows, smoothing: configuration.smoothing, workspace: &workspace)
            }
        }
        pendingX.removeAll(keepingCapacity: true)
        pendingY.removeAll(keepingCapacity: true)
        pendingRows = 0
    }

    /// Rebuilds the covariance cache from the truth when it is missing or may have drifted.
    private func refreshCovarianceCacheIfNeeded() throws(CircuitError) {
        if let covarianceCache, !covarianceCache.needsRefresh { return }
        foldPendingRows()
        do {
            covarianceCache = try CovarianceCache(moments: statistics, configuration: configuration)
        } catch {
            covarianceCache = nil
            throw .incompatibleState("\(error)")
        }
    }

    /// Whether every value's magnitude is at most `limit` (false for NaN and ±∞): a branch-free count, one pass.
    static func allWithin(_ values: UnsafeBufferPointer<Double>, _ limit: Double) -> Bool {
        var outside = 0
        for value in values { outside &+= abs(value) <= limit ? 0 : 1 }
        return outside == 0
    }

    /// The same for float32 rows, widened to Double.
    @discardableResult
    public func update(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) throws(CircuitError) -> UpdateReport {
        // Widened into buffers kept between updates (a plain loop: a lazy map's append was 4 % of a 64×1 update).
        func widen(_ values: UnsafeBufferPointer<Float>, into buffer: inout [Double]) {
            if buffer.count != values.count { buffer = [Double](repeating: 0, count: values.count) }
            buffer.withUnsafeMutableBufferPointer { out in for i in 0..<values.count { out[i] = Double(values[i]) } }
        }
        widen(x, into: &widenedX)
        widen(y, into: &widenedY)
        let wx = widenedX, wy = widenedY
        return try wx.withUnsafeBufferPointer { xp throws(CircuitError) in
            try wy.withUnsafeBufferPointer { yp throws(CircuitError) in try update(x: xp, y: yp, rows: rows) }
        }
    }

    // MARK: Reading the posterior

    /// The posterior means, standard deviations and intervals at `uncertainty_level`, raw units.
    public func uncertainty() throws(CircuitError) -> CoefficientUncertainty {
        if let covarianceCache = freshCovarianceCache { return covarianceCache.coefficients(level: configuration.uncertaintyLevel) }
        if CovarianceCache.applies(to: configuration), readShare >= Self.cacheReadShare {
            // A model read this often keeps its batches on the cache: rebuilt here, it serves the next update too.
            try refreshCovarianceCacheIfNeeded()
            return covarianceCache!.coefficients(level: configuration.uncertaintyLevel)
        }
        return try posteriorInForce().coefficients(level: configuration.uncertaintyLevel)
    }

    /// The posterior predictive mean and standard deviation (noise included) of each output for `rows` raw rows
    /// (rows × dict_dim); both rows × sys_dim. Before any row, a model with a free intercept has an infinite std.
    public func predict(x: UnsafeBufferPointer<Double>, rows: Int) throws(CircuitError) -> (mean: [Double], std: [Double]) {
        let d = configuration.dictDim, s = configuration.sysDim
        guard x.count == rows * d else { throw .shapeMismatch(what: "x", expected: rows * d, got: x.count) }
        if let covarianceCache = freshCovarianceCache { return covarianceCache.predict(x: x, rows: rows) }
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

    /// The covariance cache when it holds the posterior in force (fast path, not due for a rebuild). Otherwise a
    /// prediction, and the stds of a model read less than ``cacheReadShare`` of the time, factor the posterior from the
    /// truth (``posteriorInForce()``, kept until the next update) rather than rebuilding the cache: the factor is a
    /// third of the rebuild's work, and is what a batch folded into the truth (``BatchMethod/refactor``) is scored with
    /// next; a row learned by the cache rebuilds it then.
    private var freshCovarianceCache: CovarianceCache? {
        guard CovarianceCache.applies(to: configuration), let covarianceCache, !covarianceCache.needsRefresh else { return nil }
        return covarianceCache
    }

    /// The noise standard deviation per output in force, raw units (`noise_std`, or `fit_noise`'s estimate).
    public var noiseStd: [Double] {
        // The fast path has neither fit_noise nor standardize: noise_std itself, in raw units.
        if CovarianceCache.applies(to: configuration) { return [Double](repeating: configuration.noiseStd, count: configuration.sysDim) }
        let space = learningSpace()
        return (0..<configuration.sysDim).map {
            space.noiseVariance(output: $0, configuration: configuration, noise: noise).squareRoot() * space.yScale[$0]
        }
    }

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
    /// Each output's posterior means in raw units, μ_j·y_scale/x_scale_j: the published coefficients, and what a
    /// prediction multiplies a row's deviations from the shift by.
    let rawCoefficients: [[Double]]

    /// P_k and η_k of every output (d × d and d values, learning space), and the noise variance per output.
    static func naturalParameters(moments: CrossMoments, configuration: BayesianConfiguration, noise: NoiseEstimate)
        -> (space: LearningSpace, precision: [[Double]], naturalMean: [[Double]], noiseVariance: [Double]) {
        let d = configuration.dictDim, s = configuration.sysDim
        let space = LearningSpace(moments: moments, configuration: configuration)
        let (priorMean, priorVariance) = configuration.priorMoments()
        let c = moments.priorWeight
        let m = moments.columns, w = moments.weight, centred = space.centred, standardized = configuration.standardize
        var precisions: [[Double]] = [], naturalMeans: [[Double]] = [], noiseVariances: [Double] = []
        for k in 0..<s {
            let noiseVariance = space.noiseVariance(output: k, configuration: configuration, noise: noise)
            let beta = 1 / noiseVariance
            // β times the Gram in the learning space (``LearningSpace/gram(_:_:_:)``'s expression, the same bits), on the
            // upper triangle (row-major; all that ``GaussianPosterior`` reads; zeros left of the diagonal), each row
            // written once in one pass over the statistics' rows, the case tested outside the loops: called per entry,
            // through a symmetric Gram and a second scaling pass, it took 13–17 % of a 256 × 1 / 64 update that factors.
            var precision = moments.upperComoment.withUnsafeBufferPointer { c in
                moments.mean.withUnsafeBufferPointer { mean in
                    space.xScale.withUnsafeBufferPointer { scale in
                        [Double](unsafeUninitializedCapacity: d * d) { p, initialized in
                            for i in 0..<d {
                                let source = c.baseAddress! + i * m, row = p.baseAddress! + i * d, wi = w * mean[i]
                                row.initialize(repeating: 0, count: i)
                                if standardized {
                                    // Standardising centres: the co-moments themselves.
                                    for j in i..<d { row[j] = beta * (source[j] / (scale[i] * scale[j])) }
                                } else if centred {
                                    for j in i..<d { row[j] = beta * source[j] }
                                } else {
                                    for j in i..<d { row[j] = beta * (source[j] + wi * mean[j]) }
                                }
                            }
                            initialized = d * d
                        }
                    }
                }
            }
            var eta = [Double](repeating: 0, count: d)
            for j in 0..<d {
                let v = priorVariance[j * s + k]
                precision[j * d + j] += c / v
                eta[j] = c * priorMean[j * s + k] / v + beta * space.gram(moments, j, d + k)
            }
            precisions.append(precision)
            naturalMeans.append(eta)
            noiseVariances.append(noiseVariance)
        }
        return (space, precisions, naturalMeans, noiseVariances)
    }

    init(moments: CrossMoments, configuration: BayesianConfiguration, noise: NoiseEstimate) throws(PosteriorError) {
        var natural = Self.naturalParameters(moments: moments, configuration: configuration, noise: noise)
        var outputs: [GaussianPosterior] = []
        for k in 0..<configuration.sysDim {
            // Handed over, not shared: the factor is then formed in the precision's own storage, without a copy.
            let precision = natural.precision[k]
            natural.precision[k] = []
            outputs.append(try GaussianPosterior(precision: precision, naturalMean: natural.naturalMean[k],
                                                 dimension: configuration.dictDim))
        }
        space = natural.space
        self.outputs = outputs
        noiseVariance = natural.noiseVariance
        weight = moments.weight
        dictDim = configuration.dictDim
        sysDim = configuration.sysDim
        let space = natural.space
        rawCoefficients = (0..<configuration.sysDim).map { k in
            (0..<configuration.dictDim).map { j in outputs[k].mean[j] * (space.yScale[k] / space.xScale[j]) }
        }
    }

    /// The predictive mean of output k at one raw row: y_shift + Σ_j (x_j − x_shift_j)·``rawCoefficients``. Each row
    /// is centred before the dot product: a column like a date ordinal near 7·10⁵ would otherwise cancel six digits
    /// against the intercept. `scratch` holds d values.
    func predictedMean(row: UnsafePointer<Double>, output k: Int, scratch u: inout [Double]) -> Double {
        if space.centred && weight == 0 { return space.yShift[k] }
        for j in 0..<dictDim { u[j] = row[j] - space.xShift[j] }
        return space.yShift[k] + hebb_dot(u, rawCoefficients[k], dictDim)
    }

    /// The predictive mean, the noise variance and the parameters' share of the variance (raw units) of output k
    /// at one raw row. `scratch` holds d values.
    func predict(row: UnsafeBufferPointer<Double>, output k: Int, scratch u: inout [Double]) -> (mean: Double, noiseVariance: Double, parameterVariance: Double) {
        let yScale2 = space.yScale[k] * space.yScale[k]
        let noise = noiseVariance[k] * yScale2
        if space.centred && weight == 0 { return (space.yShift[k], noise, .infinity) }
        let mean = predictedMean(row: row.baseAddress!, output: k, scratch: &u)
        for j in 0..<dictDim { u[j] = (row[j] - space.xShift[j]) / space.xScale[j] }
        var parameter = outputs[k].quadraticForm(u)
        if space.centred { parameter += noiseVariance[k] / weight }
        return (mean, noise, parameter * yScale2)
    }

    /// The predictive means of every output at `rows` raw rows (rows × d), rows × s: ``predictedMean(row:output:scratch:)``
    /// without the variances (a batch's prequential score).
    func predictedMeans(x: UnsafeBufferPointer<Double>, rows: Int) -> [Double] {
        var means = [Double](repeating: 0, count: rows * sysDim)
        var u = [Double](repeating: 0, count: dictDim)
        for r in 0..<rows {
            for k in 0..<sysDim { means[r * sysDim + k] = predictedMean(row: x.baseAddress! + r * dictDim, output: k, scratch: &u) }
        }
        return means
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
                mean[j * s + k] = rawCoefficients[k][j]
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
