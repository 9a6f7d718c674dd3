// Priors whose loss couples coefficients: group lasso, total variation, max norm, entropy, Dirichlet,
// orthogonality and spectral norm. W is row-major rows × columns; the first five flatten it.

extension WeightPrior {
    @inlinable
    func structured(_ x: UnsafeBufferPointer<Scalar>, scale: Scalar, outputs: inout PriorOutputs<Scalar>) -> Double {
        let n = x.count
        let gradient = outputs.gradient
        let c = scale * weight
        let eps = Scalar(1e-8)
        switch kind {
        case .groupLasso:
            // Consecutive groups of group_size over the flattened W; the last one is zero-padded.
            var sum = 0.0
            var start = 0
            while start < n {
                let end = min(start + groupSize, n)
                var squares: Scalar = 0
                for i in start..<end { squares += x[i] * x[i] }
                let norm = (squares + eps).squareRoot()
                sum += Double(norm)
                if let g = gradient, !outputs.smoothOnly {
                    for i in start..<end { g[i] += c * x[i] / norm }
                }
                start = end
            }
            return Double(scale) * Double(weight) * sum
        case .totalVariation:
            var sum = 0.0
            if order == 1 {
                for i in 0..<max(n - 1, 0) {
                    let d = x[i + 1] - x[i]
                    sum += Double(abs(d))
                    if let g = gradient {
                        let s = c * PriorMath.absDerivative(d)
                        g[i + 1] += s
                        g[i] -= s
                    }
                }
            } else {
                for i in 0..<max(n - 2, 0) {
                    let d = x[i + 2] - 2 * x[i + 1] + x[i]
                    sum += Double(abs(d))
                    if let g = gradient {
                        let s = c * PriorMath.absDerivative(d)
                        g[i + 2] += s
                        g[i + 1] -= 2 * s
                        g[i] += s
                    }
                }
            }
            return Double(scale) * Double(weight) * sum
        case .maxNorm:
            var squares: Scalar = 0
            for i in 0..<n { squares += x[i] * x[i] }
            let norm = (squares + eps).squareRoot()
            let raw = value(0, 0), excess = max(norm - PriorMath.positive(raw), 0)
            if excess > 0, let g = gradient {
                let factor = 2 * c * excess / norm
                for i in 0..<n { g[i] += factor * x[i] }
            }
            if outputs.wantsHyper { outputs.hyperGradients[0][0] += Double(-2 * c * excess * PriorMath.positiveDerivative(raw)) }
            return Double(scale) * Double(weight) * Double(excess * excess)
        case .entropy, .dirichlet:
            return softmaxPrior(x, scale: scale, outputs: &outputs)
        case .orthogonal:
            return orthogonal(x, scale: scale, outputs: &outputs)
        case .spectralNorm:
            // σ₁ with its singular vectors, in Double whatever the scalar type (an exact SVD, as brainstate).
            let top = PriorMath.topSingularTriple(x, rows: rows, columns: columns)
            let raw = value(0, 0), excess = max(top.sigma - Double(PriorMath.positive(raw)), 0)
            // brainstate's 1-D norm has no eps, so its gradient is NaN at W = 0; with no excess we add nothing.
            if excess > 0, let g = gradient {
                let factor = 2 * Double(c) * excess
                for r in 0..<rows {
                    for k in 0..<columns { g[r * columns + k] += Scalar(factor * top.u[r] * top.v[k]) }
                }
            }
            if outputs.wantsHyper { outputs.hyperGradients[0][0] += -2 * Double(c) * excess * Double(PriorMath.positiveDerivative(raw)) }
            return Double(scale) * Double(weight) * excess * excess
        default:
            preconditionFailure("\(kind) is not a structured prior")
        }
    }

    /// Entropy and Dirichlet on p = softmax(flattened W), computed as brainstate does: shifted by the
    /// maximum, with 1e-8 added to the denominator and inside every log. The gradient is exact, eps and
    /// the maximum's own path included (JAX splits that path evenly between tied maxima).
    @inlinable
    func softmaxPrior(_ x: UnsafeBufferPointer<Scalar>, scale: Scalar, outputs: inout PriorOutputs<Scalar>) -> Double {
        let n = x.count, eps = Scalar(1e-8)
        guard n > 0 else { return 0 }
        var largest = x[0]
        for i in 1..<n { largest = max(largest, x[i]) }
        var p = [Scalar](repeating: 0, count: n)
        var total: Scalar = 0
        for i in 0..<n {
            p[i] = Scalar.exponential(x[i] - largest)
            total += p[i]
        }
        let denominator = total + eps
        for i in 0..<n { p[i] /= denominator }
        // ∂L/∂pᵢ for the loss L(p), and L itself.
        var dp = [Scalar](repeating: 0, count: n)
        var sum = 0.0
        let c = scale * weight
        if kind == .entropy {
            // H = −Σ p log(p + eps); L = −w·H when maximising, +w·H otherwise.
            let sign: Scalar = maximize ? -1 : 1
            for i in 0..<n {
                let logP = Scalar.logarithm(p[i] + eps)
                sum -= Double(p[i] * logP)
                dp[i] = sign * c * -(logP + p[i] / (p[i] + eps))
            }
            sum *= maximize ? -1 : 1
        } else {
            // L = −w Σ (a − 1) log(p + eps) with a = relu(alpha) + 1e-8.
            for i in 0..<n {
                let raw = value(0, i), a = PriorMath.positive(raw)
                let logP = Scalar.logarithm(p[i] + eps)
                sum -= Double((a - 1) * logP)
                dp[i] = -c * (a - 1) / (p[i] + eps)
                if outputs.wantsHyper {
                    let k = hyperParameters[0].values.count == 1 ? 0 : i
                    outputs.hyperGradients[0][k] += Double(-c * logP * PriorMath.positiveDerivative(raw))
                }
            }
        }
        if let g = outputs.gradient {
            // ∂pᵢ/∂zⱼ = pᵢ(δᵢⱼ − pⱼ) with z = x − max(x); then ∂/∂x = ∂/∂z minus the max's share of Σ ∂/∂z.
            var weighted: Scalar = 0
            for i in 0..<n { weighted += dp[i] * p[i] }
            var dz = [Scalar](repeating: 0, count: n)
            var dzTotal: Scalar = 0
            for j in 0..<n {
                dz[j] = p[j] * (dp[j] - weighted)
                dzTotal += dz[j]
            }
            var ties: Scalar = 0
            for i in 0..<n where x[i] == largest { ties += 1 }
            for j in 0..<n { g[j] += dz[j] - (x[j] == largest ? dzTotal / ties : 0) }
        }
        return Double(scale) * Double(weight) * sum
    }

    /// L = w‖WᵀW − I‖²_F with ∂L/∂W = 4w·W(WᵀW − I), accumulated in Double.
    @inlinable
    func orthogonal(_ x: UnsafeBufferPointer<Scalar>, scale: Scalar, outputs: inout PriorOutputs<Scalar>) -> Double {
        let r = rows, k = columns
        // M = WᵀW − I (k × k)
        var m = [Double](repeating: 0, count: k * k)
        for a in 0..<k {
            for b in a..<k {
                var dot = 0.0
                for i in 0..<r { dot += Double(x[i * k + a]) * Double(x[i * k + b]) }
                if a == b { dot -= 1 }
                m[a * k + b] = dot
                m[b * k + a] = dot
            }
        }
        var sum = 0.0
        for value in m { sum += value * value }
        if let g = outputs.gradient {
            let factor = 4 * Double(scale) * Double(weight)
            for i in 0..<r {
                for b in 0..<k {
                    var dot = 0.0
                    for a in 0..<k { dot += Double(x[i * k + a]) * m[a * k + b] }
                    g[i * k + b] += Scalar(factor * dot)
                }
            }
        }
        return Double(scale) * Double(weight) * sum
    }
}

extension PriorMath {
    /// The largest singular value σ₁ of a rows × columns row-major matrix and its singular vectors
    /// u (rows) and v (columns), from the symmetric eigenproblem of the smaller Gram matrix (cyclic
    /// Jacobi, in Double). For a zero matrix σ₁ = 0 with unit vectors.
    public static func topSingularTriple<T: BinaryFloatingPoint>(
        _ x: UnsafeBufferPointer<T>, rows: Int, columns: Int
    ) -> (sigma: Double, u: [Double], v: [Double]) {
        let transposed = rows < columns
        let k = transposed ? rows : columns, other = transposed ? columns : rows
        // A(i, a): element of the tall orientation (other × k).
        func element(_ i: Int, _ a: Int) -> Double { Double(transposed ? x[a * columns + i] : x[i * columns + a]) }
        var gram = [Double](repeating: 0, count: k * k)
        for a in 0..<k {
            for b in a..<k {
                var dot = 0.0
                for i in 0..<other { dot += element(i, a) * element(i, b) }
                gram[a * k + b] = dot
                gram[b * k + a] = dot
            }
        }
        let (values, vectors) = symmetricEigen(gram, size: k)
        var best = 0
        for a in 1..<max(k, 1) where values[a] > values[best] { best = a }
        let sigma = max(values[best], 0).squareRoot()
        let small = (0..<k).map { vectors[$0 * k + best] }
        var large = [Double](repeating: 0, count: other)
        if sigma > 0 {
            for i in 0..<other {
                var dot = 0.0
                for a in 0..<k { dot += element(i, a) * small[a] }
                large[i] = dot / sigma
            }
        } else if other > 0 {
            large[0] = 1
        }
        return transposed ? (sigma, small, large) : (sigma, large, small)
    }

    /// Eigenvalues and eigenvectors (columns of the returned row-major matrix) of a symmetric matrix,
    /// by cyclic Jacobi rotations until the off-diagonal part is negligible.
    public static func symmetricEigen(_ matrix: [Double], size n: Int) -> (values: [Double], vectors: [Double]) {
        var a = matrix
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0, scale = 0.0
            for i in 0..<n {
                for j in 0..<n {
                    if i != j { off += a[i * n + j] * a[i * n + j] } else { scale += a[i * n + j] * a[i * n + j] }
                }
            }
            if off <= 1e-32 * max(scale, 1e-300) { break }
            for p in 0..<n {
                for q in (p + 1)..<n where a[p * n + q] != 0 {
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                    let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let cosine = 1 / (t * t + 1).squareRoot(), sine = t * cosine
                    for k in 0..<n {
                        let akp = a[k * n + p], akq = a[k * n + q]
                        a[k * n + p] = cosine * akp - sine * akq
                        a[k * n + q] = sine * akp + cosine * akq
                    }
                    for k in 0..<n {
                        let apk = a[p * n + k], aqk = a[q * n + k]
                        a[p * n + k] = cosine * apk - sine * aqk
                        a[q * n + k] = sine * apk + cosine * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k * n + p], vkq = v[k * n + q]
                        v[k * n + p] = cosine * vkp - sine * vkq
                        v[k * n + q] = sine * vkp + cosine * vkq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0 * n + $0] }, v)
    }
}
