import Testing
@testable import HebbianRegression

/// The `Standardizer` value on its own: its two mappings (raw batch → standardised space, learned W̃ and b̃ → the
/// user's W and b) agree, and it is a value the divergence guard can copy and restore.
@Suite struct StandardizerTests {
    /// For any W̃ and b̃, predicting a raw row with the user-unit W and b gives what the standardised model
    /// predicts for the standardised row, mapped back: x·W + b = μy + σy·(x̃·W̃ + b̃).
    @Test func userUnitCoefficientsPredictWhatTheStandardisedModelPredicts() {
        let d = 4, s = 2, rows = 64
        let data = StandardizationTests.rawRows(rows, seed: 11, noise: 1)
        // Two outputs with different scales: y and −3y + 50.
        let y = data.y.flatMap { [$0, -3 * $0 + 50] }
        var standardizer = Standardizer(dictDim: d, sysDim: s)
        let finite = data.x.withUnsafeBufferPointer { x in y.withUnsafeBufferPointer { y in standardizer.add(x: x, y: y, rows: rows) } }
        #expect(finite)
        data.x.withUnsafeBufferPointer { x in y.withUnsafeBufferPointer { y in standardizer.standardize(x: x, y: y, rows: rows) } }
        let learned: [Float] = [0.3, -0.2, -1.1, 0.4, 0.05, 0.7, 2.0, -9.0]   // row 3 is the constant column
        let bias: [Float] = [0.1, -0.25]
        var w = [Float](repeating: .nan, count: d * s), b = [Float](repeating: .nan, count: s)
        let nonzero = learned.withUnsafeBufferPointer { l in
            w.withUnsafeMutableBufferPointer { w in b.withUnsafeMutableBufferPointer { b in
                standardizer.userUnitCoefficients(weights: l, intercept: bias, threshold: 0.1, into: w, intercept: b)
            } }
        }
        // |w̃| < 0.1 (0.05) and the constant column's row are published as exactly 0.
        #expect(w[4] == 0 && w[6] == 0 && w[7] == 0 && nonzero == 5)
        let scale = standardizer.targetScale
        standardizer.withStandardizedBatch(rows: rows) { sx, _ in
            for r in 0..<rows {
                for k in 0..<s {
                    var raw = Double(b[k]), standardised = Double(bias[k]), magnitude = abs(Double(b[k]))
                    for j in 0..<d {
                        raw += Double(data.x[r * d + j]) * Double(w[j * s + k])
                        magnitude += abs(Double(data.x[r * d + j]) * Double(w[j * s + k]))
                        let kept = abs(learned[j * s + k]) >= 0.1 ? learned[j * s + k] : 0
                        standardised += Double(sx[r * d + j]) * Double(kept)
                    }
                    let mapped = standardizer.yMoments.mean[k] + scale[k] * standardised
                    // W and b are float32: x·W + b cancels terms of order μx·W (x₀ near 736 389), each exact to
                    // ~6e-8 of itself; a wrong mapping would be off by O(1).
                    #expect(abs(raw - mapped) <= 1e-5 * magnitude, "row \(r), output \(k): \(raw) vs \(mapped)")
                }
            }
        }
    }

    /// A copy of the statistics restores the mapping exactly (the divergence guard's rollback), and `clear` is a
    /// standardiser that has seen no row: every X column standardises to 0 and Y is only shifted by a zero mean.
    @Test func restoreAndClearGiveBackEarlierMappings() {
        let data = StandardizationTests.rawRows(20, seed: 5)
        var standardizer = Standardizer(dictDim: 4, sysDim: 1)
        func add(_ range: Range<Int>) -> Bool {
            data.x.withUnsafeBufferPointer { x in data.y.withUnsafeBufferPointer { y in
                standardizer.add(x: UnsafeBufferPointer(rebasing: x[(range.lowerBound * 4)..<(range.upperBound * 4)]),
                                 y: UnsafeBufferPointer(rebasing: y[range]), rows: range.count)
            } }
        }
        func standardised() -> [Float] {
            data.x.withUnsafeBufferPointer { x in data.y.withUnsafeBufferPointer { y in standardizer.standardize(x: x, y: y, rows: 20) } }
            return standardizer.withStandardizedBatch(rows: 20) { sx, sy in Array(sx) + Array(sy) }
        }
        #expect(add(0..<10))
        let (x, y) = (standardizer.xMoments, standardizer.yMoments)
        let before = standardised()
        #expect(add(10..<20))
        #expect(standardised() != before)
        standardizer.restore(x: x, y: y)
        #expect(standardised() == before)
        standardizer.clear()
        let cleared = standardised()
        #expect(standardizer.xMoments == RunningMoments(columns: 4) && standardizer.yMoments == RunningMoments(columns: 1))
        #expect(cleared.prefix(80).allSatisfy { $0 == 0 } && Array(cleared.suffix(20)) == data.y)
    }
}
