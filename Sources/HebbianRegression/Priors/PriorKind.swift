/// Every prior (regulariser) hebbd implements: brainstate 0.6.0's 23 regularisers plus their chain.
///
/// The raw values are the names used in config files; ``brainstateClass`` is the class each one
/// reproduces. `docs/PRIORS.md` lists the formulas.
public enum PriorKind: String, Sendable, Codable, CaseIterable {
    case gaussian
    case l1
    case l2
    case elasticNet = "elastic_net"
    case huber
    case groupLasso = "group_lasso"
    case totalVariation = "total_variation"
    case maxNorm = "max_norm"
    case entropy
    case orthogonal
    case spectralNorm = "spectral_norm"
    case studentT = "student_t"
    case cauchy
    case uniform
    case logNormal = "log_normal"
    case exponential
    case gamma
    case beta
    case horseshoe
    case inverseGamma = "inverse_gamma"
    case logUniform = "log_uniform"
    case spikeAndSlab = "spike_and_slab"
    case dirichlet
    /// A weighted sum of other priors (brainstate's `ChainedReg`).
    case chain

    /// The brainstate class this kind reproduces.
    public var brainstateClass: String {
        switch self {
        case .gaussian: return "GaussianReg"
        case .l1: return "L1Reg"
        case .l2: return "L2Reg"
        case .elasticNet: return "ElasticNetReg"
        case .huber: return "HuberReg"
        case .groupLasso: return "GroupLassoReg"
        case .totalVariation: return "TotalVariationReg"
        case .maxNorm: return "MaxNormReg"
        case .entropy: return "EntropyReg"
        case .orthogonal: return "OrthogonalReg"
        case .spectralNorm: return "SpectralNormReg"
        case .studentT: return "StudentTReg"
        case .cauchy: return "CauchyReg"
        case .uniform: return "UniformReg"
        case .logNormal: return "LogNormalReg"
        case .exponential: return "ExponentialReg"
        case .gamma: return "GammaReg"
        case .beta: return "BetaReg"
        case .horseshoe: return "HorseshoeReg"
        case .inverseGamma: return "InverseGammaReg"
        case .logUniform: return "LogUniformReg"
        case .spikeAndSlab: return "SpikeAndSlabReg"
        case .dirichlet: return "DirichletReg"
        case .chain: return "ChainedReg"
        }
    }

    /// The kind reproducing a brainstate class name (`"StudentTReg"` → `.studentT`).
    public init?(brainstateClass name: String) {
        guard let kind = PriorKind.allCases.first(where: { $0.brainstateClass == name }) else { return nil }
        self = kind
    }

    /// brainstate's constructor arguments for this kind, in brainstate's order (the keys a config may set).
    public var arguments: [PriorArgument] {
        switch self {
        case .gaussian: return [.mean, .std, .weight, .fitHyper]
        case .l1, .l2, .orthogonal: return [.weight, .fitHyper]
        case .entropy: return [.weight, .maximize, .fitHyper]
        case .elasticNet: return [.l1Weight, .l2Weight, .alpha, .fitHyper]
        case .huber: return [.weight, .delta, .fitHyper]
        case .groupLasso: return [.weight, .groupSize, .fitHyper]
        case .totalVariation: return [.weight, .order, .fitHyper]
        case .maxNorm: return [.weight, .maxValue, .fitHyper]
        case .spectralNorm: return [.weight, .maxValue, .nPowerIterations, .fitHyper]
        case .studentT: return [.weight, .df, .scale, .fitHyper]
        case .cauchy: return [.weight, .scale, .fitHyper]
        case .uniform: return [.weight, .lower, .upper, .fitHyper]
        case .logNormal: return [.weight, .mu, .sigma, .fitHyper]
        case .exponential: return [.weight, .rate, .fitHyper]
        case .gamma, .inverseGamma: return [.weight, .alpha, .beta, .fitHyper]
        case .beta: return [.weight, .a, .b, .fitHyper]
        case .horseshoe: return [.weight, .tau, .fitHyper]
        case .logUniform: return [.weight, .lower, .upper, .fitHyper]
        case .spikeAndSlab: return [.weight, .spikeScale, .slabScale, .pi, .fitHyper]
        case .dirichlet: return [.weight, .alpha, .fitHyper]
        case .chain: return [.weight, .fitHyper]
        }
    }

    /// brainstate's default for `argument` (nil if the kind has no such argument). `GaussianReg`
    /// requires mean and std; hebbd defaults them to 0 and 1.
    public func defaultValue(of argument: PriorArgument) -> PriorArgumentValue? {
        guard arguments.contains(argument) else { return nil }
        switch (self, argument) {
        case (_, .fitHyper): return .flag(false)
        case (_, .weight): return .numbers([1])
        case (.gaussian, .mean): return .numbers([0])
        case (.gaussian, .std): return .numbers([1])
        case (.elasticNet, .l1Weight), (.elasticNet, .l2Weight): return .numbers([1])
        case (.elasticNet, .alpha): return .numbers([0.5])
        case (.huber, .delta): return .numbers([1])
        case (.groupLasso, .groupSize): return .integer(1)
        case (.totalVariation, .order): return .integer(1)
        case (.maxNorm, .maxValue), (.spectralNorm, .maxValue): return .numbers([1])
        case (.spectralNorm, .nPowerIterations): return .integer(1)
        case (.entropy, .maximize): return .flag(true)
        case (.studentT, .df): return .numbers([3])
        case (.studentT, .scale), (.cauchy, .scale): return .numbers([1])
        case (.uniform, .lower): return .numbers([-1])
        case (.uniform, .upper): return .numbers([1])
        case (.logNormal, .mu): return .numbers([0])
        case (.logNormal, .sigma): return .numbers([1])
        case (.exponential, .rate): return .numbers([1])
        case (.gamma, .alpha), (.inverseGamma, .alpha): return .numbers([2])
        case (.gamma, .beta), (.inverseGamma, .beta): return .numbers([1])
        case (.beta, .a), (.beta, .b): return .numbers([2])
        case (.horseshoe, .tau): return .numbers([1])
        case (.logUniform, .lower): return .numbers([1e-3])
        case (.logUniform, .upper): return .numbers([1e3])
        case (.spikeAndSlab, .spikeScale): return .numbers([0.01])
        case (.spikeAndSlab, .slabScale): return .numbers([1])
        case (.spikeAndSlab, .pi): return .numbers([0.5])
        case (.dirichlet, .alpha): return .numbers([1])
        default: return nil
        }
    }

    /// The numeric values the runtime prior stores, in a fixed order, named as brainstate stores them.
    /// Every argument except `weight` (kept apart) and the integer and flag arguments; `GaussianReg`
    /// stores `precision` = 1/(std² + 1e-8) in place of std.
    public var storedHyperParameters: [String] {
        switch self {
        case .gaussian: return ["mean", "precision"]
        case .chain: return []
        default:
            return arguments.filter { $0 != .weight && $0.isNumeric }.map(\.rawValue)
        }
    }

    /// The stored hyper-parameters `fit_hyper = true` trains (brainstate's ParamStates). `weight` never is.
    public var trainableHyperParameters: [String] {
        switch self {
        case .gaussian: return ["mean", "precision"]
        case .elasticNet: return ["alpha"]
        case .huber: return ["delta"]
        case .maxNorm, .spectralNorm: return ["max_value"]
        case .studentT: return ["df", "scale"]
        case .cauchy: return ["scale"]
        case .horseshoe: return ["tau"]
        case .uniform, .logUniform: return ["lower", "upper"]
        case .logNormal: return ["mu", "sigma"]
        case .exponential: return ["rate"]
        case .gamma, .inverseGamma: return ["alpha", "beta"]
        case .beta: return ["a", "b"]
        case .spikeAndSlab: return ["spike_scale", "slab_scale", "pi"]
        case .dirichlet: return ["alpha"]
        case .l1, .l2, .groupLasso, .totalVariation, .entropy, .orthogonal, .chain: return []
        }
    }

    /// Whether the kind has a proximal operator for `update = "proximal"` (L1, the L1 part of the
    /// elastic net, group lasso). A chain has one if any component has.
    public var hasProximalOperator: Bool {
        switch self {
        case .l1, .elasticNet, .groupLasso: return true
        default: return false
        }
    }
}

/// brainstate's constructor argument names: the keys of a `[model.prior]` table.
public enum PriorArgument: String, Sendable, Codable, CaseIterable, CodingKeyRepresentable {
    case weight, mean, std, df, scale, delta
    case groupSize = "group_size"
    case order
    case maxValue = "max_value"
    case maximize, lower, upper, mu, sigma, rate, alpha, beta, a, b, tau
    case spikeScale = "spike_scale"
    case slabScale = "slab_scale"
    case pi
    case l1Weight = "l1_weight"
    case l2Weight = "l2_weight"
    case nPowerIterations = "n_power_iterations"
    case fitHyper = "fit_hyper"

    /// Whether the argument is a number or array of numbers (not an integer count or a flag).
    public var isNumeric: Bool {
        switch self {
        case .groupSize, .order, .nPowerIterations, .maximize, .fitHyper: return false
        default: return true
        }
    }

    /// Whether the argument must be one number (a loss weight or a bound on a whole-matrix norm);
    /// the others may also be one value per coefficient.
    public var isScalarOnly: Bool {
        switch self {
        case .weight, .maxValue: return true
        default: return false
        }
    }
}

/// The value of one prior argument.
public enum PriorArgumentValue: Sendable, Equatable, Codable {
    /// One number, or one per coefficient (row-major dict_dim × sys_dim).
    case numbers([Double])
    /// A count (`group_size`, `order`, `n_power_iterations`).
    case integer(Int)
    /// A switch (`maximize`, `fit_hyper`).
    case flag(Bool)

    private enum CodingKeys: String, CodingKey {
        case numbers, integer, flag
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let numbers = try container.decodeIfPresent([Double].self, forKey: .numbers) {
            self = .numbers(numbers)
        } else if let integer = try container.decodeIfPresent(Int.self, forKey: .integer) {
            self = .integer(integer)
        } else if let flag = try container.decodeIfPresent(Bool.self, forKey: .flag) {
            self = .flag(flag)
        } else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "a prior argument needs one of numbers, integer or flag"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case let .numbers(values): try container.encode(values, forKey: .numbers)
        case let .integer(value): try container.encode(value, forKey: .integer)
        case let .flag(value): try container.encode(value, forKey: .flag)
        }
    }

    /// A short rendering for error messages.
    public var description: String {
        switch self {
        case let .numbers(values): return values.count == 1 ? "\(values[0])" : "\(values.count) values"
        case let .integer(value): return "\(value)"
        case let .flag(value): return "\(value)"
        }
    }
}
