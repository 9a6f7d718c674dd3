import Testing
@testable import HebbianRegression

/// Calibration of the exact model: when the true W is drawn from the prior and the noise is the configured one,
/// the posterior is the exact conditional distribution of W, so 95 % intervals hold the truth in 95 % of cases
/// (over seeds), and so do the predictive intervals for the next y.
@Suite("Bayesian regression: calibration")
struct BayesianCalibrationTests {
    /// Coverage of the level-0.95 coefficient intervals and of the predictive intervals, over `seeds` streams of
    /// `rows` rows (d = 4, 2 outputs, prior N(0.5, 1.5²) per weight, noise 0.7), each checked on 4 coefficients × 2
    /// outputs and on 4 fresh rows × 2 outputs.
    static func coverage(seeds: Int, rows: Int, intercept: Bool) throws -> (coefficients: Double, intercept: Double, predictive: Double) {
        let d = 4, s = 2, priorMean = 0.5, priorStd = 1.5, noise = 0.7
        var c = BayesianConfiguration(dictDim: d, sysDim: s)
        c.prior = PriorConfiguration(kind: .gaussian, arguments: [.mean: .numbers([priorMean]), .std: .numbers([priorStd])])
        c.noiseStd = noise
        c.intercept = intercept
        var held = 0, heldIntercept = 0, heldNext = 0, checks = 0, interceptChecks = 0, nextChecks = 0
        for seed in 0..<seeds {
            var g = SeededGenerator(seed: UInt64(1000 + seed))
            let w = (0..<(d * s)).map { _ in priorMean + priorStd * g.nextGaussian() }
            // A flat intercept prior cannot be sampled; any fixed b is covered at the nominal rate.
            let b = (0..<s).map { _ in 3 * g.nextGaussian() }
            func draw(_ n: Int) -> (x: [Double], y: [Double]) {
                let x = (0..<(n * d)).map { _ in 2 * g.nextGaussian() + 1 }
                var y = [Double](repeating: 0, count: n * s)
                for r in 0..<n {
                    for k in 0..<s {
                        var v = intercept ? b[k] : 0
                        for j in 0..<d { v += x[r * d + j] * w[j * s + k] }
                        y[r * s + k] = v + noise * g.nextGaussian()
                    }
                }
                return (x, y)
            }
            let model = try BayesianRegression(c)
            let (x, y) = draw(rows)
            try model.update(x, y, rows: rows)
            let u = try model.uncertainty()
            let lower = u.lower, upper = u.upper
            for i in 0..<(d * s) {
                checks += 1
                if lower[i] <= w[i] && w[i] <= upper[i] { held += 1 }
            }
            if intercept {
                for k in 0..<s {
                    interceptChecks += 1
                    if abs(u.intercept[k] - b[k]) <= u.z * u.interceptStd[k] { heldIntercept += 1 }
                }
            }
            let next = draw(4)
            let p = try model.predict(next.x, rows: 4)
            for i in 0..<(4 * s) {
                nextChecks += 1
                if abs(next.y[i] - p.mean[i]) <= u.z * p.std[i] { heldNext += 1 }
            }
        }
        return (Double(held) / Double(checks), interceptChecks > 0 ? Double(heldIntercept) / Double(interceptChecks) : 0.95,
                Double(heldNext) / Double(nextChecks))
    }

    @Test("95 % coefficient and predictive intervals hold the truth in 95 ± 2 % of 2400 cases", arguments: [false, true])
    func nominalCoverage(intercept: Bool) throws {
        // 300 streams × 8 coefficients (and × 8 next values): the binomial sd of a coverage is 0.45 %, so ±2 % is
        // more than 4 sd. Few rows (6) keep the posterior far from its prior and from a point mass alike.
        let coverage = try Self.coverage(seeds: 300, rows: 6, intercept: intercept)
        #expect(abs(coverage.coefficients - 0.95) <= 0.02, "coefficient coverage \(coverage.coefficients)")
        #expect(abs(coverage.predictive - 0.95) <= 0.02, "predictive coverage \(coverage.predictive)")
        if intercept { #expect(abs(coverage.intercept - 0.95) <= 0.03, "intercept coverage \(coverage.intercept) (600 cases)") }
    }

    @Test("the inverse normal CDF is within one ulp of the correctly rounded quantile")
    func normalQuantile() {
        // The quantiles of the Double nearest each decimal p (60-digit mpmath, √2·erfinv(2p − 1)), correctly rounded:
        // Double(0.975) = 0.97499999999999997780… has Φ⁻¹ = 1.95996398454005385560…, not 1.959963984540054.
        let reference: [(Double, Double)] = [(0.975, 1.9599639845400538), (0.995, 2.5758293035489004), (0.8, 0.8416212335729144),
                                             (0.02425, -1.972961051311885), (1e-9, -5.9978070150076865)]
        for (p, quantile) in reference {
            #expect(abs(StandardNormal.quantile(p) - quantile) <= quantile.ulp, "Φ⁻¹(\(p)) = \(StandardNormal.quantile(p)), expected \(quantile)")
        }
        #expect(StandardNormal.twoSidedQuantile(level: 0.95) == StandardNormal.quantile(0.975))
        #expect(StandardNormal.quantile(0.5) == 0)
        // Round trips through Φ (erfc) across the central, intermediate and tail regions, both sides.
        for p in [1e-300, 1e-20, 1e-9, 0.001, 0.02425, 0.1, 0.3, 0.5, 0.7, 0.9, 0.97575, 0.999] {
            let x = StandardNormal.quantile(p)
            // A relative error ε in x moves Φ(x) by about x²·ε relative in the far tail.
            #expect(abs(StandardNormal.cdf(x) - p) <= 1e-13 * max(1, x * x) * p, "Φ(Φ⁻¹(\(p))) = \(StandardNormal.cdf(x))")
        }
        for p in [0.001, 0.02425, 0.1, 0.3] {
            #expect(abs(StandardNormal.quantile(1 - p) + StandardNormal.quantile(p)) <= 1e-12, "symmetry at \(p)")
        }
        #expect(StandardNormal.quantile(0) == -.infinity && StandardNormal.quantile(1) == .infinity && StandardNormal.quantile(1.5).isNaN)
    }
}
