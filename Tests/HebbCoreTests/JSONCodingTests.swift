import HebbianRegression
import Testing
@testable import HebbCore

/// `Codable` through hebbd's own JSON: exact numbers, explicit keys, no Foundation coder.
@Suite struct JSONCodingTests {
    struct Sample: Codable, Equatable {
        var name: String
        var flag: Bool
        var big: UInt64
        var small: Int32
        var values: [Float]
        var doubles: [Double]
        var nested: [String: [Int]]
        var optional: String?
        enum CodingKeys: String, CodingKey { case name, flag, big, small, values, doubles, nested, optional = "maybe" }
    }

    @Test func roundTripsExactlyIncludingNonFiniteAndSixtyFourBitValues() throws {
        let sample = Sample(name: "a\"b\n", flag: true, big: .max, small: -7, values: [0.1, -0, .greatestFiniteMagnitude, .infinity],
                            doubles: [1e-300, -.infinity, 3.141592653589793], nested: ["k": [1, 2]], optional: nil)
        let json = try JSONCoding.encode(sample)
        #expect(json["big"] == .string("18446744073709551615"))
        #expect(json["values"]?.array?.last == .string("inf"))
        #expect(json["maybe"] == nil || json["maybe"] == .null)
        // Through text and back: what a checkpoint header does.
        let reparsed = try JSONParser.parse(json.serialized)
        let back = try JSONCoding.decode(Sample.self, from: reparsed)
        #expect(back.values.map(\.bitPattern) == sample.values.map(\.bitPattern))
        #expect(back.doubles.map(\.bitPattern) == sample.doubles.map(\.bitPattern))
        #expect(back.name == sample.name && back.big == sample.big && back.small == -7 && back.nested == sample.nested && back.optional == nil)
        let nan = try JSONCoding.decode([Double].self, from: JSONCoding.encode([Double.nan]))
        #expect(nan.count == 1 && nan[0].isNaN)
    }

    @Test func missingKeysAndWrongTypesAreErrors() {
        #expect(throws: DecodingError.self) { try JSONCoding.decode(Sample.self, from: .object([("name", .string("x"))])) }
        #expect(throws: DecodingError.self) { try JSONCoding.decode(Int32.self, from: .integer(1 << 40)) }
        #expect(throws: DecodingError.self) { try JSONCoding.decode(Bool.self, from: .integer(1)) }
    }

    @Test func learningCoreStateRoundTrips() throws {
        var state = OptimizerState(kind: .adam, count: 3)
        state.m = [0.5, -1e-30, 3]
        state.t = 7
        #expect(try JSONCoding.decode(OptimizerState.self, from: JSONParser.parse(JSONCoding.encode(state).serialized)) == state)
        let generator = SeededGenerator(seed: .max)
        #expect(try JSONCoding.decode(SeededGenerator.self, from: JSONCoding.encode(generator)) == generator)
    }

    /// A dictionary's encoding order is its own; the JSON is the same for equal values however they were built.
    @Test func equalDictionariesGiveEqualJSON() throws {
        var a: [String: Int] = [:], b: [String: Int] = [:]
        for i in 0..<50 { a["k\(i)"] = i }
        for i in (0..<50).reversed() { b["k\(i)"] = i }
        b.reserveCapacity(1000)
        #expect(try JSONCoding.encode(a).serialized == JSONCoding.encode(b).serialized)
    }
}
