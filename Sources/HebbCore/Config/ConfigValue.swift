import TOMLKit

/// A format-neutral configuration value.
///
/// The TOML config file and the JSON of the control socket's `add` command are both converted to this
/// tree first, so one decoder (``ModelConfiguration/decode(_:source:)``) validates both and gives the
/// same error messages. Integers and floats stay distinct so that `dict_dim = 2.5` can be rejected while
/// `lr = 1` is accepted as 1.0.
package indirect enum ConfigValue: Sendable, Equatable {
    /// A string (TOML string, JSON string).
    case string(String)
    /// An integer; JSON integers beyond Int64 arrive as ``float(_:)``.
    case integer(Int64)
    /// A floating-point number; `1.0` stays a float, so it is not accepted where an integer is required.
    case float(Double)
    /// A boolean; never confused with the integers 0 and 1.
    case bool(Bool)
    /// An array, possibly of mixed values.
    case array([ConfigValue])
    /// A table (TOML table, JSON object).
    case table(ConfigTable)

    /// The value as a number when it is an integer or a float (integers are valid wherever floats are).
    package var number: Double? {
        switch self {
        case let .integer(i): return Double(i)
        case let .float(d): return d
        default: return nil
        }
    }

    /// What the value is, for "expected …, got …" messages: `a string "x"`, `an integer 3`, `an array of 2 values`.
    package var summary: String {
        switch self {
        case let .string(s): return "a string \(ConfigValue.quoted(s))"
        case let .integer(i): return "an integer \(i)"
        case let .float(d): return "a float \(d)"
        case let .bool(b): return "a boolean \(b)"
        case let .array(a): return "an array of \(a.count) value\(a.count == 1 ? "" : "s")"
        case .table: return "a table"
        }
    }

    /// The value as it would be written in a config, for "got …" in range errors: `-1`, `"lasso2"`.
    package var literal: String {
        switch self {
        case let .string(s): return ConfigValue.quoted(s)
        case let .integer(i): return String(i)
        case let .float(d): return String(d)
        case let .bool(b): return String(b)
        case .array, .table: return summary
        }
    }

    /// `s` as a JSON string literal, for messages (``JSONEscaping``).
    static func quoted(_ s: String) -> String { JSONEscaping.quoted(s) }
}

/// A table of ``ConfigValue``s that remembers the order in which keys were inserted.
///
/// The order only matters for output (``ConfigValue/jsonText``), so that e.g. the control `models` reply
/// lists `name` and `kind` first; equality ignores it. TOMLKit does not preserve the
/// source order, so tables read from them come sorted by key.
package struct ConfigTable: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// The keys in insertion order.
    package private(set) var keys: [String] = []
    private var storage: [String: ConfigValue] = [:]

    /// An empty table.
    package init() {}

    package init(dictionaryLiteral elements: (String, ConfigValue)...) {
        for (key, value) in elements { self[key] = value }
    }

    /// The value at `key`; assigning `nil` removes the key.
    package subscript(key: String) -> ConfigValue? {
        get { storage[key] }
        set {
            if newValue == nil { keys.removeAll { $0 == key } } else if storage[key] == nil { keys.append(key) }
            storage[key] = newValue
        }
    }

    /// Number of keys.
    package var count: Int { keys.count }

    package func makeIterator() -> some IteratorProtocol<(key: String, value: ConfigValue)> {
        keys.lazy.map { (key: $0, value: storage[$0]!) }.makeIterator()
    }

    package static func == (lhs: ConfigTable, rhs: ConfigTable) -> Bool { lhs.storage == rhs.storage }
}

extension ConfigValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    package init(stringLiteral value: String) { self = .string(value) }
    package init(integerLiteral value: Int64) { self = .integer(value) }
    package init(floatLiteral value: Double) { self = .float(value) }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(arrayLiteral elements: ConfigValue...) { self = .array(elements) }
    package init(dictionaryLiteral elements: (String, ConfigValue)...) {
        var table = ConfigTable()
        for (key, value) in elements { table[key] = value }
        self = .table(table)
    }
}

// MARK: - TOML

extension ConfigValue {
    /// Parses a TOML document; syntax errors carry TOMLKit's line and column.
    package static func parse(toml text: String, file: String) throws(ConfigError) -> ConfigTable {
        // toml++ aborts the process on a few malformed inputs instead of throwing: refuse those first.
        if let problem = TOMLAssertionGuard.problem(in: text) {
            throw .syntax(file: file, message: problem.message, line: problem.line, column: problem.column)
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw .syntax(file: file, message: error.description, line: error.source.begin.line, column: error.source.begin.column)
        } catch {
            throw .syntax(file: file, message: "\(error)", line: nil, column: nil)
        }
        return try ConfigValue.convert(table, file: file, path: "")
    }

    /// Converts a TOMLKit table. TOML dates and times have no use in hebbd's config and are rejected
    /// here, naming the key, rather than silently turned into strings.
    package init(toml table: TOMLTable, file: String) throws(ConfigError) {
        self = .table(try ConfigValue.convert(table, file: file, path: ""))
    }

    private static func convert(_ table: TOMLTable, file: String, path: String) throws(ConfigError) -> ConfigTable {
        var result = ConfigTable()
        for (key, node) in table {
            result[key] = try convert(node, file: file, table: path.isEmpty ? "top level" : "[\(path)]", key: key,
                                      path: path.isEmpty ? key : "\(path).\(key)")
        }
        return result
    }

    private static func convert(_ node: any TOMLValueConvertible, file: String, table: String, key: String, path: String) throws(ConfigError) -> ConfigValue {
        switch node.type {
        case .string: return .string(node.string ?? "")
        case .int: return .integer(Int64(node.int ?? 0))
        case .double: return .float(node.double ?? 0)
        case .bool: return .bool(node.bool ?? false)
        case .table: return .table(try convert(node.table ?? TOMLTable(), file: file, path: path))
        case .array:
            var items: [ConfigValue] = []
            for (i, element) in (node.array ?? TOMLArray()).enumerated() {
                items.append(try convert(element, file: file, table: table, key: "\(key)[\(i)]", path: "\(path)[\(i)]"))
            }
            return .array(items)
        case .date, .time, .dateTime:
            throw .wrongType(file: file, table: table, key: key, expected: "a string, number, boolean, array or table",
                             got: "a TOML \(node.type)")
        }
    }
}

// MARK: - JSON

extension ConfigValue {
    /// Parses JSON text (e.g. a control request) into a value; `source` names it in errors.
    package static func parse(json bytes: [UInt8], source: String) throws(ConfigError) -> ConfigValue {
        let json: JSON
        do { json = try JSONParser.parse(bytes) } catch {
            throw .syntax(file: source, message: "invalid JSON: \(error)", line: nil, column: nil)
        }
        return try ConfigValue(json: json, source: source)
    }

    /// Converts a parsed JSON value. JSON's integers stay integers and its other numbers floats (the parser
    /// keeps them apart), exactly as TOML's do, so `"dict_dim": 2.0` is refused as in a config file and a
    /// 64-bit seed arrives exact. `null` has no TOML counterpart and is refused.
    package init(json: JSON, source: String) throws(ConfigError) {
        self = try ConfigValue.convert(json: json, source: source, table: "top level", key: "(value)", path: "")
    }

    private static func convert(json: JSON, source: String, table: String, key: String, path: String) throws(ConfigError) -> ConfigValue {
        switch json {
        case let .string(s): return .string(s)
        case let .bool(b): return .bool(b)
        case let .integer(i): return .integer(i)
        case let .number(d): return .float(d)
        case let .array(items):
            var result: [ConfigValue] = []
            for (i, item) in items.enumerated() {
                result.append(try convert(json: item, source: source, table: table, key: "\(key)[\(i)]", path: "\(path)[\(i)]"))
            }
            return .array(result)
        case let .object(members):
            var result = ConfigTable()
            let label = path.isEmpty ? "top level" : "[\(path)]"
            for (name, value) in members {
                if result[name] != nil {
                    throw .wrongType(file: source, table: label, key: name, expected: "one value per key", got: "a duplicate key")
                }
                result[name] = try convert(json: value, source: source, table: label, key: name, path: path.isEmpty ? name : "\(path).\(name)")
            }
            return .table(result)
        case .null:
            throw .wrongType(file: source, table: table, key: key, expected: "a string, number, boolean, array or object", got: "null")
        }
    }

    /// The value as JSON, tables in key-insertion order. Non-finite floats (possible from TOML's `inf`/`nan`,
    /// never in a validated configuration) become `null`.
    package var json: JSON {
        switch self {
        case let .string(s): return .string(s)
        case let .bool(b): return .bool(b)
        case let .integer(i): return .integer(i)
        case let .float(d): return d.isFinite ? .number(d) : .null
        case let .array(items): return .array(items.map(\.json))
        case let .table(table): return .object(table.map { ($0.key, $0.value.json) })
        }
    }

    /// Compact JSON text of the value (see ``json``).
    package var jsonText: String { String(decoding: json.serialized, as: UTF8.self) }
}
