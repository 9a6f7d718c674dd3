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

    /// Printable ASCII is copied in one piece, except `"` and `\\`, which are escaped as ever; a text longer than the
    /// limit is still cut after `limit` characters with `false` returned, from a String and a Substring alike.
    @Test func printableASCIIIsCopiedAndQuotesStillEscapedAndLimitsStillCut() {
        for value in UInt8(0x20)..<UInt8(0x7F) {
            let c = Character(Unicode.Scalar(value))
            var bytes: [UInt8] = []
            #expect(JSONEscaping.append("k\(c)z", to: &bytes))
            let middle: [UInt8] = value == 0x22 ? [0x5C, 0x22] : value == 0x5C ? [0x5C, 0x5C] : [value]
            #expect(bytes == [UInt8(ascii: "k")] + middle + [UInt8(ascii: "z")], "character \(value)")
        }
        let text = "model_name"
        for limit in 0...12 {
            var bytes: [UInt8] = [], fromSubstring: [UInt8] = []
            let whole = JSONEscaping.append(text, to: &bytes, limit: limit)
            let wholeFromSubstring = JSONEscaping.append(text.dropFirst(0), to: &fromSubstring, limit: limit)
            #expect(whole == (limit >= text.count) && wholeFromSubstring == whole)
            #expect(bytes == Array(text.utf8.prefix(limit)) && fromSubstring == bytes)
        }
    }

    /// One formatter for messages and checkpoint headers: UTC, milliseconds rounded down, and a time no calendar
    /// holds written as `invalid` rather than trapping.
    @Test func rfc3339FormatsUTCWithMilliseconds() {
        #expect(Timestamp.rfc3339(1_800_000_000.25) == "2027-01-15T08:00:00.250Z")
        #expect(Timestamp.rfc3339(0.9999) == "1970-01-01T00:00:00.999Z")
        #expect(Timestamp.rfc3339(951_782_400) == "2000-02-29T00:00:00.000Z")
        #expect(Timestamp.rfc3339(.nan) == "invalid" && Timestamp.rfc3339(.infinity) == "invalid" && Timestamp.rfc3339(1e16) == "invalid")
    }

    /// Times before 1970, before year 1000 and after 9999 keep the text the String-built formatter wrote (these
    /// values are its output), and a published message's `time` is that text in quotes, written in place.
    @Test func rfc3339KeepsItsTextAtTheCalendarsEdges() {
        let cases: [(Double, String)] = [
            (-1.5, "1969-12-31T23:59:58.500Z"), (-62_135_596_800, "0001-01-01T00:00:00.000Z"),
            (-62_135_596_801, "0000-12-31T23:59:59.000Z"), (-65_000_000_000, "0-90-03-27T04:26:40.000Z"),
            (253_402_300_799.999, "9999-12-31T23:59:59.998Z"), (253_402_300_800, "10000-01-01T00:00:00.000Z"),
            (1e12, "33658-09-27T01:46:40.000Z"), (-1e14, "-3166904-02-24T14:13:20.000Z"),
            (0.0005, "1970-01-01T00:00:00.000Z"), (86_399.9999, "1970-01-01T23:59:59.999Z"),
        ]
        for (seconds, text) in cases {
            #expect(Timestamp.rfc3339(seconds) == text)
            var w = JSONWriter()
            w.timestamp(seconds)
            #expect(String(decoding: w.bytes, as: UTF8.self) == "\"" + text + "\"")
        }
    }

    /// Integers are written digit by digit in place: the same text as `description` at every width and sign,
    /// including both ends of Int64 and UInt64.
    @Test func integersWriteTheirDescription() {
        var values: [Int64] = [0, 1, -1, 9, 10, -10, 99, 100, Int64.max, Int64.min, Int64.min + 1]
        var power: Int64 = 1
        for _ in 0..<18 { power *= 10; values += [power - 1, power, -power, -(power - 1)] }
        for v in values {
            var w = JSONWriter()
            w.int(v)
            #expect(String(decoding: w.bytes, as: UTF8.self) == v.description)
        }
        for v: UInt64 in [0, 7, UInt64(Int64.max) + 1, UInt64.max] {
            var w = JSONWriter()
            w.int(v)
            #expect(String(decoding: w.bytes, as: UTF8.self) == v.description)
        }
        var list = JSONWriter()
        list.beginArray(); list.int(-5); list.int(UInt8(200)); list.int(Int32.min); list.endArray()
        #expect(String(decoding: list.bytes, as: UTF8.self) == "[-5,200,-2147483648]")
    }
}
