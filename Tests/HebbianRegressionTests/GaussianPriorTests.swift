import Foundation
import Testing
@testable import HebbianRegression

/// brainstate 0.6.0's `GaussianReg` (`Fixtures/brainstate_priors.json`; docs/MATH.md §8–9, docs/PRIORS.md).
@Suite struct GaussianPriorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let id: String, precisionName: String
        let x: [Double], mean: [Double], std: [Double], weight: Double
        let loss: Double, gradX: [Double], resetValue: [Double]
        let storedPrecision: [Double], gradMean: [Double], gradPrecision: [Double]
        var testDescription: String { "\(precisionName) \(id)" }
    }

    static func cases(_ precision: String) -> [Case] {
        let root = Fixtures.brainstate[precision] as! [String: Any]
        let inputs = root["inputs"] as! [String: Any]
        return (root["cases"] as! [[String: Any]]).filter { $0["class"] as? String == "GaussianReg" }.map { c in
            let params = c["params"] as! [String: Any]
            let fit = c["fit_hyper"] as! [String: Any]
            let stored = fit["stored"] as! [String: Any], grad = fit["grad"] as! [String: Any]
            return Case(id: c["id"] as! String, precisionName: precision, x: flat(inputs[c["x"] as! String]),
                        mean: flat(params["mean"]), std: flat(params["std"]), weight: flat(params["weight"])[0],
                        loss: flat(c["loss"])[0], gradX: flat(c["grad_x"]), resetValue: flat(c["reset_value"]),
                        storedPrecision: flat(stored["precision"]), gradMean: flat(grad["mean"]),
                        gradPrecision: flat(grad["precision"]))
        }
    }

    static func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-12) }
    static func worst(_ a: [Double], _ b: [Double]) -> Double {
        let scale = max(b.map(abs).max() ?? 0, 1e-12)
        return zip(a, b).map { abs($0 - $1) / scale }.max() ?? 0
    }

    @Test func vectorsCoverTheSettingsTheSpecNames() {
        let all = Self.cases("float64")
        #expect(all.count == 32)
        #expect(all.contains { $0.std == [0] } && all.contains { $0.std == [0.001] })
        #expect(all.contains { $0.mean.count == 6 && $0.std.count == 6 })
        #expect(all.contains { $0.weight == 0.01 })
    }

    /// float64 cases against the generic kernels in Double: ≤ 1e-9 relative.
    @Test(arguments: cases("float64"))
    func double(_ c: Case) {
        let precision = c.std.map { 1 / ($0 * $0 + 1e-8) }
        #expect(Self.worst(precision, c.storedPrecision) <= 1e-12)
        c.x.withUnsafeBufferPointer { x in
            c.mean.withUnsafeBufferPointer { m in
                precision.withUnsafeBufferPointer { p in
                    let loss = GaussianPrior.loss(x: x, mean: m, precision: p, weight: c.weight)
                    #expect(Self.relative(loss, c.loss) <= 1e-9, "loss \(loss) vs \(c.loss)")
                    var g = [Double](repeating: 0, count: x.count)
                    g.withUnsafeMutableBufferPointer { GaussianPrior.accumulateGradient(x: x, mean: m, precision: p, weight: c.weight, into: $0) }
                    #expect(Self.worst(g, c.gradX) <= 1e-9, "grad \(g) vs \(c.gradX)")
                    var gm = [Double](repeating: 0, count: m.count), gp = [Double](repeating: 0, count: p.count)
                    gm.withUnsafeMutableBufferPointer { gm in
                        gp.withUnsafeMutableBufferPointer { gp in
                            GaussianPrior.hyperGradients(x: x, mean: m, precision: p, weight: c.weight, meanGradient: gm, precisionGradient: gp)
                        }
                    }
                    #expect(Self.worst(gm, c.gradMean) <= 1e-9, "∂mean \(gm) vs \(c.gradMean)")
                    #expect(Self.worst(gp, c.gradPrecision) <= 1e-9, "∂precision \(gp) vs \(c.gradPrecision)")
                }
            }
        }
    }

    /// float32 cases through the Float prior the circuit uses: ≤ 1e-5 relative.
    @Test(arguments: cases("float32"))
    func float(_ c: Case) {
        let config = GaussianPrior.Configuration(mean: c.mean.map(Float.init), std: c.std.map(Float.init),
                                                 weight: Float(c.weight), fitHyper: false)
        let prior = GaussianPrior(config, optimizer: .sgd)
        #expect(Self.worst(prior.precision.map(Double.init), c.storedPrecision) <= 1e-6)
        let x = c.x.map(Float.init)
        x.withUnsafeBufferPointer { x in
            let loss = prior.loss(of: x)
            #expect(Self.relative(loss, c.loss) <= 1e-5, "loss \(loss) vs \(c.loss)")
            var g = [Float](repeating: 0, count: x.count)
            g.withUnsafeMutableBufferPointer { prior.accumulateGradient(of: x, into: $0) }
            #expect(Self.worst(g.map(Double.init), c.gradX) <= 1e-5, "grad \(g) vs \(c.gradX)")
        }
        let reset = prior.resetValue(count: x.count).map(Double.init)
        let expectedReset = c.resetValue.count == 1 ? Array(repeating: c.resetValue[0], count: x.count) : c.resetValue
        #expect(Self.worst(reset, expectedReset) <= 1e-7)
    }

    /// `Param(value, t=IdentityT, reg=GaussianReg(..., fit_hyper=True))`: reg_loss and all three gradients.
    @Test func parameterIntegration() throws {
        let root = Fixtures.brainstate["float64"] as! [String: Any]
        let entry = (root["param_integration"] as! [[String: Any]]).first { ($0["id"] as! String).contains("IdentityT") }!
        let stored = entry["stored_raw"] as! [String: Any], grad = entry["grad"] as! [String: Any]
        let x = flat(stored["val"]), mean = flat(stored["reg.mean"]), precision = flat(stored["reg.precision"])
        x.withUnsafeBufferPointer { x in
            mean.withUnsafeBufferPointer { m in
                precision.withUnsafeBufferPointer { p in
                    #expect(Self.relative(GaussianPrior.loss(x: x, mean: m, precision: p, weight: 0.01), flat(entry["reg_loss"])[0]) <= 1e-9)
                    var g = [Double](repeating: 0, count: 6), gm = [0.0], gp = [0.0]
                    g.withUnsafeMutableBufferPointer { GaussianPrior.accumulateGradient(x: x, mean: m, precision: p, weight: 0.01, into: $0) }
                    gm.withUnsafeMutableBufferPointer { gm in
                        gp.withUnsafeMutableBufferPointer { gp in
                            GaussianPrior.hyperGradients(x: x, mean: m, precision: p, weight: 0.01, meanGradient: gm, precisionGradient: gp)
                        }
                    }
                    #expect(Self.worst(g, flat(grad["val"])) <= 1e-9)
                    #expect(Self.relative(gm[0], flat(grad["reg.mean"])[0]) <= 1e-9)
                    #expect(Self.relative(gp[0], flat(grad["reg.precision"])[0]) <= 1e-9)
                }
            }
        }
    }

    /// `sample_init` draws N(mean, std²), reproducibly from the seed.
    @Test func sampleInitMomentsAndReproducibility() {
        let root = Fixtures.brainstate["float64"] as! [String: Any]
        let moments = (root["gaussian_sample_init_moments"] as! [String: Any])["mean=0.5,std=2.0,n=200000,seed=0"] as! [String: Any]
        let prior = GaussianPrior(.init(mean: [0.5], std: [2], weight: 1), optimizer: .adam)
        var generator = SeededGenerator(seed: 0)
        let draws = prior.sampleInit(count: 200_000, using: &generator).map(Double.init)
        let mean = draws.reduce(0, +) / Double(draws.count)
        let std = (draws.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(draws.count)).squareRoot()
        // Standard error of the mean is 2/√200000 ≈ 0.0045; brainstate's own draw is off by 0.0012.
        #expect(abs(mean - 0.5) < 0.02 && abs(mean - (moments["mean"] as! Double)) < 0.03)
        #expect(abs(std - 2) < 0.02 && abs(std - (moments["std"] as! Double)) < 0.03)
        var again = SeededGenerator(seed: 0), other = SeededGenerator(seed: 1)
        #expect(prior.sampleInit(count: 8, using: &again) == Array(draws.prefix(8)).map(Float.init))
        #expect(prior.sampleInit(count: 8, using: &other) != Array(draws.prefix(8)).map(Float.init))
    }

    /// The prior's gradient joins G before the optimiser step: with SGD, one step with a prior differs
    /// from one without by exactly −η·2c·p⊙(W₀ − μ).
    @Test func priorGradientJoinsTheStep() throws {
        let data = Sys1.shared
        var plain = referenceConfiguration(run: "ridge_sgd")
        plain.lmbda = 0
        var withPrior = plain
        let mean: [Float] = (0..<20).map { Float($0) / 10 - 1 }
        withPrior.prior = .gaussian(mean: mean, std: [0.5], weight: 0.3)
        let a = try HebbianCircuit(plain), b = try HebbianCircuit(withPrior)
        try a.step(data.x, data.y, rows: data.rows)
        try b.step(data.x, data.y, rows: data.rows)
        let p = GaussianPrior.precision(std: 0.5) + 1e-6
        for i in 0..<20 {
            let expected = -plain.learningRate * 2 * 0.3 * p * (0.05 - mean[i])
            #expect(abs((b.weights[i] - a.weights[i]) - expected) <= 2e-6, "coefficient \(i)")
        }
    }

    /// init = prior_mean starts at μ; reset returns there; the prior loss is reported separately.
    @Test func priorMeanInitResetAndReport() throws {
        let data = Sys1.shared
        var c = referenceConfiguration(run: "lasso_adam")
        let mean: [Float] = (0..<20).map { Float($0) / 20 }
        c.prior = .gaussian(mean: mean, std: [1], weight: 0.01)
        c.initialization = .priorMean
        let circuit = try HebbianCircuit(c)
        #expect(circuit.weights == mean)
        let report = try circuit.update(data.x, data.y, rows: data.rows)
        let p = Double(GaussianPrior.precision(std: 1)) + 1e-6
        // At W = μ the quadratic vanishes and the loss is −c·log p.
        #expect(abs(report.prior - (-0.01 * log(p))) < 1e-9)
        #expect(abs(report.penalty - 4 * Double(mean.reduce(0) { $0 + abs($1) })) < 1e-3)
        #expect(circuit.weights != mean)
        circuit.reset()
        #expect(circuit.weights == mean && circuit.optimizer.t == 0 && circuit.updates == 0)
    }

    /// fit_hyper: mean and precision get their own optimiser step from the prior loss at W_k.
    @Test func fitHyperMovesMeanAndPrecision() throws {
        let data = Sys1.shared
        var c = referenceConfiguration(run: "ridge_adam")
        c.prior = .gaussian(mean: [0.3], std: [2], weight: 0.5, fitHyper: true)
        let circuit = try HebbianCircuit(c)
        let w0 = circuit.weights
        try circuit.step(data.x, data.y, rows: data.rows)
        let prior = try #require(circuit.prior)
        // Adam's first step moves each parameter by ≈ lr against the sign of its gradient.
        // ∂/∂mean = −2c·p·Σ(W₀ − μ) > 0 here (W₀ = 0.05 < μ = 0.3), so the mean falls by lr.
        let p = GaussianPrior.precision(std: 2) + 1e-6
        let gMean = -2 * 0.5 * p * w0.map { $0 - 0.3 }.reduce(0, +)
        #expect(gMean > 0)
        #expect(abs(prior.hyperParameter("mean")![0] - (0.3 - 0.01)) < 1e-5)
        // ∂/∂precision = c·(Σ(W₀ − μ)² − 1/p) = 0.5·(20·0.0625 − 4) < 0, so the precision rises by lr.
        #expect(abs(prior.hyperParameter("precision")![0] - (GaussianPrior.precision(std: 2) + 0.01)) < 1e-5)
        #expect(prior.hyperParameters[0].optimizer.t == 1 && prior.hyperParameters[1].optimizer.t == 1)
    }
}
