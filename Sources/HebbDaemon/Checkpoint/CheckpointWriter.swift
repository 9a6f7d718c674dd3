import HebbCore
import Foundation
import Synchronization

/// The result of one background checkpoint write, collected by ``CheckpointWriter/drainResults()``.
package struct CheckpointWriteOutcome: Sendable, Equatable {
    /// The model.
    package var model: String
    /// The snapshot's update counter.
    package var updates: Int
    /// The snapshot's publish seq.
    package var sequence: UInt64
    /// When the snapshot was taken (its `wallClockSeconds`): tells a write requested now from an older
    /// one still in flight.
    package var taken: Double
    /// The write's result, or why it failed.
    package var result: Result<CheckpointWriteResult, CheckpointError>
}

/// Counters of a ``CheckpointWriter`` (for metrics).
package struct CheckpointWriterStatistics: Sendable, Equatable {
    /// Snapshots accepted by `submit`.
    package var submitted: Int = 0
    /// Snapshots replaced by a newer one of the same model before they were written.
    package var coalesced: Int = 0
    /// Checkpoints written.
    package var written: Int = 0
    /// Writes that failed.
    package var failed: Int = 0
    /// Snapshots discarded because the writer was stopped first.
    package var discarded: Int = 0
    /// Outcomes dropped because the engine did not drain the mailbox (it keeps the newest `mailboxCapacity`).
    package var droppedOutcomes: Int = 0
    /// Failed writes queued again after their back-off (see ``CheckpointWriter/retryDelay(attempt:)``).
    package var retried: Int = 0
}

/// Writes checkpoints on a dedicated background thread, so fsync never stalls the engine thread.
///
/// A plain `Thread`, not a Swift concurrency task: `fsync` blocks for milliseconds to seconds, and a
/// blocking call inside a task parks one of the few cooperative-pool threads that the rest of the process
/// (service lifecycle, metrics) depends on.
///
/// The engine calls ``submit(_:)`` with a value snapshot; it never blocks on I/O. Only the newest snapshot
/// per model matters, so a snapshot still waiting in the queue is *replaced* by a newer one of the same model
/// (coalescing): a slow disk costs checkpoint frequency, never memory or engine latency. Results go to a
/// mailbox the engine drains with ``drainResults()`` (to log and count them) on its own schedule.
/// At shutdown: ``flush(timeout:)``, then ``stop()``. The writer must be stopped explicitly (its thread
/// holds a reference to it until then).
///
/// A write that fails with an I/O error (disk full, EIO) is retried after a back-off unless a newer snapshot of the
/// same model arrives first: for a removed model its final snapshot is the only copy of its learned state, and it
/// stays here — readable through ``unwritten(model:)``, so that an `add` of the same name resumes from it — until
/// it is on disk.
package final class CheckpointWriter: Sendable {
    /// The store written to.
    package let store: CheckpointStore
    /// How many outcomes the mailbox keeps when not drained.
    package let mailboxCapacity: Int

    private struct State: Sendable {
        /// Models with a queued snapshot, oldest submission first.
        var order: [String] = []
        /// The newest queued snapshot per model.
        var queued: [String: ModelSnapshot] = [:]
        /// The model being written right now, and its snapshot.
        var writing: String?
        var writingSnapshot: ModelSnapshot?
        /// Snapshots whose write failed with an I/O error, waiting to be queued again at `due`.
        var retries: [String: Retry] = [:]
        var outcomes: [CheckpointWriteOutcome] = []
        var statistics = CheckpointWriterStatistics()
        var stopping = false
        var finished = false

        var idle: Bool { order.isEmpty && writing == nil }
    }

    private struct Retry: Sendable {
        var snapshot: ModelSnapshot
        var attempts: Int
        var due: Date
    }

    /// The back-off before retrying a write that failed `attempt` times: 1 s doubling up to 60 s.
    package static func retryDelay(attempt: Int) -> Double {
        min(60, Double(1 << min(max(attempt - 1, 0), 6)))
    }

    private let state = Mutex(State())
    /// Doorbell only: all state lives in `state`. Whoever changes what a waiter waits for broadcasts while
    /// holding the condition's lock, and waiters test `state` while holding it, so no wake-up is lost.
    private let condition = NSCondition()

    /// Starts the writer thread.
    package init(store: CheckpointStore, mailboxCapacity: Int = 1024) {
        self.store = store
        self.mailboxCapacity = max(1, mailboxCapacity)
        let thread = Thread { [self] in run() }
        thread.name = "hebbd-checkpoint"
        thread.start()
    }

    /// Queues `snapshot` for writing and returns at once. A snapshot of the same model still waiting in
    /// the queue is replaced (it keeps its place in the queue). Returns false after ``stop()``.
    @discardableResult
    package func submit(_ snapshot: ModelSnapshot) -> Bool {
        let accepted = state.withLock { s -> Bool in
            guard !s.stopping else { return false }
            s.statistics.submitted += 1
            s.retries[snapshot.name] = nil  // superseded by a newer state
            if s.queued.updateValue(snapshot, forKey: snapshot.name) != nil {
                s.statistics.coalesced += 1
            } else {
                s.order.append(snapshot.name)
            }
            return true
        }
        if accepted { ring() }
        return accepted
    }

    /// The outcomes of the writes finished since the last call, oldest first.
    package func drainResults() -> [CheckpointWriteOutcome] {
        state.withLock { s in
            defer { s.outcomes.removeAll() }
            return s.outcomes
        }
    }

    /// The newest snapshot of `model` that is not durably written yet — queued, being written, or waiting for a
    /// retry after a failed write — or nil. It is newer than any of the model's checkpoint files.
    package func unwritten(model: String) -> ModelSnapshot? {
        state.withLock { s in
            s.queued[model] ?? (s.writing == model ? s.writingSnapshot : nil) ?? s.retries[model]?.snapshot
        }
    }

    /// Snapshots waiting for a retry after a failed write.
    package var retryingCount: Int { state.withLock { $0.retries.count } }

    /// Snapshots waiting to be written (not counting one being written).
    package var queuedCount: Int { state.withLock { $0.order.count } }

    /// The writer's counters.
    package var statistics: CheckpointWriterStatistics { state.withLock { $0.statistics } }

    /// Blocks until every queued snapshot has been written (or failed), or until `timeout` passes.
    /// Returns true when the queue is empty and no write is in progress.
    @discardableResult
    package func flush(timeout: Duration) -> Bool {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) * 1e-18
        let deadline = Date(timeIntervalSinceNow: max(0, seconds))
        condition.lock()
        defer { condition.unlock() }
        while true {
            let (idle, finished) = state.withLock { ($0.idle, $0.finished) }
            if idle || finished { return idle }
            if !condition.wait(until: deadline) { return state.withLock { $0.idle } }
        }
    }

    /// Stops the thread and waits for it to exit. A write in progress completes; snapshots still queued are
    /// discarded, each reported as a ``CheckpointError/writerStopped(model:)`` outcome — call
    /// ``flush(timeout:)`` first to write them. Later `submit`s are refused. Idempotent.
    package func stop() {
        state.withLock { s in
            guard !s.stopping else { return }
            s.stopping = true
            for name in s.order {
                let snapshot = s.queued[name]!
                record(CheckpointWriteOutcome(model: name, updates: snapshot.updates, sequence: snapshot.sequence,
                                              taken: snapshot.wallClockSeconds, result: .failure(.writerStopped(model: name))), in: &s)
                s.statistics.discarded += 1
            }
            for (name, retry) in s.retries.sorted(by: { $0.key < $1.key }) {
                record(CheckpointWriteOutcome(model: name, updates: retry.snapshot.updates, sequence: retry.snapshot.sequence,
                                              taken: retry.snapshot.wallClockSeconds, result: .failure(.writerStopped(model: name))), in: &s)
                s.statistics.discarded += 1
            }
            s.order.removeAll()
            s.queued.removeAll()
            s.retries.removeAll()
        }
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

    private func record(_ outcome: CheckpointWriteOutcome, in s: inout State) {
        if s.outcomes.count >= mailboxCapacity {
            s.outcomes.removeFirst()
            s.statistics.droppedOutcomes += 1
        }
        s.outcomes.append(outcome)
    }

    private func run() {
        while let snapshot = nextJob() {
            let result: Result<CheckpointWriteResult, CheckpointError>
            do throws(CheckpointError) {
                result = .success(try store.write(snapshot))
            } catch {
                result = .failure(error)
            }
            state.withLock { s in
                let attempts = s.retries[snapshot.name]?.attempts ?? 0
                s.writing = nil
                s.writingSnapshot = nil
                s.retries[snapshot.name] = nil
                switch result {
                case .success: s.statistics.written += 1
                case let .failure(error):
                    s.statistics.failed += 1
                    // Retry what may succeed later (an I/O error), unless a newer snapshot is queued already.
                    if case .io = error, s.queued[snapshot.name] == nil, !s.stopping {
                        let delay = Self.retryDelay(attempt: attempts + 1)
                        s.retries[snapshot.name] = Retry(snapshot: snapshot, attempts: attempts + 1, due: Date(timeIntervalSinceNow: delay))
                    }
                }
                record(CheckpointWriteOutcome(model: snapshot.name, updates: snapshot.updates,
                                              sequence: snapshot.sequence, taken: snapshot.wallClockSeconds, result: result), in: &s)
            }
            ring()
        }
        state.withLock { $0.finished = true }
        ring()
    }

    /// The next snapshot to write, waiting for one; nil once stopping with nothing left.
    private func nextJob() -> ModelSnapshot? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            let (job, stop, nextRetry) = state.withLock { s -> (ModelSnapshot?, Bool, Date?) in
                let now = Date()
                for (name, retry) in s.retries where retry.due <= now && s.queued[name] == nil {
                    // Back in the queue; the retry entry stays (with its attempt count) until the write ends.
                    s.queued[name] = retry.snapshot
                    s.order.append(name)
                    s.statistics.retried += 1
                }
                if !s.order.isEmpty {
                    let name = s.order.removeFirst()
                    s.writing = name
                    s.writingSnapshot = s.queued.removeValue(forKey: name)
                    return (s.writingSnapshot, false, nil)
                }
                return (nil, s.stopping, s.retries.values.filter { s.queued[$0.snapshot.name] == nil }.map(\.due).min())
            }
            if let job { return job }
            if stop { return nil }
            if let nextRetry { _ = condition.wait(until: nextRetry) } else { condition.wait() }
        }
    }
}
