/// The one mapping between a model configuration and the table the run-time state stores and compares.
///
/// It is the config file's own representation (``ModelConfiguration/configValue``: every key spelled out, defaults
/// included, floats in their shortest form), decoded back by the config decoder, so a stored table means exactly
/// what the same table in the config file would. Kept in this one place so that it can follow the project's
/// model-config ⇄ JSON key table when that exists.
package enum RuntimeModelTable {
    /// `model` as a normalised table.
    package static func table(of model: ModelConfiguration) -> ConfigTable {
        guard case let .table(table) = model.configValue else { preconditionFailure("a model's config value is a table") }
        return table
    }

    /// The model a stored table describes; `source` names where it came from in errors.
    package static func model(from table: ConfigTable, source: String) throws(ConfigError) -> ModelConfiguration {
        try ModelConfiguration.decode(.table(table), source: source)
    }
}
