/// One running value of a detector as it is saved. Values can be ±∞ (Page-Hinkley's minimum starts at +∞)
/// and JSON has no number for them, so non-finite values are written as the strings "inf", "-inf" and "nan";
/// finite ones are numbers (shortest round-trip form, so they come back bit for bit).
struct DetectorNumber: Codable, Equatable {
    var value: Double

    init(_ value: Double) { self.value = value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            switch text {
            case "inf": value = .infinity
            case "-inf": value = -.infinity
            case "nan": value = .nan
            default:
                throw DecodingError.dataCorruptedError(in: container,
                                                       debugDescription: "expected a number, \"inf\", \"-inf\" or \"nan\", got \"\(text)\"")
            }
        } else {
            value = try container.decode(Double.self)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if value.isFinite {
            try container.encode(value)
        } else {
            try container.encode(value.isNaN ? "nan" : (value > 0 ? "inf" : "-inf"))
        }
    }
}

extension KeyedEncodingContainer {
    mutating func encodeDetectorValue(_ value: Double, forKey key: Key) throws {
        try encode(DetectorNumber(value), forKey: key)
    }

    mutating func encodeDetectorValues(_ values: [Double], forKey key: Key) throws {
        try encode(values.map(DetectorNumber.init), forKey: key)
    }
}

extension KeyedDecodingContainer {
    func decodeDetectorValue(forKey key: Key) throws -> Double {
        try decode(DetectorNumber.self, forKey: key).value
    }

    func decodeDetectorValues(forKey key: Key) throws -> [Double] {
        try decode([DetectorNumber].self, forKey: key).map(\.value)
    }
}
