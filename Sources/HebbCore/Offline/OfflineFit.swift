import HebbianRegression

/// `hebbd fit`: a model trained offline exactly as the daemon trains it on the same rows streamed to it
/// (`hebbd feed --passes P`): the passes form one stream of rows, in order; every `batch_size` rows of it make
/// one update of `epochs` steps, a block running on across the end of one pass into the next as the daemon's
/// batch buffer does; the last `(passes × rows) mod batch_size` rows are never learned from — the daemon
/// would hold them in its batch buffer (`status` → `buffered`) until more rows arrive.
package struct OfflineFit {
    /// The result.
    package struct Result: Sendable {
        /// The model's name.
        package var model: String
        /// Optimiser steps taken.
        package var steps: Int
        /// Mini-batch updates (blocks).
        package var updates: Int
        /// Rows left in the batch buffer at the end, not learned from (the daemon's partial batch; 0 if
        /// batch_size divides passes × rows).
        package var bufferedRows: Int
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
        /// What the model would publish as its uncertainty (`kind = "bayesian"`, or `uncertainty = true`): the
        /// posterior, or the relaxed refit at the coefficients; nil without, or when the refit cannot be formed.
        package var uncertainty: CoefficientUncertainty? = nil
    }

    /// Trains a fresh model (a circuit, or the Bayesian regression of `kind = "bayesian"`) of `model` on `passes`
    /// passes over `table`. A bayesian model's rows are widened from the table's float32, as the daemon widens a
    /// float32 ingest frame; its `loss` is ½Σe² of each batch at the posterior before it.
    package static func run(model: ModelConfiguration, table: SampleTable, passes: Int) throws(CircuitError) -> Result {
        let d = model.circuit.dictDim, s = model.circuit.sysDim, batch = model.batchSize
        var losses: [Double] = []
        var priors: [Double] = []
        if model.isBayesian {
            let bayesian = try BayesianRegression(model.bayesianConfiguration)
            let (updates, buffered) = try stream(table, passes: passes, batch: batch, d: d, s: s) { (x, y) throws(CircuitError) in
                let report = try bayesian.update(x: x, y: y, rows: batch)
                losses.append(report.loss)
                return report
            }
            let posterior = try? bayesian.uncertainty()
            let coefficients = (posterior?.coefficients ?? []).map { Float($0) }
            return Result(model: model.name, steps: losses.count, updates: updates, bufferedRows: buffered, loss: losses, prior: [],
                          weights: coefficients, coefficients: coefficients, intercept: (posterior?.intercept ?? []).map { Float($0) },
                          standardized: model.circuit.standardize, nonzero: coefficients.reduce(0) { $0 + ($1 != 0 ? 1 : 0) },
                          uncertainty: posterior)
        }
        let circuit = try HebbianCircuit(model.circuit)
        var statistics = model.uncertainty
            ? CircuitUncertainty(dictDim: d, sysDim: s, smoothing: model.smoothing, level: model.uncertaintyLevel) : nil
        let (updates, buffered) = try stream(table, passes: passes, batch: batch, d: d, s: s) { (x, y) throws(CircuitError) in
            let report = try circuit.update(x: x, y: y, rows: batch) { losses.append($0) }
            if circuit.prior != nil { priors.append(report.prior) }
            if !report.diverged { statistics?.add(x: x, y: y, rows: batch) }
            return report
        }
        var coefficients = [Float](repeating: 0, count: circuit.weights.count), intercept = [Float](repeating: 0, count: s)
        let nonzero = coefficients.withUnsafeMutableBufferPointer { w in
            intercept.withUnsafeMutableBufferPointer { b in circuit.coefficients(into: w, intercept: b) }
        }
        return Result(model: model.name, steps: losses.count, updates: updates, bufferedRows: buffered,
                      loss: losses, prior: priors, weights: circuit.weights, coefficients: coefficients, intercept: intercept,
                      standardized: model.circuit.standardize, nonzero: nonzero,
                      uncertainty: try? statistics?.uncertainty(of: circuit))
    }

    /// The passes as one stream of blocks of `batch` rows, each handed to `learn` (see the type's comment);
    /// returns the blocks learnt and the rows left buffered.
    private static func stream(_ table: SampleTable, passes: Int, batch: Int, d: Int, s: Int,
                               learn: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) throws(CircuitError) -> UpdateReport)
        throws(CircuitError) -> (updates: Int, buffered: Int) {
        let streamRows = table.rows * max(passes, 1)
        // A block that runs across the end of a pass is gathered here, as the daemon gathers it in its batch buffer.
        var blockX = [Float](), blockY = [Float]()
        var start = 0
        while start + batch <= streamRows {
            let first = start % table.rows
            if first + batch <= table.rows {
                _ = try table.x.withUnsafeBufferPointer { x throws(CircuitError) in
                    try table.y.withUnsafeBufferPointer { y throws(CircuitError) in
                        try learn(UnsafeBufferPointer(rebasing: x[(first * d)..<((first + batch) * d)]),
                                  UnsafeBufferPointer(rebasing: y[(first * s)..<((first + batch) * s)]))
                    }
                }
            } else {
                blockX.removeAll(keepingCapacity: true)
                blockY.removeAll(keepingCapacity: true)
                for row in (start..<(start + batch)).lazy.map({ $0 % table.rows }) {
                    blockX += table.x[(row * d)..<((row + 1) * d)]
                    blockY += table.y[(row * s)..<((row + 1) * s)]
                }
                _ = try blockX.withUnsafeBufferPointer { x throws(CircuitError) in
                    try blockY.withUnsafeBufferPointer { y throws(CircuitError) in try learn(x, y) }
                }
            }
            start += batch
        }
        return (start / batch, streamRows - start)
    }
}
