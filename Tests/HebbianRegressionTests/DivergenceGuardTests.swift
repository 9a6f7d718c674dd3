import Testing
@testable import HebbianRegression

/// An update that would make the state non-finite is rolled back whole.
@Suite struct DivergenceGuardTests {
    static func batch(rows: Int, scale: Float) -> (x: [Float], y: [Float]) {
        var g = SeededGenerator(seed: 11)
        var x: [Float] = [], y: [Float] = []
        for _ in 0..<(rows * 3) { x.append(scale * Float(g.nextGaussian())) }
        for r in 0..<rows {
            let a: Float = x[r * 3], b: Float = x[r * 3 + 1]
            y.append(a - 2 * b)
        }
        return (x, y)
    }

    static func update(_ c: HebbianCircuit, _ b: (x: [Float], y: [Float]), rows: Int) throws -> UpdateReport {
        try b.x.withUnsafeBufferPointer { x in try b.y.withUnsafeBufferPointer { y in try c.update(x: x, y: y, rows: rows) } }
    }

    @Test(arguments: [OptimizerKind.sgd, .adam])
    func aNonFiniteUpdateIsRolledBackAndASmallerRateRecovers(optimizer: OptimizerKind) throws {
        var c = CircuitConfiguration(kind: .ridge, dictDim: 3)
        c.optimizer = optimizer
        c.learningRate = optimizer == .sgd ? 1e30 : 1e38
        c.intercept = true
        let circuit = try HebbianCircuit(c)
        let small = Self.batch(rows: 8, scale: 1)
        let before = circuit.state
        // Values near float32's largest: the gradient step overflows to ±Inf / NaN.
        let report = try Self.update(circuit, Self.batch(rows: 8, scale: 1e18), rows: 8)
        #expect(report.diverged)
        #expect(circuit.diverged)
        #expect(circuit.state == before, "the rolled-back state differs")
        #expect(circuit.weights.allSatisfy(\.isFinite) && circuit.coefficients.allSatisfy(\.isFinite))
        // A smaller learning rate clears the flag and learns again.
        var smaller = c
        smaller.learningRate = 0.01
        try circuit.reconfigure(smaller)
        #expect(!circuit.diverged)
        let recovered = try Self.update(circuit, small, rows: 8)
        #expect(!recovered.diverged && circuit.updates == before.updates + 1)
    }

    @Test func resetClearsTheFlag() throws {
        var c = CircuitConfiguration(kind: .lasso, dictDim: 3)
        c.optimizer = .sgd
        c.learningRate = 1e30
        let circuit = try HebbianCircuit(c)
        #expect(try Self.update(circuit, Self.batch(rows: 4, scale: 1e18), rows: 4).diverged)
        circuit.reset()
        #expect(!circuit.diverged && circuit.updates == 0)
    }

    /// How a refused attempt is provoked: SGD with 3 epochs on rows of size 1e12 takes a finite first step and
    /// overflows in the second (so W and its moments are restored from the copy); Adam with 1 epoch on rows of
    /// size 1e20 is refused at its first step (nothing large written, the small state restored).
    struct RefusedAttempt: Sendable, CustomTestStringConvertible {
        let optimizer: OptimizerKind, epochs: Int, scale: Float
        var testDescription: String { "\(optimizer), epochs \(epochs), rows of size \(scale)" }
    }

    @Test(arguments: [RefusedAttempt(optimizer: .sgd, epochs: 3, scale: 1e12),
                      RefusedAttempt(optimizer: .adam, epochs: 1, scale: 1e20)])
    func finiteUpdatesAreUntouchedByTheGuard(attempt: RefusedAttempt) throws {
        // The guard must not change what a normal update does: two circuits learn the same finite batches, one of
        // them with a refused (rolled-back) attempt before some of them; both must end bit-identical.
        var c = CircuitConfiguration(kind: .elasticNet, dictDim: 3)
        c.learningRate = 0.05
        c.optimizer = attempt.optimizer
        c.epochs = attempt.epochs
        c.intercept = true
        let withRefusals = try HebbianCircuit(c), plain = try HebbianCircuit(c)
        let overflowing = Self.batch(rows: 8, scale: attempt.scale)
        var refusals = 0
        for i in 0..<20 {
            if i % 6 == 0 {   // before the first update, and between later ones (Adam moments, intercept, t set)
                #expect(try Self.update(withRefusals, overflowing, rows: 8).diverged)
                #expect(withRefusals.diverged)
                refusals += 1
            }
            let batch = Self.batch(rows: 5 + i % 3, scale: 1)
            #expect(try Self.update(withRefusals, batch, rows: 5 + i % 3).diverged == false)
            _ = try Self.update(plain, batch, rows: 5 + i % 3)
        }
        #expect(refusals == 4)
        #expect(withRefusals.state == plain.state, "a rolled-back attempt left a trace in the state")
        #expect(!withRefusals.diverged && withRefusals.updates == 20 && withRefusals.weights.contains { $0 != 0 })
    }

    @Test func aLaterEpochThatOverflowsUndoesTheEarlierOnes() throws {
        // One SGD step on rows of size 1e12 lands W near 1e14 (finite); the second multiplies the gradient by XᵀX
        // (~1e25) and overflows float32. With epochs = 3 the whole update is undone; with 1 it is taken.
        var c = CircuitConfiguration(kind: .ridge, dictDim: 3)
        c.optimizer = .sgd
        c.learningRate = 1e-10
        c.epochs = 3
        let circuit = try HebbianCircuit(c)
        let before = circuit.state
        let batch = Self.batch(rows: 8, scale: 1e12)
        #expect(try Self.update(circuit, batch, rows: 8).diverged)
        #expect(circuit.state == before)
        c.epochs = 1
        let single = try HebbianCircuit(c)
        #expect(try Self.update(single, batch, rows: 8).diverged == false)
        #expect(single.weights.allSatisfy(\.isFinite) && single.weights.contains { abs($0) > 1e10 })
    }

    @Test func aRefusedStepWithAFittedPriorKeepsTheHyperParameters() throws {
        var c = CircuitConfiguration(kind: .lasso, dictDim: 3)
        c.optimizer = .adam
        c.learningRate = 1e38
        c.prior = PriorConfiguration(kind: .studentT, arguments: [.df: .numbers([4]), .scale: .numbers([0.5]), .fitHyper: .flag(true)])
        let circuit = try HebbianCircuit(c)
        let before = circuit.state
        #expect(try Self.update(circuit, Self.batch(rows: 8, scale: 1e18), rows: 8).diverged)
        #expect(circuit.state == before)
    }

    @Test func aRefusedUpdateDoesNotPrune() throws {
        // prune with a threshold above every weight would zero W: a refused update must leave W as it was.
        var c = CircuitConfiguration(kind: .lasso, dictDim: 3)
        c.optimizer = .sgd
        c.learningRate = 1e30
        c.prune = true
        c.threshold = 10
        c.weightFill = 0.5
        let circuit = try HebbianCircuit(c)
        let before = circuit.state
        #expect(try Self.update(circuit, Self.batch(rows: 8, scale: 1e18), rows: 8).diverged)
        #expect(circuit.state == before && circuit.weights.allSatisfy { $0 == 0.5 })
    }
}
