/// Which drift detector to run and its parameters, as a config file states them:
/// `detector = "page_hinkley"` or `"adwin"` plus River's parameter names as keys, e.g.
///
///     detector = "page_hinkley"
///     threshold = 20.0
///     mode = "up"
///
/// Its `Codable` form is that flat table. Decoding fills absent parameters with River's defaults; encoding
/// writes every parameter, so a saved configuration does not change meaning if a default ever does.
public enum DriftDetectorConfiguration: Sendable, Equatable, Codable {
    /// Page-Hinkley with these parameters.
    case pageHinkley(PageHinkley.Parameters)
    /// ADWIN with these parameters.
    case adwin(ADWIN.Parameters)

    /// The detector `kind` with all of River's defaults.
    public init(defaultsFor kind: DriftDetectorKind) {
        switch kind {
        case .pageHinkley: self = .pageHinkley(PageHinkley.Parameters())
        case .adwin: self = .adwin(ADWIN.Parameters())
        }
    }

    /// Which detector this configures.
    public var kind: DriftDetectorKind {
        switch self {
        case .pageHinkley: return .pageHinkley
        case .adwin: return .adwin
        }
    }

    /// Every key a table for this detector may hold: `detector` and the detector's parameter names.
    public var keys: [String] { [DetectorKey.detector.stringValue] + kind.parameterNames }

    /// Checks every parameter; the error names the detector and the parameter.
    public func validate() throws(DriftConfigurationError) {
        switch self {
        case let .pageHinkley(parameters): try parameters.validate()
        case let .adwin(parameters): try parameters.validate()
        }
    }

    /// A fresh detector with these parameters.
    public func makeDetector() throws(DriftConfigurationError) -> AnyDriftDetector {
        switch self {
        case let .pageHinkley(parameters): return .pageHinkley(try PageHinkley(parameters))
        case let .adwin(parameters): return .adwin(try ADWIN(parameters))
        }
    }

    enum DetectorKey: String, CodingKey {
        case detector
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: DetectorKey.self)
        switch try DriftDetectorKind(name: try container.decode(String.self, forKey: .detector)) {
        case .pageHinkley: self = .pageHinkley(try PageHinkley.Parameters(from: decoder))
        case .adwin: self = .adwin(try ADWIN.Parameters(from: decoder))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: DetectorKey.self)
        try container.encode(kind.rawValue, forKey: .detector)
        switch self {
        case let .pageHinkley(parameters): try parameters.encode(to: encoder)
        case let .adwin(parameters): try parameters.encode(to: encoder)
        }
    }
}

/// Either detector, chosen at run time from a ``DriftDetectorConfiguration``: what the engine holds per
/// model and what a checkpoint stores. Its `Codable` form is `{"detector": "page_hinkley" | "adwin",
/// "state": <the detector's own saved state>}`.
public enum AnyDriftDetector: DriftDetector {
    /// A running Page-Hinkley test.
    case pageHinkley(PageHinkley)
    /// A running ADWIN.
    case adwin(ADWIN)

    /// Which detector this is.
    public var kind: DriftDetectorKind {
        switch self {
        case .pageHinkley: return .pageHinkley
        case .adwin: return .adwin
        }
    }

    /// The configuration the detector runs with (compare with a newly loaded one to decide whether a
    /// saved detector can continue).
    public var configuration: DriftDetectorConfiguration {
        switch self {
        case let .pageHinkley(detector): return .pageHinkley(detector.parameters)
        case let .adwin(detector): return .adwin(detector.parameters)
        }
    }

    public var driftDetected: Bool {
        switch self {
        case let .pageHinkley(detector): return detector.driftDetected
        case let .adwin(detector): return detector.driftDetected
        }
    }

    public mutating func update(_ x: Double) -> Bool {
        switch self {
        case var .pageHinkley(detector):
            let drift = detector.update(x)
            self = .pageHinkley(detector)
            return drift
        case var .adwin(detector):
            let drift = detector.update(x)
            self = .adwin(detector)
            return drift
        }
    }

    public mutating func reset() {
        switch self {
        case var .pageHinkley(detector):
            detector.reset()
            self = .pageHinkley(detector)
        case var .adwin(detector):
            detector.reset()
            self = .adwin(detector)
        }
    }

    /// Stable checkpoint keys.
    enum CodingKeys: String, CodingKey {
        case detector
        case state
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try DriftDetectorKind(name: try container.decode(String.self, forKey: .detector)) {
        case .pageHinkley: self = .pageHinkley(try container.decode(PageHinkley.self, forKey: .state))
        case .adwin: self = .adwin(try container.decode(ADWIN.self, forKey: .state))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind.rawValue, forKey: .detector)
        switch self {
        case let .pageHinkley(detector): try container.encode(detector, forKey: .state)
        case let .adwin(detector): try container.encode(detector, forKey: .state)
        }
    }
}
