/// The Page-Hinkley test for a change in the mean, exactly River's `river.drift.PageHinkley` (River 0.26.1).
///
/// It keeps the running mean x̄ of everything seen and two faded cumulative sums of each value's
/// deviation from it, one biased down by `delta` (rises when values sit above the mean) and one biased
/// up (falls when they sit below):
///
///     S⁺ ← α·S⁺ + (x − x̄) − δ        S⁻ ← α·S⁻ + (x − x̄) + δ
///
/// Once `minInstances` values are in, it alarms when S⁺ has climbed more than `threshold` above its
/// lowest value (mean went up) or S⁻ has fallen more than `threshold` below its highest (mean went down),
/// as `mode` selects. After an alarm the next value starts everything afresh, as River does.
///
/// Arithmetic follows River's Python line by line in Double (River's running mean is
/// x̄ += (1/n)·(x − x̄)), so the alarms are River's to the step.
public struct PageHinkley: DriftDetector {
    /// Which direction of change raises the alarm (River's `mode`).
    public enum Mode: String, Sendable, Codable, CaseIterable {
        /// Only an increase of the mean (for an error: the model got worse).
        case up
        /// Only a decrease of the mean (the model got better).
        case down
        /// Either direction (River's default).
        case both
    }

    /// River's parameters, with River's names as coding keys and River's defaults.
    public struct Parameters: Sendable, Equatable, Codable {
        /// Values needed before any alarm (`min_instances`, default 30).
        public var minInstances: Int
        /// Magnitude of change tolerated per value (`delta`, default 0.005).
        public var delta: Double
        /// Alarm threshold λ on the cumulative sums (`threshold`, default 50).
        public var threshold: Double
        /// Fading factor of the cumulative sums (`alpha`, default 1 − 0.0001; 1 means no fading).
        public var alpha: Double
        /// Direction of change to detect (`mode`, default both).
        public var mode: Mode

        /// River's defaults unless given.
        public init(minInstances: Int = 30, delta: Double = 0.005, threshold: Double = 50, alpha: Double = 1 - 0.0001,
                    mode: Mode = .both) {
            self.minInstances = minInstances
            self.delta = delta
            self.threshold = threshold
            self.alpha = alpha
            self.mode = mode
        }

        /// River's parameter names; stable, they are config keys and checkpoint keys.
        public enum CodingKeys: String, CodingKey, CaseIterable {
            case minInstances = "min_instances"
            case delta
            case threshold
            case alpha
            case mode
        }

        /// Missing keys take River's defaults; a `mode` other than up, down or both is rejected by name.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = Parameters()
            minInstances = try container.decodeIfPresent(Int.self, forKey: .minInstances) ?? defaults.minInstances
            delta = try container.decodeIfPresent(Double.self, forKey: .delta) ?? defaults.delta
            threshold = try container.decodeIfPresent(Double.self, forKey: .threshold) ?? defaults.threshold
            alpha = try container.decodeIfPresent(Double.self, forKey: .alpha) ?? defaults.alpha
            if let name = try container.decodeIfPresent(String.self, forKey: .mode) {
                guard let mode = Mode(rawValue: name) else {
                    throw DriftConfigurationError.invalidParameter(detector: .pageHinkley, name: "mode", value: "\"\(name)\"",
                                                                   expected: "\"up\", \"down\" or \"both\"")
                }
                self.mode = mode
            } else {
                mode = defaults.mode
            }
        }

        /// Checks every value; the error names the parameter. River checks only `mode`; the other limits
        /// exclude settings that make the test meaningless (negative tolerance or threshold, a fading factor
        /// that flips or inflates the sums).
        public func validate() throws(DriftConfigurationError) {
            func require(_ ok: Bool, _ name: CodingKeys, _ value: CustomStringConvertible, _ expected: String) throws(DriftConfigurationError) {
                if !ok { throw .invalidParameter(detector: .pageHinkley, name: name.stringValue, value: value.description, expected: expected) }
            }
            try require(minInstances >= 0, .minInstances, minInstances, "an integer ≥ 0")
            try require(delta.isFinite && delta >= 0, .delta, delta, "a finite number ≥ 0")
            try require(threshold.isFinite && threshold >= 0, .threshold, threshold, "a finite number ≥ 0")
            try require(alpha.isFinite && alpha > 0 && alpha <= 1, .alpha, alpha, "a number in (0, 1]")
        }
    }

    /// The parameters this detector runs with.
    public let parameters: Parameters
    /// Values seen since the last restart (River's `_x_mean.n`).
    public private(set) var count: Int = 0
    /// Their running mean (River's `_x_mean`).
    public private(set) var mean: Double = 0
    /// S⁺, the faded sum of deviations minus delta (River's `_sum_increase`).
    public private(set) var sumIncrease: Double = 0
    /// S⁻, the faded sum of deviations plus delta (River's `_sum_decrease`).
    public private(set) var sumDecrease: Double = 0
    /// The lowest S⁺ so far (River's `_min_increase`, +∞ before the first value).
    public private(set) var minIncrease: Double = .infinity
    /// The highest S⁻ so far (River's `_max_decrease`, −1 before the first value, as in River).
    public private(set) var maxDecrease: Double = -1
    /// Whether the last value raised the alarm (River's `drift_detected`); saved, because it means the next
    /// value restarts the detector.
    public private(set) var driftDetected: Bool = false

    /// A detector with River's default parameters.
    public init() {
        parameters = Parameters()
    }

    /// A detector with `parameters`, validated.
    public init(_ parameters: Parameters) throws(DriftConfigurationError) {
        try parameters.validate()
        self.parameters = parameters
    }

    public mutating func update(_ x: Double) -> Bool {
        if driftDetected { reset() }
        guard x.isFinite else { return false }

        count += 1
        // River's stats.Mean: mean += (w / n) * (x - mean) with w = 1, not (x - mean) / n: rounding differs.
        mean += (1.0 / Double(count)) * (x - mean)
        let deviation = x - mean

        sumIncrease = parameters.alpha * sumIncrease + deviation - parameters.delta
        sumDecrease = parameters.alpha * sumDecrease + deviation + parameters.delta
        if sumIncrease < minIncrease { minIncrease = sumIncrease }
        if sumDecrease > maxDecrease { maxDecrease = sumDecrease }

        if count >= parameters.minInstances {
            let increase = sumIncrease - minIncrease
            let decrease = maxDecrease - sumDecrease
            switch parameters.mode {
            case .up: driftDetected = increase > parameters.threshold
            case .down: driftDetected = decrease > parameters.threshold
            case .both: driftDetected = increase > parameters.threshold || decrease > parameters.threshold
            }
        }
        return driftDetected
    }

    public mutating func reset() {
        self = PageHinkley(validated: parameters)
    }

    private init(validated parameters: Parameters) {
        self.parameters = parameters
    }

    /// Stable checkpoint keys.
    enum CodingKeys: String, CodingKey {
        case parameters
        case count
        case mean
        case sumIncrease = "sum_increase"
        case sumDecrease = "sum_decrease"
        case minIncrease = "min_increase"
        case maxDecrease = "max_decrease"
        case driftDetected = "drift_detected"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let parameters = try container.decode(Parameters.self, forKey: .parameters)
        try parameters.validate()
        self.parameters = parameters
        count = try container.decode(Int.self, forKey: .count)
        mean = try container.decodeDetectorValue(forKey: .mean)
        sumIncrease = try container.decodeDetectorValue(forKey: .sumIncrease)
        sumDecrease = try container.decodeDetectorValue(forKey: .sumDecrease)
        minIncrease = try container.decodeDetectorValue(forKey: .minIncrease)
        maxDecrease = try container.decodeDetectorValue(forKey: .maxDecrease)
        driftDetected = try container.decode(Bool.self, forKey: .driftDetected)
        guard count >= 0 else {
            throw DriftConfigurationError.inconsistentState(detector: .pageHinkley, why: "count \(count) < 0")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(parameters, forKey: .parameters)
        try container.encode(count, forKey: .count)
        try container.encodeDetectorValue(mean, forKey: .mean)
        try container.encodeDetectorValue(sumIncrease, forKey: .sumIncrease)
        try container.encodeDetectorValue(sumDecrease, forKey: .sumDecrease)
        try container.encodeDetectorValue(minIncrease, forKey: .minIncrease)
        try container.encodeDetectorValue(maxDecrease, forKey: .maxDecrease)
        try container.encode(driftDetected, forKey: .driftDetected)
    }
}
