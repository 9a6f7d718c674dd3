/// One decision of ``RuntimeState/reconcile(file:)``, logged at start and at each reload: which value won for a
/// model (or one of its keys) and why.
package struct RuntimeDecision: Sendable, Equatable, CustomStringConvertible {
    /// What was decided.
    package enum Outcome: String, Sendable, Equatable {
        /// The config file changed this key since the model was created or last set from it: the file's value wins.
        case configChanged = "config_changed"
        /// The file did not change this key: the run-time value stays.
        case runtimeKept = "runtime_kept"
        /// Removed at run time, and its table in the file is unchanged: it stays removed.
        case staysRemoved = "stays_removed"
        /// Removed at run time, but its table in the file changed: it comes back with the file's table.
        case returnsFromConfig = "returns_from_config"
        /// Added at run time and not in the file: it stays.
        case runtimeModelKept = "runtime_model_kept"
        /// Its table was deleted from the file after the model was created or set from it: it is removed (its
        /// checkpoints stay on disk).
        case removedFromConfig = "removed_from_config"
        /// The merged table is not a valid model (say the file changed `dict_dim` and a prior sized for the old
        /// one was set at run time): the file's table applies whole.
        case mergeInvalid = "merge_invalid"
    }

    /// The model.
    package var model: String
    /// The key, for per-key decisions.
    package var key: String?
    /// What was decided.
    package var outcome: Outcome
    /// Whose value the model now has.
    package var winner: ValueSource
    /// The value that won, as config text (nil for whole-model decisions).
    package var value: String?
    /// The value that lost, as config text, when there was one.
    package var overridden: String?
    /// Why, in words.
    package var reason: String

    package var description: String {
        var text = "model \"\(model)\""
        if let key { text += " key \(key)" }
        text += ": \(winner.rawValue) wins"
        if let value { text += " (\(value)" + (overridden.map { " over \($0)" } ?? "") + ")" }
        return text + ": " + reason
    }
}

/// What ``RuntimeState/reconcile(file:)`` gives back: the models to run and the state to keep.
package struct RuntimeReconciliation: Sendable, Equatable {
    /// The models the daemon runs: the file's (in its order) with the run-time values that stand, minus those that
    /// stay removed, then those added at run time (in the order they were added).
    package var models: [ModelConfiguration]
    /// Every decision that was not simply "the file's value, as before", in order.
    package var decisions: [RuntimeDecision]
    /// The run-time state after the reconcile (bases are now the file's tables); store it.
    package var state: RuntimeState
}

extension RuntimeState {
    /// Merges the config file's models with the run-time changes — the one rule, at start and at each reload.
    ///
    /// Per model in the file, with run-time record `R` (running table, `base` = the file's table when the model was
    /// created or last set from it):
    /// - no record: the file's table, as it says;
    /// - running: for each key, if the file's value differs from `base`'s, the operator edited it since: the file
    ///   wins; otherwise the running (run-time) value stays;
    /// - removed at run time: stays removed while the file's table equals `base`; any change to it brings the model
    ///   back with the file's table.
    /// Per record whose model the file lacks: added at run time (no `base`): it stays; created or set from a table
    /// the file no longer has: the deletion is an edit, the model goes.
    /// The returned state has the file's tables as bases and forgets what equals the file.
    package func reconcile(file: [ModelConfiguration]) -> RuntimeReconciliation {
        var models: [ModelConfiguration] = []
        var decisions: [RuntimeDecision] = []
        var next = RuntimeState()
        let fileNames = Set(file.map(\.name))
        for fileModel in file {
            let fileTable = RuntimeModelTable.table(of: fileModel)
            guard let record = self[fileModel.name] else {
                models.append(fileModel)
                continue
            }
            guard let running = record.running else {
                if record.base == fileTable {
                    decisions.append(.init(model: fileModel.name, outcome: .staysRemoved, winner: .runtime,
                                           reason: "removed at run time; its table in the config file is unchanged since"))
                    next[fileModel.name] = RuntimeModelRecord(name: fileModel.name, running: nil, base: fileTable)
                } else {
                    decisions.append(.init(model: fileModel.name, outcome: .returnsFromConfig, winner: .config,
                                           reason: "removed at run time, but its table in the config file changed since: added from the file"))
                    models.append(fileModel)
                }
                continue
            }
            var merged = ConfigTable()
            var keyDecisions: [RuntimeDecision] = []
            for key in Self.keys(fileTable, running, record.base) {
                let fromFile = fileTable[key], fromRuntime = running[key], fromBase = record.base?[key]
                if fromFile != fromBase {
                    merged[key] = fromFile
                    if fromRuntime != fromFile {
                        keyDecisions.append(.init(model: fileModel.name, key: key, outcome: .configChanged, winner: .config,
                                                  value: Self.text(fromFile), overridden: Self.text(fromRuntime),
                                                  reason: record.base == nil
                                                    ? "the model was added at run time; the config file now defines it"
                                                    : "the config file changed it (from \(Self.text(fromBase))) since the model was created or last set from it"))
                    }
                } else {
                    merged[key] = fromRuntime
                    if fromRuntime != fromFile {
                        keyDecisions.append(.init(model: fileModel.name, key: key, outcome: .runtimeKept, winner: .runtime,
                                                  value: Self.text(fromRuntime), overridden: Self.text(fromFile),
                                                  reason: "set at run time; the config file did not change it since"))
                    }
                }
            }
            do throws(ConfigError) {
                let model = try RuntimeModelTable.model(from: merged, source: "run-time state of \(fileModel.name)")
                models.append(model)
                decisions += keyDecisions
                if merged != fileTable { next[fileModel.name] = RuntimeModelRecord(name: fileModel.name, running: merged, base: fileTable) }
            } catch {
                models.append(fileModel)
                decisions.append(.init(model: fileModel.name, outcome: .mergeInvalid, winner: .config,
                                       reason: "the config file's values merged with the run-time ones are not a valid model (\(error)): the file's table applies whole"))
            }
        }
        for record in records where !fileNames.contains(record.name) {
            switch (record.running, record.base) {
            case let (running?, nil):
                do throws(ConfigError) {
                    models.append(try RuntimeModelTable.model(from: running, source: "run-time state of \(record.name)"))
                    decisions.append(.init(model: record.name, outcome: .runtimeModelKept, winner: .runtime,
                                           reason: "added at run time; the config file does not define it"))
                    next[record.name] = record
                } catch {
                    // Written by this build, so only a newer build's table gets here: refused, not guessed at.
                    decisions.append(.init(model: record.name, outcome: .mergeInvalid, winner: .config,
                                           reason: "its run-time table is not a valid model (\(error)); not started, the record is kept"))
                    next[record.name] = record
                }
            case (_?, _?):
                decisions.append(.init(model: record.name, outcome: .removedFromConfig, winner: .config,
                                       reason: "its table was deleted from the config file after the model was created or set from it: removed (its checkpoints stay)"))
            case (nil, _):
                // Removed at run time and gone from the file as well: nothing left to remember.
                break
            }
        }
        return RuntimeReconciliation(models: models, decisions: decisions, state: next)
    }

    /// Every key of the tables, first-seen order.
    private static func keys(_ tables: ConfigTable?...) -> [String] {
        var seen = Set<String>(), keys: [String] = []
        for table in tables { for key in table?.keys ?? [] where seen.insert(key).inserted { keys.append(key) } }
        return keys
    }

    private static func text(_ value: ConfigValue?) -> String { value.map { $0.jsonText } ?? "(absent)" }
}
