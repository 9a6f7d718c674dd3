import Testing
@testable import HebbianRegression

/// `standardize` and `intercept`: learning raw-unit streams, publishing in the user's units.
@Suite struct StandardizationTests {
    /// Rows of a raw-unit system: x₀ a date ordinal near 736 389, x₁ a percentage, x₂ near zero, x₃ constant;
    /// y = x·W + b (+ noise).
    static func rawRows(_ count: Int, seed: UInt64, noise: Float = 0) -> (x: [Float], y: [Float]) {
        var g = SeededGenerator(seed: seed)
        var x: [Float] = [], y: [Float] = []
        for i in 0..<count {
            let row: [Float] = [736_389 + Float(i % 400) + Float(g.nextGaussian()), 40 + 5 * Float(g.nextGaussian()),
                                Float(g.nextGaussian()), 5]
            x += row
            y.append(zip(row, trueW).map(*).reduce(trueB, +) + noise * Float(g.nextGaussian()))
        }
        return (x, y)
    }
    static let trueW: [Float] = [0.01, -2, 0.5, 0]
    static let trueB: Float = -7300

    static func configuration(kind: RegressionKind = .ridge) -> CircuitConfiguration {
        var c = CircuitConfiguration(kind: kind, dictDim: 4)
        c.optimizer = .sgd
        c.learningRate = 0.01
        c.lmbda = 0
        c.threshold = 0
        c.standardize = true
        c.intercept = true
        c.interceptLearningRate = 0.01
        return c
    }

    static func train(_ circuit: HebbianCircuit, _ data: (x: [Float], y: [Float]), batch: Int, range: Range<Int>) throws {
        let d = circuit.configuration.dictDim
        var start = range.lowerBound
        while start + batch <= range.upperBound {
            try data.x.withUnsafeBufferPointer { x in
                try data.y.withUnsafeBufferPointer { y in
                    _ = try circuit.update(x: UnsafeBufferPointer(rebasing: x[(start * d)..<((start + batch) * d)]),
                                           y: UnsafeBufferPointer(rebasing: y[start..<(start + batch)]), rows: batch)
                }
            }
            start += batch
        }
    }

    @Test func runningMomentsMatchTwoPassStatisticsOfEveryRowSeen() {
        let data = Self.rawRows(1000, seed: 3)
        var moments = RunningMoments(columns: 4)
        var seen = 0
        for batch in [1, 7, 50, 3, 200, 739] {   // uneven batches, 1000 rows in all
            data.x.withUnsafeBufferPointer { x in
                moments.add(UnsafeBufferPointer(rebasing: x[(seen * 4)..<((seen + batch) * 4)]), rows: batch)
            }
            seen += batch
            for j in 0..<4 {
                let column = (0..<seen).map { Double(data.x[$0 * 4 + j]) }
                let mean = column.reduce(0, +) / Double(seen)
                let variance = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(seen)
                #expect(abs(moments.mean[j] - mean) <= 1e-12 * max(1, abs(mean)), "column \(j) after \(seen) rows")
                #expect(abs(moments.variance(j) - variance) <= 1e-9 * max(1, variance), "column \(j) after \(seen) rows")
            }
        }
        #expect(moments.count == 1000)
        #expect(moments.isConstant(3) && moments.scale(3) == 1)
        #expect(!moments.isConstant(0) && !moments.isConstant(2))
    }

    /// What is published is exact algebra on what was learned: predictions equal x·W + b with the published W and b,
    /// and every coefficient below the threshold (judged on the standardised W) is exactly zero.
    @Test func publishedCoefficientsAndInterceptReproduceThePredictions() throws {
        var c = Self.configuration(kind: .lasso)
        c.optimizer = .adam
        c.threshold = 0.05
        let circuit = try HebbianCircuit(c)
        let data = Self.rawRows(600, seed: 1, noise: 0.5)
        try Self.train(circuit, data, batch: 20, range: 0..<600)
        var w = [Float](repeating: 0, count: 4), b = [Float](repeating: 0, count: 1)
        let nnz = w.withUnsafeMutableBufferPointer { w in b.withUnsafeMutableBufferPointer { b in circuit.coefficients(into: w, intercept: b) } }
        #expect(nnz == w.filter { $0 != 0 }.count)
        for j in 0..<4 where abs(circuit.weights[j]) < c.threshold { #expect(w[j] == 0) }
        #expect(w[3] == 0)   // the constant column's effect is the intercept's
        let probe = Array(data.x[0..<(50 * 4)])
        let predicted = try probe.withUnsafeBufferPointer { try circuit.predict(x: $0, rows: 50, thresholded: true) }
        for r in 0..<50 {
            let byHand = (0..<4).reduce(Double(b[0])) { $0 + Double(probe[r * 4 + $1]) * Double(w[$1]) }
            #expect(abs(Double(predicted[r]) - byHand) <= 1e-3 * max(1, abs(byHand)), "row \(r)")
        }
    }

    /// Noise-free rows from a known raw-unit W and b: the published coefficients and intercept are that W and b.
    @Test func recoversTheRawUnitWeightsAndIntercept() throws {
        let circuit = try HebbianCircuit(Self.configuration())
        let data = Self.rawRows(2000, seed: 2)
        for _ in 0..<15 { try Self.train(circuit, data, batch: 25, range: 0..<2000) }
        let w = circuit.coefficients, b = circuit.publishedIntercept
        #expect(abs(w[0] - 0.01) < 2e-4)
        #expect(abs(w[1] + 2) < 2e-3 && abs(w[2] - 0.5) < 2e-3)
        #expect(w[3] == 0)
        // b is large (≈ −7300 against x₀·W₀ ≈ +7364): compare predictions at typical rows rather than b alone, and b
        // to the precision that W₀'s error allows at x₀ ≈ 7·10⁵.
        #expect(abs(b[0] - Self.trueB) < 2e-4 * 736_600)
        let probe = Array(data.x[0..<(100 * 4)])
        let predicted = try probe.withUnsafeBufferPointer { try circuit.predict(x: $0, rows: 100) }
        for r in 0..<100 { #expect(abs(predicted[r] - data.y[r]) < 0.05, "row \(r): \(predicted[r]) vs \(data.y[r])") }
        // The loss is reported in the target's units and is small once converged.
        let report = try probe.withUnsafeBufferPointer { x in
            try Array(data.y[0..<100]).withUnsafeBufferPointer { y in try circuit.update(x: x, y: y, rows: 100) }
        }
        #expect(report.mse < 1e-3)
    }

    /// Without standardisation, the same raw stream with SGD diverges (the reason for the option).
    @Test func withoutStandardizationTheRawStreamDiverges() throws {
        var c = Self.configuration()
        c.standardize = false
        let circuit = try HebbianCircuit(c)
        try Self.train(circuit, Self.rawRows(200, seed: 2), batch: 25, range: 0..<200)
        #expect(!circuit.weights.allSatisfy(\.isFinite) || circuit.weights.contains { abs($0) > 1e6 })
    }

    @Test func aConstantColumnNeitherCrashesNorPoisonsTheModel() throws {
        let circuit = try HebbianCircuit(Self.configuration(kind: .lasso))
        // Before any row: the model predicts its intercept (0), and publishes zeros.
        #expect(circuit.coefficients == [0, 0, 0, 0] && circuit.publishedIntercept == [0])
        // Every column constant for the first batch (one row repeated), then a stream where only x₃ stays constant.
        let (x, y) = Self.rawRows(400, seed: 5)
        let repeatedX = (0..<10).flatMap { _ in x[0..<4] }, repeatedY = [Float](repeating: y[0], count: 10)
        try repeatedX.withUnsafeBufferPointer { x in try repeatedY.withUnsafeBufferPointer { y in _ = try circuit.update(x: x, y: y, rows: 10) } }
        #expect(circuit.weights.allSatisfy(\.isFinite) && circuit.intercept.allSatisfy(\.isFinite))
        #expect(circuit.coefficients == [0, 0, 0, 0])
        for _ in 0..<20 { try Self.train(circuit, (x, y), batch: 40, range: 0..<400) }
        let w = circuit.coefficients
        #expect(w.allSatisfy(\.isFinite) && circuit.publishedIntercept.allSatisfy(\.isFinite))
        #expect(w[3] == 0)
        #expect(abs(w[1] + 2) < 0.01 && abs(w[2] - 0.5) < 0.01)
    }

    /// A circuit restored from its state mid-stream ends bit for bit where an uninterrupted one does.
    @Test func restoringMidStreamContinuesBitForBit() throws {
        var c = Self.configuration(kind: .elasticNet)
        c.optimizer = .adam
        let data = Self.rawRows(400, seed: 9, noise: 1)
        let uninterrupted = try HebbianCircuit(c)
        try Self.train(uninterrupted, data, batch: 16, range: 0..<400)
        let first = try HebbianCircuit(c)
        try Self.train(first, data, batch: 16, range: 0..<208)
        let resumed = try HebbianCircuit(restoring: first.state)
        try Self.train(resumed, data, batch: 16, range: 208..<400)
        #expect(resumed.state == uninterrupted.state)
        #expect(resumed.coefficients == uninterrupted.coefficients && resumed.publishedIntercept == uninterrupted.publishedIntercept)
    }

    @Test func resetClearsOrKeepsTheStatistics() throws {
        let circuit = try HebbianCircuit(Self.configuration())
        try Self.train(circuit, Self.rawRows(100, seed: 4), batch: 25, range: 0..<100)
        let moments = circuit.xMoments
        circuit.reset(keepStatistics: true)
        #expect(circuit.xMoments == moments && circuit.intercept == [0] && circuit.updates == 0)
        circuit.reset()
        #expect(circuit.xMoments?.count == 0 && circuit.yMoments?.count == 0)
    }

    @Test func theOptionsAreValidatedAndChangeWhatStateMeans() throws {
        var c = Self.configuration()
        c.interceptLearningRate = 0
        #expect(throws: CircuitError.self) { try c.validate() }
        let a = Self.configuration()
        var b = a
        b.standardize = false
        #expect(a.incompatibility(with: b) != nil)
        b = a
        b.intercept = false
        #expect(a.incompatibility(with: b) != nil)
        b = a
        b.interceptLearningRate = 0.5
        #expect(a.incompatibility(with: b) == nil)   // a hyper-parameter
    }
}
