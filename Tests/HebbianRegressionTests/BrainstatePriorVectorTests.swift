import Foundation
import Testing
@testable import HebbianRegression

/// Every case of brainstate 0.6.0's reference vectors against `WeightPrior`: float64 cases through the
/// kernels in Double (≤ 1e-9 relative), float32 cases through the Float prior the circuit uses (≤ 1e-5).
@Suite struct BrainstatePriorVectorTests {
    /// What one comparison found; collected so a test reports every mismatch and counts the cases.
    struct Check {
        var failures: [String] = []
        mutating func expect(_ error: Double, _ tolerance: Double, _ what: @autoclosure () -> String) {
            if !(error <= tolerance) { failures.append("\(what()): error \(error)") }
        }
    }

    /// Checks one case with `Scalar` kernels; returns the mismatches.
    static func check<Scalar: PriorFloatingPoint>(_ c: PriorFixtures.Case, as _: Scalar.Type, tolerance: Double,
                                                  reference: PriorFixtures.Case? = nil) -> [String] {
        var check = Check()
        var configuration = c.configuration
        // Train what brainstate makes trainable, so the optimiser states are built as in a fitted prior.
        if !c.hyperGradients.isEmpty { configuration.arguments[.fitHyper] = .flag(true) }
        let prior = WeightPrior<Scalar>(configuration, rows: c.rows, columns: c.columns, optimizer: .adam)
        let x = c.x.map { Scalar($0) }
        let finiteReference = c.loss.isFinite && c.gradX.allSatisfy(\.isFinite)
        // brainstate's float32 BetaReg is +inf / NaN at x ≥ 1 (1 − 1e-8 rounds to 1); hebbd clips in Double and
        // must agree with the float64 values there instead (docs/PRIORS.md, oddity 10).
        let expected = finiteReference ? c : reference!
        x.withUnsafeBufferPointer { x in
            let loss = prior.loss(of: x)
            check.expect(relativeError(loss, expected.loss), tolerance, "loss \(loss) vs \(expected.loss)")
            var gradient = [Scalar](repeating: 0, count: x.count)
            gradient.withUnsafeMutableBufferPointer { prior.accumulateGradient(of: x, into: $0) }
            let g = gradient.map { Double($0) }
            check.expect(worstRelativeError(g, expected.gradX), tolerance, "∂x \(g) vs \(expected.gradX)")
            if !finiteReference {
                check.expect(loss.isFinite && g.allSatisfy(\.isFinite) ? 0 : .infinity, 0, "finite where brainstate float32 is not")
            }
            let reset = prior.resetValue(count: x.count).map { Double($0) }
            check.expect(worstRelativeError(reset, expanded(c.resetValue, x.count), floor: 1e-12), tolerance, "reset \(reset) vs \(c.resetValue)")
            // fit_hyper: exactly brainstate's trainable set, the stored raw values, and ∂loss/∂hyper.
            let trainable = prior.hyperParameters.filter(\.trainable).map(\.name)
            check.expect(Set(trainable) == Set(c.hyperGradients.keys) ? 0 : .infinity, 0, "trainable \(trainable) vs \(c.hyperGradients.keys.sorted())")
            for (name, stored) in c.storedHyper {
                let ours = prior.hyperParameter(name)?.map { Double($0) } ?? []
                check.expect(worstRelativeError(ours, stored, floor: 1e-12), tolerance, "stored \(name) \(ours) vs \(stored)")
            }
            let gradients = prior.hyperGradients(at: x)
            for (name, expectedGradient) in c.hyperGradients {
                let ours = gradients[name] ?? []
                if expectedGradient.allSatisfy(\.isFinite) {
                    check.expect(worstRelativeError(ours, expectedGradient), tolerance, "∂\(name) \(ours) vs \(expectedGradient)")
                } else {
                    let fallback = reference?.hyperGradients[name] ?? []
                    check.expect(worstRelativeError(ours, fallback), tolerance, "∂\(name) \(ours) vs float64 \(fallback)")
                }
            }
        }
        return check.failures
    }

    static func run(_ precision: String, _ cases: [PriorFixtures.Case], references: [PriorFixtures.Case]) -> (checked: [PriorKind: Int], failures: [String]) {
        let byId = Dictionary(uniqueKeysWithValues: references.map { ($0.id, $0) })
        var checked: [PriorKind: Int] = [:], failures: [String] = []
        for c in cases {
            let found = precision == "float64"
                ? check(c, as: Double.self, tolerance: 1e-9)
                : check(c, as: Float.self, tolerance: 1e-5, reference: byId[c.id])
            failures += found.map { "\(c.id): \($0)" }
            checked[c.kind, default: 0] += 1
        }
        return (checked, failures)
    }

    @Test(arguments: ["float64", "float32"])
    func everyCase(_ precision: String) throws {
        let cases = try PriorFixtures.cases(precision), references = try PriorFixtures.cases("float64")
        let fileCount = (PriorFixtures.root(precision)["cases"] as! [Any]).count
        let (checked, failures) = Self.run(precision, cases, references: references)
        for failure in failures { Issue.record("\(precision) \(failure)") }
        let summary = checked.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")
        print("brainstate \(precision): \(checked.values.reduce(0, +)) of \(fileCount) cases checked (\(summary))")
        #expect(checked.values.reduce(0, +) == fileCount && fileCount == 218)
        // Every kind but the chain has cases; a kind that stopped matching its class would show up here.
        #expect(Set(checked.keys) == Set(PriorKind.allCases).subtracting([.chain]))
    }

    @Test(arguments: ["float64", "float32"])
    func chains(_ precision: String) throws {
        let chains = try PriorFixtures.chains(precision)
        #expect(chains.count == 6)
        #expect(chains.contains { $0.configuration.components.isEmpty })
        #expect(chains.contains { $0.configuration.components.count == 3 })
        let tolerance = precision == "float64" ? 1e-9 : 1e-5
        for c in chains {
            let failures = precision == "float64"
                ? Self.check(c, as: Double.self, tolerance: tolerance)
                : Self.check(c, as: Float.self, tolerance: tolerance)
            for failure in failures { Issue.record("\(precision) \(c.id): \(failure)") }
        }
        print("brainstate \(precision): \(chains.count) chains checked")
    }

    /// `Param(value, t=SoftplusT, reg=GaussianReg(..., fit_hyper=True))`: the loss sees the constrained value,
    /// so ∂/∂raw is ∂/∂value times softplus′(raw) = sigmoid(raw); the hyper-gradients are the prior's own.
    @Test func parameterIntegration() throws {
        let entries = PriorFixtures.root("float64")["param_integration"] as! [[String: Any]]
        #expect(entries.count == 2)
        for entry in entries {
            let softplus = (entry["id"] as! String).contains("SoftplusT")
            let stored = entry["stored_raw"] as! [String: Any], grad = entry["grad"] as! [String: Any]
            let raw = flat(stored["val"])
            let value = softplus ? raw.map { log1p(exp($0)) } : raw
            #expect(worstRelativeError(value, flat(entry["constrained_value"])) <= 1e-12)
            var prior = WeightPrior<Double>(PriorConfiguration(kind: .gaussian, arguments: [.weight: .numbers([0.01]), .fitHyper: .flag(true)]),
                                            rows: value.count, columns: 1, optimizer: .adam)
            prior.hyperParameters[0].values = flat(stored["reg.mean"])
            prior.hyperParameters[1].values = flat(stored["reg.precision"])
            value.withUnsafeBufferPointer { v in
                #expect(relativeError(prior.loss(of: v), flat(entry["reg_loss"])[0]) <= 1e-9)
                var g = [Double](repeating: 0, count: v.count)
                g.withUnsafeMutableBufferPointer { prior.accumulateGradient(of: v, into: $0) }
                let chained = softplus ? zip(g, raw).map { $0 * (1 / (1 + exp(-$1))) } : g
                #expect(worstRelativeError(chained, flat(grad["val"])) <= 1e-9)
                let hyper = prior.hyperGradients(at: v)
                #expect(relativeError(hyper["mean"]![0], flat(grad["reg.mean"])[0]) <= 1e-9)
                #expect(relativeError(hyper["precision"]![0], flat(grad["reg.precision"])[0]) <= 1e-9)
            }
        }
    }

    /// A module's reg_loss is the sum over its parameters' priors (the regularised constant is ignored).
    @Test(arguments: ["float64", "float32"])
    func moduleSum(_ precision: String) {
        let entry = PriorFixtures.root(precision)["module_reg_loss"] as! [String: Any]
        let small6 = PriorFixtures.inputs(precision)["small6"]!
        let l1 = WeightPrior<Double>(PriorConfiguration(kind: .l1, arguments: [.weight: .numbers([0.01])]), rows: 6, columns: 1, optimizer: .sgd)
        let gaussian = WeightPrior<Double>(PriorConfiguration(kind: .gaussian), rows: 1, columns: 1, optimizer: .sgd)
        let total = small6.withUnsafeBufferPointer { l1.loss(of: $0) } + [0.3].withUnsafeBufferPointer { gaussian.loss(of: $0) }
        #expect(relativeError(total, flat(entry["value"])[0]) <= (precision == "float64" ? 1e-9 : 1e-5))
    }
}
