/// Where a model's configuration value came from.
package enum ValueSource: String, Sendable, Equatable, Codable {
    /// The config file (the operator's tool).
    case config
    /// A control command at run time (`add`, `set`), kept across restarts.
    case runtime
}

/// One model's run-time record: what control commands made of it, and what the config file said when they did.
package struct RuntimeModelRecord: Sendable, Equatable {
    /// The model's name.
    package var name: String
    /// The configuration the model runs with now, as a normalised model table; nil when it was removed at run time.
    package var running: ConfigTable?
    /// The config file's table the model was created from or last set from (normalised); nil when the file had no
    /// table of that name (a model added at run time). An edit of the file is detected by comparing with it.
    package var base: ConfigTable?

    package init(name: String, running: ConfigTable?, base: ConfigTable?) {
        self.name = name
        self.running = running
        self.base = base
    }
}

/// The daemon's run-time changes to its models — models added or removed and values changed with `set` — kept in
/// the state directory so that a restart gives back the same daemon (see docs/OPERATIONS.md, "What survives a restart").
///
/// A pure value: mutated by the engine as control commands succeed, reconciled with the config file at start and at
/// each reload by ``reconcile(file:)``, serialised by ``RuntimeStateFormat``. Tables are compared as normalised model
/// tables (``RuntimeModelTable``), so a file that omits a default and one that spells it out are the same.
package struct RuntimeState: Sendable, Equatable {
    /// Records in the order the models were first changed at run time (the order run-time models are listed in).
    package private(set) var records: [RuntimeModelRecord] = []

    /// No run-time changes.
    package init() {}

    /// A state holding exactly `records` (the last one of a name wins).
    package init(records: [RuntimeModelRecord]) {
        for record in records { self[record.name] = record }
    }

    /// The record of `name`, if that model was changed at run time; assigning nil forgets it.
    package subscript(name: String) -> RuntimeModelRecord? {
        get { records.first { $0.name == name } }
        set {
            if let index = records.firstIndex(where: { $0.name == name }) {
                if let newValue { records[index] = newValue } else { records.remove(at: index) }
            } else if let newValue {
                records.append(newValue)
            }
        }
    }

    /// True when nothing was changed at run time.
    package var isEmpty: Bool { records.isEmpty }

    // MARK: Recording control commands

    /// `add` (or `set`) left `model` running with this configuration; `fileModel` is the config file's model of that
    /// name in force (nil when the file has none). A model that runs exactly as the file says needs no record.
    package mutating func recordRunning(_ model: ModelConfiguration, fileModel: ModelConfiguration?) {
        let running = RuntimeModelTable.table(of: model), base = fileModel.map(RuntimeModelTable.table(of:))
        self[model.name] = running == base ? nil : RuntimeModelRecord(name: model.name, running: running, base: base)
    }

    /// `remove` took `name` away; `fileModel` is the config file's model of that name in force, if any. A model only
    /// ever added at run time leaves nothing to remember: it is simply gone.
    package mutating func recordRemoved(_ name: String, fileModel: ModelConfiguration?) {
        self[name] = fileModel.map { RuntimeModelRecord(name: name, running: nil, base: RuntimeModelTable.table(of: $0)) }
    }

    /// Forgets the run-time changes of `name` (`hebbd run --reset-model NAME`): the config file's table applies whole.
    package mutating func forget(_ name: String) { self[name] = nil }

    /// Where each value of the running model `name` came from, given the state as it is now (after a reconcile the
    /// record's base is the file's table). Every key of `model`'s table is listed.
    package func sources(of model: ModelConfiguration) -> [String: ValueSource] {
        let table = RuntimeModelTable.table(of: model)
        var sources: [String: ValueSource] = [:]
        let record = self[model.name]
        for (key, value) in table {
            guard let record, record.running != nil else { sources[key] = .config; continue }
            sources[key] = record.base?[key] == value ? .config : .runtime
        }
        return sources
    }
}
