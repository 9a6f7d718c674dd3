import HebbianRegression

/// What to do with a model's newest checkpoint: the one rule for resuming, at start-up and for models added
/// at run time (`add`, reload).
package enum ResumeDecision: Equatable {
    /// Continue from the snapshot.
    case resume(ModelSnapshot)
    /// Start afresh; `warning` says why when a checkpoint existed.
    case fresh(warning: String?)
    /// Refuse the model: its learned state exists but cannot be taken over, and may not be discarded implicitly.
    case refuse(ResumeRefusal)
}

/// Why a model's learned state can neither be resumed nor discarded without an explicit operator action.
///
/// At start-up a refusal stops the daemon (non-zero exit, `STATUS=` for systemd); for `add` and reload it refuses
/// that model and the running daemon goes on unchanged. Either way the checkpoints are left exactly as they are.
package enum ResumeRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    /// The newest checkpoint differs from the configuration in kind, shape, optimiser or prior.
    case incompatible(model: String, path: String, reason: String)
    /// A checkpoint (or the model's directory) exists but this build cannot read it for a reason other than
    /// corruption: a newer format version, an I/O or permission error. It is neither renamed nor skipped: the
    /// older checkpoints behind it would resume an older model and the next writes would supersede the newer one.
    case unreadable(model: String, error: CheckpointError)

    /// The model refused.
    package var model: String {
        switch self {
        case let .incompatible(model, _, _), let .unreadable(model, _): return model
        }
    }

    /// The explicit ways out, named in every refusal.
    static func wayOut(_ model: String) -> String {
        "start with --reset-model \(model), or send add with \"reset\": true, to discard its learned state"
    }

    package var description: String {
        switch self {
        case let .incompatible(model, path, reason):
            return "model \"\(model)\": the checkpoint \(path) is incompatible with the configuration (\(reason)); "
                + "keep the old configuration, or " + Self.wayOut(model)
        case let .unreadable(model, error):
            return "model \"\(model)\": its learned state cannot be read and is left untouched (\(error)); "
                + "fix the cause and retry, or " + Self.wayOut(model)
        }
    }
}

/// What loading a model's checkpoints found, as the resume rule sees it.
package enum CheckpointCandidate: Equatable {
    /// No checkpoint at all (or only corrupt ones, now quarantined).
    case none
    /// The newest readable checkpoint and its path.
    case found(ModelSnapshot, path: String)
    /// Learned state that exists but cannot be read (see ``ResumeRefusal/unreadable(model:error:)``).
    case unreadable(CheckpointError)
}

extension ModelConfiguration {
    /// Decides how this model starts given what its checkpoints hold — the same rule at start-up, for `add` and
    /// for reload, so run time is never looser than a start.
    ///
    /// - `resetRequested` (`--reset-model`, `add` with `"reset": true`): start afresh, whatever is on disk (the
    ///   one explicit way to discard learned state).
    /// - Learned state that cannot be read, or whose kind, shape, optimiser or prior differ
    ///   (``ModelConfiguration/incompatibility(with:)``), refuses the model: it is never silently discarded.
    /// - Otherwise resume; the configuration's hyper-parameters then win over the checkpoint's.
    package func resumeDecision(from candidate: CheckpointCandidate, resetRequested: Bool) -> ResumeDecision {
        switch candidate {
        case .none:
            return .fresh(warning: nil)
        case let .unreadable(error):
            if resetRequested { return .fresh(warning: "reset requested (--reset-model, or add with \"reset\": true): ignoring unreadable learned state (\(error))") }
            return .refuse(.unreadable(model: name, error: error))
        case let .found(snapshot, path):
            let incompatible = snapshot.model.incompatibility(with: self)
            if resetRequested {
                return .fresh(warning: "reset requested (--reset-model, or add with \"reset\": true): ignoring \(path)" + (incompatible.map { " (incompatible: \($0))" } ?? ""))
            }
            guard let why = incompatible else { return .resume(snapshot) }
            return .refuse(.incompatible(model: name, path: path, reason: why))
        }
    }
}
