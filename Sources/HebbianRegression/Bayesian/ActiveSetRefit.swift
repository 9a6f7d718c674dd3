/// The relaxed post-selection posterior of a sparse model (`lasso`, `ridge`, `elastic_net` with
/// `uncertainty = true`; docs/MATH.md §11): per output, the Gaussian posterior of the coefficients that are not
/// exactly zero, refitted on the raw-unit sufficient statistics (``CrossMoments``) with a Gaussian prior, the
/// noise variance estimated from the refit's own residuals; every other coefficient is published with std 0 and
/// the interval [0, 0]. A pure function of (statistics, active set, prior).
public enum ActiveSetRefit {
    /// A Gaussian prior on the coefficients in raw units: mean and std per coefficient (row-major d × s), or one
    /// value for all.
    public struct Prior: Sendable, Equatable {
        /// Prior means (1 value, or d·s).
        public var mean: [Double]
        /// Prior standard deviations (1 value, or d·s), > 0.
        public var std: [Double]

        /// A prior from its parts.
        public init(mean: [Double], std: [Double]) {
            self.mean = mean
            self.std = std
        }
    }

    /// The weak default prior's precision, as a share of the average information one row carries about the
    /// coefficient (S_jj/W): N(0, σ²·W/(ε·S_jj)) with ε = 10⁻⁶. Scale-free (it follows the column's units), and
    /// negligible after a handful of rows; it only keeps the refit proper on a collinear active set.
    public static let weakPriorShare = 1e-6

    /// Fixed-point iterations of the noise variance when a Gaussian prior makes the posterior mean depend on it.
    public static let noiseIterations = 3

    /// The refit for the coefficients with `active[j·s + k]` true: posterior means (0 elsewhere), stds (0
    /// elsewhere), the intercept (by centring: a flat prior on it) and the interval level. Throws when an output
    /// has fewer effective rows than parameters (no noise estimate) or a singular active Gram.
    public static func refit(moments: CrossMoments, active: [Bool], prior: Prior?, intercept: Bool,
                             level: Double) throws(PosteriorError) -> CoefficientUncertainty {
        let d = moments.features, s = moments.outputs
        precondition(active.count == d * s, "ActiveSetRefit: \(active.count) flags for \(d)×\(s)")
        var mean = [Double](repeating: 0, count: d * s), std = mean
        var bias = [Double](repeating: 0, count: s), biasStd = bias
        for k in 0..<s {
            let fit = try output(k, moments: moments, active: active, prior: prior, intercept: intercept)
            let variances = fit.posterior.marginalVariances()
            var offsets = [Double](repeating: 0, count: fit.set.count)
            var b = moments.mean[d + k]
            for (a, j) in fit.set.enumerated() {
                mean[j * s + k] = fit.posterior.mean[a]
                std[j * s + k] = (fit.covarianceScale * variances[a]).squareRoot()
                offsets[a] = moments.mean[j]
                b -= moments.mean[j] * fit.posterior.mean[a]
            }
            if intercept {
                bias[k] = b
                biasStd[k] = (fit.noise / moments.weight + fit.covarianceScale * fit.posterior.quadraticForm(offsets)).squareRoot()
            }
        }
        return CoefficientUncertainty(coefficients: mean, std: std, intercept: bias, interceptStd: biasStd, level: level)
    }

    /// The refit's predictive mean and standard deviation (noise included) of each output for `rows` raw rows
    /// (rows × d, row-major); both rows × s. The same posterior as ``refit(moments:active:prior:intercept:level:)``.
    public static func predict(moments: CrossMoments, active: [Bool], prior: Prior?, intercept: Bool,
                               x: UnsafeBufferPointer<Double>, rows: Int) throws(PosteriorError) -> (mean: [Double], std: [Double]) {
        let d = moments.features, s = moments.outputs
        precondition(active.count == d * s && x.count == rows * d, "ActiveSetRefit.predict: shapes")
        var mean = [Double](repeating: 0, count: rows * s), std = mean
        for k in 0..<s {
            let fit = try output(k, moments: moments, active: active, prior: prior, intercept: intercept)
            var u = [Double](repeating: 0, count: fit.set.count)
            for r in 0..<rows {
                // Centred: ŷ = ȳ + (x − m_x)ᵀw, whose intercept part adds noise/W to the variance.
                for (a, j) in fit.set.enumerated() { u[a] = x[r * d + j] - (intercept ? moments.mean[j] : 0) }
                mean[r * s + k] = (intercept ? moments.mean[d + k] : 0) + fit.posterior.meanValue(u)
                let parameters = fit.covarianceScale * fit.posterior.quadraticForm(u) + (intercept ? fit.noise / moments.weight : 0)
                std[r * s + k] = (fit.noise + parameters).squareRoot()
            }
        }
        return (mean, std)
    }

    /// One output's refit: its active set, the posterior (covariance = covarianceScale · P⁻¹) and the noise variance.
    private static func output(_ k: Int, moments: CrossMoments, active: [Bool], prior: Prior?,
                               intercept: Bool) throws(PosteriorError) -> (set: [Int], posterior: GaussianPosterior, covarianceScale: Double, noise: Double) {
        let d = moments.features, s = moments.outputs
        let rows = moments.effectiveCount, weight = moments.weight
        func moment(_ i: Int, _ j: Int) -> Double { intercept ? moments.comoment(i, j) : moments.rawMoment(i, j) }
        let set = (0..<d).filter { active[$0 * s + k] }
        let n = set.count
        let freedom = rows - Double(n) - (intercept ? 1 : 0)
        guard freedom > 0 else { throw .insufficientData(rows: rows, parameters: n + (intercept ? 1 : 0)) }
        var gram = [Double](repeating: 0, count: n * n), cross = [Double](repeating: 0, count: n)
        for (a, i) in set.enumerated() {
            cross[a] = moment(i, d + k)
            for (b, j) in set.enumerated() { gram[a * n + b] = moment(i, j) }
        }
        let yy = moment(d + k, d + k)
        func residualSumOfSquares(_ w: [Double]) -> Double {
            var rss = yy
            for a in 0..<n {
                rss -= 2 * w[a] * cross[a]
                for b in 0..<n { rss += w[a] * gram[a * n + b] * w[b] }
            }
            return max(rss, 0)
        }
        // The weak prior: β·P_weak with P_weak = S + ε·diag(S)/W; the mean does not depend on β.
        var weak = gram
        for a in 0..<n { weak[a * n + a] += weakPriorShare * max(gram[a * n + a], .leastNormalMagnitude) / max(weight, .leastNormalMagnitude) }
        var posterior = try GaussianPosterior(precision: weak, naturalMean: cross, dimension: n)
        var noise = residualSumOfSquares(posterior.mean) / freedom
        var covarianceScale = noise   // Σ = noise · P_weak⁻¹
        if let prior {
            func value(_ values: [Double], _ j: Int) -> Double { values.count == 1 ? values[0] : values[j * s + k] }
            for _ in 0..<noiseIterations {
                let beta = 1 / max(noise, .leastNormalMagnitude)
                var precision = gram.map { $0 * beta }, eta = cross.map { $0 * beta }
                for (a, j) in set.enumerated() {
                    let tau2 = value(prior.std, j) * value(prior.std, j)
                    precision[a * n + a] += 1 / tau2
                    eta[a] += value(prior.mean, j) / tau2
                }
                posterior = try GaussianPosterior(precision: precision, naturalMean: eta, dimension: n)
                noise = residualSumOfSquares(posterior.mean) / freedom
            }
            covarianceScale = 1
        }
        return (set, posterior, covarianceScale, noise)
    }
}
