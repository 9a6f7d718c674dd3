import Foundation
import Testing
@testable import HebbianRegression

/// `update = "proximal"` for priors: L1, the elastic net's L1 part and group lasso act through exact zeros.
@Suite struct ProximalPriorTests {
    static func prior(_ kind: PriorKind, _ arguments: [PriorArgument: PriorArgumentValue] = [:], rows: Int = 4, columns: Int = 3) -> WeightPrior<Float> {
        WeightPrior<Float>(PriorConfiguration(kind: kind, arguments: arguments), rows: rows, columns: columns, optimizer: .sgd)
    }

    /// The prox minimises ½(z − x)²/η + τ|z|: a brute-force search over z agrees with the closed form.
    @Test func l1ProxIsSoftThresholdingAndMinimisesItsObjective() {
        let l1 = Self.prior(.l1, [.weight: .numbers([0.4])], rows: 5, columns: 1)
        var w: [Float] = [3, -0.2, 0.05, -4, 0.2001]
        let original = w
        w.withUnsafeMutableBufferPointer { l1.applyProximalStep(to: $0, stepSize: 0.5) }
        // Threshold η·weight = 0.2.
        #expect(w[1] == 0 && w[2] == 0)
        #expect(abs(w[0] - 2.8) < 1e-6 && abs(w[3] + 3.8) < 1e-6 && abs(w[4] - 0.0001) < 1e-6)
        for (x, z) in zip(original, w) {
            func objective(_ z: Double) -> Double { 0.5 * (z - Double(x)) * (z - Double(x)) / 0.5 + 0.4 * abs(z) }
            let best = stride(from: -5.0, through: 5.0, by: 1e-4).min { objective($0) < objective($1) }!
            #expect(abs(Double(z) - best) <= 1e-4, "prox(\(x)) = \(z), grid minimum \(best)")
        }
    }

    @Test func elasticNetProxUsesItsL1PartOnly() {
        let prior = Self.prior(.elasticNet, [.l1Weight: .numbers([2]), .l2Weight: .numbers([5]), .alpha: .numbers([0.3])], rows: 3, columns: 1)
        var w: [Float] = [1, -0.05, 0.06]
        w.withUnsafeMutableBufferPointer { prior.applyProximalStep(to: $0, stepSize: 0.1) }
        // τ = η·alpha·l1_weight = 0.06; the L2 part stays in the gradient.
        #expect(abs(w[0] - 0.94) < 1e-6 && w[1] == 0 && w[2] == 0)
        let x: [Float] = [1, -0.05, 0.06]
        var smooth = [Float](repeating: 0, count: 3)
        x.withUnsafeBufferPointer { x in smooth.withUnsafeMutableBufferPointer { prior.accumulateSmoothGradient(of: x, into: $0) } }
        for i in 0..<3 { #expect(abs(smooth[i] - 2 * 0.7 * 5 * x[i]) < 1e-6) }
    }

    /// With group_size = sys_dim the groups are the rows of W: weak rows become exactly zero, the others
    /// keep their direction and lose η·weight of their norm.
    @Test func groupLassoZeroesWholeRows() {
        let prior = Self.prior(.groupLasso, [.weight: .numbers([0.5]), .groupSize: .integer(3)])
        var w: [Float] = [0.1, -0.1, 0.05,   2, 1, -2,   0, 0.1, -0.1,   -3, 0, 4]
        let original = w
        w.withUnsafeMutableBufferPointer { prior.applyProximalStep(to: $0, stepSize: 0.4) }
        func row(_ m: [Float], _ r: Int) -> [Float] { Array(m[(r * 3)..<(r * 3 + 3)]) }
        func norm(_ v: [Float]) -> Float { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        #expect(row(w, 0) == [0, 0, 0] && row(w, 2) == [0, 0, 0])
        for r in [1, 3] {
            let before = row(original, r), after = row(w, r)
            #expect(abs(norm(after) - (norm(before) - 0.2)) < 1e-5)
            for k in 0..<3 { #expect(abs(after[k] * norm(before) - before[k] * norm(after)) < 1e-5) }
        }
        // Smooth part: none (the prox applies all of it).
        var g = [Float](repeating: 0, count: 12)
        original.withUnsafeBufferPointer { x in g.withUnsafeMutableBufferPointer { prior.accumulateSmoothGradient(of: x, into: $0) } }
        #expect(g.allSatisfy { $0 == 0 })
    }

    /// Per-coordinate step sizes: L1 thresholds each coordinate by its own η, group lasso by the group's mean η.
    @Test func perCoordinateStepSizes() {
        let l1 = Self.prior(.l1, [.weight: .numbers([1])], rows: 2, columns: 1)
        var w: [Float] = [0.5, 0.5]
        let eta: [Float] = [0.6, 0.1]
        w.withUnsafeMutableBufferPointer { w in eta.withUnsafeBufferPointer { l1.applyProximalStep(to: w, stepSizes: $0) } }
        #expect(w[0] == 0 && abs(w[1] - 0.4) < 1e-6)
        let group = Self.prior(.groupLasso, [.groupSize: .integer(2)], rows: 2, columns: 2)
        var m: [Float] = [3, 4, 0.3, 0.4]
        let steps: [Float] = [1, 3, 0.5, 0.5]
        m.withUnsafeMutableBufferPointer { m in steps.withUnsafeBufferPointer { group.applyProximalStep(to: m, stepSizes: $0) } }
        // First group: ‖(3, 4)‖ = 5 shrinks by the mean step 2 → 3, i.e. ×0.6. Second: ‖·‖ = 0.5 ≤ 0.5 → zero.
        #expect(abs(m[0] - 1.8) < 1e-6 && abs(m[1] - 2.4) < 1e-6 && m[2] == 0 && m[3] == 0)
    }

    /// Adam's step sizes make the prior's prox identical to the circuit's built-in proximal L1 update.
    @Test func adamStepSizesMatchTheOptimizersOwnShrinkage() {
        let gradient: [Float] = [0.3, -2, 0.001, 5, -0.02, 0.4]
        let lambda: Float = 0.2, lr: Float = 0.05
        var builtIn = OptimizerState(kind: .adam, count: 6), separate = builtIn
        var a: [Float] = [0.01, -0.5, 0.002, 1, 0, 0.3], b = a
        let l1 = Self.prior(.l1, [.weight: .numbers([Double(lambda)])], rows: 6, columns: 1)
        for _ in 0..<3 {
            gradient.withUnsafeBufferPointer { g in
                a.withUnsafeMutableBufferPointer { builtIn.step(weights: $0, gradient: g, learningRate: lr, l1Shrink: lambda) }
                b.withUnsafeMutableBufferPointer { separate.step(weights: $0, gradient: g, learningRate: lr) }
            }
            let eta = separate.stepSizes(learningRate: lr)
            #expect(eta.count == 6)
            b.withUnsafeMutableBufferPointer { w in eta.withUnsafeBufferPointer { l1.applyProximalStep(to: w, stepSizes: $0) } }
            for i in 0..<6 { #expect(abs(a[i] - b[i]) <= 1e-6, "coordinate \(i): \(a[i]) vs \(b[i])") }
        }
        #expect(a.contains(0))
        #expect(OptimizerState(kind: .sgd, count: 6).stepSizes(learningRate: lr) == [lr])
    }

    /// Proximal gradient on ½‖w − y‖² + λ‖w‖₁ reaches the exact solution soft(y, λ) with exact zeros;
    /// the subgradient of the same prior leaves the small coefficients chattering, never at 0.
    @Test func proximalGivesExactZerosWhereTheSubgradientChatters() {
        let y: [Float] = [1.5, 0.05, -0.08, -2, 0.01, 0.3]
        let chain = WeightPrior<Float>(.chain([PriorConfiguration(kind: .l1, arguments: [.weight: .numbers([0.1])]),
                                               PriorConfiguration(kind: .l2, arguments: [.weight: .numbers([0])])]),
                                       rows: 6, columns: 1, optimizer: .sgd)
        #expect(chain.hasProximalStep && !Self.prior(.huber).hasProximalStep)
        func solve(proximal: Bool) -> [Float] {
            var w = [Float](repeating: 0.5, count: 6)
            for _ in 0..<200 {
                var g = zip(w, y).map { $0 - $1 }
                w.withUnsafeBufferPointer { x in
                    g.withUnsafeMutableBufferPointer { proximal ? chain.accumulateSmoothGradient(of: x, into: $0) : chain.accumulateGradient(of: x, into: $0) }
                }
                for i in 0..<6 { w[i] -= 0.3 * g[i] }
                if proximal { w.withUnsafeMutableBufferPointer { chain.applyProximalStep(to: $0, stepSize: 0.3) } }
            }
            return w
        }
        let proximal = solve(proximal: true), subgradient = solve(proximal: false)
        let exact = y.map { PriorMath.softThreshold($0, 0.1) }
        for i in 0..<6 { #expect(abs(proximal[i] - exact[i]) < 1e-6) }
        #expect(proximal.filter { $0 == 0 }.count == 3)
        #expect(subgradient.filter { $0 == 0 }.isEmpty)
    }
}

extension ProximalPriorTests {
    @Test func stepSizesIntoABuffer() {
        var state = OptimizerState(kind: .adam, count: 3)
        var w: [Float] = [1, 2, 3]
        let g: [Float] = [0.5, -1, 2]
        var sizes = [Float](repeating: -1, count: 3)
        sizes.withUnsafeMutableBufferPointer { state.stepSizes(learningRate: 0.1, into: $0) }
        #expect(sizes == [0.1, 0.1, 0.1])
        g.withUnsafeBufferPointer { g in w.withUnsafeMutableBufferPointer { state.step(weights: $0, gradient: g, learningRate: 0.1) } }
        sizes.withUnsafeMutableBufferPointer { state.stepSizes(learningRate: 0.1, into: $0) }
        #expect(sizes == state.stepSizes(learningRate: 0.1))
        // After one step v̂ = g² up to the optimiser's float32 bias correction (0.001 against 1 − 0.999f,
        // 6e-6 relative), so the step size is η/(|g| + ε).
        for i in 0..<3 { #expect(abs(sizes[i] - 0.1 / (abs(g[i]) + 1e-8)) <= 1e-5 * sizes[i]) }
    }
}
