import Foundation
import Testing
@testable import HebbianRegression

/// `PriorConfiguration`: brainstate's argument names and defaults, key mapping, validation, the factory.
@Suite struct PriorConfigurationTests {
    /// The argument name an invalid configuration is rejected for (nil: accepted).
    static func rejectedKey(_ configuration: PriorConfiguration, weightCount: Int = 6, dictDim: Int = 3, sysDim: Int = 2) -> String? {
        do {
            try configuration.validate(weightCount: weightCount, dictDim: dictDim, sysDim: sysDim)
            return nil
        } catch let .invalidParameter(name, _, _) {
            return name
        } catch {
            return "\(error)"
        }
    }

    @Test func everyArgumentHasBrainstatesDefault() {
        for kind in PriorKind.allCases {
            #expect(kind.arguments.last == .fitHyper, "\(kind)")
            for argument in kind.arguments { #expect(kind.defaultValue(of: argument) != nil, "\(kind).\(argument)") }
            #expect(kind.defaultValue(of: .nPowerIterations) == nil || kind == .spectralNorm)
            #expect(kind.trainableHyperParameters.allSatisfy(kind.storedHyperParameters.contains), "\(kind)")
        }
        #expect(PriorKind.allCases.count == 24)
        #expect(!PriorKind.elasticNet.arguments.contains(.weight))
        let student = PriorConfiguration(kind: .studentT)
        #expect(student.numbers(.df) == [3] && student.numbers(.scale) == [1] && student.weight == 1 && !student.fitHyper)
        let spike = PriorConfiguration(kind: .spikeAndSlab)
        #expect(spike.numbers(.spikeScale) == [0.01] && spike.numbers(.slabScale) == [1] && spike.numbers(.pi) == [0.5])
        let logUniform = PriorConfiguration(kind: .logUniform)
        #expect(logUniform.numbers(.lower) == [1e-3] && logUniform.numbers(.upper) == [1e3])
        #expect(PriorConfiguration(kind: .elasticNet).numbers(.alpha) == [0.5])
        #expect(PriorConfiguration(kind: .entropy).flag(.maximize))
        #expect(PriorConfiguration(kind: .groupLasso).integer(.groupSize) == 1)
        #expect(PriorConfiguration(kind: .inverseGamma).numbers(.alpha) == [2])
    }

    @Test func setArgumentMapsBrainstateKeysAndRejectsOthers() throws {
        var cauchy = PriorConfiguration(kind: .cauchy)
        try cauchy.setArgument("scale", to: .numbers([0.1]))
        try cauchy.setArgument("weight", to: .integer(2))   // a TOML integer where a number is expected
        #expect(cauchy.numbers(.scale) == [0.1] && cauchy.weight == 2)
        #expect(throws: CircuitError.self) { try cauchy.setArgument("df", to: .numbers([3])) }
        #expect(throws: CircuitError.self) { try cauchy.setArgument("no_such_key", to: .numbers([3])) }
        var group = PriorConfiguration(kind: .groupLasso)
        #expect(throws: CircuitError.self) { try group.setArgument("group_size", to: .numbers([2.5])) }
        #expect(throws: CircuitError.self) { try group.setArgument("fit_hyper", to: .integer(1)) }
        do {
            try group.setArgument("df", to: .numbers([3]), prefix: "model.prior")
            Issue.record("accepted df for group_lasso")
        } catch let .invalidParameter(name, _, expected) {
            #expect(name == "model.prior.df" && expected.contains("group_size"))
        }
    }

    @Test func validationNamesTheOffendingKey() {
        let six = PriorArgumentValue.numbers([1, 2, 3, 4, 5, 6])
        let cases: [(PriorConfiguration, String)] = [
            (PriorConfiguration(kind: .gaussian, arguments: [.std: .numbers([0])]), "prior.std"),
            (PriorConfiguration(kind: .gaussian, arguments: [.std: .numbers([1, 2, 3, 4, 5])]), "prior.std"),
            (PriorConfiguration(kind: .gaussian, arguments: [.mean: .numbers([.nan])]), "prior.mean"),
            (PriorConfiguration(kind: .l1, arguments: [.weight: .numbers([-1])]), "prior.weight"),
            (PriorConfiguration(kind: .l1, arguments: [.weight: six]), "prior.weight"),
            (PriorConfiguration(kind: .l1, arguments: [.df: .numbers([3])]), "prior.df"),
            (PriorConfiguration(kind: .groupLasso, arguments: [.groupSize: .integer(0)]), "prior.group_size"),
            (PriorConfiguration(kind: .groupLasso, arguments: [.groupSize: .numbers([2])]), "prior.group_size"),
            (PriorConfiguration(kind: .totalVariation, arguments: [.order: .integer(3)]), "prior.order"),
            (PriorConfiguration(kind: .maxNorm, arguments: [.maxValue: six]), "prior.max_value"),
            (PriorConfiguration(kind: .spectralNorm, arguments: [.nPowerIterations: .integer(0)]), "prior.n_power_iterations"),
            (PriorConfiguration(kind: .elasticNet, arguments: [.alpha: .numbers([1.5])]), "prior.alpha"),
            (PriorConfiguration(kind: .elasticNet, arguments: [.l2Weight: .numbers([-0.1])]), "prior.l2_weight"),
            (PriorConfiguration(kind: .studentT, arguments: [.df: .numbers([0])]), "prior.df"),
            (PriorConfiguration(kind: .uniform, arguments: [.lower: .numbers([1]), .upper: .numbers([0])]), "prior.upper"),
            (PriorConfiguration(kind: .logUniform, arguments: [.lower: .numbers([0])]), "prior.lower"),
            (PriorConfiguration(kind: .spikeAndSlab, arguments: [.pi: .numbers([2])]), "prior.pi"),
            (PriorConfiguration(kind: .beta, arguments: [.b: .numbers([1, 1, 1, -1, 1, 1])]), "prior.b"),
            (PriorConfiguration(kind: .entropy, arguments: [.maximize: .numbers([1])]), "prior.maximize"),
            (.chain([PriorConfiguration(kind: .l1), PriorConfiguration(kind: .studentT, arguments: [.df: .numbers([-3])])]), "prior[1].df"),
            (.chain([PriorConfiguration(kind: .l1)], weight: -2), "prior.weight"),
            (PriorConfiguration(kind: .l1, components: [PriorConfiguration(kind: .l2)]), "prior.components"),
        ]
        for (configuration, key) in cases {
            #expect(Self.rejectedKey(configuration) == key, "\(configuration.kind) \(configuration.arguments)")
        }
        // Per-coefficient hyper-parameters are accepted wherever brainstate broadcasts them.
        for configuration in [
            PriorConfiguration(kind: .logNormal, arguments: [.mu: six, .sigma: six]),
            PriorConfiguration(kind: .gaussian, arguments: [.mean: six, .std: .numbers([0.5])]),
            PriorConfiguration(kind: .uniform, arguments: [.lower: .numbers([-1]), .upper: six]),
            .chain([PriorConfiguration(kind: .l1), PriorConfiguration(kind: .cauchy, arguments: [.scale: six])], weight: 2),
            .chain([]),
        ] {
            #expect(Self.rejectedKey(configuration) == nil, "\(configuration)")
        }
        #expect(throws: CircuitError.self) { try PriorConfiguration(kind: .l1).validate(weightCount: 5, dictDim: 3, sysDim: 2) }
    }

    /// Every configuration in brainstate's vectors is valid in hebbd, except two deliberate rejections:
    /// std = 0 (precision 1e8, an explicit step on it diverges) and an elastic-net alpha outside [0, 1].
    @Test func brainstatesVectorConfigurationsValidate() throws {
        var rejected: [String: String] = [:]
        for c in try PriorFixtures.cases("float64") + PriorFixtures.chains("float64") {
            if let key = Self.rejectedKey(c.configuration, weightCount: c.rows * c.columns, dictDim: c.rows, sysDim: c.columns) {
                rejected[c.id] = key
            }
        }
        #expect(Set(rejected.values) == ["prior.std", "prior.alpha"])
        #expect(rejected.allSatisfy { id, key in
            key == "prior.std" ? id.hasPrefix("GaussianReg(") && id.contains("std=0.0,") : id.hasPrefix("ElasticNetReg(") && id.contains("alpha=1.5")
        })
        #expect(rejected.count == 2, "\(rejected.keys.sorted())")
    }

    @Test func makePriorBuildsTheRuntimeStateForTheOptimizer() throws {
        let six = PriorArgumentValue.numbers([0.5, 1, 1.5, 2, 2.5, 3])
        let fitted = try PriorConfiguration(kind: .studentT, arguments: [.scale: six, .fitHyper: .flag(true)])
            .makePrior(dictDim: 3, sysDim: 2, optimizer: .adam)
        #expect(fitted.rows == 3 && fitted.columns == 2 && fitted.fitsHyperParameters)
        #expect(fitted.hyperParameters.map(\.name) == ["df", "scale"])
        #expect(fitted.hyperParameters.map(\.optimizer.m.count) == [1, 6])
        #expect(fitted.hyperParameter("scale") == [0.5, 1, 1.5, 2, 2.5, 3])
        let fixed = try PriorConfiguration(kind: .studentT).makePrior(dictDim: 3, sysDim: 2, optimizer: .adam)
        #expect(!fixed.fitsHyperParameters && fixed.hyperParameters.allSatisfy { !$0.trainable && $0.optimizer.m.isEmpty })
        // L1 has nothing to train, so fit_hyper changes nothing.
        let l1 = try PriorConfiguration(kind: .l1, arguments: [.fitHyper: .flag(true)]).makePrior(dictDim: 3, sysDim: 2, optimizer: .sgd)
        #expect(!l1.fitsHyperParameters && l1.hyperParameters.isEmpty)
        // The Gaussian stores precision = 1/(std² + 1e-8), rounded to Float.
        let gaussian = try PriorConfiguration(GaussianPrior.Configuration(std: [2])).makePrior(dictDim: 3, sysDim: 2, optimizer: .sgd)
        #expect(gaussian.hyperParameter("precision") == [GaussianPrior.precision(std: 2)])
        #expect(throws: CircuitError.self) { try PriorConfiguration(kind: .huber, arguments: [.delta: .numbers([-1])]).makePrior(dictDim: 3, sysDim: 2, optimizer: .sgd) }
    }
}
