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
            // In chunks of three loops each, so that LLVM vectorises the divisions (divps): one loop for the
            // moments, one for the square roots (Glibc's sqrtf may set errno, which keeps any loop calling it
            // scalar, so it gets a loop of its own), one for W. The l1Shrink test is outside the loops. Each value
            // goes through exactly the scalar operations in the same order, so W is bit-for-bit what it was; the
            // fully scalar loop was the largest single cost of a step at 256×1.
            let count = w.count
            m.withUnsafeMutableBufferPointer { m in
                v.withUnsafeMutableBufferPointer { v in
                    guard count > 0, let mp = m.baseAddress, let vp = v.baseAddress, let wp = w.baseAddress,
                          let gp = g.baseAddress else { return }
                    let chunk = 256
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: chunk) { scratch in
                        let denominator = scratch.baseAddress!
                        var first = 0
                        while first < count {
                            let n = min(chunk, count - first)
                            let m = mp + first, v = vp + first, g = gp + first, w = wp + first
                            for i in 0..<n {
                                let gi = g[i]
                                let mi = b1 * m[i] + oneMinusB1 * gi
                                let vi = b2 * v[i] + oneMinusB2 * (gi * gi)
                                m[i] = mi
                                v[i] = vi
                                denominator[i] = vi / c2
                            }
                            for i in 0..<n { denominator[i] = denominator[i].squareRoot() + eps }
                            if l1Shrink > 0 {
                                let shrink = lr * l1Shrink
                                for i in 0..<n {
                                    let stepped = w[i] - lr * (m[i] / c1) / denominator[i]
                                    w[i] = OptimizerState.softThreshold(stepped, shrink / denominator[i])
                                }
                            } else {
                                for i in 0..<n { w[i] = w[i] - lr * (m[i] / c1) / denominator[i] }
                            }
                            first += n
                        }
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
        // Selects, not branches, so the loops that call it vectorise.
        x > tau ? x - tau : (x < -tau ? x + tau : 0)
    }
}
