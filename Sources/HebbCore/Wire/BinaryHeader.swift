/// The fields of a binary sample message's JSON header (frame 1 of 4; docs/PROTOCOL.md), as the decoder uses them.
package struct BinaryHeader: Equatable, Sendable {
    /// Bytes per value: 4 (`float32`, `<f4`) or 8 (`float64`, `<f8`).
    package var width: Int
    /// Rows in the message (`rows`), at least 1.
    package var rows: Int
    /// `producer`, when given.
    package var producer: String?
    /// `seq`, when given (non-negative).
    package var sequence: Int?

    /// The header read without building a JSON tree, for the headers producers send — a flat object of plain strings
    /// and non-negative integers, such as `{"dtype":"<f4","rows":1}` — or nil for anything else, which then goes
    /// through ``JSONParser`` and the decoder's checks (and is accepted or rejected exactly as before).
    ///
    /// Why: at one row per message the generic parse (a tree of keys and values, each a String) and its release were
    /// 12 % of the daemon's samples (`perf record -g -p PID`, 16×1 binary). It returns a header only when the
    /// generic path would accept the same one: keys and strings of printable ASCII without escapes, integers as
    /// plain digits without a sign or a leading zero (up to 18 digits), JSON's whitespace between tokens, no key
    /// twice (the generic path takes the first), `v` absent or 1, `dtype` one of the four names, `rows` in
    /// 1…`maxRows`; a key it does not use may have a string or an integer value. `BinaryHeaderTests` checks the
    /// agreement on a corpus of headers, and Fuzz/ on random bytes.
    package static func scan(_ bytes: UnsafeRawBufferPointer, maxRows: Int) -> BinaryHeader? {
        var scanner = Scanner(bytes: bytes)
        return scanner.header(maxRows: maxRows)
    }

    private struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var index = 0

        /// A scanned value: a plain string (its bytes) or a plain integer.
        enum Value {
            case string(UnsafeRawBufferPointer)
            case integer(Int)
        }

        mutating func header(maxRows: Int) -> BinaryHeader? {
            var width: Int?, rows: Int?, producer: String?, sequence: Int?, seen: UInt8 = 0
            skipWhitespace()
            guard take(UInt8(ascii: "{")) else { return nil }
            skipWhitespace()
            if !take(UInt8(ascii: "}")) {
                repeat {
                    skipWhitespace()
                    guard let key = plainString() else { return nil }
                    skipWhitespace()
                    guard take(UInt8(ascii: ":")) else { return nil }
                    skipWhitespace()
                    guard let value = plainValue() else { return nil }
                    skipWhitespace()
                    // The keys the decoder reads, each at most once; any other key is skipped.
                    let field: UInt8
                    if Self.equal(key, "v") { field = 0 }
                    else if Self.equal(key, "dtype") { field = 1 }
                    else if Self.equal(key, "rows") { field = 2 }
                    else if Self.equal(key, "producer") { field = 3 }
                    else if Self.equal(key, "seq") { field = 4 }
                    else { continue }
                    guard seen & (1 << field) == 0 else { return nil }
                    seen |= 1 << field
                    switch (field, value) {
                    case (0, .integer(1)): break
                    case let (1, .string(name)):
                        if Self.equal(name, "float32") || Self.equal(name, "<f4") {
                            width = 4
                        } else if Self.equal(name, "float64") || Self.equal(name, "<f8") {
                            width = 8
                        } else {
                            return nil
                        }
                    case let (2, .integer(n)) where n >= 1 && n <= maxRows: rows = n
                    case let (3, .string(name)): producer = String(decoding: name, as: UTF8.self)
                    case let (4, .integer(n)): sequence = n
                    default: return nil
                    }
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "}")) else { return nil }
            }
            skipWhitespace()
            guard index == bytes.count, let width, let rows else { return nil }
            return BinaryHeader(width: width, rows: rows, producer: producer, sequence: sequence)
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func skipWhitespace() {
            while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
                index += 1
            }
        }

        /// `"…"` of printable ASCII without a backslash; nil for anything else.
        mutating func plainString() -> UnsafeRawBufferPointer? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            while index < bytes.count {
                let c = bytes[index]
                if c == UInt8(ascii: "\"") {
                    index += 1
                    return UnsafeRawBufferPointer(rebasing: bytes[start..<(index - 1)])
                }
                guard c >= 0x20, c < 0x7F, c != UInt8(ascii: "\\") else { return nil }
                index += 1
            }
            return nil
        }

        /// A plain string, or 0 or 1–18 digits without a leading zero; nil for anything else.
        mutating func plainValue() -> Value? {
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") { return plainString().map(Value.string) }
            let start = index
            var n = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                // Only the first 18 digits are added up (more are declined below): a hostile run of digits must not
                // overflow.
                if index - start < 18 { n = n * 10 + Int(bytes[index] - UInt8(ascii: "0")) }
                index += 1
            }
            let digits = index - start
            guard digits >= 1, digits <= 18, digits == 1 || bytes[start] != UInt8(ascii: "0") else { return nil }
            // A fraction or an exponent makes it a number the generic path reads its own way.
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] | 0x20 == UInt8(ascii: "e") { return nil }
            return .integer(n)
        }

        /// Whether the bytes spell `text` (lengths first: most keys differ there; `elementsEqual` across the two
        /// buffer types was not specialised and cost more than the rest of the scan).
        static func equal(_ bytes: UnsafeRawBufferPointer, _ text: StaticString) -> Bool {
            guard bytes.count == text.utf8CodeUnitCount else { return false }
            let expected = text.utf8Start
            for i in 0..<bytes.count where bytes[i] != expected[i] { return false }
            return true
        }
    }
}
