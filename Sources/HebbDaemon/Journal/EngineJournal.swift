import HebbCore
import Logging

/// The journal as the engine loop drives it: opened (and replayed) at start, every ingest message appended before it
/// is learned, reliable requests answered once durable, checkpoints stamped with the journal position they cover,
/// covered segments deleted, closed (synced) at shutdown. Owned by the engine thread.
package final class EngineJournal {
    /// The journal and the reliable path.
    package let ingest: JournaledIngest<[UInt8]>
    private let logger: Logger
    /// Each model's newest written checkpoint position (nil: none yet, or one without a position).
    private var checkpointPositions: [String: JournalPosition?]
    /// Positions of submitted snapshots per model, oldest first, until the writer reports them. The writer coalesces
    /// a queued snapshot with a newer one of the same model and reports only the newer: a report therefore also
    /// drops every older entry of its model.
    private(set) var submitted: [String: [(taken: Double, position: JournalPosition)]] = [:]
    private var failureLog = LogRateLimiter(interval: 10)
    private var forcedCheckpoint = false
    private var failuresLogged = 0

    /// Recovers and replays the journal of `stateDirectory` into `core`, whose models resumed from `snapshots`;
    /// `discarded` models (`--reset-model`) learn nothing from it. Throws (the daemon refuses to start) on
    /// corruption or an I/O error.
    /// `progress` is called as the replay begins and then about every second with the records replayed so far.
    package init(stateDirectory: String, configuration: DaemonConfiguration, core: EngineCore,
                 snapshots: [String: ModelSnapshot?], discarded: Set<String> = [], logger: Logger,
                 progress: (Int) -> Void = { _ in }, onDurable: @escaping @Sendable () -> Void = {}) throws(JournalError) {
        self.logger = logger
        var coverages: [String: JournalCoverage?] = [:]
        for name in core.modelNames {
            let snapshot: ModelSnapshot? = snapshots[name] ?? nil
            // updateValue, not a subscript assignment: a nil coverage must stay as a key ("no checkpoint: replay all").
            coverages.updateValue(snapshot?.journal, forKey: name)
        }
        checkpointPositions = coverages.mapValues { $0?.position }
        // A checkpoint without a journal position was written while the journal was off (or by a build without it):
        // its state already holds every record the journal still has, so the model learns none of them — as a
        // `--reset-model` model; "no position" means "replay everything" only for a model with no checkpoint.
        let resumedOutsideJournal = snapshots.compactMap { name, snapshot in snapshot.flatMap { $0.journal == nil ? name : nil } }
        let started = ContinuousClock.now
        var replayed = 0, reported = started
        progress(0)
        let (ingest, startup) = try JournaledIngest<[UInt8]>.open(
            stateDirectory: stateDirectory, configuration: configuration.journal, maxMessageBytes: configuration.limits.maxMessageBytes,
            coverages: coverages, discarded: discarded.union(resumedOutsideJournal), onDurable: onDurable, learn: { frames in
                _ = core.handleSample(frames)
                replayed += 1
                if replayed % 256 == 0, reported.duration(to: .now) >= .seconds(1) {
                    reported = .now
                    progress(replayed)
                }
                // Nobody is subscribed yet: keep the outbox small during a long replay (the last values stay cached).
                if core.outbox.count > 1024 { core.drainOutbox { _ in } }
            })
        self.ingest = ingest
        if let torn = startup.recovery.tornTail {
            logger.warning("journal torn tail cut off", metadata: ["journal.path": "\(torn.path)", "journal.offset": "\(torn.position.offset)",
                                                                   "journal.bytes_cut": "\(torn.bytesCut)", "reason": "\(torn.damage)"])
        }
        for cut in startup.recovery.sealedTailsCut {
            // Only with fsync = "off": a power loss dropped never-synced pages of a sealed segment. Records that were
            // acknowledged may be gone (the policy's documented cost); later segments are replayed all the same.
            logger.error("journal unsynced tail of a sealed segment cut off (fsync = off, power loss?): records lost",
                         metadata: ["journal.path": "\(cut.path)", "journal.offset": "\(cut.position.offset)",
                                    "journal.bytes_cut": "\(cut.bytesCut)", "reason": "\(cut.damage)"])
        }
        let elapsed = ContinuousClock.now - started
        logger.info("journal replayed", metadata: [
            "journal.segments": "\(startup.recovery.segments.count)", "journal.records": "\(startup.recovery.records)",
            "journal.replayed": "\(startup.replayed.values.reduce(0, +))",
            "journal.seconds": "\(elapsed.inSeconds)",
            "journal.fsync": "\(configuration.journal.fsync.rawValue)"])
    }

    /// Appends a plain (`PULL` or SUB tap) message before the engine learns it. A failed append is logged
    /// (rate-limited); the message in hand is learned anyway (it cannot be handed back to libzmq).
    package func journalPlain(_ frames: [UnsafeRawBufferPointer]) {
        do throws(JournalError) { try ingest.journalPlain(frames) } catch { logFailure(error, path: "plain") }
    }

    /// Handles one reliable request (frames after the routing id `peer`).
    package func receiveReliable(from peer: [UInt8], _ frames: [UnsafeRawBufferPointer], core: EngineCore) {
        let outcome = ingest.receiveReliable(from: peer, frames) { core.handleSample($0) }
        switch outcome {
        case let .refused(error):
            if case .outOfOrder = error { break }  // a restarted daemon or producer; the producer resends in order
            logFailure(error, path: "reliable")
        case let .malformed(error):
            if failureLog.admit("malformed", now: EngineClock.system.monotonic()) != nil {
                logger.warning("reliable request malformed", metadata: ["error": .wire("\(error)")])
            }
        default: break
        }
    }

    /// Ends a burst (syncs with `always`) and sends the replies whose records are durable.
    /// A failure of the writer (an append's, a sync's, here or on its thread) is logged once, here.
    package func flushReplies(_ send: ([UInt8], [UInt8]) -> Void) {
        let replies = ingest.commit()
        let failures = ingest.writer.failures
        if failures != failuresLogged {
            failuresLogged = failures
            logger.error("journal failed; a new segment is started after a back-off", metadata: [
                "error": .wire(ingest.writer.failure?.description ?? "a sync failed", limit: 1000), "journal.failures": "\(failures)"])
        }
        for (peer, reply) in replies { send(peer, reply.encoded) }
    }

    /// Replies waiting for durability (the journal thread wakes the loop after each sync).
    package var pendingReplies: Int { ingest.pendingReplies }

    /// Whether plain ingest must pause (back-pressure) because the journal is nearly full. The first time, the
    /// caller forces a checkpoint of every model (``takeForcedCheckpoint()``) so that segments can be deleted.
    package var isFull: Bool { !ingest.hasRoomForPlainMessage }

    /// True once per episode of a full journal: the caller then checkpoints every model.
    package func takeForcedCheckpoint() -> Bool {
        guard isFull else { forcedCheckpoint = false; return false }
        guard !forcedCheckpoint else { return false }
        forcedCheckpoint = true
        logger.warning("journal full; checkpointing every model", metadata: [
            "journal.bytes": "\(ingest.writer.statistics.bytes)", "journal.max_bytes": "\(ingest.writer.configuration.maxJournalBytes)"])
        // The checkpoints about to be stamped then cover the whole open segment, which their writes let go.
        do throws(JournalError) { try ingest.writer.sealOpenSegment() } catch { logFailure(error, path: "seal") }
        return true
    }

    /// Stamps snapshots about to be written with the journal position and marks they cover.
    package func stamp(_ snapshots: [ModelSnapshot]) -> [ModelSnapshot] {
        let coverage = ingest.coverage
        return snapshots.map { snapshot in
            var stamped = snapshot
            stamped.journal = coverage
            submitted[snapshot.name, default: []].append((snapshot.wallClockSeconds, coverage.position))
            return stamped
        }
    }

    /// Whether `model`'s newest checkpoint keeps sealed segments from being deleted: its position lies before the
    /// current segment, or it has none while sealed segments exist. The engine then checkpoints the model at the
    /// interval even when it is idle, so the journal holds roughly one `checkpoint_interval` of ingest.
    package func holdsBackDeletion(_ model: String) -> Bool {
        guard let position = checkpointPositions[model] ?? nil else { return ingest.writer.statistics.segments > 1 }
        return position.segment < ingest.writer.written.segment
    }

    /// A checkpoint was written: its position now covers the model; segments every model's checkpoint covers go.
    package func checkpointWritten(model: String, taken: Double, modelNames: [String]) {
        guard let position = takeSubmitted(model: model, taken: taken) else { return }
        checkpointPositions[model] = position
        do throws(JournalError) {
            let deleted = try ingest.deleteCoveredSegments(checkpointPositions: modelNames.map { checkpointPositions[$0] ?? nil })
            if deleted > 0 { logger.debug("journal segments deleted", metadata: ["journal.deleted": "\(deleted)"]) }
        } catch {
            logFailure(error, path: "delete")
        }
    }

    /// The figures `status` and `/metrics` report (writer statistics, reliable-path counters, producer marks).
    package var status: JournalStatus {
        var status = JournalStatus(fsync: ingest.writer.configuration.fsync.rawValue)
        status.maxBytes = ingest.writer.configuration.maxJournalBytes
        status.writer = ingest.writer.statistics
        status.ingest = ingest.counters
        status.producers = ingest.watermarks.marks
        return status
    }

    /// Syncs and closes the journal (shutdown).
    package func close() {
        ingest.writer.close()
    }

    /// A checkpoint write failed: its entry (and older, coalesced ones) go; the model's next snapshot is stamped anew.
    package func checkpointFailed(model: String, taken: Double) {
        _ = takeSubmitted(model: model, taken: taken)
    }

    /// Removes the entry of `model`'s snapshot taken at `taken` and every older one; returns its position.
    private func takeSubmitted(model: String, taken: Double) -> JournalPosition? {
        guard var entries = submitted[model], let index = entries.firstIndex(where: { $0.taken.bitPattern == taken.bitPattern }) else { return nil }
        let position = entries[index].position
        entries.removeFirst(index + 1)
        submitted[model] = entries.isEmpty ? nil : entries
        return position
    }

    private func logFailure(_ error: JournalError, path: String) {
        if case .full = error, path == "reliable" { return }  // answered `refused` with the reason; the episode is logged once
        guard let suppressed = failureLog.admit(path, now: EngineClock.system.monotonic()) else { return }
        var metadata: Logger.Metadata = ["error": .wire("\(error)", limit: 1000), "journal.path": "\(path)"]
        if suppressed > 0 { metadata["journal.suppressed"] = "\(suppressed)" }
        logger.error("journal append failed", metadata: metadata)
    }
}
