import HebbianRegression

/// What to do with a model's newest checkpoint: the one rule for resuming, at start-up and for models added
/// at run time (`add`, reload).
package enum ResumeDecision: Equatable {
    /// Continue from the snapshot.
    case resume(ModelSnapshot)
    /// Start afresh; `warning` says why when a checkpoint existed.
    case fresh(warning: String?)
    /// Refuse to start: the checkpoint holds learned state the configuration cannot take over.
    case refuse(String)
}

extension ModelConfiguration {
    /// Decides how this model starts given its newest valid checkpoint.
    ///
    /// - `resetRequested` (`--reset-model`): start afresh, whatever is on disk.
    /// - A checkpoint whose kind, shape, optimiser or prior differ (``CircuitConfiguration/incompatibility(with:)``)
    ///   cannot be resumed. At start-up (`strict`) that refuses the start, so learned state is never silently
    ///   discarded; a model added at run time starts afresh with a warning instead (its old files are
    ///   superseded by newer generations, not deleted).
    /// - Otherwise resume; the configuration's hyper-parameters then win over the checkpoint's.
    package func resumeDecision(from snapshot: ModelSnapshot?, path: String, resetRequested: Bool, strict: Bool) -> ResumeDecision {
        guard let snapshot else { return .fresh(warning: nil) }
        let incompatible = snapshot.model.circuit.incompatibility(with: circuit)
        if resetRequested {
            return .fresh(warning: "--reset-model: ignoring \(path)" + (incompatible.map { " (incompatible: \($0))" } ?? ""))
        }
        guard let why = incompatible else { return .resume(snapshot) }
        if strict {
            return .refuse("the checkpoint \(path) is incompatible with the config (\(why)); start with --reset-model \(name) to discard its learned state")
        }
        return .fresh(warning: "its checkpoint \(path) is incompatible (\(why)) and will be superseded")
    }
}
