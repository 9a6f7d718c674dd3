/// The drift detectors hebbd offers; the raw values are the names used in config files and checkpoints.
public enum DriftDetectorKind: String, Sendable, Codable, CaseIterable {
    /// ``PageHinkley``: River's `river.drift.PageHinkley`.
    case pageHinkley = "page_hinkley"
    /// ``ADWIN``: River's `river.drift.ADWIN`.
    case adwin

    /// The kind named `name` in a config file or checkpoint.
    public init(name: String) throws(DriftConfigurationError) {
        guard let kind = DriftDetectorKind(rawValue: name) else {
            throw .unknownDetector(name: name, known: DriftDetectorKind.allCases.map(\.rawValue))
        }
        self = kind
    }

    /// The parameter keys this detector takes (River's names), for rejecting unknown keys in a config table.
    public var parameterNames: [String] {
        switch self {
        case .pageHinkley: return PageHinkley.Parameters.CodingKeys.allCases.map(\.stringValue)
        case .adwin: return ADWIN.Parameters.CodingKeys.allCases.map(\.stringValue)
        }
    }
}

/// Why a drift detector configuration or saved detector state was rejected. Each case names what was
/// wrong and what was expected, so an operator can fix the config from the message alone.
public enum DriftConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A parameter (River's name, e.g. `min_instances`) is out of range.
    case invalidParameter(detector: DriftDetectorKind, name: String, value: String, expected: String)
    /// `detector = …` names no detector hebbd has.
    case unknownDetector(name: String, known: [String])
    /// A saved detector state contradicts itself (e.g. a corrupted checkpoint); `why` says how.
    case inconsistentState(detector: DriftDetectorKind, why: String)

    public var description: String {
        switch self {
        case let .invalidParameter(detector, name, value, expected):
            return "\(detector.rawValue): invalid \(name) = \(value): expected \(expected)"
        case let .unknownDetector(name, known):
            return "unknown drift detector \"\(name)\" (known: \(known.joined(separator: ", ")))"
        case let .inconsistentState(detector, why):
            return "\(detector.rawValue): inconsistent saved state: \(why)"
        }
    }
}
