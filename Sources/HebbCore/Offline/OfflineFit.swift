import HebbianRegression

/// `hebbd fit`: a model trained offline exactly as the daemon would train it — rows in order, blocks of
/// `batch_size`, `epochs` steps per block, for `passes` passes. A short tail block is used as it is.
package struct OfflineFit {
    /// The result.
    package struct Result: Sendable {
        /// The model's name.
        package var model: String
        /// Optimiser steps taken.
        package var steps: Int
        /// Mini-batch updates (blocks).
        package var updates: Int
        /// Rows in the short tail block of each pass (0 if batch_size divides the rows).
        package var tailRows: Int
        /// ½Σe² of each step, at the weights before it, in the target's units (the first step of a block: scored
        /// before the block's rows joined the standardisation statistics, as the daemon publishes it).
        package var loss: [Double]
        /// The prior's loss of each update, at the weights before its first step (one per step with `epochs = 1`;
        /// empty without a prior).
        package var prior: [Double]
        /// W as learned, dict_dim × sys_dim row-major (in standardised space with `standardize`).
        package var weights: [Float]
        /// The published coefficients: thresholded W in the user's units (see `HebbianCircuit.coefficients(into:intercept:)`).
        package var coefficients: [Float]
        /// The published intercept, one per output (zeros without `standardize` or `intercept`).
        package var intercept: [Float]
        /// Whether the model learned in standardised space.
        package var standardized: Bool
        /// Number of nonzero coefficients.
        package var nonzero: Int
    }

    /// Trains a fresh circuit of `model` on `table`.
    package static func run(model: ModelConfiguration, table: SampleTable, passes: Int) throws(CircuitError) -> Result {
        let circuit = try HebbianCircuit(model.circuit)
        let d = model.circuit.dictDim, s = model.circuit.sysDim, batch = model.batchSize
        var losses: [Double] = []
        var priors: [Double] = []
        var updates = 0
        for _ in 0..<max(passes, 1) {
            var start = 0
            while start < table.rows {
                let end = min(start + batch, table.rows)
                let rows = end - start
                try table.x.withUnsafeBufferPointer { x throws(CircuitError) in
                    try table.y.withUnsafeBufferPointer { y throws(CircuitError) in
                        let xb = UnsafeBufferPointer(rebasing: x[(start * d)..<(end * d)])
                        let yb = UnsafeBufferPointer(rebasing: y[(start * s)..<(end * s)])
                        let report = try circuit.update(x: xb, y: yb, rows: rows) { losses.append($0) }
                        if circuit.prior != nil { priors.append(report.prior) }
                    }
                }
                updates += 1
                start = end
            }
        }
        var coefficients = [Float](repeating: 0, count: circuit.weights.count), intercept = [Float](repeating: 0, count: s)
        let nonzero = coefficients.withUnsafeMutableBufferPointer { w in
            intercept.withUnsafeMutableBufferPointer { b in circuit.coefficients(into: w, intercept: b) }
        }
        return Result(model: model.name, steps: losses.count, updates: updates, tailRows: table.rows % batch,
                      loss: losses, prior: priors, weights: circuit.weights, coefficients: coefficients, intercept: intercept,
                      standardized: model.circuit.standardize, nonzero: nonzero)
    }
}
