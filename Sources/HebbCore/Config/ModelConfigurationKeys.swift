import HebbianRegression

/// One key of a model's configuration: its name as in the config file, how it is written and how it is read.
///
/// ``ModelConfiguration/configurationKeys`` is the one table of them, in the order keys are read and written.
/// Every place that turns a model's configuration into key/value form goes through it: the `[[model]]` decoder
/// and the control `add`/`set` (``read``), ``ModelConfiguration/configValue`` and thus `set` and round trips
/// (``value``), the control `models` reply (``reply``) and the checkpoint header's circuit object
/// (``checkpoint``). The representation is the config file's: its keys, its types (the seed an integer, floats
/// in their shortest decimal form). Two places keep a representation frozen by an earlier release, and say so
/// in their column: the `models` reply (`prior` a boolean beside `prior_config`, `intercept_lr` always the rate
/// in force) and the checkpoint header (byte-compatible: floats as exact doubles, the seed as a decimal string,
/// the prior as its `Codable` JSON). The header's version-1 key aliases stay apart, in
/// `CheckpointFormat.CircuitKeys.version1`: files written before the header was explicit.
package struct ModelConfigurationKey: Sendable {
    /// The key, as in a config file (`dict_dim`).
    package let name: String
    /// The key's value in the config file's types; nil where the configuration leaves the key out (an
    /// `intercept_lr` that follows `lr`, no prior, no drift alarm).
    package let value: @Sendable (ModelConfiguration) -> ConfigValue?
    /// The key's members in the control `models` reply: by default the key with its ``value`` (JSON `null`
    /// when absent), so every key is listed.
    package let reply: @Sendable (ModelConfiguration) -> [(String, JSON)]
    /// The key in a checkpoint header's `circuit` object (frozen format), nil for keys the header keeps elsewhere
    /// (`name`, `batch_size`, `drift` sit beside the circuit, `intercept_lr` is a payload array).
    let checkpoint: (@Sendable (CircuitConfiguration) -> JSON)?
    /// Reads the key from a model table into the configuration being decoded (absent: its default).
    let read: @Sendable (TableReader, inout ModelConfiguration, ModelTableContext) throws(ConfigError) -> Void

    init(_ name: String, value: @escaping @Sendable (ModelConfiguration) -> ConfigValue?,
         reply: (@Sendable (ModelConfiguration) -> [(String, JSON)])? = nil,
         checkpoint: (@Sendable (CircuitConfiguration) -> JSON)?,
         read: @escaping @Sendable (TableReader, inout ModelConfiguration, ModelTableContext) throws(ConfigError) -> Void) {
        self.name = name
        self.value = value
        self.reply = reply ?? { [(name, value($0)?.json ?? .null)] }
        self.checkpoint = checkpoint
        self.read = read
    }
}

/// Where a model table being decoded comes from, for errors and for the nested tables' decoders.
struct ModelTableContext {
    /// The file name (or `control request`).
    var file: String
    /// The table's label in messages: `[[model]] "m"`.
    var label: String
}

extension ModelConfigurationKey {
    /// Sizes are bounded by Int32 because CBLAS takes `int` dimensions.
    static let sizes: ClosedRange<Int64> = 1...Int64(Int32.max)

    /// A Float in its shortest decimal form (0.01, not 0.009999999776), which converts back to the same Float.
    static func number(_ x: Float) -> ConfigValue { .float(Double(x.description) ?? Double(x)) }

    /// A Float in a checkpoint header: the exact double (informational; the payload holds the bits).
    static func exact(_ x: Float) -> JSON { .number(Double(x)) }

    /// An integer key of the circuit; absent keeps the circuit's default.
    static func integer(_ name: String, _ path: WritableKeyPath<CircuitConfiguration, Int> & Sendable,
                        in range: ClosedRange<Int64>) -> ModelConfigurationKey {
        ModelConfigurationKey(name, value: { .integer(Int64($0.circuit[keyPath: path])) },
                              checkpoint: { .integer(Int64($0[keyPath: path])) },
                              read: { (r, m, _) throws(ConfigError) in
                                  m.circuit[keyPath: path] = try r.integer(name, default: m.circuit[keyPath: path], in: range)
                              })
    }

    /// A number key of the circuit, stored as Float.
    static func float(_ name: String, _ path: WritableKeyPath<CircuitConfiguration, Float> & Sendable) -> ModelConfigurationKey {
        ModelConfigurationKey(name, value: { number($0.circuit[keyPath: path]) }, checkpoint: { exact($0[keyPath: path]) },
                              read: { (r, m, _) throws(ConfigError) in
                                  m.circuit[keyPath: path] = try r.float(name, default: m.circuit[keyPath: path])
                              })
    }

    /// A Boolean key of the circuit.
    static func bool(_ name: String, _ path: WritableKeyPath<CircuitConfiguration, Bool> & Sendable) -> ModelConfigurationKey {
        ModelConfigurationKey(name, value: { .bool($0.circuit[keyPath: path]) }, checkpoint: { .bool($0[keyPath: path]) },
                              read: { (r, m, _) throws(ConfigError) in
                                  m.circuit[keyPath: path] = try r.bool(name, default: m.circuit[keyPath: path])
                              })
    }

    /// A key of the circuit that takes one of an enum's raw values.
    static func choice<E: RawRepresentable & CaseIterable & Sendable>(
        _ name: String, _ path: WritableKeyPath<CircuitConfiguration, E> & Sendable
    ) -> ModelConfigurationKey where E.RawValue == String {
        ModelConfigurationKey(name, value: { .string($0.circuit[keyPath: path].rawValue) },
                              checkpoint: { .string($0[keyPath: path].rawValue) },
                              read: { (r, m, _) throws(ConfigError) in
                                  m.circuit[keyPath: path] = try r.choice(name, default: m.circuit[keyPath: path])
                              })
    }
}

extension ModelConfigurationKey {
    /// Which models an uncertainty key (`noise_std`, `fit_noise`, `smoothing`, `uncertainty`, `uncertainty_level`) means something for.
    enum Audience {
        /// `kind = "bayesian"` only.
        case bayesian
        /// Any model that publishes uncertainty (bayesian, or a sparse kind with `uncertainty = true`).
        case uncertainty

        func includes(_ m: ModelConfiguration) -> Bool { self == .bayesian ? m.isBayesian : m.publishesUncertainty }

        var description: String {
            self == .bayesian ? "kind = \"bayesian\"" : "kind = \"bayesian\", or a lasso, ridge or elastic_net with uncertainty = true"
        }
    }

    /// A key that only `audience` has: absent from the other models' tables (and null in their `models` reply),
    /// refused when given to them.
    static func learner(_ name: String, for audience: Audience, value: @escaping @Sendable (ModelConfiguration) -> ConfigValue?,
                        read: @escaping @Sendable (TableReader, inout ModelConfiguration) throws(ConfigError) -> Void) -> ModelConfigurationKey {
        ModelConfigurationKey(name, value: { audience.includes($0) ? value($0) : nil }, checkpoint: nil,
                              read: { (r, m, _) throws(ConfigError) in
            if audience.includes(m) { return try read(r, &m) }
            if let given = r.peek(name) { throw r.invalid(name, "no \(name) here: it is a key of \(audience.description)", given.literal) }
        })
    }

    /// This circuit key for the circuit kinds only: a bayesian model has no optimiser, penalty, threshold or
    /// initial weights, so its table leaves the key out and a table that gives it is refused (a contradiction,
    /// not a value to ignore).
    var circuitOnly: ModelConfigurationKey {
        let inner = self, name = self.name
        return ModelConfigurationKey(name, value: { $0.isBayesian ? nil : inner.value($0) },
                                     reply: { m in m.isBayesian ? inner.reply(m).map { ($0.0, JSON.null) } : inner.reply(m) },
                                     checkpoint: inner.checkpoint, read: { (r, m, context) throws(ConfigError) in
            guard m.isBayesian else { return try inner.read(r, &m, context) }
            if let given = r.peek(name) {
                throw r.invalid(name, "no \(name) for kind = \"bayesian\" (the exact posterior has no optimiser, penalty, threshold or initial weights)",
                                given.literal)
            }
        })
    }
}

extension ModelConfiguration {
    /// Every key of a model's configuration, in the order they are read (a key's default may depend on an earlier
    /// one: `kind` sets the threshold's, `lr` the intercept's rate, the shape the prior's) and written.
    package static let configurationKeys: [ModelConfigurationKey] = [
        ModelConfigurationKey("name", value: { .string($0.name) }, checkpoint: nil, read: { (r, m, _) throws(ConfigError) in
            m.name = try r.string("name")
            guard isValidName(m.name) else {
                throw r.invalid("name", "1–64 characters from A–Z a–z 0–9 _ . - (the name is a topic segment)", ConfigValue.quoted(m.name))
            }
        }),
        ModelConfigurationKey("kind", value: { .string($0.kindName) }, checkpoint: { .string($0.kind.rawValue) },
                              read: { (r, m, _) throws(ConfigError) in
            let names = RegressionKind.allCases.map(\.rawValue) + [bayesianKind]
            let expected = "one of " + names.map(ConfigValue.quoted).joined(separator: ", ")
            let name = try r.read("kind", nil, expected, { if case let .string(s) = $0 { s } else { nil } })
            // A fresh circuit of this kind: ngclearn's defaults, the threshold's included. A bayesian model keeps
            // only the circuit's shape, prior, standardize and intercept (its kind is a placeholder).
            m.isBayesian = name == bayesianKind
            guard let kind = m.isBayesian ? .ridge : RegressionKind(rawValue: name) else {
                throw r.invalid("kind", expected, ConfigValue.quoted(name))
            }
            m.circuit = CircuitConfiguration(kind: kind, dictDim: m.circuit.dictDim, sysDim: m.circuit.sysDim)
        }),
        ModelConfigurationKey("dict_dim", value: { .integer(Int64($0.circuit.dictDim)) }, checkpoint: { .integer(Int64($0.dictDim)) },
                              read: { (r, m, _) throws(ConfigError) in
            m.circuit.dictDim = try r.integer("dict_dim", in: ModelConfigurationKey.sizes)
        }),
        ModelConfigurationKey("sys_dim", value: { .integer(Int64($0.circuit.sysDim)) }, checkpoint: { .integer(Int64($0.sysDim)) },
                              read: { (r, m, _) throws(ConfigError) in
            let sysDim = try r.integer("sys_dim", default: 1, in: ModelConfigurationKey.sizes)
            guard m.circuit.dictDim * sysDim <= Int(Int32.max) else {
                throw r.invalid("sys_dim", "dict_dim × sys_dim ≤ \(Int32.max)", "\(sysDim) (with dict_dim = \(m.circuit.dictDim))")
            }
            m.circuit.sysDim = sysDim
        }),
        ModelConfigurationKey("batch_size", value: { .integer(Int64($0.batchSize)) }, checkpoint: nil, read: { (r, m, _) throws(ConfigError) in
            m.batchSize = try r.integer("batch_size", default: defaultBatchSize, in: ModelConfigurationKey.sizes)
        }),
        .integer("epochs", \.epochs, in: ModelConfigurationKey.sizes).circuitOnly,
        .choice("optim", \.optimizer).circuitOnly,
        .float("lr", \.learningRate).circuitOnly,
        .float("lmbda", \.lmbda).circuitOnly,
        .float("l1_ratio", \.l1Ratio).circuitOnly,
        .float("threshold", \.threshold).circuitOnly,
        .float("weight_fill", \.weightFill).circuitOnly,
        .choice("update", \.update).circuitOnly,
        .bool("prune", \.prune).circuitOnly,
        .choice("init", \.initialization).circuitOnly,
        // Seeds above Int64.max cannot be written in a config; they come out negative and are refused on
        // re-decoding rather than silently changed. The checkpoint header keeps its decimal string (exact in
        // every JSON reader).
        ModelConfigurationKey("seed", value: { .integer(Int64(bitPattern: $0.circuit.seed)) }, checkpoint: { .string(String($0.seed)) },
                              read: { (r, m, _) throws(ConfigError) in
            m.circuit.seed = UInt64(try r.integer("seed", default: 0, in: 0...Int64.max))
        }).circuitOnly,
        .bool("standardize", \.standardize),
        .bool("intercept", \.intercept),
        // Absent: the intercept follows `lr` (also after a `set` of lr). The `models` reply shows the rate in force.
        ModelConfigurationKey("intercept_lr", value: { $0.circuit.interceptLearningRate.map(ModelConfigurationKey.number) },
                              reply: { [("intercept_lr", ModelConfigurationKey.number($0.circuit.interceptLearningRate ?? $0.circuit.learningRate).json)] },
                              checkpoint: nil, read: { (r, m, _) throws(ConfigError) in
            if r.peek("intercept_lr") != nil { m.circuit.interceptLearningRate = try r.float("intercept_lr", default: m.circuit.learningRate) }
        }).circuitOnly,
        // The uncertainty keys (Configs/hebbd.toml, docs/MATH.md §10–11): read after `kind`, which decides which of them mean
        // anything; a key that means nothing for the model's kind is refused, never ignored. The checkpoint header
        // keeps them under model_configuration.learner (``learnerKeys``).
        ModelConfigurationKey("uncertainty", value: { $0.isBayesian ? nil : .bool($0.uncertainty) },
                              reply: { [("uncertainty", .bool($0.publishesUncertainty))] }, checkpoint: nil,
                              read: { (r, m, _) throws(ConfigError) in
            let on = try r.bool("uncertainty", default: m.isBayesian)
            if m.isBayesian && !on {
                throw r.invalid("uncertainty", "true or absent: kind = \"bayesian\" always publishes its uncertainty", "false")
            }
            m.uncertainty = !m.isBayesian && on
        }),
        .learner("noise_std", for: .bayesian, value: { .float($0.noiseStd) }) { (r, m) throws(ConfigError) in
            m.noiseStd = try r.number("noise_std", default: 1)
        },
        .learner("fit_noise", for: .bayesian, value: { .bool($0.fitNoise) }) { (r, m) throws(ConfigError) in
            m.fitNoise = try r.bool("fit_noise", default: false)
        },
        .learner("smoothing", for: .uncertainty, value: { $0.smoothing.map(ConfigValue.float) }) { (r, m) throws(ConfigError) in
            m.smoothing = r.peek("smoothing") == nil ? nil : try r.number("smoothing")
        },
        .learner("uncertainty_level", for: .uncertainty, value: { .float($0.uncertaintyLevel) }) { (r, m) throws(ConfigError) in
            m.uncertaintyLevel = try r.number("uncertainty_level", default: 0.95)
        },
        // A table, or for a chain an array of tables. The `models` reply has always said whether there is a prior
        // under `prior` and shown its table under `prior_config`.
        ModelConfigurationKey("prior", value: { $0.circuit.prior.map(PriorTable.configValue) },
                              reply: { [("prior", .bool($0.circuit.prior != nil)), ("prior_config", $0.circuit.prior.map { PriorTable.configValue($0).json } ?? .null)] },
                              checkpoint: { $0.prior.map { CheckpointFormat.codableJSON($0) } ?? .null },
                              read: { (r, m, context) throws(ConfigError) in
            guard let prior = r.raw("prior") else { return }
            m.circuit.prior = try PriorTable.decode(prior, file: context.file, label: context.label,
                                                    rows: m.circuit.dictDim, columns: m.circuit.sysDim)
        }),
        ModelConfigurationKey("drift", value: { $0.drift?.configValue }, checkpoint: nil, read: { (r, m, context) throws(ConfigError) in
            m.drift = try r.table("drift").map { (table) throws(ConfigError) in try DriftAlarm.decode(table, file: context.file, label: context.label) }
        }),
    ]

    /// The keys' names, in table order (what a model table may contain).
    static let keys = configurationKeys.map(\.name)

    /// The keys a checkpoint header keeps under `model_configuration.learner` (with `kind`): what the circuit
    /// object cannot say about a bayesian model or a sparse one with uncertainty.
    static let learnerKeys = ["kind", "uncertainty", "noise_std", "fit_noise", "smoothing", "uncertainty_level"]

    /// The model's members in the control `models` reply, key by key (``ModelConfigurationKey/reply``).
    package var replyMembers: [(String, JSON)] { Self.configurationKeys.flatMap { $0.reply(self) } }
}
