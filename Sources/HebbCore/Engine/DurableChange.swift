/// A change to the models that replaying the journal could not reproduce — `set`, `reset`, `add`, `remove`, a
/// reload — made durable before the daemon learns anything more or acknowledges it.
///
/// Why: after a crash the journal is replayed from each model's checkpoint under the configuration the daemon
/// starts with. A message learned before a `set` but after the model's last checkpoint would be replayed under the
/// new values; a `reset` would not be replayed at all; a model added at run time has no checkpoint, so it would
/// learn the records from before it existed. So the change checkpoints the models it touched, stamped with the
/// journal position at which it happened, and the driver holds every ingest path (``EngineCore/holdsIngest``)
/// until those writes finish. Only then are the run-time state stored and the reply sent (``finish``): a crash
/// before that point leaves a daemon in which the change never happened and which nobody was told of; a crash
/// after it resumes from the new checkpoints, under the configuration the change left, and replays exactly what
/// followed it. docs/JOURNAL.md, "Changes at run time", has the table.
///
/// A failed or timed-out write does not undo the change (it is live, and undoing it could lose more): the reply
/// says `checkpoint_error`, the failure is logged, and the model is checkpointed again at the next occasion.
package struct DurableChange {
    /// The checkpoint writes the change waits for.
    package var writes: CheckpointWait
    /// Runs once the writes have finished or the deadline has passed, with ``CheckpointWait/problems``: stores the
    /// run-time change and returns the control reply (nil for a reload, which has nobody to answer).
    let finish: (_ problems: [String]) -> [UInt8]?
}

extension EngineCore {
    /// Whether the change a control command or a reload made must be checkpointed before it is acknowledged and
    /// before more ingest is learned (``DurableChange``): what the journal needs to replay exactly, set by the driver
    /// when the journal is on.
    package var holdsIngest: Bool { control.durableChange != nil }

    /// Ends a control command that changed the models: with ``durableChanges`` on, writes `snapshots` first and
    /// defers the run-time `change` and the reply until they are written (``DurableChange``); otherwise stores the
    /// change and replies now. `members` writes the reply's members after `"ok":true`.
    func finishChange(snapshots: [ModelSnapshot], _ change: RuntimeChange?,
                      reply members: @escaping (EngineCore, inout JSONWriter) -> Void) -> ControlOutcome {
        let reply = { (core: EngineCore, problems: [String]) -> [UInt8] in
            if let change { core.runtimeChange?(change) }
            var w = JSONWriter(capacity: 512)
            w.beginObject()
            w.key("ok"); w.bool(true)
            members(core, &w)
            if !problems.isEmpty {
                w.key("checkpoint_error")
                w.string("the change is live, but its checkpoint failed (\(problems.joined(separator: "; "))): a crash before "
                         + "the model's next checkpoint replays the journal under the new configuration")
            }
            w.endObject()
            return w.bytes
        }
        guard durableChanges, schedule.enabled, !snapshots.isEmpty else { return .reply(reply(self, [])) }
        holdUntilWritten(snapshots) { [unowned self] problems in reply(self, problems) }
        return .checkpoint(snapshots)
    }

    /// A reload was applied: with ``durableChanges`` on, every model's state (and the final state of each model it
    /// removed) is to be written before more ingest is learned, and `commit` (storing the run-time state) runs once
    /// the writes finish. Returns the snapshots for the driver to write; without durable changes, commits at once
    /// and returns none beyond what ``dueCheckpoints(alsoDue:)`` hands out anyway.
    package func finishReload(commit: @escaping () -> Void) -> [ModelSnapshot] {
        guard durableChanges, schedule.enabled else { commit(); return [] }
        let snapshots = schedule.takeFinalSnapshots() + checkpointAllModels()
        holdUntilWritten(snapshots) { _ in commit(); return nil }
        return snapshots
    }

    /// Holds ingest until `snapshots` are written (or the deadline), then logs what failed and runs `finish`.
    private func holdUntilWritten(_ snapshots: [ModelSnapshot], finish: @escaping ([String]) -> [UInt8]?) {
        control.durableChange = DurableChange(writes: CheckpointWait(snapshots: snapshots, now: clock.monotonic())) { [unowned self] problems in
            if !problems.isEmpty {
                logger.error("checkpoint of a changed model failed; the change is live but not yet durable",
                             metadata: ["error": .wire(problems.joined(separator: "; "), limit: 1000)])
            }
            return finish(problems)
        }
    }

    /// The snapshot of `runner` a change writes, counted as submitted so the schedule does not write it twice.
    func changeSnapshot(_ runner: ModelRunner) -> [ModelSnapshot] {
        guard schedule.enabled else { return [] }
        schedule.markSubmitted(runner)
        return [runner.snapshot(wallClock: clock.wall())]
    }
}
