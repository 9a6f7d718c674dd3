#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A parsed JSON value: hebbd's one JSON stack, for the hot paths (ingest, publish) and the cold ones (control,
/// checkpoint headers, the CLI) alike.
///
/// hebbd parses its own JSON because the ingest path must be fast and hostile-input safe (bounded depth, no
/// recursion beyond ``JSONParser/maximumDepth``), and the publish path must not allocate per number (see
/// ``JSONWriter``). Integers and other numbers are kept apart, as TOML does: `2` is an ``integer(_:)``, `2.0`
/// and `2e0` are ``number(_:)``s, so a key that takes an integer refuses `2.0` and a 64-bit seed survives exactly.
package enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in 64 bits.
    case integer(Int64)
    /// Any other number (always finite).
    case number(Double)
    case string(String)
    case array([JSON])
    /// Key order is kept; lookups are linear (objects here have a handful of keys).
    case object([(String, JSON)])

    package static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)): return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The value under `key` of an object (nil for other values or a missing key).
    package subscript(key: String) -> JSON? {
        guard case let .object(members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    /// The number, integer or not, if this is one.
    package var double: Double? {
        switch self {
        case let .integer(i): return Double(i)
        case let .number(n): return n
        default: return nil
        }
    }
    /// The value, if this is an integer (written without fraction or exponent) that fits an Int.
    package var int: Int? { if case let .integer(i) = self { return Int(exactly: i) } else { return nil } }
    /// The value, if this is an integer (written without fraction or exponent).
    package var int64: Int64? { if case let .integer(i) = self { return i } else { return nil } }
    /// The string, if this is one.
    package var string: String? { if case let .string(s) = self { return s } else { return nil } }
    /// The Boolean, if this is one.
    package var bool: Bool? { if case let .bool(b) = self { return b } else { return nil } }
    /// The elements, if this is an array.
    package var array: [JSON]? { if case let .array(a) = self { return a } else { return nil } }
    /// The members, if this is an object.
    package var object: [(String, JSON)]? { if case let .object(o) = self { return o } else { return nil } }

    /// A short name of the value's type, for error messages.
    package var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer: return "an integer"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Compact serialisation.
    package var serialized: [UInt8] {
        var w = JSONWriter()
        w.value(self)
        return w.bytes
    }
}

/// Why a document is not JSON: what and where (byte offset).
package struct JSONParseError: Error, Equatable, CustomStringConvertible {
    /// What was wrong.
    package var message: String
    /// Byte offset of the problem.
    package var offset: Int
    package var description: String { "\(message) at byte \(offset)" }
}

/// A strict RFC 8259 parser over a byte buffer, with a depth limit.
package struct JSONParser {
    /// Nesting deeper than this is rejected, so a hostile message cannot exhaust the stack.
    package static let maximumDepth = 64

    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    /// Parses one JSON document (surrounding whitespace allowed, nothing else).
    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSON {
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index != bytes.count { throw parser.error("trailing characters") }
        return value
    }

    /// Parses one JSON document from an array of bytes.
    package static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSON {
        do {
            return try bytes.withUnsafeBytes { try parse($0) }
        } catch let e as JSONParseError {
            throw e
        } catch {
            preconditionFailure("unreachable")
        }
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private func error(_ message: String) -> JSONParseError { JSONParseError(message: message, offset: index) }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func skipWhitespace() {
        while let c = current, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { index += 1 }
    }

    private mutating func expect(_ literal: StaticString) throws(JSONParseError) {
        let n = literal.utf8CodeUnitCount
        guard index + n <= bytes.count else { throw error("unexpected end") }
        let p = literal.utf8Start
        for i in 0..<n where bytes[index + i] != p[i] { throw error("invalid literal") }
        index += n
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSON {
        guard depth < JSONParser.maximumDepth else { throw error("nested deeper than \(JSONParser.maximumDepth)") }
        guard let c = current else { throw error("unexpected end") }
        switch c {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character '\(Character(Unicode.Scalar(c)))'")
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSON {
        index += 1
        var members: [(String, JSON)] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") { index += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            members.append((key, try parseValue(depth: depth + 1)))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            default: throw error("expected ',' or '}'")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSON {
        index += 1
        var elements: [JSON] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { index += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            default: throw error("expected ',' or ']'")
            }
        }
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        index += 1
        // Fast path, every ingest header's keys and values: no escape and no control character up to the closing
        // quote, so the String is made straight from the bytes (no intermediate array allocated per string).
        var end = index, ascii = true
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 {
            ascii = ascii && bytes[end] < 0x80
            end += 1
        }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            let text = UnsafeRawBufferPointer(rebasing: bytes[index..<end])
            index = end + 1
            // ASCII is valid UTF-8: `String(decoding:)` then makes the same String without `String(validating:)`,
            // whose generic code instantiated type metadata at run time on every call (~15% of the engine thread
            // with one-row messages).
            if ascii { return String(decoding: text, as: UTF8.self) }
            guard let s = String(validating: text, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
            return s
        }
        var scalars: [UInt8] = []
        while true {
            guard let c = current else { throw error("unterminated string") }
            index += 1
            switch c {
            case UInt8(ascii: "\""):
                guard let s = String(validating: scalars, as: UTF8.self) else { throw error("invalid UTF-8 in string") }
                return s
            case UInt8(ascii: "\\"):
                guard let e = current else { throw error("unterminated escape") }
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(e)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800..<0xDC00).contains(code) {
                        guard current == UInt8(ascii: "\\") else { throw error("lone surrogate") }
                        index += 1
                        guard current == UInt8(ascii: "u") else { throw error("lone surrogate") }
                        index += 1
                        let low = try parseHex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(code) {
                        throw error("lone surrogate")
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid code point") }
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw error("invalid escape")
                }
            case 0..<0x20: throw error("control character in string")
            default: scalars.append(c)
            }
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw error("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            index += 1
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - UInt8(ascii: "A") + 10
            default: throw error("invalid hex digit")
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSON {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        func digits(_ p: inout JSONParser) -> Int {
            let s = p.index
            while let c = p.current, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") { p.index += 1 }
            return p.index - s
        }
        let intStart = index
        let intDigits = digits(&self)
        guard intDigits > 0 else { throw error("invalid number") }
        if intDigits > 1 && bytes[intStart] == UInt8(ascii: "0") { throw error("leading zero in number") }
        var integral = true
        if current == UInt8(ascii: ".") {
            index += 1
            integral = false
            guard digits(&self) > 0 else { throw error("invalid fraction") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            integral = false
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw error("invalid exponent") }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if integral, let i = Int64(text) { return .integer(i) }
        guard let value = Double(text), value.isFinite else { throw error("number out of range") }
        return .number(value)
    }
}

/// Writes JSON straight into a byte buffer. Used on the publish path, where Foundation's
/// JSONEncoder was measured thousands of times slower (docs/ARCHITECTURE.md, "Decisions").
package struct JSONWriter {
    /// The bytes written so far.
    package var bytes: [UInt8]
    private var needsComma = false

    /// A writer with an empty buffer, reserving `capacity` bytes.
    package init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Empties the buffer, keeping its storage.
    package mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma = false
    }

    private mutating func separator() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        needsComma = false
    }

    /// `{`
    package mutating func beginObject() { separator(); bytes.append(UInt8(ascii: "{")) }
    /// `}`
    package mutating func endObject() { bytes.append(UInt8(ascii: "}")); needsComma = true }
    /// `[`
    package mutating func beginArray() { separator(); bytes.append(UInt8(ascii: "[")) }
    /// `]`
    package mutating func endArray() { bytes.append(UInt8(ascii: "]")); needsComma = true }

    /// `"key":`
    package mutating func key(_ key: String) {
        separator()
        writeString(key)
        bytes.append(UInt8(ascii: ":"))
    }

    /// A string value.
    package mutating func string(_ s: String) { separator(); writeString(s); needsComma = true }
    /// An integer value.
    package mutating func int<I: BinaryInteger>(_ v: I) {
        separator()
        // Digits written in place (a `description` String per integer was a heap allocation per field).
        if let magnitude = UInt64(exactly: v.magnitude) {
            if v < 0 { bytes.append(UInt8(ascii: "-")) }
            appendDecimal(magnitude)
        } else {
            bytes.append(contentsOf: v.description.utf8)
        }
        needsComma = true
    }
    /// An RFC 3339 time as a string value (``Timestamp/rfc3339(_:)``), written in place.
    package mutating func timestamp(_ seconds: Double) {
        separator()
        bytes.append(UInt8(ascii: "\""))
        Timestamp.appendRFC3339(seconds, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }
    /// A Boolean value.
    package mutating func bool(_ v: Bool) { separator(); bytes.append(contentsOf: (v ? "true" : "false").utf8); needsComma = true }
    /// `null`
    package mutating func null() { separator(); bytes.append(contentsOf: "null".utf8); needsComma = true }
    /// A number in its shortest round-trip form; non-finite values become `null` (JSON has none).
    package mutating func double(_ v: Double) {
        separator()
        if v.isFinite { bytes.append(contentsOf: v.description.utf8) } else { bytes.append(contentsOf: "null".utf8) }
        needsComma = true
    }
    /// A float32 in its shortest round-trip form (so 0.05 prints as 0.05, not 0.05000000074505806).
    package mutating func float(_ v: Float) {
        separator()
        appendFloat(v)
        needsComma = true
    }

    /// A row-major matrix of float32 values as `rows` arrays of `columns` numbers (coefficients, predictions).
    /// The publish path's bulk: the text is formatted straight into ``bytes``' own storage — room for the longest
    /// possible text is added uninitialised (`append(addingCapacity:)`), and only what was written counts — a row at
    /// a time by ``FloatText/writeList(_:count:to:)`` (numbers, commas, `null` for a non-finite value). That storage
    /// then goes to libzmq as the frame itself (`Socket.send(sharing:)`), so the text is written once and never
    /// copied. (Appending each number and comma separately cost more than formatting them — 1024×16 with JSON
    /// publish: 45% of the engine thread, 21% of it the formatter; a staging buffer cost a copy of every message.)
    package mutating func matrix(_ values: UnsafeBufferPointer<Float>, rows: Int, columns: Int) {
        separator()
        needsComma = true
        // Each row's list with its brackets and comma (the list's capacity includes its scratch room), the outer
        // brackets.
        bytes.append(addingCapacity: 2 + rows * (3 + FloatText.listCapacity(columns))) { output in
            output.withUnsafeMutableBufferPointer { buffer, initialized in
                let base = buffer.baseAddress! + initialized
                var used = 0
                if columns < Self.narrowRowColumns, rows > 1, let first = values.baseAddress {
                    used = Self.writeNarrowRows(first, rows: rows, columns: columns, to: base)
                } else {
                    base[used] = UInt8(ascii: "["); used += 1
                    for r in 0..<rows {
                        if r > 0 { base[used] = UInt8(ascii: ","); used += 1 }
                        used += Self.writeArray(values.baseAddress.map { $0 + r * columns }, count: columns, to: base + used)
                    }
                    base[used] = UInt8(ascii: "]"); used += 1
                }
                initialized += used
            }
        }
    }

    /// Rows narrower than this are formatted as one list and then bracketed (``writeNarrowRows(_:rows:columns:to:)``):
    /// the formatter works on blocks of 8 values, so a row of 1 value per call (every `sys_dim = 1` model) paid for 8.
    static let narrowRowColumns = 8

    /// `[[v,…],…]` for `rows` rows of `columns` (< ``narrowRowColumns``) values, as the row-at-a-time path writes it:
    /// every value in one ``FloatText/writeList(_:count:to:)`` call placed `2·rows + 1` bytes into `out`, then moved
    /// forward row by row with the brackets put in — the write position never passes the read position, so no
    /// scratch is needed. `out` has the capacity ``matrix(_:rows:columns:)`` reserves; returns the byte count.
    private static func writeNarrowRows(_ values: UnsafePointer<Float>, rows: Int, columns: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        let shift = 2 * rows + 1
        let length = FloatText.writeList(values, count: rows * columns, to: out + shift)
        let end = out + shift + length
        var read = out + shift, write = out
        write.pointee = UInt8(ascii: "["); write += 1
        for r in 0..<rows {
            // The row's text runs to its columns-th comma (or the end): found with memchr, moved with memmove.
            var stop = read
            for _ in 0..<columns {
                let comma = memchr(stop, Int32(UInt8(ascii: ",")), end - stop)?.assumingMemoryBound(to: UInt8.self) ?? end
                stop = comma < end ? comma + 1 : end
            }
            // Every row but the last ends at a comma, consumed here; the writer puts its own between rows.
            let text = stop > read && stop[-1] == UInt8(ascii: ",") ? stop - 1 - read : stop - read
            if r > 0 { write.pointee = UInt8(ascii: ","); write += 1 }
            write.pointee = UInt8(ascii: "["); write += 1
            memmove(write, read, text)
            write += text
            write.pointee = UInt8(ascii: "]"); write += 1
            read = stop
        }
        write.pointee = UInt8(ascii: "]"); write += 1
        return write - out
    }

    /// An array of float32 values (`[0.5,-1.0,null]`), formatted as ``matrix(_:rows:columns:)`` formats a row.
    package mutating func floats(_ values: UnsafeBufferPointer<Float>) {
        separator()
        needsComma = true
        if values.count == 1 {
            bytes.append(UInt8(ascii: "["))
            appendFloat(values[0])
            bytes.append(UInt8(ascii: "]"))
            return
        }
        bytes.append(addingCapacity: 2 + FloatText.listCapacity(values.count)) { output in
            output.withUnsafeMutableBufferPointer { buffer, initialized in
                initialized += Self.writeArray(values.baseAddress, count: values.count, to: buffer.baseAddress! + initialized)
            }
        }
    }

    /// Writes `[v,…]` for `count` values at `values` (nil when count is 0) at `out`, which has room for
    /// 2 + ``FloatText/listCapacity(_:)`` bytes; returns the byte count.
    @inline(__always)
    private static func writeArray(_ values: UnsafePointer<Float>?, count: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        out[0] = UInt8(ascii: "[")
        var used = 1
        if let values, count > 0 { used += FloatText.writeList(values, count: count, to: out + used) }
        out[used] = UInt8(ascii: "]")
        return used + 1
    }

    /// The shortest round-trip text of `v`, or `null` when it is not finite (JSON has no NaN/Inf). One value alone
    /// is `Float.description` — the text ``FloatText`` writes, byte for byte (FloatTextTests, every pattern), at
    /// ~25 ns where the vector formatter pays a block of eight (~80 ns); its at most 15 bytes are a small String,
    /// never allocated. (At one row per message the threshold and the intercept were 3 % of the daemon's samples.)
    @inline(__always)
    private mutating func appendFloat(_ v: Float) {
        guard v.isFinite else { bytes.append(contentsOf: "null".utf8); return }
        bytes.append(contentsOf: v.description.utf8)
    }

    /// Raw, already-serialised JSON.
    package mutating func raw(_ json: [UInt8]) { separator(); bytes.append(contentsOf: json); needsComma = true }

    /// A whole value.
    package mutating func value(_ v: JSON) {
        switch v {
        case .null: null()
        case let .bool(b): bool(b)
        case let .integer(i): int(i)
        case let .number(n): double(n)
        case let .string(s): string(s)
        case let .array(a):
            beginArray()
            for e in a { value(e) }
            endArray()
        case let .object(o):
            beginObject()
            for (k, e) in o { key(k); value(e) }
            endObject()
        }
    }

    private mutating func appendDecimal(_ value: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 20 digits at most, in 24 bytes on the stack
        withUnsafeMutableBytes(of: &digits) { buffer in
            var rest = value, start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    private mutating func writeString(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        JSONEscaping.append(s, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }
}

/// The one JSON string escaper: replies, published messages, events, checkpoint headers, config error texts
/// (``ConfigValue``'s quoting) and log metadata (`Logger.MetadataValue.wire`) all escape through it, so every
/// `\u` escape hebbd writes has the one JSON syntax, `\u001b`.
///
/// `"` and `\` are escaped, LF, CR and TAB by name, the other C0 controls as `\u00xx` (lower-case hex): exactly
/// what the wire and checkpoint formats have always contained. Everything else is copied as UTF-8, unless the
/// caller asks for more (logs also escape DEL, the C1 controls and the Unicode line and paragraph separators,
/// which terminals and log viewers treat as line breaks).
package enum JSONEscaping {
    /// Appends the escaped text of `text` (without quotes) to `bytes`, at most `limit` Unicode scalars of it;
    /// returns whether the whole text fitted. `alsoEscape` picks further scalars (≥ U+007F) to write as `\uxxxx`.
    @discardableResult
    package static func append(_ text: some StringProtocol, to bytes: inout [UInt8], limit: Int = .max,
                               alsoEscape: ((Unicode.Scalar) -> Bool)? = nil) -> Bool {
        // Printable ASCII with nothing to escape — every key and almost every name — is copied as it is, in one
        // append (scalar by scalar, the keys of a one-row update's message were 5 % of the daemon's samples).
        let copied = text.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
            guard utf8.count <= limit, utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if copied == true { return true }
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit { return false }
            count += 1
            let value = scalar.value
            switch value {
            case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
            case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20: appendUnicodeEscape(UInt16(value), to: &bytes)
            case 0x20..<0x7F: bytes.append(UInt8(value))
            default:
                if let alsoEscape, alsoEscape(scalar) {
                    // Beyond the BMP, JSON's \u syntax takes the UTF-16 surrogate pair.
                    for unit in String(scalar).utf16 { appendUnicodeEscape(unit, to: &bytes) }
                } else {
                    UTF8.encode(scalar) { bytes.append($0) }
                }
            }
        }
        return true
    }

    /// `text` escaped (see ``append(_:to:limit:alsoEscape:)``) between double quotes.
    package static func quoted(_ text: some StringProtocol) -> String {
        var bytes: [UInt8] = [UInt8(ascii: "\"")]
        append(text, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func appendUnicodeEscape(_ unit: UInt16, to bytes: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        let digits = hex.utf8Start
        bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), digits[Int(unit >> 12)], digits[Int((unit >> 8) & 15)],
                                  digits[Int((unit >> 4) & 15)], digits[Int(unit & 15)]])
    }
}
