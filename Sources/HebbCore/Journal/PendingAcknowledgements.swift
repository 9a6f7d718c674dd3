/// Replies to reliable requests that wait until the journal is durable up to where they were answered.
///
/// An acknowledgement may only leave once the record it acknowledges is durable; a `duplicate`, `rejected` or
/// `refused` reply carries a high-water mark that may include records not yet synced, so it waits too, behind every
/// earlier reply. One FIFO: replies leave in the order the requests were answered (per connection, that is the order
/// of its requests), each once the durable position reaches the position it waits for.
package struct PendingAcknowledgements<Peer: Sendable>: Sendable {
    private var queue: [(peer: Peer, reply: ReliableReply, waitsFor: JournalPosition)] = []
    private var head = 0

    package init() {}

    /// Replies waiting.
    package var count: Int { queue.count - head }

    /// Queues `reply` to `peer`, to leave once everything before `position` is durable.
    package mutating func enqueue(_ reply: ReliableReply, to peer: Peer, after position: JournalPosition) {
        queue.append((peer, reply, position))
    }

    /// The replies whose positions are now durable, oldest first, removed from the queue. A reply never overtakes an
    /// earlier one.
    package mutating func release(durable: JournalPosition) -> [(peer: Peer, reply: ReliableReply)] {
        var released: [(peer: Peer, reply: ReliableReply)] = []
        while head < queue.count, queue[head].waitsFor <= durable {
            released.append((queue[head].peer, queue[head].reply))
            head += 1
        }
        compact()
        return released
    }

    /// Every waiting reply, oldest first, the queue emptied: those whose position is durable as they are, the others
    /// turned into `refused` with `reason` (their record will never become durable: the journal failed before its
    /// sync). The producer keeps such a message and resends it. `refusedAcknowledgements`: how many would-be
    /// acknowledgements became refusals.
    package mutating func releaseAll(durable: JournalPosition, refusing reason: String)
        -> (released: [(peer: Peer, reply: ReliableReply)], refusedAcknowledgements: Int) {
        var released: [(peer: Peer, reply: ReliableReply)] = []
        var refused = 0
        for (peer, reply, waitsFor) in queue[head...] {
            guard waitsFor > durable else { released.append((peer, reply)); continue }
            if reply.status == .acknowledged { refused += 1 }
            released.append((peer, ReliableReply(status: .refused, sequence: reply.sequence, highWaterMark: reply.highWaterMark, reason: reason)))
        }
        queue.removeAll(keepingCapacity: true)
        head = 0
        return (released, refused)
    }

    private mutating func compact() {
        if head > 1024 && head * 2 > queue.count {
            queue.removeFirst(head)
            head = 0
        }
    }
}

/// Which replayed journal records each model learns, and the producers' high-water marks rebuilt on the way.
///
/// At start every model has resumed from its checkpoint (which records the journal position it covers and the marks
/// there) or starts fresh (no position: it learns every record still in the journal). Replay reads the journal from
/// ``start`` — the smallest position of all models — and offers each record: a model learns it only when the record
/// lies at or after its own position, so no record is learned twice and none is skipped; every reliable record
/// raises its producer's mark.
package struct JournalReplayPlan: Sendable {
    /// Each model's checkpoint position; nil for a model without one.
    package let positions: [String: JournalPosition?]
    /// The producers' marks: the merge of every checkpoint's, then raised by each replayed record.
    package private(set) var watermarks: ProducerWatermarks
    /// Models whose learned state the operator discarded at this start (`--reset-model`): they learn no record
    /// written before it — the journal holds learned state too, and it is discarded with the rest.
    package let discarded: Set<String>
    /// Records offered to a model, per model.
    package private(set) var replayed: [String: Int] = [:]

    /// A plan for models resumed at `positions` (nil: no checkpoint) with the marks `checkpointMarks` recorded;
    /// `discarded` models learn nothing from the journal.
    package init(positions: [String: JournalPosition?], checkpointMarks: [ProducerWatermarks], discarded: Set<String> = []) {
        self.positions = positions
        self.discarded = discarded
        var merged = ProducerWatermarks()
        for marks in checkpointMarks { merged.merge(marks) }
        watermarks = merged
    }

    /// Where replay starts reading: nil (the first record) when some model has no checkpoint position or there are
    /// no models, else the smallest position.
    package var start: JournalPosition? {
        guard !positions.isEmpty else { return nil }
        var smallest: JournalPosition?
        for (model, position) in positions where !discarded.contains(model) {
            guard let position else { return nil }
            if smallest.map({ position < $0 }) ?? true { smallest = position }
        }
        return smallest
    }

    /// Offers the record at `at` (ending at `end`): returns whether its model must learn it, and records its mark.
    /// A record for a model this daemon no longer has is not learned (its marks still count).
    package mutating func offer(_ record: JournalRecord, at: JournalPosition, end: JournalPosition) -> Bool {
        if let origin = record.origin { watermarks.record(origin) }
        guard let model = record.model, let position = positions[model], !discarded.contains(model) else { return false }
        if let position, at < position { return false }
        replayed[model, default: 0] += 1
        return true
    }
}
