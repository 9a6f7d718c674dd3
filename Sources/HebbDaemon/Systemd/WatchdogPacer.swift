import HebbCore
// Paces WATCHDOG=1 pings from the engine loop.
//
// Why from the engine loop and not from a timer task: the watchdog should
// prove that the thread doing the work is alive. A ping from a separate task
// would keep a daemon whose engine thread is wedged (stuck in a BLAS call, a
// deadlock, an endless loop) looking healthy forever.

/// Sends `WATCHDOG=1` at least every half of the systemd watchdog interval,
/// when ticked from a loop.
///
/// Call ``tick(now:)`` on every iteration of the engine loop; it is one
/// comparison of two instants except when a ping is due. Bound the loop's poll
/// timeout by ``timeUntilDue(now:)`` so that an idle loop still pings in time.
///
/// Not thread-safe, by design: it belongs to the engine thread, which is the
/// thread whose liveness the pings attest. It is explicitly not `Sendable`, so
/// the compiler rejects handing it to another thread.
package final class WatchdogPacer {
    /// Where the pings go.
    package let notifier: SystemdNotifier

    /// The full watchdog interval (`WatchdogSec=`), or `nil` when the
    /// watchdog is off; then ``tick(now:)`` does nothing.
    package let interval: Duration?

    /// The time between pings: half the interval, as systemd recommends, so
    /// that one late or lost ping does not yet trip the watchdog.
    package let period: Duration?

    /// How soon to try again after a failed send: a tenth of the period, so a
    /// transient failure (full queue) is retried well before the deadline,
    /// without a syscall on every loop iteration while the socket is gone.
    private let retryDelay: Duration?

    /// When the next ping is due; `nil` before the first tick, so the first
    /// tick pings at once.
    private var nextDue: ContinuousClock.Instant?

    /// How many pings were sent successfully.
    package private(set) var sentCount = 0

    /// How many pings failed (they are retried after a short delay).
    package private(set) var failureCount = 0

    /// - Parameters:
    ///   - notifier: the notifier that sends `WATCHDOG=1`.
    ///   - interval: the watchdog interval; defaults to the notifier's
    ///     ``SystemdNotifier/watchdogInterval`` (from `WATCHDOG_USEC`). A
    ///     zero or negative interval disables the pacer.
    package init(notifier: SystemdNotifier, interval: Duration? = nil) {
        self.notifier = notifier
        let chosen = interval ?? notifier.watchdogInterval
        if let chosen, chosen > .zero, notifier.isEnabled {
            self.interval = chosen
            self.period = chosen / 2
            self.retryDelay = chosen / 20
        } else {
            self.interval = nil
            self.period = nil
            self.retryDelay = nil
        }
    }

    /// Whether ticking can ever send anything.
    package var isActive: Bool { period != nil }

    /// Sends `WATCHDOG=1` if half the interval has passed since the last ping
    /// (or this is the first tick). Cheap when nothing is due.
    ///
    /// Pings keep a fixed cadence (the next one is due one period after the
    /// previous due time, not after the late tick), so coarse ticks do not
    /// stretch the period; after a stall longer than a period the cadence
    /// restarts from `now` instead of sending a burst.
    package func tick(now: ContinuousClock.Instant) {
        if let due = nextDue, now < due { return }
        pingIfActive(now: now)
    }

    /// ``tick(now:)`` with the current time.
    package func tick() { tick(now: .now) }

    /// How long until the next ping is due (zero if overdue), or `nil` when
    /// the pacer is inactive: the longest a loop may block in its poll before
    /// ticking again.
    package func timeUntilDue(now: ContinuousClock.Instant) -> Duration? {
        guard isActive else { return nil }
        guard let due = nextDue else { return .zero }
        return due > now ? now.duration(to: due) : .zero
    }

    private func pingIfActive(now: ContinuousClock.Instant) {
        guard let period, let retryDelay else { return }
        if notifier.watchdog() {
            sentCount += 1
            var next = (nextDue ?? now) + period
            if next <= now { next = now + period }
            nextDue = next
        } else {
            failureCount += 1
            nextDue = now + retryDelay
        }
    }
}

/// The pacer belongs to one thread (see its documentation).
@available(*, unavailable)
extension WatchdogPacer: Sendable {}
