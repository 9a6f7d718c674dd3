// The loss, ∂loss/∂W and ∂loss/∂hyper-parameters of every prior, generic over the scalar type so the
// same code runs in Float (the circuit) and in Double (the float64 reference values). `@inlinable` and
// in one function per kind so that the Float instantiation is specialised and the loops stay tight.

extension WeightPrior {
    /// The loss times `scale`; adds scale·∂/∂W and scale·∂/∂h into `outputs` as requested.
    @inlinable
    func evaluate(_ x: UnsafeBufferPointer<Scalar>, scale: Scalar, outputs: inout PriorOutputs<Scalar>) -> Double {
        precondition(x.count == count || kind == .chain, "W has \(x.count) values, the prior expects \(rows)×\(columns)")
        switch kind {
        case .chain:
            var total = 0.0
            for component in components { total += component.evaluate(x, scale: scale * weight, outputs: &outputs) }
            return total
        case .gaussian: return gaussian(x, scale: scale, outputs: &outputs)
        case .groupLasso, .totalVariation, .maxNorm, .entropy, .dirichlet, .orthogonal, .spectralNorm:
            return structured(x, scale: scale, outputs: &outputs)
        default:
            return elementwise(x, scale: scale, outputs: &outputs)
        }
    }

    @inlinable
    func gaussian(_ x: UnsafeBufferPointer<Scalar>, scale: Scalar, outputs: inout PriorOutputs<Scalar>) -> Double {
        let mean = hyperParameters[0].values, precision = hyperParameters[1].values
        let c = scale * weight
        return mean.withUnsafeBufferPointer { m in
            precision.withUnsafeBufferPointer { p in
                if let g = outputs.gradient { GaussianPrior.accumulateGradient(x: x, mean: m, precision: p, weight: c, into: g) }
                if outputs.wantsHyper {
                    var gm = [Scalar](repeating: 0, count: m.count), gp = [Scalar](repeating: 0, count: p.count)
                    gm.withUnsafeMutableBufferPointer { gm in
                        gp.withUnsafeMutableBufferPointer { gp in
                            GaussianPrior.hyperGradients(x: x, mean: m, precision: p, weight: c, meanGradient: gm, precisionGradient: gp)
                        }
                    }
                    for j in gm.indices { outputs.hyperGradients[0][j] += Double(gm[j]) }
                    for j in gp.indices { outputs.hyperGradients[1][j] += Double(gp[j]) }
                }
                return Double(scale) * GaussianPrior.loss(x: x, mean: m, precision: p, weight: weight)
            }
        }
    }

    /// The kinds whose loss is a sum of per-coefficient terms (plus, for the normalised densities, one
    /// log-normaliser per coefficient: N·c for a scalar hyper-parameter, Σᵢ cᵢ for per-coefficient ones).
    @inlinable
    func elementwise(_ x: UnsafeBufferPointer<Scalar>, scale: Scalar, outputs: inout PriorOutputs<Scalar>) -> Double {
        typealias M = PriorMath
        let n = x.count
        let wantsHyper = outputs.wantsHyper, smoothOnly = outputs.smoothOnly
        let gradient = outputs.gradient
        let eps = Scalar(1e-8)
        var sum = 0.0
        // ∂/∂h accumulates into element i of h (or element 0 for a scalar h).
        func addHyper(_ k: Int, _ i: Int, _ value: Scalar) {
            outputs.hyperGradients[k][hyperParameters[k].values.count == 1 ? 0 : i] += Double(scale * weight * value)
        }
        var c = scale * weight
        switch kind {
        case .l1:
            for i in 0..<n {
                sum += Double(abs(x[i]))
                if let g = gradient, !smoothOnly { g[i] += c * M.absDerivative(x[i]) }
            }
        case .l2:
            // brainstate reads the weight through relu (no eps) and has no ½.
            c = scale * max(weight, 0)
            for i in 0..<n {
                sum += Double(x[i] * x[i])
                if let g = gradient { g[i] += 2 * c * x[i] }
            }
            return Double(scale) * Double(max(weight, 0)) * sum
        case .elasticNet:
            // No weight of its own: L = a·λ1·Σ|x| + (1 − a)·λ2·Σx² with a = clip(alpha, 0, 1).
            for i in 0..<n {
                let l1 = value(0, i), l2 = value(1, i), a = M.clip(value(2, i), 0, 1)
                let ax = abs(x[i]), x2 = x[i] * x[i]
                sum += Double(a.value * l1 * ax) + Double((1 - a.value) * l2 * x2)
                if let g = gradient {
                    let l1Part = smoothOnly ? 0 : a.value * l1 * M.absDerivative(x[i])
                    g[i] += scale * (l1Part + 2 * (1 - a.value) * l2 * x[i])
                }
                if wantsHyper { outputs.hyperGradients[2][hyperParameters[2].values.count == 1 ? 0 : i] += Double(scale * (l1 * ax - l2 * x2) * a.dx) }
            }
            return Double(scale) * sum
        case .huber:
            for i in 0..<n {
                let raw = value(0, i), delta = M.positive(raw), ax = abs(x[i])
                if ax <= delta {
                    sum += Double(x[i] * x[i] / 2)
                    if let g = gradient { g[i] += c * x[i] }
                } else {
                    sum += Double(delta * (ax - delta / 2))
                    if let g = gradient { g[i] += c * delta * M.absDerivative(x[i]) }
                    if wantsHyper { addHyper(0, i, (ax - delta) * M.positiveDerivative(raw)) }
                }
            }
        case .studentT:
            let scalarHyper = hyperParameters[0].values.count == 1 && hyperParameters[1].values.count == 1
            func normaliser(_ nu: Scalar, _ s: Scalar) -> Scalar {
                Scalar.logarithm(s) + Scalar.logGamma(nu / 2) + Scalar.logarithm(nu * Scalar.pi) / 2 - Scalar.logGamma((nu + 1) / 2)
            }
            func normaliserDerivative(_ nu: Scalar) -> Scalar {
                Scalar.digamma(nu / 2) / 2 + 1 / (2 * nu) - Scalar.digamma((nu + 1) / 2) / 2
            }
            let nu0 = M.positive(value(0, 0)), s0 = M.positive(value(1, 0))
            let dNu0 = wantsHyper && scalarHyper ? normaliserDerivative(nu0) : 0
            if scalarHyper { sum += Double(n) * Double(normaliser(nu0, s0)) }
            for i in 0..<n {
                let rawNu = value(0, i), rawS = value(1, i)
                let nu = scalarHyper ? nu0 : M.positive(rawNu), s = scalarHyper ? s0 : M.positive(rawS)
                let xi = x[i], z = xi / s, u = z * z
                sum += Double((nu + 1) / 2 * Scalar.logarithm(1 + u / nu))
                if !scalarHyper { sum += Double(normaliser(nu, s)) }
                let denominator = nu * s * s + xi * xi
                if let g = gradient { g[i] += c * (nu + 1) * xi / denominator }
                if wantsHyper {
                    let dNorm = scalarHyper ? dNu0 : normaliserDerivative(nu)
                    addHyper(0, i, (Scalar.logarithm(1 + u / nu) / 2 - (nu + 1) * u / (2 * nu * (nu + u)) + dNorm) * M.positiveDerivative(rawNu))
                    addHyper(1, i, (-(nu + 1) * xi * xi / (s * denominator) + 1 / s) * M.positiveDerivative(rawS))
                }
            }
        case .cauchy, .horseshoe:
            // HorseshoeReg's loss is exactly the Cauchy loss with scale = tau.
            let scalarHyper = hyperParameters[0].values.count == 1
            if scalarHyper { sum += Double(n) * Double(Scalar.logarithm(M.positive(value(0, 0)))) }
            for i in 0..<n {
                let raw = value(0, i), s = M.positive(raw), xi = x[i], z = xi / s
                sum += Double(Scalar.logarithm(1 + z * z))
                if !scalarHyper { sum += Double(Scalar.logarithm(s)) }
                let denominator = s * s + xi * xi
                if let g = gradient { g[i] += c * 2 * xi / denominator }
                if wantsHyper { addHyper(0, i, (-2 * xi * xi / (s * denominator) + 1 / s) * M.positiveDerivative(raw)) }
            }
        case .uniform:
            for i in 0..<n {
                let below = max(value(0, i) - x[i], 0), above = max(x[i] - value(1, i), 0)
                sum += Double(below * below) + Double(above * above)
                if let g = gradient { g[i] += c * 2 * (above - below) }
                if wantsHyper {
                    addHyper(0, i, 2 * below)
                    addHyper(1, i, -2 * above)
                }
            }
        case .logNormal:
            let scalarSigma = hyperParameters[1].values.count == 1
            if scalarSigma { sum += Double(n) * Double(Scalar.logarithm(M.positive(value(1, 0)))) }
            for i in 0..<n {
                let mu = value(0, i), rawSigma = value(1, i), sigma = M.positive(rawSigma)
                let xp = M.positive(x[i]), lx = Scalar.logarithm(xp), d = lx - mu, s2 = sigma * sigma
                sum += Double(d * d / (2 * s2) + lx)
                if !scalarSigma { sum += Double(Scalar.logarithm(sigma)) }
                if let g = gradient, x[i] > 0 { g[i] += c * (d / s2 + 1) / xp }
                if wantsHyper {
                    addHyper(0, i, -d / s2)
                    addHyper(1, i, (-d * d / (s2 * sigma) + 1 / sigma) * M.positiveDerivative(rawSigma))
                }
            }
        case .exponential:
            for i in 0..<n {
                let raw = value(0, i), rate = M.positive(raw), xr = max(x[i], 0)
                sum += Double(rate * xr)
                if let g = gradient, x[i] > 0 { g[i] += c * rate }
                if wantsHyper { addHyper(0, i, xr * M.positiveDerivative(raw)) }
            }
        case .gamma, .inverseGamma:
            let inverse = kind == .inverseGamma
            let scalarHyper = hyperParameters[0].values.count == 1 && hyperParameters[1].values.count == 1
            func normaliser(_ a: Scalar, _ b: Scalar) -> Scalar { -a * Scalar.logarithm(b) + Scalar.logGamma(a) }
            let a0 = M.positive(value(0, 0)), b0 = M.positive(value(1, 0))
            let digamma0 = wantsHyper && scalarHyper ? Scalar.digamma(a0) : 0
            if scalarHyper { sum += Double(n) * Double(normaliser(a0, b0)) }
            for i in 0..<n {
                let rawA = value(0, i), rawB = value(1, i)
                let a = scalarHyper ? a0 : M.positive(rawA), b = scalarHyper ? b0 : M.positive(rawB)
                let xp = M.positive(x[i]), lx = Scalar.logarithm(xp)
                if !scalarHyper { sum += Double(normaliser(a, b)) }
                if inverse {
                    sum += Double((a + 1) * lx + b / xp)
                    if let g = gradient, x[i] > 0 { g[i] += c * ((a + 1) / xp - b / (xp * xp)) }
                } else {
                    sum += Double(-(a - 1) * lx + b * xp)
                    if let g = gradient, x[i] > 0 { g[i] += c * (b - (a - 1) / xp) }
                }
                if wantsHyper {
                    let psi = scalarHyper ? digamma0 : Scalar.digamma(a)
                    addHyper(0, i, ((inverse ? lx : -lx) - Scalar.logarithm(b) + psi) * M.positiveDerivative(rawA))
                    addHyper(1, i, ((inverse ? 1 / xp : xp) - a / b) * M.positiveDerivative(rawB))
                }
            }
        case .beta:
            // The clip to [1e-8, 1 − 1e-8] is taken in Double: in Float 1 − 1e-8 rounds to 1, which makes
            // brainstate's float32 loss +inf and its gradient NaN for any coefficient ≥ 1 (docs/PRIORS.md).
            let scalarHyper = hyperParameters[0].values.count == 1 && hyperParameters[1].values.count == 1
            func normaliser(_ a: Double, _ b: Double) -> Double { PriorMath.logGamma(a) + PriorMath.logGamma(b) - PriorMath.logGamma(a + b) }
            let a0 = Double(M.positive(value(0, 0))), b0 = Double(M.positive(value(1, 0)))
            if scalarHyper { sum += Double(n) * normaliser(a0, b0) }
            let psi0 = wantsHyper && scalarHyper ? (PriorMath.digamma(a0), PriorMath.digamma(b0), PriorMath.digamma(a0 + b0)) : (0, 0, 0)
            for i in 0..<n {
                let rawA = value(0, i), rawB = value(1, i)
                let a = scalarHyper ? a0 : Double(M.positive(rawA)), b = scalarHyper ? b0 : Double(M.positive(rawB))
                let clipped = M.clip(Double(x[i]), 1e-8, 1 - 1e-8), xt = clipped.value
                let logX = Double.logarithm(xt), logOneMinusX = Double.logarithm(1 - xt)
                sum += -(a - 1) * logX - (b - 1) * logOneMinusX
                if !scalarHyper { sum += normaliser(a, b) }
                if let g = gradient, clipped.dx != 0 { g[i] += c * Scalar((-(a - 1) / xt + (b - 1) / (1 - xt)) * clipped.dx) }
                if wantsHyper {
                    let psi = scalarHyper ? psi0 : (PriorMath.digamma(a), PriorMath.digamma(b), PriorMath.digamma(a + b))
                    addHyper(0, i, Scalar((-logX + psi.0 - psi.2)) * M.positiveDerivative(rawA))
                    addHyper(1, i, Scalar((-logOneMinusX + psi.1 - psi.2)) * M.positiveDerivative(rawB))
                }
            }
        case .logUniform:
            for i in 0..<n {
                let rawLower = value(0, i), rawUpper = value(1, i)
                let clipped = M.clip(M.positive(x[i]), M.positive(rawLower), M.positive(rawUpper))
                sum += Double(Scalar.logarithm(clipped.value))
                if let g = gradient, x[i] > 0, clipped.dx != 0 { g[i] += c * clipped.dx / clipped.value }
                if wantsHyper {
                    addHyper(0, i, clipped.dLower / clipped.value * M.positiveDerivative(rawLower))
                    addHyper(1, i, clipped.dUpper / clipped.value * M.positiveDerivative(rawUpper))
                }
            }
        case .spikeAndSlab:
            for i in 0..<n {
                let rawSpike = value(0, i), rawSlab = value(1, i)
                let s0 = M.positive(rawSpike), s1 = M.positive(rawSlab)
                let p = M.clip(value(2, i), Scalar(1e-8), 1 - Scalar(1e-8))
                let xi = x[i], x2 = xi * xi
                let f0 = Scalar.exponential(-x2 / (2 * s0 * s0)) / s0, f1 = Scalar.exponential(-x2 / (2 * s1 * s1)) / s1
                let mixture = p.value * f0 + (1 - p.value) * f1 + eps
                sum += Double(-Scalar.logarithm(mixture))
                if let g = gradient { g[i] += c * (p.value * f0 * xi / (s0 * s0) + (1 - p.value) * f1 * xi / (s1 * s1)) / mixture }
                if wantsHyper {
                    addHyper(0, i, -p.value * f0 * (x2 / (s0 * s0 * s0) - 1 / s0) / mixture * M.positiveDerivative(rawSpike))
                    addHyper(1, i, -(1 - p.value) * f1 * (x2 / (s1 * s1 * s1) - 1 / s1) / mixture * M.positiveDerivative(rawSlab))
                    addHyper(2, i, -(f0 - f1) / mixture * p.dx)
                }
            }
        default:
            preconditionFailure("\(kind) is not an elementwise prior")
        }
        return Double(scale) * Double(weight) * sum
    }
}
