import HebbCore
import Logging

extension CheckpointStore {
    /// The snapshot `model` resumes from, or nil to start afresh: loads its newest valid checkpoint (quarantining
    /// broken ones and logging each), then applies the one resume rule, ``ModelConfiguration/resumeDecision(from:path:resetRequested:strict:)``.
    /// Used at start-up (`strict`: an incompatible checkpoint refuses the start) and for models added at run time.
    package func resumable(_ model: ModelConfiguration, resetRequested: Bool, strict: Bool,
                           logger: Logger) throws(ResumeRefusal) -> ModelSnapshot? {
        let loaded = loadLatest(model: model.name)
        if let error = loaded.error {
            logger.error("cannot read checkpoints; starting afresh", metadata: ["model": .wire(model.name), "error": "\(error)"])
        }
        for path in loaded.removedTemporaryFiles {
            logger.notice("removed an unfinished checkpoint write", metadata: ["model": .wire(model.name), "checkpoint.path": "\(path)"])
        }
        for q in loaded.quarantined {
            logger.error("checkpoint quarantined", metadata: ["model": .wire(model.name), "checkpoint.path": "\(q.path)", "error": .wire("\(q.error)", limit: 1000)])
        }
        switch model.resumeDecision(from: loaded.snapshot, path: loaded.path ?? "", resetRequested: resetRequested, strict: strict) {
        case let .resume(snapshot):
            logger.info("resuming from checkpoint", metadata: ["model": .wire(model.name), "checkpoint.path": "\(loaded.path ?? "")",
                                                               "step": "\(snapshot.circuit.updates)", "samples": "\(snapshot.circuit.samples)"])
            return snapshot
        case let .fresh(warning):
            if let warning { logger.warning("starting afresh", metadata: ["model": .wire(model.name), "reason": .wire(warning, limit: 1000)]) }
            return nil
        case let .refuse(why):
            throw ResumeRefusal(model: model.name, reason: why)
        }
    }
}

/// A model whose checkpoint cannot be resumed and may not be discarded without `--reset-model`.
package struct ResumeRefusal: Error, Equatable, CustomStringConvertible {
    /// The model.
    package var model: String
    /// Why, and what to do.
    package var reason: String
    package var description: String { "model \"\(model)\": \(reason)" }
}
