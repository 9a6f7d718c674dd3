import Foundation
import Synchronization

/// A thread made for blocking work — reading files — so that neither the engine thread nor a Swift concurrency
/// task ever waits on the disk (docs/ARCHITECTURE.md, "Threads").
///
/// Jobs run one at a time, in the order they were submitted; a job that needs the engine afterwards sends it an
/// ``EngineCommand`` with its result. A plain `Thread`, like ``CheckpointWriter``'s: a blocking call inside a task
/// would park one of the few cooperative-pool threads that the service lifecycle and metrics depend on.
package final class BlockingWorker: Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var stopping = false
        var finished = false
    }

    private let state = Mutex(State())
    /// Doorbell only: all state lives in `state` (the same discipline as ``CheckpointWriter``).
    private let condition = NSCondition()

    /// Starts the thread, named `name`.
    package init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Queues `job`; returns false (and drops it) after ``stop()``.
    @discardableResult
    package func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        let accepted = state.withLock { s -> Bool in
            guard !s.stopping else { return false }
            s.jobs.append(job)
            return true
        }
        if accepted { ring() }
        return accepted
    }

    /// Lets the queued jobs finish, then ends the thread and waits for it. Idempotent.
    package func stop() {
        state.withLock { $0.stopping = true }
        ring()
        condition.lock()
        while !state.withLock({ $0.finished }) { condition.wait() }
        condition.unlock()
    }

    private func ring() {
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while let job = nextJob() { job() }
        state.withLock { $0.finished = true }
        ring()
    }

    private func nextJob() -> (@Sendable () -> Void)? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            let (job, stop) = state.withLock { s -> ((@Sendable () -> Void)?, Bool) in
                s.jobs.isEmpty ? (nil, s.stopping) : (s.jobs.removeFirst(), false)
            }
            if let job { return job }
            if stop { return nil }
            condition.wait()
        }
    }
}
