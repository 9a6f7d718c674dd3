import Foundation
import Testing
@testable import HebbianRegression

@Suite struct CircuitStateTests {
    let data = Sys1.shared

    /// A circuit restored from a (JSON-encoded) snapshot continues bit-for-bit like one never stopped:
    /// weights, Adam moments, fitted prior hyper-parameters, generator and counters.
    @Test(arguments: [OptimizerKind.adam, .sgd])
    func snapshotRestoreContinuesBitForBit(optimizer: OptimizerKind) throws {
        var c = referenceConfiguration(run: "elastic_net_\(optimizer.rawValue)")
        c.prior = .gaussian(mean: [0.1], std: [0.7], weight: 0.05, fitHyper: true)
        c.initialization = .priorSample
        c.seed = 42
        let uninterrupted = try HebbianCircuit(c)
        let first = try HebbianCircuit(c)
        #expect(uninterrupted.weights == first.weights)
        let blocks = stride(from: 0, to: 200, by: 40).map { data.rows($0..<($0 + 40)) }
        for b in blocks.prefix(3) {
            try uninterrupted.update(b.x, b.y, rows: 40)
            try first.update(b.x, b.y, rows: 40)
        }
        let encoded = try JSONEncoder().encode(first.state)
        let resumed = try HebbianCircuit(restoring: JSONDecoder().decode(CircuitState.self, from: encoded))
        #expect(resumed.state == uninterrupted.state)
        for b in blocks.dropFirst(3) {
            let r1 = try uninterrupted.update(b.x, b.y, rows: 40)
            let r2 = try resumed.update(b.x, b.y, rows: 40)
            #expect(r1 == r2)
        }
        #expect(resumed.state == uninterrupted.state)
        #expect(resumed.weights.map(\.bitPattern) == uninterrupted.weights.map(\.bitPattern))
        #expect(resumed.updates == 5 && resumed.samples == 200)
    }

    @Test func restoringAMismatchedStateFails() throws {
        var state = try HebbianCircuit(referenceConfiguration(run: "lasso_adam")).state
        state.weights.removeLast()
        #expect(throws: CircuitError.self) { try HebbianCircuit(restoring: state) }
        var other = try HebbianCircuit(referenceConfiguration(run: "lasso_adam")).state
        other.optimizer = OptimizerState(kind: .sgd, count: 20)
        #expect(throws: CircuitError.self) { try HebbianCircuit(restoring: other) }
    }

    /// Bad shapes are refused before anything changes.
    @Test func wrongShapesLeaveTheCircuitUntouched() throws {
        let circuit = try HebbianCircuit(referenceConfiguration(run: "lasso_adam"))
        let before = circuit.state
        #expect(throws: CircuitError.shapeMismatch(what: "x", expected: 40, got: 39)) {
            try circuit.update(Array(data.x.prefix(39)), Array(data.y.prefix(2)), rows: 2)
        }
        #expect(throws: CircuitError.shapeMismatch(what: "y", expected: 2, got: 3)) {
            try circuit.update(Array(data.x.prefix(40)), Array(data.y.prefix(3)), rows: 2)
        }
        #expect(circuit.state == before)
    }

    @Test func predictIsXTimesW() throws {
        var c = CircuitConfiguration(kind: .ridge, dictDim: 2, sysDim: 2)
        c.weightFill = 0.5
        let circuit = try HebbianCircuit(c)
        let x: [Float] = [1, 2, 3, -4, 0.5, 0]
        let y = try x.withUnsafeBufferPointer { try circuit.predict(x: $0, rows: 3) }
        #expect(y == [1.5, 1.5, -0.5, -0.5, 0.25, 0.25])
        #expect(throws: CircuitError.self) { try x.withUnsafeBufferPointer { try circuit.predict(x: $0, rows: 2) } }
    }

    /// Live reconfiguration accepts hyper-parameters and refuses what would change W's meaning.
    @Test func reconfigure() throws {
        let circuit = try HebbianCircuit(referenceConfiguration(run: "lasso_adam"))
        var c = circuit.configuration
        c.learningRate = 0.5
        c.threshold = 0.2
        try circuit.reconfigure(c)
        #expect(circuit.configuration.learningRate == 0.5)
        var bad = c
        bad.dictDim = 3
        #expect(throws: CircuitError.self) { try circuit.reconfigure(bad) }
        bad = c
        bad.learningRate = -1
        #expect(throws: CircuitError.invalidParameter(name: "lr", value: "-1.0", expected: "a finite number > 0")) { try circuit.reconfigure(bad) }
        #expect(circuit.configuration == c)
    }

    @Test func validationNamesTheParameter() {
        var c = CircuitConfiguration(kind: .elasticNet, dictDim: 4)
        #expect(c.threshold == 0.05 && CircuitConfiguration(kind: .lasso, dictDim: 1).threshold == 0.001)
        c.l1Ratio = 1.5
        #expect(throws: CircuitError.invalidParameter(name: "l1_ratio", value: "1.5", expected: "a number in [0, 1]")) { try c.validate() }
        c.l1Ratio = 0.5
        c.prior = .gaussian(mean: [1, 2, 3], std: [1], weight: 1)
        #expect((try? c.validate()) == nil)
        c.prior = .gaussian(mean: [0], std: [0], weight: 1)
        #expect(throws: CircuitError.self) { try c.validate() }
        c.prior = nil
        c.initialization = .priorSample
        #expect(throws: CircuitError.self) { try c.validate() }
    }
}
