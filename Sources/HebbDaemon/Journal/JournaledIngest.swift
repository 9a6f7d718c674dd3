import HebbCore

/// What opening the journal at start found and did.
package struct JournalStartup: Sendable, Equatable {
    /// What recovery read (segments, records, a torn tail cut off).
    package var recovery: JournalRecovery
    /// Records replayed, per model.
    package var replayed: [String: Int]
}

/// What became of one reliable request, for the engine to count and log; the reply itself is queued until durable.
package enum ReliableOutcome: Sendable, Equatable {
    case acknowledged, duplicate, rejected(Rejection), refused(JournalError), malformed(ReliableRequestError)
}

/// The journal as the engine uses it: every ingest message is appended before the engine learns it; reliable
/// requests are deduplicated by (producer, sequence number) and answered once their record is durable.
///
/// Owned by the engine thread (not `Sendable`); only the ``JournalWriter`` inside talks to its own sync thread.
/// Messages are journaled **as received**, valid or not, and learned through the same ``EngineCore/handleSample(_:)``
/// live and on replay, so a rejected message is rejected again on replay and never changes a model (the decoder is
/// pure); a reliable message that is rejected still consumes its sequence number (its reply says `rejected`, a resend
/// is a `duplicate`).
package final class JournaledIngest<Peer: Sendable> {
    /// The segment files.
    package let writer: JournalWriter
    /// The producers' high-water marks (journaled, not necessarily durable yet).
    package private(set) var watermarks: ProducerWatermarks
    /// The counters.
    package private(set) var counters = JournaledIngestCounters()
    private var pending = PendingAcknowledgements<Peer>()
    /// The writer's ``JournalWriter/failures`` whose stranded replies were answered.
    private var failuresAnswered = 0
    private let maxMessageBytes: Int

    private init(writer: JournalWriter, watermarks: ProducerWatermarks, maxMessageBytes: Int) {
        self.writer = writer
        self.watermarks = watermarks
        self.maxMessageBytes = maxMessageBytes
    }

    /// Recovers the journal of `stateDirectory` and replays it: each model resumed at `coverages[model]` (nil: no
    /// checkpoint, or one without a journal position) is handed, through `learn`, exactly the records after its
    /// position, in journal order (none to a `discarded` model); then a writer is opened on a new segment. Throws on corruption (nothing is learned
    /// from the damaged segment on; the caller refuses to start).
    package static func open(stateDirectory: String, configuration: DaemonConfiguration.Journal, maxMessageBytes: Int,
                             coverages: [String: JournalCoverage?], discarded: Set<String> = [], onDurable: @escaping @Sendable () -> Void,
                             learn: ([UnsafeRawBufferPointer]) -> Void) throws(JournalError) -> (JournaledIngest, JournalStartup) {
        let directory = JournalDirectory.path(stateDirectory: stateDirectory)
        var plan = JournalReplayPlan(positions: coverages.mapValues { $0?.position },
                                     checkpointMarks: coverages.values.compactMap { $0?.watermarks }, discarded: discarded)
        let recovery = try JournalDirectory.recover(directory, from: plan.start, unsyncedSealedSegments: configuration.fsync == .off) { record, at, end in
            guard plan.offer(record, at: at, end: end) else { return }
            withPointers(record.frames, learn)
        }
        let writer = try JournalWriter(directory: directory, configuration: configuration, recovery: recovery,
                                       checkpointSegment: coverages.values.compactMap { $0?.position.segment }.max(), onDurable: onDurable)
        let ingest = JournaledIngest(writer: writer, watermarks: plan.watermarks, maxMessageBytes: maxMessageBytes)
        ingest.counters.replayed = plan.replayed.values.reduce(0, +)
        return (ingest, JournalStartup(recovery: recovery, replayed: plan.replayed))
    }

    /// What a checkpoint taken now covers: every record appended so far has been handed to the engine, so every
    /// model's state includes all of them. The writer's buffer is written first, so that the position is the end of
    /// what the segment file holds: a replay after a crash starts after the records the checkpoint learned, and none
    /// it learned can be written after its position. (If that write fails, the buffered records are lost, and the
    /// position is where the file ends.)
    package var coverage: JournalCoverage {
        try? writer.flush()
        return JournalCoverage(position: writer.written, watermarks: watermarks)
    }

    /// Whether a plain (`PULL`) message of the largest allowed size still fits; when not, the engine stops reading
    /// `PULL` (back-pressure) and forces a checkpoint so that covered segments can be deleted.
    package var hasRoomForPlainMessage: Bool {
        let statistics = writer.statistics
        return statistics.bytes + maxMessageBytes + JournalFormat.segmentHeaderBytes + 1024 <= writer.configuration.maxJournalBytes
    }

    /// Appends a plain message before the engine learns it. A failure is the caller's to log: the message in hand is
    /// learned without its record (it cannot be given back to libzmq). A message that cannot be a sample
    /// (``isSampleShaped(_:)``) is not journaled: the decoder rejects it, live as it would on replay.
    package func journalPlain(_ frames: [UnsafeRawBufferPointer]) throws(JournalError) {
        guard isSampleShaped(frames) else { return }
        _ = try writer.append(frames: frames)
    }

    /// Whether `frames` may be a sample message: 2 or 4 frames of at most `limits.max_message_bytes` together. The
    /// decoder rejects anything else (`frame_count`, `too_large`) before looking further, so such a message is never
    /// journaled — its record would change no model on replay, and a hostile one (70 000 empty frames, a few GiB)
    /// could exceed what a record holds.
    package func isSampleShaped(_ frames: [UnsafeRawBufferPointer]) -> Bool {
        guard frames.count == 2 || frames.count == 4 else { return false }
        return frames.reduce(0) { $0 + $1.count } <= maxMessageBytes
    }

    /// Handles one reliable request (`frames` after the routing id): decodes its header, drops a duplicate, journals a
    /// new message and hands it to `learn` (which returns the engine's rejection, if any), and queues the reply to
    /// `peer` until the record is durable.
    package func receiveReliable(from peer: Peer, _ frames: [UnsafeRawBufferPointer],
                                 learn: ([UnsafeRawBufferPointer]) -> Rejection?) -> ReliableOutcome {
        let origin: ReliableOrigin
        do throws(ReliableRequestError) {
            guard frames.count >= 2 else { throw .frameCount(frames.count) }
            origin = try ReliableProtocol.decodeRequestHeader(frames[0])
        } catch {
            counters.malformed += 1
            pending.enqueue(ReliableReply(status: .malformed, sequence: 0, highWaterMark: 0, reason: error.description), to: peer, after: replyPosition)
            return .malformed(error)
        }
        let sample = Array(frames.dropFirst())
        switch watermarks.admit(origin) {
        case let .duplicate(mark):
            counters.duplicates += 1
            pending.enqueue(ReliableReply(status: .duplicate, sequence: origin.sequence, highWaterMark: mark), to: peer, after: replyPosition)
            return .duplicate
        case let .outOfOrder(expected):
            counters.outOfOrder += 1
            let error = JournalError.outOfOrder(producer: origin.producer, expected: expected)
            pending.enqueue(ReliableReply(status: .refused, sequence: origin.sequence, highWaterMark: expected - 1, reason: error.description),
                            to: peer, after: replyPosition)
            return .refused(error)
        case .accept:
            let end: JournalPosition
            do {
                // A message that cannot be a sample still consumes its sequence number: its record keeps the origin
                // and no frames (replay learns nothing from it, the producer's mark moves on).
                end = try writer.append(frames: isSampleShaped(sample) ? sample : [], origin: origin)
            } catch {
                counters.refused += 1
                pending.enqueue(ReliableReply(status: .refused, sequence: origin.sequence, highWaterMark: watermarks.highWaterMark(of: origin.producer),
                                              reason: error.description), to: peer, after: replyPosition)
                return .refused(error)
            }
            watermarks.record(origin)
            let mark = watermarks.highWaterMark(of: origin.producer)
            if let rejection = learn(sample) {
                counters.rejected += 1
                pending.enqueue(ReliableReply(status: .rejected, sequence: origin.sequence, highWaterMark: mark, reason: rejection.description),
                                to: peer, after: end)
                return .rejected(rejection)
            }
            pending.enqueue(ReliableReply(status: .acknowledged, sequence: origin.sequence, highWaterMark: mark), to: peer, after: end)
            return .acknowledged
        }
    }

    /// Ends a burst (with `fsync = "always"`, syncs now) and returns the replies that may leave, oldest first. After
    /// a failure of the writer (an append's or a sync's, here or on its thread; ``JournalWriter/failure`` says
    /// which) every waiting reply leaves: those whose records never became durable as `refused` with the failure,
    /// so the producers resend — the queue never holds replies that nothing will release. The writer starts a new
    /// segment at its first append after its back-off (≥ 1 s): long after this runs, in the engine's next wake-ups.
    package func commit() -> [(peer: Peer, reply: ReliableReply)] {
        try? writer.commit()
        let failures = writer.failures
        guard failures != failuresAnswered else { return releasable() }
        failuresAnswered = failures
        let reason = "journal failed: \(writer.failure?.description ?? "a sync failed"); resend"
        let (released, refused) = pending.releaseAll(durable: writer.durable, refusing: reason)
        counters.refused += refused
        counters.acknowledged += released.reduce(0) { $0 + ($1.reply.status == .acknowledged ? 1 : 0) }
        return released
    }

    /// The replies whose records are durable now, oldest first (the batch thread's `onDurable` says when to ask).
    package func releasable() -> [(peer: Peer, reply: ReliableReply)] {
        let released = pending.release(durable: writer.durable)
        counters.acknowledged += released.reduce(0) { $0 + ($1.reply.status == .acknowledged ? 1 : 0) }
        return released
    }

    /// Where a reply that acknowledges no new record waits: the end of what was appended — or, while the writer is
    /// failed (nothing after its durable position will become durable), its durable position, so that a refusal
    /// leaves at once.
    private var replyPosition: JournalPosition { writer.failure == nil ? writer.appended : writer.durable }

    /// Replies still waiting for durability.
    package var pendingReplies: Int { pending.count }

    /// Deletes the segments every model's checkpoint covers: `positions` are the positions of the newest checkpoint
    /// of every model (a model without one keeps everything).
    @discardableResult
    package func deleteCoveredSegments(checkpointPositions positions: [JournalPosition?]) throws(JournalError) -> Int {
        guard !positions.isEmpty else { return 0 }
        var smallest: JournalPosition?
        for position in positions {
            guard let position else { return 0 }
            if smallest.map({ position < $0 }) ?? true { smallest = position }
        }
        guard let smallest else { return 0 }
        return try writer.deleteSegments(coveredBy: smallest)
    }
}

/// Calls `body` with raw pointers to `frames` (the engine's `handleSample` takes pointers into received messages).
private func withPointers<R>(_ frames: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
    func nest(_ index: Int, _ acc: inout [UnsafeRawBufferPointer]) -> R {
        guard index < frames.count else { return body(acc) }
        return frames[index].withUnsafeBytes { raw in
            acc.append(raw)
            return nest(index + 1, &acc)
        }
    }
    var pointers: [UnsafeRawBufferPointer] = []
    pointers.reserveCapacity(frames.count)
    return nest(0, &pointers)
}
