import Foundation
import Testing
@testable import HebbianRegression

/// Parity with ngclearn 3.2.3's `Iterative_*` modules (`Tests/Fixtures/ngclearn_sys1.json`; docs/MATH.md §9).
@Suite struct NgclearnParityTests {
    let data = Sys1.shared

    @Test(arguments: referenceRuns)
    func firstThreeStepsAndLosses(run: String) throws {
        let ref = (Fixtures.ngclearn["runs"] as! [String: Any])[run] as! [String: Any]
        let circuit = try HebbianCircuit(referenceConfiguration(run: run))
        #expect(maxAbsDiff(circuit.weights, flatFloat(ref["W_init"])) == 0)
        let afterStep = ref["W_after_step"] as! [Any]
        let losses = flat(ref["loss_per_step"])
        for k in 0..<3 {
            let loss = try circuit.step(data.x, data.y, rows: data.rows)
            // ngclearn's L is −½Σe² at W_k; we report it positive.
            #expect(abs(loss - -losses[k]) / abs(losses[k]) <= 1e-4, "\(run) loss at step \(k + 1): \(loss) vs \(-losses[k])")
            let diff = maxAbsDiff(circuit.weights, flatFloat(afterStep[k]))
            #expect(diff <= 1e-5, "\(run) W after step \(k + 1) differs by \(diff)")
            if k == 0, circuit.optimizer.kind == .adam {
                let opt = ref["opt_state_after_step_1"] as! [String: Any]
                #expect(maxAbsDiff(circuit.optimizer.m, flatFloat(opt["m"])) <= 1e-4)
                let v = flatFloat(opt["v"])
                #expect(maxAbsDiff(circuit.optimizer.v, v) <= 1e-5 * v.map(abs).max()!)
            }
        }
        #expect(circuit.optimizer.t == 3)
    }

    @Test(arguments: referenceRuns)
    func fiveHundredSteps(run: String) throws {
        let ref = (Fixtures.ngclearn["runs"] as! [String: Any])[run] as! [String: Any]
        let config = referenceConfiguration(run: run)
        let circuit = try HebbianCircuit(config)
        var losses: [Double] = []
        for _ in 0..<500 { losses.append(try circuit.step(data.x, data.y, rows: data.rows)) }
        let refLosses = flat(ref["loss_per_step"])
        let worstEarly = (0..<100).map { abs(losses[$0] + refLosses[$0]) / abs(refLosses[$0]) }.max()!
        #expect(worstEarly <= 1e-3, "\(run): per-step loss of the first 100 steps deviates by \(worstEarly) relative")
        let final = flatFloat(ref["W_final"])
        let hasL1 = config.kind != .ridge
        if config.optimizer == .sgd || !hasL1 {
            let diff = maxAbsDiff(circuit.weights, final)
            #expect(diff <= 1e-4, "\(run): final W differs by \(diff)")
        } else {
            // Adam with an L1 subgradient chatters around zero; float32 sign flips differ, the support does not.
            let support = { (w: [Float]) in w.indices.filter { abs(w[$0]) >= config.threshold } }
            #expect(support(circuit.weights) == support(final), "\(run): support at threshold \(config.threshold)")
        }
        // Published coefficients are ngclearn's thresholding() without its ×scale quirk and without touching W.
        let kept = flatFloat((ref["thresholding"] as! [String: Any])["W_after_thresholding"])
        let before = circuit.weights
        let published = circuit.coefficients
        #expect(circuit.weights == before)
        for i in published.indices {
            #expect((published[i] == 0) == (kept[i] == 0), "\(run): coefficient \(i) zeroed differently")
            if config.optimizer == .sgd { #expect(abs(published[i] - kept[i]) <= 1e-4) }
        }
        if config.optimizer == .adam {
            let opt = ref["opt_state_final"] as! [String: Any]
            #expect(circuit.optimizer.t == Float(opt["t"] as! Double))
        }
    }

    /// ngclearn's `fit` on consecutive blocks of 50 rows, 3 passes (`runs_minibatch_repeated_fit`),
    /// driven through `update` so that counters and the prequential loss are checked too.
    @Test(arguments: referenceRuns)
    func miniBatchRepeatedFit(run: String) throws {
        let ref = (Fixtures.ngclearn["runs_minibatch_repeated_fit"] as! [String: Any])[run] as! [String: Any]
        let batch = ref["batch_size"] as! Int, passes = ref["passes"] as! Int
        var config = referenceConfiguration(run: run)
        config.epochs = ref["epochs_per_fit_call"] as! Int
        let circuit = try HebbianCircuit(config)
        let afterStep = ref["W_after_step"] as! [Any]
        let refLosses = flat(ref["loss_per_step"])
        var step = 0
        for _ in 0..<passes {
            for start in stride(from: 0, to: data.rows, by: batch) {
                let block = data.rows(start..<(start + batch))
                let report = try circuit.update(block.x, block.y, rows: batch)
                #expect(abs(report.loss + refLosses[step]) / abs(refLosses[step]) <= 1e-4, "\(run) step \(step + 1) loss")
                #expect(abs(report.mse - 2 * report.loss / Double(batch)) < 1e-9)
                if step < 3 {
                    #expect(maxAbsDiff(circuit.weights, flatFloat(afterStep[step])) <= 1e-5, "\(run) W after step \(step + 1)")
                }
                step += 1
            }
        }
        #expect(circuit.updates == passes * data.rows / batch)
        #expect(circuit.samples == passes * data.rows)
        #expect(maxAbsDiff(circuit.weights, flatFloat(ref["W_final"])) <= 1e-4, "\(run) W_final")
        if config.optimizer == .adam {
            let opt = ref["opt_state_final"] as! [String: Any]
            #expect(circuit.optimizer.t == Float(opt["t"] as! Double))
            let m = flatFloat(opt["m"])
            let scale = m.map(abs).max()!
            #expect(maxAbsDiff(circuit.optimizer.m, m) <= 1e-4 * max(scale, 1))
        }
    }

    /// The hand-checkable example of docs/MATH.md §9.
    @Test func handExample() throws {
        let x: [Float] = [1, 2, 3, -4, 0.5, 1], y: [Float] = [1, 2, -1]
        let expectations: [(RegressionKind, OptimizerKind, Float, [Float])] = [
            (.lasso, .sgd, 0.5, [0.109625, -0.03075]),
            (.ridge, .sgd, 0.5, [0.114375, -0.026]),
            (.elasticNet, .sgd, 0.3, [0.1130375, -0.0273375]),
            (.lasso, .adam, 0.5, [0.0599999, 0.0400001]),
            (.ridge, .adam, 0.5, [0.0599999, 0.0400001]),
            (.elasticNet, .adam, 0.3, [0.0599999, 0.0400001]),
        ]
        for (kind, optimizer, ratio, expected) in expectations {
            var c = CircuitConfiguration(kind: kind, dictDim: 2, sysDim: 1)
            c.optimizer = optimizer
            c.lmbda = 0.5
            c.l1Ratio = ratio
            let circuit = try HebbianCircuit(c)
            let loss = try circuit.step(x, y, rows: 3)
            #expect(abs(loss - 3.0403125) < 1e-6)
            #expect(maxAbsDiff(circuit.weights, expected) < 1e-6, "\(kind) \(optimizer): \(circuit.weights)")
        }
    }

    /// `prune = true` writes the thresholded zeros back into W (unscaled) and keeps learning from there.
    @Test func pruneWritesZerosBack() throws {
        var c = referenceConfiguration(run: "lasso_sgd")
        c.prune = true
        let circuit = try HebbianCircuit(c)
        for _ in 0..<200 { try circuit.update(data.x, data.y, rows: data.rows) }
        let w = circuit.weights
        #expect(w.allSatisfy { $0 == 0 || abs($0) >= c.threshold })
        #expect(w.filter { $0 == 0 }.count >= 10, "off-support coefficients should be pruned to exact zeros")
        #expect(circuit.coefficients == w)
    }

    /// Multi-output: the objective is separable over output columns, so a sys_dim = 2 circuit on
    /// [Y, −Y] learns exactly what two sys_dim = 1 circuits learn on Y and on −Y.
    @Test(arguments: [OptimizerKind.adam, .sgd])
    func multiOutputIsSeparable(optimizer: OptimizerKind) throws {
        let single = referenceConfiguration(run: "elastic_net_\(optimizer.rawValue)")
        var double = single
        double.sysDim = 2
        let a = try HebbianCircuit(single), aNegated = try HebbianCircuit(single)
        let b = try HebbianCircuit(double)
        let negated = data.y.map { -$0 }
        var y2: [Float] = []
        for v in data.y { y2 += [v, -v] }
        for _ in 0..<50 {
            let ra = try a.update(data.x, data.y, rows: data.rows)
            let rn = try aNegated.update(data.x, negated, rows: data.rows)
            let rb = try b.update(data.x, y2, rows: data.rows)
            #expect(abs(rb.loss - (ra.loss + rn.loss)) <= 1e-4 * rb.loss)
            #expect(abs(rb.penalty - (ra.penalty + rn.penalty)) <= 1e-4 * max(rb.penalty, 1e-6))
        }
        let col0 = stride(from: 0, to: b.weights.count, by: 2).map { b.weights[$0] }
        let col1 = stride(from: 1, to: b.weights.count, by: 2).map { b.weights[$0] }
        #expect(maxAbsDiff(col0, a.weights) <= 1e-5)
        #expect(maxAbsDiff(col1, aNegated.weights) <= 1e-5)
    }
}
