import CHebbKernels

/// The sparsity / shrinkage penalty of a circuit, with ngclearn's exact gradient g(W).
///
/// | kind | penalty | gradient λ·g(W) |
/// |---|---|---|
/// | lasso | λ‖W‖₁ | λ·sign(W) |
/// | ridge | (λ/2)‖W‖² | λ·W |
/// | elastic net | λr‖W‖₁ + λ(1−r)/4‖W‖² | λ·(r·sign(W) + W·(1−r)/2) |
///
/// sign(0) = 0, as in ngclearn (jnp.sign), so a pruned coefficient feels only the data gradient.
public struct Penalty: Sendable, Equatable {
    /// The regression kind.
    public var kind: RegressionKind
    /// λ.
    public var lmbda: Float
    /// r, elastic net only.
    public var l1Ratio: Float

    /// The penalty of a configuration.
    public init(kind: RegressionKind, lmbda: Float, l1Ratio: Float) {
        self.kind = kind
        self.lmbda = lmbda
        self.l1Ratio = l1Ratio
    }

    /// The coefficient of ‖W‖₁ (what the proximal update soft-thresholds with).
    public var l1Strength: Float {
        switch kind {
        case .lasso: return lmbda
        case .ridge: return 0
        case .elasticNet: return lmbda * l1Ratio
        }
    }

    /// The penalty's value at W, accumulated in Double.
    public func value(of w: UnsafeBufferPointer<Float>) -> Double {
        guard let base = w.baseAddress, !w.isEmpty else { return 0 }
        var l1 = 0.0, l2 = 0.0
        hebb_norms(base, w.count, &l1, &l2)
        let lam = Double(lmbda), r = Double(l1Ratio)
        switch kind {
        case .lasso: return lam * l1
        case .ridge: return lam / 2 * l2
        case .elasticNet: return lam * r * l1 + lam * (1 - r) / 4 * l2
        }
    }

    /// Adds the penalty's gradient to G. With `includeL1 == false` (proximal update) only the smooth L2 part.
    public func accumulateGradient(of w: UnsafeBufferPointer<Float>, into g: UnsafeMutableBufferPointer<Float>, includeL1: Bool) {
        guard let wp = w.baseAddress, let gp = g.baseAddress, !w.isEmpty else { return }
        // (scale, a, b) of g ← g + scale·(a·sign(w) + b·w): each kind's own scalar expression, bit for bit.
        switch (kind, includeL1) {
        case (.lasso, true): hebb_penalty_gradient(wp, gp, w.count, lmbda, 1, 0)
        case (.lasso, false): return
        case (.ridge, _): hebb_penalty_gradient(wp, gp, w.count, lmbda, 0, 1)
        case (.elasticNet, true): hebb_penalty_gradient(wp, gp, w.count, lmbda, l1Ratio, (1 - l1Ratio) / 2)
        case (.elasticNet, false): hebb_penalty_gradient(wp, gp, w.count, lmbda, 0, (1 - l1Ratio) / 2)
        }
    }
}
