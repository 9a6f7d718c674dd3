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
        var l1 = 0.0, l2 = 0.0
        for x in w {
            l1 += Double(abs(x))
            l2 += Double(x) * Double(x)
        }
        let lam = Double(lmbda), r = Double(l1Ratio)
        switch kind {
        case .lasso: return lam * l1
        case .ridge: return lam / 2 * l2
        case .elasticNet: return lam * r * l1 + lam * (1 - r) / 4 * l2
        }
    }

    /// Adds the penalty's gradient to G. With `includeL1 == false` (proximal update) only the smooth L2 part.
    @inlinable
    public func accumulateGradient(of w: UnsafeBufferPointer<Float>, into g: UnsafeMutableBufferPointer<Float>, includeL1: Bool) {
        let lam = lmbda
        switch kind {
        case .lasso:
            guard includeL1 else { return }
            for i in 0..<w.count { g[i] += lam * Penalty.sign(w[i]) }
        case .ridge:
            for i in 0..<w.count { g[i] += lam * w[i] }
        case .elasticNet:
            let r = l1Ratio, half = (1 - l1Ratio) / 2
            if includeL1 {
                for i in 0..<w.count { g[i] += lam * (r * Penalty.sign(w[i]) + w[i] * half) }
            } else {
                for i in 0..<w.count { g[i] += lam * (w[i] * half) }
            }
        }
    }

    /// jnp.sign: −1, 0 or +1.
    @inlinable
    static func sign(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }
}
