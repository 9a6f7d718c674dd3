import HebbCore
import Logging

extension CheckpointStore {
    /// The snapshot `model` resumes from, or nil to start afresh: loads its newest valid checkpoint (quarantining
    /// corrupt ones and logging each), then applies the one resume rule,
    /// ``ModelConfiguration/resumeDecision(from:resetRequested:)`` — the same at start-up, for `add` and for reload.
    ///
    /// `unwritten` is the model's newest state that is not on disk yet (``CheckpointWriter/unwritten(model:)``: the
    /// final snapshot of a model just removed, still queued, being written or waiting for a retry). It is newer than
    /// any file, so it wins: `remove` then `add` resumes from the removed model's final state, never an older file.
    package func resumable(_ model: ModelConfiguration, resetRequested: Bool, unwritten: ModelSnapshot? = nil,
                           logger: Logger) throws(ResumeRefusal) -> ModelSnapshot? {
        let candidate: CheckpointCandidate
        if let unwritten, unwritten.name == model.name {
            candidate = .found(unwritten, path: "(the removed model's final state, not yet on disk)")
        } else {
            let loaded = loadLatest(model: model.name)
            for path in loaded.removedTemporaryFiles {
                logger.notice("removed an unfinished checkpoint write", metadata: ["model": .wire(model.name), "checkpoint.path": "\(path)"])
            }
            for q in loaded.quarantined {
                logger.error("checkpoint quarantined", metadata: ["model": .wire(model.name), "checkpoint.path": "\(q.path)", "error": .wire("\(q.error)", limit: 1000)])
            }
            candidate = loaded.candidate
        }
        switch model.resumeDecision(from: candidate, resetRequested: resetRequested) {
        case let .resume(snapshot):
            var path = ""
            if case let .found(_, p) = candidate { path = p }
            logger.info("resuming from checkpoint", metadata: ["model": .wire(model.name), "checkpoint.path": "\(path)",
                                                               "step": "\(snapshot.updates)", "samples": "\(snapshot.samples)"])
            return snapshot
        case let .fresh(warning):
            if let warning { logger.warning("starting afresh", metadata: ["model": .wire(model.name), "reason": .wire(warning, limit: 1000)]) }
            return nil
        case let .refuse(refusal):
            logger.error("learned state refused, left untouched", metadata: ["model": .wire(model.name), "error": .wire(refusal.description, limit: 2000)])
            throw refusal
        }
    }
}
