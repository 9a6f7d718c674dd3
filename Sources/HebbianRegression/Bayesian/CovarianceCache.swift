import CBLAS
import CHebbKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fast path's posterior (docs/MATH.md §10, "The covariance cache"): per output the covariance Σ_k = P_k⁻¹ and
/// the natural mean η_k, carried through each row's rank-one change of P_k by Sherman–Morrison in O(d²), so that an
/// update, a publish (μ_k = Σ_k·η_k, std_j = √Σ_jj) and a prediction cost O(d²) instead of the O(d³) factor of P_k.
///
/// It is *derived*: ``BayesianRegression`` keeps the exact statistics (``CrossMoments``) as the truth and rebuilds this
/// cache from them (``init(moments:configuration:)``: P_k factored, then inverted) when the cache may have drifted —
/// after rounding worth ``driftBudget`` (each rank-one step adds 1 + g·q units, where g·q is how much the row shrank
/// the variance along it: the factor by which its rounding is amplified relative to the new Σ), or when the truth's
/// prior weight reached its floor and the cache's kept decaying (smoothing). An ill-conditioned stream so refreshes
/// often, a well-conditioned one about once per ``driftBudget`` rows.
///
/// Applies only where P_k changes by rank one per row: a fixed noise (no `fit_noise`) and no `standardize` (whose
/// scales change every row); centring (`intercept`) is a rank-one change too (the row's deviation from the running
/// mean, weighted W_old·w/W_new, as in Chan's merge). Σ_k is stored whole, row-major, and kept *exactly* symmetric
/// (symmetrised at a rebuild; each step subtracts wᵢ·wⱼ = wⱼ·wᵢ): with forgetting, an asymmetric rounding error
/// would grow by 1/s every row. The products are `CHebbKernels`' (covariance.c), never threaded.
struct CovarianceCache {
    let features: Int
    let outputs: Int
    /// Whether the learning space is centred (a free intercept).
    let centred: Bool
    /// β_k = 1/noise variance per output.
    let beta: [Double]
    /// Σ_k (d × d, row-major, whole), output after output, on a cache line (``CacheLineAlignedDoubles``).
    private(set) var covariance: CacheLineAlignedDoubles
    /// η_k (d values), output after output.
    private(set) var naturalMean: [Double]
    /// The weighted mean of z = [x, y] and W = Σw, row by row as ``CrossMoments`` keeps them (the centring).
    private(set) var mean: [Double]
    private(set) var weight: Double
    /// The prior's weight in Σ: s^N since the refresh, not floored.
    private(set) var priorWeight: Double
    /// The truth's prior weight (floored at ``CrossMoments/minimumPriorWeight``), followed row by row.
    private(set) var truthPriorWeight: Double
    /// Rounding accumulated since the refresh, in units of the rounding of one well-conditioned rank-one step.
    private(set) var drift = 0.0
    private var deviation: [Double], product: CacheLineAlignedDoubles

    /// The rounding the cache may accumulate before it is rebuilt: 2²⁰ steps' worth (≈ 2·10⁻¹⁰ relative at unit
    /// amplification). Chosen on the parity streams (BayesianRiverParityTests): TrumpApproval, whose first rows
    /// amplify rounding by ~10¹¹, refreshes on its first rows and then stays ~10⁻¹¹ from the exact posterior.
    static let driftBudget = Double(1 << 20)
    /// The cache's prior weight may fall this far below the truth's floored one before a refresh (smoothing): a prior
    /// between 10⁻¹⁸ and 10⁻¹² of its initial weight is equally invisible next to any data.
    static let priorWeightSlack = 1e-6

    /// Whether the fast path applies to `configuration`.
    static func applies(to configuration: BayesianConfiguration) -> Bool {
        !configuration.standardize && !configuration.fitNoise
    }

    /// The cache of the exact posterior formed from the truth: P_k factored (``GaussianPosterior``) and inverted.
    init(moments: CrossMoments, configuration: BayesianConfiguration) throws(PosteriorError) {
        precondition(Self.applies(to: configuration), "CovarianceCache: standardize/fit_noise use the exact path")
        let d = configuration.dictDim, s = configuration.sysDim
        let natural = Posterior.naturalParameters(moments: moments, configuration: configuration,
                                                  noise: NoiseEstimate(outputs: s))
        features = d
        outputs = s
        centred = configuration.centred
        beta = natural.noiseVariance.map { 1 / $0 }
        covariance = CacheLineAlignedDoubles(zeros: s * d * d)
        naturalMean = []
        for k in 0..<s {
            let posterior = try GaussianPosterior(precision: natural.precision[k], naturalMean: natural.naturalMean[k], dimension: d)
            let inverse = posterior.covariance()
            guard inverse.allSatisfy(\.isFinite) else { throw .notPositiveDefinite(dimension: d, pivot: 0) }
            // Exactly symmetric (the solves leave rounding-level asymmetry, which forgetting would amplify).
            for i in 0..<d {
                for j in i..<d {
                    let value = i == j ? inverse[i * d + i] : (inverse[i * d + j] + inverse[j * d + i]) / 2
                    covariance[k * d * d + i * d + j] = value
                    covariance[k * d * d + j * d + i] = value
                }
            }
            naturalMean.append(contentsOf: natural.naturalMean[k])
        }
        mean = moments.mean
        weight = moments.weight
        priorWeight = moments.priorWeight
        truthPriorWeight = moments.priorWeight
        deviation = [Double](repeating: 0, count: d + s)
        product = CacheLineAlignedDoubles(zeros: d)
    }

    /// Whether the cache should be rebuilt from the truth before its next use.
    var needsRefresh: Bool {
        drift > Self.driftBudget || priorWeight < truthPriorWeight * Self.priorWeightSlack
    }

    /// Whether the values a step could overflow are finite: η, the mean, W and Σ's diagonal (an entry of a positive
    /// semi-definite Σ is bounded by its diagonal). A cache that is not is rebuilt from the truth.
    var isFinite: Bool {
        // x·0 is NaN exactly when x is not finite; four independent sums, so no chain of dependent additions.
        func finite(_ values: UnsafeBufferPointer<Double>, stride step: Int = 1) -> Bool {
            var a = 0.0, b = 0.0, c = 0.0, e = 0.0, i = 0
            while i + 3 * step < values.count {
                a += values[i] * 0; b += values[i + step] * 0; c += values[i + 2 * step] * 0; e += values[i + 3 * step] * 0
                i += 4 * step
            }
            while i < values.count { a += values[i] * 0; i += step }
            return (a + b + c + e).isFinite
        }
        guard weight.isFinite, naturalMean.withUnsafeBufferPointer({ finite($0) }), mean.withUnsafeBufferPointer({ finite($0) }) else { return false }
        return covariance.withUnsafeBufferPointer { c in
            (0..<outputs).allSatisfy { k in
                finite(UnsafeBufferPointer(rebasing: c[(k * features * features)..<((k + 1) * features * features)]), stride: features + 1)
            }
        }
    }

    /// Folds in one raw row (x: d values, y: s values) with River's `smoothing` s (nil: none), after writing into
    /// `scores` (s values, when not nil) each output's predictive mean at the posterior before the row.
    mutating func learn(x: UnsafePointer<Double>, y: UnsafePointer<Double>, smoothing: Double?,
                        scores: UnsafeMutablePointer<Double>?) {
        let d = features, s = outputs
        let decay = smoothing ?? 1, rowWeight = smoothing.map { 1 - $0 } ?? 1
        // The update direction a (x, or its deviation from the running mean) and the rank-one weight ρ²:
        // P' = decay·P + β·ρ²·a·aᵀ, η' = decay·η + β·ρ²·a·a_y.
        let oldWeight = decay * weight, newWeight = oldWeight + rowWeight
        let rho2: Double
        if centred {
            for j in 0..<d { deviation[j] = x[j] - mean[j] }
            for k in 0..<s { deviation[d + k] = y[k] - mean[d + k] }
            rho2 = oldWeight > 0 ? oldWeight * rowWeight / newWeight : 0
        } else {
            for j in 0..<d { deviation[j] = x[j] }
            for k in 0..<s { deviation[d + k] = y[k] }
            rho2 = rowWeight
        }
        deviation.withUnsafeMutableBufferPointer { a in
            product.withUnsafeMutableBufferPointer { v in
                covariance.withUnsafeMutableBufferPointer { allCovariances in
                    naturalMean.withUnsafeMutableBufferPointer { allNaturalMeans in
                        for k in 0..<s {
                            let sigma = allCovariances.baseAddress! + k * d * d, eta = allNaturalMeans.baseAddress! + k * d
                            // v = Σa, q = aᵀΣa, the prediction before the row aᵀμ = aᵀΣη = vᵀη, then
                            // Σ' = (Σ − γ·v·vᵀ)/decay with γ = g/(1 + g·q), g = β·ρ²/decay (Sherman–Morrison).
                            let g = beta[k] * rho2 / decay
                            var prediction = 0.0
                            let q = withUnsafeMutablePointer(to: &prediction) { p in
                                hebb_covariance_rank_one(sigma, a.baseAddress, eta, v.baseAddress, d, g, 1 / decay, scores == nil ? nil : p)
                            }
                            if let scores { scores[k] = (centred ? mean[d + k] : 0) + prediction }
                            let step = beta[k] * rho2 * a[d + k]
                            for j in 0..<d { eta[j] = decay * eta[j] + step * a[j] }
                            drift += 1 + g * q
                        }
                    }
                }
            }
        }
        if centred {
            let share = rowWeight / newWeight
            for j in 0..<(d + s) { mean[j] += deviation[j] * share }
        }
        weight = newWeight
        priorWeight *= decay
        truthPriorWeight = max(truthPriorWeight * decay, CrossMoments.minimumPriorWeight)
    }

    /// Folds in a batch of `rows` raw rows at once (Woodbury): the same posterior as ``learn(x:y:smoothing:scores:)``
    /// row by row — the batch's statistics are the same — in level-3 products. With U the batch's k update rows
    /// (raw: √ω·x; centred: the rows' deviations from the batch mean, √ω-scaled, and √(W_old·W_b/W)·(batch mean −
    /// running mean), Chan's merge), P' = decay·P + β·UᵀU and
    ///     Σ' = (Σ − Tᵀ·K⁻¹·T)/decay,  T = U·Σ,  K = (decay/β)·I + T·Uᵀ = L·Lᵀ,
    /// computed as Σ − WᵀW with W = L⁻¹T (`dsyrk` on the upper triangle, mirrored: exactly symmetric).
    /// O(k·d² + k²·d) per output against 2·k·d² in rank-one steps: the better for k < d. No prediction is written.
    mutating func learn(batch x: UnsafeBufferPointer<Double>, y: UnsafeBufferPointer<Double>, rows: Int, smoothing: Double?) {
        let d = features, s = outputs, m = d + s
        // Row weights, oldest first, and the decay of everything before the batch: the statistics' own rule.
        let (rowWeights, decay) = CrossMoments.batchWeights(rows: rows, smoothing: smoothing)
        var batchWeight = 0.0
        for w in rowWeights { batchWeight += w }
        var batchMean = [Double](repeating: 0, count: m)
        if centred {
            for r in 0..<rows {
                for j in 0..<d { batchMean[j] += rowWeights[r] * x[r * d + j] }
                for o in 0..<s { batchMean[d + o] += rowWeights[r] * y[r * s + o] }
            }
            for j in 0..<m { batchMean[j] /= batchWeight }
        }
        let oldWeight = decay * weight, newWeight = oldWeight + batchWeight
        let k = rows + (centred ? 1 : 0)
        var u = [Double](repeating: 0, count: k * m)
        for r in 0..<rows {
            let root = rowWeights[r].squareRoot()
            for j in 0..<d { u[r * m + j] = root * (x[r * d + j] - batchMean[j]) }
            for o in 0..<s { u[r * m + d + o] = root * (y[r * s + o] - batchMean[d + o]) }
        }
        if centred {
            let root = (oldWeight > 0 ? oldWeight * batchWeight / newWeight : 0).squareRoot()
            for j in 0..<m { u[rows * m + j] = root * (batchMean[j] - mean[j]) }
        }
        // Above SerialProducts.splitWork the products are cut into parts (T and W by columns, Σ's update by rows of its
        // upper triangle) for the pool's threads; the cut depends on the shape only, so the bits do not depend on
        // whether the parts ran at once.
        let parts = k * d * d >= SerialProducts.splitWork ? SerialProducts.parts(columns: d) : 1
        let column = { (p: Int) in p == parts ? d : (d * p / parts + 4) / 8 * 8 }
        var t = [Double](repeating: 0, count: k * d), grams = [Double](repeating: 0, count: parts * k * k)
        var gram = [Double](repeating: 0, count: k * k)
        for o in 0..<s {
            let g = beta[o] / decay, scale = 1 / decay
            let base = o * d * d
            var info: Int32 = 0
            SerialProducts.serial {
                covariance.withUnsafeMutableBufferPointer { c in
                    let sigma = c.baseAddress! + base
                    u.withUnsafeBufferPointer { uBuffer in
                        t.withUnsafeMutableBufferPointer { tBuffer in
                            grams.withUnsafeMutableBufferPointer { gBuffer in
                                let u = uBuffer.baseAddress!, t = tBuffer.baseAddress!, grams = gBuffer.baseAddress!
                                // T = U·Σ (k × d), each part its columns J, and its share T[:, J]·U[:, J]ᵀ of K.
                                SerialProducts.split(parts) { p, _ in
                                    let j0 = column(p), j1 = column(p + 1)
                                    guard j1 > j0 else { return }
                                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(k), blasint(j1 - j0), blasint(d), 1,
                                                u, blasint(m), sigma + j0, blasint(d), 0, t + j0, blasint(d))
                                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blasint(k), blasint(k), blasint(j1 - j0), 1,
                                                t + j0, blasint(d), u + j0, blasint(m), 0, grams + p * k * k, blasint(k))
                                }
                            }
                        }
                    }
                    // K = Σ_parts + I/g (k × k, symmetric).
                    for i in 0..<(k * k) {
                        var sum = grams[i]
                        for p in 1..<max(parts, 1) { sum += grams[p * k * k + i] }
                        gram[i] = sum
                    }
                    var trace = 0.0
                    for i in 0..<k { trace += gram[i * k + i]; gram[i * k + i] += 1 / g }
                    drift += Double(k) + g * trace
                    // K = L·Lᵀ: LAPACK's column-major lower factor is the row-major upper triangle, Lᵀ.
                    var n = Int32(k), lda = Int32(k)
                    gram.withUnsafeMutableBufferPointer { a in dpotrf_("L", &n, a.baseAddress, &lda, &info, 1) }
                    guard info == 0 else { return }
                    gram.withUnsafeBufferPointer { lBuffer in
                        t.withUnsafeMutableBufferPointer { tBuffer in
                            let l = lBuffer.baseAddress!, t = tBuffer.baseAddress!
                            // W = L⁻¹·T, i.e. (Lᵀ)ᵀ·W = T with Lᵀ the row-major upper triangle, column block by block
                            // on the caller: k²·d/2 multiply-adds, ~10 µs a part at 256 × 1 / 64, too little for a
                            // hand-off (as a job of its own it ended later than its parts' CPU time about as often as
                            // not, which set off the pool's back-off on an idle machine).
                            for p in 0..<parts {
                                let j0 = column(p), j1 = column(p + 1)
                                guard j1 > j0 else { continue }
                                cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit, blasint(k), blasint(j1 - j0), 1,
                                            l, blasint(k), t + j0, blasint(d))
                            }
                            // Σ ← (Σ − WᵀW)/decay on the upper triangle, each part its rows, mirrored: exactly symmetric.
                            SerialProducts.split(parts) { p, parts in
                                let r0 = SerialProducts.triangleRow(p, of: parts, n: d), r1 = SerialProducts.triangleRow(p + 1, of: parts, n: d)
                                SerialProducts.symmetricRankUpdate(rows: r0, r1, n: d, k: k, alpha: -1, a: t, lda: d, beta: 1, c: sigma, ldc: d)
                                hebb_mirror_upper(sigma, d, r0, r1, scale)
                            }
                        }
                    }
                }
            }
            // K is positive definite whenever Σ is (I/g + UΣUᵀ); a failed factor means Σ lost it: rebuild.
            if info != 0 { drift = .infinity }
            // η ← decay·η + β·U[:, x]ᵀ·U[:, y_o].
            SerialProducts.serial { naturalMean.withUnsafeMutableBufferPointer { eta in
                u.withUnsafeBufferPointer { u in
                    cblas_dgemv(CblasRowMajor, CblasTrans, blasint(k), blasint(d), beta[o], u.baseAddress, blasint(m),
                                u.baseAddress! + d + o, blasint(m), decay, eta.baseAddress! + o * d, 1)
                }
            } }
        }
        if centred {
            for j in 0..<m { mean[j] += (batchMean[j] - mean[j]) * batchWeight / newWeight }
        }
        weight = newWeight
        priorWeight *= decay
        truthPriorWeight = max(truthPriorWeight * decay, CrossMoments.minimumPriorWeight)
    }

    /// μ_k = Σ_k·η_k into `mu` (d values).
    func posteriorMean(output k: Int, into mu: inout [Double]) {
        let d = features
        covariance.withUnsafeBufferPointer { c in
            naturalMean.withUnsafeBufferPointer { eta in hebb_symmetric_product(c.baseAddress! + k * d * d, eta.baseAddress! + k * d, &mu, d) }
        }
    }

    /// uᵀΣ_k·u.
    func quadraticForm(output k: Int, _ u: [Double], scratch v: inout [Double]) -> Double {
        let d = features
        covariance.withUnsafeBufferPointer { c in hebb_symmetric_product(c.baseAddress! + k * d * d, u, &v, d) }
        return hebb_dot(u, v, d)
    }

    /// Σ_k's diagonal entry j: the posterior variance of coefficient (j, k).
    func variance(output k: Int, feature j: Int) -> Double {
        max(covariance[k * features * features + j * (features + 1)], 0)
    }

    /// The predictive means and standard deviations (noise included) of every output at `rows` raw rows (rows × d);
    /// both rows × s, as ``BayesianRegression/predict(x:rows:)``. Without `withStd` the stds are left 0 (a batch's
    /// prequential score needs only the means).
    func predict(x: UnsafeBufferPointer<Double>, rows: Int, withStd: Bool = true) -> (mean: [Double], std: [Double]) {
        let d = features, s = outputs
        var mean = [Double](repeating: 0, count: rows * s), std = mean
        var mu = [Double](repeating: 0, count: d), u = mu, v = mu
        for k in 0..<s {
            posteriorMean(output: k, into: &mu)
            let noiseVariance = 1 / beta[k]
            for r in 0..<rows {
                if centred && weight == 0 {
                    mean[r * s + k] = self.mean[d + k]
                    std[r * s + k] = .infinity
                    continue
                }
                for j in 0..<d { u[j] = x[r * d + j] - (centred ? self.mean[j] : 0) }
                mean[r * s + k] = (centred ? self.mean[d + k] : 0) + hebb_dot(u, mu, d)
                guard withStd else { continue }
                var variance = noiseVariance + quadraticForm(output: k, u, scratch: &v)
                if centred { variance += noiseVariance / weight }
                std[r * s + k] = variance.squareRoot()
            }
        }
        return (mean, std)
    }

    /// The coefficients, their stds, the intercept and its std (raw units = the learning space here).
    func coefficients(level: Double) -> CoefficientUncertainty {
        let d = features, s = outputs
        var coefficients = [Double](repeating: 0, count: d * s), std = coefficients
        var intercept = [Double](repeating: 0, count: s), interceptStd = intercept
        var mu = [Double](repeating: 0, count: d), v = mu
        let meanX = Array(mean[0..<d])
        for k in 0..<s {
            posteriorMean(output: k, into: &mu)
            var b = mean[d + k]
            for j in 0..<d {
                coefficients[j * s + k] = mu[j]
                std[j * s + k] = variance(output: k, feature: j).squareRoot()
                b -= meanX[j] * mu[j]
            }
            guard centred else { continue }
            intercept[k] = b
            interceptStd[k] = weight > 0 ? (1 / (beta[k] * weight) + quadraticForm(output: k, meanX, scratch: &v)).squareRoot() : .infinity
        }
        return CoefficientUncertainty(coefficients: coefficients, std: std, intercept: intercept, interceptStd: interceptStd, level: level)
    }
}
