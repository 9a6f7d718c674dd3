/// Reads the keys of one config table with typed accessors.
///
/// Every table of the config goes through this one type, so that unknown keys, missing keys, wrong types
/// and out-of-range values are reported the same way everywhere. The known keys are declared up front and
/// checked first: a typo (`ingset`) is then reported as such, not as a silently applied default.
struct TableReader {
    let file: String
    let table: String
    let known: [String]
    private let entries: ConfigTable

    init(_ entries: ConfigTable, file: String, table: String, known: [String]) throws(ConfigError) {
        if let unknown = entries.keys.first(where: { !known.contains($0) }) {
            throw .unknownKey(file: file, table: table, key: unknown, known: known)
        }
        self.entries = entries
        self.file = file
        self.table = table
        self.known = known
    }

    /// The raw value of `key` (which must be one of the declared keys).
    func raw(_ key: String) -> ConfigValue? {
        precondition(known.contains(key), "TableReader: undeclared key \(key) in \(table)")
        return entries[key]
    }

    /// The value of any key, declared or not (for names that come from elsewhere, e.g. the core's errors).
    func peek(_ key: String) -> ConfigValue? { entries[key] }

    func wrongType(_ key: String, _ expected: String, _ value: ConfigValue) -> ConfigError {
        .wrongType(file: file, table: table, key: key, expected: expected, got: value.summary)
    }

    func invalid(_ key: String, _ expected: String, _ got: String) -> ConfigError {
        .invalidValue(file: file, table: table, key: key, expected: expected, got: got)
    }

    /// The core accessor: absent → `fallback` (or a missing-key error), wrong type → error, then `check`.
    func read<T>(_ key: String, _ fallback: T?, _ expected: String, _ convert: (ConfigValue) -> T?,
                 check: (T) -> Bool = { _ in true }) throws(ConfigError) -> T {
        guard let value = raw(key) else {
            if let fallback { return fallback }
            throw .missingKey(file: file, table: table, key: key, expected: expected)
        }
        guard let converted = convert(value) else { throw wrongType(key, expected, value) }
        guard check(converted) else { throw invalid(key, expected, value.literal) }
        return converted
    }

    func string(_ key: String, default fallback: String? = nil, nonEmpty: Bool = true) throws(ConfigError) -> String {
        try read(key, fallback, nonEmpty ? "a non-empty string" : "a string", { if case let .string(s) = $0 { s } else { nil } },
                 check: { !nonEmpty || !$0.isEmpty })
    }

    func bool(_ key: String, default fallback: Bool? = nil) throws(ConfigError) -> Bool {
        try read(key, fallback, "a boolean (true or false)", { if case let .bool(b) = $0 { b } else { nil } })
    }

    func integer(_ key: String, default fallback: Int? = nil, in range: ClosedRange<Int64>) throws(ConfigError) -> Int {
        let expected = range.upperBound == .max ? (range.lowerBound == 1 ? "an integer > 0" : "an integer ≥ \(range.lowerBound)")
                                                : "an integer in [\(range.lowerBound), \(range.upperBound)]"
        let value = try read(key, fallback.map(Int64.init), expected, { if case let .integer(i) = $0 { i } else { nil } },
                             check: range.contains)
        return Int(value)
    }

    /// A number; integers are accepted (`lr = 1` is 1.0). Ranges are checked by the caller or by
    /// `CircuitConfiguration.validate()`.
    func number(_ key: String, default fallback: Double? = nil, expected: String = "a number",
                check: (Double) -> Bool = { _ in true }) throws(ConfigError) -> Double {
        try read(key, fallback, expected, \.number, check: check)
    }

    func float(_ key: String, default fallback: Float) throws(ConfigError) -> Float {
        Float(try number(key, default: Double(fallback)))
    }

    /// One of an enum's raw values, e.g. `kind = "lasso"`.
    func choice<E: RawRepresentable & CaseIterable>(_ key: String, default fallback: E? = nil) throws(ConfigError) -> E
        where E.RawValue == String
    {
        let expected = "one of " + E.allCases.map { ConfigValue.quoted($0.rawValue) }.joined(separator: ", ")
        let s = try read(key, fallback?.rawValue, expected, { if case let .string(s) = $0 { s } else { nil } })
        guard let value = E(rawValue: s) else { throw invalid(key, expected, ConfigValue.quoted(s)) }
        return value
    }

    func strings(_ key: String, default fallback: [String], check: (String) -> Bool = { _ in true },
                 expected: String = "an array of strings") throws(ConfigError) -> [String] {
        guard let value = raw(key) else { return fallback }
        guard case let .array(items) = value else { throw wrongType(key, expected, value) }
        var result: [String] = []
        for (i, item) in items.enumerated() {
            guard case let .string(s) = item else { throw wrongType("\(key)[\(i)]", expected, item) }
            guard check(s) else { throw invalid("\(key)[\(i)]", expected, item.literal) }
            result.append(s)
        }
        return result
    }

    /// A duration in seconds: `"500ms"`, `"30s"`, `"1.5s"`, `"5m"`, `"1h"`, or a plain number of seconds.
    func duration(_ key: String, default fallback: Double) throws(ConfigError) -> Double {
        let expected = "a duration ≥ 0 such as \"500ms\", \"30s\", \"5m\", \"1h\" or a number of seconds"
        return try read(key, fallback, expected, { value in
            if case let .string(s) = value { return TableReader.parseDuration(s) ?? -1 }
            return value.number
        }, check: { $0.isFinite && $0 >= 0 })
    }

    /// A sub-table (`[model.prior]`), or nil when absent.
    func table(_ key: String) throws(ConfigError) -> ConfigTable? {
        guard let value = raw(key) else { return nil }
        guard case let .table(t) = value else { throw wrongType(key, "a table", value) }
        return t
    }

    /// Per-coefficient values: a number (broadcast), a flat row-major array of rows×columns numbers, or
    /// `rows` arrays of `columns` numbers (how a dict_dim × sys_dim matrix is naturally written).
    func coefficients(_ key: String, default fallback: [Float], rows: Int, columns: Int) throws(ConfigError) -> [Float] {
        guard let value = raw(key) else { return fallback }
        let expected = "a number, an array of dict_dim×sys_dim = \(rows * columns) numbers, or dict_dim = \(rows) arrays of sys_dim = \(columns) numbers"
        if let x = value.number { return [Float(x)] }
        guard case let .array(items) = value else { throw wrongType(key, expected, value) }
        func numbers(_ cells: [ConfigValue], _ name: (Int) -> String) throws(ConfigError) -> [Float] {
            var result: [Float] = []
            for (j, cell) in cells.enumerated() {
                guard let x = cell.number else { throw wrongType(name(j), "a number", cell) }
                result.append(Float(x))
            }
            return result
        }
        let rowArrays = items.compactMap { if case let .array(row) = $0 { row } else { nil } }
        if !items.isEmpty && rowArrays.count == items.count {
            guard items.count == rows else { throw invalid(key, expected, "an array of \(items.count) rows") }
            var flat: [Float] = []
            for (i, row) in rowArrays.enumerated() {
                guard row.count == columns else { throw invalid(key, expected, "row \(i + 1) of \(row.count) values") }
                flat += try numbers(row) { "\(key)[\(i)][\($0)]" }
            }
            return flat
        }
        guard items.count == rows * columns else { throw invalid(key, expected, "an array of \(items.count) values") }
        return try numbers(items) { "\(key)[\($0)]" }
    }

    // MARK: Formats

    static func parseDuration(_ text: String) -> Double? {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        guard let unit = units.first(where: { text.hasSuffix($0.suffix) }) else { return nil }
        let digits = text.dropLast(unit.suffix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              let value = Double(digits) else { return nil }
        return value * unit.seconds
    }

    /// `host:port` with a numeric port (or `*` where allowed); host may be a name, an address, `*`, or `[v6]`.
    static func isHostPort<S: StringProtocol>(_ text: S, wildcardPort: Bool) -> Bool {
        guard let colon = text.lastIndex(of: ":") else { return false }
        let host = text[..<colon], port = text[text.index(after: colon)...]
        let hostOK = !host.isEmpty && !host.contains(where: { $0.isWhitespace || $0 == "/" })
            && (host.first != "[" || host.last == "]") && (host.contains("[") || !host.contains(":"))
        let portOK = (wildcardPort && port == "*")
            || (!port.isEmpty && port.count <= 5 && port.allSatisfy { $0.isASCII && $0.isNumber } && Int(port)! <= 65535)
        return hostOK && portOK
    }

    /// The transports hebbd supports: `tcp://host:port` (port may be `*`), `ipc://path`, `inproc://name`.
    static func isZeroMQEndpoint(_ text: String) -> Bool {
        if text.hasPrefix("tcp://") { return isHostPort(text.dropFirst(6), wildcardPort: true) }
        for scheme in ["ipc://", "inproc://"] where text.hasPrefix(scheme) {
            let rest = text.dropFirst(scheme.count)
            return !rest.isEmpty && !rest.contains(where: \.isWhitespace)
        }
        return false
    }

    static let endpointExpected = "a ZeroMQ endpoint tcp://host:port, ipc://path or inproc://name"
}
