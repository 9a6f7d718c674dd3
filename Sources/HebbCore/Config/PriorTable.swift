import HebbianRegression

/// `[model.prior]` (one prior) and `[[model.prior]]` (several, summed as brainstate's `ChainedReg`): the
/// config-file form of a ``PriorConfiguration``, shared by TOML files and the JSON of a control `add`.
///
/// A table holds `kind` (brainstate's class name in snake case without `Reg`) and brainstate's constructor
/// arguments by name. The decoded configuration is canonical: every argument of the kind is set explicitly
/// (absent ones to their defaults) and numbers are rounded to Float as the circuit uses them, so a model read
/// from a file, from a `models` reply or from a checkpoint compares equal when it means the same thing.
enum PriorTable {
    /// The kinds a table may name (a chain is written as an array of tables, not as a kind).
    static let kinds = PriorKind.allCases.filter { $0 != .chain }

    /// hebbd's default `weight` of the `gaussian` kind: 0.01, the weight `[model.prior]` has had since
    /// before the other kinds existed (brainstate's `GaussianReg` default is 1.0; see docs/PRIORS.md).
    static let gaussianDefaultWeight = Double(Float(0.01))

    /// Decodes the value of a model's `prior` key: a table (one prior) or a non-empty array of tables (a chain
    /// of weight 1). `label` is the model's table label; errors name `<label>.prior` or `<label>.prior[i]`.
    static func decode(_ value: ConfigValue, file: String, label: String, rows: Int, columns: Int) throws(ConfigError) -> PriorConfiguration {
        switch value {
        case let .table(entries):
            return try component(entries, file: file, table: label + ".prior", rows: rows, columns: columns)
        case let .array(items) where !items.isEmpty:
            var components: [PriorConfiguration] = []
            for (index, item) in items.enumerated() {
                let table = "\(label).prior[\(index)]"
                guard case let .table(entries) = item else {
                    throw .wrongType(file: file, table: label, key: "prior[\(index)]", expected: "a prior table", got: item.summary)
                }
                components.append(try component(entries, file: file, table: table, rows: rows, columns: columns))
            }
            return PriorConfiguration.chain(components)
        default:
            throw .wrongType(file: file, table: label, key: "prior", expected: "a table ([model.prior]) or an array of tables ([[model.prior]])",
                             got: value.summary)
        }
    }

    private static func component(_ entries: ConfigTable, file: String, table: String, rows: Int, columns: Int) throws(ConfigError) -> PriorConfiguration {
        // `kind` first, so that the known keys of the kind can be checked.
        var kindOnly = ConfigTable()
        kindOnly["kind"] = entries["kind"]
        let kindReader = try TableReader(kindOnly, file: file, table: table, known: ["kind"])
        let expected = "one of " + kinds.map { ConfigValue.quoted($0.rawValue) }.joined(separator: ", ")
        let name = try kindReader.read("kind", PriorKind.gaussian.rawValue, expected, { if case let .string(s) = $0 { s } else { nil } })
        guard let kind = PriorKind(rawValue: name), kind != .chain else { throw kindReader.invalid("kind", expected, ConfigValue.quoted(name)) }
        let r = try TableReader(entries, file: file, table: table, known: ["kind"] + kind.arguments.map { $0.rawValue })
        var prior = PriorConfiguration(kind: kind)
        for argument in kind.arguments {
            let key = argument.rawValue
            let value: PriorArgumentValue?
            switch kind.defaultValue(of: argument) {
            case .numbers?:
                // A number, or dict_dim × sys_dim numbers (flat, or dict_dim rows of sys_dim), rounded to Float.
                let numbers = try r.coefficients(key, default: [], rows: rows, columns: columns)
                value = numbers.isEmpty ? nil : PriorArgumentValue.numbers(numbers.map(Double.init))
            case .integer?:
                if r.raw(key) == nil { value = nil } else {
                    let n: Int = try r.read(key, nil, "an integer", { if case let .integer(i) = $0 { Int(exactly: i) } else { nil } })
                    value = .integer(n)
                }
            case .flag?:
                if r.raw(key) == nil { value = nil } else { value = .flag(try r.bool(key)) }
            case nil:
                value = nil
            }
            if let value {
                do throws(CircuitError) {
                    try prior.setArgument(key, to: value)
                } catch {
                    // The reader has checked key and type already; this keeps the core's word if it disagrees.
                    guard case let .invalidParameter(_, _, expected) = error else { throw r.invalid(key, "\(error)", value.description) }
                    throw r.invalid(key, expected, r.raw(key)?.literal ?? value.description)
                }
            } else if kind == .gaussian && argument == .weight {
                prior.arguments[argument] = .numbers([gaussianDefaultWeight])
            } else if let fallback = kind.defaultValue(of: argument) {
                prior.arguments[argument] = rounded(fallback)
            }
        }
        return prior
    }

    /// A default as the config would read it (numbers rounded to Float).
    private static func rounded(_ value: PriorArgumentValue) -> PriorArgumentValue {
        if case let .numbers(xs) = value { return .numbers(xs.map { Double(Float($0)) }) }
        return value
    }

    /// The config value of a prior: a table, or for a chain an array of tables. A chain whose own weight is not
    /// 1 has no config form (config files cannot make one); its components are written as they are.
    static func configValue(_ prior: PriorConfiguration) -> ConfigValue {
        if prior.kind == .chain { return .array(prior.components.map(configValue)) }
        func number(_ x: Double) -> ConfigValue {
            let f = Float(x)
            return .float(Double(f.description) ?? Double(f))
        }
        var table: ConfigTable = ["kind": .string(prior.kind.rawValue)]
        for argument in prior.kind.arguments {
            switch prior.value(of: argument) {
            case let .numbers(xs)?: table[argument.rawValue] = xs.count == 1 ? number(xs[0]) : .array(xs.map(number))
            case let .integer(n)?: table[argument.rawValue] = .integer(Int64(n))
            case let .flag(b)?: table[argument.rawValue] = .bool(b)
            case nil: break
            }
        }
        return .table(table)
    }

    /// Where a core parameter name (`prior.df`, `prior[1].df`) lives: the component index (nil for a single
    /// prior) and the key. Nil for names outside the prior.
    static func locate(_ parameter: String) -> (component: Int?, key: String)? {
        guard parameter.hasPrefix("prior") else { return nil }
        var rest = parameter.dropFirst(5)
        var component: Int?
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]"), let index = Int(rest[rest.index(after: rest.startIndex)..<close]) {
            component = index
            rest = rest[rest.index(after: close)...]
        }
        guard rest.hasPrefix(".") else { return nil }
        return (component, String(rest.dropFirst()))
    }
}
