import Foundation
import Testing
@testable import HebbianRegression

/// The reference file written by `Scripts/drift_reference.py` from River's own detectors.
struct DriftVectors: Decodable {
    /// One detector setting: River's detector name and parameters.
    struct Setting: Decodable {
        let name: String
        let configuration: DriftDetectorConfiguration
        /// The parameter keys exactly as the file spells them.
        let parameterKeys: Set<String>

        enum CodingKeys: String, CodingKey { case name, detector, parameters }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            let parameters = try container.decode([String: ParameterValue].self, forKey: .parameters)
            parameterKeys = Set(parameters.keys)
            var table = parameters
            table["detector"] = .text(try container.decode(String.self, forKey: .detector))
            // Through the configuration's own Codable form, the way a config table would arrive.
            configuration = try JSONDecoder().decode(DriftDetectorConfiguration.self, from: JSONEncoder().encode(table))
        }
    }

    /// A number or a string in a parameter table.
    enum ParameterValue: Codable {
        case number(Double), integer(Int), text(String)

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let integer = try? container.decode(Int.self) { self = .integer(integer) }
            else if let number = try? container.decode(Double.self) { self = .number(number) }
            else { self = .text(try container.decode(String.self)) }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case let .number(value): try container.encode(value)
            case let .integer(value): try container.encode(value)
            case let .text(value): try container.encode(value)
            }
        }
    }

    /// River's running values after the last input (keys as in the script's `final_state`).
    struct FinalState: Decodable {
        let count: Int?, mean: Double?, sumIncrease: Double?, sumDecrease: Double?, minIncrease: Double?, maxDecrease: Double?
        let width: Double?, total: Double?, variance: Double?, nDetections: Int?

        enum CodingKeys: String, CodingKey {
            case count, mean, width, total, variance
            case sumIncrease = "sum_increase", sumDecrease = "sum_decrease"
            case minIncrease = "min_increase", maxDecrease = "max_decrease", nDetections = "n_detections"
        }
    }

    struct Case: Decodable {
        let sequence: String, setting: String, driftSteps: [Int]
        /// Absent when River crashed at `riverPanickedAt` (ADWIN with max_buckets = 1).
        let finalState: FinalState?
        let riverPanickedAt: Int?

        enum CodingKeys: String, CodingKey {
            case sequence, setting, driftSteps = "drift_steps", finalState = "final_state", riverPanickedAt = "river_panicked_at"
        }
    }

    let riverVersion: String
    let riverDefaults: [String: [String: ParameterValue]]
    let sequences: [String: [Double]]
    let settings: [Setting]
    let cases: [Case]
    let caseCount: Int

    enum CodingKeys: String, CodingKey {
        case riverVersion = "river_version", riverDefaults = "river_defaults", sequences, settings, cases, caseCount = "case_count"
    }

    static let shared: DriftVectors = {
        let data = try! Data(contentsOf: Fixtures.directory.appendingPathComponent("drift_vectors.json"))
        return try! JSONDecoder().decode(DriftVectors.self, from: data)
    }()

    func setting(_ name: String) -> Setting { settings.first { $0.name == name }! }
}

/// Feeds `values` and returns the 0-based steps at which drift was detected.
func driftSteps<D: DriftDetector>(_ detector: inout D, _ values: some Sequence<Double>, offset: Int = 0) -> [Int] {
    var steps: [Int] = []
    for (index, value) in values.enumerated() where detector.update(value) {
        #expect(detector.driftDetected)
        steps.append(offset + index)
    }
    return steps
}

func encodedAndDecoded<D: DriftDetector>(_ detector: D) throws -> D {
    try JSONDecoder().decode(D.self, from: JSONEncoder().encode(detector))
}

@Suite("Drift detectors")
struct DriftDetectorTests {
    let vectors = DriftVectors.shared

    @Test("the vectors come from the River version the docs name, and cover every sequence × setting")
    func vectorsDescribeThemselves() {
        #expect(vectors.riverVersion == "0.26.1")
        #expect(vectors.cases.count == vectors.caseCount)
        #expect(vectors.caseCount == vectors.sequences.count * vectors.settings.count)
        let kinds = Set(vectors.settings.map(\.configuration.kind))
        #expect(kinds == Set(DriftDetectorKind.allCases))
        let modes = Set(vectors.settings.compactMap { setting -> PageHinkley.Mode? in
            if case let .pageHinkley(parameters) = setting.configuration { return parameters.mode }
            return nil
        })
        #expect(modes == Set(PageHinkley.Mode.allCases))
        // A detector that never fires would pass vacuously on sequences without alarms: most cases must have some.
        #expect(vectors.cases.filter { !$0.driftSteps.isEmpty }.count > vectors.caseCount / 2)
    }

    @Test("every setting uses exactly River's parameter names")
    func parameterNamesAreRivers() {
        for setting in vectors.settings {
            #expect(setting.parameterKeys == Set(setting.configuration.kind.parameterNames), "\(setting.name)")
        }
        for kind in DriftDetectorKind.allCases {
            #expect(Set(vectors.riverDefaults[kind.rawValue]!.keys) == Set(kind.parameterNames))
        }
    }

    @Test("the defaults are River's defaults")
    func defaultsAreRivers() throws {
        for kind in DriftDetectorKind.allCases {
            var table = vectors.riverDefaults[kind.rawValue]!
            table["detector"] = .text(kind.rawValue)
            let rivers = try JSONDecoder().decode(DriftDetectorConfiguration.self, from: JSONEncoder().encode(table))
            #expect(DriftDetectorConfiguration(defaultsFor: kind) == rivers)
        }
        #expect(PageHinkley().parameters == PageHinkley.Parameters())
        #expect(ADWIN().parameters == ADWIN.Parameters())
    }

    @Test("every case alarms at exactly River's steps and ends in exactly River's state")
    func parityWithRiver() throws {
        var checked = 0
        for reference in vectors.cases {
            let values = try #require(vectors.sequences[reference.sequence])
            var detector = try vectors.setting(reference.setting).configuration.makeDetector()
            let steps = driftSteps(&detector, values)
            let label = "\(reference.sequence) / \(reference.setting)"
            checked += 1
            if let crash = reference.riverPanickedAt {
                // River crashed while shrinking its window after finding a change at `crash`: up to there the
                // signals are River's, at `crash` this port signals the change River found, then it carries on.
                #expect(Array(steps.prefix { $0 < crash }) == reference.driftSteps, "\(label)")
                #expect(steps.contains(crash), "\(label)")
                continue
            }
            #expect(steps == reference.driftSteps, "\(label)")
            let river = try #require(reference.finalState)
            switch detector {
            case let .pageHinkley(ph):
                #expect(ph.count == river.count, "\(label)")
                #expect(ph.mean == river.mean, "\(label)")
                #expect(ph.sumIncrease == river.sumIncrease, "\(label)")
                #expect(ph.sumDecrease == river.sumDecrease, "\(label)")
                #expect(ph.minIncrease == river.minIncrease, "\(label)")
                #expect(ph.maxDecrease == river.maxDecrease, "\(label)")
            case let .adwin(adwin):
                #expect(adwin.width == river.width, "\(label)")
                #expect(adwin.total == river.total, "\(label)")
                #expect(adwin.variance == river.variance, "\(label)")
                #expect(adwin.detections == river.nDetections, "\(label)")
            }
        }
        #expect(checked == vectors.caseCount)
        // The crash case is the exception, not the rule.
        #expect(vectors.cases.filter { $0.riverPanickedAt != nil }.count < vectors.caseCount / 10)
    }

    @Test("a detector saved and restored mid-stream gives the uninterrupted detector's signals")
    func checkpointContinuesExactly() throws {
        var restoredCases = 0
        for reference in vectors.cases {
            let values = try #require(vectors.sequences[reference.sequence])
            let configuration = vectors.setting(reference.setting).configuration
            var uninterrupted = try configuration.makeDetector()
            let expected = driftSteps(&uninterrupted, values)
            // Cut in the middle, and right after the first alarm (a restart is pending in the saved state).
            var cuts = [values.count / 2]
            if let first = expected.first { cuts.append(first + 1) }
            for cut in cuts {
                var detector = try configuration.makeDetector()
                var steps = driftSteps(&detector, values[..<cut])
                if cut == (expected.first ?? -2) + 1 { #expect(detector.driftDetected) }
                var restored = try encodedAndDecoded(detector)
                #expect(restored == detector)
                steps += driftSteps(&restored, values[cut...], offset: cut)
                #expect(steps == expected, "\(reference.sequence) / \(reference.setting) cut at \(cut)")
                #expect(restored == uninterrupted)
                restoredCases += 1
            }
        }
        #expect(restoredCases > vectors.caseCount)
    }

    @Test("the saved form has stable, explicit keys")
    func savedKeys() throws {
        var ph = PageHinkley()
        _ = ph.update(1.5)
        var adwin = ADWIN()
        for x in 0..<40 { _ = adwin.update(Double(x % 3)) }
        func keys(_ value: some Encodable) throws -> Set<String> {
            let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as! [String: Any]
            return Set(object.keys)
        }
        #expect(try keys(ph) == ["parameters", "count", "mean", "sum_increase", "sum_decrease", "min_increase", "max_decrease", "drift_detected"])
        #expect(try keys(adwin) == ["parameters", "width", "total", "variance", "tick", "detections", "rows", "drift_detected"])
        #expect(try keys(ph.parameters) == Set(DriftDetectorKind.pageHinkley.parameterNames))
        #expect(try keys(adwin.parameters) == Set(DriftDetectorKind.adwin.parameterNames))
        #expect(try keys(AnyDriftDetector.adwin(adwin)) == ["detector", "state"])
        #expect(try keys(DriftDetectorConfiguration.adwin(adwin.parameters)) == Set(["detector"] + DriftDetectorKind.adwin.parameterNames))
    }

    @Test("a fresh Page-Hinkley (minimum still +∞) survives JSON")
    func infiniteMinimumRoundTrips() throws {
        let fresh = PageHinkley()
        #expect(fresh.minIncrease == .infinity)
        let restored = try encodedAndDecoded(fresh)
        #expect(restored == fresh)
        #expect(restored.minIncrease == .infinity)
    }

    @Test("configurations decode from River's keys, fill defaults, and round-trip")
    func configurationCoding() throws {
        func decode(_ json: String) throws -> DriftDetectorConfiguration {
            try JSONDecoder().decode(DriftDetectorConfiguration.self, from: Data(json.utf8))
        }
        #expect(try decode(#"{"detector": "adwin"}"#) == .adwin(ADWIN.Parameters()))
        let ph = try decode(#"{"detector": "page_hinkley", "threshold": 20.0, "mode": "up", "min_instances": 7}"#)
        #expect(ph == .pageHinkley(PageHinkley.Parameters(minInstances: 7, threshold: 20, mode: .up)))
        let adwin = DriftDetectorConfiguration.adwin(ADWIN.Parameters(delta: 0.01, clock: 4, maxBuckets: 3, minWindowLength: 9, gracePeriod: 0))
        for configuration in [ph, adwin] {
            #expect(try decode(String(decoding: JSONEncoder().encode(configuration), as: UTF8.self)) == configuration)
        }
        #expect(throws: DriftConfigurationError.unknownDetector(name: "cusum", known: ["page_hinkley", "adwin"])) {
            try decode(#"{"detector": "cusum"}"#)
        }
        #expect(throws: DriftConfigurationError.invalidParameter(detector: .pageHinkley, name: "mode", value: "\"sideways\"",
                                                                 expected: "\"up\", \"down\" or \"both\"")) {
            try decode(#"{"detector": "page_hinkley", "mode": "sideways"}"#)
        }
    }

    @Test("validate names the parameter that is out of range", arguments: [
        (DriftDetectorConfiguration.pageHinkley(.init(minInstances: -1)), "min_instances"),
        (.pageHinkley(.init(delta: -0.1)), "delta"),
        (.pageHinkley(.init(threshold: .nan)), "threshold"),
        (.pageHinkley(.init(alpha: 0)), "alpha"),
        (.pageHinkley(.init(alpha: 1.5)), "alpha"),
        (.adwin(.init(delta: 0)), "delta"),
        (.adwin(.init(delta: 1)), "delta"),
        (.adwin(.init(clock: 0)), "clock"),
        (.adwin(.init(maxBuckets: 0)), "max_buckets"),
        (.adwin(.init(minWindowLength: 0)), "min_window_length"),
        (.adwin(.init(gracePeriod: -1)), "grace_period"),
    ])
    func validationNamesParameter(configuration: DriftDetectorConfiguration, name: String) {
        do {
            try configuration.validate()
            Issue.record("\(configuration) passed validation")
        } catch let .invalidParameter(detector, parameter, _, _) {
            #expect(detector == configuration.kind)
            #expect(parameter == name)
        } catch {
            Issue.record("unexpected \(error)")
        }
        #expect(throws: DriftConfigurationError.self) { try configuration.makeDetector() }
    }

    @Test("a saved detector with an out-of-range parameter is rejected by name")
    func savedInvalidParametersAreRejected() throws {
        let saved = try JSONEncoder().encode(AnyDriftDetector.adwin(ADWIN()))
        #expect(try JSONDecoder().decode(AnyDriftDetector.self, from: saved) == .adwin(ADWIN()))
        #expect(throws: DriftConfigurationError.invalidParameter(detector: .adwin, name: "clock", value: "0", expected: "an integer in 1…2147483647")) {
            try JSONDecoder().decode(AnyDriftDetector.self, from: saved.replacingClock(with: 0))
        }
    }

    @Test("every setting in the vectors and every default validates")
    func validSettingsValidate() throws {
        for setting in vectors.settings { try setting.configuration.validate() }
        for kind in DriftDetectorKind.allCases { try DriftDetectorConfiguration(defaultsFor: kind).validate() }
    }

    @Test("non-finite values are skipped: the signals are River's on the stream without them")
    func nonFiniteValuesAreSkipped() throws {
        for reference in vectors.cases where reference.sequence == "abrupt_shift" {
            let values = try #require(vectors.sequences[reference.sequence])
            let configuration = vectors.setting(reference.setting).configuration
            var clean = try configuration.makeDetector()
            let expected = driftSteps(&clean, values)
            #expect(reference.riverPanickedAt != nil || expected == reference.driftSteps)
            var detector = try configuration.makeDetector()
            // Non-finite values after every 97th value and right after every alarm.
            let alarms = Set(expected)
            var steps: [Int] = []
            for (index, value) in values.enumerated() {
                if detector.update(value) { steps.append(index) }
                if index % 97 == 0 || alarms.contains(index) {
                    for bad in [Double.nan, .infinity, -.infinity] {
                        let signalled = detector.update(bad)
                        #expect(!signalled)
                        #expect(!detector.driftDetected)
                    }
                }
            }
            #expect(steps == expected, "\(reference.setting)")
            #expect(detector == clean)
        }
    }

    @Test("reset forgets everything but the parameters")
    func resetRestoresFreshDetector() throws {
        for setting in vectors.settings {
            let fresh = try setting.configuration.makeDetector()
            var detector = fresh
            _ = driftSteps(&detector, vectors.sequences["mse_like"]!)
            #expect(detector != fresh)
            detector.reset()
            #expect(detector == fresh)
            #expect(detector.configuration == setting.configuration)
        }
    }

    @Test("a saved ADWIN window that contradicts itself is rejected")
    func inconsistentADWINStateIsRejected() throws {
        var adwin = ADWIN()
        for x in 0..<100 { _ = adwin.update(Double(x % 7)) }
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(adwin)) as! [String: Any]
        object["width"] = 99.0
        let damaged = try JSONSerialization.data(withJSONObject: object)
        #expect(throws: DriftConfigurationError.inconsistentState(detector: .adwin, why: "width 99.0 but the buckets hold 100.0 values")) {
            try JSONDecoder().decode(ADWIN.self, from: damaged)
        }
    }
}

extension Data {
    /// The same JSON with the ADWIN state's `clock` parameter replaced (to smuggle an invalid value past `init`).
    func replacingClock(with clock: Int) throws -> Data {
        var object = try JSONSerialization.jsonObject(with: self) as! [String: Any]
        var state = object["state"] as! [String: Any]
        var parameters = state["parameters"] as! [String: Any]
        parameters["clock"] = clock
        state["parameters"] = parameters
        object["state"] = state
        return try JSONSerialization.data(withJSONObject: object)
    }
}
