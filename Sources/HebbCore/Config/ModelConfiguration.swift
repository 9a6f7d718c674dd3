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

    /// `batch_size` when the key is absent: large enough for a stable gradient from a sum over rows,
    /// small enough to publish often.
    package static let defaultBatchSize = 50

    /// A model configuration; no validation (the decoders validate).
    package init(name: String, batchSize: Int = ModelConfiguration.defaultBatchSize, circuit: CircuitConfiguration) {
        self.name = name
        self.batchSize = batchSize
        self.circuit = circuit
    }

    /// Whether `name` can be a model name. The name becomes a ZeroMQ topic segment (`coef/<name>/`), and
    /// SUB filters are byte prefixes, so `/`, spaces and other separators are excluded.
    package static func isValidName(_ name: String) -> Bool {
        // Not starting with "." either: the name is also a directory under state_dir ("..", hidden files).
        !name.isEmpty && name.utf8.count <= 64 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0)) }
    }

    static let keys = ["name", "kind", "dict_dim", "sys_dim", "batch_size", "epochs", "optim", "lr", "lmbda", "l1_ratio",
                       "threshold", "weight_fill", "update", "prune", "init", "seed", "standardize", "intercept",
                       "intercept_lr", "prior"]
    static let priorKeys = ["kind", "mean", "std", "weight", "fit_hyper"]

    /// The prior families a `[model.prior]` may name.
    enum PriorKind: String, CaseIterable { case gaussian }

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
        let name = try r.string("name")
        guard isValidName(name) else {
            throw r.invalid("name", "1–64 characters from A–Z a–z 0–9 _ . - (the name is a topic segment)", ConfigValue.quoted(name))
        }
        // Sizes are bounded by Int32 because CBLAS takes `int` dimensions.
        let sizes: ClosedRange<Int64> = 1...Int64(Int32.max)
        let kind: RegressionKind = try r.choice("kind")
        let dictDim = try r.integer("dict_dim", in: sizes)
        let sysDim = try r.integer("sys_dim", default: 1, in: sizes)
        guard dictDim * sysDim <= Int(Int32.max) else {
            throw r.invalid("sys_dim", "dict_dim × sys_dim ≤ \(Int32.max)", "\(sysDim) (with dict_dim = \(dictDim))")
        }
        var circuit = CircuitConfiguration(kind: kind, dictDim: dictDim, sysDim: sysDim)
        let batchSize = try r.integer("batch_size", default: defaultBatchSize, in: sizes)
        circuit.epochs = try r.integer("epochs", default: circuit.epochs, in: sizes)
        circuit.optimizer = try r.choice("optim", default: circuit.optimizer)
        circuit.learningRate = try r.float("lr", default: circuit.learningRate)
        circuit.lmbda = try r.float("lmbda", default: circuit.lmbda)
        circuit.l1Ratio = try r.float("l1_ratio", default: circuit.l1Ratio)
        circuit.threshold = try r.float("threshold", default: circuit.threshold)
        circuit.weightFill = try r.float("weight_fill", default: circuit.weightFill)
        circuit.update = try r.choice("update", default: circuit.update)
        circuit.prune = try r.bool("prune", default: circuit.prune)
        circuit.initialization = try r.choice("init", default: circuit.initialization)
        circuit.seed = UInt64(try r.integer("seed", default: 0, in: 0...Int64.max))
        circuit.standardize = try r.bool("standardize", default: circuit.standardize)
        circuit.intercept = try r.bool("intercept", default: circuit.intercept)
        if r.peek("intercept_lr") != nil { circuit.interceptLearningRate = try r.float("intercept_lr", default: circuit.learningRate) }

        let priorLabel = label + ".prior"
        if let table = try r.table("prior") {
            let p = try TableReader(table, file: file, table: priorLabel, known: priorKeys)
            let _: PriorKind = try p.choice("kind", default: .gaussian)
            let defaults = GaussianPrior.Configuration()
            circuit.prior = GaussianPrior.Configuration(
                mean: try p.coefficients("mean", default: defaults.mean, rows: dictDim, columns: sysDim),
                std: try p.coefficients("std", default: defaults.std, rows: dictDim, columns: sysDim),
                weight: try p.float("weight", default: defaults.weight),
                fitHyper: try p.bool("fit_hyper", default: defaults.fitHyper))
        }

        // The core owns the ranges (lr > 0, l1_ratio in [0, 1], std > 0, …); only its parameter names are
        // translated to the file's table and key.
        do throws(CircuitError) {
            try circuit.validate()
        } catch {
            switch error {
            case let .invalidParameter(parameter, value, expected):
                let inPrior = parameter.hasPrefix("prior.")
                let key = inPrior ? String(parameter.dropFirst(6)) : parameter
                // Quote a scalar as the user wrote it (`-1`, not the Float's `-1.0`); for arrays the core's
                // value names the offending element.
                var written: ConfigValue?
                if inPrior, case let .table(prior)? = r.peek("prior") { written = prior[key] } else if !inPrior { written = r.peek(key) }
                let got: String
                switch written {
                case .integer?, .float?, .string?: got = written!.literal
                default: got = value
                }
                throw .invalidValue(file: file, table: inPrior ? priorLabel : label, key: key, expected: expected, got: got)
            default:
                throw .invalidValue(file: file, table: label, key: "(model)", expected: "a valid circuit", got: error.description)
            }
        }
        return ModelConfiguration(name: name, batchSize: batchSize, circuit: circuit)
    }

    /// The model as a config table with every key explicit, for the control `models` reply
    /// (``ConfigValue/jsonText``) and checkpoints. It decodes back to an equal configuration.
    ///
    /// Floats are written through their shortest decimal form (0.01, not 0.009999999776), which converts
    /// back to the same `Float`. Seeds above `Int64.max` cannot be written in a config; they come out
    /// negative and are rejected on re-decoding rather than silently changed.
    package var configValue: ConfigValue {
        func number(_ x: Float) -> ConfigValue { .float(Double(x.description) ?? Double(x)) }
        func numbers(_ xs: [Float]) -> ConfigValue { xs.count == 1 ? number(xs[0]) : .array(xs.map(number)) }
        let c = circuit
        var table: ConfigTable = [
            "name": .string(name), "kind": .string(c.kind.rawValue),
            "dict_dim": .integer(Int64(c.dictDim)), "sys_dim": .integer(Int64(c.sysDim)),
            "batch_size": .integer(Int64(batchSize)), "epochs": .integer(Int64(c.epochs)),
            "optim": .string(c.optimizer.rawValue), "lr": number(c.learningRate), "lmbda": number(c.lmbda),
            "l1_ratio": number(c.l1Ratio), "threshold": number(c.threshold), "weight_fill": number(c.weightFill),
            "update": .string(c.update.rawValue), "prune": .bool(c.prune), "init": .string(c.initialization.rawValue),
            "seed": .integer(Int64(bitPattern: c.seed)),
            "standardize": .bool(c.standardize), "intercept": .bool(c.intercept),
        ]
        if let rate = c.interceptLearningRate { table["intercept_lr"] = number(rate) }
        if let p = c.prior {
            table["prior"] = ["kind": .string(PriorKind.gaussian.rawValue), "mean": numbers(p.mean), "std": numbers(p.std),
                              "weight": number(p.weight), "fit_hyper": .bool(p.fitHyper)]
        }
        return .table(table)
    }
}
