import HebbianRegression

/// When models are checkpointed: the policy, kept in the core so that it is tested with a fake clock.
///
/// The driver (which owns the disk) asks the core for the snapshots to write and reports back how each write
/// went; it never decides itself. The rules:
/// - `daemon.checkpoint_interval`: every interval, each model whose state changed since its last checkpoint
///   (an idle model is not rewritten);
/// - `daemon.checkpoint_every`: also a model that ran that many updates since its last checkpoint;
/// - the `checkpoint` command and SIGHUP-less requests: every model now, which restarts the interval;
/// - a removed model: its final state once;
/// - shutdown: every model that changed;
/// - a failed write is retried at the next occasion (the model counts as changed again).
/// A model resumed from a checkpoint counts as written at that state: it is not rewritten until it changes.
package struct CheckpointSchedule: Sendable {
    /// Whether checkpoints are written at all (the driver has a writer).
    package var enabled = false
    /// `daemon.checkpoint_interval` in seconds; 0 disables time-based checkpoints.
    package var interval: Double = 30
    /// `daemon.checkpoint_every` in updates; 0 disables update-count checkpoints.
    package var every = 0
    /// Monotonic time of the last interval checkpoint (or explicit request).
    var lastCheckpoint: Double
    /// Per model instance: the revision and update count of its last submitted checkpoint. Keyed by instance,
    /// not name: a model removed and added again is a new runner with its own history.
    var submitted: [Int: (revision: Int, updates: Int)] = [:]

    init(now: Double) { lastCheckpoint = now }
}

extension EngineCore {
    /// Snapshots to write now: removed models' final states, models changed since their last checkpoint when
    /// the interval has passed, and models past `checkpoint_every` updates. Each counts as submitted.
    package func dueCheckpoints() -> [ModelSnapshot] {
        var due = takeRemovedSnapshots()
        guard schedule.enabled else { return due }
        let now = clock.monotonic()
        if schedule.interval > 0, now - schedule.lastCheckpoint >= schedule.interval {
            schedule.lastCheckpoint = now
            due += submit(modelNames.compactMap { runners[$0] }.filter(hasChangedSinceCheckpoint))
        } else if schedule.every > 0 {
            due += submit(modelNames.compactMap { runners[$0] }.filter {
                $0.circuit.updates - (schedule.submitted[$0.instance]?.updates ?? 0) >= schedule.every
            })
        }
        return due
    }

    /// Every model's snapshot now (an explicit request); the interval starts again.
    package func checkpointAllModels() -> [ModelSnapshot] {
        schedule.lastCheckpoint = clock.monotonic()
        return submit(modelNames.compactMap { runners[$0] })
    }

    /// The snapshots to write before the daemon exits: removed models and every model that changed.
    package func finalCheckpoints() -> [ModelSnapshot] {
        takeRemovedSnapshots() + submit(modelNames.compactMap { runners[$0] }.filter(hasChangedSinceCheckpoint))
    }

    /// A checkpoint was written: publishes `event/M/` `checkpoint` with its path and step.
    package func checkpointWritten(model: String, path: String, updates: Int) {
        publishEvent(model: model, event: "checkpoint", extra: [("path", JSON.string(path).serialized), ("step", JSON.integer(Int64(updates)).serialized)])
    }

    /// A checkpoint write failed: the model is written again at the next occasion, and `event/M/`
    /// `checkpoint_failed` says why. The previous good checkpoint is untouched (the writer never replaces it
    /// with a partial file).
    package func checkpointFailed(model: String, error: String) {
        if let runner = runners[model] { schedule.submitted[runner.instance] = nil }
        publishEvent(model: model, event: "checkpoint_failed", extra: [("error", JSON.string(error).serialized)])
    }

    private func hasChangedSinceCheckpoint(_ runner: ModelRunner) -> Bool {
        schedule.submitted[runner.instance]?.revision != runner.revision
    }

    private func submit(_ models: [ModelRunner]) -> [ModelSnapshot] {
        let now = clock.wall()
        return models.map { runner in
            schedule.submitted[runner.instance] = (runner.revision, runner.circuit.updates)
            return runner.snapshot(wallClock: now)
        }
    }
}
