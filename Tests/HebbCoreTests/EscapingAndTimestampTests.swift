import Logging
import Testing
@testable import HebbCore

/// The one JSON string escaper and the one RFC 3339 formatter, as every writer uses them.
@Suite struct EscapingAndTimestampTests {
    /// Replies and messages (JSONWriter), config error texts (ConfigValue's quoting) and log metadata all write a
    /// control character with the one JSON syntax, `\u001b`; what the wire format always had stays (`\n`, `\"`).
    @Test func everyWriterEscapesWithTheJSONSyntax() throws {
        let text = "a\u{1b}b\n\"\\"
        let expected = #"a\u001bb\n\"\\"#
        var w = JSONWriter()
        w.string(text)
        #expect(String(decoding: w.bytes, as: UTF8.self) == "\"" + expected + "\"")
        #expect(ConfigValue.quoted(text) == "\"" + expected + "\"")
        #expect(Logger.MetadataValue.wire(text).description == expected)
        // What JSONWriter writes reads back as the text.
        #expect(try JSONParser.parse(w.bytes) == .string(text))
    }

    /// Logs escape more than JSON needs (DEL, C1 controls, line separators), still in JSON's syntax; a scalar beyond
    /// the BMP that a caller asks to escape becomes its surrogate pair.
    @Test func logsEscapeSeparatorsAndC1InJSONSyntax() throws {
        #expect(Logger.MetadataValue.wire("a\u{7f}\u{85}\u{2029}é").description == #"a\u007f\u0085\u2029é"#)
        var bytes: [UInt8] = []
        JSONEscaping.append("\u{1F600}", to: &bytes) { _ in true }
        #expect(String(decoding: bytes, as: UTF8.self) == #"\ud83d\ude00"#)
        #expect(try JSONParser.parse(Array(("\"" + String(decoding: bytes, as: UTF8.self) + "\"").utf8)) == .string("\u{1F600}"))
    }

    /// One formatter for messages and checkpoint headers: UTC, milliseconds rounded down, and a time no calendar
    /// holds written as `invalid` rather than trapping.
    @Test func rfc3339FormatsUTCWithMilliseconds() {
        #expect(Timestamp.rfc3339(1_800_000_000.25) == "2027-01-15T08:00:00.250Z")
        #expect(Timestamp.rfc3339(0.9999) == "1970-01-01T00:00:00.999Z")
        #expect(Timestamp.rfc3339(951_782_400) == "2000-02-29T00:00:00.000Z")
        #expect(Timestamp.rfc3339(.nan) == "invalid" && Timestamp.rfc3339(.infinity) == "invalid" && Timestamp.rfc3339(1e16) == "invalid")
    }
}
