/// Why a configuration could not be loaded.
///
/// Every case carries the file (or `control request` for JSON sent to the control socket), and where it
/// applies the table and the key, so an operator can fix the config from the message alone, e.g.
/// `Configs/hebbd.toml: [[model]] "demo": key "lr": expected a finite number > 0, got -1.0`.
/// Tables are named as in the file: `top level`, `[endpoints]`, `[[model]] "demo"` (or `[[model]] #2`
/// while the model has no valid name), `[[model]] "demo".prior`.
package enum ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be read (missing, a directory, no permission, not UTF-8).
    case unreadable(file: String, reason: String)
    /// TOML or JSON syntax error, with TOMLKit's 1-based line and column when known.
    case syntax(file: String, message: String, line: Int?, column: Int?)
    /// A key that the table does not define (usually a typo); `known` lists the valid keys.
    case unknownKey(file: String, table: String, key: String, known: [String])
    /// A required key is absent.
    case missingKey(file: String, table: String, key: String, expected: String)
    /// The value has the wrong TOML/JSON type.
    case wrongType(file: String, table: String, key: String, expected: String, got: String)
    /// The value has the right type but an impossible value.
    case invalidValue(file: String, table: String, key: String, expected: String, got: String)
    /// Two models share a name; names address models on the wire, so they must be unique.
    case duplicateModelName(file: String, name: String)

    package var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "\(file): cannot read config: \(reason)"
        case let .syntax(file, message, line, column):
            let position = line.map { l in ":\(l)" + (column.map { ":\($0)" } ?? "") } ?? ""
            return "\(file)\(position): syntax error: \(message)"
        case let .unknownKey(file, table, key, known):
            return "\(file): \(table): unknown key \(ConfigValue.quoted(key)) (known: \(known.joined(separator: ", ")))"
        case let .missingKey(file, table, key, expected):
            return "\(file): \(table): missing required key \(ConfigValue.quoted(key)) (\(expected))"
        case let .wrongType(file, table, key, expected, got), let .invalidValue(file, table, key, expected, got):
            return "\(file): \(table): key \(ConfigValue.quoted(key)): expected \(expected), got \(got)"
        case let .duplicateModelName(file, name):
            return "\(file): [[model]] \(ConfigValue.quoted(name)): key \"name\": duplicate model name \(ConfigValue.quoted(name)) (model names must be unique)"
        }
    }
}
