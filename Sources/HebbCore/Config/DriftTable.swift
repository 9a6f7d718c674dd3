import HebbianRegression

/// What a model does when its drift detector fires (`[model.drift]`'s `action`).
package enum DriftAction: String, Sendable, Equatable, Codable, CaseIterable {
    /// Publish the `drift` event, count and log it; the model keeps learning as it is.
    case alert
    /// The same, and the model goes back to its initial state (its prior's reset value, optimiser cleared).
    case reset
}

/// A model's drift alarm: `[model.drift]` with `detector = "page_hinkley" | "adwin"`, River's parameter names
/// and defaults, and `action`. Fed with each update's prequential MSE (see docs/DRIFT.md).
///
/// These are hyper-parameters of the model, not of its learned state: a reload may change them; a changed
/// detector kind or parameters restarts the detector.
package struct DriftAlarm: Sendable, Equatable, Codable {
    /// The detector and its parameters.
    package var detector: DriftDetectorConfiguration
    /// What happens on drift.
    package var action: DriftAction

    /// An alarm; `alert` unless told otherwise.
    package init(detector: DriftDetectorConfiguration, action: DriftAction = .alert) {
        self.detector = detector
        self.action = action
    }

    /// Decodes the `drift` table of model `label` (errors name `<label>.drift` and the key).
    static func decode(_ entries: ConfigTable, file: String, label: String) throws(ConfigError) -> DriftAlarm {
        let table = label + ".drift"
        var detectorOnly = ConfigTable()
        detectorOnly["detector"] = entries["detector"]
        let kindReader = try TableReader(detectorOnly, file: file, table: table, known: ["detector"])
        let kind: DriftDetectorKind = try kindReader.choice("detector")
        var alarm = DriftAlarm(detector: DriftDetectorConfiguration(defaultsFor: kind))
        let r = try TableReader(entries, file: file, table: table, known: alarm.detector.keys + ["action"])
        alarm.action = try r.choice("action", default: .alert)
        let counts: ClosedRange<Int64> = Int64.min...Int64.max   // ranges are the detector's to check (below)
        switch alarm.detector {
        case var .pageHinkley(p):
            p.minInstances = try r.integer("min_instances", default: p.minInstances, in: counts)
            p.delta = try r.number("delta", default: p.delta)
            p.threshold = try r.number("threshold", default: p.threshold)
            p.alpha = try r.number("alpha", default: p.alpha)
            p.mode = try r.choice("mode", default: p.mode)
            alarm.detector = .pageHinkley(p)
        case var .adwin(p):
            p.delta = try r.number("delta", default: p.delta)
            p.clock = try r.integer("clock", default: p.clock, in: counts)
            p.maxBuckets = try r.integer("max_buckets", default: p.maxBuckets, in: counts)
            p.minWindowLength = try r.integer("min_window_length", default: p.minWindowLength, in: counts)
            p.gracePeriod = try r.integer("grace_period", default: p.gracePeriod, in: counts)
            alarm.detector = .adwin(p)
        }
        do throws(DriftConfigurationError) {
            try alarm.detector.validate()
        } catch {
            guard case let .invalidParameter(_, name, value, expected) = error else {
                throw .invalidValue(file: file, table: table, key: "detector", expected: "a valid detector", got: error.description)
            }
            throw r.invalid(name, expected, r.peek(name)?.literal ?? value)
        }
        return alarm
    }

    /// The alarm as a config table with every key explicit (for `models` replies and round trips).
    var configValue: ConfigValue {
        var table: ConfigTable = ["detector": .string(detector.kind.rawValue), "action": .string(action.rawValue)]
        switch detector {
        case let .pageHinkley(p):
            table["min_instances"] = .integer(Int64(p.minInstances))
            table["delta"] = .float(p.delta)
            table["threshold"] = .float(p.threshold)
            table["alpha"] = .float(p.alpha)
            table["mode"] = .string(p.mode.rawValue)
        case let .adwin(p):
            table["delta"] = .float(p.delta)
            table["clock"] = .integer(Int64(p.clock))
            table["max_buckets"] = .integer(Int64(p.maxBuckets))
            table["min_window_length"] = .integer(Int64(p.minWindowLength))
            table["grace_period"] = .integer(Int64(p.gracePeriod))
        }
        return .table(table)
    }
}
