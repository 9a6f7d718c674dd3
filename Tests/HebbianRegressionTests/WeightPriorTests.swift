import Foundation
import Testing
@testable import HebbianRegression

/// The runtime prior: checkpoint encoding, fit_hyper, chains, and the places hebbd decides differently
/// from brainstate (docs/PRIORS.md).
@Suite struct WeightPriorTests {
    /// A 3×2 W with a zero, negatives, values in (0, 1) and above 1.
    static let w: [Float] = [-1.2, 0.4, 0, 0.7, 1.6, -0.05]

    /// A configuration of `kind` with fit_hyper and, where brainstate accepts arrays, per-coefficient
    /// values that differ from the defaults, so a round trip has something to lose.
    static func richConfiguration(_ kind: PriorKind) -> PriorConfiguration {
        if kind == .chain {
            return .chain([richConfiguration(.studentT), PriorConfiguration(kind: .l1, arguments: [.weight: .numbers([0.3])])], weight: 2)
        }
        var configuration = PriorConfiguration(kind: kind, arguments: [.fitHyper: .flag(true)])
        for argument in kind.arguments {
            guard case let .numbers(defaults)? = kind.defaultValue(of: argument) else { continue }
            let base = defaults[0]
            if argument.isScalarOnly {
                configuration.arguments[argument] = .numbers([base == 0 ? 0.25 : base * 0.9])
            } else if kind == .uniform || kind == .logUniform {
                configuration.arguments[argument] = .numbers((0..<6).map { base * (1 + 0.05 * Double($0)) })
            } else if argument == .alpha && kind == .elasticNet || argument == .pi {
                configuration.arguments[argument] = .numbers((0..<6).map { 0.2 + 0.1 * Double($0) })
            } else {
                configuration.arguments[argument] = .numbers((0..<6).map { (base == 0 ? 0.1 : base) * (1 + 0.1 * Double($0)) })
            }
        }
        if kind == .groupLasso { configuration.arguments[.groupSize] = .integer(2) }
        if kind == .totalVariation { configuration.arguments[.order] = .integer(2) }
        if kind == .entropy { configuration.arguments[.maximize] = .flag(false) }
        return configuration
    }

    static func fitted(_ kind: PriorKind, optimizer: OptimizerKind = .adam, steps: Int = 2) throws -> WeightPrior<Float> {
        var prior = try richConfiguration(kind).makePrior(dictDim: 3, sysDim: 2, optimizer: optimizer)
        for _ in 0..<steps { w.withUnsafeBufferPointer { prior.fitHyperParameters(at: $0, learningRate: 0.01) } }
        return prior
    }

    @Test(arguments: PriorKind.allCases)
    func roundTripsThroughJSONExactly(_ kind: PriorKind) throws {
        let prior = try Self.fitted(kind)
        let data = try JSONEncoder().encode(prior)
        let decoded = try JSONDecoder().decode(WeightPrior<Float>.self, from: data)
        #expect(decoded == prior)
        #expect(Self.w.withUnsafeBufferPointer { decoded.loss(of: $0) == prior.loss(of: $0) })
        if prior.fitsHyperParameters {
            // Fitted values and the optimiser's moments are what a checkpoint must not lose.
            #expect(prior != (try Self.richConfiguration(kind).makePrior(dictDim: 3, sysDim: 2, optimizer: .adam)))
        }
        let configuration = Self.richConfiguration(kind)
        #expect(try JSONDecoder().decode(PriorConfiguration.self, from: JSONEncoder().encode(configuration)) == configuration)
    }

    /// The key names are the checkpoint format: renaming a Swift property must not change them.
    @Test func codingKeysAreStable() throws {
        let prior = try Self.fitted(.chain)
        let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(prior)) as! [String: Any]
        #expect(Set(object.keys) == ["kind", "weight", "rows", "columns", "hyper_parameters", "group_size", "order",
                                     "maximize", "n_power_iterations", "fit_hyper", "components"])
        let student = (object["components"] as! [[String: Any]])[0]
        #expect(student["kind"] as? String == "student_t")
        let hyper = (student["hyper_parameters"] as! [[String: Any]])[1]
        #expect(Set(hyper.keys) == ["name", "values", "trainable", "optimizer"] && hyper["name"] as? String == "scale")
        let configuration = try JSONSerialization.jsonObject(with: JSONEncoder().encode(Self.richConfiguration(.groupLasso))) as! [String: Any]
        #expect(Set(configuration.keys) == ["kind", "arguments", "components"])
        let arguments = configuration["arguments"] as! [String: Any]
        #expect(Set(arguments.keys) == ["weight", "group_size", "fit_hyper"])
        #expect((arguments["group_size"] as! [String: Any])["integer"] as? Int == 2)

        // A state written by this version decodes to the same prior.
        let written = """
        {"kind":"huber","weight":0.5,"rows":2,"columns":1,"group_size":1,"order":1,"maximize":true,"n_power_iterations":1,
         "fit_hyper":true,"components":[],
         "hyper_parameters":[{"name":"delta","values":[0.25],"trainable":true,
                              "optimizer":{"kind":"sgd","m":[],"v":[],"t":3}}]}
        """
        let decoded = try JSONDecoder().decode(WeightPrior<Float>.self, from: Data(written.utf8))
        var expected = WeightPrior<Float>(PriorConfiguration(kind: .huber, arguments: [.weight: .numbers([0.5]), .delta: .numbers([0.25]), .fitHyper: .flag(true)]),
                                          rows: 2, columns: 1, optimizer: .sgd)
        expected.hyperParameters[0].optimizer.t = 3
        #expect(decoded == expected)
    }

    /// One optimiser step per trainable hyper-parameter, from the prior loss at W; nothing else moves.
    @Test(arguments: PriorKind.allCases.filter { !$0.trainableHyperParameters.isEmpty })
    func fitHyperStepsEachTrainableParameter(_ kind: PriorKind) throws {
        for optimizer in OptimizerKind.allCases {
            let before = try Self.richConfiguration(kind).makePrior(dictDim: 3, sysDim: 2, optimizer: optimizer)
            let gradients = Self.w.withUnsafeBufferPointer { before.hyperGradients(at: $0) }
            var after = before
            Self.w.withUnsafeBufferPointer { after.fitHyperParameters(at: $0, learningRate: 0.01) }
            #expect(after.weight == before.weight)
            for (old, new) in zip(before.hyperParameters, after.hyperParameters) {
                let g = gradients[old.name]!
                for j in old.values.indices {
                    let expected: Float = switch optimizer {
                    case .sgd: old.values[j] - 0.01 * Float(g[j])
                    // Adam's first step is lr·m̂/(√v̂ + ε) = lr·g/(|g| + ε): lr against the gradient's sign.
                    case .adam: old.values[j] - 0.01 * Float(g[j]) / (Float(abs(g[j])) + 1e-8)
                    }
                    #expect(abs(new.values[j] - (old.trainable ? expected : old.values[j])) <= 1e-6 * max(1, abs(expected)),
                            "\(kind) \(optimizer) \(old.name)[\(j)]: \(old.values[j]) → \(new.values[j]), ∂ = \(g[j])")
                }
                #expect(new.optimizer.t == (old.trainable ? 1 : 0))
            }
        }
    }

    /// ChainedReg: the chain weight multiplies the components' losses, gradients and hyper-gradients; its
    /// own fit_hyper is not forwarded; reset and sample come from the first component.
    @Test func chainWeightsItsComponentsAndKeepsTheirFlags() throws {
        let student = PriorConfiguration(kind: .studentT, arguments: [.fitHyper: .flag(true), .scale: .numbers([0.5])])
        let gamma = PriorConfiguration(kind: .gamma, arguments: [.alpha: .numbers([3])])
        let chain = try PriorConfiguration.chain([gamma, student], weight: 2.5).makePrior(dictDim: 3, sysDim: 2, optimizer: .sgd)
        let alone = [try gamma.makePrior(dictDim: 3, sysDim: 2, optimizer: .sgd), try student.makePrior(dictDim: 3, sysDim: 2, optimizer: .sgd)]
        Self.w.withUnsafeBufferPointer { w in
            let sum = alone.map { $0.loss(of: w) }.reduce(0, +)
            #expect(abs(chain.loss(of: w) - 2.5 * sum) <= 1e-9 * abs(sum))
            var g = [Float](repeating: 0, count: 6), parts = [Float](repeating: 0, count: 6)
            g.withUnsafeMutableBufferPointer { chain.accumulateGradient(of: w, into: $0) }
            parts.withUnsafeMutableBufferPointer { p in alone.forEach { $0.accumulateGradient(of: w, into: p) } }
            for i in 0..<6 { #expect(abs(g[i] - 2.5 * parts[i]) <= 1e-5 * max(1, abs(g[i]))) }
            let hyper = chain.hyperGradients(at: w), own = alone[1].hyperGradients(at: w)
            #expect(abs(hyper["1.scale"]![0] - 2.5 * own["scale"]![0]) <= 1e-6 * abs(own["scale"]![0]))
        }
        var stepped = chain
        Self.w.withUnsafeBufferPointer { stepped.fitHyperParameters(at: $0, learningRate: 0.1) }
        #expect(stepped.components[0] == chain.components[0])   // gamma: fit_hyper false
        #expect(stepped.components[1].hyperParameter("scale") != chain.components[1].hyperParameter("scale"))
        // The chain's own flag trains nothing.
        let flagged = try PriorConfiguration(kind: .chain, arguments: [.fitHyper: .flag(true)], components: [gamma])
            .makePrior(dictDim: 3, sysDim: 2, optimizer: .sgd)
        #expect(!flagged.fitsHyperParameters)
        #expect(chain.resetValue(count: 6) == alone[0].resetValue(count: 6) && chain.resetValue(count: 6)[0] == 2)
        var a = SeededGenerator(seed: 7), b = SeededGenerator(seed: 7)
        #expect(chain.sampleInit(count: 6, using: &a) == alone[0].sampleInit(count: 6, using: &b))
        let empty = try PriorConfiguration.chain([]).makePrior(dictDim: 3, sysDim: 2, optimizer: .sgd)
        #expect(Self.w.withUnsafeBufferPointer { empty.loss(of: $0) } == 0 && empty.resetValue(count: 6) == [0, 0, 0, 0, 0, 0])
    }

    /// brainstate's normalised priors return a vector loss when a hyper-parameter is an array. hebbd sums
    /// one normaliser per coefficient instead: the loss is the sum of each coefficient's own prior loss, and
    /// reduces to brainstate's N·normaliser for a scalar hyper-parameter.
    @Test(arguments: [PriorKind.studentT, .cauchy, .horseshoe, .logNormal, .gamma, .inverseGamma, .beta])
    func perCoefficientHyperParametersSumToAScalarLoss(_ kind: PriorKind) {
        let x: [Double] = [0.3, 0.9, 0.05, 2.5, 0.6, 0.2]
        var perCoefficient = PriorConfiguration(kind: kind)
        var uniform = PriorConfiguration(kind: kind)
        for argument in kind.arguments where argument != .weight {
            guard case let .numbers(d)? = kind.defaultValue(of: argument) else { continue }
            perCoefficient.arguments[argument] = .numbers((0..<6).map { (d[0] == 0 ? 0.2 : d[0]) * (1 + 0.15 * Double($0)) })
            uniform.arguments[argument] = .numbers(Array(repeating: d[0], count: 6))
        }
        perCoefficient.arguments[.weight] = .numbers([0.7])
        x.withUnsafeBufferPointer { xs in
            // An array of equal values is the scalar prior.
            let scalar = WeightPrior<Double>(PriorConfiguration(kind: kind), rows: 6, columns: 1, optimizer: .sgd)
            let broadcast = WeightPrior<Double>(uniform, rows: 6, columns: 1, optimizer: .sgd)
            #expect(relativeError(broadcast.loss(of: xs), scalar.loss(of: xs)) <= 1e-12)
            // Distinct values: the sum of six one-coefficient priors.
            let prior = WeightPrior<Double>(perCoefficient, rows: 6, columns: 1, optimizer: .sgd)
            var sum = 0.0
            var gradient = [Double](repeating: 0, count: 6), gradientAlone = [Double](repeating: 0, count: 6)
            gradient.withUnsafeMutableBufferPointer { prior.accumulateGradient(of: xs, into: $0) }
            let hyper = prior.hyperGradients(at: xs)
            for i in 0..<6 {
                var single = perCoefficient
                for (argument, value) in perCoefficient.arguments {
                    if case let .numbers(v) = value, v.count == 6 { single.arguments[argument] = .numbers([v[i]]) }
                }
                let one = WeightPrior<Double>(single, rows: 1, columns: 1, optimizer: .sgd)
                [x[i]].withUnsafeBufferPointer { xi in
                    sum += one.loss(of: xi)
                    gradientAlone[i...i].withUnsafeMutableBufferPointer { one.accumulateGradient(of: xi, into: $0) }
                    for (name, g) in one.hyperGradients(at: xi) {
                        #expect(relativeError(hyper[name]![i], g[0], floor: 1e-12) <= 1e-12, "\(kind) ∂\(name)[\(i)]")
                    }
                }
            }
            #expect(relativeError(prior.loss(of: xs), sum) <= 1e-12, "\(kind)")
            #expect(worstRelativeError(gradient, gradientAlone) <= 1e-12)
        }
    }

    /// brainstate's float32 BetaReg gives +inf and NaN for coefficients ≥ 1 (1 − 1e-8 rounds to 1);
    /// hebbd's Float prior stays finite, agrees with the Double prior and leaves those coefficients alone.
    @Test func betaIsFiniteAboveOneInFloat() {
        let x: [Double] = [0.3, 1.0, 1.5, 4.0, -0.2, 0.999]
        let configuration = PriorConfiguration(kind: .beta, arguments: [.a: .numbers([2]), .b: .numbers([3])])
        let single = WeightPrior<Float>(configuration, rows: 6, columns: 1, optimizer: .sgd)
        let double = WeightPrior<Double>(configuration, rows: 6, columns: 1, optimizer: .sgd)
        let xf = x.map(Float.init)
        let loss = xf.withUnsafeBufferPointer { single.loss(of: $0) }
        #expect(loss.isFinite && relativeError(loss, x.withUnsafeBufferPointer { double.loss(of: $0) }) <= 1e-6)
        var g = [Float](repeating: 0, count: 6)
        xf.withUnsafeBufferPointer { x in g.withUnsafeMutableBufferPointer { single.accumulateGradient(of: x, into: $0) } }
        #expect(g.allSatisfy(\.isFinite) && g[1] == 0 && g[2] == 0 && g[3] == 0 && g[4] == 0 && g[0] != 0)
    }

    /// brainstate's spectral norm of a vector has no eps, so its gradient is NaN at W = 0; hebbd adds 0.
    @Test func spectralNormHasNoNaNAtZero() {
        let prior = WeightPrior<Float>(PriorConfiguration(kind: .spectralNorm), rows: 4, columns: 1, optimizer: .sgd)
        let zero = [Float](repeating: 0, count: 4)
        var g = [Float](repeating: 0, count: 4)
        zero.withUnsafeBufferPointer { x in
            #expect(prior.loss(of: x) == 0)
            g.withUnsafeMutableBufferPointer { prior.accumulateGradient(of: x, into: $0) }
            #expect(prior.hyperGradients(at: x)["max_value"] == [0])
        }
        #expect(g == zero)
    }

    /// A hyper-parameter trained below 0 sits behind relu with zero gradient (brainstate, oddity 4).
    @Test func negativeHyperParameterIsStuck() throws {
        var prior = try PriorConfiguration(kind: .cauchy, arguments: [.fitHyper: .flag(true)]).makePrior(dictDim: 3, sysDim: 2, optimizer: .sgd)
        prior.hyperParameters[0].values = [-0.5]
        Self.w.withUnsafeBufferPointer { w in
            #expect(prior.hyperGradients(at: w)["scale"] == [0])
            prior.fitHyperParameters(at: w, learningRate: 0.1)
            // Read as relu(−0.5) + 1e-8: the loss is finite and huge, and the scale does not move.
            #expect(prior.loss(of: w).isFinite && prior.loss(of: w) > 30)
        }
        #expect(prior.hyperParameters[0].values == [-0.5])
    }

    /// The Gaussian kind is GaussianPrior: same loss, gradient and fit_hyper step, and an existing
    /// GaussianPrior (with fitted state) converts without change.
    @Test func gaussianKindMatchesGaussianPrior() throws {
        let legacy = GaussianPrior.Configuration(mean: [0.1, -0.2, 0, 0.3, 1, 0.5], std: [0.7], weight: 0.2, fitHyper: true)
        var old = GaussianPrior(legacy, optimizer: .adam)
        var new = try PriorConfiguration(legacy).makePrior(dictDim: 3, sysDim: 2, optimizer: .adam)
        for _ in 0..<3 {
            Self.w.withUnsafeBufferPointer { w in
                #expect(abs(old.loss(of: w) - new.loss(of: w)) <= 1e-12 * abs(old.loss(of: w)))
                var a = [Float](repeating: 0, count: 6), b = a
                a.withUnsafeMutableBufferPointer { old.accumulateGradient(of: w, into: $0) }
                b.withUnsafeMutableBufferPointer { new.accumulateGradient(of: w, into: $0) }
                #expect(a == b)
                old.fitHyperParameters(at: w, learningRate: 0.05)
                new.fitHyperParameters(at: w, learningRate: 0.05)
            }
            #expect(new.hyperParameter("mean") == old.mean && new.hyperParameter("precision") == old.precision)
        }
        #expect(WeightPrior(old, rows: 3, columns: 2) == new)
    }
}

/// Whether a saved prior state may continue under a configuration (checkpoint restore, live reconfiguration).
@Suite struct WeightPriorCompatibilityTests {
    @Test(arguments: PriorKind.allCases)
    func aFittedStateContinuesUnderItsConfiguration(_ kind: PriorKind) throws {
        let state = try WeightPriorTests.fitted(kind)
        #expect(state.incompatibility(with: WeightPriorTests.richConfiguration(kind), rows: 3, columns: 2, optimizer: .adam) == nil)
        #expect(state.incompatibility(with: WeightPriorTests.richConfiguration(kind), rows: 2, columns: 3, optimizer: .adam) != nil)
    }

    @Test func changesThatInvalidateAState() throws {
        let configuration = PriorConfiguration(kind: .studentT, arguments: [.fitHyper: .flag(true), .scale: .numbers([1, 2, 3, 4, 5, 6])])
        let state = try configuration.makePrior(dictDim: 3, sysDim: 2, optimizer: .adam)
        func why(_ changed: PriorConfiguration, optimizer: OptimizerKind = .adam) -> String? {
            state.incompatibility(with: changed, rows: 3, columns: 2, optimizer: optimizer)
        }
        #expect(why(configuration) == nil)
        #expect(why(configuration, optimizer: .sgd)?.contains("optimizer") == true)
        #expect(why(PriorConfiguration(kind: .cauchy))?.contains("kind") == true)
        var scalarScale = configuration
        scalarScale.arguments[.scale] = .numbers([1])
        #expect(why(scalarScale)?.contains("prior.scale has 6 values") == true)
        var fixed = configuration
        fixed.arguments[.fitHyper] = .flag(false)
        #expect(why(fixed) != nil)
        // A fixed hyper-parameter the configuration changes is not the state's any more; a trained one may differ.
        let fixedState = try fixed.makePrior(dictDim: 3, sysDim: 2, optimizer: .adam)
        var otherDf = fixed
        otherDf.arguments[.df] = .numbers([5])
        #expect(fixedState.incompatibility(with: otherDf, rows: 3, columns: 2, optimizer: .adam) == "prior.df changed")
        var trainedDf = configuration
        trainedDf.arguments[.df] = .numbers([5])
        #expect(why(trainedDf) == nil)
        let chain = try PriorConfiguration.chain([configuration, PriorConfiguration(kind: .l1)]).makePrior(dictDim: 3, sysDim: 2, optimizer: .adam)
        #expect(chain.incompatibility(with: .chain([configuration, PriorConfiguration(kind: .l2)]), rows: 3, columns: 2, optimizer: .adam) == "prior[1] kind l1 → l2")
        #expect(chain.incompatibility(with: .chain([configuration]), rows: 3, columns: 2, optimizer: .adam)?.contains("components") == true)
    }
}
