import HebbianRegression

/// A `[limits]` value a model (or a set of models) would exceed.
package struct ResourceLimitViolation: Error, Sendable, Equatable, CustomStringConvertible {
    /// The config key, e.g. `limits.max_memory_bytes`.
    package var limit: String
    /// Its value.
    package var maximum: Int
    /// What would be needed.
    package var needed: Int
    /// What is counted.
    package var what: String
    package var description: String { "\(limit) = \(maximum) is exceeded: \(needed) \(what) would be needed" }
}

/// Why a model cannot be added.
package enum ModelAdmissionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A model of that name exists.
    case duplicate(String)
    /// It would exceed a `[limits]` value (checked before anything is allocated).
    case limit(ResourceLimitViolation)
    /// The configuration or snapshot is not a valid circuit.
    case invalid(CircuitError)

    package var description: String {
        switch self {
        case let .duplicate(name): return "a model named \"\(name)\" exists"
        case let .limit(violation): return violation.description
        case let .invalid(error): return error.description
        }
    }
}

/// The `[limits]` every set of running models must fit, and the figures they are checked with.
package struct ModelLimits: Sendable, Equatable {
    /// `limits.max_models`.
    package var maxModels: Int
    /// `limits.max_memory_bytes` (``ModelFootprint``).
    package var maxMemoryBytes: Int
    /// `limits.max_model_weights`.
    package var maxModelWeights: Int
    /// The publish format (the footprint counts the encoder's buffers).
    package var publishFormat: PublishFormat

    /// The limits of the engine settings.
    package init(_ settings: EngineSettings) {
        maxModels = settings.maxModels
        maxMemoryBytes = settings.maxMemoryBytes
        maxModelWeights = settings.maxModelWeights
        publishFormat = settings.publishFormat
    }

    /// Which limit a daemon running exactly `models` would break, with the figures; nil when they fit.
    package func violation(by models: [ModelConfiguration]) -> ResourceLimitViolation? {
        if models.count > maxModels {
            return ResourceLimitViolation(limit: "limits.max_models", maximum: maxModels, needed: models.count, what: "models")
        }
        var total = 0
        for model in models {
            let weights = model.circuit.dictDim.multipliedReportingOverflow(by: model.circuit.sysDim)
            if weights.overflow || weights.partialValue > maxModelWeights {
                return ResourceLimitViolation(limit: "limits.max_model_weights", maximum: maxModelWeights,
                                              needed: weights.overflow ? .max : weights.partialValue,
                                              what: "coefficients in model \"\(model.name)\" (dict_dim × sys_dim)")
            }
            total = total.addingReportingOverflow(ModelFootprint.bytes(of: model, publishFormat: publishFormat)).partialValue
        }
        if total > maxMemoryBytes {
            return ResourceLimitViolation(limit: "limits.max_memory_bytes", maximum: maxMemoryBytes, needed: total,
                                          what: "bytes for the models' state, batch buffers and caches")
        }
        return nil
    }
}

/// The live models, by name and in the order they were added, with the limits they must fit.
///
/// Every way a model's configuration can change — `add`, `set`, a reload — asks the registry first: the limits
/// (``admissionViolation(_:)``, ``violation(replacing:)``) and the reconfigure rules (``reconfigureRefusal(_:to:)``)
/// are written once, here.
package struct ModelRegistry {
    /// Live models by name.
    package private(set) var runners: [String: ModelRunner] = [:]
    /// Model names in the order they were added (for stable listings).
    package private(set) var names: [String] = []
    /// Names of the models the config file defines (set by the driver at start, by a reload after).
    package var configuredNames: Set<String> = []
    /// The limits in force.
    package let limits: ModelLimits
    /// Instances handed out so far (a model removed and added again is a new instance).
    private var instances = 0

    /// An empty registry.
    package init(limits: ModelLimits) { self.limits = limits }

    /// The model named `name`.
    package subscript(name: String) -> ModelRunner? { runners[name] }

    /// The models in the order they were added.
    package var ordered: [ModelRunner] { names.compactMap { runners[$0] } }

    /// The configurations of the models, in order.
    package var configurations: [ModelConfiguration] { ordered.map(\.configuration) }

    /// The memory the running models take, as ``ModelFootprint`` estimates it.
    package var memoryInUse: Int {
        runners.values.reduce(0) { $0 &+ ModelFootprint.bytes(of: $1.configuration, publishFormat: limits.publishFormat) }
    }

    /// Which limit adding `model` to the running ones would break.
    package func admissionViolation(_ model: ModelConfiguration) -> ResourceLimitViolation? {
        limits.violation(by: configurations + [model])
    }

    /// Which limit the running models would break if `model` replaced the one of its name.
    package func violation(replacing model: ModelConfiguration) -> ResourceLimitViolation? {
        limits.violation(by: ordered.map { $0.name == model.name ? model : $0.configuration })
    }

    /// Why `runner` cannot take `new` in place (nil: it can): the one check of `set` and of a reload's dry run,
    /// made before anything changes. The limits are checked by the caller, which knows the whole set of models.
    package func reconfigureRefusal(_ runner: ModelRunner, to new: ModelConfiguration) -> String? {
        let old = runner.configuration
        do { try new.validate() } catch { return "\(error)" }
        if let why = old.incompatibility(with: new) {
            return "\(why); remove it first or restart with --reset-model \(new.name)"
        }
        if new.batchSize != old.batchSize && runner.pendingRows >= new.batchSize {
            return "batch_size \(new.batchSize) is below the \(runner.pendingRows) rows buffered"
        }
        return nil
    }

    /// Adds a runner under its name and gives it a new instance number.
    mutating func insert(_ runner: ModelRunner) {
        instances += 1
        runner.instance = instances
        runners[runner.name] = runner
        names.append(runner.name)
    }

    /// Removes the model named `name`, returning it.
    mutating func remove(_ name: String) -> ModelRunner? {
        guard let runner = runners.removeValue(forKey: name) else { return nil }
        names.removeAll { $0 == name }
        return runner
    }
}
