import HebbCore
import Foundation
import Synchronization

/// Connects the engine loop to systemd (READY, STATUS, WATCHDOG, RELOADING/READY, STOPPING) and to the
/// health check. Called on the engine thread; its mutable state sits behind a Mutex that only that
/// thread ever takes in steady state, so it costs an uncontended lock per loop.
package final class DaemonObserver: EngineObserver {
    private struct State {
        var pacer: WatchdogPacer
        var lastStatus = ContinuousClock.now
        var lastSamples = 0
        var lastCheckpointDescription = "none yet"
        var endpoints: BoundEndpoints?
    }

    private let notifier: SystemdNotifier
    private let state: Mutex<State>
    private let lastTick = Atomic<Int64>(0)
    private let ready = Atomic<Bool>(false)
    /// Extra observers (metrics).
    private let next: [any EngineObserver]

    package init(notifier: SystemdNotifier, chained next: [any EngineObserver] = []) {
        self.notifier = notifier
        state = Mutex(State(pacer: WatchdogPacer(notifier: notifier)))
        self.next = next
    }

    /// Whether the engine loop ticked within `seconds` (the `/healthz` answer).
    package func isAlive(within seconds: Double = 5) -> Bool {
        guard ready.load(ordering: .relaxed) else { return false }
        return Double(DaemonObserver.monotonicNanoseconds() - lastTick.load(ordering: .relaxed)) / 1e9 < seconds
    }

    package func engineReady(_ endpoints: BoundEndpoints) {
        lastTick.store(DaemonObserver.monotonicNanoseconds(), ordering: .relaxed)
        ready.store(true, ordering: .relaxed)
        state.withLock { $0.endpoints = endpoints }
        for n in next { n.engineReady(endpoints) }
    }

    /// Sends READY=1 — called once the signal handlers are in place (SIGTERM/SIGINT by `Launcher.run` before anything starts,
    /// SIGHUP by ``ReloadService``), not when the sockets are bound: a `systemctl reload` or `stop` right
    /// after READY must find handlers, or the default action would kill the daemon without a checkpoint.
    package func signalsTrapped() {
        let endpoints = state.withLock { $0.endpoints }
        _ = notifier.ready()
        if let endpoints {
            _ = notifier.status("listening: ingest \(endpoints.ingest), publish \(endpoints.publish), control \(endpoints.control)")
        }
    }

    package func engineLoopTick(_ core: EngineCore) {
        lastTick.store(DaemonObserver.monotonicNanoseconds(), ordering: .relaxed)
        let now = ContinuousClock.now
        state.withLock { s in
            // WATCHDOG=1 from the loop itself, so a wedged engine stops feeding systemd and is restarted.
            s.pacer.tick(now: now)
            let elapsed = s.lastStatus.duration(to: now)
            if elapsed >= .seconds(5) {
                let seconds = elapsed.inSeconds
                let rate = Double(core.counters.samplesReceived - s.lastSamples) / seconds
                _ = notifier.status("\(core.modelNames.count) models, \(String(format: "%.0f", rate)) samples/s, \(core.counters.updates) updates, last checkpoint \(s.lastCheckpointDescription)")
                s.lastSamples = core.counters.samplesReceived
                s.lastStatus = now
            }
        }
        for n in next { n.engineLoopTick(core) }
    }

    package func engineCheckpointed(model: String, path: String) {
        let time = Timestamp.rfc3339(Timestamp.now())
        state.withLock { $0.lastCheckpointDescription = "\(time) (\(model))" }
        for n in next { n.engineCheckpointed(model: model, path: path) }
    }

    /// How much more start-up time each replay report asks systemd for (`EXTEND_TIMEOUT_USEC`): a long journal
    /// replay runs before READY=1 and would otherwise meet `TimeoutStartSec`. Reports come about every second.
    static let replayAllowance: Duration = .seconds(30)

    package func engineReplaying(records: Int) {
        _ = notifier.extendTimeout(by: Self.replayAllowance)
        _ = notifier.status("replaying the journal: \(records) records so far")
        for n in next { n.engineReplaying(records: records) }
    }

    package func engineReloaded(error: String?) {
        // RELOADING=1 was sent when SIGHUP arrived; READY=1 ends the reload either way.
        _ = notifier.ready()
        if let error { _ = notifier.status("reload rejected: \(error)") }
        for n in next { n.engineReloaded(error: error) }
    }

    package func engineStopped() {
        ready.store(false, ordering: .relaxed)
        for n in next { n.engineStopped() }
    }

    static func monotonicNanoseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
