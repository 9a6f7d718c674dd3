import Testing
@testable import HebbianRegression

/// The circuit with every kind of prior: the step order (gradient, hyper-parameter fit at the same W, optimiser
/// step, proximal step), the reported prior term, and exact zeros from the proximal operators.
@Suite struct CircuitPriorTests {
    /// rows × 6 features, 3 outputs: y = x·W_true with only rows 0 and 3 of W_true nonzero, plus small noise.
    static func groupSparseBatch(rows: Int, using generator: inout SeededGenerator) -> (x: [Float], y: [Float]) {
        let truth: [[Float]] = [[1.5, -1, 0.5], [0, 0, 0], [0, 0, 0], [-2, 1, 1], [0, 0, 0], [0, 0, 0]]
        var x: [Float] = [], y: [Float] = []
        for _ in 0..<rows {
            let row = (0..<6).map { _ in Float(generator.nextGaussian()) }
            x += row
            for k in 0..<3 { y.append((0..<6).reduce(0) { $0 + row[$1] * truth[$1][k] } + 0.01 * Float(generator.nextGaussian())) }
        }
        return (x, y)
    }

    static func update(_ circuit: HebbianCircuit, _ batch: (x: [Float], y: [Float]), rows: Int) throws -> UpdateReport {
        try batch.x.withUnsafeBufferPointer { x in try batch.y.withUnsafeBufferPointer { y in try circuit.update(x: x, y: y, rows: rows) } }
    }

    @Test(arguments: [OptimizerKind.sgd, .adam])
    func groupLassoProximalZeroesWholeRows(optimizer: OptimizerKind) throws {
        var c = CircuitConfiguration(kind: .ridge, dictDim: 6, sysDim: 3)
        c.lmbda = 0
        c.optimizer = optimizer
        c.learningRate = optimizer == .sgd ? 0.005 : 0.02
        c.update = .proximal
        c.prior = PriorConfiguration(kind: .groupLasso, arguments: [.weight: .numbers([5]), .groupSize: .integer(3)])
        let circuit = try HebbianCircuit(c)
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<400 { _ = try Self.update(circuit, Self.groupSparseBatch(rows: 50, using: &generator), rows: 50) }
        let w = circuit.weights
        for row in [1, 2, 4, 5] { #expect(w[(3 * row)..<(3 * row + 3)].allSatisfy { $0 == 0 }, "row \(row): \(w[(3 * row)..<(3 * row + 3)])") }
        for row in [0, 3] { #expect(w[(3 * row)..<(3 * row + 3)].allSatisfy { $0 != 0 }, "row \(row)") }
        // The kept rows are shrunk toward 0 by the penalty (more in Adam's metric), not beyond.
        let tolerance: Float = optimizer == .sgd ? 0.1 : 0.5
        #expect(abs(w[0] - 1.5) < tolerance && abs(w[9] + 2) < tolerance, "\(w)")
    }

    /// With the hebbian update the same prior is a subgradient: no exact zeros, as brainstate.
    @Test func groupLassoHebbianHasNoExactZeros() throws {
        var c = CircuitConfiguration(kind: .ridge, dictDim: 6, sysDim: 3)
        c.lmbda = 0
        c.optimizer = .sgd
        c.learningRate = 0.005
        c.prior = PriorConfiguration(kind: .groupLasso, arguments: [.weight: .numbers([5]), .groupSize: .integer(3)])
        let circuit = try HebbianCircuit(c)
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<100 { _ = try Self.update(circuit, Self.groupSparseBatch(rows: 50, using: &generator), rows: 50) }
        #expect(circuit.weights.filter { $0 == 0 }.count < 3)
    }

    /// One SGD step is W − η(G_data + ∂prior(W)), the hyper-parameters step from the same W, and the reported
    /// prior term is the loss at W before the step — for a heavy-tailed, a positive-support and a matrix prior and a chain.
    @Test(arguments: [
        PriorConfiguration(kind: .studentT, arguments: [.df: .numbers([4]), .scale: .numbers([0.5]), .fitHyper: .flag(true)]),
        PriorConfiguration(kind: .gamma, arguments: [.alpha: .numbers([2.5]), .weight: .numbers([0.3]), .fitHyper: .flag(true)]),
        PriorConfiguration(kind: .orthogonal, arguments: [.weight: .numbers([0.2])]),
        .chain([PriorConfiguration(kind: .l1, arguments: [.weight: .numbers([0.1])]), PriorConfiguration(kind: .l2, arguments: [.weight: .numbers([0.4])])]),
    ])
    func oneStepIsDataGradientPlusPriorGradient(prior configuration: PriorConfiguration) throws {
        var c = CircuitConfiguration(kind: .ridge, dictDim: 3, sysDim: 2)
        c.lmbda = 0
        c.optimizer = .sgd
        c.learningRate = 0.01
        c.weightFill = 0.3
        c.prior = configuration
        let circuit = try HebbianCircuit(c)
        var prior = try configuration.makePrior(dictDim: 3, sysDim: 2, optimizer: .sgd)
        let x: [Float] = [1, 2, 0.5, -1, 0, 1], y: [Float] = [1, 0, 2, 1]
        let w0 = circuit.weights
        let report = try Self.update(circuit, (x, y), rows: 2)
        // G = −Xᵀ(Y − XW) + ∂prior.
        var g = [Float](repeating: 0, count: 6)
        for k in 0..<2 {
            let e = (0..<2).map { r in y[r * 2 + k] - (0..<3).reduce(Float(0)) { $0 + x[r * 3 + $1] * w0[$1 * 2 + k] } }
            for j in 0..<3 { g[j * 2 + k] = -(x[j] * e[0] + x[3 + j] * e[1]) }
        }
        w0.withUnsafeBufferPointer { w in
            g.withUnsafeMutableBufferPointer { prior.accumulateGradient(of: w, into: $0) }
            #expect(report.prior == prior.loss(of: w))
            prior.fitHyperParameters(at: w, learningRate: 0.01)
        }
        let expected = (0..<6).map { w0[$0] - 0.01 * g[$0] }
        for i in 0..<6 { #expect(abs(circuit.weights[i] - expected[i]) <= 1e-6 * max(1, abs(expected[i])), "w[\(i)]") }
        #expect(circuit.prior == prior)
        if configuration.fitHyper { #expect(circuit.prior!.hyperParameters.contains { $0.trainable && $0.optimizer.t == 1 }) }
    }

    /// `init = "prior_sample"` draws from the prior's sample_init, `prior_mean` is its reset_value, and `reset`
    /// returns there.
    @Test func initialWeightsComeFromThePrior() throws {
        var c = CircuitConfiguration(kind: .lasso, dictDim: 4, sysDim: 2)
        c.prior = PriorConfiguration(kind: .logNormal, arguments: [.mu: .numbers([0.5]), .sigma: .numbers([0.2])])
        c.initialization = .priorMean
        let circuit = try HebbianCircuit(c)
        let prior = try c.prior!.makePrior(dictDim: 4, sysDim: 2, optimizer: .adam)
        #expect(circuit.weights == prior.resetValue(count: 8))
        c.initialization = .priorSample
        c.seed = 5
        var generator = SeededGenerator(seed: 5)
        #expect(try HebbianCircuit(c).weights == prior.sampleInit(count: 8, using: &generator))
        _ = try Self.update(circuit, ([Float](repeating: 1, count: 4), [1, 2]), rows: 1)
        #expect(circuit.weights != prior.resetValue(count: 8))
        circuit.reset()
        #expect(circuit.weights == prior.resetValue(count: 8))
    }
}
