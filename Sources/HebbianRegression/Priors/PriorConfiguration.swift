/// How one prior is specified: its kind and brainstate's constructor arguments.
///
/// Only the arguments given explicitly are stored; ``value(of:)`` falls back to brainstate's default.
/// A chain (brainstate's `ChainedReg`) is `kind = .chain` with ``components`` and its own `weight`.
/// A TOML loader maps each key of a `[model.prior]` table with ``setArgument(_:to:)``, which rejects
/// keys the kind does not take.
public struct PriorConfiguration: Sendable, Equatable, Codable {
    /// Which prior.
    public var kind: PriorKind
    /// The arguments given explicitly (the others take ``PriorKind/defaultValue(of:)``).
    public var arguments: [PriorArgument: PriorArgumentValue]
    /// The summed priors of a chain (empty for every other kind).
    public var components: [PriorConfiguration]

    private enum CodingKeys: String, CodingKey {
        case kind, arguments, components
    }

    /// A prior of `kind` with the given arguments (brainstate's defaults for the rest).
    public init(kind: PriorKind, arguments: [PriorArgument: PriorArgumentValue] = [:], components: [PriorConfiguration] = []) {
        self.kind = kind
        self.arguments = arguments
        self.components = components
    }

    /// brainstate's `ChainedReg(*components, weight=weight)`: the weighted sum of the components' losses.
    public static func chain(_ components: [PriorConfiguration], weight: Double = 1) -> PriorConfiguration {
        PriorConfiguration(kind: .chain, arguments: weight == 1 ? [:] : [.weight: .numbers([weight])], components: components)
    }

    /// The same prior as a ``GaussianPrior/Configuration`` (hebbd's original `[model.prior]`).
    public init(_ gaussian: GaussianPrior.Configuration) {
        self.init(kind: .gaussian, arguments: [
            .mean: .numbers(gaussian.mean.map(Double.init)), .std: .numbers(gaussian.std.map(Double.init)),
            .weight: .numbers([Double(gaussian.weight)]), .fitHyper: .flag(gaussian.fitHyper),
        ])
    }

    /// A Gaussian prior from Float values, as hebbd's original `[model.prior]` wrote it (weight default 0.01).
    public static func gaussian(mean: [Float] = [0], std: [Float] = [1], weight: Float = 0.01, fitHyper: Bool = false) -> PriorConfiguration {
        PriorConfiguration(GaussianPrior.Configuration(mean: mean, std: std, weight: weight, fitHyper: fitHyper))
    }

    /// The argument's value: as given, else brainstate's default (nil if the kind has no such argument).
    public func value(of argument: PriorArgument) -> PriorArgumentValue? {
        arguments[argument] ?? kind.defaultValue(of: argument)
    }

    /// A numeric argument (its default if not given; empty if the kind has no such argument).
    public func numbers(_ argument: PriorArgument) -> [Double] {
        if case let .numbers(values)? = value(of: argument) { return values }
        return []
    }

    /// An integer argument (its default if not given).
    public func integer(_ argument: PriorArgument) -> Int? {
        if case let .integer(value)? = value(of: argument) { return value }
        return nil
    }

    /// A flag argument (its default if not given; false if the kind has no such argument).
    public func flag(_ argument: PriorArgument) -> Bool {
        if case let .flag(value)? = value(of: argument) { return value }
        return false
    }

    /// The `weight` argument (1 for the elastic net, which has none).
    public var weight: Double { numbers(.weight).first ?? 1 }

    /// `fit_hyper`.
    public var fitHyper: Bool { flag(.fitHyper) }

    /// Sets the argument named `key` (brainstate's name), checking the key belongs to this kind and the
    /// value has the argument's type. `prefix` names the table in the error ("prior").
    public mutating func setArgument(_ key: String, to value: PriorArgumentValue, prefix: String = "prior") throws(CircuitError) {
        guard let argument = PriorArgument(rawValue: key), kind.arguments.contains(argument) else {
            throw .invalidParameter(name: "\(prefix).\(key)", value: value.description,
                                    expected: "one of \(kind.arguments.map(\.rawValue).joined(separator: ", ")) for kind \"\(kind.rawValue)\"")
        }
        switch (kind.defaultValue(of: argument), value) {
        case (.numbers?, .numbers), (.integer?, .integer), (.flag?, .flag): break
        case (.numbers?, .integer(let n)): arguments[argument] = .numbers([Double(n)]); return
        case (.numbers?, _): throw .invalidParameter(name: "\(prefix).\(key)", value: value.description, expected: "a number or an array of numbers")
        case (.integer?, _): throw .invalidParameter(name: "\(prefix).\(key)", value: value.description, expected: "an integer")
        default: throw .invalidParameter(name: "\(prefix).\(key)", value: value.description, expected: "true or false")
        }
        arguments[argument] = value
    }

    /// Checks every argument against a W of `dictDim` × `sysDim` = `weightCount` coefficients; the error
    /// names the offending key (`prior.df`, or `prior[1].df` inside a chain).
    public func validate(weightCount: Int, dictDim: Int, sysDim: Int) throws(CircuitError) {
        try validate(weightCount: weightCount, dictDim: dictDim, sysDim: sysDim, prefix: "prior")
    }

    private func validate(weightCount: Int, dictDim: Int, sysDim: Int, prefix: String) throws(CircuitError) {
        guard weightCount == dictDim * sysDim, weightCount > 0 else {
            throw .shapeMismatch(what: "\(prefix) W (dict_dim × sys_dim = \(dictDim) × \(sysDim))", expected: dictDim * sysDim, got: weightCount)
        }
        func fail(_ argument: PriorArgument, _ value: String, _ expected: String) -> CircuitError {
            .invalidParameter(name: "\(prefix).\(argument.rawValue)", value: value, expected: expected)
        }
        for (argument, value) in arguments.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            guard kind.arguments.contains(argument) else {
                throw fail(argument, value.description, "one of \(kind.arguments.map(\.rawValue).joined(separator: ", ")) for kind \"\(kind.rawValue)\"")
            }
            switch (kind.defaultValue(of: argument), value) {
            case (.numbers?, .numbers(let values)):
                if argument.isScalarOnly && values.count != 1 {
                    throw fail(argument, value.description, "one number")
                }
                if values.count != 1 && values.count != weightCount {
                    throw fail(argument, value.description, "a number or an array of dict_dim×sys_dim = \(weightCount) values")
                }
                if let bad = values.first(where: { !$0.isFinite }) { throw fail(argument, "\(bad)", "finite numbers") }
            case (.integer?, .integer), (.flag?, .flag): break
            case (.numbers?, _): throw fail(argument, value.description, "a number or an array of numbers")
            case (.integer?, _): throw fail(argument, value.description, "an integer")
            default: throw fail(argument, value.description, "true or false")
            }
        }
        func requireAll(_ argument: PriorArgument, _ expected: String, _ ok: (Double) -> Bool) throws(CircuitError) {
            if let bad = numbers(argument).first(where: { !ok($0) }) { throw fail(argument, "\(bad)", expected) }
        }
        // A negative weight would turn the penalty into a reward with no lower bound.
        try requireAll(.weight, "a finite number ≥ 0") { $0 >= 0 }
        switch kind {
        case .gaussian:
            try requireAll(.std, "numbers > 0") { $0 > 0 }
        case .elasticNet:
            try requireAll(.l1Weight, "numbers ≥ 0") { $0 >= 0 }
            try requireAll(.l2Weight, "numbers ≥ 0") { $0 >= 0 }
            try requireAll(.alpha, "numbers in [0, 1]") { (0...1).contains($0) }
        case .huber: try requireAll(.delta, "numbers > 0") { $0 > 0 }
        case .groupLasso:
            let size = integer(.groupSize) ?? 0
            if size < 1 { throw fail(.groupSize, "\(size)", "an integer ≥ 1 (sys_dim = \(sysDim) makes the rows of W the groups)") }
        case .totalVariation:
            let order = integer(.order) ?? 0
            if order != 1 && order != 2 { throw fail(.order, "\(order)", "1 or 2") }
        case .maxNorm: try requireAll(.maxValue, "a number > 0") { $0 > 0 }
        case .spectralNorm:
            try requireAll(.maxValue, "a number > 0") { $0 > 0 }
            let iterations = integer(.nPowerIterations) ?? 0
            if iterations < 1 { throw fail(.nPowerIterations, "\(iterations)", "an integer ≥ 1") }
        case .studentT:
            try requireAll(.df, "numbers > 0") { $0 > 0 }
            try requireAll(.scale, "numbers > 0") { $0 > 0 }
        case .cauchy: try requireAll(.scale, "numbers > 0") { $0 > 0 }
        case .horseshoe: try requireAll(.tau, "numbers > 0") { $0 > 0 }
        case .uniform, .logUniform:
            if kind == .logUniform {
                try requireAll(.lower, "numbers > 0") { $0 > 0 }
            }
            let lower = numbers(.lower), upper = numbers(.upper)
            for i in 0..<max(lower.count, upper.count) {
                let l = lower[lower.count == 1 ? 0 : i], u = upper[upper.count == 1 ? 0 : i]
                if !(l < u) { throw fail(.upper, "\(u)", "numbers above lower (\(l))") }
            }
        case .logNormal: try requireAll(.sigma, "numbers > 0") { $0 > 0 }
        case .exponential: try requireAll(.rate, "numbers > 0") { $0 > 0 }
        case .gamma, .inverseGamma:
            try requireAll(.alpha, "numbers > 0") { $0 > 0 }
            try requireAll(.beta, "numbers > 0") { $0 > 0 }
        case .beta:
            try requireAll(.a, "numbers > 0") { $0 > 0 }
            try requireAll(.b, "numbers > 0") { $0 > 0 }
        case .spikeAndSlab:
            try requireAll(.spikeScale, "numbers > 0") { $0 > 0 }
            try requireAll(.slabScale, "numbers > 0") { $0 > 0 }
            try requireAll(.pi, "numbers in [0, 1]") { (0...1).contains($0) }
        case .dirichlet: try requireAll(.alpha, "numbers > 0") { $0 > 0 }
        case .l1, .l2, .entropy, .orthogonal, .chain: break
        }
        if kind != .chain && !components.isEmpty {
            throw .invalidParameter(name: "\(prefix).components", value: "\(components.count) priors", expected: "none unless kind = \"chain\"")
        }
        for (index, component) in components.enumerated() {
            try component.validate(weightCount: weightCount, dictDim: dictDim, sysDim: sysDim, prefix: "\(prefix)[\(index)]")
        }
    }

    /// The runtime prior for a W of `dictDim` × `sysDim`, after ``validate(weightCount:dictDim:sysDim:)``.
    /// `optimizer` is the circuit's; it trains the hyper-parameters when `fit_hyper` is set.
    public func makePrior(dictDim: Int, sysDim: Int, optimizer: OptimizerKind) throws(CircuitError) -> WeightPrior<Float> {
        try validate(weightCount: dictDim * sysDim, dictDim: dictDim, sysDim: sysDim)
        return WeightPrior<Float>(self, rows: dictDim, columns: sysDim, optimizer: optimizer)
    }
}
