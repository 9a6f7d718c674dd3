import CHebbKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The state of an optimiser for one parameter array: Adam's moments and the step counter.
///
/// The arithmetic is float32 and in ngclearn's order (`optim/adam.py`), so a circuit reproduces
/// ngclearn's weights to float32 rounding. `t` is a Float as in ngclearn; it counts optimiser steps.
public struct OptimizerState: Sendable, Equatable, Codable {
    /// Which optimiser.
    public var kind: OptimizerKind
    /// Adam's first moment (empty for SGD).
    public var m: [Float]
    /// Adam's second moment (empty for SGD).
    public var v: [Float]
    /// Steps taken; the first step uses t = 1.
    public var t: Float

    /// Adam's β1.
    public static let beta1: Float = 0.9
    /// Adam's β2.
    public static let beta2: Float = 0.999
    /// 1 − β1 and 1 − β2 as ngclearn computes them, in Python double precision before they meet float32 arrays:
    /// 0.001, not float32's 1 − 0.999f = 0.00099998713 (a 1.3e-5 relative difference in v).
    public static let oneMinusBeta1 = Float(1 - 0.9 as Double), oneMinusBeta2 = Float(1 - 0.999 as Double)
    /// Adam's ε, added outside the square root.
    public static let epsilon: Float = 1e-8

    /// Fresh state for `count` parameters.
    public init(kind: OptimizerKind, count: Int) {
        self.kind = kind
        let moments = kind == .adam ? count : 0
        m = [Float](repeating: 0, count: moments)
        v = [Float](repeating: 0, count: moments)
        t = 0
    }

    /// Back to zero moments and t = 0.
    public mutating func reset() {
        self = OptimizerState(kind: kind, count: m.count)
    }

    /// One step W ← W − η·update(G); when `l1Shrink` > 0, then soft-thresholds W by the step's
    /// per-coordinate size times `l1Shrink` (the proximal operator of l1Shrink·‖W‖₁).
    @inlinable
    public mutating func step(
        weights w: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>,
        learningRate lr: Float, l1Shrink: Float = 0
    ) {
        t += 1
        switch kind {
        case .sgd:
            let tau = lr * l1Shrink
            for i in 0..<w.count {
                let stepped = w[i] - lr * g[i]
                w[i] = l1Shrink > 0 ? OptimizerState.softThreshold(stepped, tau) : stepped
            }
        case .adam:
            let b1 = OptimizerState.beta1, b2 = OptimizerState.beta2, eps = OptimizerState.epsilon
            let oneMinusB1 = OptimizerState.oneMinusBeta1, oneMinusB2 = OptimizerState.oneMinusBeta2
            let c1: Float = 1 - powf(b1, t), c2: Float = 1 - powf(b2, t)
            let count = w.count
            m.withUnsafeMutableBufferPointer { m in
                v.withUnsafeMutableBufferPointer { v in
                    guard count > 0, let mp = m.baseAddress, let vp = v.baseAddress, let wp = w.baseAddress,
                          let gp = g.baseAddress else { return }
                    // The vectorised loop (CHebbKernels) does exactly these scalar operations, in this order, without
                    // fused multiply-adds, so W is bit for bit what a scalar float32 loop gives.
                    hebb_adam_step(wp, mp, vp, gp, count, lr, b1, b2, oneMinusB1, oneMinusB2, c1, c2, eps, lr * l1Shrink)
                }
            }
        }
    }

    /// Whether ``step(weights:gradient:learningRate:l1Shrink:)`` with these arguments would leave W and the moments
    /// finite: the same arithmetic, nothing stored. The divergence guard asks before every step, so a refused step
    /// has written nothing and needs no copy to undo.
    public func stepIsFinite(
        weights w: UnsafeBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>, learningRate lr: Float, l1Shrink: Float = 0
    ) -> Bool {
        guard let wp = w.baseAddress, let gp = g.baseAddress, !w.isEmpty else { return true }
        switch kind {
        case .sgd:
            // A soft threshold maps finite values to finite values: only w − η·g can overflow.
            var bad: UInt32 = 0
            for i in 0..<w.count { bad |= ((wp[i] - lr * gp[i]).bitPattern & 0x7F80_0000) &+ 0x0080_0000 }
            return bad >> 31 == 0
        case .adam:
            let b1 = OptimizerState.beta1, b2 = OptimizerState.beta2, t = self.t + 1
            let c1: Float = 1 - powf(b1, t), c2: Float = 1 - powf(b2, t)
            return m.withUnsafeBufferPointer { m in
                v.withUnsafeBufferPointer { v in
                    hebb_adam_step_is_finite(wp, m.baseAddress!, v.baseAddress!, gp, w.count, lr, b1, b2, OptimizerState.oneMinusBeta1,
                                             OptimizerState.oneMinusBeta2, c1, c2, OptimizerState.epsilon) != 0
                }
            }
        }
    }

    /// Convenience over arrays, for small parameter sets (prior hyper-parameters).
    public mutating func apply(gradient: [Float], to parameters: inout [Float], learningRate: Float) {
        parameters.withUnsafeMutableBufferPointer { p in
            gradient.withUnsafeBufferPointer { g in step(weights: p, gradient: g, learningRate: learningRate) }
        }
    }

    /// sign(x)·max(|x| − τ, 0).
    @inlinable
    static func softThreshold(_ x: Float, _ tau: Float) -> Float {
        // Selects, not branches, so the loops that call it vectorise.
        x > tau ? x - tau : (x < -tau ? x + tau : 0)
    }
}
