#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SeededGenerator {
    /// A uniform draw in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A uniform draw in (0, 1), safe to take the log of.
    public mutating func nextOpenUniform() -> Double { (Double(next() >> 11) + 0.5) * 0x1.0p-53 }

    /// A Gamma(shape, 1) draw (Marsaglia and Tsang; shape < 1 boosted by U^(1/shape)).
    public mutating func nextGamma(shape: Double) -> Double {
        if shape < 1 {
            let boost = pow(nextOpenUniform(), 1 / shape)
            return nextGamma(shape: shape + 1) * boost
        }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var z = 0.0, v = 0.0
            repeat {
                z = nextGaussian()
                v = 1 + c * z
            } while v <= 0
            v = v * v * v
            let u = nextOpenUniform()
            if log(u) < 0.5 * z * z + d - d * v + d * log(v) { return d * v }
        }
    }
}

/// brainstate's `sample_init` for one non-chain prior, drawn in Double with a ``SeededGenerator``.
///
/// Draws are made in coefficient order, one generator call sequence per coefficient, so a seed gives
/// the same W on every machine. Where brainstate's draw does not follow the loss's distribution
/// (Student-t draws a Gaussian, L2's std is 1/√w) hebbd draws what brainstate draws.
struct PriorSampler<Scalar: PriorFloatingPoint> {
    let prior: WeightPrior<Scalar>

    private func value(_ k: Int, _ i: Int) -> Double { Double(prior.value(k, i)) }
    private func positive(_ h: Double) -> Double { max(h, 0) + 1e-8 }
    private var weight: Double { Double(prior.weight) }

    func draw(count n: Int, using g: inout SeededGenerator) -> [Double] {
        switch prior.kind {
        case .gaussian:
            // mean + N(0,1)/sqrt(relu(precision) + 1e-8), as GaussianPrior.
            return (0..<n).map { i in value(0, i) + g.nextGaussian() / (max(value(1, i), 0) + 1e-8).squareRoot() }
        case .l1:
            return (0..<n).map { _ in laplace(scale: 1 / (weight + 1e-8), &g) }
        case .l2:
            return (0..<n).map { _ in g.nextGaussian() / (max(weight, 0) + 1e-8).squareRoot() }
        case .elasticNet:
            return (0..<n).map { i in
                let a = min(max(value(2, i), 0), 1)
                let l = laplace(scale: 1 / (value(0, i) + 1e-8), &g)
                return a * l + (1 - a) * g.nextGaussian() / (value(1, i) + 1e-8).squareRoot()
            }
        case .huber, .groupLasso:
            return (0..<n).map { _ in g.nextGaussian() / positive(weight).squareRoot() }
        case .totalVariation:
            // A random walk: the cumulative sum of N(0, 1/w) steps, divided by √size.
            var walk = 0.0
            return (0..<n).map { _ in
                walk += g.nextGaussian() / positive(weight).squareRoot()
                return walk / Double(n).squareRoot()
            }
        case .maxNorm:
            return direction(n, norm: positive(value(0, 0)) / 2, &g)
        case .entropy:
            return prior.maximize ? [Double](repeating: 0, count: n) : (0..<n).map { _ in g.nextGaussian() }
        case .orthogonal:
            return orthonormal(&g)
        case .spectralNorm:
            let draw = (0..<n).map { _ in g.nextGaussian() }
            let sigma = draw.withUnsafeBufferPointer { PriorMath.topSingularTriple($0, rows: prior.rows, columns: prior.columns).sigma }
            let target = positive(value(0, 0))
            return sigma > 0 ? draw.map { $0 * target / sigma } : draw
        case .studentT:
            return (0..<n).map { i in positive(value(1, i)) * g.nextGaussian() }
        case .cauchy:
            return (0..<n).map { i in positive(value(0, i)) * tan(Double.pi * (g.nextOpenUniform() - 0.5)) }
        case .horseshoe:
            return (0..<n).map { i in
                let local = abs(tan(Double.pi * (g.nextOpenUniform() - 0.5)))
                return positive(value(0, i)) * local * g.nextGaussian()
            }
        case .uniform:
            return (0..<n).map { i in value(0, i) + (value(1, i) - value(0, i)) * g.nextUniform() }
        case .logNormal:
            return (0..<n).map { i in exp(value(0, i) + positive(value(1, i)) * g.nextGaussian()) }
        case .exponential:
            return (0..<n).map { i in -log(g.nextUniform() + 1e-8) / positive(value(0, i)) }
        case .gamma:
            return (0..<n).map { i in g.nextGamma(shape: positive(value(0, i))) / positive(value(1, i)) }
        case .inverseGamma:
            return (0..<n).map { i in positive(value(1, i)) / (g.nextGamma(shape: positive(value(0, i))) + 1e-8) }
        case .beta:
            return (0..<n).map { i in
                let x = g.nextGamma(shape: positive(value(0, i))), y = g.nextGamma(shape: positive(value(1, i)))
                return x + y > 0 ? x / (x + y) : 0.5
            }
        case .logUniform:
            return (0..<n).map { i in
                let lower = log(positive(value(0, i))), upper = log(positive(value(1, i)))
                return exp(lower + (upper - lower) * g.nextUniform())
            }
        case .spikeAndSlab:
            return (0..<n).map { i in
                let p = min(max(value(2, i), 1e-8), 1 - 1e-8)
                let spike = g.nextUniform() < p
                let scale = positive(value(spike ? 0 : 1, i))
                return scale * g.nextGaussian()
            }
        case .dirichlet:
            // The log of one Dirichlet(α) draw over all coefficients: logits.
            let draws = (0..<n).map { i in g.nextGamma(shape: positive(value(0, i))) }
            let total = draws.reduce(0, +)
            return draws.map { log(max($0 / max(total, .leastNormalMagnitude), .leastNormalMagnitude)) }
        case .chain:
            preconditionFailure("a chain samples from its first component")
        }
    }

    /// Laplace(0, scale) by the inverse CDF of a uniform draw.
    private func laplace(scale: Double, _ g: inout SeededGenerator) -> Double {
        let u = g.nextOpenUniform() - 0.5
        return -scale * (u < 0 ? -1 : 1) * log(1 - 2 * abs(u))
    }

    /// A Gaussian direction scaled to the given Euclidean norm.
    private func direction(_ n: Int, norm: Double, _ g: inout SeededGenerator) -> [Double] {
        let draw = (0..<n).map { _ in g.nextGaussian() }
        let length = draw.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return length > 0 ? draw.map { $0 * norm / length } : draw
    }

    /// The Q factor of a Gaussian matrix of W's shape (Gram–Schmidt): orthonormal columns when
    /// rows ≥ columns, orthonormal rows otherwise.
    private func orthonormal(_ g: inout SeededGenerator) -> [Double] {
        let r = prior.rows, c = prior.columns
        let tall = r >= c
        let length = tall ? r : c, vectors = tall ? c : r
        var q = [[Double]]()
        for _ in 0..<vectors {
            var v = (0..<length).map { _ in g.nextGaussian() }
            for _ in 0..<2 {
                for basis in q {
                    let dot = zip(v, basis).reduce(0) { $0 + $1.0 * $1.1 }
                    for i in 0..<length { v[i] -= dot * basis[i] }
                }
            }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            q.append(v.map { $0 / norm })
        }
        var w = [Double](repeating: 0, count: r * c)
        for a in 0..<vectors {
            for i in 0..<length {
                if tall { w[i * c + a] = q[a][i] } else { w[a * c + i] = q[a][i] }
            }
        }
        return w
    }
}
