import Testing
@testable import HebbianRegression

/// Solves A·X = B (n × n, n × m, row-major) by Gaussian elimination with partial pivoting, in Double: the dense
/// reference the refit is checked against (no LAPACK, no numpy).
func gaussianElimination(_ a: [Double], _ b: [Double], n: Int, m: Int) -> [Double] {
    var a = a, b = b
    for col in 0..<n {
        let pivot = (col..<n).max { abs(a[$0 * n + col]) < abs(a[$1 * n + col]) }!
        if pivot != col {
            for j in 0..<n { a.swapAt(col * n + j, pivot * n + j) }
            for j in 0..<m { b.swapAt(col * m + j, pivot * m + j) }
        }
        for row in (col + 1)..<n {
            let f = a[row * n + col] / a[col * n + col]
            for j in col..<n { a[row * n + j] -= f * a[col * n + j] }
            for j in 0..<m { b[row * m + j] -= f * b[col * m + j] }
        }
    }
    for col in stride(from: n - 1, through: 0, by: -1) {
        for j in 0..<m {
            var v = b[col * m + j]
            for k in (col + 1)..<n { v -= a[col * n + k] * b[k * m + j] }
            b[col * m + j] = v / a[col * n + col]
        }
    }
    return b
}

@Suite("Bayesian: active-set refit")
struct BayesianActiveSetRefitTests {
    /// A sparse stream: d = 6, 2 outputs, 80 rows, columns far from zero (so centring matters), true support
    /// {0, 2, 5} for output 0 and {1, 2} for output 1.
    static func stream() -> (x: [Double], y: [Double], rows: Int, d: Int, s: Int) {
        let rows = 80, d = 6, s = 2
        var g = SeededGenerator(seed: 77)
        let x = (0..<(rows * d)).map { i in 100 + Double(i % d) * 10 + 3 * g.nextGaussian() }
        var y = [Double](repeating: 0, count: rows * s)
        for r in 0..<rows {
            y[r * s] = 5 + 2 * x[r * d] - 1.5 * x[r * d + 2] + 0.5 * x[r * d + 5] + 0.3 * g.nextGaussian()
            y[r * s + 1] = -1 + x[r * d + 1] + x[r * d + 2] + 0.3 * g.nextGaussian()
        }
        return (x, y, rows, d, s)
    }

    /// The reference for one output: the active columns' refit computed from the rows themselves (centred when
    /// `intercept`), the weak prior ε·diag(S)/n (or a Gaussian prior with 3 noise iterations), the noise from the
    /// refit's own residuals over n − |A| − 1 degrees of freedom, the covariance by Gaussian elimination.
    static func reference(output k: Int, active set: [Int], prior: (mean: Double, std: Double)?, intercept: Bool)
        -> (mean: [Double], std: [Double], intercept: Double, interceptStd: Double) {
        let (x, y, rows, d, s) = stream()
        let n = set.count
        var xm = [Double](repeating: 0, count: n), ym = 0.0
        if intercept {
            for r in 0..<rows { for (a, j) in set.enumerated() { xm[a] += x[r * d + j] / Double(rows) }; ym += y[r * s + k] / Double(rows) }
        }
        var gram = [Double](repeating: 0, count: n * n), cross = [Double](repeating: 0, count: n)
        for r in 0..<rows {
            for a in 0..<n {
                let u = x[r * d + set[a]] - xm[a]
                cross[a] += u * (y[r * s + k] - ym)
                for b in 0..<n { gram[a * n + b] += u * (x[r * d + set[b]] - xm[b]) }
            }
        }
        func rss(_ w: [Double]) -> Double {
            var total = 0.0
            for r in 0..<rows {
                var e = y[r * s + k] - ym
                for a in 0..<n { e -= (x[r * d + set[a]] - xm[a]) * w[a] }
                total += e * e
            }
            return total
        }
        let freedom = Double(rows - n - (intercept ? 1 : 0))
        var precision = gram
        for a in 0..<n { precision[a * n + a] += ActiveSetRefit.weakPriorShare * gram[a * n + a] / Double(rows) }
        var w = gaussianElimination(precision, cross, n: n, m: 1)
        var noise = rss(w) / freedom
        var scale = noise
        if let prior {
            for _ in 0..<ActiveSetRefit.noiseIterations {
                precision = gram.map { $0 / noise }
                var eta = cross.map { $0 / noise }
                for a in 0..<n { precision[a * n + a] += 1 / (prior.std * prior.std); eta[a] += prior.mean / (prior.std * prior.std) }
                w = gaussianElimination(precision, eta, n: n, m: 1)
                noise = rss(w) / freedom
            }
            scale = 1
        }
        var identity = [Double](repeating: 0, count: n * n)
        for a in 0..<n { identity[a * n + a] = 1 }
        let covariance = gaussianElimination(precision, identity, n: n, m: n).map { $0 * scale }
        var b = ym, bVariance = noise / Double(rows)
        for a in 0..<n {
            b -= xm[a] * w[a]
            for c in 0..<n { bVariance += xm[a] * covariance[a * n + c] * xm[c] }
        }
        return (w, (0..<n).map { covariance[$0 * n + $0].squareRoot() }, intercept ? b : 0, intercept ? bVariance.squareRoot() : 0)
    }

    @Test("the refit equals a dense solve on the rows; zero coefficients get std 0 and [0, 0]",
          arguments: [(false, false), (true, false), (true, true), (false, true)])
    func denseReference(intercept: Bool, gaussianPrior: Bool) throws {
        let (x, y, rows, d, s) = Self.stream()
        var moments = CrossMoments(features: d, outputs: s)
        var workspace: [Double] = []
        // Fed in uneven batches: the statistics must not depend on how the stream was cut.
        var start = 0
        for size in [1, 7, 32, 40] {
            x[(start * d)..<((start + size) * d)].withContiguousStorageIfAvailable { xp in
                y[(start * s)..<((start + size) * s)].withContiguousStorageIfAvailable { yp in
                    moments.add(x: xp, y: yp, rows: size, smoothing: nil, workspace: &workspace)
                }
            }
            start += size
        }
        #expect(start == rows && moments.count == rows)
        let supports = [[0, 2, 5], [1, 2]]
        var active = [Bool](repeating: false, count: d * s)
        for k in 0..<s { for j in supports[k] { active[j * s + k] = true } }
        let prior = gaussianPrior ? (mean: 0.5, std: 2.0) : nil
        let refit = try ActiveSetRefit.refit(moments: moments, active: active,
                                             prior: prior.map { ActiveSetRefit.Prior(mean: [$0.mean], std: [$0.std]) },
                                             intercept: intercept, level: 0.9)
        for k in 0..<s {
            let reference = Self.reference(output: k, active: supports[k], prior: prior, intercept: intercept)
            for (a, j) in supports[k].enumerated() {
                #expect(abs(refit.coefficients[j * s + k] - reference.mean[a]) <= 1e-8 * abs(reference.mean[a]) + 1e-10,
                        "output \(k) coefficient \(j): \(refit.coefficients[j * s + k]) vs \(reference.mean[a])")
                #expect(abs(refit.std[j * s + k] - reference.std[a]) <= 1e-7 * reference.std[a], "output \(k) std \(j)")
            }
            #expect(abs(refit.intercept[k] - reference.intercept) <= 1e-8 * max(abs(reference.intercept), 1))
            #expect(abs(refit.interceptStd[k] - reference.interceptStd) <= 1e-7 * max(reference.interceptStd, 1e-300))
            for j in 0..<d where !supports[k].contains(j) {
                #expect(refit.coefficients[j * s + k] == 0 && refit.std[j * s + k] == 0)
                #expect(refit.lower[j * s + k] == 0 && refit.upper[j * s + k] == 0)
            }
        }
        #expect(refit.level == 0.9)
    }

    @Test("fewer effective rows than parameters is an error, not an interval")
    func insufficientData() throws {
        var moments = CrossMoments(features: 3, outputs: 1)
        var workspace: [Double] = []
        let x: [Double] = [1, 2, 3, 4, 5, 7], y: [Double] = [1, 2]
        x.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in moments.add(x: xp, y: yp, rows: 2, smoothing: nil, workspace: &workspace) } }
        #expect(throws: PosteriorError.insufficientData(rows: 2, parameters: 3)) {
            try ActiveSetRefit.refit(moments: moments, active: [true, true, false], prior: nil, intercept: true, level: 0.95)
        }
    }
}

@Suite("Bayesian: uncertainty beside a sparse circuit")
struct BayesianCircuitUncertaintyTests {
    /// A proximal lasso (Adam, standardize, intercept) on strong-signal sparse streams (d = 10, 3 true coefficients
    /// of size 1–2, noise 0.5, columns offset from 0, 1000 rows in batches of 10), with `CircuitUncertainty` fed the
    /// same rows: the 95 % intervals of the true-support coefficients hold the truth in 90–98 % of 600 cases (the
    /// issue's target), and every coefficient the lasso holds at exactly 0 gets std 0 and the interval [0, 0].
    @Test("relaxed intervals of a proximal lasso cover the true support at 90–98 %")
    func sparseCoverage() throws {
        let d = 10, rows = 1000, batch = 10, support = [1, 4, 7]
        var held = 0, checks = 0, zeros = 0
        for seed in 0..<200 {
            var g = SeededGenerator(seed: UInt64(500 + seed))
            var w = [Double](repeating: 0, count: d)
            for j in support { w[j] = (1 + g.nextGaussian().magnitude.truncatingRemainder(dividingBy: 1)) * (g.nextGaussian() < 0 ? -1 : 1) }
            let bias = 4 * g.nextGaussian()
            var c = CircuitConfiguration(kind: .lasso, dictDim: d)
            c.update = .proximal
            c.standardize = true
            c.intercept = true
            c.learningRate = 0.05
            c.lmbda = 2
            let circuit = try HebbianCircuit(c)
            var uncertainty = CircuitUncertainty(dictDim: d, sysDim: 1)
            for _ in 0..<(rows / batch) {
                var x: [Float] = [], y: [Float] = []
                for _ in 0..<batch {
                    let row = (0..<d).map { j in 3 + Double(j) + g.nextGaussian() }
                    var v = bias + 0.5 * g.nextGaussian()
                    for j in 0..<d { v += w[j] * row[j] }
                    x += row.map { Float($0) }
                    y.append(Float(v))
                }
                try circuit.update(x, y, rows: batch)
                x.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in uncertainty.add(x: xp, y: yp, rows: batch) } }
            }
            let u = try uncertainty.uncertainty(of: circuit)
            for j in support {
                checks += 1
                if u.lower[j] <= w[j] && w[j] <= u.upper[j] { held += 1 }
            }
            for j in 0..<d where circuit.coefficients[j] == 0 {
                zeros += 1
                #expect(u.coefficients[j] == 0 && u.std[j] == 0 && u.lower[j] == 0 && u.upper[j] == 0)
            }
        }
        let coverage = Double(held) / Double(checks)
        print("sparse-coverage: true-support 95% intervals hold the truth in \(coverage) of \(checks); \(zeros) exact zeros")
        #expect((0.90...0.98).contains(coverage), "coverage \(coverage)")
        #expect(zeros > 0, "the lasso held no coefficient at exactly 0: the test would not see the [0, 0] rule")
    }
}
