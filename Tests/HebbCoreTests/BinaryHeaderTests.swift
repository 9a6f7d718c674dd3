import Testing
@testable import HebbCore

/// The binary header's fast path (`BinaryHeader.scan`, no JSON tree) against the JSON parse and the decoder's checks
/// (`SampleDecoder.parseHeader` + `binaryHeader(parsed:model:)`), which decide every header it declines.
@Suite struct BinaryHeaderTests {
    static let maxRows = 64
    static let decoder = SampleDecoder(maxMessageBytes: 1 << 20, maxRowsPerMessage: maxRows)

    static func fast(_ text: String) -> BinaryHeader? {
        Array(text.utf8).withUnsafeBytes { BinaryHeader.scan($0, maxRows: maxRows) }
    }

    static func parsed(_ text: String) -> BinaryHeader? {
        Array(text.utf8).withUnsafeBytes { bytes in
            try? decoder.binaryHeader(parsed: decoder.parseHeader(bytes, model: "m"), model: "m")
        }
    }

    /// What producers send — `hebbd feed`, the Python client (`json.dumps`, spaces after `:` and `,`), a reliable
    /// producer with `producer` and `seq`, a float64 header — takes the fast path, with the fields the parse gives.
    @Test func producersHeadersTakeTheFastPath() {
        let headers: [(String, BinaryHeader)] = [
            (#"{"v":1,"dtype":"float32","rows":64}"#, BinaryHeader(width: 4, rows: 64)),
            (#"{"v": 1, "dtype": "float32", "rows": 5}"#, BinaryHeader(width: 4, rows: 5)),
            (#"{"dtype":"<f4","rows":1}"#, BinaryHeader(width: 4, rows: 1)),
            (#"{"v": 1, "dtype": "<f8", "rows": 3, "producer": "sensor-7", "seq": 123456789012}"#,
             BinaryHeader(width: 8, rows: 3, producer: "sensor-7", sequence: 123_456_789_012)),
            (" {\n\t\"rows\" : 2 ,\r\"dtype\":\"float64\", \"note\": \"ok\", \"n\": 0 } ", BinaryHeader(width: 8, rows: 2)),
        ]
        for (text, expected) in headers {
            #expect(Self.fast(text) == expected, "\(text)")
            #expect(Self.parsed(text) == expected, "\(text)")
        }
    }

    /// Over every combination of the corpus's keys and values — valid ones, and what the fast path must leave to the
    /// parse: a fraction, an exponent, a sign, a leading zero, too many digits, escapes, non-ASCII, nested values,
    /// a duplicate key, a trailing comma or text, rows beyond the limit — the fast path either declines or gives
    /// exactly the parse's fields. Headers built only of plain valid parts must not be declined.
    @Test func theFastPathAgreesWithTheParseOnACorpus() {
        // (text, plain: whether the fast path must read it)
        let dtypes: [(String, Bool)] = [(#""float32""#, true), (#""<f4""#, true), (#""<f8""#, true), (#""float64""#, true),
                                        (#""f4""#, false), (#""<F4""#, false), (#""<f\u0034""#, false), ("4", false)]
        let rows: [(String, Bool)] = [("1", true), ("64", true), ("65", false), ("0", false), ("01", false), ("1.0", false),
                                      ("1e1", false), ("-1", false), (#""1""#, false), ("12345678901234567890", false), ("null", false)]
        let extras: [(String, Bool)] = [("", true), (#","v":1"#, true), (#","v":2"#, false), (#","v":1.0"#, false),
                                        (#","producer":"p","seq":0"#, true), (#","producer":"","seq":7"#, true),
                                        (#","seq":-1"#, false), (#","seq":"5""#, false), (#","producer":5"#, false),
                                        (#","producer":"\u0070""#, false), (#","producer":"é""#, false),
                                        (#","x":[1]"#, false), (#","x":{"a":1}"#, false), (#","x":null"#, false),
                                        (#","x":true"#, false), (#","x":"y","z":3"#, true), (#","rows":2"#, false),
                                        (#","r\u006fws":2"#, false), (",", false), (#","dtype":"<f4""#, false)]
        var read = 0, total = 0
        for (dtype, dtypePlain) in dtypes {
            for (row, rowPlain) in rows {
                for (extra, extraPlain) in extras {
                    for text in [#"{"dtype":\#(dtype),"rows":\#(row)\#(extra)}"#, #"{"rows": \#(row) , "dtype" : \#(dtype)\#(extra)}"#] {
                        total += 1
                        let fast = Self.fast(text), parsed = Self.parsed(text)
                        if let fast {
                            read += 1
                            #expect(fast == parsed, "\(text)")
                        } else if dtypePlain && rowPlain && extraPlain {
                            Issue.record("a plain header was declined: \(text)")
                        }
                    }
                }
            }
        }
        #expect(read > 0 && read < total)
        for text in ["", "[]", #"{"dtype":"<f4","rows":1}x"#, #"{"dtype":"<f4","rows":1"#, #"{"dtype":"<f4" "rows":1}"#,
                     #"{"dtype":"<f4","rows":1,}"#, "{}", #"{"rows":1}"#, #"{"dtype":"<f4"}"#] {
            #expect(Self.fast(text) == nil, "\(text)")
        }
    }
}
