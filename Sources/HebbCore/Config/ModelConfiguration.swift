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

    static let keys = ["name", "kind", "dict_dim", "sys_dim", "batch_size", "epochs", "optim", "lr", "lmbda", "l1_ratio",
                       "threshold", "weight_fill", "update", "prune", "init", "seed", "standardize", "intercept",
                       "intercept_lr", "prior", "drift"]

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

        if let prior = r.raw("prior") {
            circuit.prior = try PriorTable.decode(prior, file: file, label: label, rows: dictDim, columns: sysDim)
        }
        let drift = try r.table("drift").map { (table) throws(ConfigError) in try DriftAlarm.decode(table, file: file, label: label) }

        // The core owns the ranges (lr > 0, l1_ratio in [0, 1], std > 0, …); only its parameter names are
        // translated to the file's table and key.
        do throws(CircuitError) {
            try circuit.validate()
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
        return ModelConfiguration(name: name, batchSize: batchSize, circuit: circuit, drift: drift)
    }

    /// The model as a config table with every key explicit, for the control `models` reply
    /// (``ConfigValue/jsonText``) and checkpoints. It decodes back to an equal configuration.
    ///
    /// Floats are written through their shortest decimal form (0.01, not 0.009999999776), which converts
    /// back to the same `Float`. Seeds above `Int64.max` cannot be written in a config; they come out
    /// negative and are rejected on re-decoding rather than silently changed.
    package var configValue: ConfigValue {
        func number(_ x: Float) -> ConfigValue { .float(Double(x.description) ?? Double(x)) }
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
        if let p = c.prior { table["prior"] = PriorTable.configValue(p) }
        if let drift { table["drift"] = drift.configValue }
        return .table(table)
    }
}
