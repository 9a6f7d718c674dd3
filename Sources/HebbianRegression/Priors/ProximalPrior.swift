#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Proximal steps for `update = "proximal"`: the non-smooth part of L1, of the elastic net (its L1
// term) and of group lasso is applied after the optimiser step as an exact shrinkage, which gives
// exact zeros, instead of a subgradient that makes the coefficients chatter around zero.

extension WeightPrior {
    /// Whether this prior (or a component of this chain) has a proximal operator.
    public var hasProximalStep: Bool {
        kind == .chain ? components.contains { $0.hasProximalStep } : kind.hasProximalOperator
    }

    /// Adds ∂loss/∂W at `x` without the terms the proximal step applies (L1, the elastic net's L1
    /// part, group lasso); every other term is added in full. Use with ``applyProximalStep(to:stepSizes:)``.
    @inlinable
    public func accumulateSmoothGradient(of x: UnsafeBufferPointer<Scalar>, into gradient: UnsafeMutableBufferPointer<Scalar>) {
        var outputs = PriorOutputs<Scalar>(gradient: gradient, smoothOnly: true)
        _ = evaluate(x, scale: 1, outputs: &outputs)
    }

    /// Applies the proximal operator of the non-smooth part in place, after the optimiser step.
    /// `stepSizes` holds one step size η for all coefficients or one per coefficient (Adam's
    /// η/(√v̂ + ε), see ``OptimizerState/stepSizes(learningRate:)``):
    /// - L1: wᵢ ← sign(wᵢ)·max(|wᵢ| − ηᵢ·weight, 0);
    /// - elastic net: the same with threshold ηᵢ·clip(alpha, 0, 1)·l1_weight;
    /// - group lasso: each group g shrinks as w_g ← w_g·max(0, 1 − η_g·weight/‖w_g‖), so a whole
    ///   group (a row of W when group_size = sys_dim) becomes exactly zero. With per-coefficient step
    ///   sizes η_g is their mean over the group (the prox in a diagonal metric has no closed form).
    /// A chain applies its components' steps in turn, scaled by its weight. Other kinds do nothing.
    @inlinable
    public func applyProximalStep(to w: UnsafeMutableBufferPointer<Scalar>, stepSizes: UnsafeBufferPointer<Scalar>) {
        applyProximalStep(to: w, stepSizes: stepSizes, scale: 1)
    }

    /// ``applyProximalStep(to:stepSizes:)`` with one step size for every coefficient.
    @inlinable
    public func applyProximalStep(to w: UnsafeMutableBufferPointer<Scalar>, stepSize: Scalar) {
        withUnsafePointer(to: stepSize) { applyProximalStep(to: w, stepSizes: UnsafeBufferPointer(start: $0, count: 1), scale: 1) }
    }

    @inlinable
    func applyProximalStep(to w: UnsafeMutableBufferPointer<Scalar>, stepSizes eta: UnsafeBufferPointer<Scalar>, scale: Scalar) {
        precondition(eta.count == 1 || eta.count == w.count, "step sizes: 1 or \(w.count) values, got \(eta.count)")
        let scalarStep = eta.count == 1
        switch kind {
        case .chain:
            for component in components { component.applyProximalStep(to: w, stepSizes: eta, scale: scale * weight) }
        case .l1:
            let strength = scale * weight
            for i in 0..<w.count { w[i] = PriorMath.softThreshold(w[i], eta[scalarStep ? 0 : i] * strength) }
        case .elasticNet:
            for i in 0..<w.count {
                let strength = scale * PriorMath.clip(value(2, i), 0, 1).value * value(0, i)
                w[i] = PriorMath.softThreshold(w[i], eta[scalarStep ? 0 : i] * strength)
            }
        case .groupLasso:
            let strength = scale * weight
            var start = 0
            while start < w.count {
                let end = min(start + groupSize, w.count)
                var squares: Scalar = 0, step: Scalar = 0
                for i in start..<end {
                    squares += w[i] * w[i]
                    step += eta[scalarStep ? 0 : i]
                }
                step /= Scalar(end - start)
                let norm = squares.squareRoot(), threshold = step * strength
                let shrink: Scalar = norm > threshold ? 1 - threshold / norm : 0
                for i in start..<end { w[i] *= shrink }
                start = end
            }
        default:
            break
        }
    }
}

extension PriorMath {
    /// sign(x)·max(|x| − τ, 0): the proximal operator of τ|x|.
    @inlinable
    public static func softThreshold<T: BinaryFloatingPoint>(_ x: T, _ tau: T) -> T {
        if x > tau { return x - tau }
        if x < -tau { return x + tau }
        return 0
    }
}

extension OptimizerState {
    /// The per-coordinate step size of the step just taken, for a proximal step in the optimiser's
    /// metric: η for SGD (one value), η/(√v̂ᵢ + ε) for Adam (one per coordinate, the same denominator
    /// ``step(weights:gradient:learningRate:l1Shrink:)`` divides by). Before any step, η.
    public func stepSizes(learningRate lr: Float) -> [Float] {
        guard kind == .adam, t > 0 else { return [lr] }
        var sizes = [Float](repeating: 0, count: v.count)
        sizes.withUnsafeMutableBufferPointer { stepSizes(learningRate: lr, into: $0) }
        return sizes
    }

    /// ``stepSizes(learningRate:)`` written into `sizes` (one per coordinate, so no allocation per step);
    /// every entry is η for SGD or before the first step.
    @inlinable
    public func stepSizes(learningRate lr: Float, into sizes: UnsafeMutableBufferPointer<Float>) {
        guard kind == .adam, t > 0 else {
            for i in sizes.indices { sizes[i] = lr }
            return
        }
        precondition(sizes.count == v.count, "step sizes: \(v.count) values, got \(sizes.count)")
        let c2: Float = 1 - powf(OptimizerState.beta2, t)
        v.withUnsafeBufferPointer { v in
            for i in 0..<v.count { sizes[i] = lr / ((v[i] / c2).squareRoot() + OptimizerState.epsilon) }
        }
    }
}
