import HebbianRegression

/// One model the daemon learns: a `[[model]]` table of the config, or the JSON object of a control `add`.
///
/// `name` addresses the model on the wire (ingest frame 0, topic `coef/<name>/`), `batchSize` is the
/// daemon's buffering, and everything about the learning itself is the core's ``CircuitConfiguration``.
package struct ModelConfiguration: Sendable, Equatable, Codable {
    /// Unique model name: 1–64 characters of `A–Z a–z 0–9 _ . -` (see ``isValidName(_:)``).
    package var name: String
    /// Rows per update (`batch_size`); each full batch gets `epochs` optimiser steps.
    package var batchSize: Int
    /// Shape, penalty, optimiser and prior.
    package var circuit: CircuitConfiguration
    /// The drift alarm on the prequential error (`[model.drift]`), nil for none.
    package var drift: DriftAlarm?
    /// `kind = "bayesian"`: the exact conjugate posterior (``BayesianRegression``) learns instead of a circuit. Its
    /// shape, `[model.prior]`, `standardize` and `intercept` are those of ``circuit``, whose optimiser and penalty
    /// keys mean nothing for it (the decoder refuses them; ``circuit``'s `kind` is then an unused placeholder).
    package var isBayesian = false
    /// `uncertainty = true` on a sparse kind: the raw statistics beside the circuit and the relaxed active-set
    /// refit published with every coefficient message (``CircuitUncertainty``). Always implied by `kind = "bayesian"`.
    package var uncertainty = false
    /// `noise_std` (bayesian): the likelihood's noise standard deviation, or `fit_noise`'s starting value.
    package var noiseStd: Double = 1
    /// `fit_noise` (bayesian): estimate the noise variance online from the prequential residuals.
    package var fitNoise = false
    /// `smoothing` s in (0, 1): exponential forgetting of the statistics (bayesian, or a sparse kind with
    /// uncertainty); nil for none.
    package var smoothing: Double?
    /// `uncertainty_level`: the coverage of the published intervals.
    package var uncertaintyLevel: Double = 0.95

    /// Whether the model publishes `std` and `interval` (docs/PROTOCOL.md): every bayesian model, and a sparse one
    /// with `uncertainty = true`.
    package var publishesUncertainty: Bool { isBayesian || uncertainty }

    /// The `kind` key's value: `bayesian`, or the circuit's regression kind.
    package var kindName: String { isBayesian ? ModelConfiguration.bayesianKind : circuit.kind.rawValue }

    /// The `kind` value of the Bayesian model.
    package static let bayesianKind = "bayesian"

    /// The learning core's configuration of a bayesian model, from the shared keys and the bayesian ones.
    package var bayesianConfiguration: BayesianConfiguration {
        var b = BayesianConfiguration(dictDim: circuit.dictDim, sysDim: circuit.sysDim)
        b.prior = circuit.prior
        b.noiseStd = noiseStd
        b.fitNoise = fitNoise
        b.smoothing = smoothing
        b.standardize = circuit.standardize
        b.intercept = circuit.intercept
        b.uncertaintyLevel = uncertaintyLevel
        return b
    }

    /// Why `new` cannot take over this model's learned state (nil: it can): the circuit's rule
    /// (``CircuitConfiguration/incompatibility(with:)``) or the Bayesian model's
    /// (``BayesianConfiguration/incompatibility(with:)``), and the uncertainty statistics, which were weighted by
    /// `smoothing`: turning `uncertainty` on starts them empty (nothing learned is lost), turning it off would
    /// discard them. One rule for `set`, reload and resume.
    package func incompatibility(with new: ModelConfiguration) -> String? {
        if isBayesian != new.isBayesian { return "kind \(kindName) → \(new.kindName)" }
        if isBayesian { return bayesianConfiguration.incompatibility(with: new.bayesianConfiguration) }
        if let why = circuit.incompatibility(with: new.circuit) { return why }
        if uncertainty && !new.uncertainty { return "uncertainty true → false (its statistics would be discarded)" }
        if uncertainty && smoothing != new.smoothing {
            return "smoothing \(smoothing.map { "\($0)" } ?? "off") → \(new.smoothing.map { "\($0)" } ?? "off")"
        }
        return nil
    }

    /// Checks every value: the circuit's (``CircuitConfiguration/validate()``), and the bayesian model's or the
    /// uncertainty's; the error names the offending parameter.
    package func validate() throws(CircuitError) {
        try circuit.validate()
        if isBayesian {
            try bayesianConfiguration.validate()
        } else if uncertainty {
            var check = BayesianConfiguration(dictDim: circuit.dictDim, sysDim: circuit.sysDim)
            check.smoothing = smoothing
            check.uncertaintyLevel = uncertaintyLevel
            try check.validate()
        }
    }

    /// `batch_size` when the key is absent: large enough for a stable gradient from a sum over rows,
    /// small enough to publish often.
    package static let defaultBatchSize = 50

    /// A model configuration; no validation (the decoders validate).
    package init(name: String, batchSize: Int = ModelConfiguration.defaultBatchSize, circuit: CircuitConfiguration, drift: DriftAlarm? = nil) {
        self.name = name
        self.batchSize = batchSize
        self.circuit = circuit
        self.drift = drift
    }

    /// Whether `name` can be a model name. The name becomes a ZeroMQ topic segment (`coef/<name>/`), and
    /// SUB filters are byte prefixes, so `/`, spaces and other separators are excluded.
    package static func isValidName(_ name: String) -> Bool {
        // Not starting with "." either: the name is also a directory under state_dir ("..", hidden files).
        !name.isEmpty && name.utf8.count <= 64 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0)) }
    }

    /// Decodes one model table, e.g. the JSON object of a control `add` after ``ConfigValue/parse(json:source:)``;
    /// `source` (e.g. `control request`) stands for the file name in errors.
    package static func decode(_ value: ConfigValue, source: String) throws(ConfigError) -> ModelConfiguration {
        try decode(value, file: source, index: nil)
    }

    /// Parses and decodes the JSON text of one model object.
    package static func decode(json bytes: [UInt8], source: String) throws(ConfigError) -> ModelConfiguration {
        try decode(ConfigValue.parse(json: bytes, source: source), source: source)
    }

    /// Decodes one model object of an already parsed JSON document (the control `add` command).
    package static func decode(json: JSON, source: String) throws(ConfigError) -> ModelConfiguration {
        try decode(ConfigValue(json: json, source: source), source: source)
    }

    /// `index` is the model's position among the file's `[[model]]` tables, used to name it while its name is unusable.
    static func decode(_ value: ConfigValue, file: String, index: Int?) throws(ConfigError) -> ModelConfiguration {
        guard case let .table(entries) = value else {
            throw .wrongType(file: file, table: "top level", key: index.map { "model[\($0)]" } ?? "model",
                             expected: "a model table", got: value.summary)
        }
        let label: String
        if case let .string(name)? = entries["name"], isValidName(name) {
            label = "[[model]] \(ConfigValue.quoted(name))"
        } else {
            label = "[[model]]" + (index.map { " #\($0 + 1)" } ?? "")
        }
        let r = try TableReader(entries, file: file, table: label, known: keys)
        // Key by key through the one table (ModelConfigurationKeys.swift), each key's default in place first.
        var model = ModelConfiguration(name: "", circuit: CircuitConfiguration(kind: .lasso, dictDim: 1))
        let context = ModelTableContext(file: file, label: label)
        for key in configurationKeys { try key.read(r, &model, context) }
        // The core owns the ranges (lr > 0, l1_ratio in [0, 1], std > 0, …); only its parameter names are
        // translated to the file's table and key.
        do throws(CircuitError) {
            try model.validate()
        } catch {
            switch error {
            case let .invalidParameter(parameter, value, expected):
                let inPrior = PriorTable.locate(parameter)
                let key = inPrior?.key ?? parameter
                // Quote a scalar as the user wrote it (`-1`, not the Float's `-1.0`); for arrays the core's
                // value names the offending element.
                var written: ConfigValue?
                switch (inPrior, r.peek("prior")) {
                case (nil, _): written = r.peek(key)
                case let ((nil, _)?, .table(prior)?): written = prior[key]
                case let ((index?, _)?, .array(items)?) where items.indices.contains(index):
                    if case let .table(prior) = items[index] { written = prior[key] }
                default: break
                }
                let got: String
                switch written {
                case .integer?, .float?, .string?: got = written!.literal
                default: got = value
                }
                let table = inPrior.map { label + ".prior" + ($0.component.map { "[\($0)]" } ?? "") } ?? label
                throw .invalidValue(file: file, table: table, key: key, expected: expected, got: got)
            default:
                throw .invalidValue(file: file, table: label, key: "(model)", expected: "a valid circuit", got: error.description)
            }
        }
        return model
    }

    /// The model as a config table with every key explicit (``configurationKeys``), for `set` and round trips;
    /// ``ConfigValue/jsonText`` of it is the model's JSON for logs and tools. It decodes back to an equal configuration.
    package var configValue: ConfigValue {
        var table = ConfigTable()
        for key in Self.configurationKeys { if let value = key.value(self) { table[key.name] = value } }
        return .table(table)
    }
}
