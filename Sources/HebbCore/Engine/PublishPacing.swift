import HebbianRegression

/// `publish.every` and `publish.max_rate`: which updates of a model get a coefficient message.
///
/// Both are off by default (every update is published). With `every = N` only each Nth update of a model is
/// published (`step` divisible by N). With `max_rate = R` a model publishes at most R messages per second; an
/// update that comes sooner is held back, and a later one replaces it (the latest wins): the held-back state goes
/// out as soon as the interval has passed, from ``EngineCore/tick()`` if no further update comes. Skipped updates
/// take no `seq`, so subscribers see no gap; `step` and `samples` show the updates between messages.
package struct PublishPacing: Sendable, Equatable {
    /// Publish every Nth update (1: all).
    package var every = 1
    /// Messages per second per model (0: no limit).
    package var maxRate: Double = 0

    /// Publishing every update.
    package init() {}

    /// The pacing of `[publish]`.
    package init(_ publish: DaemonConfiguration.Publish) {
        every = max(publish.every, 1)
        maxRate = publish.maxRate
    }

    /// Seconds between two messages of one model (0: no limit).
    var interval: Double { maxRate > 0 ? 1 / maxRate : 0 }

    /// The share of a model's updates that get a message: 1/`every`, or 1 with `max_rate` (the share it leaves depends
    /// on the stream's pace, which the configuration does not know).
    var publishedShare: Double { maxRate > 0 ? 1 : 1 / Double(every) }

    /// A model's pacing state: when it last published, and the report of an update held back since.
    package struct State: Sendable {
        /// Monotonic time of the model's last coefficient message after an update (−∞: none yet).
        var lastPublished = -Double.infinity
        /// The newest update not yet published because of `max_rate` (nil: nothing held back).
        var heldBack: HeldBack?
    }

    /// An update whose message `max_rate` held back.
    struct HeldBack: Sendable {
        /// Its report, published with the state once the interval has passed.
        var report: UpdateReport
    }

    /// What to do with the message of the update that brought a model to `step` at monotonic time `now`.
    enum Decision: Equatable {
        /// Publish now.
        case publish
        /// Not this one (`every`).
        case skip
        /// Later, unless a newer update replaces it (`max_rate`).
        case holdBack
    }

    func decide(step: Int, now: Double, state: State) -> Decision {
        if every > 1 && step % every != 0 { return .skip }
        if maxRate > 0 && now - state.lastPublished < interval { return .holdBack }
        return .publish
    }
}
