/// Why a run-time state file cannot be used. The daemon then refuses to start rather than forget the run-time
/// changes (see docs/OPERATIONS.md, "What survives a restart": `--reset-runtime` discards them explicitly).
package enum RuntimeStateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed (`operation` names it; `code` is `errno`).
    case io(path: String, operation: String, code: Int32)
    /// The file is not valid JSON of the expected shape.
    case malformed(path: String, reason: String)
    /// Written by a newer hebbd: valid, but not ours to read.
    case unsupportedVersion(path: String, version: Int64, supported: Int64)

    package var description: String {
        switch self {
        case let .io(path, operation, code): return "\(path): \(operation) failed (errno \(code))"
        case let .malformed(path, reason): return "\(path): malformed run-time state: \(reason)"
        case let .unsupportedVersion(path, version, supported):
            return "\(path): run-time state format version \(version) (this build reads version \(supported))"
        }
    }
}

/// The run-time state file: one JSON object, written atomically by the daemon, readable by people.
///
/// ```json
/// {"format": 1, "models": [
///   {"name": "m", "running": {"name": "m", "kind": "lasso", …, "lr": 0.05}, "base": {"name": "m", …, "lr": 0.01}},
///   {"name": "gone", "running": null, "base": {…}}
/// ]}
/// ```
/// `running` is the configuration the model runs with (null: removed at run time); `base` is the config file's table
/// it was created or last set from (null: added at run time). Both are full model tables as in the config file.
package enum RuntimeStateFormat {
    /// The format version this build writes and reads.
    package static let version: Int64 = 1

    /// `state` as the file's bytes.
    package static func encode(_ state: RuntimeState) -> [UInt8] {
        let models: [JSON] = state.records.map { record in
            .object([("name", .string(record.name)),
                     ("running", record.running.map { ConfigValue.table($0).json } ?? .null),
                     ("base", record.base.map { ConfigValue.table($0).json } ?? .null)])
        }
        return JSON.object([("format", .integer(version)), ("models", .array(models))]).serialized + [0x0A]
    }

    /// The state in `bytes`, read from `path` (for errors).
    package static func decode(_ bytes: [UInt8], path: String) throws(RuntimeStateError) -> RuntimeState {
        let json: JSON
        do { json = try JSONParser.parse(bytes) } catch { throw .malformed(path: path, reason: "\(error)") }
        guard let format = json["format"]?.int64 else { throw .malformed(path: path, reason: "no integer \"format\"") }
        guard format == version else { throw .unsupportedVersion(path: path, version: format, supported: version) }
        guard case let .array(items)? = json["models"] else { throw .malformed(path: path, reason: "no array \"models\"") }
        var records: [RuntimeModelRecord] = []
        for (index, item) in items.enumerated() {
            guard case let .string(name)? = item["name"] else { throw .malformed(path: path, reason: "models[\(index)] has no string \"name\"") }
            func table(_ key: String) throws(RuntimeStateError) -> ConfigTable? {
                switch item[key] {
                case nil, .null?: return nil
                case let value?:
                    let converted: ConfigValue
                    do { converted = try ConfigValue(json: value, source: path) } catch {
                        throw .malformed(path: path, reason: "models[\(index)].\(key): \(error)")
                    }
                    guard case let .table(t) = converted else { throw .malformed(path: path, reason: "models[\(index)].\(key) is not an object") }
                    return t
                }
            }
            records.append(RuntimeModelRecord(name: name, running: try table("running"), base: try table("base")))
        }
        return RuntimeState(records: records)
    }
}
