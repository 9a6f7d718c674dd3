import Testing
@testable import HebbianRegression

/// `HebbianCircuit.updateRefusingNonFinite`: the update on a batch nobody checked, whose step is its only pass over X.
/// A NaN or ±Inf anywhere in X or Y leaves the circuit exactly as it was (not even `diverged` set); a finite batch is
/// learnt bit for bit as `update` learns it. On every instruction set, with and without standardisation, an
/// intercept, several epochs, a prior, and on the OpenBLAS path.
@Suite(.serialized) struct NonFiniteInputTests {
    /// (dict_dim, sys_dim): the kernels' s = 1 and s = 16·V shapes (s = 32 goes to OpenBLAS without AVX-512, so both
    /// paths are checked there on such a CPU), and one they do not take (OpenBLAS).
    static let shapes = [(6, 1), (5, 16), (3, 32), (4, 5)]

    static func configurations(dictDim: Int, sysDim: Int) -> [CircuitConfiguration] {
        var plain = CircuitConfiguration(kind: .lasso, dictDim: dictDim, sysDim: sysDim)
        plain.optimizer = .sgd
        var rich = CircuitConfiguration(kind: .elasticNet, dictDim: dictDim, sysDim: sysDim)
        rich.standardize = true
        rich.intercept = true
        rich.epochs = 2
        var prior = CircuitConfiguration(kind: .ridge, dictDim: dictDim, sysDim: sysDim)
        prior.prior = PriorConfiguration(kind: .groupLasso, arguments: [.weight: .numbers([5]), .groupSize: .integer(1)])
        return [plain, rich, prior]
    }

    static func update(_ c: HebbianCircuit, x: [Float], y: [Float], rows: Int) throws -> UpdateReport? {
        try x.withUnsafeBufferPointer { x in try y.withUnsafeBufferPointer { y in try c.updateRefusingNonFinite(x: x, y: y, rows: rows) } }
    }

    @Test(arguments: shapes)
    func aNonFiniteValueAnywhereChangesNothing(shape: (Int, Int)) throws {
        let (d, s) = shape, rows = 7
        try StepKernelTests.onEveryInstructionSet { isa in
            for configuration in Self.configurations(dictDim: d, sysDim: s) {
                let circuit = try HebbianCircuit(configuration)
                // A few finite batches first, so that W, the moments and the statistics are not at their start.
                for seed in 0..<3 {
                    let report = try Self.update(circuit, x: StepKernelTests.gaussian(rows * d, seed: UInt64(20 + seed)),
                                                 y: StepKernelTests.gaussian(rows * s, seed: UInt64(30 + seed)), rows: rows)
                    #expect(report != nil && report?.diverged == false)
                }
                let before = circuit.state
                let x = StepKernelTests.gaussian(rows * d, seed: 40), y = StepKernelTests.gaussian(rows * s, seed: 41)
                for bad: Float in [.nan, .infinity, -.infinity] {
                    for (inX, position) in [(true, 0), (true, rows * d / 2 + 1), (true, rows * d - 1), (false, 0), (false, rows * s - 1)] {
                        var xb = x, yb = y
                        if inX { xb[position] = bad } else { yb[position] = bad }
                        let report = try Self.update(circuit, x: xb, y: yb, rows: rows)
                        let place = "\(isa) \(d)×\(s) standardize \(configuration.standardize): \(bad) in \(inX ? "x" : "y")[\(position)]"
                        #expect(report == nil, "\(place)")
                        #expect(circuit.state == before, "\(place)")
                        #expect(!circuit.diverged, "\(place)")
                    }
                }
            }
        }
    }

    @Test(arguments: shapes)
    func aFiniteBatchIsLearntAsUpdateLearnsIt(shape: (Int, Int)) throws {
        let (d, s) = shape, rows = 9
        // The two circuits must take the same path: no other test may switch the instruction set in between.
        try KernelConfigurationLock.held {
            for configuration in Self.configurations(dictDim: d, sysDim: s) {
                let checked = try HebbianCircuit(configuration), unchecked = try HebbianCircuit(configuration)
                for seed in 0..<4 {
                    let x = StepKernelTests.gaussian(rows * d, seed: UInt64(50 + seed)), y = StepKernelTests.gaussian(rows * s, seed: UInt64(60 + seed))
                    let expected = try x.withUnsafeBufferPointer { x in try y.withUnsafeBufferPointer { y in try checked.update(x: x, y: y, rows: rows) } }
                    #expect(try Self.update(unchecked, x: x, y: y, rows: rows) == expected)
                }
                #expect(unchecked.state == checked.state)
                #expect(unchecked.weights.map(\.bitPattern) == checked.weights.map(\.bitPattern))
            }
        }
    }

    /// A finite batch that diverges is still a divergence (reported, flagged), not a refused input.
    @Test func aDivergenceOnFiniteInputIsStillReported() throws {
        var c = CircuitConfiguration(kind: .ridge, dictDim: 3)
        c.optimizer = .sgd
        c.learningRate = 1e30
        let circuit = try HebbianCircuit(c)
        let before = circuit.state
        let x = StepKernelTests.gaussian(24, seed: 70, scale: 1e18), y = StepKernelTests.gaussian(8, seed: 71)
        let report = try Self.update(circuit, x: x, y: y, rows: 8)
        #expect(report?.diverged == true)
        #expect(circuit.diverged)
        #expect(circuit.state == before)
    }
}
