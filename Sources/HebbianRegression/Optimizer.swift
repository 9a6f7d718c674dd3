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
            // ngclearn computes 1 − β in Python double precision before it meets float32 arrays:
            // 0.001, not float32's 1 − 0.999f = 0.00099998713 (a 1.3e-5 relative difference in v).
            let oneMinusB1 = Float(1 - 0.9 as Double), oneMinusB2 = Float(1 - 0.999 as Double)
            let c1: Float = 1 - powf(b1, t), c2: Float = 1 - powf(b2, t)
            m.withUnsafeMutableBufferPointer { m in
                v.withUnsafeMutableBufferPointer { v in
                    for i in 0..<w.count {
                        let gi = g[i]
                        m[i] = b1 * m[i] + oneMinusB1 * gi
                        v[i] = b2 * v[i] + oneMinusB2 * (gi * gi)
                        let mHat = m[i] / c1
                        let vHat = v[i] / c2
                        let denominator = vHat.squareRoot() + eps
                        let stepped = w[i] - lr * mHat / denominator
                        w[i] = l1Shrink > 0 ? OptimizerState.softThreshold(stepped, lr * l1Shrink / denominator) : stepped
                    }
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
        if x > tau { return x - tau }
        if x < -tau { return x + tau }
        return 0
    }
}
