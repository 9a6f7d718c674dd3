import HebbianRegression

/// When models are checkpointed: the policy, kept in the core so that it is tested with a fake clock.
///
/// The driver (which owns the disk) asks the core for the snapshots to write and reports back how each write
/// went; it never decides itself. The rules, all in this type:
/// - `daemon.checkpoint_interval`: every interval, each model whose state changed since its last checkpoint
///   (an idle model is not rewritten — unless the driver says it is due anyway: the daemon rewrites an idle model
///   whose checkpoint's journal position lies in a sealed segment, which it would otherwise keep from deletion);
/// - `daemon.checkpoint_every`: also a model that ran that many updates since its last checkpoint;
/// - the `checkpoint` command and SIGHUP-less requests: every model now, which restarts the interval;
/// - a removed model: its final state once;
/// - shutdown: every model that changed;
/// - a failed write is retried at the next occasion (the model counts as changed again).
/// A model resumed from a checkpoint counts as written at that state: it is not rewritten until it changes.
package struct CheckpointSchedule: Sendable {
    /// Whether checkpoints are written at all (the driver sets it when it has a writer).
    package var enabled = false
    /// `daemon.checkpoint_interval` in seconds; 0 disables time-based checkpoints.
    package private(set) var interval: Double
    /// `daemon.checkpoint_every` in updates; 0 disables update-count checkpoints.
    package private(set) var every: Int
    /// Monotonic time of the last interval checkpoint (or explicit request).
    private var lastCheckpoint: Double
    /// Per model instance: the revision and update count of its last submitted checkpoint. Keyed by instance,
    /// not name: a model removed and added again is a new runner with its own history.
    private var submitted: [Int: (revision: Int, updates: Int)] = [:]
    /// Final snapshots of removed models, not yet handed out.
    private var finalSnapshots: [ModelSnapshot] = []

    /// A schedule whose first interval starts at monotonic time `now`.
    package init(interval: Double, every: Int, now: Double) {
        self.interval = interval
        self.every = every
        lastCheckpoint = now
    }

    /// New `checkpoint_interval` / `checkpoint_every` values (a reload); the running interval keeps its start.
    package mutating func configure(interval: Double, every: Int) {
        self.interval = interval
        self.every = every
    }

    /// The models whose checkpoint is due at `now` under the interval and `every` rules (at the interval, also the
    /// unchanged ones `alsoDue` names); each counts as submitted.
    mutating func takeDue(_ models: [ModelRunner], now: Double, alsoDue: (String) -> Bool = { _ in false }) -> [ModelRunner] {
        guard enabled else { return [] }
        if interval > 0, now - lastCheckpoint >= interval {
            lastCheckpoint = now
            return submit(models.filter { hasChanged($0) || alsoDue($0.name) })
        }
        if every > 0 {
            return submit(models.filter { $0.updates - (submitted[$0.instance]?.updates ?? 0) >= every })
        }
        return []
    }

    /// Every model (an explicit request): each counts as submitted, and the interval starts again at `now`.
    mutating func takeAll(_ models: [ModelRunner], now: Double) -> [ModelRunner] {
        lastCheckpoint = now
        return submit(models)
    }

    /// The models that changed since their last checkpoint (shutdown); each counts as submitted.
    mutating func takeChanged(_ models: [ModelRunner]) -> [ModelRunner] { submit(models.filter(hasChanged)) }

    /// The final snapshots of removed models, once.
    mutating func takeFinalSnapshots() -> [ModelSnapshot] {
        defer { finalSnapshots.removeAll() }
        return finalSnapshots
    }

    /// `runner`'s state is being written now (one model's `checkpoint` request).
    mutating func markSubmitted(_ runner: ModelRunner) {
        submitted[runner.instance] = (runner.revision, runner.updates)
    }

    /// `runner` was resumed from a checkpoint of its current update count: written already, unless a config change
    /// since (revision > 0) makes it due again.
    mutating func restored(_ runner: ModelRunner) {
        submitted[runner.instance] = (0, runner.updates)
    }

    /// `runner` was removed: its final state is written once, and its history is forgotten.
    mutating func removed(_ runner: ModelRunner, finalSnapshot: ModelSnapshot) {
        submitted[runner.instance] = nil
        finalSnapshots.append(finalSnapshot)
    }

    /// A write of `runner` failed: it counts as changed, so the next occasion writes it again.
    mutating func failed(_ runner: ModelRunner) {
        submitted[runner.instance] = nil
    }

    private func hasChanged(_ runner: ModelRunner) -> Bool {
        submitted[runner.instance]?.revision != runner.revision
    }

    private mutating func submit(_ models: [ModelRunner]) -> [ModelRunner] {
        for runner in models { markSubmitted(runner) }
        return models
    }
}

extension EngineCore {
    /// Snapshots to write now: removed models' final states, models changed since their last checkpoint (or named
    /// by `alsoDue`) when the interval has passed, and models past `checkpoint_every` updates. Each counts as
    /// submitted.
    package func dueCheckpoints(alsoDue: (String) -> Bool = { _ in false }) -> [ModelSnapshot] {
        schedule.takeFinalSnapshots() + snapshots(of: schedule.takeDue(models.ordered, now: clock.monotonic(), alsoDue: alsoDue))
    }

    /// Every model's snapshot now (an explicit request); the interval starts again.
    package func checkpointAllModels() -> [ModelSnapshot] {
        snapshots(of: schedule.takeAll(models.ordered, now: clock.monotonic()))
    }

    /// The snapshots to write before the daemon exits: removed models and every model that changed.
    package func finalCheckpoints() -> [ModelSnapshot] {
        schedule.takeFinalSnapshots() + snapshots(of: schedule.takeChanged(models.ordered))
    }

    /// A checkpoint was written: publishes `event/M/` `checkpoint` with its path and step, and completes a waiting
    /// `checkpoint` reply when it was the last write the reply waited for.
    package func checkpointWritten(model: String, path: String, updates: Int, taken: Double) {
        publisher.publishEvent(model: model, event: "checkpoint", fields: [("path", .string(path)), ("step", .integer(Int64(updates)))])
        control.record(model: model, taken: taken, result: .written(path: path))
    }

    /// A checkpoint write failed: the model is written again at the next occasion, and `event/M/`
    /// `checkpoint_failed` says why. The previous good checkpoint is untouched (the writer never replaces it
    /// with a partial file).
    package func checkpointFailed(model: String, error: String, taken: Double) {
        if let runner = models[model] { schedule.failed(runner) }
        publisher.publishEvent(model: model, event: "checkpoint_failed", fields: [("error", .string(error))])
        control.record(model: model, taken: taken, result: .failed(error))
    }

    private func snapshots(of runners: [ModelRunner]) -> [ModelSnapshot] {
        let now = clock.wall()
        return runners.map { $0.snapshot(wallClock: now) }
    }
}
